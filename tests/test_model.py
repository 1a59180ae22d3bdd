import json
import pickle
import re

import numpy as np
import pytest

from wordrec.core import model
from wordrec.core.features import FeatureConfig
from wordrec.core.model import ModelSet, WordModel
from wordrec.errors import WordrecError
from wordrec.io import modelfile, validate


def _modelset(rng, words=("no", "yes"), S=3, M=2, D=39, outlier=True):
    models = []
    for w in words:
        t = np.diag(np.full(S, 0.6)) + np.diag(np.full(S - 1, 0.4), 1)
        t[-1, -1] = 1.0
        models.append(
            WordModel(
                w, np.eye(S)[0], t, np.arange(S) == S - 1, rng.dirichlet(np.ones(M), size=S),
                rng.normal(size=(S, M, D)), rng.uniform(0.1, 2.0, size=(S, M, D)),
            )
        )
    extra = model.Outlier(1e-4, rng.normal(size=D), rng.uniform(1.0, 4.0, size=D)) if outlier else None
    return ModelSet(FeatureConfig.for_rate(8000), tuple(models), {"config": {}}, {"words": {}}, outlier=extra)


def test_round_trip_is_exact_and_bytes_are_stable(rng, tmp_path):
    ms = _modelset(rng)
    path = tmp_path / "m.model"
    modelfile.save(ms, path)
    first = path.read_bytes()
    back = modelfile.load(path)
    for a, b in zip(ms.models, back.models):
        for key in ("startprob", "transmat", "final", "weights", "means", "variances"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert back.features == ms.features
    assert back.outlier.weight == ms.outlier.weight
    np.testing.assert_array_equal(back.outlier.mean, ms.outlier.mean)
    np.testing.assert_array_equal(back.outlier.variance, ms.outlier.variance)
    modelfile.save(back, path)
    assert path.read_bytes() == first
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def _tampered(rng, tmp_path, change):
    ms = _modelset(rng)
    data = json.loads(modelfile.dumps(ms))
    change(data)
    path = tmp_path / "bad.model"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["models"][0]["variances"][0][0].__setitem__(0, -1.0), "variances"),
        (lambda d: d["models"][1]["transmat"][0].__setitem__(0, 0.9), "transmat"),
        (lambda d: d["models"][0]["weights"].pop(), "weights"),
        (lambda d: d.__setitem__("version", 99), "newer"),
        (lambda d: d.__setitem__("format", "pickle"), "not a wordrec model"),
        (lambda d: d["features"].__setitem__("nfft", 3), "nfft"),
        (lambda d: d["models"][0].__setitem__("means", "x"), "means"),
        (lambda d: d.__setitem__("words", ["a", "b"]), "words"),
        (lambda d: d["outlier"].__setitem__("weight", 0.7), "outlier.weight"),
        (lambda d: d["outlier"].__setitem__("weight", "1e-4"), "outlier.weight"),
        (lambda d: d["outlier"]["variance"].__setitem__(3, 0.0), "outlier.variance"),
        (lambda d: d["outlier"]["mean"].pop(), "outlier.mean"),
        (lambda d: d.__setitem__("outlier", [1e-4]), "outlier"),
    ],
)
def test_tampered_files_are_refused_naming_the_field(rng, tmp_path, change, message):
    with pytest.raises(WordrecError, match=message):
        modelfile.load(_tampered(rng, tmp_path, change))


def test_a_model_from_before_endpointing_loads_and_does_not_trim(rng, tmp_path):
    def strip(d):
        for k in [k for k in d["features"] if k == "trim" or k.startswith("vad_")]:
            del d["features"][k]

    loaded = modelfile.load(_tampered(rng, tmp_path, strip))
    assert loaded.features.trim is False
    assert loaded.features.vad_margin == FeatureConfig.vad_margin
    # Any other missing field is still refused.
    with pytest.raises(WordrecError, match="missing field 'lifter'"):
        modelfile.load(_tampered(rng, tmp_path, lambda d: d["features"].pop("lifter")))


