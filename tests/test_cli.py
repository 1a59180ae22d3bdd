import json
import re

import pytest
from click.testing import CliRunner
from conftest import tone, train_tone_model, write_wav

from wordrec import __version__
from wordrec.cli import cli
from wordrec.core.train import TrainConfig


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tone_model(tmp_path_factory.mktemp("tones"))


def test_train_prints_a_summary_per_word(trained):
    _, model, result = trained
    assert model.exists()
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("word\trecordings")
    assert [line.split("\t")[0] for line in lines[1:]] == ["high", "low", "mid"]


def test_outlier_weight_option_sets_or_removes_the_component(trained, tmp_path):
    data, model, _ = trained
    assert json.loads(model.read_text())["outlier"]["weight"] == 1e-4
    off = tmp_path / "off.model"
    args = ["train", str(data), "-o", str(off), "--states", "3", "--mix", "2", "-j", "1", "--no-reject", "--outlier-weight", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    saved = json.loads(off.read_text())
    assert saved["outlier"] is None and saved["training"]["config"]["outlier_weight"] == 0.0


def test_recognize_prints_path_word_score(trained, tmp_path):
    data, model, _ = trained
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), str(data / "mid" / "mid_0.wav")])
    assert result.exit_code == 0, result.output
    path, word, score, confidence = result.stdout.strip().split("\t")
    assert path.endswith("mid_0.wav") and word == "mid" and float(score) < 0
    assert 0.0 <= float(confidence) <= 1.0


def test_recognize_nbest_and_json(trained):
    data, model, _ = trained
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), "--nbest", "3", "--json", str(data / "low")])
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    assert len(answers) == 6
    for a in answers:
        assert a["word"] == "low"
        scores = [n["log_lik"] for n in a["nbest"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)


def test_eval_reports_accuracy_and_confusion(trained):
    data, model, _ = trained
    result = CliRunner().invoke(cli, ["eval", "-m", str(model), str(data), "--json"])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert rep["accuracy"] == 1.0 and rep["n_files"] == 18
    assert rep["labels"] == ["high", "low", "mid"]
    assert rep["confusion"] == [[6, 0, 0], [0, 6, 0], [0, 0, 6]]
    text = CliRunner().invoke(cli, ["eval", "-m", str(model), str(data)]).stdout
    assert "accuracy\t100.00%" in text and "truth\\rec" in text


def test_bad_file_in_a_batch_gives_one_line_and_exit_3(trained, tmp_path):
    data, model, _ = trained
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    good = data / "high" / "high_1.wav"
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), str(bad), str(good)])
    assert result.exit_code == 3
    assert "high" in result.stdout
    err = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(err) == 1 and str(bad) in err[0]
    assert "Traceback" not in result.output


def test_bad_model_is_one_line_and_exit_1(tmp_path):
    m = tmp_path / "x.model"
    m.write_text("nonsense")
    wav = write_wav(tmp_path / "a.wav", tone([440]))
    result = CliRunner().invoke(cli, ["recognize", "-m", str(m), str(wav)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and str(m) in result.stderr


def test_version_and_help():
    runner = CliRunner()
    assert __version__ in runner.invoke(cli, ["--version"]).stdout
    for cmd in ([], ["train"], ["recognize"], ["eval"]):
        result = runner.invoke(cli, cmd + ["--help"])
        assert result.exit_code == 0 and "Usage" in result.stdout


def test_usage_error_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["train", str(tmp_path)])  # no -o
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "command, args, named",
    [
        ("train", ["--seed", "-1"], "--seed"),
        ("train", ["--false-rejection", "nan"], "--false-rejection"),
        ("train", ["--speaker-warp", "nan"], "--speaker-warp"),
        ("train", ["--tol", "nan"], "--tol"),
        ("train", ["--var-floor", "nan"], "--var-floor"),
        ("train", ["--noise-copies", "nan"], "--noise-copies"),
        ("train", ["--outlier-weight", "nan"], "--outlier-weight"),
        ("train", ["--no-reject", "--speaker-warp", "0.1"], "--speaker-warp"),
        ("train", ["--no-reject", "--false-rejection", "0.1"], "--false-rejection"),
        ("recognize", ["--threshold", "nan"], "--threshold"),
        ("recognize", ["--no-reject", "--threshold", "0.5"], "--threshold"),
        ("eval", ["--threshold", "nan"], "--threshold"),
        ("eval", ["--threshold", "0.5"], "--threshold"),
        ("eval", ["--folds", "2", "--seed", "-5"], "--seed"),
    ],
)
def test_options_without_a_meaning_are_usage_errors(trained, tmp_path, command, args, named):
    data, model, _ = trained
    out = tmp_path / "x.model"
    where = {
        "train": [str(data), "-o", str(out)],
        "recognize": ["-m", str(model), str(data)],
        "eval": (["-m", str(model)] if "--folds" not in args else []) + [str(data)],
    }[command]
    result = CliRunner().invoke(cli, [command, *where, *args])
    assert result.exit_code == 2, result.output
    assert named in result.stderr and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "eval"])
