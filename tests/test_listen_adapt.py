"""Online adaptation while listening: causal, the same for any blocks, and a saved model that fits the voice heard."""

import json
import signal
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import tone, train_tone_model
from test_listen import _command, _env, _readline, _s16
from wordrec import Listener
from wordrec.cli import cli
from wordrec.io import modelfile

RATE = 8000
WORDS = {"low": (300, 500), "mid": (800, 1100), "high": (1500, 2100)}
SHIFT = 1.04  # the voice heard: every tone 4 % higher than in training


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    _, path, _ = train_tone_model(tmp_path_factory.mktemp("tones"))
    return path


@pytest.fixture(scope="module")
def models(model):
    return modelfile.load(model)


def _word(word, seed):
    f1, f2 = WORDS[word]
    return np.concatenate([tone([SHIFT * f1], 0.3, RATE, seed=seed), tone([SHIFT * f2], 0.28, RATE, seed=seed + 1)])


def _voice(n_words=15, seed=1, tail=0.5):
    """The shifted voice's words with 0.4-1 s pauses in faint noise: (signal, [word])."""
    rng = np.random.default_rng(seed)
    parts, said = [], []
    for k in range(n_words):
        word = list(WORDS)[k % 3]
        parts += [np.zeros(int(rng.uniform(0.4, 1.0) * RATE)), _word(word, 1000 * seed + 2 * k)]
        said.append(word)
    parts.append(np.zeros(int(tail * RATE)))
    y = np.concatenate(parts)
    return y + 0.001 * rng.standard_normal(len(y)), said


def _fed(listener, x, size):
    """Detections returned by feed (not by flush), and all of them."""
    fed = []
    for a in range(0, len(x), size):
        fed += listener.feed(x[a : a + size], RATE)
    return fed, fed + listener.flush()


def test_an_answer_depends_only_on_the_audio_before_it(models):
    x, said = _voice()
    more, _ = _voice(n_words=9, seed=7)
    short, _ = _fed(Listener(models, adapt=True, reject=False), x, 160)
    longer, _ = _fed(Listener(models, adapt=True, reject=False), np.concatenate([x, more]), 160)
    assert [d.word for d in short] == said
    assert len(longer) > len(short)
    assert longer[: len(short)] == short  # every field, exactly
    # ... and adaptation did change the answers' scores (the comparison above is not vacuous).
    plain, _ = _fed(Listener(models, reject=False), x, 160)
    assert [d.word for d in plain] == said
    # The first word of each kind is scored by its trained model, the later ones by an adapted one.
    assert [p.log_lik for p in plain[:3]] == [s.log_lik for s in short[:3]] and plain[0] == short[0]
    assert all(p.log_lik != s.log_lik for p, s in zip(plain[3:], short[3:]))


def test_adapted_answers_do_not_depend_on_the_block_sizes(models):
    x, said = _voice()
    runs = {}
    for size in (8, 160, 2400, RATE):
        listener = Listener(models, adapt=True, reject=False)
        runs[size] = _fed(listener, x, size)[1]
        assert listener.n_adapted == len(said)
    for size, found in runs.items():
        assert found == runs[RATE], size


def test_only_accepted_answers_adapt(models):
    x, _ = _voice(n_words=6)
    listener = Listener(models, adapt=True, threshold=1.0)  # nothing is confident enough
    found = _fed(listener, x, 160)[1]
    assert {d.word for d in found} == {"<unknown>"} and listener.n_adapted == 0
    assert listener.models == models


def _fit(models, seed=9):
    """Per word, the log-likelihood of a new stream of the voice (heard as-is) under ``models``' model of it."""
    x, said = _voice(n_words=9, seed=seed)
    found = list(Listener(models, reject=False).listen([x], RATE))
    assert [d.word for d in found] == said
    return {w: sum(d.log_lik for d in found if d.word == w) for w in WORDS}


def test_listen_adapt_saves_a_model_moved_towards_the_voice(model, models, tmp_path):
    x, said = _voice()
    out = tmp_path / "mine.model"
    # --no-reject: every answer adapts, and is printed as the best word (the toy
    # model's confidences are not calibrated for a voice adapted to).
    result = CliRunner().invoke(cli, ["listen", "-m", str(model), "--input", "-", "--rate", "8000", "--adapt", "--no-reject",
                                      "--save-adapted", str(out)], input=_s16(x))
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[2] for line in result.stdout.splitlines()] == said
    assert f"Wrote {out}: adapted on 15 word(s) heard." in result.stderr
    adapted = modelfile.load(out)
    record = adapted.training["adaptation"][-1]
    assert record["online"] is True and record["labelled"] is False
    assert record["recordings"] == {"high": 5, "low": 5, "mid": 5}
    after, before = _fit(adapted), _fit(models)
    for word in WORDS:
        assert after[word] > before[word] + 1.0, word
    # The same models as a Listener's after the same stream (the same 16-bit samples).
    listener = Listener(models, adapt=True, reject=False)
    list(listener.listen([np.frombuffer(_s16(x), "<i2")], RATE))
    for a, b in zip(adapted.models, listener.models.models):
        np.testing.assert_array_equal(a.means, b.means)


def test_save_adapted_needs_adapt_and_a_writable_place(model, tmp_path):
    result = CliRunner().invoke(cli, ["listen", "-m", str(model), "--input", "-", "--save-adapted", str(tmp_path / "a.model")])
    assert result.exit_code == 2 and "--save-adapted would have no effect" in result.stderr
    result = CliRunner().invoke(cli, ["listen", "-m", str(model), "--input", "-", "--adapt", "--save-adapted",
                                      str(tmp_path / "no" / "a.model")], input=b"")
    assert result.exit_code == 1 and "does not exist" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_still_writes_the_adapted_model_whole(model, tmp_path, sig):
    x, said = _voice(n_words=6)
    out = tmp_path / "mine.model"
    with subprocess.Popen(_command(model, "--adapt", "--no-reject", "--save-adapted", str(out)), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()) as proc:
        proc.stdin.write(_s16(x))
        proc.stdin.flush()
        lines = [_readline(proc) for _ in said]
        proc.send_signal(sig)  # stdin still open: listen is waiting for audio
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert [line.split("\t")[2] for line in lines] == said
    assert sum(modelfile.load(out).training["adaptation"][-1]["recordings"].values()) == len(said)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.model"]  # no temporary left
    assert "Traceback" not in err.decode()


def test_the_python_listener_saves_what_it_adapted(models, tmp_path):
    x, said = _voice(n_words=3)
    listener = Listener(models, adapt=True, reject=False)
    assert [d.word for d in listener.listen([x], RATE)] == said
    listener.save(tmp_path / "m.model")
    saved = json.loads((tmp_path / "m.model").read_text())
    assert saved["training"]["adaptation"][-1]["recordings"] == {"high": 1, "low": 1, "mid": 1}
    assert listener.n_adapted == 3
