#!/usr/bin/env python3
"""What the rejection design costs: recognition (scoring + confidences) and the held-out evaluation of training.

    PYTHONPATH=<a wordrec checkout> python bench/rejection_speed.py recognize MODEL   # FSDD test/, medians of 7
    python bench/rejection_speed.py calibration                                      # d07 held-out evaluation CPU

Run ``recognize`` once per checkout (with its own model file) to compare
versions; ``calibration`` compares, on the lab's cached d07 fold models,
the single warped scoring pass per fold of the earlier calibration with
:func:`wordrec.core.calibration.fold_held_out`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


def recognize(model_path: str) -> None:
    from fsdd import fsdd_root
    from wordrec.io import modelfile
    from wordrec.jobs import featurise as pipeline
    from wordrec.core.openset import confidences
    from wordrec.core.score import score

    models = modelfile.load(model_path)
    paths = sorted((fsdd_root() / "test").glob("*/*.wav"))
    feats = [f for f in pipeline.extract_files(paths, models.features) if not isinstance(f, pipeline.Failure)]
    t_score, t_conf = [], []
    for _ in range(7):
        t = time.perf_counter()
        s = score(models, feats)
        t_score.append(time.perf_counter() - t)
        t = time.perf_counter()
        confidences(models, feats, s)
        t_conf.append(time.perf_counter() - t)
    print(f"{len(feats)} files: score {np.median(t_score):.4f} s, confidences {np.median(t_conf):.4f} s")


def calibration() -> None:
    import rejection_lab as L
    from wordrec.jobs.training import held_out_evidence as held_out
    from wordrec.core.warp import frequency_warp
    from wordrec.core.openset import background_scores
    from wordrec.core.score import score

    t = L.trained("d07")
    bg, fcfg = t["models"].background, t["fcfg"]

    def before():
        for m, test in zip(t["folds"], t["fold_tests"]):
            feats = [frequency_warp(f, fcfg, (1.1, 0.9)[i % 2]) for i, (_, f) in enumerate(test)]
            score(m, feats)
            background_scores(bg, feats, m.outlier)

    def now():
        held_out(t["folds"], t["fold_tests"], bg, fcfg, (), 0.1, jobs=1)

    for _ in range(3):
        for name, fn in (("one warped pass (before)", before), ("held_out (now)", now)):
            c = time.process_time()
            fn()
            print(f"{name}: {time.process_time() - c:.2f} s CPU", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "recognize":
        recognize(sys.argv[2])
    else:
        calibration()
