"""The voice-activity detector on synthetic signals with known answers."""

import numpy as np
import pytest
from synthetic import STEADY, burst_take, noise, steady_signal

from wordrec.core import vad, vad_rule
from wordrec.core.features import FeatureConfig
from wordrec.errors import WordrecError

CFG = FeatureConfig()
TOL = 0.03  # seconds: frames are 25 ms long every 10 ms


def _assert_regions(found, truth, tol=TOL):
    assert len(found) == len(truth), (found, truth)
    for (a, b), (ta, tb) in zip(found, truth):
        assert abs(a - ta) <= tol and abs(b - tb) <= tol, (found, truth)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("noise_db", [-70, -50, -35])
def test_tone_bursts_in_noise_are_found_at_every_rate_and_level(rng, rate, noise_db):
    truth = [(0.6, 1.0), (1.5, 1.8), (2.3, 3.1)]
    x = burst_take(rng, rate, truth, 3.8, 10 ** (noise_db / 20))
    _assert_regions(vad.speech_regions(x, rate, CFG), truth)


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_levels_are_relative_to_the_noise_floor(rng, kind):
    truth = [(0.5, 0.9), (1.4, 2.0)]
    x = burst_take(rng, 8000, truth, 2.6, 0.01, kind=kind)
    for gain in (1.0, 0.03, 3.0):
        _assert_regions(vad.speech_regions(x * gain, 8000, CFG), truth)


@pytest.mark.parametrize("signal", STEADY)
def test_no_speech_in_stationary_signals(rng, signal):
    rate, n = 16000, 16000 * 3
    x = steady_signal(rng, signal, rate, n)
    assert vad.speech_regions(x, rate, CFG) == []
    assert vad.trim(x, rate, CFG) is None


def test_short_noise_has_no_speech_and_shorter_than_min_speech_is_left_alone(rng):
    assert vad.trim(noise(rng, int(0.3 * 8000), 0.01), 8000, CFG) is None
    for n in (1, 80, int(CFG.vad_min_speech * 8000) - 1):
        x = noise(rng, n, 0.01) if n > 1 else np.array([0.3])
        assert np.array_equal(vad.trim(x, 8000, CFG), x)


def test_trimming_needs_a_background_clearly_below_the_speech(rng):
    x = burst_take(rng, 8000, [(0.6, 1.0)], 1.6, 0.003)  # the burst is about 30 dB above the noise
    assert len(vad.speech_regions(x, 8000, CFG)) == 1
    assert len(vad.trim(x, 8000, CFG)) < len(x)
    assert len(vad.trim(x, 8000, FeatureConfig(vad_trim_contrast_db=45.0))) == len(x)


def test_a_steady_tone_is_kept_noise_is_not(rng):
    # Level alone cannot tell a held vowel from a steady tone; flatness tells it from noise.
    t = np.arange(int(0.4 * 8000)) / 8000
    steady = 0.2 * (np.sin(2 * np.pi * 500 * t) + np.sin(2 * np.pi * 900 * t)) + noise(rng, len(t), 0.003)
    assert np.array_equal(vad.trim(steady, 8000, CFG), steady)
    assert vad_rule.flatness(steady, 8000) < vad_rule.TONAL_FLATNESS
    for kind in ("white", "pink"):
        hiss = noise(rng, len(t), 0.2, kind)
        assert vad_rule.flatness(hiss, 8000) > 5 * vad_rule.TONAL_FLATNESS
        assert vad.trim(hiss, 8000, CFG) is None


def test_clicks_are_not_speech(rng):
    x = noise(rng, 8000 * 3, 0.001)
    for k in range(1, 12):
        x[int(k * 0.25 * 8000)] = 0.9 * (-1) ** k
    assert vad.speech_regions(x, 8000, CFG) == []
    burst = burst_take(rng, 8000, [(1.1, 1.5)], 3.0, 0.0)
    _assert_regions(vad.speech_regions(x + burst, 8000, CFG), [(1.1, 1.5)])


def test_dc_offset_does_not_count(rng):
    truth = [(0.7, 1.2)]
    x = burst_take(rng, 8000, truth, 2.0, 0.001) + 0.3
    _assert_regions(vad.speech_regions(x, 8000, CFG), truth)


def test_short_pauses_are_bridged_long_ones_split(rng):
    short = burst_take(rng, 8000, [(0.5, 0.8), (0.88, 1.2)], 2.0, 0.001)
    _assert_regions(vad.speech_regions(short, 8000, CFG), [(0.5, 1.2)])
    long = burst_take(rng, 8000, [(0.5, 0.8), (1.1, 1.4)], 2.0, 0.001)
    _assert_regions(vad.speech_regions(long, 8000, CFG), [(0.5, 0.8), (1.1, 1.4)])


