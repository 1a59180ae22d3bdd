#!/usr/bin/env python3
"""Research harness for issue 18: trained models cached, calibration levers measured in-process.

Each *set* is a training corpus, a test corpus and what the test should
show.  Models (final word models with the background model, and the two
held-out folds' models of the calibration) are trained once with
``wordrec``'s own functions and cached as model files under ``--cache``;
features are cached as ``.npz`` (no pickle).  The levers (evidence terms,
impostors, garbage models, thresholds) then run on the cached models.

Sets on training data only (for choosing defaults):

* ``loso_<speaker>``: FSDD train/ without one speaker; tested on him.
* ``dev07``: FSDD train/ digits 0-7, recordings with an even index; tested
  on the odd-index recordings of 0-7 (known) and 8-9 (unknown).
* ``dev29``: the same with 2-9 known and 0-1 unknown.
* ``robotdev``: robot train/ commands, takes 0-6; tested on takes 7-9 and
  the ``_unknown_`` words (unknown), ``_background_noise_`` cut into 1 s
  pieces (non-speech).

Sets on test data (for the final numbers only): ``d07`` (FSDD train/ 0-7;
test/ 0-7 and 8-9) and ``robot`` (robot train/ commands; test/,
test_other/, test_nonspeech/).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import dataclasses  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from fsdd import fsdd_root  # noqa: E402
from wordrec.io import modelfile  # noqa: E402
from wordrec.jobs import featurise as pipeline  # noqa: E402
from wordrec.core.augment import NoiseCopies  # noqa: E402
from wordrec.core.features import FeatureConfig  # noqa: E402
from wordrec.core.openset import CALIBRATION_ITERS, background_problem, held_out_folds  # noqa: E402
from wordrec.core.train import TrainConfig  # noqa: E402
from wordrec.jobs.training import fit_sets, merged, with_copies_noted  # noqa: E402

CACHE = Path(os.environ.get("REJLAB_CACHE", "/tmp/rj/cache"))
ROBOT = Path(os.environ.get("REJLAB_ROBOT", "/tmp/wordrec-rejection/robot"))
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")
UNK = "<unk>"  # test label of an unknown word
NON = "<non>"  # test label of non-speech


def _index(p: Path) -> int:
    return int(p.stem.rsplit("_", 1)[1])


def set_items(name: str) -> tuple[list, list]:
    """``(train items, test items)`` of a set, each a list of ``(path, label)``."""
    root = fsdd_root()
    if name.startswith("loso_"):
        spk = name[5:]
        files = sorted((root / "train").glob("*/*.wav"))
        return ([(p, p.parent.name) for p in files if f"_{spk}_" not in p.name],
                [(p, p.parent.name) for p in files if f"_{spk}_" in p.name])
    if name in ("dev07", "dev29"):
        known = "01234567" if name == "dev07" else "23456789"
        files = sorted((root / "train").glob("*/*.wav"))
        tr = [(p, p.parent.name) for p in files if p.parent.name in known and _index(p) % 2 == 0]
        te = [(p, p.parent.name if p.parent.name in known else UNK) for p in files if _index(p) % 2 == 1]
        return tr, te
    if name == "d07":
        tr = [(p, d) for d in "01234567" for p in sorted((root / "train" / d).glob("*.wav"))]
        te = [(p, p.parent.name if p.parent.name in "01234567" else UNK) for p in sorted((root / "test").glob("*/*.wav"))]
        return tr, te
    if name in ("robotdev", "robotdev_neg"):
        cmds = sorted(d.name for d in (ROBOT / "train").iterdir() if not d.name.startswith("_"))
        tr = [(p, c) for c in cmds for p in sorted((ROBOT / "train" / c).glob("*.wav")) if int(p.stem[-2:]) < 7]
        te = [(p, c) for c in cmds for p in sorted((ROBOT / "train" / c).glob("*.wav")) if int(p.stem[-2:]) >= 7]
        unk = sorted((ROBOT / "train" / "_unknown_").glob("*.wav"))
        if name == "robotdev_neg":
            # Half of the unknown words train the garbage model, the other half test.
            words = sorted({p.stem.rsplit("_", 1)[0] for p in unk})
            train_words = set(words[::2])
            tr += [(p, "_unknown_") for p in unk if p.stem.rsplit("_", 1)[0] in train_words]
            tr += [(p, "_background_noise_") for p in sorted((ROBOT / "train" / "_background_noise_").glob("*.wav"))]
            te += [(p, UNK) for p in unk if p.stem.rsplit("_", 1)[0] not in train_words]
        else:
            te += [(p, UNK) for p in unk]
        te += [(p, NON) for p in _noise_pieces()]
        return tr, te
    if name in ("robot", "robot_neg"):
        cmds = sorted(d.name for d in (ROBOT / "train").iterdir() if not d.name.startswith("_"))
        tr = [(p, c) for c in cmds for p in sorted((ROBOT / "train" / c).glob("*.wav"))]
        if name == "robot_neg":
            tr += [(p, "_unknown_") for p in sorted((ROBOT / "train" / "_unknown_").glob("*.wav"))]
            tr += [(p, "_background_noise_") for p in sorted((ROBOT / "train" / "_background_noise_").glob("*.wav"))]
        te = [(p, c) for c in cmds for p in sorted((ROBOT / "test" / c).glob("*.wav"))]
        te += [(p, UNK) for p in sorted((ROBOT / "test_other").glob("*.wav"))]
        te += [(p, NON) for p in sorted((ROBOT / "test_nonspeech").glob("*.wav"))]
        return tr, te
    raise SystemExit(f"unknown set {name}")


def _noise_pieces() -> list[Path]:
    """The robot's _background_noise_ files cut into 1 s pieces (for robotdev's non-speech test)."""
    out = CACHE / "noise_pieces"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in sorted((ROBOT / "train" / "_background_noise_").glob("*.wav")):
        x, rate = sf.read(f)
        for k in range(0, len(x) // rate, 3):
            p = out / f"{f.stem}_{k}.wav"
            if not p.exists():
                sf.write(p, x[k * rate : (k + 1) * rate], rate, subtype="PCM_16")
            paths.append(p)
    return paths


# ------------------------------------------------------------- feature cache

def _save_list(path: Path, arrays: list, labels: list) -> None:
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    flat = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, 39))
    np.savez(path, flat=flat, lengths=lengths, labels=np.array(labels, dtype=str))


def _load_list(path: Path) -> tuple[list, list]:
    with np.load(path, allow_pickle=False) as z:
        flat = z["flat"]  # each z[...] reads the whole array again
        bounds = np.concatenate([[0], np.cumsum(z["lengths"])])
        arrays = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        return arrays, [str(s) for s in z["labels"]]


def training_features(name: str, cfg: TrainConfig = TrainConfig()):
    """``(by_word, copies, FeatureConfig)`` of a set's training items, as ``wordrec train`` makes them."""
    d = CACHE / name
    d.mkdir(parents=True, exist_ok=True)
    rate_file = d / "rate.txt"
    if not rate_file.exists():
        items, _ = set_items(name)
        rate, items, _ = pipeline.check_headers(items)
    else:
        rate = int(rate_file.read_text())
    fcfg = FeatureConfig.for_rate(rate)
    if not (d / "train.npz").exists():
        by_word, failures, copies = pipeline.features_by_word(items, fcfg, jobs=2, noise=NoiseCopies.of(cfg))
        for f in failures:
            print(f"  {f.message}", file=sys.stderr)
        _save_list(d / "train.npz", [a for w in sorted(by_word) for a in by_word[w]], [w for w in sorted(by_word) for _ in by_word[w]])
        _save_list(d / "copies.npz", [a for w in sorted(copies) for a in copies[w]], [w for w in sorted(copies) for _ in copies[w]])
        rate_file.write_text(str(rate))
    by_word, copies = {}, {}
    for target, file in ((by_word, "train.npz"), (copies, "copies.npz")):
        arrays, labels = _load_list(d / file)
        for a, w in zip(arrays, labels):
            target.setdefault(w, []).append(a)
    return by_word, copies, fcfg


