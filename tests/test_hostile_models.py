"""Hostile model files: refused with a message naming the problem; nothing in them runs.

Every file is made here at test time, from a small model trained on the tone
corpus and then damaged, or from scratch (pickles, NumPy files).
"""

from __future__ import annotations

import json
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_tone_corpus, tone, write_wav
from synthetic import random_word

from wordrec.cli import cli
from wordrec.core import model
from wordrec.errors import WordrecError
from wordrec.io import modelfile, validate


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(model text, a recording to recognise) from a small trained model."""
    root = tmp_path_factory.mktemp("hostile_models")
    data = make_tone_corpus(root / "data", n_per_word=3)
    path = root / "tones.model"
    result = CliRunner().invoke(
        cli, ["train", str(data), "-o", str(path), "--states", "3", "--mix", "2", "-j", "1", "-q", "--no-reject"]
    )
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8"), data / "mid" / "mid_0.wav"


def _refused(path: Path, wav: Path, problem: str) -> str:
    """Load ``path`` directly and through the CLI; both must refuse it naming ``problem``."""
    with pytest.raises(WordrecError) as caught:
        modelfile.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(problem, message), message
    result = CliRunner().invoke(cli, ["recognize", "-m", str(path), str(wav)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""
    return message


# --- not a model at all ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", r"empty file, not a wordrec model"),
        (b" \n\t\n", r"empty file, not a wordrec model"),
        (b"hello, I am a text file\n", r"not a wordrec model file \(expected JSON\)"),
        (b"\x00\x01\x02\x03garbage", r"not a wordrec model file"),
        (b"[1, 2, 3]", r"not a wordrec model file \(expected JSON\)"),
        (b'{"format": "something-else", "version": 1}', r"not a wordrec model file \(format is not 'wordrec-model'\)"),
        (b'{"format": "wordrec-model"}', r"field 'version': missing"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", r"not a wordrec model file \(a WAV audio file"),
        (b"{" * 100_000, r"not a wordrec model file, or a damaged one \(bad JSON"),
        (b'{"format": "wordrec-model", "version": ' + b"9" * 5000 + b"}", r"bad JSON"),
    ],
    ids=["empty", "blank", "text", "binary", "JSON list", "other format", "no version", "audio", "deep", "huge int"],
)
def test_files_that_are_not_models_are_refused(trained, tmp_path, content, problem):
    path = tmp_path / "some.model"
    path.write_bytes(content)
    _refused(path, trained[1], problem)


def test_a_newer_format_version_is_refused_with_advice(trained, tmp_path):
    data = json.loads(trained[0])
    data["version"] = 2
    path = tmp_path / "future.model"
    path.write_text(json.dumps(data))
    _refused(path, trained[1], r"model format version 2 is newer than this wordrec reads \(1\); upgrade wordrec")


@pytest.mark.parametrize("fraction", [0.0005, 0.1, 0.5, 0.999])
def test_a_truncated_model_is_refused(trained, tmp_path, fraction):
    text = trained[0].encode("utf-8")
    path = tmp_path / "cut.model"
    path.write_bytes(text[: int(len(text) * fraction)])
    _refused(path, trained[1], r"not a wordrec model file, or a damaged one \(bad JSON")


def test_a_directory_or_missing_file_as_model(trained, tmp_path):
    _refused(tmp_path, trained[1], r"is a directory, not a model file")
    _refused(tmp_path / "nope.model", trained[1], r"no such model file")


def test_an_oversized_file_is_refused_before_parsing(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(modelfile, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.model"
    path.write_text(trained[0])
    _refused(path, trained[1], r"bytes is too large for a model file")


def test_a_byte_order_mark_from_an_editor_is_accepted(trained, tmp_path):
    path = tmp_path / "bom.model"
    path.write_bytes(b"\xef\xbb\xbf" + trained[0].encode("utf-8"))
    assert modelfile.load(path).words == ["high", "low", "mid"]


# --- tampered numbers ----------------------------------------------------------------------


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(data):
        target = data
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return change


#: A calibration as training writes it (the tone model is trained without one).
CALIBRATION = {
    "background_outlier": False, "coef": [0.43, -0.02], "intercept": 4.9, "min_variation": 7.7, "speaker_warp": 0.1,
    "target_false_rejection": 0.02, "threshold": 0.19,
}

ADAPTATION_PROBLEM = r"field 'training\.adaptation': must be a list of objects, one per adaptation$"

TAMPERED = {
    "NaN mean": (_set("models", 0, "means", 0, 0, 0, "NaN"), r"models\[0\] \(high\)\.means: contains NaN or infinite"),
    "Infinity variance": (
        _set("models", 1, "variances", 1, 1, 1, "Infinity"),
        r"models\[1\] \(low\)\.variances: contains NaN or infinite",
    ),
    "negative variance": (
        _set("models", 2, "variances", 0, 0, 3, -0.5),
        r"models\[2\] \(mid\)\.variances: contains a value that is not positive",
    ),
    "zero variance": (_set("models", 0, "variances", 2, 1, 0, 0.0), r"variances: contains a value that is not positive"),
    "denormal variance": (_set("models", 0, "variances", 2, 1, 0, 1e-310), r"variances: contains a value outside 1e-30"),
    "huge mean": (_set("models", 0, "means", 0, 0, 0, 1e300), r"means: contains a value beyond \+-1e\+30"),
    "transition row not summing to one": (
        _set("models", 1, "transmat", 0, [0.5, 0.4, 0.0]),
        r"models\[1\] \(low\)\.transmat: probabilities do not sum to one",
    ),
    "negative probability": (
        _set("models", 1, "transmat", 0, [1.5, -0.5, 0.0]),
        r"transmat: contains a negative probability",
    ),
    "weights not summing to one": (_set("models", 0, "weights", 1, [0.2, 0.2]), r"weights: probabilities do not sum"),
    "start not summing to one": (_set("models", 0, "startprob", [0.0, 0.0, 0.0]), r"startprob: probabilities do not"),
    "wrong shape": (
        _set("models", 0, "means", [[0.0] * 39] * 3),
        r"field 'models\[0\]\.means': shape \(3, 39\), expected \(3, 2, 39\)",
    ),
    "ragged rows": (_set("models", 0, "transmat", [[1.0], [0.5, 0.5], [0, 0, 1]]), r"transmat': shape \(3,\), expected \(3, 3\)"),
    "a number as a string": (_set("models", 0, "weights", 0, ["0.5", 0.5]), r"weights': not an array of numbers"),
    "a boolean as a number": (_set("models", 0, "weights", 0, [True, 0]), r"weights': not an array of numbers"),
    "an integer beyond float range": (_set("models", 0, "means", 0, 0, 0, 10**400), r"means': contains a number too large"),
    "no final state": (_set("models", 0, "final", [False, False, False]), r"final: no state may end a recording"),
    "no path to the end": (
        _set("models", 0, "transmat", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        r"no path from a start state to a final state",
    ),
    "too many states claimed": (_set("models", 0, "n_states", 10**6), r"n_states': must be an integer from 1 to 1000$"),
    "words out of step": (_set("words", ["high", "low"]), r"field 'words': does not match"),
    "a word twice": (_set("words", ["high", "high", "mid"]), r"field 'words'|a word appears twice"),
    "huge FFT": (_set("features", "nfft", 2**40), r"feature config: nfft = 1099511627776 is larger than 16384"),
    "unknown feature setting": (_set("features", "dither", 1.0), r"feature config: unknown field 'dither'"),
    "features not an object": (_set("features", [1, 2]), r"field 'features': not an object"),
    "models empty": (_set("models", []), r"field 'models': must be a non-empty list"),
    # Integers too large for a float, wherever a number is read.
    "a huge integer as calibration.intercept": (
        _set("calibration", {**CALIBRATION, "intercept": 10**400}),
        r"field 'calibration\.intercept': an integer of 401 digits is too large$",
    ),
    "a huge integer as calibration.min_variation": (
        _set("calibration", {**CALIBRATION, "min_variation": -(10**400)}),
        r"field 'calibration\.min_variation': an integer of 401 digits is too large$",
    ),
    "a huge integer as features.win_length": (
        _set("features", "win_length", 10**400), r"field 'features\.win_length': an integer of 401 digits is too large$"
    ),
    "a huge integer as features.sample_rate": (
        _set("features", "sample_rate", 10**400),
        r"field 'features\.sample_rate': an integer of 401 digits is too large$",
    ),
    "a float whose frame length overflows": (
        _set("features", "win_length", 1e308), r"field 'features\.win_length': 1e\+308 is beyond \+-1e\+30$"
    ),
    # The free-form record must be JSON that 'wordrec adapt' can write back.
    "NaN in training": (_set("training", "x", "NaN"), r"field 'training\.x': NaN is not a finite number$"),
    "an overflowing float in training": (
        _set("training", "config", "seed", "1e400"), r"field 'training\.config\.seed': Infinity is not a finite number$"
    ),
    "-Infinity deep in diagnostics": (
        _set("diagnostics", "extra", [1.0, {"a": [2, "-Infinity"]}]),
        r"field 'diagnostics\.extra\[1\]\.a\[1\]': -Infinity is not a finite number$",
    ),
    "a huge integer in diagnostics": (
        _set("diagnostics", "n", 10**400), r"field 'diagnostics\.n': an integer of 401 digits is too large$"
    ),
    "adaptation a number": (_set("training", "adaptation", 5), ADAPTATION_PROBLEM),
    "adaptation null": (_set("training", "adaptation", None), ADAPTATION_PROBLEM),
    "adaptation a string": (_set("training", "adaptation", "abc"), ADAPTATION_PROBLEM),
    "adaptation not objects": (_set("training", "adaptation", [{}, 1]), ADAPTATION_PROBLEM),
    # Strings and booleans are not numbers; calibration numbers stay within MAX_MAGNITUDE.
    "calibration.coef a string": (
        _set("calibration", {**CALIBRATION, "coef": "12"}), r"field 'calibration\.coef': must be a list of two numbers$"
    ),
    "calibration.threshold a boolean": (
        _set("calibration", {**CALIBRATION, "threshold": True}),
        r"field 'calibration\.threshold': must be a number from 0 to 1, got true$",
    ),
    "calibration.intercept a string": (
        _set("calibration", {**CALIBRATION, "intercept": "0.5"}),
        r"field 'calibration\.intercept': must be a number from -1e\+30 to 1e\+30, got \"0\.5\"$",
    ),
    "calibration.coef a boolean": (
        _set("calibration", {**CALIBRATION, "coef": [1.0, False]}),
        r"field 'calibration\.coef\[1\]': must be a number from -1e\+30 to 1e\+30, got false$",
    ),
    "calibration.coef beyond MAX_MAGNITUDE": (
        _set("calibration", {**CALIBRATION, "coef": [1e308, -1e308]}),
        r"field 'calibration\.coef\[0\]': 1e\+308 is beyond \+-1e\+30$",
    ),
    "calibration a list": (_set("calibration", [1, 2]), r"field 'calibration': not an object$"),
    "calibration.threshold missing": (
        _set("calibration", {k: v for k, v in CALIBRATION.items() if k != "threshold"}),
        r"field 'calibration\.threshold': missing$",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_numbers_are_refused_naming_the_field(trained, tmp_path, case):
    change, problem = TAMPERED[case]
    data = json.loads(trained[0])
    if case == "a word twice":
        data["models"][1]["word"] = "high"
    change(data)
    text = json.dumps(data)
    # JSON has no NaN or Infinity; write them as Python's json module would read them.
    for token in ("NaN", "-Infinity", "Infinity", "1e400"):
        text = text.replace(f'"{token}"', token)
    path = tmp_path / "tampered.model"
    path.write_text(text)
    _refused(path, trained[1], problem)


def test_a_valid_calibration_loads(trained, tmp_path):
    """The baseline for the calibration cases above: CALIBRATION itself is fine."""
    data = json.loads(trained[0])
    data["calibration"] = CALIBRATION
    loaded = modelfile.loads(json.dumps(data).encode())
    assert loaded.calibration.to_dict() == CALIBRATION


@pytest.mark.parametrize(
    "word, problem",
    [
        ("<unknown>", r"<unknown> is the answer for rejected recordings, not a word"),
        ("\x1b[31mRED\x1b[0m", r"contains the control character '\\x1b'"),
        ("a\u2028b", r"contains a line break '\\u2028'"),
    ],
    ids=["<unknown>", "ANSI colour", "line separator"],
)
def test_a_word_that_would_garble_the_output_is_refused(trained, tmp_path, word, problem):
    """``<unknown>`` is what rejected recordings are answered; escapes would reach the terminal raw."""
    data = json.loads(trained[0])
    data["models"][0]["word"] = data["words"][0] = word
    path = tmp_path / "word.model"
    path.write_text(json.dumps(data))
    message = _refused(path, trained[1], rf"^{re.escape(str(path))}: field 'models\[0\]\.word': {problem}$")
    assert "\x1b" not in message and "\u2028" not in message  # the message itself shows them escaped


def test_the_untampered_file_loads_and_recognises(trained, tmp_path):
    """The baseline for the tampering above: the same file, unchanged, is fine."""
    path = tmp_path / "ok.model"
    path.write_text(trained[0])
    result = CliRunner().invoke(cli, ["recognize", "-m", str(path), str(trained[1])])
    assert result.exit_code == 0 and result.stdout.split("\t")[1] == "mid"


# --- files that would run code if unpickled -------------------------------------------------


class _Payload:
    """Unpickling this creates a marker file: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"with open({self.marker!r}, 'w') as f: f.write('pwned')",))


