#!/usr/bin/env python3
"""The "robot case" of issue 18: six commands from one synthetic voice, and everything else.

``python bench/robot.py make OUT_DIR`` synthesises, with espeak-ng (one
voice, ``en-us``), sox (resampling to 16 kHz) and numpy (padding, noise)::

    OUT/train/<command>/          10 takes of each of six commands
    OUT/train/_unknown_/          other words (none of the tested ones), 2 takes each
    OUT/train/_background_noise_/ long files of room noise, hum, hiss, near silence
    OUT/test/<command>/           3 more takes of each command
    OUT/test_other/               one take each of 32 other words
    OUT/test_nonspeech/           cough-like bursts, room noise, a knock, hum, silence

Takes differ in speaking rate (espeak-ng ``-s``), pitch (``-p``),
amplitude (``-a``), intonation (the word ends in ".", "!" or "?"),
silence before and after, and a little background noise.  Test takes use
rates and pitches that no training take uses.  "write" is not among the
other words: espeak-ng says it exactly as "right" (both ``r'aIt``), which no
recogniser can tell apart; "ride" and "bright" stand in for it.

The output depends only on the espeak-ng and sox versions: every random
choice is seeded by the file's name, so a rerun writes the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
VOICE = "en-us"
COMMANDS = ("back", "forward", "go", "left", "right", "stop")
N_TRAIN, N_TEST = 10, 3
#: espeak-ng speaking rates (words a minute) and pitches (0-99); the test
#: values are none of the training ones.
TRAIN_SPEEDS = (120, 135, 150, 165, 180, 195, 210)
TRAIN_PITCHES = (25, 35, 45, 55, 65, 75)
TEST_SPEEDS = (142, 172, 202)
TEST_PITCHES = (40, 60, 70)
ENDINGS = (".", "!", "?", "")
#: Other words said to the robot (one take each): greetings, objects,
#: numbers, and words close to the commands.
OTHER_WORDS = (
    "hello", "hi", "thanks", "goodbye", "yes", "no", "please",
    "cup", "table", "chair", "door", "phone", "lamp", "book",
    "one", "two", "three", "seven", "ten",
    "fork", "stock", "ride", "bright", "lift", "bag", "gold", "top", "slow",
    "down", "start", "wait", "turn",
)
#: Words recorded as negatives for training (none of ``OTHER_WORDS``), a
#: few of them close to a command, as a user's recorded false alarms would be.
UNKNOWN_WORDS = (
    "apple", "window", "water", "paper", "music", "yellow", "garden", "pencil",
    "monday", "happy", "coffee", "orange", "kitchen", "button", "morning", "river",
    "silver", "sugar", "blue", "green", "red", "car", "house", "tree",
    "fish", "milk", "five", "nine", "eight", "six", "sit", "run",
    "rock", "pack", "low", "lot", "fit", "night", "four", "jump",
)


def _rng(*keys) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def _speak(text: str, speed: int, pitch: int, amplitude: int, tmp: Path) -> np.ndarray:
    """espeak-ng's rendition of ``text``, resampled by sox to ``RATE``: float samples."""
    raw, out = tmp / "raw.wav", tmp / "out.wav"
    subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude), "-w", str(raw), text],
        check=True, capture_output=True,
    )
    subprocess.run(["sox", "-D", str(raw), "-r", str(RATE), "-b", "16", str(out)], check=True, capture_output=True)
    x, rate = sf.read(out, dtype="float64")
    assert rate == RATE
    return x


def _trimmed(x: np.ndarray, level: float = 1e-3) -> np.ndarray:
    """``x`` without the silence espeak-ng puts around a word."""
    loud = np.nonzero(np.abs(x) > level)[0]
    return x[loud[0] : loud[-1] + 1] if len(loud) else x


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS noise with a 1/f power spectrum."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1.0))
    x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x**2))


def _take(text: str, speed: int, pitch: int, name: str, tmp: Path) -> np.ndarray:
    """One take: a rendition with its own loudness, padding and background noise."""
    rng = _rng("take", name)
    amplitude = int(rng.integers(60, 181))
    x = _trimmed(_speak(text + str(rng.choice(ENDINGS)), speed, pitch, amplitude, tmp))
    x = x * (10 ** rng.uniform(-1.0, -0.1) / max(1e-9, np.abs(x).max()))
    before, after = (int(RATE * rng.uniform(0.1, 0.45)) for _ in range(2))
    x = np.concatenate([np.zeros(before), x, np.zeros(after)])
    # Background noise 35-60 dB below the peak (none in a fifth of the takes).
    if rng.random() > 0.2:
        noise = _pink(rng, len(x)) if rng.random() < 0.5 else rng.standard_normal(len(x))
        x = x + noise * np.abs(x).max() * 10 ** (-rng.uniform(35, 60) / 20)
    return x


