import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import tone, train_tone_model, write_wav
from synthetic import forward_word

from wordrec.cli import cli
from wordrec.core import adapt
from wordrec.core.features import FeatureConfig
from wordrec.core.gmm import logsumexp
from wordrec.core.model import ModelSet, WordModel
from wordrec.core.score import score
from wordrec.errors import WordrecError


def _log_gauss(x, mean, var):
    return -0.5 * np.sum(np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def test_mean_statistics_equal_brute_force_over_paths_and_gaussians(rng):
    wm = forward_word(rng, "w")
    seqs = [rng.normal(size=(n, 2)) for n in (3, 5, 4)]
    n_states, n_mix, _ = wm.means.shape
    occ_ref = np.zeros((n_states, n_mix))
    sums_ref = np.zeros(wm.means.shape)
    for x in seqs:
        # Every (state, Gaussian) sequence, weighted by its joint probability with x.
        joint = []
        for states in itertools.product(range(n_states), repeat=len(x)):
            for mixes in itertools.product(range(n_mix), repeat=len(x)):
                lp = np.log(wm.startprob[states[0]]) if wm.startprob[states[0]] > 0 else -np.inf
                for t, (s, m) in enumerate(zip(states, mixes)):
                    if t:
                        lp += np.log(wm.transmat[states[t - 1], s]) if wm.transmat[states[t - 1], s] > 0 else -np.inf
                    lp += np.log(wm.weights[s, m]) + _log_gauss(x[t], wm.means[s, m], wm.variances[s, m])
                if not wm.final[states[-1]]:
                    lp = -np.inf
                joint.append((lp, states, mixes))
        total = logsumexp(np.array([j[0] for j in joint]), 0)
        for lp, states, mixes in joint:
            p = np.exp(lp - total)
            for t, (s, m) in enumerate(zip(states, mixes)):
                occ_ref[s, m] += p
                sums_ref[s, m] += p * x[t]
    occ, sums = adapt.mean_statistics(wm, seqs)
    np.testing.assert_allclose(occ, occ_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sums, sums_ref, rtol=1e-9, atol=1e-12)
    # Posteriors sum to one at every frame.
    assert occ.sum() == pytest.approx(sum(len(x) for x in seqs), rel=1e-12)


def test_map_means_interpolates_between_prior_and_data(rng):
    wm = forward_word(rng, "w")
    seqs = [rng.normal(loc=3.0, size=(n, 2)) for n in (6, 9)]
    occ, sums = adapt.mean_statistics(wm, seqs)
    for prior in (0.5, 10.0):
        new = adapt.map_means(wm, seqs, prior)
        expected = (prior * wm.means + sums) / (prior + occ)[:, :, None]
        np.testing.assert_allclose(new.means, expected, rtol=1e-12)
        for key in ("weights", "variances", "transmat", "startprob"):
            np.testing.assert_array_equal(getattr(new, key), getattr(wm, key))
    # A prior worth far more frames than the data keeps the means.
    np.testing.assert_allclose(adapt.map_means(wm, seqs, 1e12).means, wm.means, atol=1e-9)
    # No data: nothing moves.
    np.testing.assert_array_equal(adapt.map_means(wm, [], 10.0).means, wm.means)


def test_a_degenerate_model_adapts_without_warnings_or_nans(rng):
    # Variances at the loader's 1e-30 floor and far-off means overflow in the
    # posteriors: those recordings are left out, quietly.
    import dataclasses
    import warnings

    wm = forward_word(rng, "w")
    wm = dataclasses.replace(wm, variances=np.full_like(wm.variances, 1e-30), means=wm.means * 1e10)
    seqs = [rng.normal(size=(n, 2)) for n in (6, 9)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        occ, sums = adapt.mean_statistics(wm, seqs)
        new = adapt.map_means(wm, seqs, 10.0)
    assert np.isfinite(occ).all() and np.isfinite(sums).all() and np.isfinite(new.means).all()


def test_adaptation_never_lowers_the_likelihood_of_its_data(rng):
    # MAP-EM: the prior term is largest at the old means, so the likelihood
    # of the adaptation data cannot fall.
    for trial in range(5):
        wm = forward_word(rng, "w", n_states=3, n_mix=3, dim=3)
        seqs = [rng.normal(loc=rng.normal(), size=(n, 3)) for n in rng.integers(4, 15, size=6)]
        models = ModelSet(FeatureConfig(), (wm,))
        before = score(models, seqs).sum()
        after = score(ModelSet(FeatureConfig(), (adapt.map_means(wm, seqs, 5.0),)), seqs).sum()
        assert after >= before - 1e-9 * abs(before), trial


def _two_words():
    def word(name, centre):
        return WordModel(
            name, np.array([1.0]), np.array([[1.0]]), np.array([True]), np.array([[1.0]]),
            np.array([[[centre, 0.0]]]), np.ones((1, 1, 2)),
        )

    return ModelSet(FeatureConfig(), (word("a", 0.0), word("b", 2.0)))


def _shifted_speaker(rng, n=40, shift=0.9):
    """Recordings of 'a' and 'b' from a voice that moves every frame by +shift on the first axis."""
    feats, labels = [], []
    for k in range(n):
        word, centre = ("a", 0.0) if k % 2 == 0 else ("b", 2.0)
        offset = np.array([centre + shift + 0.2 * rng.standard_normal(), 0.0])
        feats.append(offset + rng.standard_normal((20, 2)))
        labels.append(word)
    return feats, labels


def _accuracy(models, feats, labels, scores=None):
    scores = score(models, feats) if scores is None else scores
    return np.mean([models.words[j] == w for j, w in zip(scores.argmax(axis=1), labels)])


def test_unsupervised_adaptation_recovers_a_shifted_voice(rng):
    models = _two_words()
    feats, labels = _shifted_speaker(rng)
    first = score(models, feats)
    before = _accuracy(models, feats, labels, first)
    adapted, scores, answers = adapt.adapt_unsupervised(models, feats, first, adapt.AdaptConfig(prior=10.0, rounds=3))
    after = _accuracy(adapted, feats, labels, scores)
    assert before < 0.85 and after > 0.95, (before, after)
    np.testing.assert_allclose(scores, score(adapted, feats))
    # The answers it adapted on are the adapted models' own (it stopped because they settled).
    np.testing.assert_array_equal(answers, scores.argmax(axis=1))
    # Every round starts from the trained means: the result is the trained
    # models adapted once on the final answers, not adaptation piled on adaptation.
    once = adapt.adapt_supervised(models, feats, [models.words[a] for a in answers], adapt.AdaptConfig(prior=10.0))
    for a, b in zip(once.models, adapted.models):
        np.testing.assert_allclose(a.means, b.means, rtol=1e-12)


def test_recordings_left_out_of_use_do_not_move_the_models(rng):
    models = _two_words()
    feats, labels = _shifted_speaker(rng)
    first = score(models, feats)
    none, scores, answers = adapt.adapt_unsupervised(models, feats, first, adapt.AdaptConfig(), use=np.zeros(len(feats), bool))
    for a, b in zip(none.models, models.models):
        np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(scores, first)
    assert np.all(answers == -1)


def test_supervised_adaptation_moves_only_the_words_it_has_recordings_for(rng):
    models = _two_words()
    feats, labels = _shifted_speaker(rng)
    only_a = [(f, w) for f, w in zip(feats, labels) if w == "a"] + [(feats[1], "zebra")]
    adapted = adapt.adapt_supervised(models, [f for f, _ in only_a], [w for _, w in only_a])
    assert adapted.models[0].means[0, 0, 0] > 0.8  # 'a' moved to the voice
    np.testing.assert_array_equal(adapted.models[1].means, models.models[1].means)  # 'b' kept its mean
    assert _accuracy(adapted, feats, labels) > _accuracy(models, feats, labels)


@pytest.mark.parametrize("prior, rounds", [(0.0, 3), (float("nan"), 3), (10.0, 0), (10.0, 1.5)])
def test_bad_settings_are_refused(prior, rounds):
    with pytest.raises(WordrecError):
        adapt.AdaptConfig(prior, rounds).validated()


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    data, model, _ = train_tone_model(tmp_path_factory.mktemp("adapt"))
    return data, model


def _other_voice(root):
    """The tone words 4 % higher and a little longer: a voice the model has not heard."""
    words = {"low": (300, 500), "mid": (800, 1100), "high": (1500, 2100)}
    for w, (f1, f2) in words.items():
        for k in range(4):
            a = tone([1.04 * f1], 0.3 + 0.02 * k, seed=50 + k)
            b = tone([1.04 * f2], 0.3 + 0.01 * k, seed=150 + k)
            write_wav(root / w / f"{w}_{k}.wav", np.concatenate([a, b]))
    return root


def test_recognize_and_eval_with_adapt(tones, tmp_path):
    data, model = tones
    other = _other_voice(tmp_path / "other")
    # --no-reject: every answer adapts (with rejection, only the accepted ones).
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), "--adapt", "--no-reject", "--json", "-q", str(other)])
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    assert len(answers) == 12 and all(a["word"] == a["path"].split("/")[-2] for a in answers)
    # The adapted models scored them: together, each word's recordings fit
    # its adapted model better than the trained one (MAP-EM cannot lower it).
    plain = json.loads(CliRunner().invoke(cli, ["recognize", "-m", str(model), "--no-reject", "--json", "-q", str(other)]).stdout)
    assert [a["path"] for a in plain] == [a["path"] for a in answers]
    for word in ("low", "mid", "high"):
        adapted_total = sum(a["log_lik"] for a in answers if a["word"] == word)
        plain_total = sum(p["log_lik"] for p in plain if p["word"] == word)
        assert adapted_total > plain_total + 1.0, word
    result = CliRunner().invoke(cli, ["eval", "-m", str(model), str(data), "--adapt", "--json", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0
    args = ["eval", str(data), "--folds", "3", "--states", "3", "--mix", "2", "-j", "1", "--adapt", "--json", "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert rep["adapted"] is True and rep["n_files"] == 18


def test_adapt_with_segment_is_a_usage_error(tones):
    data, model = tones
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), "--adapt", "--segment", str(data / "low" / "low_0.wav")])
    assert result.exit_code == 2 and "--adapt" in result.output


