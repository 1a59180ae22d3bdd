"""Property-based tests of the two readers of untrusted files: audio and model files.

Whatever the bytes, the result is either a valid value or a WordrecError:
never another exception, never a warning (warnings are errors under pytest),
never NaN.  Example counts are kept small so the suite stays fast.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import tone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wordrec.core.features import FeatureConfig, extract
from wordrec.core.model import ModelSet, WordModel
from wordrec.core.score import score
from wordrec.errors import WordrecError
from wordrec.io import audio, modelfile, validate

FAST = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

_WORK = Path(tempfile.mkdtemp(prefix="wordrec-properties-"))


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    import shutil

    shutil.rmtree(_WORK, ignore_errors=True)


# --- mutations --------------------------------------------------------------------------------


@st.composite
def mutated(draw, original: bytes, header: int = 64):
    """``original`` after 1-4 edits: byte changes (mostly in the header), cuts, insertions, deletions."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "set", "cut", "insert", "delete"]))
        if not data:
            data = bytearray(draw(st.binary(max_size=16)))
            continue
        limit = min(len(data), header) if draw(st.booleans()) else len(data)
        at = draw(st.integers(0, max(0, limit - 1)))
        if kind == "set":
            value = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]) | st.integers(0, 255))
            data[at] = value
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


# --- audio ----------------------------------------------------------------------------------


def _encode(signal, rate, **kw) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, signal, rate, **kw)
    return buf.getvalue()


_WORD = np.concatenate([tone([500], 0.1), tone([1200], 0.1)])
AUDIO = {
    "pcm16.wav": _encode(_WORD, 8000, format="WAV", subtype="PCM_16"),
    "float.wav": _encode(_WORD, 8000, format="WAV", subtype="FLOAT"),
    "double.wav": _encode(np.stack([_WORD, 0.5 * _WORD], axis=1), 16000, format="WAV", subtype="DOUBLE"),
    "u8.wav": _encode(_WORD, 11025, format="WAV", subtype="PCM_U8"),
    "p24.wav": _encode(np.tile(_WORD[:, None], (1, 3)), 8000, format="WAV", subtype="PCM_24"),
    "f.flac": _encode(_WORD, 8000, format="FLAC", subtype="PCM_16"),
    "v.ogg": _encode(_WORD, 8000, format="OGG", subtype="VORBIS"),
}


def _check_read(name: str, content: bytes) -> None:
    path = _WORK / name
    path.write_bytes(content)
    try:
        signal, rate = audio.read(path)
    except WordrecError as exc:
        assert str(exc).startswith(f"{path}: ")
        assert "\n" not in str(exc)
        return
    assert signal.ndim == 1 and signal.dtype == np.float64 and len(signal) >= 1
    assert np.all(np.isfinite(signal)) and np.all(np.abs(signal) <= 1.0)
    assert audio.MIN_RATE <= rate <= audio.MAX_RATE
    assert len(signal) <= audio.MAX_WORD_SECONDS * rate
    # And at the rate a model asks for: still finite.
    resampled, _ = audio.read(path, 8000)
    assert np.all(np.isfinite(resampled))


@settings(max_examples=60, **FAST)
@given(
    st.sampled_from(["x.wav", "x.flac", "x.ogg", "x.aiff"]),
    st.sampled_from([b"", b"RIFF\x00\x10\x00\x00WAVEfmt ", b"fLaC", b"OggS\x00\x02", b"FORM\x00\x00\x10\x00AIFF"]),
    st.binary(max_size=2048),
)
def test_random_bytes_read_as_audio_or_are_refused(name, magic, tail):
    _check_read(name, magic + tail)


@settings(max_examples=120, **FAST)
@given(st.sampled_from(sorted(AUDIO)).flatmap(lambda n: st.tuples(st.just(n), mutated(AUDIO[n]))))
def test_mutated_audio_files_read_or_are_refused(case):
    name, content = case
    _check_read(name, content)


def test_the_unmutated_audio_files_read():
    """The baseline the mutations start from."""
    for name, content in AUDIO.items():
        path = _WORK / name
        path.write_bytes(content)
        signal, rate = audio.read(path)
        assert len(signal) > 100


# --- model files ----------------------------------------------------------------------------


def _small_modelset() -> ModelSet:
    rng = np.random.default_rng(5)
    cfg = FeatureConfig.for_rate(8000)
    models = []
    for w in ("no", "yes"):
        s, m, d = 3, 2, cfg.n_features
        trans = np.diag(np.full(s, 0.7)) + np.diag(np.full(s - 1, 0.3), 1)
        trans[-1, -1] = 1.0
        models.append(
            WordModel(
                w, np.eye(s)[0], trans, np.arange(s) == s - 1, np.full((s, m), 1.0 / m),
                rng.normal(size=(s, m, d)), rng.uniform(0.5, 2.0, size=(s, m, d)),
            )
        )
    return ModelSet(cfg, tuple(models), {"config": {}}, {"words": {}})


MODEL_TEXT = modelfile.dumps(_small_modelset()).encode("utf-8")


def _check_model(raw: bytes) -> None:
    try:
        ms = modelfile.loads(raw)
    except WordrecError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    # Whatever loads must be usable: validate again, featurise, score without NaN.
    validate.validate(ms)
    feats = extract(np.concatenate([tone([500], 0.15, ms.features.sample_rate)] * 2), ms.features)
    scores = score(ms, [feats])
    assert scores.shape == (1, len(ms.models))
    assert not np.any(np.isnan(scores))


@settings(max_examples=60, **FAST)
@given(st.sampled_from([b"", b"{", b'{"format": "wordrec-model", "version": 1, ']), st.binary(max_size=512))
def test_random_bytes_load_as_a_model_or_are_refused(prefix, tail):
    _check_model(prefix + tail)


@settings(max_examples=60, **FAST)
@given(mutated(MODEL_TEXT, header=len(MODEL_TEXT)))
def test_byte_mutations_of_a_model_load_or_are_refused(raw):
    _check_model(raw)


def _paths(node, prefix=()):
    """Every position in a JSON tree, as a tuple of keys and indices."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


_TREE = json.loads(MODEL_TEXT)
_POSITIONS = [p for p in _paths(_TREE) if p]
# Positions of the things that matter most get drawn more often than the
# hundreds of individual means.
_FOCUS = [p for p in _POSITIONS if len(p) <= 3 or p[-1] in ("n_states", "n_mix", "final", "word")]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, -1, 0.0, 1e-320, 1e308, 10**400, "", "yes", "NaN"])
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, **FAST)
@given(st.lists(st.tuples(st.sampled_from(_POSITIONS) | st.sampled_from(_FOCUS), json_values | st.just("<delete>")), min_size=1, max_size=3))
def test_tree_mutations_of_a_model_load_or_are_refused(edits):
    tree = json.loads(MODEL_TEXT)
    for position, value in edits:
        parent = tree
        try:
            for key in position[:-1]:
                parent = parent[key]
            if value == "<delete>":
                del parent[position[-1]]
            else:
                parent[position[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this position
    _check_model(json.dumps(tree, allow_nan=True).encode("utf-8"))


def test_the_unmutated_model_loads_and_scores():
    _check_model(MODEL_TEXT)
    assert modelfile.loads(MODEL_TEXT).words == ["no", "yes"]
