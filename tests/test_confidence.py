import numpy as np
import pytest

from wordrec.core.confidence import (
    STEADY_FRACTION,
    Calibration,
    error_rates,
    evidence,
    fit_logistic,
    spectral_variation,
    steady_floor,
)
from wordrec.core.hmm import Batch, forward
from wordrec.core.openset import background_scores, top_two
from wordrec.core.train import TrainConfig, fit_word, variance_floor
from wordrec.errors import WordrecError
from wordrec.io.validate import calibration_from_dict


def test_evidence_is_per_frame_llr_and_margin():
    ev = evidence(np.array([-100.0, -50.0]), np.array([-110.0, -np.inf]), np.array([-120.0, -40.0]), np.array([10, 5]))
    np.testing.assert_allclose(ev[0], [2.0, 1.0])
    # One-word vocabulary: no runner-up, the background model is the runner-up (margin = llr).
    np.testing.assert_allclose(ev[1], [-2.0, -2.0])
    # Terms by name, in the order asked for.
    np.testing.assert_allclose(
        evidence(np.array([-100.0]), np.array([-110.0]), np.array([-120.0]), np.array([10]), ("margin", "llr")), [[1.0, 2.0]]
    )


def test_logistic_regression_matches_the_generating_model(rng):
    X = rng.normal(size=(4000, 2))
    true_w, true_b = np.array([2.0, -1.0]), 0.5
    p = 1 / (1 + np.exp(-(X @ true_w + true_b)))
    y = (rng.uniform(size=4000) < p).astype(float)
    # Equal class weighting shifts the intercept by log(n_neg / n_pos); undo it to compare.
    w, b = fit_logistic(X, y, l2=0.0)
    np.testing.assert_allclose(w, true_w, atol=0.25)
    assert abs(b - (true_b + np.log((1 - y).sum() / y.sum()))) < 0.25


def _raw(ev: np.ndarray) -> np.ndarray:
    """Raw rows (best, second, background, frames, best word, truth) whose llr and margin are ``ev``'s columns."""
    n = len(ev)
    return np.stack([np.zeros(n), -ev[:, 1], -ev[:, 0], np.ones(n), np.zeros(n), np.zeros(n)], axis=1)


def test_calibrated_threshold_meets_the_false_rejection_target(rng):
    from wordrec.core.calibration import fit

    ev_in = rng.normal(loc=[1.0, 1.0], size=(500, 2))
    ev_out = rng.normal(loc=[-1.0, -1.0], size=(500, 2))
    cal = fit(_raw(ev_in), _raw(ev_out), ("llr", "margin"), false_rejection=0.05)
    frr = (cal.confidence(ev_in) < cal.threshold).mean()
    assert frr <= 0.05
    assert frr >= 0.03  # and not far below it: the threshold is not simply 0
    assert (cal.confidence(ev_out) >= cal.threshold).mean() < 0.5
    assert calibration_from_dict(cal.to_dict()) == cal


def test_calibration_with_too_little_data_accepts_everything():
    from wordrec.core.calibration import HeldOut, accept_all, calibrate_both

    one = _raw(np.zeros((1, 2)))
    assert calibrate_both(HeldOut(one, one[:0], one[:0], one[:0])) is None
    assert accept_all(0.05).threshold == 0.0


def test_bad_calibration_fields_are_named():
    with pytest.raises(WordrecError, match="threshold"):
        calibration_from_dict({"coef": [1, 1], "intercept": 0, "threshold": 3, "target_false_rejection": 0.02})
    with pytest.raises(WordrecError, match="calibration"):
        calibration_from_dict({"coef": [1], "intercept": 0, "threshold": 0.5, "target_false_rejection": 0.02})


def test_error_rates_against_brute_force(rng):
    conf_in, conf_out = rng.uniform(0.3, 1.0, 60), rng.uniform(0.0, 0.7, 40)
    rates = error_rates(conf_in, conf_out)
    for pt in rates["points"][::7]:
        t = pt["threshold"]
        assert pt["false_rejection"] == pytest.approx((conf_in < t).mean())
        assert pt["false_acceptance"] == pytest.approx((conf_out >= t).mean())
    gaps = [abs(p["false_rejection"] - p["false_acceptance"]) for p in rates["points"]]
    best = rates["points"][int(np.argmin(gaps))]
    assert rates["eer"] == pytest.approx((best["false_rejection"] + best["false_acceptance"]) / 2)
    assert error_rates([0.9, 0.8], [0.1, 0.2])["eer"] == 0.0


