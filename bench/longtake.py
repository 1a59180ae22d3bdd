#!/usr/bin/env python3
"""Long-take benchmark: find and recognise the words of a synthetic take.

A take is built from random FSDD test words (``$WORDREC_FSDD``, default
``../shared/data/fsdd``), each scaled to one level (+-3 dB), separated by
0.2-1.5 s pauses, in white or pink background noise ``--snr`` dB below the
words.  It is written block by block, so even an hour-long take costs no
memory here, together with a truth file of ``start_s<TAB>end_s<TAB>word``
(the word's extent: its 10 ms frames within 40 dB of its loudest, blips
under 30 ms ignored).

``run`` then times ``wordrec recognize --segment`` on the take under
``/usr/bin/time -v`` and scores its output against the truth: words found
with both ends within 100 ms, spurious segments (overlapping no word, or
the lesser part of a split word), and the accuracy of the found words (an
answer of ``<unknown>`` counts as wrong, and their share is reported).

Usage::

    python bench/longtake.py make TAKE.wav [--minutes 60] [--seed 0] [--snr 30]
    python bench/longtake.py check TAKE.truth.tsv SEGMENTS.tsv
    python bench/longtake.py run MODEL [--minutes 60] [--seed 0] [--snr 30] [--keep DIR]

Train MODEL first, e.g. ``wordrec train $WORDREC_FSDD/train -o fsdd.model``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from fsdd import fsdd_root

REPO = Path(__file__).resolve().parents[1]
RATE = 8000
LEVEL = 0.05  # RMS of the words
TOLERANCE = 0.1  # seconds, at both ends of a word


def word_extent(x: np.ndarray) -> tuple[int, int]:
    """Samples from the first to the last 10 ms frame within 40 dB of the loudest,
    ignoring runs shorter than 30 ms."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 80)[::80]
    e = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    on = np.diff(np.concatenate([[0], (e > e.max() - 40).astype(int), [0]]))
    starts, ends = np.flatnonzero(on == 1), np.flatnonzero(on == -1)
    keep = ends - starts >= 3
    return int(starts[keep][0] * 80), int(ends[keep][-1] * 80)


class _Noise:
    """White or pink unit-RMS noise, generated in independent blocks."""

    def __init__(self, rng, kind: str):
        self.rng, self.kind = rng, kind

    def __call__(self, n: int) -> np.ndarray:
        w = self.rng.standard_normal(n)
        if self.kind == "pink":
            spec = np.fft.rfft(w)
            spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
            w = np.fft.irfft(spec, n)
        return w / max(w.std(), 1e-12)


def make_take(out: Path, minutes: float, seed: int, snr_db: float, split: str = "test", paths=None) -> Path:
    """Write the take and ``<out stem>.truth.tsv``; return the truth file's path.

    ``split``: the FSDD folder the words come from (``train`` to choose
    settings on, ``test`` to measure).  ``paths``: instead, these
    recordings, each once, in a random order (``minutes`` is then ignored).
    """
    rng = np.random.default_rng(seed)
    words = sorted(paths) if paths is not None else sorted((fsdd_root() / split).glob("*/*.wav"))
    if not words:
        sys.exit(f"no FSDD {split} words under {fsdd_root()} (set WORDREC_FSDD)")
    noise = _Noise(rng, rng.choice(["white", "pink"]))
    noise_rms = LEVEL * 10 ** (-snr_db / 20)
    total = int(minutes * 60 * RATE)
    order = iter([words[k] for k in rng.permutation(len(words))]) if paths is not None else None

    def next_word(pos: int):
        if order is not None:
            return next(order, None)
        return words[rng.integers(len(words))] if pos < total else None

    truth_path = out.with_suffix(".truth.tsv")
    pos = 0
    with sf.SoundFile(str(out), "w", RATE, 1, "PCM_16") as f, open(truth_path, "w") as truth:
        while (path := next_word(pos)) is not None:
            path = Path(path)
            x, _ = sf.read(str(path))
            x = x / np.sqrt(np.mean(x**2)) * LEVEL * 10 ** (rng.uniform(-3, 3) / 20)
            pause = np.zeros(int(rng.uniform(0.2, 1.5) * RATE))
            a, b = word_extent(x)
            truth.write(f"{(pos + len(pause) + a) / RATE:.4f}\t{(pos + len(pause) + b) / RATE:.4f}\t{path.parent.name}\n")
            chunk = np.concatenate([pause, x])
            f.write(np.clip(chunk + noise(len(chunk)) * noise_rms, -1, 1))
            pos += len(chunk)
        tail = np.zeros(int(rng.uniform(0.2, 1.5) * RATE))
        f.write(np.clip(tail + noise(len(tail)) * noise_rms, -1, 1))
    return truth_path


