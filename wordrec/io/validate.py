"""Checks on a model file's content, which may be hostile: every field, every number, every cap.

All that stands between parsed JSON and a :class:`~wordrec.core.model.ModelSet`:
types, shapes, finite numbers, probabilities that sum to one, positive
variances, a path from start to end, and caps on sizes and magnitudes that
keep a tampered file from making scoring take minutes or overflow.  Every
refusal names the first bad field.  :func:`validate` also runs before a
model is written (:func:`wordrec.io.modelfile.save`).
"""

from __future__ import annotations

import numpy as np

from wordrec.core.confusable import FIELD as HELD_OUT
from wordrec.core.features import FeatureConfig
from wordrec.core.labels import word_problem
from wordrec.core.model import (
    FORMAT,
    VERSION,
    ModelSet,
    Outlier,
    WordModel,
)
from wordrec.core.openset import MAX_NEGATIVES
from wordrec.errors import WordrecError
from wordrec.io.json_numbers import MAX_MAGNITUDE, check_numbers
from wordrec.io.validate_calibration import calibration_from_dict
from wordrec.io.validate_held_out import check as check_held_out

_PROB_TOL = 1e-6
#: Largest FFT a model file may ask for (what a 25 ms window at the highest
#: training rate, 384 kHz, needs); a tampered file cannot demand more memory.
MAX_NFFT = 16384
#: Means and variances must lie within ``MAX_MAGNITUDE`` and above this: far
#: outside what a trained model holds, but safe from overflow in the log densities.
MIN_VARIANCE = 1e-30
#: Caps on a model's size.  Per word, far beyond what ``wordrec train`` makes
#: (at most 100 states and 256 Gaussians a state; an ergodic 100-state word
#: allows 19,900 moves); in all, what keeps scoring under about a second per
#: second of audio, where a file under MAX_FILE_BYTES could ask for hours.
#: Moves are states times the jumps their transitions allow
#: (:meth:`WordModel.jumps`: two a state for left-to-right words): the
#: forward pass costs about 20 ns and holds 8 bytes per move per frame.
#: Each number of the models' arrays costs about two operations a frame.
#: FSDD's ten words: 80 states, 19,000 numbers, 160 moves.
MAX_WORDS = 10_000
MAX_STATES = 1000
MAX_MIX = 1000
MAX_WORD_MOVES = 40_000
MAX_MOVES = 250_000
MAX_PARAMETERS = 10_000_000

