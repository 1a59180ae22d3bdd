#!/usr/bin/env python3
"""Synthesise the small wordrec demo corpus with espeak-ng and sox.

Layout written (default ``--out`` is the ``demo`` folder next to this script)::

    <out>/train/<word>/<word>_<voice-tag>_<k>.wav   (12 per word)
    <out>/test/<word>/<word>_<voice-tag>_<k>.wav    (4 per word)

Every file is 8000 Hz, mono, 16-bit PCM, trimmed of leading/trailing silence
by sox, padded with 50 ms and mixed with a little seeded white noise so the
recordings are not digitally clean.  Test renditions use espeak-ng voices
*and* variants that never occur in training, so the test set plays the role
of unseen speakers.

The script is deterministic: rerunning it produces byte-identical files.
Only the Python standard library, numpy, soundfile and the ``espeak-ng`` and
``sox`` command-line tools are used.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

WORDS = ("yes", "no", "stop", "go", "left", "right", "up", "down")

SAMPLE_RATE = 8000
PAD_SECONDS = 0.05
SNR_DB = 35.0  # level of the added white noise relative to the speech
SEED = 20240601

# (voice, variant or "", [(rate, pitch), ...]).  Base voices and variants of
# the two sets are disjoint.
TRAIN_SPEAKERS = (
    ("en-us", "", [(140, 40), (180, 60)]),
    ("en-gb", "", [(150, 55), (175, 35)]),
    ("en-gb-scotland", "", [(145, 50), (185, 65)]),
    ("en-029", "", [(155, 45), (170, 30)]),
    ("en-us", "f3", [(150, 50), (180, 70)]),
    ("en-gb", "m3", [(140, 35), (175, 55)]),
)
TEST_SPEAKERS = (
    ("en-us-nyc", "f2", [(160, 55)]),
    ("en-gb-x-rp", "m2", [(170, 45)]),
    ("en-gb-x-gbclan", "f4", [(150, 60)]),
    ("en-gb-x-gbcwmd", "m4", [(165, 40)]),
)

# Trim leading/trailing silence.  The threshold is deliberately low (0.2 %,
# about -54 dBFS, for 10 ms): with the common "0.02 1%" setting sox cuts
# 20-40 ms of the final stop bursts of "stop", "up", "left", "right".
SOX_TRIM = ["silence", "1", "0.01", "0.2%", "reverse",
            "silence", "1", "0.01", "0.2%", "reverse"]


def voice_arg(voice: str, variant: str) -> str:
    return f"{voice}+{variant}" if variant else voice


def voice_tag(voice: str, variant: str) -> str:
    tag = voice if not variant else f"{voice}-{variant}"
    return re.sub(r"[^A-Za-z0-9-]", "-", tag)


def espeak_data_dir() -> Path | None:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Data at:\s*(\S.*)$", out.strip())
    return Path(m.group(1).strip()) if m else None


def check_tools_and_voices() -> None:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"make_demo: '{tool}' not found on PATH "
                     "(Debian: apt-get install espeak-ng sox)")
    # espeak-ng silently falls back to the default variant when asked for a
    # variant that does not exist, so check the variant files ourselves.
    data = espeak_data_dir()
    if data is None:
        return
    variants = {v for _, v, _ in TRAIN_SPEAKERS + TEST_SPEAKERS if v}
    missing = [v for v in sorted(variants)
               if not (data / "voices" / "!v" / v).is_file()]
    if missing:
        sys.exit(f"make_demo: espeak-ng variants not installed: {missing}")


def synth_one(word: str, voice: str, variant: str, rate: int, pitch: int,
              tmp: Path) -> np.ndarray:
    """Return the trimmed rendition as float64 samples at SAMPLE_RATE."""
    raw = tmp / "raw.wav"
    trimmed = tmp / "trim.wav"
    subprocess.run(["espeak-ng", "-v", voice_arg(voice, variant),
                    "-s", str(rate), "-p", str(pitch), "-w", str(raw), word],
                   check=True, capture_output=True)
    # -R: repeatable mode, -D: no dither; float output so that no
    # quantisation happens before the noise is added.
    subprocess.run(["sox", "-R", "-D", "-q", str(raw),
                    "-c", "1", "-e", "floating-point", "-b", "32",
                    str(trimmed), *SOX_TRIM, "rate", "-v", str(SAMPLE_RATE)],
                   check=True, capture_output=True)
    x, sr = sf.read(str(trimmed), dtype="float64")
    if sr != SAMPLE_RATE or x.ndim != 1 or x.size < int(0.1 * SAMPLE_RATE):
        raise RuntimeError(f"unexpected sox output for {word!r} with "
                           f"{voice_arg(voice, variant)} (sr={sr}, "
                           f"shape={x.shape})")
    return x


def degrade(x: np.ndarray, name: str) -> np.ndarray:
    """Peak-normalise, pad and add seeded white noise; return int16."""
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    peak = rng.uniform(0.5, 0.85)
    x = x / max(np.max(np.abs(x)), 1e-9) * peak
    speech_rms = np.sqrt(np.mean(x ** 2))
    pad = np.zeros(int(round(PAD_SECONDS * SAMPLE_RATE)))
    y = np.concatenate([pad, x, pad])
    noise_rms = speech_rms / (10.0 ** (SNR_DB / 20.0))
    y = y + rng.normal(0.0, noise_rms, size=y.size)
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)


def clear_old(out: Path) -> None:
    for split in ("train", "test"):
        for word in WORDS:
            d = out / split / word
            if d.is_dir():
                for f in d.glob("*.wav"):
                    f.unlink()


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=here / "demo",
                    help="output directory (default: %(default)s)")
    args = ap.parse_args(argv)

    check_tools_and_voices()
    out: Path = args.out
    clear_old(out)

    counts = {"train": 0, "test": 0}
    total_bytes = 0
    total_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="wordrec-demo-") as tmpname:
        tmp = Path(tmpname)
        for split, speakers in (("train", TRAIN_SPEAKERS),
                                ("test", TEST_SPEAKERS)):
            for word in WORDS:
                d = out / split / word
                d.mkdir(parents=True, exist_ok=True)
                for voice, variant, prosodies in speakers:
                    tag = voice_tag(voice, variant)
                    for k, (rate, pitch) in enumerate(prosodies):
                        name = f"{word}_{tag}_{k}"
                        x = synth_one(word, voice, variant, rate, pitch, tmp)
                        y = degrade(x, name)
                        path = d / f"{name}.wav"
                        sf.write(str(path), y, SAMPLE_RATE, subtype="PCM_16",
                                 format="WAV")
                        counts[split] += 1
                        total_bytes += path.stat().st_size
                        total_seconds += y.size / SAMPLE_RATE

    print(f"make_demo: wrote {counts['train']} train + {counts['test']} test "
          f"files ({len(WORDS)} words, {SAMPLE_RATE} Hz mono 16-bit, "
          f"{total_seconds:.1f} s, {total_bytes / 1e6:.2f} MB) to "
          f"{out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
