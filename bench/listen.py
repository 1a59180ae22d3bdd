#!/usr/bin/env python3
"""Live-listening benchmark: latency, cost, words found, memory, and agreement with recognize --segment.

A take of FSDD test words (``longtake.make_take``: 0.2-1.5 s pauses, white
or pink background noise ``--snr`` dB below the words, and a truth file) is
piped into ``wordrec listen --input - --rate 8000 --format s16le --json``
by a feeder that writes one 20 ms block every 20 ms on the clock, as a
microphone would deliver it.  Measured:

* **latency** of each word found: from the moment the end of the word (its
  truth end) was in the stream (the feeder's start plus the word's end time
  in the stream, as if captured live) to the arrival of its line on
  listen's stdout; median and 95th percentile (bars: 0.3 s, 0.5 s);
* **cost**: CPU time (user + system, from ``wait4``) of the listen process
  over the stream's duration, for the take as 8 kHz mono and as 44.1 kHz
  stereo (bar: 10 %); start-up (imports, model) is included, and given apart;
* **words found** (both ends within 100 ms of the truth) and **right**
  (bars: 97 % each);
* **memory**: peak RSS of listen on a ``--long-minutes`` stream and on a
  1-minute stream, both fed as fast as listen reads (bar: within 20 MB);
* **same answers as recognize --segment** on the same audio: segments (ends
  within 20 ms) and words, for pipe writes of 1 ms, 20 ms, 100 ms and 1 s
  (as fast as listen reads) and for exact block sizes in process.

    python bench/listen.py MODEL [--minutes 3] [--seed 0] [--snr 30] [--long-minutes 60] [--json OUT]

Train MODEL first: ``wordrec train $WORDREC_FSDD/train -o fsdd.model``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from longtake import TOLERANCE, make_take  # noqa: E402

BLOCK = 0.02  # seconds per write on the clock


#: More options for every wordrec listen run (--listen-args), e.g. the operating point.
EXTRA: list = []


def _listen_cmd(model: Path, rate: int, channels: int) -> list[str]:
    return [sys.executable, "-m", "wordrec", "listen", "-m", str(model), "--input", "-", "--rate", str(rate),
            "--format", "s16le", "--channels", str(channels), "--json", "-q", *EXTRA]


def run_listen(model: Path, data: bytes, rate: int, channels: int, block_s: float | None,
               on_clock: bool) -> dict:
    """Pipe ``data`` (s16le) into listen; return its lines with arrival times, CPU and peak RSS.

    ``block_s``: seconds per write (None: the whole stream in 1 MB writes);
    ``on_clock``: write block k at start + (k + 1) block_s.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    # Peak RSS through /usr/bin/time: the kernel carries a process's peak over
    # exec, so wait4's would be this (large) process's at the fork.
    rss_file = Path(tempfile.mkstemp(prefix="wordrec-listen-rss-")[1])
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *_listen_cmd(model, rate, channels)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    frame = 2 * channels
    step = (1 << 20) if block_s is None else max(frame, int(round(block_s * rate)) * frame)
    lines: list = []
    start = [0.0]

    def read():
        for line in proc.stdout:
            lines.append((time.monotonic(), json.loads(line)))

    reader = threading.Thread(target=read)
    reader.start()
    err: list = []
    errt = threading.Thread(target=lambda: err.append(proc.stderr.read()))
    errt.start()
    time.sleep(1.0)  # let listen start (imports, model) before the stream's clock starts
    start[0] = time.monotonic()
    for k, a in enumerate(range(0, len(data), step)):
        if on_clock:
            wait = start[0] + (k + 1) * block_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        proc.stdin.write(data[a : a + step])
        proc.stdin.flush()
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)  # CPU of listen (and of time, which waits for it)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    errt.join()
    if proc.returncode != 0:
        sys.exit(f"listen failed ({proc.returncode}): {err[0].decode()}")
    rss_kb = int(rss_file.read_text().split()[-1])
    rss_file.unlink()
    return {"lines": lines, "start": start[0], "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": rss_kb / 1024, "duration": len(data) / frame / rate}


def read_truth(path: Path) -> list[tuple[float, float, str]]:
    return [(float(a), float(b), w) for a, b, w in (line.split("\t") for line in path.read_text().splitlines())]