def from_dict(data) -> ModelSet:
    """Build a :class:`ModelSet` from parsed JSON, validating every field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WordrecError(f"not a wordrec model file (format is not {FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WordrecError("field 'version': missing or not a positive integer")
    if version > VERSION:
        raise WordrecError(
            f"model format version {version} is newer than this wordrec reads ({VERSION}); upgrade wordrec"
        )
    for key in ("features", "models", "words"):
        if key not in data:
            raise WordrecError(f"field {key!r}: missing")
    for key, value in data.items():
        # The models' arrays are checked as arrays; training and diagnostics by validate().
        if key not in ("models", "background", "negatives", "training", "diagnostics"):
            check_numbers(value, key, MAX_MAGNITUDE)
    if not isinstance(data["features"], dict):
        raise WordrecError("field 'features': not an object")
    features = FeatureConfig.from_dict(data["features"])
    if features.nfft > MAX_NFFT:
        raise WordrecError(f"feature config: nfft = {features.nfft} is larger than {MAX_NFFT}")
    raw_models = data["models"]
    if not isinstance(raw_models, list) or not raw_models:
        raise WordrecError("field 'models': must be a non-empty list")
    if len(raw_models) > MAX_WORDS:
        raise WordrecError(f"field 'models': {len(raw_models)} words, more than {MAX_WORDS}")
    raw = [(m, f"models[{i}]") for i, m in enumerate(raw_models)]
    if data.get("background") is not None:
        raw.append((data["background"], "background"))
    raw_negatives = data.get("negatives") or []
    if not isinstance(raw_negatives, list) or len(raw_negatives) > MAX_NEGATIVES:
        raise WordrecError(f"field 'negatives': must be a list of at most {MAX_NEGATIVES} word models")
    raw += [(m, f"negatives[{i}]") for i, m in enumerate(raw_negatives)]
    dims = [_dims(obj, where) for obj, where in raw]
    # Before the arrays are read: an oversized file costs no more than its parsing.
    _check_parameters([(s, m, features.n_features) for s, m in dims])
    built = [_word_model(obj, where, s, m, features.n_features) for (obj, where), (s, m) in zip(raw, dims)]
    models = tuple(built[: len(raw_models)])
    words = [m.word for m in models]
    if data["words"] != words:
        raise WordrecError("field 'words': does not match the models' words")
    if len(set(words)) != len(words):
        raise WordrecError("field 'models': a word appears twice")
    training = data.get("training", {})
    diagnostics = data.get("diagnostics", {})
    background = built[len(raw_models)] if data.get("background") is not None else None
    negatives = tuple(built[len(built) - len(raw_negatives):]) if raw_negatives else ()
    calibration = None
    if data.get("calibration") is not None:
        calibration = calibration_from_dict(data["calibration"])
    outlier = None
    if data.get("outlier") is not None:
        outlier = _outlier(data["outlier"], features.n_features)
    result = ModelSet(features, models, training, diagnostics, background, calibration, outlier, negatives)
    validate(result)
    return result


def _array(obj: dict, key: str, where: str, shape: tuple) -> np.ndarray:
    """``obj[key]`` as a float array of ``shape``; only JSON numbers are accepted."""
    name = f"{where}.{key}"
    if key not in obj:
        raise WordrecError(f"field {name!r}: missing")
    try:
        # dtype=object keeps what JSON gave: numpy would turn "1.5" and true into numbers.
        cells = np.array(obj[key], dtype=object)
    except ValueError:
        raise WordrecError(f"field {name!r}: not an array of numbers (ragged)") from None
    if cells.shape != shape:
        raise WordrecError(f"field {name!r}: shape {cells.shape}, expected {shape}")
    if not all(type(x) in (int, float) for x in cells.flat):
        raise WordrecError(f"field {name!r}: not an array of numbers")
    try:
        return cells.astype(float)
    except OverflowError:
        raise WordrecError(f"field {name!r}: contains a number too large") from None


def _dims(obj, where: str) -> tuple[int, int]:
    """A word model's declared ``(n_states, n_mix)``, within the caps."""
    if not isinstance(obj, dict):
        raise WordrecError(f"field {where!r}: not an object")
    dims = []
    for key, cap in (("n_states", MAX_STATES), ("n_mix", MAX_MIX)):
        n = obj.get(key)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= cap:
            raise WordrecError(f"field '{where}.{key}': must be an integer from 1 to {cap}")
        dims.append(n)
    return dims[0], dims[1]


def _word_model(obj: dict, where: str, s: int, m: int, n_features: int) -> WordModel:
    word = obj.get("word")
    problem = word_problem(word)
    if problem:
        raise WordrecError(f"field '{where}.word': {problem}")
    final = obj.get("final")
    if not isinstance(final, list) or len(final) != s or not all(isinstance(x, bool) for x in final):
        raise WordrecError(f"field '{where}.final': must be a list of {s} booleans")
    return WordModel(
        word=word,
        startprob=_array(obj, "startprob", where, (s,)),
        transmat=_array(obj, "transmat", where, (s, s)),
        final=np.array(final, dtype=bool),
        weights=_array(obj, "weights", where, (s, m)),
        means=_array(obj, "means", where, (s, m, n_features)),
        variances=_array(obj, "variances", where, (s, m, n_features)),
    )


def _check_parameters(shapes) -> None:
    """Refuse models whose arrays hold more than MAX_PARAMETERS numbers in all.

    ``shapes``: ``(n_states, n_mix, n_features)`` of each model.
    """
    total = sum(s + s * s + s * m * (1 + 2 * d) for s, m, d in shapes)
    if total > MAX_PARAMETERS:
        raise WordrecError(
            f"field 'models': {total:,} numbers in the models' arrays, more than {MAX_PARAMETERS:,} (too slow to score)"
        )