def test_help_states_the_training_defaults_of_train_config(command):
    # The help text is written out by hand (the CLI does not load numpy for
    # --help), so it must be checked against the defaults that training uses.
    output = CliRunner().invoke(cli, [command, "--help"], terminal_width=1000).output
    text = " ".join(output.split("Options:", 1)[1].split())
    d = TrainConfig()
    shown = {
        "--states": d.n_states,
        "--mix": d.n_mix,
        "--iters": d.max_iter,
        "--tol": d.tol,
        "--topology": d.topology,
        "--var-floor": d.var_floor,
        "--seed": d.seed,
        "--noise-copies": d.noise_copies,
        "--outlier-weight": d.outlier_weight,
    }
    for option, value in shown.items():
        found = re.search(re.escape(option) + r"\b.*?\[default: ([^\]]+)\]", text)
        assert found, option
        assert (found.group(1) if isinstance(value, str) else float(found.group(1))) == value, option
    assert f"at most {d.grow_iter} at each smaller one" in text
    assert f"{d.noise_snr_low:g}-{d.noise_snr_high:g} dB down" in text


@pytest.mark.parametrize("iters, mix, expected", [("0", "2", 0), ("3", "1", 3), ("3", "2", 3 + 3)])
def test_train_summary_counts_every_em_step(trained, tmp_path, iters, mix, expected):
    # With --tol 0 EM never stops early: `iters` steps at the final size and
    # at most that many (the grow limit is larger) at each smaller size.
    data, _, _ = trained
    args = ["train", str(data), "-o", str(tmp_path / "m"), "--states", "3", "--mix", mix, "--iters", iters, "--tol", "0", "--no-reject", "-j", "1", "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()[1:]]
    assert rows and all(int(r[5]) == expected for r in rows)


def test_open_set_rates_over_no_recordings_are_null_not_zero(trained, tmp_path):
    data, model, _ = trained
    (tmp_path / "none").mkdir()
    result = CliRunner().invoke(cli, ["eval", "-m", str(model), str(data), "--oov", str(tmp_path / "none"), "--json", "-q"])
    assert result.exit_code == 3, result.output  # the empty folder is a failed input
    rep = json.loads(result.stdout)
    assert rep["n_out_of_vocabulary"] == 0 and rep["n_in_vocabulary"] > 0
    assert rep["false_acceptance"] is None and rep["eer"] is None and rep["points"] == []
    assert 0.0 <= rep["false_rejection"] <= 1.0 and rep["closed_set_accuracy"] > 0.5
    text = CliRunner().invoke(cli, ["eval", "-m", str(model), str(data), "--oov", str(tmp_path / "none"), "-q"])
    assert "false acceptances\t-\t" in text.stdout and "equal error rate\t-" in text.stdout


def test_open_set_report_needs_the_background_model(trained, tmp_path):
    import dataclasses

    from wordrec.io import modelfile as model_file

    data, model, _ = trained
    nobg = tmp_path / "nobg.model"
    model_file.save(dataclasses.replace(model_file.load(model), background=None), nobg)
    result = CliRunner().invoke(cli, ["eval", "-m", str(nobg), str(data), "--oov", str(data / "low"), "-q"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: the model has no background model, so no confidences (train it without --no-reject)"
