"""The causal endpointer on synthetic streams with known answers."""

import numpy as np
import pytest
from synthetic import STEADY, burst_take, steady_signal

from wordrec.core import endpoint, vad, vad_rule
from wordrec.core.endpoint import Endpointer
from wordrec.core.features import FeatureConfig

CFG = FeatureConfig()
TOL = 0.03  # seconds: frames are 25 ms long every 10 ms


def _bursts(rng, seconds, start=0.4):
    out, t = [], start
    while t < seconds - 1.0:
        d = rng.uniform(0.1, 0.7)
        out.append((t, t + d))
        t += d + rng.uniform(0.3, 1.5)
    return out


def _run(x, rate, block_sizes, cfg=CFG, **kw):
    """Regions of ``x`` pushed in blocks whose sizes cycle through ``block_sizes``; also the most samples held."""
    ep = Endpointer(rate, cfg, **kw)
    out, pos, k, held = [], 0, 0, 0
    while pos < len(x):
        n = block_sizes[k % len(block_sizes)]
        out += ep.push(x[pos : pos + n])
        pos, k = pos + n, k + 1
        held = max(held, ep.n_held)
    return out + ep.flush(), held


def _spans(regions, rate):
    return [(r.speech_start / rate, r.speech_end / rate) for r in regions]


