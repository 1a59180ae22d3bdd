#!/usr/bin/env python3
"""New voices by enrolment: leave one FSDD speaker out, adapt to K labelled takes a word, answer the rest.

For each of FSDD train/'s five speakers: ``wordrec train`` on the other four,
``wordrec adapt`` on K of the held-out speaker's recordings of each word
(picked with ``--seed``), then ``wordrec recognize`` on his other recordings,
at the default operating point and with ``--new-voices``, before and after
the enrolment.  Prints right-and-accepted and wrong-and-accepted per speaker
and pooled (the bars of issue 18 for new voices: >= 80 % and <= 6 %).

Usage::

    python bench/enroll.py [--work DIR] [--takes 3] [--seed 0]

Models trained on four speakers are reused from ``--work`` when present
(``bench/rejection.py`` writes them there as ``loso_<speaker>.model``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fsdd import fsdd_root
from rejection import SPEAKERS, recognize, rejected, train


def rates(answers: dict, truth: dict) -> dict:
    rows = [(answers[p], w) for p, w in truth.items()]
    right = sum(a["word"] == w for a, w in rows)
    wrong = sum(not rejected(a) and a["word"] != w for a, w in rows)
    return {"n": len(rows), "right_and_accepted": right / len(rows), "wrong_and_accepted": wrong / len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/wordrec-enroll"))
    ap.add_argument("--takes", type=int, default=3, help="labelled recordings of each word to adapt on")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    files = sorted((fsdd_root() / "train").glob("*/*.wav"))
    table = {}
    for spk in SPEAKERS:
        model = args.work / f"loso_{spk}.model"
        if not model.exists():
            manifest = args.work / f"loso_{spk}.tsv"
            manifest.write_text("".join(f"{p}\t{p.parent.name}\n" for p in files if f"_{spk}_" not in p.name))
            train(manifest, model, [])
        mine = [p for p in files if f"_{spk}_" in p.name]
        enrol = []
        for word in sorted({p.parent.name for p in mine}):
            takes = [p for p in mine if p.parent.name == word]
            enrol += [takes[i] for i in rng.choice(len(takes), args.takes, replace=False)]
        manifest = args.work / f"enrol_{spk}.tsv"
        manifest.write_text("".join(f"{p}\t{p.parent.name}\n" for p in enrol))
        enrolled = args.work / f"enrolled_{spk}.model"
        from rejection import run, wordrec_bin

        done = run([wordrec_bin(), "adapt", "-m", str(model), str(manifest), "-o", str(enrolled), "-q"])
        if done.returncode != 0:
            sys.exit(f"adapt failed: {done.stderr[-1000:]}")
        test = {str(p): p.parent.name for p in mine if p not in set(enrol)}
        row = {}
        for name, m in (("trained", model), ("enrolled", enrolled)):
            for point, opts in (("default", []), ("new_voices", ["--new-voices"])):
                row[f"{name}, {point}"] = rates(recognize(m, list(test), opts), test)
        table[spk] = row
        print(spk, json.dumps({k: f"{v['right_and_accepted']:.3f}/{v['wrong_and_accepted']:.3f}" for k, v in row.items()}))
    pooled = {}
    for key in table[SPEAKERS[0]]:
        n = sum(table[s][key]["n"] for s in SPEAKERS)
        pooled[key] = {
            measure: sum(table[s][key][measure] * table[s][key]["n"] for s in SPEAKERS) / n
            for measure in ("right_and_accepted", "wrong_and_accepted")
        }
    print(f"pooled over {len(SPEAKERS)} speakers, {args.takes} enrolment takes a word (right and accepted / wrong and accepted):")
    for key, v in pooled.items():
        print(f"  {key:24s} {100 * v['right_and_accepted']:.1f} % / {100 * v['wrong_and_accepted']:.1f} %")


if __name__ == "__main__":
    main()