def test_a_model_from_before_the_outlier_component_loads_without_it(rng, tmp_path):
    loaded = modelfile.load(_tampered(rng, tmp_path, lambda d: d.pop("outlier")))
    assert loaded.outlier is None


def test_nan_in_a_model_file_is_refused(rng, tmp_path):
    path = tmp_path / "nan.model"
    text = modelfile.dumps(_modelset(rng))
    data = json.loads(text)
    data["models"][0]["means"][0][0][0] = "NAN_HERE"
    path.write_text(json.dumps(data).replace('"NAN_HERE"', "NaN"))
    with pytest.raises(WordrecError, match=r"models\[0\].*means.*NaN"):
        modelfile.load(path)


def test_pickle_payload_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.model"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(WordrecError):
        modelfile.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"   \n", b"{", b"hello", b"\x00\x01\x02", b"[1, 2]", b"{\"format\": \"wordrec-model\"}"])
def test_junk_files_are_refused(tmp_path, content):
    path = tmp_path / "junk.model"
    path.write_bytes(content)
    with pytest.raises(WordrecError, match="junk.model"):
        modelfile.load(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(WordrecError, match="no such model file"):
        modelfile.load(tmp_path / "nope.model")


@pytest.mark.parametrize(
    "key, value, field",
    [
        ("training", {"x": float("nan")}, "training.x"),
        ("diagnostics", {"words": {"no": {"log_lik": [[-1.0, float("-inf")]]}}}, "diagnostics.words.no.log_lik[0][1]"),
        ("training", {"adaptation": {"prior": 10}}, "training.adaptation"),
    ],
)
def test_a_record_that_cannot_be_written_as_json_is_refused_on_save(rng, tmp_path, key, value, field):
    """Before, json.dumps raised ValueError (a traceback) or 'wordrec adapt' appended to a non-list."""
    import dataclasses

    out = tmp_path / "m.model"
    with pytest.raises(WordrecError, match=rf"not written, the model is invalid: field '{re.escape(field)}'"):
        modelfile.save(dataclasses.replace(_modelset(rng), **{key: value}), out)
    assert not out.exists()


def test_deeply_nested_metadata_is_walked_and_named_briefly(rng, tmp_path):
    nested = float("inf")
    for _ in range(500):
        nested = [nested]
    path = _tampered(rng, tmp_path, lambda d: None)
    text = path.read_text().replace('"training": {', '"training": {"deep": ' + json.dumps(nested) + ", ", 1)
    path.write_text(text.replace("Infinity", "1e400"))
    with pytest.raises(WordrecError) as caught:
        modelfile.load(path)
    message = str(caught.value)
    assert re.search(r"field 'training\.deep\[0\]\[0\].*\.\.\..*\[0\]': Infinity is not a finite number$", message)
    assert len(message) < 200


@pytest.mark.parametrize(
    "word, problem",
    [
        ("yes", None),
        ("naïve", None),
        ("数字", None),
        ("two words", None),
        ("<background>", None),
        ("<unknown>", "<unknown> is the answer for rejected recordings"),
        ("\x1b[31mRED\x1b[0m", r"control character '\x1b'"),
        ("a\tb", r"control character '\t'"),
        ("a\nb", r"control character '\n'"),
        ("a\x85b", r"control character '\x85'"),
        ("a\u2028b", r"line break '\u2028'"),
        ("a\ud800b", r"lone surrogate"),
        ("", "must be a non-empty string"),
        (None, "must be a non-empty string"),
        (5, "must be a non-empty string"),
    ],
)
def test_word_problem_names_what_makes_a_word_unusable(word, problem):
    found = validate.word_problem(word)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize("word", ["<unknown>", "\x1b[31mRED\x1b[0m", "a\u2029b", "a\ud800b"])
def test_a_model_file_with_an_unusable_word_is_refused(rng, tmp_path, word):
    def rename(d):
        d["models"][0]["word"] = word
        d["words"][0] = word

    with pytest.raises(WordrecError, match=r"field 'models\[0\]\.word': "):
        modelfile.load(_tampered(rng, tmp_path, rename))