def test_bursts_shorter_than_the_minimum_speech_are_dropped(rng):
    x = burst_take(rng, 8000, [(0.5, 0.53), (1.2, 1.6)], 2.0, 0.001)
    _assert_regions(vad.speech_regions(x, 8000, CFG), [(1.2, 1.6)])


def test_trim_keeps_a_margin_around_the_speech(rng):
    x = burst_take(rng, 8000, [(0.8, 1.3)], 2.5, 0.001)
    seg = vad.Segmenter(8000, CFG)
    (region,) = seg.push(x) + seg.finish()
    assert region.start / 8000 == pytest.approx(0.8 - CFG.vad_margin, abs=TOL)
    assert region.end / 8000 == pytest.approx(1.3 + CFG.vad_margin, abs=TOL)
    np.testing.assert_array_equal(vad.trim(x, 8000, CFG), x[region.start : region.end])


def test_a_weak_word_edge_inside_the_margin_is_kept(rng):
    # A faint fricative-like hiss 60 ms before a loud vowel, below the offset level.
    x = noise(rng, 8000 * 2, 0.001)
    hiss = slice(int(0.74 * 8000), int(0.8 * 8000))
    x[hiss] += noise(rng, hiss.stop - hiss.start, 0.0015)
    x += burst_take(rng, 8000, [(0.8, 1.2)], 2.0, 0.0)
    kept = vad.trim(x, 8000, CFG)
    assert np.any(np.all(np.lib.stride_tricks.sliding_window_view(kept, hiss.stop - hiss.start) == x[hiss], axis=1))


def test_a_word_trimmed_to_its_edges_is_kept_whole(rng):
    # No background at all: the quietest frames are speech.  A glide from
    # 300 to 900 Hz at a steady level, and a pair of steady tones.
    t = np.arange(int(0.35 * 8000)) / 8000
    glide = 0.1 * np.sin(2 * np.pi * (300 * t + 0.5 * 600 / 0.35 * t**2))
    pair = np.concatenate([0.1 * np.sin(2 * np.pi * 300 * t), 0.1 * np.sin(2 * np.pi * 600 * t)])
    for word in (glide, pair):
        word = word + noise(rng, len(word), 1e-4)
        assert vad.speech_regions(word, 8000, CFG) == []
        assert np.array_equal(vad.trim(word, 8000, CFG), word)


def test_margins_stop_halfway_between_close_regions(rng):
    truth = [(0.5, 0.8), (0.97, 1.3)]
    x = burst_take(rng, 8000, truth, 2.0, 0.001)
    cfg = FeatureConfig(vad_margin=0.12)  # wider than half the pause
    seg = vad.Segmenter(8000, cfg)
    regions = seg.push(x) + seg.finish()
    assert len(regions) == 2
    assert regions[0].end <= regions[1].start <= regions[0].end + 80
    assert regions[0].end - regions[0].speech_end < cfg.vad_margin * 8000
    for r in regions:
        assert len(r.samples) == r.end - r.start
        assert r.start <= r.speech_start < r.speech_end <= r.end


def test_floor_follows_a_slowly_rising_background(rng):
    rate, seconds = 8000, 60.0
    truth = [(t, t + 0.4) for t in np.arange(1.0, 59.0, 2.0)]
    x = burst_take(rng, rate, truth, seconds, 1.0)
    x *= 0.001 * 10 ** (np.linspace(0, 25, len(x)) / 20)  # background rises by 25 dB
    for a, b in truth:
        i, j = int(a * rate), int(b * rate)
        x[i:j] += 0.2 * np.sin(2 * np.pi * 700 * np.arange(j - i) / rate)
    _assert_regions(vad.speech_regions(x, rate, CFG), truth)


def _stream(x, rate, sizes, rng, max_span=vad.MAX_SPAN):
    seg = vad.Segmenter(rate, CFG, max_span=max_span)
    out, pos, held = [], 0, 0
    while pos < len(x):
        n = int(rng.integers(1, sizes))
        out += seg.push(x[pos : pos + n])
        pos += n
        held = max(held, seg.n_buffered)
    return out + seg.finish(), held


@pytest.mark.parametrize("sizes", [50, 3000, 40000])
def test_streaming_gives_exactly_the_offline_regions(rng, sizes):
    rate = 16000
    truth, t = [], 0.3
    while t < 40:
        d = rng.uniform(0.1, 0.7)
        truth.append((t, t + d))
        t += d + rng.uniform(0.2, 1.5)
    x = burst_take(rng, rate, truth, 42.0, 0.002)
    offline = vad.speech_regions(x, rate, CFG)
    _assert_regions(offline, truth)
    streamed, _ = _stream(x, rate, sizes, rng)
    assert [(r.speech_start / rate, r.speech_end / rate) for r in streamed] == offline
    for r in streamed:
        np.testing.assert_array_equal(r.samples, x[r.start : r.end])


