#!/usr/bin/env python3
"""Causal endpointer against the look-ahead segmenter (used by trim), on long takes of FSDD words.

For every seed and signal-to-noise ratio, a take is made with
``longtake.make_take`` (words 0.2-1.5 s apart in white or pink noise; the
seed picks the noise) and its regions are found twice, by
:class:`wordrec.core.vad.Segmenter` (the floor looks 5 s ahead) and by
:class:`wordrec.core.endpoint.Endpointer` (causal floor), and recognised
with the same scoring (:meth:`wordrec.jobs.listening.Listening.recognise`).  Scored as
``bench/longtake.py`` scores: a word is found when a segment has both ends
within 100 ms of it; spurious segments overlap no word (or are the lesser
part of a split one).

    python bench/endpoint.py MODEL [--minutes 10] [--seeds 0 1 2 6] [--snr 30 20] [--split test]
                                   [--set floor_seconds=5 --set warmup=1 --set floor_step=0.1]

Choose settings with ``--split train`` (takes of FSDD train/ words); measure with test.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import ast  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from longtake import make_take, score  # noqa: E402
from wordrec.core import vad  # noqa: E402
from wordrec.core.endpoint import Endpointer  # noqa: E402
from wordrec.io import modelfile  # noqa: E402
from wordrec.jobs.listening import Listening  # noqa: E402


def regions(detector, x: np.ndarray, block: int) -> list:
    out = []
    for a in range(0, len(x), block):
        out += detector.push(x[a : a + block])
    finish = getattr(detector, "flush", None) or detector.finish
    return out + finish()


def _detection(listening, seg) -> tuple[float, float, str]:
    """(start_s, end_s, word) of a segment, <unknown> below the model's threshold."""
    return seg.start_s, seg.end_s, seg.ranked.best if listening.accepted(seg) else "<unknown>"


def write_segments(path: Path, detections) -> None:
    with open(path, "w") as f:
        for start, end, word in detections:
            f.write(f"take\t{start:.4f}\t{end:.4f}\t{word}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 6])
    ap.add_argument("--snr", type=float, nargs="+", default=[30.0, 20.0])
    ap.add_argument("--split", default="test")
    ap.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                    help="an Endpointer argument, e.g. floor_seconds=5")
    a = ap.parse_args()
    settings = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in a.settings)}
    models = modelfile.load(a.model)
    cfg = models.features
    work = Path(tempfile.mkdtemp(prefix="wordrec-endpoint-"))
    print(f"{a.minutes:g}-minute takes of FSDD {a.split}/ words; endpointer settings: {settings or 'defaults'}")
    print("| seed | noise | SNR | words | detector | found | spurious (of segments) | right of found |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    totals: dict = {}
    for seed in a.seeds:
        kind = np.random.default_rng(seed).choice(["white", "pink"])  # make_take's first draw
        for snr in a.snr:
            take = work / f"take_{seed}_{snr:g}.wav"
            truth = make_take(take, a.minutes, seed, snr, a.split)
            x, rate = sf.read(str(take))
            for name, det in (("Segmenter (look-ahead)", vad.Segmenter(rate, cfg)),
                              ("Endpointer (causal)", Endpointer(rate, cfg, **settings))):
                listening = Listening(models)
                found = [_detection(listening, s) for s in listening.recognise(regions(det, x, rate), rate)]
                out = work / "segments.tsv"
                write_segments(out, found)
                s = score(truth, out)
                t = totals.setdefault(name, dict.fromkeys(("words", "found", "segments", "spurious", "right"), 0))
                for k in ("words", "found", "segments", "spurious"):
                    t[k] += s[k]
                right = round(s["accuracy_of_found_pct"] * s["found"] / 100)
                t["right"] += right
                print(f"| {seed} | {kind} | {snr:g} dB | {s['words']} | {name} | {s['found_pct']:.1f} % | "
                      f"{s['spurious']} ({s['spurious_pct']:.1f} %) | {s['accuracy_of_found_pct']:.1f} % |", flush=True)
            take.unlink()
    for name, t in totals.items():
        print(f"| all | | | {t['words']} | {name} | {100 * t['found'] / t['words']:.2f} % | {t['spurious']} "
              f"({100 * t['spurious'] / max(t['segments'], 1):.2f} %) | {100 * t['right'] / max(t['found'], 1):.2f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
