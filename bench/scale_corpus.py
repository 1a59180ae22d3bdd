#!/usr/bin/env python3
"""Corpora for the scale benchmark (bench/scale.py), built in a scratch folder outside the repo.

* ``vocabulary(out, n_words, n_takes)``: ``n_words`` made-up words (two or
  three syllables, distinct), each spoken ``n_takes`` times by espeak-ng with
  a voice, speaking rate and pitch drawn per take from a seeded generator,
  as ``out/train/<word>/<word>_<k>.wav`` (16 kHz), and ``n_test`` more takes
  per word in ``out/test/``.  Reruns with the same arguments give the same files.
* ``fsdd_copies(out, n_files)``: perturbed copies of FSDD's training
  recordings (speed 0.85-1.15 by resampling, which moves pitch and
  formants with it; a gain; white noise 15-40 dB below the speech), written
  as ``out/<digit>/<name>_<k>.wav`` until there are ``n_files``.  Each copy
  depends on the seed and its index only.

    python bench/scale_corpus.py vocab OUT --words 1000 --takes 20 [--test 2]
    python bench/scale_corpus.py fsdd OUT --files 100000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fsdd import fsdd_root  # noqa: E402

VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbclan")
VARIANTS = ("", "+m1", "+m3", "+f1", "+f2", "+f4", "+m4")
ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "ch", "br", "st", "pl", "gr")
VOWELS = ("a", "e", "i", "o", "u", "ai", "oo", "ee")
CODAS = ("", "", "n", "m", "r", "s", "k", "t")


def made_up_words(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct pronounceable made-up words, in a fixed order for the seed."""
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        syllables = int(rng.integers(2, 4))
        w = "".join(
            ONSETS[rng.integers(len(ONSETS))] + VOWELS[rng.integers(len(VOWELS))] + CODAS[rng.integers(len(CODAS))]
            for _ in range(syllables)
        )
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _speak(job) -> None:
    path, text, voice, rate, pitch = job
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text],
        capture_output=True, check=True,
    ).stdout
    tmp = path.with_suffix(".tmp.wav")
    tmp.write_bytes(raw)
    x, sr = sf.read(str(tmp))
    tmp.unlink()
    # 16 kHz by linear interpolation: plenty for a benchmark corpus.
    n = int(round(len(x) * 16000 / sr))
    y = np.interp(np.arange(n) * sr / 16000, np.arange(len(x)), x)
    sf.write(str(path), y, 16000, subtype="PCM_16")


def vocabulary(out: Path, n_words: int, n_takes: int, n_test: int = 2, seed: int = 0, threads: int = 2) -> Path:
    """Build (or complete) an espeak-ng vocabulary corpus; returns ``out``."""
    words = made_up_words(n_words, seed)
    rng = np.random.default_rng(seed + 1)
    jobs = []
    for w in words:
        for split, n in (("train", n_takes), ("test", n_test)):
            for k in range(n):
                voice = VOICES[rng.integers(len(VOICES))] + VARIANTS[rng.integers(len(VARIANTS))]
                jobs.append((out / split / w / f"{w}_{k}.wav", w, voice, int(rng.integers(120, 200)),
                             int(rng.integers(30, 71))))
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(_speak, jobs))
    return out


def fsdd_copies(out: Path, n_files: int, seed: int = 0) -> Path:
    """Write perturbed copies of FSDD train until ``out`` holds ``n_files``; returns ``out``."""
    sources = sorted((fsdd_root() / "train").glob("*/*.wav"))
    if not sources:
        raise SystemExit(f"no FSDD recordings under {fsdd_root()}/train")
    cache = {}
    for i in range(n_files):
        src = sources[i % len(sources)]
        path = out / src.parent.name / f"{src.stem}_{i // len(sources)}.wav"
        if path.exists():
            continue
        if src not in cache:
            cache[src] = sf.read(str(src))
        x, sr = cache[src]
        x = x if x.ndim == 1 else x.mean(axis=1)
        rng = np.random.default_rng([seed, i])
        speed = rng.uniform(0.85, 1.15)
        n = max(1, int(len(x) / speed))
        y = np.interp(np.arange(n) * speed, np.arange(len(x)), x) * rng.uniform(0.3, 1.0)
        level = np.sqrt(np.mean(y * y)) + 1e-9
        y = y + rng.standard_normal(n) * level * 10 ** (-rng.uniform(15, 40) / 20)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), np.clip(y, -1, 1), sr, subtype="PCM_16")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    v = sub.add_parser("vocab")
    v.add_argument("out", type=Path)
    v.add_argument("--words", type=int, default=1000)
    v.add_argument("--takes", type=int, default=20)
    v.add_argument("--test", type=int, default=2)
    f = sub.add_parser("fsdd")
    f.add_argument("out", type=Path)
    f.add_argument("--files", type=int, default=100_000)
    a = ap.parse_args(argv)
    if a.what == "vocab":
        vocabulary(a.out, a.words, a.takes, a.test)
    else:
        fsdd_copies(a.out, a.files)


if __name__ == "__main__":
    main()
