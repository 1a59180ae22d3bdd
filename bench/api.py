#!/usr/bin/env python3
"""The Python API against the command line on FSDD, and its in-process speed.

1. ``Recognizer(jobs=J).fit(arrays of train/, labels)`` and ``wordrec train
   train/ -j J``: the two model files must hold identical models (every array,
   the calibration and the front end; fields that only record where the data
   came from may differ).
2. ``.predict(arrays of test/)`` against ``wordrec recognize --json`` and
   ``wordrec eval`` with the CLI's model: the same answers.
3. ``.log_likelihoods`` of the CLI's model against ``recognize --json``'s
   ``log_lik`` for every word (``--nbest 10``): the largest difference.
4. In-process recognition of one 1-second recording after ``load``: the
   median of ``--repeats`` calls of ``predict`` (the bar is 3 ms).

Usage::

    python bench/api.py [--jobs 2] [--repeats 200]

Arrays are read with soundfile in the order ``wordrec train`` reads the
files (sorted by word, then path), so that both see the same sequence.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from fsdd import fsdd_root

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import wordrec  # noqa: E402
from wordrec.io import corpus  # noqa: E402

#: Top-level fields that record where the data came from, not what the model is.
PROVENANCE = ("training", "diagnostics")


def wordrec_cli(*args) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "wordrec"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    root = fsdd_root()
    work = Path(tempfile.mkdtemp(prefix="wordrec-api-"))
    found = corpus.load(root / "train")
    arrays = [sf.read(str(p))[0] for p, _ in found.items]
    words = [w for _, w in found.items]

    t0 = time.perf_counter()
    rec = wordrec.Recognizer(jobs=args.jobs).fit(arrays, words, sample_rate=8000)
    t_api = time.perf_counter() - t0
    rec.save(work / "api.model")
    t0 = time.perf_counter()
    wordrec_cli("train", root / "train", "-o", work / "cli.model", "-j", args.jobs, "-q")
    t_cli = time.perf_counter() - t0
    a = json.loads((work / "api.model").read_text())
    b = json.loads((work / "cli.model").read_text())
    differing = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    print(f"fit on arrays {t_api:.1f} s, wordrec train {t_cli:.1f} s (process start included)")
    print(f"model fields that differ: {differing or 'none'} (allowed: {', '.join(PROVENANCE)})")
    print(f"model files byte-identical: {(work / 'api.model').read_bytes() == (work / 'cli.model').read_bytes()}")

    test = corpus.load(root / "test")
    test_paths = [p for p, _ in test.items]
    results = rec.recognize([sf.read(str(p))[0] for p in test_paths], sample_rate=8000)
    predicted = [r.word for r in results]
    answers = json.loads(wordrec_cli("recognize", "-m", work / "cli.model", "--json", "--nbest", "10", *test_paths).stdout)
    same = sum(p == ans["word"] for p, ans in zip(predicted, answers))
    truth = [w for _, w in test.items]
    accuracy = json.loads(wordrec_cli("eval", "-m", work / "cli.model", root / "test", "--json").stdout)["accuracy"]
    # eval's accuracy is closed-set (the best word, whatever its confidence): so is this one.
    api_acc = float(np.mean([r.best_word == t for r, t in zip(results, truth)]))
    rejected = sum(r.word == "<unknown>" for r in results)
    print(f"test/: predict equals recognize --json on {same}/{len(test_paths)}; accuracy API {api_acc:.4f}, "
          f"eval {accuracy:.4f}; answered <unknown>: {rejected}")

    cli_rec = wordrec.Recognizer.load(work / "cli.model")
    lls = cli_rec.log_likelihoods(test_paths)
    worst = max(
        abs(lls[i, cli_rec.words_.index(e["word"])] - e["log_lik"]) for i, ans in enumerate(answers) for e in ans["nbest"]
    )
    print(f"log_likelihoods vs recognize --json log_lik: largest difference {worst:.3g}")

    x = sf.read(str(test_paths[0]))[0]
    one_second = np.concatenate([x, 1e-3 * np.random.default_rng(0).standard_normal(8000 - len(x))])[:8000]
    loaded = wordrec.Recognizer.load(work / "cli.model")
    loaded.predict([one_second], sample_rate=8000)  # warm caches (filterbank, resampler)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        loaded.predict([one_second], sample_rate=8000)
        times.append(time.perf_counter() - t0)
    print(f"predict one 1-s recording in process: median {1000 * np.median(times):.2f} ms over {args.repeats} "
          f"(p90 {1000 * np.quantile(times, 0.9):.2f} ms)")


if __name__ == "__main__":
    main()