def test_adapt_command_writes_an_adapted_model_and_names_what_it_skipped(tones, tmp_path):
    data, model = tones
    manifest = tmp_path / "mine.tsv"
    manifest.write_text(
        f"{data / 'low' / 'low_0.wav'}\tlow\n{data / 'low' / 'low_1.wav'}\tlow\n"
        f"{data / 'mid' / 'mid_0.wav'}\tmid\n{data / 'high' / 'high_0.wav'}\tloud\n"
    )
    out = tmp_path / "mine.model"
    result = CliRunner().invoke(cli, ["adapt", "-m", str(model), str(manifest), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "high_0.wav: word 'loud' is not one of the model's words" in result.stderr
    assert result.stdout.splitlines() == ["word\trecordings", "high\t0", "low\t2", "mid\t1"]
    before, after = json.loads(model.read_text()), json.loads(out.read_text())
    assert after["training"]["adaptation"] == [{"prior": 10.0, "labelled": True, "recordings": {"high": 0, "low": 2, "mid": 1}}]
    means = {w: (b["means"], a["means"]) for w, b, a in zip(before["words"], before["models"], after["models"])}
    assert means["high"][0] == means["high"][1]
    assert means["low"][0] != means["low"][1] and means["mid"][0] != means["mid"][1]
    result = CliRunner().invoke(cli, ["eval", "-m", str(out), str(data), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["accuracy"] == 1.0


def test_adapt_command_writes_nothing_when_no_recording_is_usable(tones, tmp_path):
    data, model = tones
    manifest = tmp_path / "none.tsv"
    manifest.write_text(f"{data / 'low' / 'low_0.wav'}\tlouder\n")
    out = tmp_path / "none.model"
    result = CliRunner().invoke(cli, ["adapt", "-m", str(model), str(manifest), "-o", str(out), "-q"])
    assert result.exit_code == 1 and not out.exists()
    assert isinstance(result.exception, SystemExit)  # a handled error, not a crash
    assert "Error: none of the recordings is usable for adaptation" in result.stderr


def test_adapt_unlabelled_adapts_each_word_on_the_recordings_recognised_as_it(tones, tmp_path):
    data, model = tones
    out = tmp_path / "voice.model"
    result = CliRunner().invoke(cli, ["adapt", "-m", str(model), "--unlabelled", str(data / "low"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())["training"]["adaptation"][-1]
    assert record["labelled"] is False
    assert record["recordings"]["low"] >= 5 and sum(record["recordings"].values()) <= 6
    before, after = json.loads(model.read_text()), json.loads(out.read_text())
    moved = {w: b["means"] != a["means"] for w, b, a in zip(before["words"], before["models"], after["models"])}
    assert moved["low"] and not moved["high"]


def test_adapt_unlabelled_without_speech_writes_nothing(tones, tmp_path):
    _, model = tones
    write_wav(tmp_path / "quiet" / "q.wav", np.zeros(8000))
    out = tmp_path / "quiet.model"
    result = CliRunner().invoke(cli, ["adapt", "-m", str(model), "--unlabelled", str(tmp_path / "quiet"), "-o", str(out), "-q"])
    assert result.exit_code == 1 and not out.exists(), result.output
    assert isinstance(result.exception, SystemExit)
    assert "q.wav" in result.stderr and "Error: none of the recordings is usable" in result.stderr


def test_adapt_help_states_the_default_prior_of_adapt_config():
    # The CLI default is written out (no numpy import for --help); it must be the library's.
    from wordrec.cli import adapt as command

    prior = next(p for p in command.params if p.name == "prior")
    assert prior.default == adapt.AdaptConfig().prior


def test_adapt_names_recordings_too_short_or_without_speech_and_leaves_them_out(tones, tmp_path):
    data, model = tones
    rng = np.random.default_rng(3)
    write_wav(tmp_path / "mine" / "low" / "blip.wav", 0.3 * rng.standard_normal(80))  # 10 ms
    write_wav(tmp_path / "mine" / "mid" / "hiss.wav", 1e-3 * rng.standard_normal(16000))  # steady hiss, no speech
    (tmp_path / "mine" / "low" / "low_0.wav").write_bytes((data / "low" / "low_0.wav").read_bytes())
    out = tmp_path / "mine.model"
    result = CliRunner().invoke(cli, ["adapt", "-m", str(model), str(tmp_path / "mine"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "blip.wav: too short for the model of 'low'" in result.stderr
    assert "hiss.wav: no speech found" in result.stderr
    assert result.stdout.splitlines() == ["word\trecordings", "high\t0", "low\t1", "mid\t0"]


def test_adapt_refuses_a_prior_that_is_not_a_number(tones, tmp_path):
    data, model = tones
    for bad in ("nan", "inf", "0", "-1"):
        result = CliRunner().invoke(cli, ["adapt", "-m", str(model), str(data), "-o", str(tmp_path / "x.model"), "--prior", bad])
        assert result.exit_code == 2 and "--prior" in result.output, bad
        assert not (tmp_path / "x.model").exists()
