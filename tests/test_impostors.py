"""Impostors made from training features: splices, reversals, cuts, pieces."""

import numpy as np
import pytest

from wordrec.core import impostors
from wordrec.core.features import FeatureConfig, extract
from conftest import tone

CFG = FeatureConfig()


@pytest.fixture
def feats():
    """Features of three different tone pairs, as a word's recordings would be."""
    return [extract(np.concatenate([tone([f1], 0.3, seed=k), tone([f2], 0.25, seed=k + 9)]), CFG)
            for k, (f1, f2) in enumerate([(300, 900), (500, 1500), (700, 2100)])]


def test_undoing_and_redoing_the_mean_normalisation_is_exact(feats):
    for f in feats:
        np.testing.assert_allclose(impostors.normalised(impostors.unnormalised(f, CFG), CFG), f, atol=1e-9)


def test_the_undone_normalisation_has_the_utterance_mean_back(feats):
    # Half of the mean was subtracted: the features' mean is half the raw mean.
    f = feats[0]
    raw = impostors.unnormalised(f, CFG)
    np.testing.assert_allclose(raw[:, 1:].mean(axis=0), 2 * f[:, 1:].mean(axis=0), atol=1e-9)


def test_a_recording_spliced_with_itself_at_one_point_is_itself(feats):
    f = feats[1]
    np.testing.assert_allclose(impostors.splice(f, f, CFG, 0.5, 0.5), f, atol=1e-9)


def test_a_splice_takes_the_head_of_one_and_the_tail_of_the_other(feats):
    a, b = feats[0], feats[2]
    s = impostors.splice(a, b, CFG, 0.4, 0.6)
    head, tail = int(0.4 * len(a)), len(b) - int(0.6 * len(b))
    assert len(s) == head + tail
    # Up to the per-utterance shift, the frames are the parts' frames.
    raw_a, raw_b, raw_s = (impostors.unnormalised(x, CFG) for x in (a, b, s))
    np.testing.assert_allclose(raw_s[:head, 1:], raw_a[:head, 1:], atol=1e-9)
    np.testing.assert_allclose(raw_s[head:, 1:], raw_b[-tail:, 1:], atol=1e-9)
    assert s[:, 0].max() == 0.0  # energy relative to the loudest frame, as extraction gives it


def test_reversing_twice_is_the_identity_and_deltas_change_sign(feats):
    f = feats[0]
    r = impostors.reversal(f, CFG)
    np.testing.assert_allclose(impostors.reversal(r, CFG), f)
    n = CFG.n_ceps
    np.testing.assert_allclose(r[:, :n], f[::-1, :n])
    np.testing.assert_allclose(r[:, n : 2 * n], -f[::-1, n : 2 * n])
    np.testing.assert_allclose(r[:, 2 * n :], f[::-1, 2 * n :])


def test_a_cut_keeps_its_share_of_the_frames(feats):
    f = feats[2]
    head = impostors.cut(f, CFG, 0.5, head=True)
    tail = impostors.cut(f, CFG, 0.5, head=False)
    assert len(head) == len(tail) == round(0.5 * len(f))
    np.testing.assert_allclose(impostors.unnormalised(head, CFG)[:, 1:], impostors.unnormalised(f, CFG)[: len(head), 1:], atol=1e-9)


def test_make_splices_across_words_and_needs_no_second_word(feats):
    held_out = [(0, feats[0]), (1, feats[1]), (2, feats[2])]
    made = impostors.make(held_out, CFG, seed=3)
    assert len(made) == 3
    again = impostors.make(held_out, CFG, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(made, again))
    # One word: nothing to splice with, a reversal and a cut per recording.
    alone = impostors.make([(0, f) for f in feats], CFG, seed=3)
    assert len(alone) == 6
    np.testing.assert_allclose(alone[0], impostors.reversal(feats[0], CFG))


def test_long_recordings_are_cut_into_pieces_of_about_a_second():
    f = np.random.default_rng(0).normal(size=(360, CFG.n_features))
    parts = impostors.pieces(f, CFG, seconds=1.0)
    assert [len(p) for p in parts] == [100, 100, 100, 60]
    # A rest shorter than half a piece is dropped.
    assert [len(p) for p in impostors.pieces(f[:340], CFG)] == [100, 100, 100]
    short = f[:140]
    assert len(impostors.pieces(short, CFG)) == 1 and impostors.pieces(short, CFG)[0] is short