def match(truth, found) -> list:
    """For each truth word, the index of a detection with both ends within TOLERANCE, or None."""
    starts = np.array([d["start"] for d in found])
    out = []
    for a, b, _ in truth:
        lo, hi = np.searchsorted(starts, a - 2 * TOLERANCE), np.searchsorted(starts, a + 2 * TOLERANCE)
        hits = [i for i in range(lo, hi) if abs(found[i]["start"] - a) <= TOLERANCE and abs(found[i]["end"] - b) <= TOLERANCE]
        out.append(hits[0] if hits else None)
    return out


def startup_cpu(model: Path) -> float:
    """CPU seconds of listen on an empty stream: imports and loading the model."""
    return run_listen(model, b"", 8000, 1, None, False)["cpu"]


def offline_segments(model: Path, take: Path) -> list:
    out = subprocess.run([sys.executable, "-m", "wordrec", "recognize", "-m", str(model), "--segment", "--json", "-q",
                          str(take)], capture_output=True, text=True, cwd=REPO, check=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO)))
    return [{"start": s["start_s"], "end": s["end_s"], "word": s["word"]} for s in json.loads(out.stdout)]


def agree(a: list, b: list, tol: float = 0.02) -> bool:
    return len(a) == len(b) and all(
        abs(x["start"] - y["start"]) <= tol and abs(x["end"] - y["end"]) <= tol and x["word"] == y["word"] for x, y in zip(a, b)
    )


def in_process(model: Path, x: np.ndarray, rate: int, block: int) -> list:
    import wordrec

    listener, out = wordrec.Listener(model), []
    for a in range(0, len(x), block):
        out += listener.feed(x[a : a + block], rate)
    out += listener.flush()
    return [{"start": d.start, "end": d.end, "word": d.word} for d in out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--minutes", type=float, default=3.0, help="length of the take fed on the clock")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snr", type=float, default=30.0)
    ap.add_argument("--long-minutes", type=float, default=60.0, help="the long stream of the memory bar")
    ap.add_argument("--json", type=Path, default=None, help="write the results here too")
    ap.add_argument("--parts", nargs="+", default=["live", "same", "rss"], choices=["live", "same", "rss"],
                    help="what to measure (default: all)")
    ap.add_argument("--listen-args", default="", help="more options for wordrec listen, e.g. '--new-voices'")
    a = ap.parse_args()
    EXTRA.extend(a.listen_args.split())
    work = Path(tempfile.mkdtemp(prefix="wordrec-listen-"))
    take = work / "take.wav"
    truth = read_truth(make_take(take, a.minutes, a.seed, a.snr))
    x, rate = sf.read(str(take), dtype="int16")
    results: dict = {"minutes": a.minutes, "seed": a.seed, "snr_db": a.snr, "words": len(truth)}
    print(f"Take: {a.minutes:g} min of FSDD test words, seed {a.seed}, {a.snr:g} dB, {len(truth)} words", flush=True)

    bars = []
    if "live" in a.parts:
        bars += measure_live(a.model, x, rate, truth, results)
    if "same" in a.parts:
        bars += measure_same(a.model, take, x, rate, results)
    if "rss" in a.parts:
        bars += measure_rss(a.model, work, a.long_minutes, a.seed, a.snr, results)
    take.unlink()
    print("\n| bar | measured | met |\n|---|---:|---|")
    for name, value, ok in bars:
        print(f"| {name} | {value} | {'yes' if ok else 'NO'} |")
    results["bars"] = [{"bar": n, "measured": v, "met": ok} for n, v, ok in bars]
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def measure_live(model: Path, x: np.ndarray, rate: int, truth: list, results: dict) -> list:
    """The take on the clock, as 8 kHz mono and as 44.1 kHz stereo: latency, words, CPU."""
    from scipy.signal import resample_poly

    base = startup_cpu(model)
    results["startup_cpu_s"] = base
    live = run_listen(model, x.tobytes(), rate, 1, BLOCK, True)
    found = [d for _, d in live["lines"]]
    hits = match(truth, found)
    lat = np.array([live["lines"][i][0] - (live["start"] + b) for i, (_, b, _) in zip(hits, truth) if i is not None])
    n_found = sum(i is not None for i in hits)
    n_right = sum(i is not None and found[i]["word"] == w for i, (_, _, w) in zip(hits, truth))
    # Right whatever the confidence, and answered <unknown> (below the threshold).
    n_best = sum(i is not None and found[i]["best_word"] == w for i, (_, _, w) in zip(hits, truth))
    n_unknown = sum(i is not None and found[i]["word"] == "<unknown>" for i in hits)
    live8 = results["live_8k"] = {
        "found_pct": 100 * n_found / len(truth), "right_pct": 100 * n_right / max(n_found, 1),
        "best_word_right_pct": 100 * n_best / max(n_found, 1), "unknown_pct": 100 * n_unknown / max(n_found, 1),
        "latency_median_s": float(np.median(lat)), "latency_p95_s": float(np.percentile(lat, 95)),
        "latency_max_s": float(lat.max()), "cpu_s": live["cpu"], "duration_s": live["duration"],
        "cpu_pct": 100 * live["cpu"] / live["duration"], "cpu_pct_after_startup": 100 * (live["cpu"] - base) / live["duration"],
        "peak_rss_mb": live["rss_mb"],
    }
    print("8 kHz mono on the clock:", json.dumps(live8), flush=True)
    y = resample_poly(x.astype(float) / 32768, 441, 80)
    stereo = (np.clip(np.stack([y, 0.8 * y], axis=1), -1, 1) * 32767).astype("<i2")
    live44 = run_listen(model, stereo.tobytes(), 44100, 2, BLOCK, True)
    hits44 = match(truth, [d for _, d in live44["lines"]])
    st = results["live_44k_stereo"] = {
        "found_pct": 100 * sum(i is not None for i in hits44) / len(truth), "cpu_s": live44["cpu"],
        "duration_s": live44["duration"], "cpu_pct": 100 * live44["cpu"] / live44["duration"],
        "cpu_pct_after_startup": 100 * (live44["cpu"] - base) / live44["duration"], "peak_rss_mb": live44["rss_mb"],
    }
    print("44.1 kHz stereo on the clock:", json.dumps(st), flush=True)
    return [
        ("latency median <= 0.3 s", f"{live8['latency_median_s']:.3f} s", live8["latency_median_s"] <= 0.3),
        ("latency 95th percentile <= 0.5 s", f"{live8['latency_p95_s']:.3f} s", live8["latency_p95_s"] <= 0.5),
        ("CPU <= 10 % (8 kHz mono)", f"{live8['cpu_pct']:.2f} %", live8["cpu_pct"] <= 10),
        ("CPU <= 10 % (44.1 kHz stereo)", f"{st['cpu_pct']:.2f} %", st["cpu_pct"] <= 10),
        ("words found >= 97 %", f"{live8['found_pct']:.2f} %", live8["found_pct"] >= 97),
        ("found words right >= 97 %", f"{live8['right_pct']:.2f} %", live8["right_pct"] >= 97),
    ]


