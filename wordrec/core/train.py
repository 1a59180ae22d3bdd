"""Training: initialisation, mixture splitting and Baum-Welch EM with floors.

Each word is fitted independently on all of its recordings at once: the
forward-backward pass runs over the whole batch of that word's recordings,
and the M-step is a pair of matrix products over all their frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from wordrec.core.baumwelch import InMemory, accumulate, batches_of, em_chunks, maximise
from wordrec.core.gmm import safe_log, state_log_densities
from wordrec.core.hmm import Batch, log_likelihood
from wordrec.core.model import Outlier, WordModel
from wordrec.errors import WordrecError, check_settings

TOPOLOGIES = ("left-to-right", "ergodic")
#: Frames of one E-step batch at most (about 1.5 kB of working memory a
#: frame while it runs): a word with more is trained in chunks of
#: recordings.  A constant, not a share of the memory, so that the cut, and
#: with it the model, is the same on any machine with any number of workers.
EM_CHUNK_FRAMES = 65_536


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; stored in the model file for the record.

    Attributes
    ----------
    n_states : int
        Emitting states per word (the most, with ``state_frames``).
    state_frames : float
        If positive, each word gets one state per this many frames of its
        median recording (at least 2, at most ``n_states``), so short words
        get short models and long words long ones.  0: every word gets
        ``n_states``.
    n_mix : int
        Gaussians per state at the end; grown 1 -> 2 -> 4 ... by splitting
        the heaviest component of every state.  8 states x 3 Gaussians with
        noisy copies down to 5 dB below the speech: docs/accuracy.md.
    topology : str
        ``"left-to-right"`` (no skips; start in the first state, end in the
        last) or ``"ergodic"`` (any state to any state, start and end anywhere).
    max_iter : int
        EM iterations at most at the final mixture size.
    grow_iter : int
        EM iterations at most at each smaller size on the way, never more
        than ``max_iter`` (0: ``max_iter``): the intermediate sizes only
        need to be good starting points.
    tol : float
        Stop a mixture size when the relative gain of the training
        log-likelihood falls below this (0 runs all ``max_iter``).
    var_floor : float
        Variances never fall below this ratio times the global per-dimension
        variance of the training frames; applied in every M-step.
    weight_floor : float
        Mixture weights never fall below this.
    min_occupancy : float
        A Gaussian that explains fewer frames than this keeps its previous
        mean and variance instead of being re-estimated from almost nothing.
    split_offset : float
        A split Gaussian's two means sit this many standard deviations apart
        from the original, one on each side.
    seed : int
        Seed for everything random in training.
    noise_copies : float
        Share of the training recordings that also go into the word models
        with white or pink noise added (:mod:`wordrec.core.augment`); 0 turns
        it off.  The background model and the calibration folds use the
        recordings as they are.
    noise_snr_low, noise_snr_high : float
        The noise is this many dB (drawn uniformly) below each recording.
        5-30 dB: see ``n_mix``.
    outlier_weight : float
        Weight of the broad Gaussian that every state's mixture shares
        (:class:`wordrec.core.model.Outlier`; 0 turns it off).  It is added
        after EM, for recognition: a frame that no state of a word explains
        then costs every word about the same (docs/design.md; what it buys:
        docs/accuracy.md).
    outlier_scale : float
        Its variance is this times the per-dimension variance of all
        training frames; its mean is their mean.
    """

    n_states: int = 8
    state_frames: float = 0.0
    n_mix: int = 3
    topology: str = "left-to-right"
    max_iter: int = 14
    grow_iter: int = 8
    tol: float = 1e-3
    var_floor: float = 0.01
    weight_floor: float = 1e-4
    min_occupancy: float = 2.0
    split_offset: float = 0.2
    seed: int = 0
    noise_copies: float = 0.25
    noise_snr_low: float = 5.0
    noise_snr_high: float = 30.0
    outlier_weight: float = 1e-4
    outlier_scale: float = 4.0

    def validated(self) -> "TrainConfig":
        checks = [
            ("n_states", 1 <= self.n_states <= 100),
            ("state_frames", 0.0 <= self.state_frames <= 1000.0),
            ("n_mix", 1 <= self.n_mix <= 256),
            ("topology", self.topology in TOPOLOGIES),
            ("max_iter", 0 <= self.max_iter <= 10000),
            ("grow_iter", 0 <= self.grow_iter <= 10000),
            ("tol", 0.0 <= self.tol < 1.0),
            ("var_floor", 0.0 < self.var_floor < 1.0),
            ("weight_floor", 0.0 < self.weight_floor * self.n_mix < 1.0),
            ("min_occupancy", self.min_occupancy >= 0.0),
            ("split_offset", 0.0 < self.split_offset <= 2.0),
            ("noise_copies", 0.0 <= self.noise_copies <= 1.0),
            ("noise_snr_high", -20.0 <= self.noise_snr_low <= self.noise_snr_high <= 100.0),
            ("outlier_weight", 0.0 <= self.outlier_weight < 0.5),
            ("outlier_scale", 0.01 <= self.outlier_scale <= 1e4),
        ]
        check_settings(self, checks, "training setting {name} = {value!r} is out of range")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def states_for(lengths: np.ndarray, cfg: TrainConfig) -> int:
    """States of a word model whose recordings have these frame counts."""
    if cfg.state_frames <= 0:
        return cfg.n_states
    return int(np.clip(round(float(np.median(lengths)) / cfg.state_frames), 2, cfg.n_states))