def score(truth_path: Path, segments_path: Path) -> dict:
    """Compare ``path<TAB>start<TAB>end<TAB>word<TAB>...`` lines with the truth.

    A found word answered ``<unknown>`` (confidence below the threshold)
    counts as wrong; how many were is reported too.
    """
    truth = [(float(a), float(b), w) for a, b, w in (line.split("\t") for line in truth_path.read_text().splitlines())]
    segs = []
    for line in segments_path.read_text().splitlines():
        cols = line.split("\t")
        segs.append((float(cols[1]), float(cols[2]), cols[3]))
    starts = np.array([s[0] for s in segs])
    found = correct = unknown = 0
    best: dict = {}
    for j, (a, b, word) in enumerate(truth):
        lo, hi = np.searchsorted(starts, a - 2.0), np.searchsorted(starts, b + 0.1)
        near = range(lo, hi)
        hits = [i for i in near if abs(segs[i][0] - a) <= TOLERANCE and abs(segs[i][1] - b) <= TOLERANCE]
        if hits:
            found += 1
            correct += segs[hits[0]][2] == word
            unknown += segs[hits[0]][2] == "<unknown>"
        for i in near:
            overlap = min(segs[i][1], b) - max(segs[i][0], a)
            if overlap > 0 and overlap > best.get(i, (None, 0))[1]:
                best[i] = (j, overlap)
    # A segment is kept if some word overlaps it; of several segments on one word, the largest overlap.
    per_word: dict = {}
    for i, (j, overlap) in best.items():
        if overlap > per_word.get(j, (None, 0))[1]:
            per_word[j] = (i, overlap)
    spurious = len(segs) - len(per_word)
    return {
        "words": len(truth),
        "segments": len(segs),
        "found": found,
        "found_pct": 100.0 * found / max(len(truth), 1),
        "spurious": spurious,
        "spurious_pct": 100.0 * spurious / max(len(segs), 1),
        "accuracy_of_found_pct": 100.0 * correct / max(found, 1),
        "unknown_of_found_pct": 100.0 * unknown / max(found, 1),
    }


def _print_score(s: dict) -> None:
    print(
        f"words {s['words']}  segments {s['segments']}  found {s['found']} ({s['found_pct']:.2f} %)  "
        f"spurious {s['spurious']} ({s['spurious_pct']:.2f} %)  accuracy of found {s['accuracy_of_found_pct']:.2f} % "
        f"(of which answered <unknown>: {s['unknown_of_found_pct']:.2f} %)"
    )


def run(model: Path, minutes: float, seed: int, snr_db: float, keep: Path | None) -> None:
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="wordrec-longtake-"))
    work.mkdir(parents=True, exist_ok=True)
    take = work / "take.wav"
    print(f"Writing a {minutes:g}-minute take to {take} ...", flush=True)
    truth = make_take(take, minutes, seed, snr_db)
    segments = work / "segments.tsv"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "wordrec", "recognize", "-m", str(model), "--segment", "-q", str(take)]
    print("$ " + " ".join(cmd) + f" > {segments}", flush=True)
    with open(segments, "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True, cwd=REPO)
    report = proc.stderr
    wanted = ("Elapsed (wall clock) time", "User time", "System time", "Maximum resident set size", "Exit status")
    for line in report.splitlines():
        if line.strip().startswith(wanted):
            print("   " + line.strip())
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    if rss:
        print(f"peak RSS {int(rss.group(1)) / 1024:.1f} MB")
    if proc.returncode != 0:
        print(report)
        sys.exit(proc.returncode)
    _print_score(score(truth, segments))
    if not keep:
        take.unlink()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write a take and its truth file")
    m.add_argument("take", type=Path)
    c = sub.add_parser("check", help="score segments against a truth file")
    c.add_argument("truth", type=Path)
    c.add_argument("segments", type=Path)
    r = sub.add_parser("run", help="make a take, time 'recognize --segment' on it, score it")
    r.add_argument("model", type=Path)
    r.add_argument("--keep", type=Path, default=None, help="folder to keep the take and results in")
    for p in (m, r):
        p.add_argument("--minutes", type=float, default=60.0)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--snr", type=float, default=30.0, help="words over background noise, dB")
    a = ap.parse_args(argv)
    if a.cmd == "make":
        print(make_take(a.take, a.minutes, a.seed, a.snr))
    elif a.cmd == "check":
        _print_score(score(a.truth, a.segments))
    else:
        run(a.model, a.minutes, a.seed, a.snr, a.keep)


if __name__ == "__main__":
    main()
