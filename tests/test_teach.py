"""Teaching a trained model its recorded false alarms: wordrec adapt --negatives, Recognizer.teach."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import wordrec
from wordrec.cli import cli
from wordrec.core.openset import SHADOW_MARGIN, taught_false_alarms
from wordrec.core.score import score
from wordrec.errors import WordrecError
from wordrec.io import modelfile
from conftest import make_tone_corpus, tone, write_wav


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """A tone model, false alarms close to 'mid' (two takes of each), and the model taught the first takes."""
    root = tmp_path_factory.mktemp("teach")
    data = make_tone_corpus(root / "data", n_per_word=8)
    model = root / "m.model"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", str(data), "-o", str(model), "-q", "-j", "1", "--states", "3", "--mix", "2"])
    assert result.exit_code == 0, result.output
    alarms = {}
    for f1, f2 in ((900, 1100), (700, 1100)):
        for k in range(2):
            x = np.concatenate([tone([f1], 0.3, seed=50 + k), tone([f2], 0.28, seed=60 + k)])
            alarms[(f1, k)] = write_wav(root / f"alarms{k}" / f"{f1}_{k}.wav", x)
    new = root / "taught.model"
    result = runner.invoke(cli, ["adapt", "-m", str(model), "--negatives", str(root / "alarms0"), "-o", str(new), "-q"])
    assert result.exit_code == 0, result.output
    return data, model, new, alarms, result


def _confidences(model, paths):
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), "--json", "--no-reject", *map(str, paths)])
    return {a["path"]: a["confidence"] for a in json.loads(result.stdout)}


def test_taught_false_alarms_get_no_confidence_and_the_words_keep_theirs(taught):
    data, model, new, alarms, result = taught
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "false_alarm\ttaken_for\tconfidence_before\tconfidence_now"
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[1] for r in rows] == ["mid", "mid"] and all(float(r[2]) > 0.1 and float(r[3]) == 0.0 for r in rows)
    assert "taught 2 false alarms (2 in the model)" in result.stderr
    recorded = [alarms[(f, 0)] for f in (900, 700)]
    before, after = _confidences(model, recorded), _confidences(new, recorded)
    assert all(before[str(p)] > 0.1 and after[str(p)] == 0.0 for p in recorded)
    words = sorted(data.glob("*/*.wav"))
    assert _confidences(new, words) == _confidences(model, words)
    # Nothing else changed: the words, the background model, the calibration.
    old, now = modelfile.load(model), modelfile.load(new)
    assert [m.to_dict() for m in now.models] == [m.to_dict() for m in old.models]
    assert now.calibration == old.calibration and now.background.to_dict() == old.background.to_dict()
    assert [m.word for m in now.negatives] == ["mid", "mid"] and now.training["adaptation"][-1]["negatives"] == 2


def test_the_rule_is_a_margin_per_frame_over_the_best_word(taught):
    _, _, new, alarms, _ = taught
    models = modelfile.load(new)
    from wordrec.jobs.featurise import extract_files

    feats = extract_files([alarms[(900, 0)], alarms[(900, 1)]], models.features)
    best = score(models, feats).max(axis=1)
    copies = score(models.__class__(models.features, models.negatives, outlier=models.outlier), feats).max(axis=1)
    gap = (copies - best) / np.array([len(f) for f in feats])
    np.testing.assert_array_equal(taught_false_alarms(models, feats, best), gap > SHADOW_MARGIN)
    assert gap[0] > SHADOW_MARGIN  # the recording taught is explained by its copy far better than by 'mid'


def test_taught_models_round_trip_inspect_and_refuse_tampering(taught, tmp_path):
    _, _, new, _, _ = taught
    raw = json.loads(new.read_text())
    assert len(raw["negatives"]) == 2
    info = CliRunner().invoke(cli, ["inspect", str(new)]).stdout
    assert "negatives\t2 taught false alarm(s) (2 taken for mid)" in info and "adapted\t" not in info
    models = modelfile.load(new)
    modelfile.save(models, tmp_path / "again.model")
    assert (tmp_path / "again.model").read_text() == new.read_text()
    for change, field in ((lambda d: d["negatives"][0].update(word="nope"), r"negatives\[0\]\.word"),
                          (lambda d: d.update(negatives="all"), "negatives"),
                          (lambda d: d["negatives"][1]["weights"][0].__setitem__(0, -1.0), r"negatives\[1\]")):
        bad = json.loads(new.read_text())
        change(bad)
        (tmp_path / "bad.model").write_text(json.dumps(bad))
        with pytest.raises(WordrecError, match=field):
            modelfile.load(tmp_path / "bad.model")


def test_adapt_needs_data_or_negatives_and_a_model_that_rejects(taught, tmp_path):
    data, model, _, alarms, _ = taught
    runner = CliRunner()
    usage = runner.invoke(cli, ["adapt", "-m", str(model), "-o", str(tmp_path / "x.model")])
    assert usage.exit_code == 2 and "--negatives" in usage.stderr
    usage = runner.invoke(cli, ["adapt", "-m", str(model), "--negatives", str(alarms[(900, 0)]), "--unlabelled", "-o", str(tmp_path / "x.model")])
    assert usage.exit_code == 2 and "--unlabelled" in usage.stderr
    plain = tmp_path / "plain.model"
    assert runner.invoke(cli, ["train", str(data), "-o", str(plain), "-q", "-j", "1", "--states", "3", "--mix", "2", "--no-reject"]).exit_code == 0
    refused = runner.invoke(cli, ["adapt", "-m", str(plain), "--negatives", str(alarms[(900, 0)]), "-o", str(tmp_path / "x.model")])
    assert refused.exit_code == 1 and "no rejection" in refused.stderr and not (tmp_path / "x.model").exists()


def test_the_api_teaches_a_new_recognizer(taught):
    data, model, new, alarms, _ = taught
    rec = wordrec.Recognizer.load(model)
    better = rec.teach([alarms[(700, 0)], alarms[(900, 0)]])  # in the order the folder is read
    assert not rec.model_.negatives
    assert [m.to_dict() for m in better.model_.negatives] == [m.to_dict() for m in modelfile.load(new).negatives]
    assert better.recognize([alarms[(900, 0)]], reject=False)[0].confidence == 0.0
