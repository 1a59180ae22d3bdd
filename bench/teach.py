#!/usr/bin/env python3
"""Teaching a trained model its false alarms (``wordrec adapt --negatives``), on the robot corpus.

The scenario of issue 18: the robot's six commands are trained without
negatives (``bench/robot.py``); some other words said to it are answered
with a command (false alarms).  The user records them and runs ``wordrec
adapt -m MODEL --negatives DIR -o NEW``.  Measured through the command line,
on the robot's test recordings:

* **the recordings themselves**: DIR holds the false alarms that were
  answered with a command (the very files);
* **fresh takes**: DIR holds new takes of the same words (espeak-ng, the
  training takes' speeds and pitches, ``robot._take``), 3 or 10 of each;
  the test takes of those words are other speeds and pitches.

For each: commands right and accepted, other words rejected (all 32, and
the false-alarm words alone), non-speech rejected or ``<silence>``.

    python bench/teach.py [--work DIR]

Writes ``bench/results/teach.json``.  The robot corpus is made under
``--work`` if absent (espeak-ng and sox).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import robot  # noqa: E402
from rejection import recognize, rejected, run, train, wordrec_bin  # noqa: E402


def fresh_takes(words, n: int, out: Path) -> list[Path]:
    """``n`` new takes of each word, at the training takes' speeds and pitches."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in words:
            for k in range(n):
                rng = robot._rng("plan", "teach", w, k)
                speed, pitch = int(rng.choice(robot.TRAIN_SPEEDS)), int(rng.choice(robot.TRAIN_PITCHES))
                path = out / f"{w}_{k}.wav"
                robot._write(path, robot._take(w, speed, pitch, f"teach/{w}_{k}", Path(tmp)))
                paths.append(path)
    return paths


def scores(model: Path, tests, others, nonspeech, alarm_words) -> dict:
    ans = recognize(model, [p for p, _ in tests] + others + nonspeech)
    return {
        "commands_right_and_accepted": float(np.mean([ans[str(p)]["word"] == c for p, c in tests])),
        "other_rejected": float(np.mean([rejected(ans[str(p)]) for p in others])),
        "false_alarm_words_rejected": float(np.mean([rejected(ans[str(p)]) for p in others if p.stem in alarm_words])),
        "nonspeech_rejected_or_silence": float(np.mean([rejected(ans[str(p)]) for p in nonspeech])),
        "other_accepted": {p.stem: ans[str(p)]["word"] for p in others if not rejected(ans[str(p)])},
        "commands_missed": {p.stem: ans[str(p)]["word"] for p, c in tests if ans[str(p)]["word"] != c},
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/wordrec-rejection"))
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "teach.json")
    args = parser.parse_args(argv)
    work = args.work
    corpus = work / "robot"
    if not (corpus / "test_nonspeech").is_dir():
        subprocess.run([sys.executable, str(BENCH / "robot.py"), "make", str(corpus)], check=True)
    commands = sorted(d.name for d in (corpus / "train").iterdir() if d.is_dir() and not d.name.startswith("_"))
    manifest = work / "teach_commands.tsv"
    manifest.write_text("".join(f"{p}\t{c}\n" for c in commands for p in sorted((corpus / "train" / c).glob("*.wav"))))
    model = work / "teach_commands.model"
    train(manifest, model, [])
    tests = [(p, c) for c in commands for p in sorted((corpus / "test" / c).glob("*.wav"))]
    others = sorted((corpus / "test_other").glob("*.wav"))
    nonspeech = sorted((corpus / "test_nonspeech").glob("*.wav"))
    before = recognize(model, others)
    alarms = [p for p in others if not rejected(before[str(p)])]
    alarm_words = sorted(p.stem for p in alarms)
    out = {"false_alarms": {p.stem: before[str(p)]["word"] for p in alarms},
           "before": scores(model, tests, others, nonspeech, alarm_words)}
    cases = {"the recordings themselves": alarms}
    for n in (3, 10):
        cases[f"{n} fresh takes a word"] = fresh_takes(alarm_words, n, work / f"teach_fresh{n}")
    for name, paths in cases.items():
        folder = work / f"teach_{name.replace(' ', '_')}"
        folder.mkdir(exist_ok=True)
        for p in paths:
            link = folder / p.name
            if not link.exists():
                link.symlink_to(p)
        taught = work / "teach_taught.model"
        res = run([wordrec_bin(), "adapt", "-m", str(model), "--negatives", str(folder), "-o", str(taught), "-q"])
        if res.returncode != 0:
            sys.exit(f"adapt failed ({res.returncode}): {res.stderr[-2000:]}")
        out[name] = scores(taught, tests, others, nonspeech, alarm_words)
        print(f"{name}: {out[name]}", file=sys.stderr)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