def test_background_scores_equal_a_one_state_forward(rng):
    seqs = [rng.normal(size=(n, 3)) for n in (5, 9, 2)]
    cfg = TrainConfig(n_states=1, n_mix=3, topology="ergodic", max_iter=3)
    bg, _ = fit_word("<background>", seqs, cfg, variance_floor(seqs, 0.01))
    from wordrec.core.gmm import design, state_log_densities

    batch = Batch.of([len(s) for s in seqs])
    log_b, _ = state_log_densities(design(batch.stack(seqs)), bg.log_weights, bg.means, bg.variances)
    _, ll = forward(batch.pad(log_b), batch, bg.log_start, bg.log_trans, bg.log_end)
    expected = np.empty(3)
    expected[batch.order] = ll
    np.testing.assert_allclose(background_scores(bg, seqs), expected, rtol=1e-12)


def test_top_two_with_exclusion():
    scores = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 0.0]])
    idx, best, second = top_two(scores)
    assert idx.tolist() == [1, 0] and best.tolist() == [5.0, 4.0] and second.tolist() == [3.0, 2.0]
    idx, best, second = top_two(scores, exclude=np.array([1, 0]))
    assert idx.tolist() == [2, 1] and best.tolist() == [3.0, 2.0] and second.tolist() == [1.0, 0.0]


def test_spectral_variation_separates_a_steady_sound_from_a_changing_one(rng):
    from conftest import tone

    from wordrec.core.features import FeatureConfig, extract_many

    cfg = FeatureConfig.for_rate(8000)
    steady = tone([440, 880], 1.0)
    # The same energy, but the spectrum moves from one pair of tones to another and back.
    moving = np.concatenate([tone([300, 2300], 0.3), tone([700, 1200], 0.4, seed=1), tone([300, 2300], 0.3, seed=2)])
    var = spectral_variation(extract_many([steady, moving], cfg), cfg.n_ceps)
    assert var[1] > 2 * var[0] > 0
    # By hand: the standard deviation over frames of c1..c12, averaged.
    f = extract_many([moving], cfg)[0]
    assert var[1] == pytest.approx(np.mean([f[:, k].std() for k in range(1, cfg.n_ceps)]))


def test_recordings_below_the_variation_floor_get_no_confidence(rng):
    variation = rng.uniform(1.0, 20.0, size=2000)
    floor = steady_floor([np.column_stack([np.zeros(2), np.array([-v, v])]) for v in variation], n_ceps=2)
    # Two frames at -v and +v: a standard deviation of v.
    assert floor == pytest.approx(STEADY_FRACTION * np.quantile(variation, 0.01))
    cal = Calibration((1.0, 0.0), 0.0, 0.5, 0.02, min_variation=floor)
    conf = cal.confidence(np.array([[5.0, 0.0], [5.0, 0.0]]), np.array([floor * 0.99, floor * 1.01]))
    assert conf[0] == 0.0 and conf[1] > 0.99
    # Without the variation (or a floor of 0) nothing changes.
    assert cal.confidence(np.array([[5.0, 0.0]]))[0] > 0.99
    legacy = {k: v for k, v in cal.to_dict().items() if k != "min_variation"}
    assert calibration_from_dict(legacy).min_variation == 0.0
    assert calibration_from_dict(cal.to_dict()) == cal
    with pytest.raises(WordrecError, match="min_variation"):
        calibration_from_dict({**cal.to_dict(), "min_variation": -1.0})


def _two_far_words(rng):
    """Two one-state words of two-column frames far apart, a background model of both, and their recordings."""
    from wordrec.core.features import FeatureConfig
    from wordrec.core.model import ModelSet

    cfg = TrainConfig(n_states=1, n_mix=1, max_iter=2)
    a = [rng.normal(size=(8, 2)) for _ in range(4)]
    b = [rng.normal(size=(8, 2)) + 10.0 for _ in range(4)]
    floor = variance_floor(a + b, 0.01)
    models = ModelSet(FeatureConfig(), (fit_word("a", a, cfg, floor)[0], fit_word("b", b, cfg, floor)[0]))
    return models, fit_word("<background>", a + b, cfg, floor)[0], a, b


