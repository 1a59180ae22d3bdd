#!/usr/bin/env python3
"""The words of bench/listen.py's take at each operating point and noise level.

``recognize --segment`` finds the same segments and words as ``listen``
(bench/listen.py checks it), so this scores the take offline: of the words
found, how many are right and accepted, right as the best word whatever the
confidence, answered ``<unknown>``, and wrong and accepted; at the default
operating point and with ``--new-voices``.

Usage::

    python bench/listen_points.py MODEL [SNR_DB]    # default 30
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import listen as L  # noqa: E402

model = Path(sys.argv[1])
work = Path(tempfile.mkdtemp())
take = work / "take.wav"
truth = L.read_truth(L.make_take(take, 3.0, 0, snr := float(sys.argv[2]) if len(sys.argv) > 2 else 30.0))
for flag in ([], ["--new-voices"]):
    out = subprocess.run([sys.executable, "-m", "wordrec", "recognize", "-m", str(model), "--segment", "--json", "-q", *flag, str(take)],
                         capture_output=True, text=True, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    segs = [{"start": s["start_s"], "end": s["end_s"], "word": s["word"], "best_word": s["best_word"]} for s in json.loads(out.stdout)]
    hits = L.match(truth, segs)
    found = [i for i in hits if i is not None]
    right = sum(i is not None and segs[i]["word"] == w for i, (_, _, w) in zip(hits, truth))
    best = sum(i is not None and segs[i]["best_word"] == w for i, (_, _, w) in zip(hits, truth))
    unk = sum(segs[i]["word"] == "<unknown>" for i in found)
    n = len(found)
    print(f"{snr:g} dB", flag or ["default"], f"words {len(truth)} found {n} ({100*n/len(truth):.2f} %); right and accepted {100*right/n:.2f} %; "
          f"best word right {100*best/n:.2f} %; <unknown> {100*unk/n:.2f} %; wrong and accepted {100*(n-right-unk)/n:.2f} %")
