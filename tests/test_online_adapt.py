"""Online adaptation's sums: after any answers, the models of a batch MAP on the same answers."""

import numpy as np
import pytest
from synthetic import forward_word

from wordrec.core import adapt, online_adapt
from wordrec.core.features import FeatureConfig
from wordrec.core.model import ModelSet


@pytest.fixture
def models(rng):
    words = tuple(forward_word(rng, w, n_states=3, dim=3, centre=c) for w, c in (("a", 0.0), ("b", 2.0), ("c", -2.0)))
    return ModelSet(FeatureConfig(), words, background=forward_word(rng, "<background>", n_states=1, n_mix=4, dim=3))


def _answers(rng, n=12):
    """Recordings (n_frames, 3) and the word index each was answered with (word c never)."""
    feats = [rng.normal(loc=0.5, size=(int(rng.integers(4, 12)), 3)) for _ in range(n)]
    return feats, [int(rng.integers(2)) for _ in range(n)]


def _means(models):
    return [wm.means for wm in models.models] + [models.background.means]


def test_no_answers_leave_the_models_as_they_are(models):
    same = online_adapt.adapted(models, online_adapt.start(models))
    for a, b in zip(_means(same), _means(models)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("prior", [1.0, 10.0])
def test_answer_by_answer_equals_a_batch_map_on_the_same_answers(models, rng, prior):
    feats, answers = _answers(rng)
    stats = online_adapt.start(models)
    for f, j in zip(feats, answers):
        stats = online_adapt.add(models, stats, f, j)
    online = online_adapt.adapted(models, stats, prior)
    batch = adapt.adapt_supervised(models, feats, [models.words[j] for j in answers], adapt.AdaptConfig(prior=prior))
    for a, b in zip(_means(online), _means(batch)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # The word without answers keeps its means, and the counts say who adapted.
    np.testing.assert_array_equal(online.models[2].means, models.models[2].means)
    assert stats.counts == (answers.count(0), answers.count(1), 0) and stats.n_answers == len(feats)
    for key in ("weights", "variances", "transmat"):
        np.testing.assert_array_equal(getattr(online.models[0], key), getattr(models.models[0], key))


def test_the_order_of_the_answers_does_not_matter(models, rng):
    feats, answers = _answers(rng)
    forward, backward = online_adapt.start(models), online_adapt.start(models)
    for f, j in zip(feats, answers):
        forward = online_adapt.add(models, forward, f, j)
    for f, j in reversed(list(zip(feats, answers))):
        backward = online_adapt.add(models, backward, f, j)
    for a, b in zip(_means(online_adapt.adapted(models, forward)), _means(online_adapt.adapted(models, backward))):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_adding_leaves_the_earlier_sums_unchanged(models, rng):
    feats, answers = _answers(rng, n=2)
    first = online_adapt.add(models, online_adapt.start(models), feats[0], answers[0])
    kept = [o.copy() for o in first.occupancy]
    online_adapt.add(models, first, feats[1], answers[0])
    for a, b in zip(first.occupancy, kept):
        np.testing.assert_array_equal(a, b)


def test_without_a_background_model_only_the_words_adapt(models, rng):
    import dataclasses

    bare = dataclasses.replace(models, background=None)
    feats, answers = _answers(rng, n=3)
    stats = online_adapt.start(bare)
    for f, j in zip(feats, answers):
        stats = online_adapt.add(bare, stats, f, j)
    assert stats.background is None and online_adapt.adapted(bare, stats).background is None
