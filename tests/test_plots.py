"""Pictures: they open, have the size asked for, show something, and matplotlib stays optional."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import tone, train_tone_model
from wordrec.api import plots
from wordrec.cli import cli
from wordrec.core.explain import explain, inspect
from wordrec.core.metrics import report
from wordrec.errors import WordrecError
from wordrec.io import modelfile

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    data, model, _ = train_tone_model(tmp_path_factory.mktemp("tones"))
    return data, model, modelfile.load(model)


def _picture(path, size):
    """The PNG at ``path`` as an RGB array, checked to be ``size`` (width, height) and not blank."""
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == size
        rgb = np.asarray(img.convert("RGB"))
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) >= 8  # text, axes and data, not one flat colour
    # Ink over a good part of the picture, in every quarter of it.
    h, w = rgb.shape[:2]
    for quarter in (rgb[: h // 2, : w // 2], rgb[: h // 2, w // 2 :], rgb[h // 2 :, : w // 2], rgb[h // 2 :, w // 2 :]):
        assert (quarter.min(axis=2) < 200).mean() > 0.01
    assert path.stat().st_size <= 150_000
    return rgb


def _rep(rng, labels=("no", "stop", "yes"), n=30):
    truth = [labels[i % len(labels)] for i in range(n)]
    predicted = [t if rng.uniform() < 0.8 else labels[rng.integers(len(labels))] for t in truth]
    return report(truth, predicted, list(labels))


def test_confusion_matrix_alone_with_a_det_curve_and_with_folds(rng, tmp_path):
    rep = _rep(rng)
    plots.eval_figure(rep, tmp_path / "closed.png")
    _picture(tmp_path / "closed.png", (450, 450))
    conf_in, conf_out = rng.uniform(0.3, 1.0, 40), rng.uniform(0.0, 0.6, 20)
    from wordrec.core.confidence import error_rates

    rates = error_rates(conf_in, conf_out)
    rep_open = dict(rep, points=rates["points"], eer=rates["eer"], threshold=0.4,
                    false_rejection=float((conf_in < 0.4).mean()), false_acceptance=float((conf_out >= 0.4).mean()))
    plots.eval_figure(rep_open, tmp_path / "open.png")
    _picture(tmp_path / "open.png", (1000, 450))
    folds = [{"name": s, "n_files": 10, "n_correct": c, "accuracy": c / 10, "missing_words": []} for s, c in (("ann", 9), ("bob", 6), ("cy", 8))]
    rep_cv = dict(rep, folds=folds, mean_accuracy=23 / 30, worst_accuracy=0.6, cross_validation={"method": "group-by"})
    plots.eval_figure(rep_cv, tmp_path / "cv.png")
    _picture(tmp_path / "cv.png", (1000, 450))


def test_the_confusion_matrix_is_shaded_by_row_share(tmp_path):
    # Row "a" all right, row "b" all wrong: the dark cell of each row is where its recordings went.
    rep = report(["a"] * 5 + ["b"] * 5, ["a"] * 5 + ["a"] * 5, ["a", "b"])
    fig = plots._figure(4.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    plots.draw_confusion(ax, rep)
    np.testing.assert_array_equal(ax.images[0].get_array(), [[1.0, 0.0], [1.0, 0.0]])
    assert "accuracy 50.0 % (5/10)" in ax.get_title()


def test_explain_and_model_pictures(tones, tmp_path):
    _, _, models = tones
    rate = models.features.sample_rate
    signal = np.concatenate([np.zeros(rate // 4), tone([800], 0.3, rate), tone([1100], 0.3, rate, seed=1), np.zeros(rate // 4)])
    signal += 0.001 * np.random.default_rng(0).standard_normal(len(signal))
    e = explain(models, signal, rate)
    plots.explain_figure(e, signal, rate, tmp_path / "explain.png", name="mid.wav")
    _picture(tmp_path / "explain.png", (900, 700))
    plots.model_figure(inspect(models), tmp_path / "model.png")
    _picture(tmp_path / "model.png", (1000, 480))
    plots.explain_figure(e, signal, rate, tmp_path / "explain.svg")
    assert (tmp_path / "explain.svg").read_text().lstrip().startswith("<?xml")


def test_pictures_need_a_known_suffix_and_matplotlib(rng, tmp_path, monkeypatch):
    with pytest.raises(WordrecError, match="ending in .png, .svg or .pdf"):
        plots.eval_figure(_rep(rng), tmp_path / "picture.jpg")
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    with pytest.raises(WordrecError) as info:
        plots.eval_figure(_rep(rng), tmp_path / "picture.png")
    assert str(info.value) == "plotting needs matplotlib: pip install 'wordrec[plot]'"
    assert not (tmp_path / "picture.png").exists()


def test_eval_plot_and_csv_from_the_command_line(tones, tmp_path, monkeypatch):
    data, model, _ = tones
    runner = CliRunner()
    out = runner.invoke(cli, ["eval", "-m", str(model), str(data), "--plot", str(tmp_path / "c.png"), "--csv", str(tmp_path / "c.csv"), "--json"])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    rows = list(csv.reader((tmp_path / "c.csv").read_text().splitlines()))
    assert rows[0][1:] == rep["labels"]
    assert [[int(x) for x in r[1:]] for r in rows[1:]] == rep["confusion"]
    _picture(tmp_path / "c.png", (450, 450))
    cv = runner.invoke(cli, ["eval", str(data), "--folds", "2", "--states", "3", "--mix", "1", "-j", "1", "--plot", str(tmp_path / "cv.png")])
    assert cv.exit_code == 0, cv.output
    _picture(tmp_path / "cv.png", (1000, 450))
    # A bad picture name or a missing matplotlib is refused before any work, in one line.
    bad = runner.invoke(cli, ["eval", "-m", str(model), str(data), "--plot", str(tmp_path / "c.gif")])
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "c.gif: give a picture file name" in bad.stderr
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    gone = runner.invoke(cli, ["inspect", str(model), "--plot", str(tmp_path / "m.png")])
    assert gone.exit_code == 1 and gone.stderr == "Error: plotting needs matplotlib: pip install 'wordrec[plot]'\n"
    assert gone.stdout == ""


def test_commands_that_do_not_plot_do_not_import_matplotlib(tones):
    data, model, _ = tones
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from wordrec.cli import cli\n"
        "for args in (['--help'], ['eval', '-m', sys.argv[1], sys.argv[2]], ['inspect', sys.argv[1]], ['explain', '--help']):\n"
        "    r = CliRunner().invoke(cli, args)\n"
        "    assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(model), str(data)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