def _check_size(models: ModelSet) -> None:
    """The caps on the numbers of words, states, Gaussians, parameters and moves (MAX_WORDS, ...)."""
    named = [(f"models[{i}]", wm) for i, wm in enumerate(models.models)]
    named += [("background", models.background)] if models.background is not None else []
    named += [(f"negatives[{i}]", wm) for i, wm in enumerate(models.negatives)]
    if len(models.models) > MAX_WORDS:
        raise WordrecError(f"field 'models': {len(models.models)} words, more than {MAX_WORDS}")
    if len(models.negatives) > MAX_NEGATIVES:
        raise WordrecError(f"field 'negatives': {len(models.negatives)} taught false alarms, more than {MAX_NEGATIVES}")
    for i, wm in enumerate(models.negatives):
        if wm.word not in models.words:
            raise WordrecError(f"field 'negatives[{i}].word': not one of the model's words (the one the false alarm was taken for)")
    for where, wm in named:
        for key, n, cap in (("n_states", wm.n_states, MAX_STATES), ("n_mix", wm.n_mix, MAX_MIX)):
            if n > cap:
                raise WordrecError(f"field '{where}.{key}': must be an integer from 1 to {cap}")
    _check_parameters([wm.means.shape for _, wm in named])
    moves = 0
    for where, wm in named:
        n = wm.n_states * len(wm.jumps())
        if n > MAX_WORD_MOVES:
            raise WordrecError(
                f"field '{where}.transmat': allows {n:,} moves a frame (states times jumps), "
                f"more than {MAX_WORD_MOVES:,} (too slow to score)"
            )
        moves += n
    if moves > MAX_MOVES:
        raise WordrecError(
            f"field 'models': the transitions allow {moves:,} moves a frame in all (states times jumps), "
            f"more than {MAX_MOVES:,} (too slow to score)"
        )


def _outlier(obj, n_features: int) -> Outlier:
    if not isinstance(obj, dict):
        raise WordrecError("field 'outlier': not an object")
    weight = obj.get("weight")
    if type(weight) not in (int, float) or not 0.0 < weight < 0.5:
        raise WordrecError("field 'outlier.weight': must be a number between 0 and 0.5")
    return Outlier(
        float(weight), _array(obj, "mean", "outlier", (n_features,)), _array(obj, "variance", "outlier", (n_features,))
    )


def validate(models: ModelSet) -> None:
    """Check the numbers of every word model and the record; raise WordrecError naming the field."""
    _check_record(models.training, models.diagnostics)
    check_held_out(models.diagnostics.get(HELD_OUT), models.words)
    _check_size(models)
    named = [(f"models[{i}] ({wm.word})", wm) for i, wm in enumerate(models.models)]
    if models.background is not None:
        named.append(("background", models.background))
    named += [(f"negatives[{i}] ({wm.word})", wm) for i, wm in enumerate(models.negatives)]
    for where, wm in named:
        for key in ("startprob", "transmat", "weights"):
            if not np.all(np.isfinite(getattr(wm, key))):
                raise WordrecError(f"{where}.{key}: contains NaN or infinite values")
        for key, arr in (("startprob", wm.startprob), ("transmat", wm.transmat), ("weights", wm.weights)):
            if np.any(arr < 0):
                raise WordrecError(f"{where}.{key}: contains a negative probability")
            if np.any(np.abs(arr.sum(axis=-1) - 1.0) > _PROB_TOL):
                raise WordrecError(f"{where}.{key}: probabilities do not sum to one")
        _check_gaussian(where, wm.means, wm.variances)
        if not np.any(wm.final):
            raise WordrecError(f"{where}.final: no state may end a recording")
        if wm.min_frames() > wm.n_states:
            raise WordrecError(f"{where}: no path from a start state to a final state")
    if models.outlier is not None:
        _check_gaussian("outlier", models.outlier.mean, models.outlier.variance, ("mean", "variance"))


def _check_record(training, diagnostics) -> None:
    """The free-form ``training`` and ``diagnostics`` objects: JSON that can be written back."""
    if not isinstance(training, dict) or not isinstance(diagnostics, dict):
        raise WordrecError("fields 'training' and 'diagnostics' must be objects")
    check_numbers(training, "training")
    check_numbers(diagnostics, "diagnostics")
    # wordrec adapt appends its record to this list.
    adaptation = training.get("adaptation", [])
    if not isinstance(adaptation, list) or not all(isinstance(a, dict) for a in adaptation):
        raise WordrecError("field 'training.adaptation': must be a list of objects, one per adaptation")


def _check_gaussian(where: str, means, variances, names=("means", "variances")) -> None:
    for key, arr in zip(names, (means, variances)):
        if not np.all(np.isfinite(arr)):
            raise WordrecError(f"{where}.{key}: contains NaN or infinite values")
    if np.any(variances <= 0):
        raise WordrecError(f"{where}.{names[1]}: contains a value that is not positive")
    if np.any(variances < MIN_VARIANCE) or np.any(variances > MAX_MAGNITUDE):
        raise WordrecError(f"{where}.{names[1]}: contains a value outside {MIN_VARIANCE:g} to {MAX_MAGNITUDE:g}")
    if np.any(np.abs(means) > MAX_MAGNITUDE):
        raise WordrecError(f"{where}.{names[0]}: contains a value beyond +-{MAX_MAGNITUDE:g}")