def _room(rng: np.random.Generator, seconds: float, level: float, hum: float = 0.0) -> np.ndarray:
    """Room sound: pink noise, optionally a mains hum with harmonics."""
    n = int(RATE * seconds)
    x = level * _pink(rng, n)
    if hum:
        t = np.arange(n) / RATE
        x += hum * sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6)) / k for k in (1, 2, 3, 5))
    return x


def _cough(rng: np.random.Generator) -> np.ndarray:
    """A cough-like burst: noise through a broad resonance, a sharp onset and a fast decay."""
    n = int(RATE * rng.uniform(0.25, 0.45))
    t = np.arange(n) / RATE
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    centre = rng.uniform(500, 1500)
    spec *= np.exp(-0.5 * ((f - centre) / rng.uniform(300, 900)) ** 2) + 0.1
    burst = np.fft.irfft(spec, n) * np.exp(-t / rng.uniform(0.05, 0.12)) * np.minimum(1, t / 0.01)
    burst *= 0.6 / np.abs(burst).max()
    pad = np.zeros(int(0.3 * RATE))
    return np.concatenate([pad, burst, pad]) + 3e-4 * rng.standard_normal(n + 2 * len(pad))


def _knock(rng: np.random.Generator) -> np.ndarray:
    """Three knocks on a door: short decaying low resonances in quiet."""
    x = 2e-4 * rng.standard_normal(int(1.2 * RATE))
    for k in range(3):
        a = int(RATE * (0.2 + 0.25 * k))
        t = np.arange(int(0.08 * RATE)) / RATE
        x[a : a + len(t)] += 0.5 * np.sin(2 * np.pi * rng.uniform(150, 300) * t) * np.exp(-t / 0.015)
    return x


def nonspeech_tests() -> dict:
    """The test_nonspeech recordings by name (float samples at ``RATE``)."""
    out = {}
    for k in range(3):
        out[f"cough_{k}"] = _cough(_rng("cough", k))
    out["room_0"] = _room(_rng("room", 0), 1.5, 0.003)
    out["room_1"] = _room(_rng("room", 1), 1.5, 0.01, hum=0.01)
    out["hum"] = _room(_rng("hum"), 1.2, 0.0005, hum=0.05)
    out["knock"] = _knock(_rng("knock"))
    out["silence_digital"] = np.zeros(RATE)
    out["silence_near"] = 3e-5 * _rng("near").standard_normal(RATE)
    return out


def background_noise() -> dict:
    """The _background_noise_ training files by name: 8-10 s each."""
    return {
        "room_quiet": _room(_rng("bg", 0), 10.0, 0.002),
        "room_hum": _room(_rng("bg", 1), 10.0, 0.008, hum=0.02),
        "hiss": 0.01 * _rng("bg", 2).standard_normal(8 * RATE),
        "near_silence": 5e-5 * _rng("bg", 3).standard_normal(8 * RATE),
    }


def plan() -> list[tuple[str, str, int, int]]:
    """Every spoken file: ``(relative path without suffix, text, speed, pitch)``."""
    items = []
    for c in COMMANDS:
        for k in range(N_TRAIN):
            rng = _rng("plan", "train", c, k)
            items.append((f"train/{c}/{c}_{k:02d}", c, int(rng.choice(TRAIN_SPEEDS)), int(rng.choice(TRAIN_PITCHES))))
        for k in range(N_TEST):
            items.append((f"test/{c}/{c}_t{k}", c, TEST_SPEEDS[k], TEST_PITCHES[(k + COMMANDS.index(c)) % N_TEST]))
    for i, w in enumerate(OTHER_WORDS):
        items.append((f"test_other/{w}", w, TEST_SPEEDS[i % 3], TEST_PITCHES[(i // 3) % 3]))
    for w in UNKNOWN_WORDS:
        for k in range(2):
            rng = _rng("plan", "unknown", w, k)
            items.append((f"train/_unknown_/{w}_{k}", w, int(rng.choice(TRAIN_SPEEDS)), int(rng.choice(TRAIN_PITCHES))))
    return items


def _write(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(x, -1.0, 1.0), RATE, subtype="PCM_16")


def make(out: Path) -> int:
    """Write the corpus under ``out``; returns the number of files."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found on PATH (Debian: apt-get install espeak-ng sox)")
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text, speed, pitch in plan():
            _write(out / f"{rel}.wav", _take(text, speed, pitch, rel, Path(tmp)))
            n += 1
    for name, x in nonspeech_tests().items():
        _write(out / "test_nonspeech" / f"{name}.wav", x)
        n += 1
    for name, x in background_noise().items():
        _write(out / "train" / "_background_noise_" / f"{name}.wav", x)
        n += 1
    return n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make", help="synthesise the corpus into OUT_DIR")
    mk.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    n = make(args.out)
    print(f"wrote {n} files under {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
