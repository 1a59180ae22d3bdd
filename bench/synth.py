#!/usr/bin/env python3
"""Synthetic speaker-independence check corpus for wordrec.

``make_corpus(out_dir)`` synthesises, with espeak-ng and sox, an
isolated-word corpus laid out as::

    out_dir/train/<label>/<label>_<voice-tag>_<k>.wav
    out_dir/test/<label>/<label>_<voice-tag>_<k>.wav
    out_dir/manifest.json          (one record per file + the summary)

* TRAIN renditions use one set of espeak-ng base voices and variants; TEST
  renditions use a disjoint set of other base voices *and* other variants,
  so every test "speaker" is unseen.
* Each rendition gets a speaking rate (-s 130..200) and pitch (-p 30..70)
  drawn deterministically from ``seed``.
* Every file is trimmed of leading/trailing silence (sox), peak-normalised to
  a random level, and padded with 50-200 ms at each end.
* Test files are split (about one third each) into three conditions:
  ``clean``; ``noise`` (white or pink noise at 20-30 dB SNR w.r.t. the speech);
  ``stereo44k`` (44100 Hz, two slightly different channels). Everything
  else is 16000 Hz mono; all files are 16-bit PCM WAV.

The output depends only on ``seed``, the word list, and the espeak-ng/sox
versions, so reruns are byte-identical.

Script use::

    python bench/synth.py OUT_DIR [--seed N] [--words yes,no,...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

BASE_RATE = 16000
STEREO_RATE = 44100

DIGITS = {str(i): w for i, w in enumerate(
    ("zero", "one", "two", "three", "four",
     "five", "six", "seven", "eight", "nine"))}

# Disjoint voice/variant sets ("" = the base voice without a variant).
TRAIN_BASE_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029")
TRAIN_VARIANTS = ("", "m1", "m3", "m5", "f1", "f3")
TEST_BASE_VOICES = ("en-us-nyc", "en-gb-x-rp", "en-gb-x-gbclan",
                    "en-gb-x-gbcwmd")
TEST_VARIANTS = ("m2", "m4", "f2", "f4")

RATE_RANGE = (130, 200)   # espeak-ng -s, inclusive
PITCH_RANGE = (30, 70)    # espeak-ng -p, inclusive
SNR_RANGE = (20.0, 30.0)  # dB, for the "noise" test condition
PAD_RANGE = (0.05, 0.20)  # seconds of padding at each end
FLOOR_RMS = 3e-5          # ~1 LSB of background noise on every file
CONDITIONS = ("clean", "noise", "stereo44k")

# Low threshold so that final stop bursts ("eight", "six") survive trimming.
SOX_TRIM = ["silence", "1", "0.01", "0.2%", "reverse",
            "silence", "1", "0.01", "0.2%", "reverse"]

_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Item:
    split: str
    label: str
    text: str
    base_voice: str
    variant: str
    rate: int
    pitch: int
    k: int
    condition: str = "clean"
    noise: str = ""
    snr_db: float | None = None
    sample_rate: int = BASE_RATE
    channels: int = 1
    path: str = ""

    @property
    def voice(self) -> str:
        return f"{self.base_voice}+{self.variant}" if self.variant \
            else self.base_voice

    @property
    def tag(self) -> str:
        t = f"{self.base_voice}-{self.variant}" if self.variant \
            else self.base_voice
        return re.sub(r"[^A-Za-z0-9-]", "-", t)


def _combos(bases: Iterable[str], variants: Iterable[str]) -> list[tuple]:
    return list(itertools.product(bases, variants))


def _voice_name(base: str, variant: str) -> str:
    return f"{base}+{variant}" if variant else base


def _normalise_words(words) -> dict[str, str]:
    """Return {label: text to speak}."""
    if words is None:
        return dict(DIGITS)
    if isinstance(words, str):
        words = [w for w in re.split(r"[,\s]+", words) if w]
    if isinstance(words, Mapping):
        pairs = [(str(k), str(v)) for k, v in words.items()]
    else:
        pairs = []
        for w in words:
            w = str(w).strip()
            pairs.append((re.sub(r"[^A-Za-z0-9_-]", "", w.replace(" ", "_")),
                          w))
    out: dict[str, str] = {}
    for label, text in pairs:
        if not _SAFE.match(label) or not text.strip():
            raise ValueError(f"unusable word/label {label!r} -> {text!r}")
        if label in out:
            raise ValueError(f"duplicate label {label!r}")
        out[label] = text
    if not out:
        raise ValueError("empty word list")
    return out


def _check_tools(variants: Iterable[str]) -> None:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"'{tool}' not found on PATH "
                               "(Debian: apt-get install espeak-ng sox)")
    # espeak-ng silently ignores an unknown "+variant", so check the files.
    ver = subprocess.run(["espeak-ng", "--version"], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Data at:\s*(\S.*)$", ver.strip())
    if m:
        vdir = Path(m.group(1).strip()) / "voices" / "!v"
        missing = sorted(v for v in set(variants)
                         if v and not (vdir / v).is_file())
        if missing:
            raise RuntimeError(f"espeak-ng variants not installed: {missing}")


def _rng(seed: int, *keys) -> np.random.Generator:
    ints = [seed] + [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(ints)


def _plan(labels: dict[str, str], seed: int, n_train: int,
          n_test: int) -> list[Item]:
    train_combos = _combos(TRAIN_BASE_VOICES, TRAIN_VARIANTS)
    test_combos = _combos(TEST_BASE_VOICES, TEST_VARIANTS)
    items: list[Item] = []
    for w, (label, text) in enumerate(labels.items()):
        for split, combos, n in (("train", train_combos, n_train),
                                 ("test", test_combos, n_test)):
            rng = _rng(seed, "plan", split, label)
            # Use every combo once before repeating any, in seeded order.
            order = np.concatenate(
                [rng.permutation(len(combos))
                 for _ in range(-(-n // len(combos)))])[:n]
            for k, ci in enumerate(order):
                base, variant = combos[int(ci)]
                it = Item(split, label, text, base, variant,
                          rate=int(rng.integers(RATE_RANGE[0],
                                                RATE_RANGE[1] + 1)),
                          pitch=int(rng.integers(PITCH_RANGE[0],
                                                 PITCH_RANGE[1] + 1)),
                          k=k)
                if split == "test":
                    it.condition = CONDITIONS[(k + w) % len(CONDITIONS)]
                    if it.condition == "noise":
                        it.noise = str(rng.choice(["white", "pink"]))
                        it.snr_db = round(float(rng.uniform(*SNR_RANGE)), 1)
                    elif it.condition == "stereo44k":
                        it.sample_rate, it.channels = STEREO_RATE, 2
                items.append(it)
    return items


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS pink (1/f power) noise by spectral shaping of white noise."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=float)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return x / max(np.sqrt(np.mean(x ** 2)), 1e-12)


def _render(it: Item, seed: int, tmp: Path, out_dir: Path) -> Item:
    stem = f"{it.label}_{it.tag}_{it.k}"
    raw = tmp / f"{it.split}_{stem}.raw.wav"
    trimmed = tmp / f"{it.split}_{stem}.trim.wav"
    try:
        subprocess.run(["espeak-ng", "-v", it.voice, "-s", str(it.rate),
                        "-p", str(it.pitch), "-w", str(raw), it.text],
                       check=True, capture_output=True)
        subprocess.run(["sox", "-R", "-D", "-q", str(raw), "-c", "1",
                        "-e", "floating-point", "-b", "32", str(trimmed),
                        *SOX_TRIM, "rate", "-v", str(it.sample_rate)],
                       check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode(errors="replace").strip()
        raise RuntimeError(f"{e.cmd[0]} failed for {it.text!r} with voice "
                           f"{it.voice}: {err}") from None
    x, sr = sf.read(str(trimmed), dtype="float64")
    raw.unlink(missing_ok=True)
    trimmed.unlink(missing_ok=True)
    if sr != it.sample_rate or x.ndim != 1 or x.size < 0.05 * sr:
        raise RuntimeError(f"bad sox output for {it.text!r} / {it.voice}: "
                           f"sr={sr} shape={x.shape}")

    rng = _rng(seed, "render", it.split, it.label, it.k)
    x = x / max(np.max(np.abs(x)), 1e-12) * rng.uniform(0.3, 0.9)
    speech_rms = np.sqrt(np.mean(x ** 2))
    pre = np.zeros(int(rng.uniform(*PAD_RANGE) * sr))
    post = np.zeros(int(rng.uniform(*PAD_RANGE) * sr))
    y = np.concatenate([pre, x, post])
    y += FLOOR_RMS * rng.standard_normal(y.size)
    if it.condition == "noise":
        n = rng.standard_normal(y.size) if it.noise == "white" \
            else _pink(rng, y.size)
        y += n * speech_rms / 10.0 ** (it.snr_db / 20.0)
    if it.channels == 2:
        # Second "microphone": small delay, different gain, own noise floor.
        delay = int(rng.integers(1, 3))  # 23-45 us: no audible comb
        right = np.concatenate([np.zeros(delay), y[:-delay]])
        right = right * rng.uniform(0.85, 0.95)
        right += FLOOR_RMS * rng.standard_normal(right.size)
        y = np.stack([y, right], axis=1)
    peak = np.max(np.abs(y))
    if peak > 0.99:
        y *= 0.99 / peak
    pcm = np.round(y * 32767.0).astype(np.int16)

    path = out_dir / it.split / it.label / f"{stem}.wav"
    sf.write(str(path), pcm, sr, subtype="PCM_16", format="WAV")
    it.path = str(path.relative_to(out_dir))
    return it


def make_corpus(out_dir, *, words=None, seed: int = 0, n_train: int = 20,
                n_test: int = 8, workers: int | None = None) -> dict:
    """Synthesise the train/test corpus into ``out_dir``; return a summary.

    ``words``: ``None`` (the digits "zero".."nine" in folders ``0``..``9``),
    a list of words (folder = the word), a comma-separated string, or a
    mapping ``{folder_label: text_to_speak}``.
    """
    t0 = time.monotonic()
    seed = int(seed)
    if seed < 0:
        raise ValueError("seed must be >= 0")
    labels = _normalise_words(words)
    assert not set(TRAIN_BASE_VOICES) & set(TEST_BASE_VOICES)
    assert not set(TRAIN_VARIANTS) & set(TEST_VARIANTS)
    _check_tools(TRAIN_VARIANTS + TEST_VARIANTS)

    out = Path(out_dir)
    for split in ("train", "test"):
        for label in labels:
            d = out / split / label
            d.mkdir(parents=True, exist_ok=True)
            for f in d.glob("*.wav"):
                f.unlink()

    items = _plan(labels, seed, n_train, n_test)
    if workers is None:
        workers = min(4, (os.cpu_count() or 1) + 1)
    with tempfile.TemporaryDirectory(prefix="wordrec-synth-") as tmpname:
        tmp = Path(tmpname)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            done = list(pool.map(lambda it: _render(it, seed, tmp, out),
                                 items))

    def used(split: str) -> list[str]:
        return sorted({it.voice for it in done if it.split == split})

    per_word = {label: {"train": 0, "test": 0} for label in labels}
    for it in done:
        per_word[it.label][it.split] += 1
    cond = Counter(it.condition if it.condition != "noise"
                   else f"noise_{it.noise}"
                   for it in done if it.split == "test")
    summary = {
        "out_dir": str(out),
        "seed": seed,
        "words": labels,
        "sample_rate": BASE_RATE,
        "n_train": sum(it.split == "train" for it in done),
        "n_test": sum(it.split == "test" for it in done),
        "per_word": per_word,
        "test_conditions": dict(sorted(cond.items())),
        "train_voices": used("train"),
        "test_voices": used("test"),
        "train_base_voices": list(TRAIN_BASE_VOICES),
        "test_base_voices": list(TEST_BASE_VOICES),
        "train_variants": [v or "(none)" for v in TRAIN_VARIANTS],
        "test_variants": list(TEST_VARIANTS),
        "files": [{**asdict(it), "voice": it.voice} for it in done],
    }
    (out / "manifest.json").write_text(json.dumps(summary, indent=1) + "\n")
    summary["seconds"] = round(time.monotonic() - t0, 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Synthesise the synthetic train/test check corpus.")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--words", default=None,
                    help="comma-separated word list (default: digits 0-9)")
    args = ap.parse_args(argv)
    try:
        s = make_corpus(args.out_dir, words=args.words, seed=args.seed)
    except (RuntimeError, ValueError) as e:
        print(f"synth: error: {e}", file=sys.stderr)
        return 1
    conds = ", ".join(f"{k} {v}" for k, v in s["test_conditions"].items())
    print(f"synth: {len(s['words'])} words, {s['n_train']} train + "
          f"{s['n_test']} test files in {s['out_dir']} "
          f"(seed {s['seed']}, {s['seconds']:.1f} s)")
    print(f"  test conditions: {conds}")
    print(f"  train voices ({len(s['train_voices'])}): "
          f"{' '.join(s['train_voices'])}")
    print(f"  test voices ({len(s['test_voices'])}): "
          f"{' '.join(s['test_voices'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
