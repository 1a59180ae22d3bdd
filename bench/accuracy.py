#!/usr/bin/env python3
"""Accuracy of wordrec with its default settings, next to hmmlearn's GMMHMM.

Measured from scratch in one run:

(a) FSDD: train on train/, test on test/;
(b) FSDD: leave one speaker out on train/ (per speaker, mean, worst);
(c) the synthetic check: a corpus from bench/synth.py (unseen espeak-ng
    voices in test/, some noisy, some 44.1 kHz stereo), train on its
    train/, test on its test/.

A second wordrec column adapts the models to each fold's test recordings
before they answer (`--adapt`: unsupervised MAP adaptation of the means,
wordrec.core.adapt): in (b) that is each held-out speaker's 450 recordings, in
(a) and (c) the whole test set, several voices at once.  --no-adapt skips
that column.

Both recognisers get identical features (wordrec's front end with the
FeatureConfig `wordrec train` would pick, every file featurised once) and
identical folds (wordrec.jobs.crossval), and classify by the highest
log-likelihood.  hmmlearn runs GMMHMM(n_components=6, n_mix=3, diagonal
covariances, left-to-right: start in state 0, stay or move one state on;
init_params="mcw" so those zeros are set by us and kept by EM, n_iter=20,
random_state=0).  hmmlearn has no variance floor in its M-step, so a
word model can come out NaN; such a word is refitted with a covariance
prior acting as a floor, and the table counts them (--hmmlearn-as-specified
keeps the NaN models instead).

Prints a markdown table to stdout and writes a JSON copy
(bench/results/accuracy.json).  Progress goes to stderr.

    python bench/accuracy.py [--quick] [--no-hmmlearn] [--no-adapt] [--hmmlearn-as-specified] [-j N] [--out FILE]

FSDD is read from $WORDREC_FSDD (default ../shared/data/fsdd next to the repo).
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per worker process: the parallelism is across words.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from fsdd import fsdd_root  # noqa: E402

from wordrec.core.adapt import AdaptConfig  # noqa: E402
from wordrec.core.augment import NoiseCopies  # noqa: E402
from wordrec.core.features import FeatureConfig  # noqa: E402
from wordrec.core.train import TrainConfig  # noqa: E402
from wordrec.io import corpus  # noqa: E402
from wordrec.jobs import crossval, featurise  # noqa: E402

#: The noisy copies `wordrec train` adds with its defaults; both recognisers
#: train on them (identical training data), neither is tested on them.
NOISE = NoiseCopies.of(TrainConfig())

SPEAKER = r"_([a-z]+)_"  # FSDD names: {digit}_{speaker}_{index}.wav
HMMLEARN = {
    "n_components": 6,
    "n_mix": 3,
    "covariance_type": "diag",
    "n_iter": 20,
    "random_state": 0,
    "init_params": "mcw",
    "params": "stmcw",
    "topology": "left-to-right (start in state 0; stay or move one state on)",
}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- hmmlearn -----------------------------------------------------------------


def _quiet_hmmlearn() -> None:
    # "Model is not converging" and degenerate-solution notices are logged, not warned.
    logging.getLogger("hmmlearn").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


def _left_to_right(n_states: int) -> tuple[np.ndarray, np.ndarray]:
    start = np.zeros(n_states)
    start[0] = 1.0
    trans = 0.5 * (np.eye(n_states) + np.eye(n_states, k=1))
    trans[-1, -1] = 1.0
    return start, trans


def _finite(model) -> bool:
    parts = (model.startprob_, model.transmat_, model.weights_, model.means_, model.covars_)
    return all(np.all(np.isfinite(a)) for a in parts) and np.isfinite(model.monitor_.history[-1])


def _fit_gmmhmm(args):
    """Fit one word as specified; if that goes NaN, refit with a covariance prior.

    hmmlearn's GMMHMM M-step divides by each Gaussian's occupancy and
    applies no variance floor (min_covar is used only at initialisation),
    so a Gaussian that loses all its frames turns every parameter into NaN
    (hmmlearn issues #390, #474).  The refit uses hmmlearn's own
    inverse-gamma prior as a floor: covars_prior=-1 and covars_weight =
    0.005 x the global variance add one pseudo-frame at 1 % of the global
    variance to every Gaussian.  Returns ``(model, refitted)``.
    """
    word, seqs, refit = args
    _quiet_hmmlearn()
    from hmmlearn.hmm import GMMHMM

    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    opts = {k: v for k, v in HMMLEARN.items() if k != "topology"}
    for prior in ({}, {"covars_prior": -1.0, "covars_weight": 0.5 * 0.01 * X.var(axis=0)}):
        model = GMMHMM(**opts, **prior)
        model.startprob_, model.transmat_ = _left_to_right(opts["n_components"])
        model.fit(X, lengths)
        if _finite(model) or not refit:
            break
    return model, bool(prior)


def _score_gmmhmm(args):
    model, feats = args
    _quiet_hmmlearn()
    out = np.empty(len(feats))
    for i, f in enumerate(feats):
        try:
            out[i] = model.score(f)
        except ValueError:  # no path through the model
            out[i] = -np.inf
    return np.where(np.isfinite(out), out, -np.inf)


def hmmlearn_trainer(jobs: int, refit: bool, log: list):
    """A crossval trainer fitting one hmmlearn GMMHMM per word (words in parallel).

    Appends to ``log``, per call (fold), ``{"words": [...], "nan": [...],
    "refitted": [...]}``: the words, those whose model went NaN as
    specified, and those refitted (see :func:`_fit_gmmhmm`).
    """

    def fit(by_word: dict) -> crossval.Scorer:
        words = sorted(by_word)
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            fitted = list(pool.map(_fit_gmmhmm, [(w, by_word[w], refit) for w in words]))
        models = [m for m, _ in fitted]
        nan = [w for w, (m, again) in zip(words, fitted) if again or not _finite(m)]
        log.append({"words": words, "nan": nan, "refitted": [w for w, (_, again) in zip(words, fitted) if again]})

        def score(feats):
            if not feats:
                return np.zeros((0, len(words)))
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                cols = list(pool.map(_score_gmmhmm, [(m, list(feats)) for m in models]))
            return np.stack(cols, axis=1)

        return crossval.Scorer(tuple(words), score)

    return fit


# --- experiments --------------------------------------------------------------


def rate_and_config(train_items) -> FeatureConfig:
    """The front end `wordrec train` would use on these training files."""
    rate, _ = featurise.pick_rate([p for p, _ in train_items])
    return FeatureConfig.for_rate(rate)


def measure(name, folds, feats, cfg, recognisers, timings, copies=None) -> dict:
    """Run every recogniser on the same folds and features.

    ``recognisers`` maps a label to a function ``(FeatureConfig, log) ->
    trainer``; what a trainer appends to ``log`` (one entry per fold) is
    kept as the result's ``fit_log``.
    """
    out = {"name": name, "features": cfg.to_dict(), "results": {}}
    for label, make_trainer in recognisers.items():
        log: list = []
        trainer = make_trainer(cfg, log)
        t0 = time.monotonic()
        say(f"  {name}: {label} ...")
        done = lambda fold: say(f"    fold {fold} done ({time.monotonic() - t0:.0f} s)")  # noqa: E731
        result, failures = crossval.run(folds, feats, trainer, done, copies)
        result["failures"] = [{"path": f.path, "message": f.message} for f in failures]
        seconds = time.monotonic() - t0
        result["seconds"] = round(seconds, 1)
        if log:
            result["fit_log"] = [{"fold": f[0], **entry} for f, entry in zip(folds, log)]
        timings[label] = timings.get(label, 0.0) + seconds
        out["results"][label] = result
    return out


def fsdd_experiments(root: Path, recognisers, timings) -> list[dict]:
    train = list(corpus.load(root / "train").items)
    test = list(corpus.load(root / "test").items)
    cfg = rate_and_config(train)
    t0 = time.monotonic()
    say(f"FSDD: featurising {len(train) + len(test)} files at {cfg.sample_rate} Hz")
    feats, unreadable, copies = crossval.featurise(train + test, cfg, noise=NOISE)
    timings["features"] = timings.get("features", 0.0) + time.monotonic() - t0
    for f in unreadable:
        say(f"Error: {f.message}")
    a = measure("(a) FSDD train -> test", [("test", train, test)], feats, cfg, recognisers, timings, copies)
    speakers = crossval.by_group(train, SPEAKER)
    b = measure("(b) FSDD leave-one-speaker-out (train/)", speakers, feats, cfg, recognisers, timings, copies)
    return [a, b]


def synthetic_experiment(recognisers, timings) -> dict | None:
    sys.path.insert(0, str(BENCH))
    import synth

    with tempfile.TemporaryDirectory(prefix="wordrec-accuracy-") as tmp:
        t0 = time.monotonic()
        try:
            summary = synth.make_corpus(tmp, seed=0)
        except (RuntimeError, ValueError) as exc:
            say(f"synthetic check skipped: {exc}")
            return None
        say(f"synthetic corpus: {summary['n_train']} train + {summary['n_test']} test files")
        train = list(corpus.load(Path(tmp) / "train").items)
        test = list(corpus.load(Path(tmp) / "test").items)
        cfg = rate_and_config(train)
        feats, unreadable, copies = crossval.featurise(train + test, cfg, noise=NOISE)
        timings["synthesis+features"] = time.monotonic() - t0
        for f in unreadable:
            say(f"Error: {f.message}")
        e = measure("(c) synthetic, unseen voices", [("test", train, test)], feats, cfg, recognisers, timings, copies)
        condition = {str(Path(tmp) / f["path"]): f["condition"] for f in summary["files"] if f["split"] == "test"}
        for result in e["results"].values():
            result["by_condition"] = by_condition(test, result, condition, tmp)
    return e


def by_condition(test, result, condition, tmp) -> dict:
    """Accuracy per test condition (clean / noise / stereo44k)."""
    failed = {f["path"] for f in result["failures"]}
    wrong = {e["path"] for e in result["errors"]}
    out = {}
    for c in sorted(set(condition.values())):
        paths = [str(p) for p, _ in test if condition.get(str(p)) == c and str(p) not in failed]
        n_wrong = sum(p in wrong for p in paths)
        out[c] = {"n_files": len(paths), "accuracy": (len(paths) - n_wrong) / len(paths) if paths else None}
    # Temporary paths mean nothing after the run: keep the names only.
    for e in result["errors"]:
        e["path"] = str(Path(e["path"]).relative_to(tmp))
    return out


# --- output -------------------------------------------------------------------


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def table(experiments, labels) -> str:
    head = "| part | fold | files | " + " | ".join(labels) + " |"
    lines = [head, "|---|---|---:|" + "---:|" * len(labels)]

    def row(part, fold, n, values):
        lines.append(f"| {part} | {fold} | {n} | " + " | ".join(values) + " |")

    for e in experiments:
        results = [e["results"][k] for k in labels]
        first = results[0]
        part = e["name"]
        if len(first["folds"]) == 1:
            row(part, first["folds"][0]["name"], first["n_files"], [pct(r["accuracy"]) for r in results])
        else:
            for i, f in enumerate(first["folds"]):
                row(part if i == 0 else "", f["name"], f["n_files"], [pct(r["folds"][i]["accuracy"]) for r in results])
            row("", "**mean**", first["n_files"], [f"**{pct(r['mean_accuracy'])}**" for r in results])
            worst = []
            for r in results:
                names = [f["name"] for f in r["folds"] if f["accuracy"] == r["worst_accuracy"]]
                worst.append(f"**{pct(r['worst_accuracy'])}** ({', '.join(names)})")
            row("", "**worst**", "", worst)
            row("", "pooled", first["n_files"], [pct(r["accuracy"]) for r in results])
        if "by_condition" in first:
            for c, d in first["by_condition"].items():
                row("", c, d["n_files"], [pct(r["by_condition"][c]["accuracy"]) for r in results])
        if any(sum(len(f["nan"]) for f in r.get("fit_log", [])) for r in results):
            row("", "NaN word models", "", [nan_note(r) for r in results])
    return "\n".join(lines)


def nan_note(result) -> str:
    """How many word models (over all folds) went NaN as specified, and what was done."""
    log = result.get("fit_log")
    if not log:
        return "-"
    nan = sum(len(f["nan"]) for f in log)
    refitted = sum(len(f["refitted"]) for f in log)
    total = sum(len(f["words"]) for f in log)
    done = f", {refitted} refitted with a covariance prior" if refitted else " (kept: those words never win)"
    return f"{nan} of {total}{done}"


def git_state() -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "modified": git("status", "--porcelain", "--untracked-files=no").splitlines()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the synthetic check (c)")
    ap.add_argument("--no-hmmlearn", action="store_true", help="measure wordrec only")
    ap.add_argument("--no-adapt", action="store_true", help="skip the column of wordrec adapted to each test fold")
    ap.add_argument(
        "--hmmlearn-as-specified",
        action="store_true",
        help="keep hmmlearn word models that went NaN (they never win) instead of refitting them with a covariance prior",
    )
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "accuracy.json", help="JSON copy of the table")
    args = ap.parse_args(argv)
    root = fsdd_root()
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        say(f"accuracy: FSDD not found at {root} (set WORDREC_FSDD)")
        return 1

    t_start = time.monotonic()
    train_cfg = TrainConfig()
    recognisers = {"wordrec (defaults)": lambda cfg, log: crossval.wordrec_trainer(cfg, train_cfg, args.jobs)}
    if not args.no_adapt:
        recognisers["wordrec --adapt"] = lambda cfg, log: crossval.wordrec_trainer(
            cfg, train_cfg, args.jobs, AdaptConfig()
        )
    if not args.no_hmmlearn:
        import hmmlearn

        refit = not args.hmmlearn_as_specified
        recognisers[f"hmmlearn {hmmlearn.__version__} GMMHMM"] = lambda cfg, log: hmmlearn_trainer(
            args.jobs, refit, log
        )
    timings: dict = {}
    experiments = fsdd_experiments(root, recognisers, timings)
    if not args.quick:
        e = synthetic_experiment(recognisers, timings)
        if e is not None:
            experiments.append(e)
    runtime = time.monotonic() - t_start

    labels = list(recognisers)
    command = "python bench/accuracy.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    print(table(experiments, labels))
    print()
    spent = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    print(f"`{command}`: {runtime:.0f} s on {args.jobs} worker(s) ({spent})")
    record = {
        "command": command,
        "runtime_seconds": round(runtime, 1),
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "jobs": args.jobs,
        "git": git_state(),
        "fsdd": str(root),
        "wordrec_training": train_cfg.to_dict(),
        "wordrec_adapt": None if args.no_adapt else dataclasses.asdict(AdaptConfig()),
        "hmmlearn": None if args.no_hmmlearn else HMMLEARN,
        "table": table(experiments, labels),
        "experiments": experiments,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