def _payload_works(path: Path, marker: Path, load) -> None:
    """Guard against a test that passes because its payload is a dud."""
    load(path)
    assert marker.exists()
    marker.unlink()


@pytest.mark.parametrize("protocol", [0, 1, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_is_refused_and_never_run(trained, tmp_path, protocol):
    """Protocols 0 and 1 have no signature: their opcodes are read (by pickletools), never run."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.model"
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=protocol))
    _payload_works(path, marker, lambda p: pickle.loads(p.read_bytes()))
    _refused(path, trained[1], r"not a wordrec model file \(a Python pickle; wordrec model files are JSON\)$")
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [pickle.dumps({"models": list(range(5000))}, protocol=0), pickle.dumps(["a"] * 3, protocol=1), b"N.\n"],
    ids=["long protocol 0", "protocol 1", "None, protocol 0"],
)
def test_pickles_without_a_signature_are_named(trained, tmp_path, content):
    path = tmp_path / "p.model"
    path.write_bytes(content)
    _refused(path, trained[1], r"\(a Python pickle; wordrec model files are JSON\)$")


@pytest.mark.parametrize("content", [b"I think so.", b"(1, 2).", b"cat.", b"1.5", b"S'abc'"])
def test_text_that_starts_like_a_pickle_is_not_called_one(trained, tmp_path, content):
    path = tmp_path / "t.model"
    path.write_bytes(content)
    _refused(path, trained[1], r"not a wordrec model file \(expected JSON\)$")


def test_numpy_files_with_object_arrays_are_refused_and_never_run(trained, tmp_path):
    marker = tmp_path / "pwned"
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([_Payload(marker), None], dtype=object), allow_pickle=True)
    _payload_works(npy, marker, lambda p: np.load(p, allow_pickle=True))
    npz = tmp_path / "evil.npz"
    np.savez(npz, models=np.array([_Payload(marker)], dtype=object))

    def load_npz(p):
        with np.load(p, allow_pickle=True) as archive:
            return archive["models"]

    _payload_works(npz, marker, load_npz)
    assert _refused(npy, trained[1], r"not a wordrec model file \(a NumPy \.npy file; wordrec model files are JSON\)")
    assert _refused(npz, trained[1], r"not a wordrec model file \(a zip archive, e\.g\. a NumPy \.npz file")
    assert not marker.exists()


def test_a_pickle_payload_given_to_the_real_command_is_not_run(trained, tmp_path):
    """The same through ``python -m wordrec`` in a fresh process."""
    import subprocess

    from conftest import REPO

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.model"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    wav = write_wav(tmp_path / "a.wav", tone([440, 880]))
    result = subprocess.run(
        [sys.executable, "-m", "wordrec", "recognize", "-m", str(path), str(wav)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr == f"Error: {path}: not a wordrec model file (a Python pickle; wordrec model files are JSON)\n"
    assert not marker.exists()


def test_an_invalid_model_is_never_written(trained, tmp_path):
    ms = modelfile.loads(trained[0].encode())
    bad = model.WordModel(
        "x", ms.models[0].startprob, ms.models[0].transmat, ms.models[0].final, ms.models[0].weights,
        ms.models[0].means * np.nan, ms.models[0].variances,
    )
    broken = model.ModelSet(ms.features, (bad,), ms.training, ms.diagnostics)
    out = tmp_path / "m.model"
    with pytest.raises(WordrecError, match=rf"^{re.escape(str(out))}: not written, the model is invalid: .*means"):
        modelfile.save(broken, out)
    assert list(tmp_path.iterdir()) == []


# --- sizes: bounded work and memory however large the model ------------------------------------


def _vocabulary(rng, n_features=3):
    """Left-to-right and ergodic words of several sizes, interleaved."""
    sizes = [(3, 2, False), (2, 1, True), (5, 1, False), (1, 3, True), (4, 2, True), (2, 2, False), (3, 1, True)] * 3
    return tuple(random_word(rng, f"w{i:02d}", s, m, n_features, e) for i, (s, m, e) in enumerate(sizes))


def test_many_words_are_scored_in_groups_as_each_word_alone(monkeypatch):
    from wordrec.core import score as score_mod
    from wordrec.core import wordgroups
    from wordrec.core.features import FeatureConfig

    rng = np.random.default_rng(7)
    words = _vocabulary(rng)
    outlier = model.Outlier(0.01, rng.normal(size=3), rng.uniform(2.0, 4.0, size=3))
    ms = model.ModelSet(FeatureConfig(), words, outlier=outlier)
    feats = [rng.normal(size=(n, 3)) for n in (9, 1, 4, 13, 2, 6, 3)]
    monkeypatch.setattr(wordgroups, "GROUP_MOVES", 24)
    groups = score_mod.groups(ms)
    assert 4 < len(groups) < len(words)
    assert sorted(j for g in groups for j in g) == list(range(len(words)))
    for g in groups:  # a group holds words allowing the same jumps, within the bound (or one word)
        assert len({words[j].jumps() for j in g}) == 1
        assert len(g) == 1 or sum(words[j].n_states for j in g) * len(words[g[0]].jumps()) <= 24
    got = score_mod.score(ms, feats)
    for j, wm in enumerate(words):
        alone = score_mod.score(model.ModelSet(FeatureConfig(), (wm,), outlier=outlier), feats)[:, 0]
        np.testing.assert_allclose(got[:, j], alone, rtol=1e-9)
    assert np.isfinite(got).sum() > got.size // 2 and np.isneginf(got[1, 0])  # too short for word 0: -inf


def _log_gauss(x, mean, var):
    return -0.5 * np.sum(np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def _brute_force(wm, x) -> float:
    """log p(x) as the sum over every state path of its probability: no recursion."""
    import itertools

    def log_emit(frame, s):
        gaussians = zip(wm.weights[s], wm.means[s], wm.variances[s])
        return np.log(sum(w * np.exp(_log_gauss(frame, m, v)) for w, m, v in gaussians))

    emit = [[log_emit(frame, s) for s in range(wm.n_states)] for frame in x]
    total = 0.0
    for path in itertools.product(range(wm.n_states), repeat=len(x)):
        p = wm.startprob[path[0]] * float(wm.final[path[-1]])
        for a, b in zip(path, path[1:]):
            p *= wm.transmat[a, b]
        if p > 0:
            total += p * np.exp(sum(emit[t][s] for t, s in enumerate(path)))
    return np.log(total) if total > 0 else -np.inf


def test_long_recordings_are_scored_in_blocks_of_frames_with_the_same_result(monkeypatch):
    from wordrec.core import score as score_mod
    from wordrec.core import wordgroups
    from wordrec.core.features import FeatureConfig

    rng = np.random.default_rng(5)
    ms = model.ModelSet(FeatureConfig(), _vocabulary(rng)[:5])
    feats = [rng.normal(size=(n, 3)) for n in (40, 7)]
    whole = score_mod.score(ms, feats)
    monkeypatch.setattr(wordgroups, "CHUNK_ELEMENTS", 10)  # a few frames of Gaussian densities at a time
    np.testing.assert_allclose(score_mod.score(ms, feats), whole, rtol=1e-12)


def test_grouped_scores_equal_a_brute_force_sum_over_paths(monkeypatch):
    from wordrec.core import score as score_mod
    from wordrec.core import wordgroups
    from wordrec.core.features import FeatureConfig

    rng = np.random.default_rng(3)
    words = _vocabulary(rng, n_features=2)[:7]
    feats = [rng.normal(size=(n, 2)) for n in (1, 2, 3, 4)]
    monkeypatch.setattr(wordgroups, "GROUP_MOVES", 8)
    ms = model.ModelSet(FeatureConfig(), words)
    assert len(score_mod.groups(ms)) >= 4
    got = score_mod.score(ms, feats)
    for j, wm in enumerate(words):
        for i, x in enumerate(feats):
            expected = _brute_force(wm, x)
            if np.isinf(expected):
                assert got[i, j] == -np.inf
            else:
                assert got[i, j] == pytest.approx(expected, rel=1e-9)


def test_the_joint_transition_matrix_stays_bounded_however_many_words(monkeypatch):
    """Before, all words were one block-diagonal model: (total states)^2 numbers (3.9 GB for 20 x 1000 states).
    Now a group's transitions are its bands alone: no square matrix is made at all."""
    from wordrec.core import score as score_mod
    from wordrec.core import wordgroups
    from wordrec.core.features import FeatureConfig

    rng = np.random.default_rng(1)
    words = tuple(random_word(rng, f"w{i:03d}", 8, 1, 2, False) for i in range(300))
    seen = []
    real = score_mod.forward_packed

    def recording(log_b, offsets, log_start, log_trans, band_list=None):
        seen.append((log_b.shape[1], log_trans, [v.shape for _, v in band_list]))
        return real(log_b, offsets, log_start, log_trans, band_list)

    monkeypatch.setattr(score_mod, "forward_packed", recording)
    score_mod.score(model.ModelSet(FeatureConfig(), words), [rng.normal(size=(12, 2))], shortlist=None)
    limit = wordgroups.GROUP_MOVES // 2  # left-to-right words allow two jumps a state
    assert max(n for n, _, _ in seen) == limit and len(seen) == -(-300 * 8 // limit)
    assert all(dense is None and shapes == [(n,), (n - 1,)] for n, dense, shapes in seen)


def test_a_default_vocabulary_is_scored_as_one_group(trained):
    from wordrec.core import score as score_mod

    ms = modelfile.loads(trained[0].encode())
    assert score_mod.groups(ms) == [list(range(len(ms.models)))]


def _with_word(data: dict, word: dict) -> dict:
    data["models"].append(word)
    data["words"].append(word["word"])
    return data


def _ergodic_word(name: str, n_states: int, n_features: int) -> dict:
    return {
        "word": name, "n_states": n_states, "n_mix": 1, "startprob": [1.0 / n_states] * n_states,
        "transmat": [[1.0 / n_states] * n_states] * n_states, "final": [True] * n_states,
        "weights": [[1.0]] * n_states, "means": [[[0.0] * n_features]] * n_states,
        "variances": [[[1.0] * n_features]] * n_states,
    }


def test_a_word_whose_transitions_cost_too_much_is_refused(trained, tmp_path):
    """An ergodic word of 201 states allows 201 x 401 moves a frame: over MAX_WORD_MOVES (training makes 19,900)."""
    data = json.loads(trained[0])
    n_features = len(data["models"][0]["means"][0][0])
    path = tmp_path / "dense.model"
    path.write_text(json.dumps(_with_word(data, _ergodic_word("zz", 201, n_features))))
    problem = r"field 'models\[3\]\.transmat': allows 80,601 moves a frame \(states times jumps\), more than 40,000"
    _refused(path, trained[1], problem)
    # An ergodic word of 100 states, the most training makes, is fine.
    path.write_text(json.dumps(_with_word(json.loads(trained[0]), _ergodic_word("zz", 100, n_features))))
    assert modelfile.load(path).words[-1] == "zz"


def test_declared_sizes_are_refused_before_the_arrays_are_read(trained, tmp_path):
    """Three words claiming 1000 states of 1000 Gaussians: 240 million numbers, whatever the arrays hold."""
    data = json.loads(trained[0])
    for m in data["models"]:
        m["n_states"] = m["n_mix"] = 1000
    path = tmp_path / "huge.model"
    path.write_text(json.dumps(data))
    _refused(path, trained[1], r"field 'models': 240,003,000 numbers in the models' arrays, more than 10,000,000")


@pytest.mark.parametrize(
    "cap, value, problem",
    [
        ("MAX_WORDS", 2, r"field 'models': 3 words, more than 2$"),
        ("MAX_PARAMETERS", 500, r"field 'models': [\d,]+ numbers in the models' arrays, more than 500 \(too slow"),
        ("MAX_MOVES", 10, r"field 'models': the transitions allow 18 moves a frame in all \(states times jumps\)"),
        ("MAX_WORD_MOVES", 5, r"field 'models\[0\]\.transmat': allows 6 moves a frame"),
    ],
)
def test_each_size_cap_is_enforced_on_load_and_on_save(trained, tmp_path, monkeypatch, cap, value, problem):
    path = tmp_path / "ok.model"
    path.write_text(trained[0])
    ms = modelfile.load(path)  # three words of 3 states: 18 moves
    monkeypatch.setattr(validate, cap, value)
    _refused(path, trained[1], problem)
    with pytest.raises(WordrecError, match=problem.rstrip("$")):
        modelfile.save(ms, tmp_path / "again.model")