def iterations(cfg: TrainConfig, size: int) -> int:
    """EM iterations at most at mixture size ``size``."""
    if size >= cfg.n_mix or cfg.grow_iter == 0:
        return cfg.max_iter
    return min(cfg.grow_iter, cfg.max_iter)


def mixture_schedule(n_mix: int) -> list[int]:
    """Mixture sizes trained in turn: powers of two below ``n_mix``, then ``n_mix``."""
    sizes = [1]
    while sizes[-1] * 2 < n_mix:
        sizes.append(sizes[-1] * 2)
    if sizes[-1] != n_mix:
        sizes.append(n_mix)
    return sizes


def topology(n_states: int, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Allowed starts, transitions and final states: ``(start, trans, final)`` as bools."""
    if kind == "ergodic":
        return np.ones(n_states, bool), np.ones((n_states, n_states), bool), np.ones(n_states, bool)
    start = np.zeros(n_states, bool)
    start[0] = True
    trans = np.eye(n_states, dtype=bool) | np.eye(n_states, k=1, dtype=bool)
    final = np.zeros(n_states, bool)
    final[-1] = True
    return start, trans, final


def uniform_segments(lengths: np.ndarray, n_states: int) -> np.ndarray:
    """State of every frame when each sequence is cut into equal parts: ``(total_frames,)``."""
    pos = np.concatenate([np.arange(n) / n for n in lengths])
    return np.minimum((pos * n_states).astype(np.int64), n_states - 1)


@dataclass
class _Params:
    start: np.ndarray  # (S,)
    trans: np.ndarray  # (S, S)
    final: np.ndarray  # (S,) bool
    weights: np.ndarray  # (S, M)
    means: np.ndarray  # (S, M, D)
    variances: np.ndarray  # (S, M, D)

    def model(self, word: str) -> WordModel:
        return WordModel(word, self.start, self.trans, self.final, self.weights, self.means, self.variances)


def segment_sums(X: np.ndarray, lengths: np.ndarray, n_states: int) -> tuple[np.ndarray, ...]:
    """Frames, sums and sums of squares per state of a uniform segmentation, and over all frames.

    ``X`` ``(total_frames, n_features)``: sequences of ``lengths`` stacked.
    Returns ``(counts (S,), sums (S, D), squares (S, D), total (D,), total_squares (D,))``;
    they add up over batches of recordings.
    """
    seg = uniform_segments(lengths, n_states)
    counts = np.bincount(seg, minlength=n_states).astype(float)
    # Per-state sums as one product with a 0/1 matrix (np.add.at is slow).
    member = np.zeros((n_states, len(seg)))
    member[seg, np.arange(len(seg))] = 1.0
    return counts, member @ X, member @ (X * X), X.sum(axis=0), (X * X).sum(axis=0)


def _initial(sums, n_recordings: int, n_states: int, cfg: TrainConfig, floor: np.ndarray) -> _Params:
    """One Gaussian per state from a uniform segmentation (:func:`segment_sums` of all
    recordings); transitions from the segment lengths."""
    start_ok, _, final = topology(n_states, cfg.topology)
    counts, sx, sxx, total, total_sq = sums
    safe = np.maximum(counts, 1.0)[:, None]
    means = sx / safe
    variances = np.maximum(sxx / safe - means**2, floor)
    empty = counts == 0  # more states than frames: borrow the global statistics
    if empty.any():
        n = max(1.0, counts.sum())
        means[empty] = total / n
        variances[empty] = np.maximum(total_sq / n - (total / n) ** 2, floor)
    if cfg.topology == "ergodic":
        trans = np.full((n_states, n_states), 1.0 / n_states)
        start = np.full(n_states, 1.0 / n_states)
    else:
        # Expected stay probability for the average segment length.
        stay = np.clip(1.0 - n_recordings / np.maximum(counts, 1.0), 0.1, 0.95)
        trans = np.zeros((n_states, n_states))
        trans[np.arange(n_states), np.arange(n_states)] = stay
        trans[np.arange(n_states - 1), np.arange(1, n_states)] = 1.0 - stay[:-1]
        trans[-1, -1] = 1.0
        start = start_ok.astype(float)
    return _Params(start, trans, final, np.ones((n_states, 1)), means[:, None, :], variances[:, None, :])


def split_heaviest(p: _Params, n_mix: int, offset: float) -> _Params:
    """Grow every state to ``n_mix`` Gaussians by repeatedly splitting its heaviest one."""
    weights, means, variances = p.weights, p.means, p.variances
    rows = np.arange(len(weights))
    while weights.shape[1] < n_mix:
        k = np.argmax(weights, axis=1)
        half = weights[rows, k] / 2.0
        shift = offset * np.sqrt(variances[rows, k])
        weights = np.concatenate([weights, half[:, None]], axis=1)
        weights[rows, k] = half
        means = np.concatenate([means, (means[rows, k] + shift)[:, None]], axis=1)
        means[rows, k] = means[rows, k] - shift
        variances = np.concatenate([variances, variances[rows, k][:, None]], axis=1)
    return dataclasses.replace(p, weights=weights, means=means, variances=variances)


def em_step(p: _Params, X, XX, batch: Batch, cfg: TrainConfig, floor) -> tuple[_Params, float]:
    """One Baum-Welch iteration over one batch (:mod:`wordrec.core.baumwelch`).

    Returns
    -------
    params : _Params
        Re-estimated parameters.
    log_lik : float
        Total log-likelihood of the batch under the *input* parameters.
    """
    stats = accumulate(p, XX, batch)
    return maximise(p, stats, cfg, floor), stats.log_lik


def fit_word(word: str, seqs, cfg: TrainConfig, floor: np.ndarray, *, grow_mix: bool = True) -> tuple[WordModel, dict]:
    """Train one word's GMM-HMM on all its recordings.

    Parameters
    ----------
    word : str
    seqs : list of ndarray, each shape (n_frames, n_features), or a source
        Anything with ``lengths`` (frames of every recording) and
        ``load(index) -> list of ndarray`` (:class:`InMemory`; recordings on
        disk, :mod:`wordrec.jobs.store`).  A word of more than
        ``EM_CHUNK_FRAMES`` frames is trained in chunks of recordings
        (:mod:`wordrec.core.baumwelch`), read again at every iteration.
    cfg : TrainConfig
    floor : ndarray, shape (n_features,)
        Absolute variance floor.
    grow_mix : bool
        True (the default): grow the Gaussians 1 -> 2 -> 4 ... -> ``cfg.n_mix``
        by splitting, with EM at every size.  False: split straight to
        ``cfg.n_mix`` and run EM at that size only, as toolkits without a
        splitting schedule do (``bench/speed.py`` uses it to give wordrec
        and hmmlearn the same work).

    Returns
    -------
    model : WordModel
    diagnostics : dict
        ``n_recordings``, ``n_frames``, ``n_states``, ``n_too_short``,
        ``log_lik`` (per mixture size, the total training log-likelihood
        before each iteration and, last, after the final one; EM never
        lowers it within a mixture size), ``log_lik_per_frame`` (final).
    """
    source = seqs if hasattr(seqs, "load") else InMemory(seqs)
    if not len(source):
        raise WordrecError(f"word {word!r}: no recordings to train on")
    all_lengths = np.asarray(source.lengths)
    n_states = states_for(all_lengths, cfg)
    if cfg.topology == "left-to-right":
        # Without skips a recording needs a frame per state.  If most are
        # shorter than that, the word gets fewer states instead.
        n_states = int(min(n_states, max(1, np.median(all_lengths))))
    usable = np.flatnonzero((all_lengths >= n_states) | (cfg.topology == "ergodic"))
    lengths = all_lengths[usable]
    chunks = em_chunks(all_lengths, usable, EM_CHUNK_FRAMES)
    # One chunk (every word of a usual corpus) is read once and kept; more
    # are read again at every iteration, so that memory stays bounded.
    kept = list(batches_of(source, chunks)) if len(chunks) == 1 else None

    def batches():
        return kept if kept is not None else batches_of(source, chunks)

    sums = None
    for batch, X, _ in batches():
        part = segment_sums(X, batch.lengths, n_states)
        sums = part if sums is None else tuple(a + b for a, b in zip(sums, part))
    p = _initial(sums, len(usable), n_states, cfg, floor)
    history: list[list[float]] = []
    for size in mixture_schedule(cfg.n_mix) if grow_mix else [cfg.n_mix]:
        p = split_heaviest(p, size, cfg.split_offset)
        history.append([])
        previous = None
        for _ in range(iterations(cfg, size)):
            stats = None
            for batch, _, XX in batches():
                part = accumulate(p, XX, batch)
                stats = part if stats is None else stats + part
            p, ll = maximise(p, stats, cfg, floor), stats.log_lik
            history[-1].append(ll)
            if previous is not None and cfg.tol > 0 and (ll - previous) <= cfg.tol * abs(previous):
                break
            previous = ll
    final_ll = sum(_total_log_lik(p, XX, batch) for batch, _, XX in batches())
    history[-1].append(final_ll)
    diagnostics = {
        "n_recordings": len(source),
        "n_too_short": len(source) - len(usable),
        "n_frames": int(lengths.sum()),
        "n_states": n_states,
        "log_lik": history,
        "log_lik_per_frame": final_ll / max(1, int(lengths.sum())),
    }
    return p.model(word), diagnostics


def _total_log_lik(p: _Params, XX, batch: Batch) -> float:
    log_b, _ = state_log_densities(XX, safe_log(p.weights), p.means, p.variances)
    ll = log_likelihood(log_b, batch, safe_log(p.start), safe_log(p.trans), np.where(p.final, 0.0, -np.inf))
    return float(ll[np.isfinite(ll)].sum())


def variance_floor(all_seqs, ratio: float) -> np.ndarray:
    """``ratio`` times the per-dimension variance of all frames: shape (n_features,).

    A dimension that never varies still gets a floor relative to its
    magnitude, so the log densities keep their precision.
    """
    return ratio * frame_moments(all_seqs)[1]


def frame_moments(all_seqs) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and variance of all frames, the variance kept off zero (see :func:`variance_floor`)."""
    X = np.concatenate(all_seqs, axis=0)
    # Two sums in one pass each; X.var would make three passes and a copy.
    mean = X.sum(axis=0) / len(X)
    mean_sq = np.einsum("ij,ij->j", X, X) / len(X)
    scale = np.maximum(1e-4 * mean_sq, 1e-12)
    return mean, np.maximum(mean_sq - mean * mean, scale)


def outlier_component(mean: np.ndarray, variance: np.ndarray, cfg: TrainConfig) -> Outlier | None:
    """The :class:`wordrec.core.model.Outlier` of training frames with these moments (None when turned off)."""
    if cfg.outlier_weight <= 0:
        return None
    return Outlier(cfg.outlier_weight, mean, cfg.outlier_scale * variance)