def _assert_regions(found, truth, tol=TOL):
    assert len(found) == len(truth), (found, truth)
    for (a, b), (ta, tb) in zip(found, truth):
        assert abs(a - ta) <= tol and abs(b - tb) <= tol, (found, truth)


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
@pytest.mark.parametrize("noise_db", [-60, -35])
@pytest.mark.parametrize("kind", ["white", "pink"])
def test_bursts_in_noise_are_found(rng, rate, noise_db, kind):
    truth = _bursts(rng, 12.0)
    x = burst_take(rng, rate, truth, 12.0, 10 ** (noise_db / 20), kind=kind)
    found, _ = _run(x, rate, [rate // 50])
    _assert_regions(_spans(found, rate), truth)


def test_same_regions_as_the_look_ahead_detector(rng):
    rate = 16000
    truth = _bursts(rng, 40.0)
    x = burst_take(rng, rate, truth, 40.0, 0.002)
    found, _ = _run(x, rate, [4000])
    offline = vad.speech_regions(x, rate, CFG)
    _assert_regions(_spans(found, rate), offline, tol=0.011)


@pytest.mark.parametrize("rate", [8000, 44100])
def test_regions_do_not_depend_on_the_block_sizes(rng, rate):
    truth = _bursts(rng, 20.0)
    # A background that moves, so that the floor changes between steps.
    x = burst_take(rng, rate, truth, 20.0, 0.001) * np.linspace(1.0, 2.0, int(20.0 * rate))
    runs = {}
    for name, sizes in {
        "1 sample": [1], "1 ms": [rate // 1000], "20 ms": [rate // 50], "1 s": [rate],
        "mixed": [1, 7, rate // 3, 80, 5000, 3, rate],
    }.items():
        if name == "1 sample":
            sizes, x_used = [1], x[: 3 * rate]  # a Python call per sample: keep it short
            found, _ = _run(x_used, rate, sizes)
            ref, _ = _run(x_used, rate, [rate])
            assert [tuple(r[:2]) + tuple(r[3:]) for r in found] == [tuple(r[:2]) + tuple(r[3:]) for r in ref]
            continue
        runs[name], _ = _run(x, rate, sizes)
    ref = runs.pop("1 s")
    _assert_regions(_spans(ref, rate), truth)
    for name, found in runs.items():
        assert [(r.start, r.end, r.speech_start, r.speech_end) for r in found] == \
               [(r.start, r.end, r.speech_start, r.speech_end) for r in ref], name
        for a, b in zip(found, ref):
            np.testing.assert_array_equal(a.samples, b.samples)


def test_floor_follows_a_slowly_rising_background(rng):
    # The causal floor lags a rising background by about 90 % of its window
    # (its 10th percentile); 25 dB a minute leaves the pauses 2 dB under the offset.
    rate, seconds = 8000, 60.0
    truth = [(t, t + 0.4) for t in np.arange(1.0, 59.0, 2.0)]
    x = burst_take(rng, rate, truth, seconds, 1.0)
    x *= 0.001 * 10 ** (np.linspace(0, 25, len(x)) / 20)
    for a, b in truth:
        i, j = int(a * rate), int(b * rate)
        x[i:j] += 0.2 * np.sin(2 * np.pi * 700 * np.arange(j - i) / rate)
    found, _ = _run(x, rate, [800])
    _assert_regions(_spans(found, rate), truth)


def test_region_samples_are_the_stream_with_margins(rng):
    rate = 8000
    truth = [(0.6, 1.0), (2.0, 2.5)]
    x = burst_take(rng, rate, truth, 3.5, 0.001)
    found, _ = _run(x, rate, [160])
    assert len(found) == 2
    margin = int(CFG.vad_margin * rate)
    for r in found:
        np.testing.assert_array_equal(r.samples, x[r.start : r.end])
        assert abs((r.speech_start - r.start) - margin) <= 80 and abs((r.end - r.speech_end) - margin) <= 80


def test_margins_stop_halfway_between_close_sounds(rng):
    rate = 8000
    truth = [(1.2, 1.5), (1.67, 2.0)]
    cfg = FeatureConfig(vad_margin=0.12)  # wider than half the pause
    x = burst_take(rng, rate, truth, 3.0, 0.001)
    found, _ = _run(x, rate, [160], cfg)
    assert len(found) == 2
    assert found[0].end <= found[1].start <= found[0].end + 80
    assert found[0].end - found[0].speech_end < cfg.vad_margin * rate


@pytest.mark.parametrize("signal", STEADY)
def test_steady_signals_have_no_regions(rng, signal):
    rate, n = 16000, 16000 * 20
    x = steady_signal(rng, signal, rate, n)
    found, _ = _run(x, rate, [320])
    assert found == []


def test_a_stream_that_starts_with_a_word_finds_it(rng):
    # The warm-up floor is that of the first second, the pause after the word included.
    rate = 8000
    truth = [(0.0, 0.45), (1.5, 1.9)]
    x = burst_take(rng, rate, truth, 3.0, 0.001)
    found, _ = _run(x, rate, [160])
    _assert_regions(_spans(found, rate), truth)


def test_decisions_wait_only_for_the_end_of_the_word(rng):
    # A region comes out once the pause after it is long enough, long before
    # the stream ends, and never before the word has ended.
    rate = 8000
    truth = [(3.0, 3.5)]
    x = burst_take(rng, rate, truth, 30.0, 0.001)
    ep = Endpointer(rate, CFG)
    when = None
    for pos in range(0, len(x), 80):
        if ep.push(x[pos : pos + 80]):
            when = (pos + 80) / rate
            break
    assert when is not None
    settle = max(CFG.vad_min_silence, 2 * CFG.vad_margin)
    # Plus the median's two frames of look-ahead, a frame's length and the gathering of small blocks.
    late = (2 + endpoint.GATHER) * vad_rule.HOP_SECONDS + vad_rule.FRAME_SECONDS
    assert 3.5 + settle - TOL <= when <= 3.5 + settle + late + TOL


def test_a_word_cut_off_by_the_end_of_the_stream_is_still_found(rng):
    rate = 8000
    x = burst_take(rng, rate, [(1.2, 2.0)], 2.5, 0.001)[: int(1.7 * rate)]
    found, _ = _run(x, rate, [160])
    assert len(found) == 1
    assert found[0].speech_start / rate == pytest.approx(1.2, abs=TOL)
    assert found[0].end == len(x)


@pytest.mark.parametrize("n", [0, 1, 100, 199, 200, 1000])
def test_very_short_streams(rng, n):
    x = 0.01 * rng.standard_normal(n)
    found, _ = _run(x, 8000, [max(n, 1)])
    assert found == []


def test_memory_stays_bounded_on_a_long_stream(rng):
    rate, seconds = 8000, 300
    truth = [(t, t + 0.5) for t in np.arange(1.0, seconds - 1, 1.7)]
    x = burst_take(rng, rate, truth, seconds, 0.002)
    ep = Endpointer(rate, CFG)
    found, held, frames = [], 0, 0
    for pos in range(0, len(x), 400):
        found += ep.push(x[pos : pos + 400])
        held, frames = max(held, ep.n_held), max(frames, ep.n_held_frames)
    found += ep.flush()
    assert len(found) == len(truth)
    # A word, its pause and margins: not the stream; the floor window's energies.
    assert held <= 2.0 * rate
    assert frames <= (endpoint.FLOOR_SECONDS + endpoint.FLOOR_STEP) / vad_rule.HOP_SECONDS + 10


@pytest.mark.parametrize("background", [0.0, 0.05])
def test_a_stream_of_nothing_holds_nothing(rng, background):
    rate = 8000
    ep = Endpointer(rate, CFG)
    held = 0
    for _ in range(300):
        assert ep.push(background * rng.standard_normal(rate)) == []
        held = max(held, ep.n_held)
    assert ep.flush() == []
    assert held <= rate


def test_endless_sound_is_cut_at_max_span_and_memory_stays_bounded(rng):
    rate = 8000
    syllables = [(t, t + 0.2) for t in np.arange(0.5, 79.4, 0.28)]  # pauses too short to end a region
    x = burst_take(rng, rate, syllables, 80.0, 0.001)
    found, held = _run(x, rate, [800], max_span=10.0)
    assert len(found) >= 7
    assert all(r.speech_end - r.speech_start <= 10.0 * rate for r in found)
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start
    assert found[0].speech_start / rate == pytest.approx(0.5, abs=TOL)
    assert found[-1].speech_end / rate == pytest.approx(syllables[-1][1], abs=TOL)
    assert held <= (10.0 + 1.0) * rate


def test_push_after_flush_is_refused():
    ep = Endpointer(8000, CFG)
    assert ep.flush() == []
    with pytest.raises(ValueError):
        ep.push(np.zeros(10))
    assert ep.flush() == []
