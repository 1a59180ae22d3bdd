#!/usr/bin/env python3
"""Scale benchmark (issue 21): time, CPU and peak memory of the whole process tree as corpora grow.

Corpora are built in a scratch folder outside the repo (``--scratch``,
default /tmp/wordrec-scale; see bench/scale_corpus.py) and reused by later
runs.  Every command runs as its own process under bench/proctree.py (wall
time, CPU of the process and its workers, peak RSS and PSS summed over the
tree, sampled every 0.1 s), with one BLAS thread per process.

Sections (``--what``, comma-separated):

* ``vocab``: recognition CPU per 1-second recording against vocabularies of
  10, 50, 200, 1000 and 2000 words, in this process (the scoring alone:
  :func:`wordrec.core.score.score` with its default short list, and exact),
  and agreement of the short-listed answers with the exact ones.  The models
  are the ``--vocab-model`` (trained on the espeak-ng vocabulary; subsets of
  its words for the smaller sizes) and, for sizes beyond it, its words again
  with their means moved (so that they are new words of the same shape).
  The recordings are that vocabulary's test takes, padded or cut to 1 s.
* ``train``: ``wordrec train -j 2`` on perturbed FSDD copies of ``--sizes``
  files (default 12000,50000,100000).
* ``eval``: ``wordrec eval -j 2`` of the FSDD model on the same copies.
* ``train-vocab``: ``wordrec train -j 2`` on the espeak-ng vocabulary
  (``--words`` x ``--takes``, default 1000 x 20).

    python bench/scale.py --what vocab,train,eval [--sizes 12000,100000] [--scratch DIR]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proctree  # noqa: E402
import scale_corpus  # noqa: E402
from fsdd import fsdd_root  # noqa: E402

WORDREC = [sys.executable, "-m", "wordrec"]


def _say(*parts) -> None:
    print(*parts, flush=True)


#: Run wordrec from this source tree instead of the installed one (--tree), to measure another version.
TREE: list = []


def _wordrec(args, log: Path, interval: float | None = 0.1) -> proctree.Usage:
    env = proctree.env_one_thread()
    if TREE:
        # Run in the tree: `python -m` puts the working folder first on sys.path, ahead of
        # PYTHONPATH and of an editable install, so a run from a checkout would measure that.
        env["PYTHONPATH"] = TREE[0]
    with open(log, "w") as err:
        u = proctree.run(WORDREC + [str(a) for a in args], interval, env=env, stdout=err, stderr=err,
                         cwd=TREE[0] if TREE else None)
    if u.returncode not in (0, 3):
        _say(f"  (exit {u.returncode}; see {log})")
    return u


def fsdd_model(scratch: Path) -> Path:
    model = scratch / "fsdd.model"
    if not model.exists():
        _wordrec(["train", str(fsdd_root() / "train"), "-o", str(model), "-j", "2", "-q"], scratch / "fsdd-train.log")
    return model


def section_train(scratch: Path, sizes, extra=()) -> None:
    _say("## train: perturbed FSDD copies, wordrec train -j 2 (defaults)")
    for n in sizes:
        data = scale_corpus.fsdd_copies(scratch / "fsdd-copies", n)
        subset = _manifest(data, n, scratch / f"fsdd-copies-{n}.tsv")
        u = _wordrec(["train", str(subset), "-o", str(scratch / f"copies-{n}.model"), "-j", "2", "-q", *extra],
                     scratch / f"train-{n}.log")
        _say(f"  {n:>8} files: {u.row()}  {1e3 * u.cpu_s / n:.2f} ms CPU a file")


def section_eval(scratch: Path, sizes, extra=(), timing_runs: int = 0) -> None:
    model = fsdd_model(scratch)
    _say(f"## eval: FSDD model on perturbed FSDD copies, wordrec eval {' '.join(extra)}")
    for n in sizes:
        data = scale_corpus.fsdd_copies(scratch / "fsdd-copies", n)
        subset = _manifest(data, n, scratch / f"fsdd-copies-{n}.tsv")
        u = _wordrec(["eval", "-m", str(model), str(subset), *extra], scratch / f"eval-{n}.log")
        _say(f"  {n:>8} files: {u.row()}  {n / u.wall_s:.0f} files/s")
        # Again without sampling the memory, which costs the command CPU: the throughput.
        bare = [_wordrec(["eval", "-m", str(model), str(subset), *extra], scratch / f"eval-{n}.log", None)
                for _ in range(timing_runs)]
        if bare:
            walls = sorted(b.wall_s for b in bare)
            _say(f"  {n:>8} files, memory not sampled: median of {len(bare)}: {walls[len(walls) // 2]:.1f} s wall, "
                 f"{n / walls[len(walls) // 2]:.0f} files/s (all: {', '.join(f'{w:.1f}' for w in walls)} s)")


def _manifest(root: Path, n: int, out: Path) -> Path:
    """A manifest of the first ``n`` copies (in the order they were made)."""
    sources = sorted((fsdd_root() / "train").glob("*/*.wav"))
    lines = [
        f"{root / s.parent.name / f'{s.stem}_{i // len(sources)}.wav'}\t{s.parent.name}"
        for i, s in ((i, sources[i % len(sources)]) for i in range(n))
    ]
    out.write_text("\n".join(lines) + "\n")
    return out


def section_train_vocab(scratch: Path, words: int, takes: int) -> None:
    data = scale_corpus.vocabulary(scratch / f"vocab-{words}", words, takes)
    _say(f"## train-vocab: espeak-ng vocabulary, {words} words x {takes} takes, wordrec train -j 2")
    model = scratch / f"vocab-{words}.model"
    u = _wordrec(["train", str(data / "train"), "-o", str(model), "-j", "2", "-q"], scratch / f"train-vocab-{words}.log")
    _say(f"  {words} words: {u.row()}")


def _one_second(feats, n_frames: int = 100) -> list:
    """Each recording repeated or cut to ``n_frames`` frames (1 s at the default 10 ms step)."""
    return [np.resize(f, (n_frames, f.shape[1])) for f in feats]


def _vocab_models(models, n: int, seed: int = 0):
    """``n`` words: the first ``n`` of ``models``, or all of them and shifted copies beyond."""
    rng = np.random.default_rng(seed)
    out = list(models.models[:n])
    k = 0
    while len(out) < n:
        wm = models.models[k % len(models.models)]
        moved = wm.means + rng.normal(0, 0.5, wm.means.shape)
        out.append(dataclasses.replace(wm, word=f"{wm.word}~{len(out)}", means=moved))
        k += 1
    return dataclasses.replace(models, models=tuple(sorted(out, key=lambda w: w.word)))


def section_vocab(scratch: Path, model_path: Path, sizes, repeats: int = 3, n_test: int = 500) -> None:
    from wordrec.core.score import Scorer, default_shortlist
    from wordrec.io import modelfile
    from wordrec.jobs.featurise import Failure, extract_files

    models = modelfile.load(model_path)
    # n_test of the test takes, spread over the words (every k-th).
    test = sorted((scratch / f"vocab-{len(models.models)}" / "test").glob("*/*.wav"))
    test = test[:: max(1, len(test) // n_test)]
    truth = [p.parent.name for p in test]
    feats = extract_files(test, models.features)
    keep = [i for i, f in enumerate(feats) if not isinstance(f, Failure)]
    natural = [feats[i] for i in keep]
    ones = _one_second(natural, int(round(1.0 / models.features.win_step)))
    truth = np.array([truth[i] for i in keep])
    _say(f"## vocab: scoring CPU per 1-s recording ({len(ones)} test takes cut or repeated to 1 s; median of {repeats}),")
    _say("## and answers of the takes as they are, short list against exact")
    _say("  words | short list | ms a 1-s file (short list) | us a word | ms a 1-s file (exact) | us a word | same answer | right (exact / short list)")
    for n in sizes:
        ms = _vocab_models(models, n)
        scorer = Scorer(ms)
        k = default_shortlist(n)
        t_short, t_exact = [], []
        for _ in range(repeats):
            t = time.process_time()
            scorer.score(ones, k)
            t_short.append(time.process_time() - t)
            t = time.process_time()
            scorer.score(ones, None)
            t_exact.append(time.process_time() - t)
        a, b = np.median(t_short) / len(ones), np.median(t_exact) / len(ones)
        short, exact = scorer.score(natural, k), scorer.score(natural, None)
        same = np.mean(short.argmax(axis=1) == exact.argmax(axis=1))
        words = np.array(ms.words)
        known = np.isin(truth, words)  # takes of words in this vocabulary
        right = tuple(np.mean(words[s.argmax(axis=1)][known] == truth[known]) for s in (exact, short))
        _say(f"  {n:>5} | {k or '-':>4} | {1e3 * a:7.2f} | {1e6 * a / n:6.1f} | {1e3 * b:7.2f} | {1e6 * b / n:6.1f} | "
             f"{same:.4f} | {right[0]:.4f} / {right[1]:.4f} ({known.sum()} takes)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", default="vocab,train,eval")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/wordrec-scale"))
    ap.add_argument("--sizes", default="12000,50000,100000", help="corpus sizes (files) for train and eval")
    ap.add_argument("--vocab-sizes", default="10,50,200,1000,2000")
    ap.add_argument("--vocab-model", type=Path, help="model trained on the espeak-ng vocabulary (default: train it)")
    ap.add_argument("--words", type=int, default=1000)
    ap.add_argument("--takes", type=int, default=20)
    ap.add_argument("--eval-args", default="-j 2", help="options for wordrec eval, space-separated [-j 2]")
    ap.add_argument("--timing-runs", type=int, default=3,
                    help="eval runs timed without sampling memory, after the sampled one (median) [3]")
    ap.add_argument("--train-args", default="", help="more options for wordrec train, space-separated")
    ap.add_argument("--tree", help="run wordrec from this source tree (e.g. an unpacked older commit)")
    a = ap.parse_args(argv)
    if a.tree:
        TREE.append(str(Path(a.tree).resolve()))
    a.scratch = a.scratch.resolve()
    a.scratch.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in a.sizes.split(",") if s]
    what = set(a.what.split(","))
    _say(f"# wordrec scale benchmark ({os.cpu_count()} cores; scratch {a.scratch})")
    if "train-vocab" in what:
        section_train_vocab(a.scratch, a.words, a.takes)
    if "vocab" in what:
        model = a.vocab_model or a.scratch / f"vocab-{a.words}.model"
        if not model.exists():
            section_train_vocab(a.scratch, a.words, a.takes)
        section_vocab(a.scratch, model, [int(s) for s in a.vocab_sizes.split(",")])
    if "train" in what:
        section_train(a.scratch, sizes, a.train_args.split())
    if "eval" in what:
        section_eval(a.scratch, sizes, a.eval_args.split(), a.timing_runs)


if __name__ == "__main__":
    main()
