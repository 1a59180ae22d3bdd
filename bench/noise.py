#!/usr/bin/env python3
"""Accuracy on FSDD test/ with noise added, for wordrec's defaults (or given settings).

Trains on FSDD train/ as `wordrec train` does (with its noisy copies), then
recognises every test recording with white or pink noise added at a fixed
signal-to-noise ratio (the noise of wordrec.core.augment, drawn per recording
from a seed that the training copies do not use), at several ratios.

    python bench/noise.py [--snr 30 20 10 5] [--set n_states=8 --set n_mix=3] [--adapt] [-j N]

--adapt adds a column: the models adapted (wordrec.core.adapt, unsupervised) to
all test recordings at that noise level as one batch, i.e. to the noise,
as `wordrec eval -m MODEL --adapt` would do.

FSDD is read from $WORDREC_FSDD (default ../shared/data/fsdd next to the repo).
Prints a markdown table to stdout.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import ast  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fsdd import fsdd_root  # noqa: E402

from wordrec.core import score as score_mod  # noqa: E402
from wordrec.core.adapt import AdaptConfig, adapt_unsupervised  # noqa: E402
from wordrec.core.augment import NoiseCopies  # noqa: E402
from wordrec.core.features import FeatureConfig  # noqa: E402
from wordrec.core.train import TrainConfig  # noqa: E402
from wordrec.io import corpus  # noqa: E402
from wordrec.jobs import featurise, training  # noqa: E402

TEST_NOISE_SEED = 7  # not the training copies' seed (TrainConfig.seed, 0 by default)


def _setting(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def _accuracy(models, scores, truth) -> float:
    """Per cent of rows whose best-scoring word is the truth."""
    return 100 * float(np.mean([models.words[b] == w for b, w in zip(scores.argmax(axis=1), truth)]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snr", type=float, nargs="+", default=[30, 20, 10, 5], help="dB below the speech")
    ap.add_argument("--set", dest="settings", action="append", default=[], type=_setting, metavar="NAME=VALUE",
                    help="a TrainConfig field, e.g. n_states=8")
    ap.add_argument("--adapt", action="store_true", help="also adapt the models to each noisy test set")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    args = ap.parse_args()
    root = fsdd_root()
    if not (root / "train").is_dir():
        print(f"FSDD not found at {root} (set WORDREC_FSDD)", file=sys.stderr)
        return 1
    cfg = TrainConfig(**dict(args.settings)).validated()
    fc = FeatureConfig.for_rate(8000)
    items = corpus.load(root / "train").items
    by_word, _, copies = featurise.features_by_word(items, fc, jobs=args.jobs, noise=NoiseCopies.of(cfg))
    models = training.fit_all(by_word, fc, cfg, jobs=args.jobs, copies=copies)
    test = corpus.load(root / "test").items
    paths, truth = [p for p, _ in test], [w for _, w in test]
    head = f"| noise below the speech | accuracy on FSDD test ({len(paths)} files) |"
    print(head + (" adapted to the noisy test set |" if args.adapt else ""))
    print("|---|---:|" + ("---:|" if args.adapt else ""))
    for snr in args.snr:
        feats = featurise.extract_files(paths, fc, labelled=True, jobs=args.jobs,
                                       noise=NoiseCopies(1.0, snr, snr, TEST_NOISE_SEED))
        feats = [f[1] if isinstance(f, tuple) else f for f in feats]
        scores = score_mod.score(models, feats)
        row = f"| {snr:g} dB | {_accuracy(models, scores, truth):.1f}% |"
        if args.adapt:
            row += f" {_accuracy(models, adapt_unsupervised(models, feats, scores, AdaptConfig())[1], truth):.1f}% |"
        print(row, flush=True)
    changed = ", ".join(f"{k}={v!r}" for k, v in args.settings) or "defaults"
    command = "python bench/noise.py" + (" --adapt" if args.adapt else "")
    print(f"\n`{command}`: wordrec {changed}, white or pink noise per recording (seed {TEST_NOISE_SEED}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