def test_held_out_in_vocabulary_evidence_keeps_only_correct_answers(rng):
    # Two one-state words far apart; a recording of "b" labelled "a" is a
    # held-out error: its all-but-own score stays an out-of-vocabulary
    # example, but it is no in-vocabulary one (rejecting a wrong answer is
    # no false rejection).
    from wordrec.core.calibration import right_answers
    from wordrec.core.features import FeatureConfig
    from wordrec.jobs.training import held_out_evidence

    models, background, a, b = _two_far_words(rng)
    test = [(0, a[0]), (1, b[0]), (0, b[1]), (1, a[1])]  # the last two are labelled wrong
    cfg = FeatureConfig(n_ceps=1, delta_order=0, energy_max_norm=False)  # two columns, as the arrays above
    data, near = held_out_evidence([models], [test], background, cfg)
    assert len(data.known) == 4 and len(right_answers(data.known)) == 2
    assert len(data.unknown) == 4 + 4  # all-but-own scores, and one splice per recording
    assert len(data.known_warped) == 0  # no speaker warp asked for
    np.testing.assert_array_equal(np.diag(near), [2, 2])
    expected = held_out_evidence([models], [test[:2]], background, cfg)[0].known
    np.testing.assert_allclose(right_answers(data.known), expected)


def test_many_negatives_are_scored_in_chunks_of_their_own_with_the_same_evidence(rng, monkeypatch):
    # More negatives than a chunk holds get chunks of their own (no held-out
    # recordings in them), so that no worker scores them all at once; every
    # negative is scored once, as in one chunk.  The background model scores
    # runs of frames, as it scores them all at once.
    from wordrec.core import openset
    from wordrec.core.features import FeatureConfig
    from wordrec.jobs import training

    models, background, a, b = _two_far_words(rng)
    test = [(0, a[0]), (1, b[0]), (0, a[1])]
    negatives = [rng.normal(size=(int(n), 2)) + 5.0 for n in rng.integers(3, 12, size=11)]
    fcfg = FeatureConfig(n_ceps=1, delta_order=0, energy_max_norm=False)
    whole, near = training.held_out_evidence([models], [test], background, fcfg, negatives)
    monkeypatch.setattr(training, "EVIDENCE_CHUNK", 3)
    monkeypatch.setattr(openset, "BACKGROUND_FRAMES", 10)
    scored = []  # (held-out recordings, negatives) of each task
    monkeypatch.setattr(training, "_fold_job", lambda task: scored.append((len(task[1]), len(task[4])))
                        or training.calib.fold_held_out(*task))
    cut, near_cut = training.held_out_evidence([models], [test], background, fcfg, negatives)
    assert scored == [(3, 3), (0, 3), (0, 3), (0, 2)]  # ceil(11 / 3) chunks; the recordings in the first
    np.testing.assert_array_equal(cut.known, whole.known)
    np.testing.assert_array_equal(near_cut, near)
    assert len(cut.unknown) == len(whole.unknown) == 3 + 3 + 11
    np.testing.assert_allclose(np.sort(cut.unknown, axis=0), np.sort(whole.unknown, axis=0), rtol=0, atol=1e-9)


def test_calibration_records_how_it_was_fitted_and_old_files_load():
    cal = Calibration((1.0, 0.5), -1.0, 0.3, 0.02, min_variation=4.0, speaker_warp=0.1, background_outlier=True)
    assert calibration_from_dict(cal.to_dict()) == cal
    # Files written before warped calibration and the shared outlier have neither field.
    legacy = {k: v for k, v in cal.to_dict().items() if k not in ("speaker_warp", "background_outlier")}
    old = calibration_from_dict(legacy)
    assert old.speaker_warp == 0.0 and old.background_outlier is False
    for key, bad in (("speaker_warp", -0.1), ("speaker_warp", 0.5), ("speaker_warp", "x"), ("background_outlier", 1)):
        with pytest.raises(WordrecError, match=key):
            calibration_from_dict({**cal.to_dict(), key: bad})


def test_background_scores_with_the_outlier_mixed_in(rng):
    from wordrec.core.gmm import design, state_log_densities
    from wordrec.core.model import Outlier

    seqs = [rng.normal(size=(n, 3)) for n in (6, 4)]
    cfg = TrainConfig(n_states=1, n_mix=2, topology="ergodic", max_iter=3)
    bg, _ = fit_word("<background>", seqs, cfg, variance_floor(seqs, 0.01))
    outlier = Outlier(0.01, np.zeros(3), np.full(3, 4.0))
    # A frame far from the background's Gaussians: the outlier bounds its cost.
    far = [np.vstack([seqs[0], np.full((1, 3), 40.0)])]
    with_outlier = background_scores(bg, seqs + far, outlier)
    X = np.vstack(seqs + far)
    log_b, _ = state_log_densities(design(X), bg.log_weights, bg.means, bg.variances)
    per_frame = np.logaddexp(np.log1p(-0.01) + log_b[:, 0], outlier.log_density(design(X)))
    bounds = np.cumsum([0, 6, 4, 7])
    np.testing.assert_allclose(with_outlier, [per_frame[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:])], rtol=1e-12)
    without = background_scores(bg, far)
    assert with_outlier[2] > without[0] + 100.0


