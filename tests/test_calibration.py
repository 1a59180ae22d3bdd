"""Calibration with impostors and negatives, two operating points, and what train says about them."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from wordrec.cli import cli
from wordrec.core import calibration
from wordrec.core.calibration import RAW, HeldOut, evidence_terms, fit, fold_count
from wordrec.core.confidence import Calibration
from wordrec.errors import WordrecError
from wordrec.io.validate_calibration import calibration_from_dict
from conftest import make_tone_corpus, tone, write_wav


def _rows(best, second, bg, n, best_word=0, truth=0):
    k = len(best)
    return np.stack([best, second, bg, np.full(k, float(n)), np.full(k, best_word), np.full(k, truth)], axis=1)


def test_evidence_terms_are_per_frame_and_named():
    raw = np.array([[-100.0, -110.0, -120.0, 10, 0, 0], [-50.0, -np.inf, -40.0, 5, 0, 0]])
    assert raw.shape[1] == len(RAW)
    # No runner-up (one word): the background model is the runner-up.
    np.testing.assert_allclose(evidence_terms(raw, ("llr", "margin")), [[2.0, 1.0], [-2.0, -2.0]])
    np.testing.assert_allclose(evidence_terms(raw, ("margin",)), [[1.0], [-2.0]])


@pytest.mark.parametrize("counts, folds", [([40, 25], 2), ([20, 90], 2), ([10, 12], 5), ([3, 30], 3), ([1, 8], 2)])
def test_fold_count_grows_as_recordings_get_few(counts, folds):
    assert fold_count({str(i): [None] * n for i, n in enumerate(counts)}) == folds


@pytest.mark.parametrize("n, most, kept", [(10, 10, 10), (11, 10, 6), (25, 10, 9), (7, 3, 3), (4000, 2000, 2000)])
def test_calibration_samples_every_kth_recording_of_a_large_word(n, most, kept):
    sample = calibration.calibration_sample({"a": list(range(n)), "b": [0, 1]}, most)
    assert len(sample["a"]) == kept <= most and sample["b"] == [0, 1]
    step = sample["a"][1] - sample["a"][0]
    assert sample["a"] == list(range(0, n, step)) and (step == 1 or len(range(0, n, step - 1)) > most)


def test_the_folds_train_and_hold_out_only_the_calibration_sample(monkeypatch):
    from wordrec.core.features import FeatureConfig
    from wordrec.core.train import TrainConfig
    from wordrec.jobs import training

    rng = np.random.default_rng(3)
    by_word = {w: [rng.normal(c, 1.0, size=(12, 2)) for _ in range(9)] for w, c in (("a", 0.0), ("b", 3.0))}
    seen = []
    real = training.fit_sets

    def spy(problems, *args, **kwargs):
        seen.extend(sum(len(v) for v in p[0].values()) for p in problems[2:])  # the fold models' data
        return real(problems, *args, **kwargs)

    monkeypatch.setattr(training, "fit_sets", spy)
    monkeypatch.setattr(calibration, "CALIBRATION_RECORDINGS", 4)
    cfg = TrainConfig(n_states=2, n_mix=1, max_iter=2)
    training.train_with_rejection(by_word, FeatureConfig(n_ceps=1, delta_order=0), cfg, folds=2, speaker_warp=0.0)
    # 9 recordings a word, every 3rd kept: 3 a word, 2 words; each fold trains on what the other holds out.
    assert sum(seen) == 2 * 3 and len(seen) == 2


def test_fit_sets_the_threshold_at_the_false_rejection_target_and_reports_rates(rng):
    n = 400
    known = _rows(rng.normal(-100, 5, n), rng.normal(-130, 5, n), rng.normal(-120, 5, n), 10)
    unknown = _rows(rng.normal(-125, 5, n), rng.normal(-128, 5, n), rng.normal(-120, 5, n), 10)
    cal = fit(known, unknown, ("llr", "margin"), 0.05)
    conf_in = cal.confidence(evidence_terms(known, cal.terms))
    conf_out = cal.confidence(evidence_terms(unknown, cal.terms))
    assert cal.expected_false_rejection == pytest.approx(np.mean(conf_in < cal.threshold))
    assert cal.expected_false_acceptance == pytest.approx(np.mean(conf_out >= cal.threshold))
    assert 0.03 <= cal.expected_false_rejection <= 0.05
    assert cal.expected_false_acceptance < 0.2


def test_fit_leaves_wrong_answers_out_of_the_known_side(rng):
    n = 200
    right = _rows(rng.normal(-100, 5, n), rng.normal(-130, 5, n), rng.normal(-120, 5, n), 10)
    # Wrong answers with awful evidence: counted as known, they would drag the threshold down.
    wrong = _rows(np.full(n, -200.0), np.full(n, -201.0), np.full(n, -120.0), 10, best_word=1, truth=0)
    unknown = _rows(rng.normal(-125, 5, n), rng.normal(-128, 5, n), rng.normal(-120, 5, n), 10)
    assert fit(np.vstack([right, wrong]), unknown, ("llr", "margin"), 0.05) == fit(right, unknown, ("llr", "margin"), 0.05)


def test_too_little_held_out_data_gives_no_calibration_and_a_warning():
    one = _rows(np.array([-1.0]), np.array([-2.0]), np.array([-3.0]), 10)
    assert fit(one, one, ("llr", "margin"), 0.05) is None
    data = HeldOut(one, one, np.zeros((0, len(RAW))), np.zeros((0, len(RAW))))
    assert calibration.calibrate_both(data, 0.05, 0.1) is None
    lines = calibration.warnings({"yes": [None], "no": [None] * calibration.FEW_RECORDINGS}, None)
    assert any("fewer than" in line and "yes" in line for line in lines)
    assert any("nothing will be answered <unknown>" in line for line in lines)


def test_a_one_word_vocabulary_is_warned_about_unless_negatives_are_given():
    cal = Calibration((1.0, 1.0), 0.0, 0.5, 0.05, expected_false_rejection=0.05, expected_false_acceptance=0.1)
    assert any("one word" in line for line in calibration.warnings({"go": [None] * 9}, cal))
    assert not calibration.warnings({"go": [None] * 9}, cal, n_negatives=20)
    accepting = Calibration((1.0, 1.0), 0.0, 0.0, 0.05, expected_false_rejection=0.0, expected_false_acceptance=1.0)
    assert any("rejects almost none" in line for line in calibration.warnings({"a": [None] * 9, "b": [None] * 9}, accepting))


def test_calibration_with_terms_and_new_voices_round_trips_and_checks_fields():
    new = Calibration((0.6,), -4.3, 0.3, 0.0225, terms=("margin",), expected_false_rejection=0.02,
                      expected_false_acceptance=0.1)
    cal = Calibration((0.05, 0.27), -6.2, 0.79, 0.05, expected_false_rejection=0.03, expected_false_acceptance=0.01,
                      new_voices=new)
    assert calibration_from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    # Files from before: no terms (llr and margin), no rates, no new-voices calibration.
    old = {k: v for k, v in cal.to_dict().items() if k in ("coef", "intercept", "threshold", "target_false_rejection")}
    assert calibration_from_dict(old) == Calibration((0.05, 0.27), -6.2, 0.79, 0.05)
    for change, field in (
        ({"terms": ["llr", "pitch"]}, "calibration.terms"),
        ({"terms": ["margin"]}, "calibration.coef"),
        ({"expected_false_acceptance": 1.5}, "calibration.expected_false_acceptance"),
        ({"new_voices": dict(new.to_dict(), coef=[1, 2])}, "calibration.new_voices.coef"),
        ({"new_voices": dict(new.to_dict(), new_voices=new.to_dict())}, "calibration.new_voices.new_voices"),
    ):
        with pytest.raises(WordrecError, match=field.replace(".", r"\.")):
            calibration_from_dict(dict(cal.to_dict(), **change))


@pytest.fixture(scope="module")
def corpus_with_negatives(tmp_path_factory):
    root = make_tone_corpus(tmp_path_factory.mktemp("negatives") / "data", n_per_word=8)
    for k in range(6):
        write_wav(root / "_unknown_" / f"other_{k}.wav", np.concatenate([tone([2600], 0.2, seed=k), tone([400], 0.3, seed=k)]))
    write_wav(root / "_background_noise_" / "hiss.wav", 0.01 * np.random.default_rng(1).standard_normal(8000 * 4))
    return root


def test_negative_folders_are_no_words_and_train_reports_its_operating_points(corpus_with_negatives, tmp_path):
    out = tmp_path / "m.model"
    result = CliRunner().invoke(cli, ["train", str(corpus_with_negatives), "-o", str(out), "-q", "-j", "1",
                                      "--states", "3", "--mix", "2"])
    assert result.exit_code == 0, result.output
    model = json.loads(out.read_text())
    assert model["words"] == ["high", "low", "mid"]
    cal = model["calibration"]
    assert 0.0 <= cal["expected_false_rejection"] <= 1.0 and 0.0 <= cal["expected_false_acceptance"] <= 1.0
    assert cal["new_voices"]["terms"] == ["margin"]
    assert "Rejection for voices like the training ones (default): threshold" in result.stderr
    assert "Rejection for new voices (--new-voices): threshold" in result.stderr
    assert "_unknown_" not in result.stdout  # no summary line: it is no word


def test_negatives_change_the_calibration(corpus_with_negatives, tmp_path):
    words_only = tmp_path / "words"
    for w in ("high", "low", "mid"):
        (words_only / w).mkdir(parents=True)
        for p in (corpus_with_negatives / w).iterdir():
            (words_only / w / p.name).symlink_to(p)
    models = {}
    for name, args in (("plain", [str(words_only)]), ("dir", [str(words_only), "--negatives", str(corpus_with_negatives / "_unknown_")]),
                       ("folder", [str(corpus_with_negatives)])):
        models[name] = tmp_path / f"{name}.model"
        result = CliRunner().invoke(cli, ["train", *args, "-o", str(models[name]), "-q", "-j", "1", "--states", "3", "--mix", "2"])
        assert result.exit_code == 0, result.output
    cals = {k: json.loads(v.read_text())["calibration"] for k, v in models.items()}
    assert cals["dir"]["coef"] != cals["plain"]["coef"]
    assert cals["folder"]["coef"] != cals["plain"]["coef"]


def test_one_word_vocabulary_warns(tmp_path):
    root = make_tone_corpus(tmp_path / "data", n_per_word=6)
    for w in ("low", "mid"):
        for p in (root / w).iterdir():
            p.unlink()
        (root / w).rmdir()
    result = CliRunner().invoke(cli, ["train", str(root), "-o", str(tmp_path / "one.model"), "-q", "-j", "1", "--states", "3", "--mix", "2"])
    assert result.exit_code == 0, result.output
    assert "Warning: one word in the vocabulary" in result.stderr


def test_eval_and_recognize_answer_at_the_operating_point_asked_for(corpus_with_negatives, tmp_path):
    model = tmp_path / "m.model"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", str(corpus_with_negatives), "-o", str(model), "-q", "-j", "1", "--states", "3", "--mix", "2"])
    assert result.exit_code == 0, result.output
    cal = json.loads(model.read_text())["calibration"]
    oov = corpus_with_negatives / "_unknown_"
    words = tmp_path / "words"
    for w in ("high", "low", "mid"):
        (words / w).mkdir(parents=True)
        (words / w / "a.wav").symlink_to(corpus_with_negatives / w / f"{w}_0.wav")
    reports = {}
    for flag, key in (("--new-voices", "new_voices"), ("--known-voices", "known_voices")):
        done = runner.invoke(cli, ["eval", "-m", str(model), str(words), "--oov", str(oov), "--json", flag])
        assert done.exit_code == 0, done.output
        reports[key] = json.loads(done.stdout)
        assert reports[key]["operating_point"] == key
    assert reports["new_voices"]["threshold"] == cal["new_voices"]["threshold"]
    assert reports["known_voices"]["threshold"] == cal["threshold"]
    usage = runner.invoke(cli, ["eval", "-m", str(model), str(words), "--new-voices"])
    assert usage.exit_code == 2 and "--oov" in usage.stderr
    files = [str(p) for p in sorted(words.glob("*/*.wav"))]
    answers = {flag: json.loads(runner.invoke(cli, ["recognize", "-m", str(model), "--json", flag, *files]).stdout)
               for flag in ("--new-voices", "--known-voices")}
    assert [a["confidence"] for a in answers["--new-voices"]] != [a["confidence"] for a in answers["--known-voices"]]


def _flat(cal) -> list:
    """A calibration's numbers, its new-voices one's after them."""
    out = [*cal.coef, cal.intercept, cal.threshold]
    return out + (_flat(cal.new_voices) if cal.new_voices is not None else [])


def test_the_api_takes_negatives_and_the_operating_point(corpus_with_negatives):
    from wordrec import Recognizer

    words = [w for w in ("high", "low", "mid") for _ in range(8)]
    recs = [corpus_with_negatives / w / f"{w}_{k}.wav" for w in ("high", "low", "mid") for k in range(8)]
    negatives = sorted((corpus_with_negatives / "_unknown_").glob("*.wav"))
    options = dict(n_states=3, n_mix=2, jobs=1)
    plain = Recognizer(**options).fit(recs, words)
    taught = Recognizer(**options).fit(recs, words, negatives=negatives)
    # The same negatives as a word named like a negatives folder: the same model.
    labelled = Recognizer(**options).fit(recs + negatives, words + ["_unknown_"] * len(negatives))
    assert taught.model_.calibration != plain.model_.calibration
    # Features are computed in batches, so the two differ in the last bits
    # (1e-14), which the calibration's optimiser may carry to about 1e-4.
    assert _flat(labelled.model_.calibration) == pytest.approx(_flat(taught.model_.calibration), rel=1e-2, abs=1e-3)
    assert labelled.words_ == ["high", "low", "mid"]
    known = [r.confidence for r in taught.recognize(recs[:4], new_voices=False)]
    new = [r.confidence for r in taught.recognize(recs[:4], new_voices=True)]
    assert known != new
    from wordrec.core.defaults import NEW_VOICES_BY_DEFAULT

    assert taught.predict(recs[:4]) == [r.word for r in taught.recognize(recs[:4], new_voices=NEW_VOICES_BY_DEFAULT)]
    assert taught.threshold_ == (taught.model_.calibration.new_voices if NEW_VOICES_BY_DEFAULT else taught.model_.calibration).threshold
    with pytest.raises(WordrecError, match="reject"):
        Recognizer(reject=False, **options).fit(recs, words, negatives=negatives)


def test_the_listener_and_listen_answer_at_the_operating_point_asked_for(corpus_with_negatives, tmp_path):
    from wordrec import Listener

    model = tmp_path / "m.model"
    result = CliRunner().invoke(cli, ["train", str(corpus_with_negatives), "-o", str(model), "-q", "-j", "1", "--states", "3", "--mix", "2"])
    assert result.exit_code == 0, result.output
    pause = np.zeros(4000)
    take = np.concatenate([pause, tone([800], 0.27, seed=5), tone([1100], 0.26, seed=6), pause])
    conf = {}
    for new in (True, False):
        found = Listener(str(model), new_voices=new, reject=False).listen([take], 8000)
        conf[new] = [d.confidence for d in found]
    assert len(conf[True]) == 1 and conf[True] != conf[False]
    path = write_wav(tmp_path / "take.wav", take)
    lines = {flag: CliRunner().invoke(cli, ["listen", "-m", str(model), "--input", str(path), "--no-reject", "-q", flag]).stdout
             for flag in ("--new-voices", "--known-voices")}
    assert [float(line.split("\t")[-1]) for line in lines["--new-voices"].splitlines()] == pytest.approx(conf[True], abs=1e-3)
    assert [float(line.split("\t")[-1]) for line in lines["--known-voices"].splitlines()] == pytest.approx(conf[False], abs=1e-3)