def test_features(name: str, fcfg: FeatureConfig) -> tuple[list, list, list]:
    """``(features or None for a failure, labels, paths)`` of a set's test items."""
    d = CACHE / name
    _, items = set_items(name)
    path = d / "test.npz"
    if not path.exists():
        feats = pipeline.extract_files([p for p, _ in items], fcfg, jobs=2)
        ok = [not isinstance(f, pipeline.Failure) for f in feats]
        np.save(d / "test_ok.npy", np.array(ok))
        _save_list(path, [f for f in feats if not isinstance(f, pipeline.Failure)], [w for (_, w), k in zip(items, ok) if k])
    arrays, _ = _load_list(path)
    ok = np.load(d / "test_ok.npy")
    it = iter(arrays)
    feats = [next(it) if k else None for k in ok]
    return feats, [w for _, w in items], [p for p, _ in items]


# ------------------------------------------------------------- model cache

def trained(name: str, cfg: TrainConfig = TrainConfig(), folds: int = 2, negatives=("_unknown_", "_background_noise_")):
    """Final models (with background), fold models and fold tests of a set, trained once.

    Words whose names are in ``negatives`` are left out of the word models
    (they are returned apart, for garbage-model levers).

    Returns
    -------
    dict with ``models`` (ModelSet, background set, no calibration), ``folds``
    (list of ModelSet), ``fold_tests`` (list of lists of (word index, feats)),
    ``by_word``, ``copies``, ``negatives`` (dict of name -> list of feats), ``fcfg``.
    """
    by_word, copies, fcfg = training_features(name, cfg)
    neg = {w: by_word.pop(w) for w in list(by_word) if w in negatives}
    for w in negatives:
        copies.pop(w, None)
    d = CACHE / name
    splits = held_out_folds(by_word, folds)
    tag = "" if folds == 2 else f"of{folds}"
    files = [d / "final.model"] + [d / f"fold{k}{tag}.model" for k in range(len(splits))]
    fold_cfg = dataclasses.replace(cfg, max_iter=min(cfg.max_iter, CALIBRATION_ITERS))
    if not files[0].exists():
        final, bg = fit_sets([(merged(by_word, copies), cfg), background_problem(by_word, cfg)], fcfg, jobs=2)
        modelfile.save(dataclasses.replace(with_copies_noted(final, copies), background=bg.models[0]), files[0])
    if not all(f.exists() for f in files[1:]):
        fold_models = fit_sets([(tr, fold_cfg) for tr, _ in splits], fcfg, jobs=2)
        for f, m in zip(files[1:], fold_models):
            modelfile.save(m, f)
    loaded = [modelfile.load(f) for f in files]
    return {
        "models": loaded[0], "folds": loaded[1:], "fold_tests": [te for _, te in splits],
        "by_word": by_word, "copies": copies, "negatives": neg, "fcfg": fcfg,
    }