def measure_same(model: Path, take: Path, x: np.ndarray, rate: int, results: dict) -> list:
    """listen (through the pipe, and in process) against recognize --segment, for block sizes 1 ms-1 s."""
    offline = offline_segments(model, take)
    same: dict = {}
    for ms in (1, 20, 100, 1000):
        piped = [d for _, d in run_listen(model, x.tobytes(), rate, 1, ms / 1000, False)["lines"]]
        direct = in_process(model, x.astype(float) / 32768, rate, max(1, rate * ms // 1000))
        same[f"{ms} ms"] = {"pipe": agree(piped, offline), "in_process": agree(direct, offline)}
    results["same_as_recognize_segment"] = {"segments": len(offline), **same}
    print("same segments and words as recognize --segment:", json.dumps(same), flush=True)
    return [("same as recognize --segment, 1 ms-1 s", ", ".join(f"{k}: {'yes' if all(v.values()) else 'NO'}" for k, v in same.items()),
             all(all(v.values()) for v in same.values()))]


def measure_rss(model: Path, work: Path, long_minutes: float, seed: int, snr: float, results: dict) -> list:
    """Peak RSS of listen on a 1-minute and a long stream, each fed as fast as listen reads."""
    rss = {}
    for minutes in (1.0, long_minutes):
        path = work / f"long{minutes:g}.wav"
        make_take(path, minutes, seed + 1, snr)
        r = run_listen(model, path.read_bytes(), 8000, 1, None, False)
        rss[f"{minutes:g} min"] = {"rss_mb": r["rss_mb"], "cpu_s": r["cpu"], "lines": len(r["lines"])}
        path.unlink()
    results["peak_rss"] = rss
    print("peak RSS, fed as fast as read:", json.dumps(rss), flush=True)
    short, long = rss["1 min"]["rss_mb"], rss[f"{long_minutes:g} min"]["rss_mb"]
    return [(f"peak RSS {long_minutes:g} min within 20 MB of 1 min", f"{long - short:+.1f} MB ({short:.1f} / {long:.1f} MB)",
             long - short <= 20)]


if __name__ == "__main__":
    sys.exit(main())
