"""What a model file holds, as frozen data classes: word models, the outlier component, model sets.

Pure data and the arithmetic the data defines (log parameters, allowed
jumps, the fewest frames a model needs); reading and writing model files is
:mod:`wordrec.io.modelfile`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wordrec.core.features import FeatureConfig
from wordrec.core.gmm import component_log_densities, safe_log
from wordrec.core.labels import SILENCE, UNKNOWN  # noqa: F401 (re-exported: the answers that are not words)

FORMAT = "wordrec-model"
VERSION = 1


@dataclass(frozen=True)
class WordModel:
    """One word's HMM with Gaussian-mixture states.

    Attributes
    ----------
    word : str
    startprob : ndarray, shape (n_states,)
    transmat : ndarray, shape (n_states, n_states)
        Rows sum to one; ``transmat[i, j]`` = P(j at t+1 | i at t).
    final : ndarray of bool, shape (n_states,)
        States a recording may end in.
    weights : ndarray, shape (n_states, n_mix)
    means, variances : ndarray, shape (n_states, n_mix, n_features)
    """

    word: str
    startprob: np.ndarray
    transmat: np.ndarray
    final: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    @property
    def n_states(self) -> int:
        return self.means.shape[0]

    @property
    def n_mix(self) -> int:
        return self.means.shape[1]

    @property
    def log_start(self) -> np.ndarray:
        return safe_log(self.startprob)

    @property
    def log_trans(self) -> np.ndarray:
        return safe_log(self.transmat)

    @property
    def log_end(self) -> np.ndarray:
        return np.where(self.final, 0.0, -np.inf)

    @property
    def log_weights(self) -> np.ndarray:
        return safe_log(self.weights)

    def jumps(self) -> tuple:
        """The distinct jumps ``j - i`` of the transitions allowed (``transmat[i, j] > 0``), ascending.

        ``(0, 1)`` for a left-to-right model.  The forward pass costs every
        state one step per jump per frame.
        """
        rows, cols = np.nonzero(self.transmat > 0)
        return tuple(np.unique(cols - rows).tolist())

    def min_frames(self) -> int:
        """Fewest frames a recording needs to have a path through the model."""
        allowed = self.transmat > 0
        reach = self.startprob > 0
        for n in range(1, self.n_states + 2):
            if np.any(reach & self.final):
                return n
            reach = (reach[:, None] & allowed).any(axis=0)
        return self.n_states + 1

    def to_dict(self) -> dict:
        return {
            "word": self.word,
            "n_states": self.n_states,
            "n_mix": self.n_mix,
            "startprob": self.startprob.tolist(),
            "transmat": self.transmat.tolist(),
            "final": [bool(x) for x in self.final],
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "variances": self.variances.tolist(),
        }


@dataclass(frozen=True)
class Outlier:
    """A broad Gaussian that every state's mixture shares, with a small fixed weight.

    Each state emits ``(1 - weight) * (its own mixture) + weight * N(x;
    mean, variance)``, so the models stay GMM-HMMs and scores stay forward
    log-likelihoods.  A frame that no state of a word explains (a click, a
    dropout, a sound the training speakers never made) then costs that word
    at most about ``log(weight) + log N(x; mean, variance)`` instead of an
    unbounded penalty, and the other frames decide.  Training sets it from
    the mean and (scaled) variance of all training frames; EM does not see
    it.

    Attributes
    ----------
    weight : float
        In (0, 0.5).
    mean, variance : ndarray, shape (n_features,)
    """

    weight: float
    mean: np.ndarray
    variance: np.ndarray

    def log_density(self, XX: np.ndarray) -> np.ndarray:
        """``log(weight) + log N(x; mean, variance)`` of every frame of ``design(X)``: ``(n_frames,)``."""
        return np.log(self.weight) + component_log_densities(XX, self.mean[None], self.variance[None])[0]

    def mix_into(self, log_b: np.ndarray, XX: np.ndarray, log_density: np.ndarray | None = None) -> np.ndarray:
        """State log densities ``(n_states, n_frames)`` with this component added, in place.

        ``log_density``: :meth:`log_density` of ``XX`` if already computed.
        """
        log_b += np.log1p(-self.weight)
        np.logaddexp(log_b, (self.log_density(XX) if log_density is None else log_density)[None, :], out=log_b)
        return log_b

    def to_dict(self) -> dict:
        return {"weight": self.weight, "mean": self.mean.tolist(), "variance": self.variance.tolist()}


@dataclass(frozen=True)
class ModelSet:
    """Everything a model file holds.

    Attributes
    ----------
    features : FeatureConfig
        The front end the models were trained with; recognition uses it.
    models : tuple of WordModel
        Sorted by word.
    training : dict
        The training settings (for the record).
    diagnostics : dict
        Per word: recordings, frames, log-likelihood per iteration, ...
    background : WordModel, optional
        One-state mixture trained on all words (generic speech), for the
        confidence of an answer.
    calibration : confidence.Calibration, optional
        How evidence maps to confidence, and the rejection threshold.
    outlier : Outlier, optional
        The component every state of every word shares (None in files
        written before it existed: scored without it).
    negatives : tuple of WordModel
        Taught false alarms (``wordrec adapt --negatives``): each a copy of
        the word model a recorded false alarm was taken for, its means moved
        to that recording (:func:`wordrec.core.openset.shadow_models`), named
        after that word.  A recording one of them explains better than any
        word gets confidence 0.  Empty in most models.
    """

    features: FeatureConfig
    models: tuple
    training: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    background: WordModel | None = None
    calibration: object = None  # confidence.Calibration, or None: never reject
    outlier: Outlier | None = None
    negatives: tuple = ()

    @property
    def words(self) -> list[str]:
        return [m.word for m in self.models]

    def to_dict(self) -> dict:
        out = {
            "format": FORMAT,
            "version": VERSION,
            "features": self.features.to_dict(),
            "training": self.training,
            "words": self.words,
            "models": [m.to_dict() for m in self.models],
            "diagnostics": self.diagnostics,
            "background": self.background.to_dict() if self.background is not None else None,
            "calibration": self.calibration.to_dict() if self.calibration is not None else None,
            "outlier": self.outlier.to_dict() if self.outlier is not None else None,
        }
        if self.negatives:  # files without taught false alarms stay as they were
            out["negatives"] = [m.to_dict() for m in self.negatives]
        return out
