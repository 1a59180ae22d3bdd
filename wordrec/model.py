"""Word models, model sets, and writing the model file: versioned JSON, deterministic, atomic.

A model file is plain JSON (no pickle, nothing executable), written
atomically, with floats in their shortest round-trip form so that the same
model always gives the same bytes.  Reading it back, and the checks on it,
are :mod:`wordrec.loader`'s job.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wordrec.errors import WordrecError
from wordrec.features import FeatureConfig
from wordrec.gmm import component_log_densities, safe_log

FORMAT = "wordrec-model"
VERSION = 1
#: What recognition answers for a rejected recording; no word may be called so.
UNKNOWN = "<unknown>"


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
    """

    features: FeatureConfig
    models: tuple
    training: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    background: WordModel | None = None
    calibration: object = None  # confidence.Calibration, or None: never reject
    outlier: Outlier | None = None

    @property
    def words(self) -> list[str]:
        return [m.word for m in self.models]

    def to_dict(self) -> dict:
        return {
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


def dumps(models: ModelSet) -> str:
    """The model file's text (deterministic)."""
    from wordrec.loader import validate  # here: wordrec.loader imports this module

    validate(models)
    return json.dumps(models.to_dict(), sort_keys=True, allow_nan=False, separators=(",", ":")) + "\n"


def save(models: ModelSet, path) -> None:
    """Write a model file atomically: a temporary file in the same folder, then rename.

    The model is validated first, so an invalid model is never written.  An
    interrupted save leaves any earlier file at ``path`` untouched and no
    temporary file behind.
    """
    try:
        text = dumps(models)
    except WordrecError as exc:
        raise WordrecError(f"{path}: not written, the model is invalid: {exc}") from None
    write_atomic(path, text.encode("utf-8"))


def check_writable(path) -> None:
    """Raise WordrecError now if a model could not be saved to ``path`` later.

    Checks that ``path`` names a regular file or none (not a folder, a
    pipe, a device or a link to one, which a model would replace), that its
    folder exists and is writable; writes nothing.
    """
    if str(path).endswith(("/", os.sep)):  # Path() would drop the slash
        raise WordrecError(f"{path}: names a folder; give a model file name")
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    kind = _kind(path, target)
    if kind == "folder":
        raise WordrecError(f"{path}: is a folder; give a model file name")
    if kind == "other":  # a device, a pipe, or a link to one: never replaced by a model
        raise WordrecError(f"{path}: not a regular file; give a model file name")
    if _kind(path, folder) != "folder":
        raise WordrecError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise WordrecError(f"{path}: folder {folder} is not writable")


def _kind(path, p: Path) -> str | None:
    """"folder", "file" (regular), "other" or None (missing) for ``p``; WordrecError naming
    ``path`` when the system refuses to tell (no permission, name too long)."""
    try:
        mode = p.stat().st_mode
        return "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WordrecError(f"{path}: cannot write there ({exc.strerror or exc})") from None


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise WordrecError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WordrecError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WordrecError(f"{path}: cannot write ({exc.strerror})") from None
        raise


def _file_mode(target: Path) -> int:
    """Permissions for a new model file: an existing file's, else what the umask allows.

    (``mkstemp`` creates files readable by their owner only.)
    """
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# What reading and checking a model file offers, moved to wordrec.loader and
# still reachable here (model.load, from wordrec.model import validate, ...).
# Looked up on use: wordrec.loader imports this module.
_LOADER_NAMES = frozenset(
    """load loads from_dict validate word_problem number MAX_FILE_BYTES MAX_NFFT MAX_MAGNITUDE
    MIN_VARIANCE MAX_WORDS MAX_STATES MAX_MIX MAX_WORD_MOVES MAX_MOVES MAX_PARAMETERS""".split()
)


def __getattr__(name: str):
    if name in _LOADER_NAMES:
        from wordrec import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