def test_spectral_variation_counts_only_the_loud_frames(rng):
    # Clicks in near silence: two kinds of frame, each always alike.  Over
    # all frames that is a lot of change; over the loud ones, none.
    quiet = np.column_stack([np.full(40, -12.0), np.tile([3.0, -3.0, 1.0], (40, 1))])
    click = np.column_stack([np.zeros(6), np.tile([-2.0, 2.0, 0.5], (6, 1))])
    clicks = np.vstack([quiet[:10], click[:2], quiet[10:25], click[2:4], quiet[25:], click[4:]])
    assert spectral_variation([clicks], 4)[0] == 0.0
    assert np.mean(clicks[:, 1:4].std(axis=0)) > 1.0
    # A frame within 30 dB of the loudest one counts: ln(10) * 3 below it.
    edge = np.vstack([click[:1], [[-3.0 * np.log(10.0) + 1e-9, 2.0, -2.0, 0.5]]])
    assert spectral_variation([edge], 4)[0] == pytest.approx(np.mean(edge[:, 1:4].std(axis=0)))
    assert spectral_variation([edge - np.array([[0.0, 0, 0, 0], [1e-6, 0, 0, 0]])], 4)[0] == 0.0


@pytest.mark.parametrize(
    "bad",
    ["0.1", True, None, [0.1], 10**400, float("nan"), float("inf"), 2e30],
    ids=["string", "boolean", "null", "list", "huge integer", "NaN", "infinity", "beyond 1e30"],
)
@pytest.mark.parametrize(
    "key", ["coef", "intercept", "threshold", "target_false_rejection", "min_variation", "speaker_warp"]
)
def test_calibration_numbers_must_be_json_numbers_within_range(key, bad):
    """Strings and booleans were converted ("12" became the coefficients 1 and 2, true a threshold of 1)."""
    good = Calibration((1.0, 0.5), -1.0, 0.3, 0.02, min_variation=4.0, speaker_warp=0.1).to_dict()
    value = [bad, 0.5] if key == "coef" else bad
    with pytest.raises(WordrecError, match=rf"^field 'calibration\.{key}(\[0\])?': "):
        calibration_from_dict({**good, key: value})


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "coef", [(0.0, 1.0), (1.0, 1.0), (0.43, -0.02)], ids=["degenerate", "both positive", "trained"]
)
def test_a_recording_no_word_can_explain_gets_confidence_zero_without_nan(coef):
    """Too short for every model: llr -inf and margin +inf; 0 * -inf or -inf + inf made NaN (and a warning)."""
    ev = evidence(np.array([-np.inf, -10.0]), np.array([-np.inf, -12.0]), np.array([-5.0, -11.0]), np.array([1, 10]))
    cal = Calibration(coef, 0.3, 0.5, 0.02, min_variation=1.0)
    conf = cal.confidence(ev, np.array([5.0, 5.0]))
    z = coef[0] * 0.1 + coef[1] * 0.2 + 0.3
    np.testing.assert_allclose(conf, [0.0, 1.0 / (1.0 + np.exp(-z))], rtol=1e-12)


@pytest.mark.filterwarnings("error")
def test_recognising_a_too_short_file_with_a_model_from_one_recording_a_word_warns_nothing(tmp_path):
    """The reported case: one recording a word leaves the calibration degenerate (coefficients 0 and 1)."""
    from click.testing import CliRunner
    from conftest import make_tone_corpus, write_wav

    from wordrec.cli import cli
    from wordrec.io.modelfile import load

    data = make_tone_corpus(tmp_path / "data", n_per_word=1)
    path = tmp_path / "one.model"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", str(data), "-o", str(path), "--states", "3", "--mix", "1", "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert load(path).calibration.coef == (0.0, 1.0)
    short = write_wav(tmp_path / "short.wav", 0.1 * np.random.default_rng(0).standard_normal(160))
    good = data / "mid" / "mid_0.wav"
    result = runner.invoke(cli, ["recognize", "-m", str(path), str(good), str(short)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 3
    assert result.stdout.startswith(f"{good}\tmid\t")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {short}: too short to recognise"), result.stderr
