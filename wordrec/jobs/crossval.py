"""Cross-validation: k-fold and leave-one-group-out accuracy on one corpus.

The fold functions are pure: ``(path, word)`` items in, a list of folds
``(name, train_items, test_items)`` out, every item tested in exactly one
fold.  :func:`run` trains on each fold's training items and scores its
test items; features are computed once per file and reused across folds,
which is exact because every feature (deltas, mean normalisation) is
computed within one utterance.

The recogniser is a parameter of :func:`run` (a *trainer*: a function from
``{word: [features]}`` to a :class:`Scorer`), so other recognisers can be
measured on identical features and folds (``bench/accuracy.py`` does so
for hmmlearn).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wordrec.core.adapt import adapt_unsupervised
from wordrec.core.augment import NoiseCopies
from wordrec.core.metrics import report
from wordrec.core.score import rank, score
from wordrec.errors import WordrecError
from wordrec.jobs.featurise import Failure, extract_files, too_short_to_train
from wordrec.jobs.training import fit_all


def kfold(items, k: int, seed: int = 0) -> list[tuple[str, list, list]]:
    """Stratified k-fold split.

    Each word's items are shuffled with ``seed`` and dealt to the folds in
    turn, the dealing carrying on from word to word, so every fold holds
    ``floor`` or ``ceil`` of ``n_word / k`` of each word's items and fold
    sizes differ by at most one.

    Parameters
    ----------
    items : sequence of (path, word)
    k : int
        Number of folds, 2 <= k <= len(items).
    seed : int

    Returns
    -------
    list of (name, train_items, test_items)
        Names ``"1"`` .. ``"k"``; both item lists keep the input order.
    """
    items = list(items)
    if not 2 <= k <= len(items):
        raise WordrecError(f"cannot make {k} folds from {len(items)} recordings (need 2 <= folds <= recordings)")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(items), dtype=np.int64)
    next_fold = 0
    for word in sorted({w for _, w in items}):
        idx = np.array([i for i, (_, w) in enumerate(items) if w == word])
        idx = idx[rng.permutation(len(idx))]
        fold_of[idx] = (next_fold + np.arange(len(idx))) % k
        next_fold = (next_fold + len(idx)) % k
    return [
        (str(f + 1), [it for it, g in zip(items, fold_of) if g != f], [it for it, g in zip(items, fold_of) if g == f])
        for f in range(k)
    ]


def compile_group_regex(regex: str) -> re.Pattern:
    """Compile a ``--group-by`` expression; it must have a capture group."""
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise WordrecError(f"group expression {regex!r} is not a valid regular expression ({exc})") from None
    if pattern.groups < 1:
        raise WordrecError(
            f"group expression {regex!r} has no capture group; put the group in parentheses, e.g. '_([a-z]+)_'"
        )
    return pattern


def group_of(path, pattern: re.Pattern) -> str | None:
    """The first capture group of ``pattern`` searched in the file name, or None."""
    m = pattern.search(Path(path).name)
    return m.group(1) if m and m.group(1) else None


def ungrouped(items, regex: str) -> list:
    """The items :func:`by_group` leaves out: names where ``regex`` finds no group."""
    pattern = compile_group_regex(regex)
    return [it for it in items if group_of(it[0], pattern) is None]


def by_group(items, regex: str) -> list[tuple[str, list, list]]:
    """Leave-one-group-out split.

    Parameters
    ----------
    items : sequence of (path, word)
    regex : str
        Searched in each file name (not the folders); its first capture
        group names the item's group.  Items it does not match are in no
        fold (see :func:`ungrouped`).

    Returns
    -------
    list of (name, train_items, test_items)
        One fold per group, sorted by group name: test on that group,
        train on all the other grouped items.  Item lists keep input order.
    """
    pattern = compile_group_regex(regex)
    grouped = [(it, group_of(it[0], pattern)) for it in items]
    grouped = [(it, g) for it, g in grouped if g is not None]
    names = sorted({g for _, g in grouped})
    if len(names) < 2:
        found = f"only group {names[0]!r}" if names else "no file name matching it"
        raise WordrecError(f"--group-by {regex!r}: found {found}; leaving one group out needs at least two groups")
    return [
        (name, [it for it, g in grouped if g != name], [it for it, g in grouped if g == name])
        for name in names
    ]


@dataclass(frozen=True)
class Scorer:
    """A trained recogniser: its words and a function scoring recordings.

    ``score(feats)`` takes a list of ``(n_frames, n_features)`` arrays and
    returns log-likelihoods of shape ``(n_recordings, len(words))``
    (``-inf`` where a word cannot explain a recording).
    """

    words: tuple
    score: Callable


def wordrec_trainer(feature_cfg, train_cfg, jobs: int = 1, adapt=None) -> Callable:
    """A trainer for :func:`run` that fits wordrec's GMM-HMMs (:func:`wordrec.core.train.fit_all`).

    With ``adapt`` (a :class:`wordrec.core.adapt.AdaptConfig`), the models are
    adapted to each fold's test files as one batch before they answer
    (:func:`wordrec.core.adapt.adapt_unsupervised`): with folds by speaker, that
    is unsupervised adaptation to each held-out speaker.
    """
    def fit(by_word: dict) -> Scorer:
        models = fit_all(by_word, feature_cfg, train_cfg, jobs=jobs)

        def scores(feats):
            out = score(models, feats)
            return adapt_unsupervised(models, feats, out, adapt).scores if adapt is not None else out

        return Scorer(tuple(models.words), scores)

    return fit


def featurise(items, feature_cfg, progress=None, jobs: int = 1, noise=None) -> tuple[dict, list, dict]:
    """Features of every distinct file, computed once (in ``jobs`` worker processes).

    Returns
    -------
    feats : dict of str (path) -> ndarray (n_frames, n_features)
    failures : list of pipeline.Failure
    copies : dict of str (path) -> ndarray
        Features of the noisy copies ``noise`` picked
        (:class:`wordrec.core.augment.NoiseCopies`; empty without it).
    """
    paths = list(dict.fromkeys(str(p) for p, _ in items))
    feats, failures, copies = {}, [], {}
    for p, f in zip(paths, extract_files(paths, feature_cfg, progress, labelled=True, jobs=jobs, noise=noise)):
        if not isinstance(f, Failure):  # the same files as 'wordrec train' leaves out
            f = too_short_to_train(p, f[0] if isinstance(f, tuple) else f, feature_cfg) or f
        if isinstance(f, Failure):
            failures.append(f)
        elif isinstance(f, tuple):
            feats[p], copies[p] = f
        else:
            feats[p] = f
    return feats, failures, copies


def run(folds, feats: dict, trainer: Callable, progress=None, copies: dict | None = None) -> tuple[dict, list]:
    """Train and test every fold; pool the results.

    Parameters
    ----------
    folds : list of (name, train_items, test_items)
    feats : dict of str (path) -> ndarray (n_frames, n_features)
        Files missing from it (they failed to read) are left out.
    trainer : callable
        ``{word: [features]} -> Scorer``, e.g. :func:`wordrec_trainer`.
    progress : callable, optional
        Called with the fold name after each fold.
    copies : dict of str (path) -> ndarray, optional
        Noisy copies of training files, added to a fold's training data
        after its recordings (as ``wordrec train`` does).

    Returns
    -------
    result : dict
        The pooled :func:`wordrec.core.metrics.report` over all tested files,
        plus ``folds`` (list of {name, n_files, n_correct, accuracy,
        missing_words}; accuracy is None for a fold left with no usable
        file), ``mean_accuracy`` and ``worst_accuracy`` (unweighted, over
        folds with files).
    failures : list of pipeline.Failure
        Test files no trained word could explain (too short).
    """
    truth, predicted, names, fold_rows, failures = [], [], [], [], []
    all_words: set = set()
    for name, train_items, test_items in folds:
        by_word: dict = {}
        for p, w in train_items:
            if str(p) in feats:
                by_word.setdefault(w, []).append(feats[str(p)])
        if not by_word:
            raise WordrecError(f"fold {name}: no usable recordings to train on")
        for p, w in train_items:
            if copies and str(p) in copies:
                by_word[w].append(copies[str(p)])
        scorer = trainer(by_word)
        tested = [(str(p), w) for p, w in test_items if str(p) in feats]
        scores = scorer.score([feats[p] for p, _ in tested]) if tested else np.zeros((0, len(scorer.words)))
        n_files = n_correct = 0
        for (p, w), row in zip(tested, scores):
            ranked = rank(row, scorer.words, 1)
            if not ranked.words:
                failures.append(Failure(p, f"{p}: no word model of fold {name} can explain it (too short?)"))
                continue
            truth.append(w)
            predicted.append(ranked.best)
            names.append(p)
            n_files += 1
            n_correct += ranked.best == w
        all_words |= set(by_word) | {w for _, w in test_items}
        fold_rows.append(
            {
                "name": name,
                "n_files": n_files,
                "n_correct": int(n_correct),
                "accuracy": n_correct / n_files if n_files else None,
                "missing_words": sorted({w for _, w in test_items} - set(by_word)),
            }
        )
        if progress:
            progress(name)
    result = report(truth, predicted, sorted(all_words), names)
    accs = [f["accuracy"] for f in fold_rows if f["accuracy"] is not None]
    result["folds"] = fold_rows
    result["mean_accuracy"] = float(np.mean(accs)) if accs else None
    result["worst_accuracy"] = min(accs) if accs else None
    result["n_failed"] = len(failures)
    return result, failures


def cross_validate(folds, feature_cfg, train_cfg, jobs: int = 1, progress=None, fold_progress=None, adapt=None):
    """Featurise every file of ``folds`` once and run wordrec on them.

    Parameters
    ----------
    folds : list of (name, train_items, test_items)
        From :func:`kfold` or :func:`by_group`.
    feature_cfg : FeatureConfig
    train_cfg : TrainConfig
    jobs : int
        Worker processes for featurising and training (results do not depend on it).
    adapt : wordrec.core.adapt.AdaptConfig, optional
        Adapt the models to each fold's test files (see :func:`wordrec_trainer`).
    progress, fold_progress : callable, optional
        Called with the number of files featurised / the name of each fold done.

    Returns
    -------
    result : dict
        As :func:`run`.
    failures : list of pipeline.Failure
        Unreadable files, then files no model could explain.
    """
    items = [it for _, train, test in folds for it in (*test, *train)]
    feats, unreadable, copies = featurise(items, feature_cfg, progress, jobs, NoiseCopies.of(train_cfg))
    result, failures = run(folds, feats, wordrec_trainer(feature_cfg, train_cfg, jobs, adapt), fold_progress, copies)
    failures = unreadable + failures
    result["n_failed"] = len(failures)
    return result, failures
