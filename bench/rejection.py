#!/usr/bin/env python3
"""Every bar of issue 18 ("say I don't know when it should"), through the command line.

Trains with ``wordrec train -j 2`` and recognises with ``wordrec recognize
--json`` (subprocesses), then scores the answers:

* **d07**: trained on FSDD train/ digits 0-7; FSDD test/ 0-7 in the
  vocabulary, test/ 8-9 unknown.  False rejection and false acceptance at
  the stored threshold, and the equal error rate.
* **LOSO**: leave one speaker out on FSDD train/: ``wordrec train`` on four
  speakers, ``wordrec recognize`` on the fifth; right and accepted, wrong
  and accepted, ``<unknown>``, per speaker and pooled.
* **robot**: the corpus of ``bench/robot.py`` (made under the work folder
  if absent), trained on the six command folders only, and on train/ as it
  is (the commands, ``_unknown_`` and ``_background_noise_``): commands
  right and accepted, other words rejected, non-speech rejected or silence.
* **calibration**: a reliability table (confidence bins against the share of
  right answers) over the held-out answers above, and the share of unknown
  words with confidence >= 0.99.
* **non-speech**: noise, tones, clicks, chords, noise bursts and silence
  (as in tests/test_openset.py) given to the d07 and robot models.

An answer counts as rejected when it is ``<unknown>``, or a word the model
was given as a negative (a folder whose name starts with "_"), and as
silence when it is ``<silence>`` or a "no speech"/"no sound" error.

    python bench/rejection.py [--work DIR] [--train-opt "--speaker-warp 0.1"] [--label NAME] [--only d07,loso,robot]

Writes ``bench/results/rejection[-LABEL].json``.  FSDD is read from
``$WORDREC_FSDD`` (default ../shared/data/fsdd beside the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from fsdd import fsdd_root  # noqa: E402
from rejection_scores import _jsonable, bars, eer, nonspeech_signals, reliability  # noqa: E402

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")
UNKNOWN, SILENCE = "<unknown>", "<silence>"


def wordrec_bin() -> str:
    here = Path(sys.executable).parent / "wordrec"
    return str(here) if here.exists() else "wordrec"


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def train(data: Path, model: Path, options: list[str]) -> float:
    """``wordrec train DATA -o MODEL -j 2 -q OPTIONS``; returns seconds."""
    start = time.perf_counter()
    res = run([wordrec_bin(), "train", str(data), "-o", str(model), "-j", "2", "-q", *options])
    if res.returncode != 0:
        sys.exit(f"train failed ({res.returncode}): {res.stderr[-2000:]}")
    return time.perf_counter() - start


def recognize(model: Path, paths: list[Path], options: list[str] = ()) -> dict:
    """Answers by path: ``{word, best_word, confidence}``; failed files get the error."""
    res = run([wordrec_bin(), "recognize", "-m", str(model), "--json", "-q", *options, *map(str, paths)])
    if res.returncode not in (0, 3):
        sys.exit(f"recognize failed ({res.returncode}): {res.stderr[-2000:]}")
    out = {}
    for a in json.loads(res.stdout) if res.stdout.strip() else []:
        out[a["path"]] = {"word": a["word"], "best_word": a.get("best_word", a["word"]), "confidence": a.get("confidence")}
    for line in res.stderr.splitlines():
        if line.startswith("Error: "):
            path, _, why = line[7:].partition(": ")
            quiet = "no speech" in why or "without sound" in why or "no sound" in why
            out[path] = {"word": SILENCE if quiet else "<error>", "best_word": None, "confidence": 0.0, "error": why}
    missing = [str(p) for p in paths if str(p) not in out]
    if missing:
        sys.exit(f"no answer for {missing[:3]}")
    return out


def rejected(answer: dict) -> bool:
    """``<unknown>``, ``<silence>`` or a negative class (a name starting with "_")."""
    w = answer["word"]
    return w in (UNKNOWN, SILENCE) or w.startswith("_")


def conf_of(a: dict) -> float:
    return 0.0 if a["confidence"] is None else float(a["confidence"])


# --------------------------------------------------------------------- d07

def d07(work: Path, options: list[str]) -> tuple[dict, list, Path, list]:
    root = fsdd_root()
    manifest = work / "d07_train.tsv"
    manifest.write_text("".join(f"{p}\t{d}\n" for d in "01234567" for p in sorted((root / "train" / d).glob("*.wav"))))
    model = work / "d07.model"
    seconds = train(manifest, model, options)
    inv = [(p, d) for d in "01234567" for p in sorted((root / "test" / d).glob("*.wav"))]
    oov = [p for d in "89" for p in sorted((root / "test" / d).glob("*.wav"))]
    ans = recognize(model, [p for p, _ in inv] + oov)
    a_in = [(ans[str(p)], d) for p, d in inv]
    a_out = [ans[str(p)] for p in oov]
    stored = json.loads(model.read_text()).get("calibration") or {}
    res = {
        "train_seconds": round(seconds, 2),
        "threshold": stored.get("threshold"),
        "n_in": len(a_in), "n_out": len(a_out),
        "closed_set_accuracy": np.mean([a["best_word"] == d for a, d in a_in]),
        "false_rejection": np.mean([rejected(a) for a, _ in a_in]),
        "false_acceptance": np.mean([not rejected(a) for a in a_out]),
        "right_and_accepted": np.mean([a["word"] == d for a, d in a_in]),
        "eer": eer([conf_of(a) for a, _ in a_in], [conf_of(a) for a in a_out]),
        "expected": {k: stored[k] for k in ("expected_false_rejection", "expected_false_acceptance") if k in stored},
    }
    held = [(conf_of(a), a["best_word"] == d) for a, d in a_in] + [(conf_of(a), False) for a in a_out]
    return res, held, model, [conf_of(a) for a in a_out]


# -------------------------------------------------------------------- LOSO

def new_voices_supported() -> bool:
    res = run([wordrec_bin(), "recognize", "--help"])
    return "--new-voices" in res.stdout


def loso(work: Path, options: list[str], recognize_options: list[str] = (), retrain: bool = True) -> tuple[dict, list]:
    root = fsdd_root()
    files = sorted((root / "train").glob("*/*.wav"))
    per, held, totals = {}, [], np.zeros(4)
    for spk in SPEAKERS:
        manifest = work / f"loso_{spk}.tsv"
        manifest.write_text("".join(f"{p}\t{p.parent.name}\n" for p in files if f"_{spk}_" not in p.name))
        model = work / f"loso_{spk}.model"
        if retrain:
            train(manifest, model, options)
        test = [p for p in files if f"_{spk}_" in p.name]
        ans = recognize(model, test, list(recognize_options))
        rows = [(ans[str(p)], p.parent.name) for p in test]
        right = sum(a["word"] == t for a, t in rows)
        wrong = sum(not rejected(a) and a["word"] != t for a, t in rows)
        n = len(rows)
        per[spk] = {"n": n, "right_and_accepted": right / n, "wrong_and_accepted": wrong / n,
                    "rejected": (n - right - wrong) / n, "closed_set": np.mean([a["best_word"] == t for a, t in rows])}
        totals += [n, right, wrong, sum(a["best_word"] == t for a, t in rows)]
        held += [(conf_of(a), a["best_word"] == t) for a, t in rows]
        print(f"  loso {spk}: {per[spk]}", file=sys.stderr)
    n, right, wrong, closed = totals
    pooled = {"n": int(n), "right_and_accepted": right / n, "wrong_and_accepted": wrong / n,
              "rejected": (n - right - wrong) / n, "closed_set": closed / n}
    return {"per_speaker": per, "pooled": pooled}, held


# ------------------------------------------------------------------- robot

def robot(work: Path, options: list[str]) -> tuple[dict, list, dict, list]:
    corpus = work / "robot"
    if not (corpus / "test_nonspeech").is_dir():
        subprocess.run([sys.executable, str(BENCH / "robot.py"), "make", str(corpus)], check=True)
    commands = sorted(d.name for d in (corpus / "train").iterdir() if d.is_dir() and not d.name.startswith("_"))
    only = work / "robot_commands.tsv"
    only.write_text("".join(f"{p}\t{c}\n" for c in commands for p in sorted((corpus / "train" / c).glob("*.wav"))))
    tests = [(p, c) for c in commands for p in sorted((corpus / "test" / c).glob("*.wav"))]
    others = sorted((corpus / "test_other").glob("*.wav"))
    nonspeech = sorted((corpus / "test_nonspeech").glob("*.wav"))
    out, held, models, unknown_conf = {}, [], {}, []
    for name, data in (("commands_only", only), ("with_negatives", corpus / "train")):
        model = work / f"robot_{name}.model"
        train(data, model, options)
        models[name] = model
        ans = recognize(model, [p for p, _ in tests] + others + nonspeech)
        cmd = [(ans[str(p)], c) for p, c in tests]
        oth = {p.stem: ans[str(p)] for p in others}
        ns = {p.stem: ans[str(p)] for p in nonspeech}
        out[name] = {
            "commands_right_and_accepted": np.mean([a["word"] == c for a, c in cmd]),
            "commands_closed_set": np.mean([a["best_word"] == c for a, c in cmd]),
            "other_rejected": np.mean([rejected(a) for a in oth.values()]),
            "nonspeech_rejected_or_silence": np.mean([rejected(a) for a in ns.values()]),
            "n_commands": len(cmd), "n_other": len(oth), "n_nonspeech": len(ns),
            "other_accepted": {k: [a["word"], round(conf_of(a), 3)] for k, a in oth.items() if not rejected(a)},
            "nonspeech_accepted": {k: [a["word"], round(conf_of(a), 3)] for k, a in ns.items() if not rejected(a)},
            "commands_missed": {Path(p).stem: [a["word"], round(conf_of(a), 3)] for (p, c), (a, _) in zip(tests, cmd) if a["word"] != c},
        }
        held += [(conf_of(a), a["best_word"] == c) for a, c in cmd] + [(conf_of(a), False) for a in oth.values()]
        unknown_conf += [conf_of(a) for a in oth.values()]
        print(f"  robot {name}: {out[name]}", file=sys.stderr)
    return out, held, models, unknown_conf


# ------------------------------------------------- small vocabularies and data

def small(work: Path, options: list[str]) -> dict:
    """The robot corpus cut down: one-word vocabularies, and 1-3 takes a command."""
    corpus = work / "robot"
    commands = sorted(d.name for d in (corpus / "train").iterdir() if d.is_dir() and not d.name.startswith("_"))
    others = sorted((corpus / "test_other").glob("*.wav"))
    nonspeech = sorted((corpus / "test_nonspeech").glob("*.wav"))
    cases = {f"one word: {w}": ([w], 10) for w in ("go", "stop")}
    cases.update({f"{n} take(s) a command": (commands, n) for n in (1, 2, 3, 5)})
    out = {}
    for name, (words, takes) in cases.items():
        for negatives in (False, True):
            manifest = work / "small.tsv"
            lines = [f"{p}\t{w}\n" for w in words for p in sorted((corpus / "train" / w).glob("*.wav"))[:takes]]
            if negatives:
                lines += [f"{p}\t_unknown_\n" for p in sorted((corpus / "train" / "_unknown_").glob("*.wav"))]
            manifest.write_text("".join(lines))
            model = work / "small.model"
            res = run([wordrec_bin(), "train", str(manifest), "-o", str(model), "-j", "2", "-q", *options])
            if res.returncode != 0:
                sys.exit(f"train failed: {res.stderr[-2000:]}")
            tests = [(p, w) for w in words for p in sorted((corpus / "test" / w).glob("*.wav"))]
            ans = recognize(model, [p for p, _ in tests] + others + nonspeech)
            key = f"{name}{' + _unknown_' if negatives else ''}"
            out[key] = {
                "commands_right_and_accepted": np.mean([ans[str(p)]["word"] == w for p, w in tests]),
                "other_rejected": np.mean([rejected(ans[str(p)]) for p in others]),
                "nonspeech_rejected_or_silence": np.mean([rejected(ans[str(p)]) for p in nonspeech]),
                "threshold": (json.loads(model.read_text()).get("calibration") or {}).get("threshold"),
                "warnings": [line[9:] for line in res.stderr.splitlines() if line.startswith("Warning: ")],
            }
            print(f"  {key}: {out[key]}", file=sys.stderr)
    return out


def nonspeech(work: Path, models: dict) -> dict:
    res = {}
    for name, (model, rate) in models.items():
        folder = work / f"nonspeech_{rate}"
        folder.mkdir(exist_ok=True)
        paths = []
        for sig_name, x in nonspeech_signals(rate, np.random.default_rng(7)).items():
            p = folder / f"{sig_name}.wav"
            sf.write(str(p), np.clip(x, -1, 1), rate, subtype="PCM_16")
            paths.append(p)
        ans = recognize(model, paths)
        res[name] = {
            "n": len(paths),
            "rejected_or_silence": np.mean([rejected(ans[str(p)]) for p in paths]),
            "accepted": {p.stem: [ans[str(p)]["word"], round(conf_of(ans[str(p)]), 3)] for p in paths if not rejected(ans[str(p)])},
        }
    return res


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/wordrec-rejection"))
    parser.add_argument("--train-opt", default="", help="extra options for every 'wordrec train' (one string)")
    parser.add_argument("--label", default="", help="suffix of the results file")
    parser.add_argument("--only", default="d07,loso,robot", help="parts to run (comma-separated)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    options = shlex.split(args.train_opt)
    parts = set(args.only.split(","))
    r: dict = {"train_options": options}
    held, unknown_conf, ns_models = [], [], {}
    start = time.perf_counter()
    if "d07" in parts:
        r["d07"], h, model, oov_conf = d07(args.work, options)
        held += h
        unknown_conf += oov_conf
        ns_models["d07"] = (model, 8000)
        print(f"d07: {r['d07']}", file=sys.stderr)
    if "loso" in parts:
        r["loso"], h = loso(args.work, options)
        held += h
        print(f"loso pooled: {r['loso']['pooled']}", file=sys.stderr)
        if new_voices_supported():
            r["loso_new_voices"], _ = loso(args.work, options, ["--new-voices"], retrain=False)
            print(f"loso --new-voices pooled: {r['loso_new_voices']['pooled']}", file=sys.stderr)
            model = args.work / "d07.model"
            if "d07" in r and model.exists():
                root = fsdd_root()
                oov = [p for d in "89" for p in sorted((root / "test" / d).glob("*.wav"))]
                ans = recognize(model, oov, ["--new-voices"])
                r["d07"]["false_acceptance_new_voices"] = float(np.mean([not rejected(a) for a in ans.values()]))
    if "robot" in parts:
        r["robot"], h, models, oc = robot(args.work, options)
        held += h
        unknown_conf += oc
        for name, m in models.items():
            ns_models[f"robot_{name}"] = (m, 16000)
    if "small" in parts:
        r["small"] = small(args.work, options)
    if held:
        table = reliability(held)
        conf = np.array([c for c, _ in held])
        right = np.array([x for _, x in held])
        r["calibration"] = {
            "reliability": table,
            "n_at_0.9": int((conf >= 0.9).sum()),
            "share_right_at_0.9": float(right[conf >= 0.9].mean()) if (conf >= 0.9).any() else None,
            "unknown_at_0.99": float(np.mean(np.array(unknown_conf) >= 0.99)) if unknown_conf else 0.0,
            "n_unknown": len(unknown_conf),
        }
    if ns_models:
        r["nonspeech"] = nonspeech(args.work, ns_models)
    r["bars"] = bars(r)
    r["seconds"] = round(time.perf_counter() - start, 1)
    r = _jsonable(r)
    out = args.out or BENCH / "results" / f"rejection{'-' + args.label if args.label else ''}.json"
    out.write_text(json.dumps(r, indent=1) + "\n")
    print(json.dumps(r, indent=1))
    print("\n".join(f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in r["bars"].items()), file=sys.stderr)


if __name__ == "__main__":
    main()