def test_streaming_memory_is_bounded(rng):
    rate, seconds = 8000, 300
    truth = [(t, t + 0.5) for t in np.arange(1.0, seconds - 1, 1.7)]
    x = burst_take(rng, rate, truth, seconds, 0.002)
    found, held = _stream(x, rate, 8000, rng)
    assert len(found) == len(truth)
    # The detector's look-ahead window plus a pause and a block, not the stream.
    assert held <= (vad_rule.FLOOR_HALF_WINDOW + vad_rule.FLOOR_STEP + 4.0) * rate


@pytest.mark.parametrize("background", [0.0, 0.1], ids=["digital silence", "steady noise"])
def test_a_take_that_is_all_pause_is_not_held(rng, background):
    # With no speech the pause runs to the end of what is known at every
    # push: the cut must follow it, or the whole take piles up.
    rate, seconds = 8000, 300
    x = background * rng.standard_normal(rate * seconds)
    found, held = _stream(x, rate, 8000, rng)
    assert found == []
    assert held <= (vad_rule.FLOOR_HALF_WINDOW + vad_rule.FLOOR_STEP + 4.0) * rate


def test_endless_sound_is_cut_at_max_span(rng):
    rate = 8000
    # Syllables with pauses too short to end a region, for 79 s.
    syllables = [(t, t + 0.2) for t in np.arange(0.5, 79.4, 0.28)]
    x = burst_take(rng, rate, syllables, 80.0, 0.001)
    found, held = _stream(x, rate, 8000, rng, max_span=10.0)
    assert len(found) >= 7
    assert held <= (vad_rule.FLOOR_HALF_WINDOW + vad_rule.FLOOR_STEP + 10.0 + 2.0) * rate
    assert found[0].speech_start / rate == pytest.approx(0.5, abs=TOL)
    assert found[-1].speech_end / rate == pytest.approx(syllables[-1][1], abs=TOL)


def test_push_after_finish_is_refused():
    seg = vad.Segmenter(8000, CFG)
    seg.finish()
    with pytest.raises(ValueError):
        seg.push(np.zeros(10))


def test_energies_shape_and_scale():
    rate = 8000
    t = np.arange(rate) / rate
    low, high = 0.5 * np.sin(2 * np.pi * 1000 * t), 0.5 * np.sin(2 * np.pi * 3000 * t)
    e = vad_rule.frame_energies(low + high, rate)
    assert e.shape == (1 + (rate - 200) // 80, len(vad_rule.BANDS))
    np.testing.assert_allclose(e, 10 * np.log10(0.125), atol=0.1)  # each sine's mean square, in its band
    assert vad_rule.frame_energies(np.zeros(0), rate).shape == (0, len(vad_rule.BANDS))
    assert vad_rule.frame_energies(np.ones(5), rate).shape == (1, len(vad_rule.BANDS))


def test_vad_settings_are_validated():
    with pytest.raises(WordrecError, match="vad_offset_db"):
        FeatureConfig(vad_onset_db=5.0, vad_offset_db=8.0).validated()
    with pytest.raises(WordrecError, match="vad_min_speech"):
        FeatureConfig(vad_min_speech=0.0).validated()
    cfg = FeatureConfig(trim=False, vad_margin=0.2)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.5, 5.9, 6.0, 6.1, 9.0])
@pytest.mark.parametrize("rate", [8000, 44100])
def test_trim_one_pass_equals_the_segmenter(rng, seconds, rate):
    # trim() takes a recording within one floor window in a single pass; the
    # regions must be the Segmenter's, up to and across that length.
    bursts, t = [], rng.uniform(0.05, 0.3)
    while t < seconds - 0.2:
        d = rng.uniform(0.05, 0.5)
        bursts.append((t, min(t + d, seconds - 0.05)))
        t += d + rng.uniform(0.05, 0.6)
    x = burst_take(rng, rate, bursts, seconds, 0.0)
    # A background rising 30 dB: windows of the Segmenter's floor that do
    # not cover the whole recording see different floors.
    x += noise(rng, len(x), 3e-4) * np.logspace(0, 1.5, len(x))
    seg = vad.Segmenter(rate, CFG)
    expected = [(r.start, r.end, r.speech_start, r.speech_end) for r in seg.push(x) + seg.finish()]
    found, contrast = vad._trim_regions(x, rate, CFG)
    assert found == expected
    energy = vad_rule.frame_energies(x, rate)
    floor = np.maximum(vad_rule.SILENCE_DB, np.percentile(energy, CFG.vad_floor_percentile, axis=0))
    assert contrast == pytest.approx((energy - floor).max())


def test_floor_is_numpys_percentile(rng):
    for n in (1, 2, 3, 10, 601):
        e = rng.normal(-40, 10, size=(n, 2))
        np.testing.assert_allclose(vad_rule.noise_floor(e, 10.0), np.maximum(vad_rule.SILENCE_DB, np.percentile(e, 10.0, axis=0)))
