"""Impostors made from training recordings: unknown words in the known voices.

Calibration needs out-of-vocabulary examples, and a user who gives none
still has the training recordings.  Cut and rearranged, they make words
the vocabulary does not have, said by the voices it knows: the hard case
for rejection.  Everything here works on finished features (those of
:func:`wordrec.core.features.extract_many`), so no audio is read twice:

* a **splice** is the first part of one held-out recording followed by the
  last part of a recording of another word ("fi" + "ne" -> "fine");
* a **reversal** is a recording played backwards;
* a **cut** is the first or last part of a recording alone.

Per-utterance mean normalisation is undone on the parts and redone on the
new utterance, so a splice is normalised as a recording of it would be.
Deltas at a splice point are those of the parts (the true ones would
smooth the jump over two frames).  Measured on training data only (FSDD
train/ digits, every other recording held out, and the robot corpus's
training takes; see ``docs``): splices lowered false acceptances of unknown
words at the same false rejections; reversals and cuts did not, and cuts
made them worse, so only splices are made for vocabularies of two words
or more, and reversals and cuts only for a one-word vocabulary, which has
nothing to splice with.
"""

from __future__ import annotations

import numpy as np

from wordrec.core.features import FeatureConfig

#: Share of a recording a splice takes from its first word (and where, in
#: the second, its end part starts): drawn uniformly from this range.
SPLICE_RANGE = (0.35, 0.65)
#: Share of a recording a cut keeps.
CUT_RANGE = (0.4, 0.7)


def _shift_columns(cfg: FeatureConfig) -> slice:
    """Columns whose per-utterance mean normalisation can be undone (not the
    max-normalised energy, whose level is relative anyway)."""
    return slice(1 if cfg.energy_max_norm else 0, None)


def unnormalised(feats: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """``feats`` with the per-utterance mean subtraction undone, where it can be.

    Mean normalisation subtracted ``w`` times the utterance mean ``m``, so
    the features' mean is ``(1 - w) m`` and ``m`` is recovered from it
    (not for ``w = 1``, full normalisation, where the features are returned
    as they are; nor under variance normalisation).
    """
    x = np.array(feats, dtype=float)
    w = cfg.mean_norm_weight if cfg.mean_norm else 0.0
    if cfg.var_norm or w <= 0.0 or w >= 1.0:
        return x
    cols = _shift_columns(cfg)
    x[:, cols] += (w / (1.0 - w)) * x[:, cols].mean(axis=0)
    return x


def normalised(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The inverse of :func:`unnormalised` for a new utterance made of its frames."""
    y = np.array(x, dtype=float)
    w = cfg.mean_norm_weight if cfg.mean_norm else 0.0
    if not cfg.var_norm and 0.0 < w < 1.0:
        cols = _shift_columns(cfg)
        y[:, cols] -= w * y[:, cols].mean(axis=0)
    if cfg.energy_max_norm:
        y[:, 0] -= y[:, 0].max()
    return y


def reversal(feats: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The features of the recording played backwards: ``(n_frames, n_features)``.

    Frames in reverse order; first derivatives change sign, second ones do not.
    """
    x = np.array(feats[::-1], dtype=float)
    if cfg.delta_order >= 1:
        x[:, cfg.n_ceps : 2 * cfg.n_ceps] *= -1.0
    return x


def cut(feats: np.ndarray, cfg: FeatureConfig, keep: float, head: bool) -> np.ndarray:
    """The first (``head``) or last ``keep`` share of a recording, as an utterance of its own."""
    n = max(3, int(round(keep * len(feats))))
    x = unnormalised(feats, cfg)
    return normalised(x[:n] if head else x[-n:], cfg)


def splice(first: np.ndarray, second: np.ndarray, cfg: FeatureConfig, until: float, since: float) -> np.ndarray:
    """The first ``until`` share of ``first`` followed by ``second`` from its ``since`` share on."""
    a, b = unnormalised(first, cfg), unnormalised(second, cfg)
    head = a[: max(2, int(until * len(a)))]
    tail = b[min(len(b) - 2, int(since * len(b))) :]
    return normalised(np.concatenate([head, tail], axis=0), cfg)


def make(held_out, cfg: FeatureConfig, seed: int = 0) -> list[np.ndarray]:
    """Impostors from one fold's held-out ``(word index, features)`` pairs.

    With two words or more: one splice per recording, its second part from
    a random recording of another word.  With one word: one reversal and
    one cut (head or tail at random) per recording.  Deterministic for a
    given ``seed``.

    Returns
    -------
    list of ndarray (n_frames, n_features)
    """
    rng = np.random.default_rng(seed)
    by_word: dict = {}
    for j, f in held_out:
        by_word.setdefault(j, []).append(f)
    out = []
    for j, f in held_out:
        others = [k for k in sorted(by_word) if k != j]
        if others:
            k = others[int(rng.integers(len(others)))]
            g = by_word[k][int(rng.integers(len(by_word[k])))]
            out.append(splice(f, g, cfg, rng.uniform(*SPLICE_RANGE), rng.uniform(*SPLICE_RANGE)))
        else:
            out.append(reversal(f, cfg))
            out.append(cut(f, cfg, rng.uniform(*CUT_RANGE), bool(rng.random() < 0.5)))
    return out


def pieces(feats: np.ndarray, cfg: FeatureConfig, seconds: float = 1.0) -> list[np.ndarray]:
    """A long recording (of background noise, say) cut into utterances of about ``seconds``.

    A recording shorter than 1.5 pieces is returned whole; of a longer
    one, a rest shorter than half a piece is dropped.
    """
    n = max(1, int(round(seconds / cfg.win_step)))
    if len(feats) <= 1.5 * n:
        return [feats]
    x = unnormalised(feats, cfg)
    return [normalised(x[a : a + n], cfg) for a in range(0, len(x) - n // 2, n)]
