#!/usr/bin/env python3
"""Online adaptation benchmark: ``wordrec listen --adapt`` on a speaker the models never heard.

Leave one speaker out on FSDD train/: for each speaker, a model is trained
with the CLI on the other four speakers' recordings (``wordrec train
MANIFEST``, defaults), and the held-out speaker's 450 recordings become ONE
stream, each recording once in a random order, separated by 0.2-1.5 s
pauses in light white or pink noise ``--snr`` dB below the words
(``longtake.make_take``).  The stream is replayed through ``wordrec listen
--input TAKE --json`` without and with ``--adapt`` (and ``--save-adapted``,
whose model is checked to load).  Scored as ``bench/longtake.py`` scores:
a word is found when a detection has both ends within 100 ms of it, and
right when that detection's answer is the word (``<unknown>`` is wrong).
Reported per speaker, for the first and the second half of the stream
(the words in stream order): right of all the words (the bar's number),
right of the words found, and found.

    python bench/listen_adapt.py [--speakers george ...] [--seed 0] [--snr 30] [--oov 7 8 9] [--jobs 2]
                                 [--json OUT] [--work DIR]

With ``--oov``, those words are left out of training: the stream holds
unknown words, whose share answered with a word (false acceptance) is
reported too; right and found are then of the known words only.

The bar (issue 16): the second half at least 5 points better with --adapt.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from fsdd import fsdd_root  # noqa: E402
from longtake import TOLERANCE, make_take  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")


def _wordrec(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "wordrec", *args], capture_output=True, text=True, env=env, cwd=REPO)


def speaker_of(path: Path) -> str:
    return path.stem.split("_")[1]


def train_without(speaker: str, work: Path, jobs: int, oov=()) -> Path:
    """A model trained by the CLI on the other speakers' train/ recordings (of the words not in ``oov``)."""
    tag = f"without_{speaker}" + "".join(f"_{w}" for w in oov)
    manifest = work / f"{tag}.tsv"
    lines = [f"{p}\t{p.parent.name}" for p in sorted((fsdd_root() / "train").glob("*/*.wav"))
             if speaker_of(p) != speaker and p.parent.name not in oov]
    manifest.write_text("\n".join(lines) + "\n")
    model = work / f"{tag}.model"
    done = _wordrec("train", str(manifest), "-o", str(model), "-j", str(jobs), "-q")
    if done.returncode != 0:
        sys.exit(f"train failed: {done.stderr}")
    return model


def listen(model: Path, take: Path, *more: str) -> tuple[list[dict], float]:
    """The JSON Lines of ``wordrec listen --input TAKE``, and the seconds it took."""
    start = time.monotonic()
    done = _wordrec("listen", "-m", str(model), "--input", str(take), "--json", "-q", *more)
    if done.returncode != 0:
        sys.exit(f"listen failed: {done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines()], time.monotonic() - start


def score_halves(truth: list, found: list[dict], oov=()) -> dict:
    """Right (of all words) and found, in % of the words of each half of the stream.

    Words in ``oov`` (not in the model) are scored apart: ``false_acceptance_pct``,
    the share of them found and answered with a word.
    """
    starts = np.array([d["start"] for d in found])
    right, hit, accepted = [], [], []
    for a, b, word in truth:
        lo, hi = np.searchsorted(starts, a - 2 * TOLERANCE), np.searchsorted(starts, a + 2 * TOLERANCE)
        hits = [i for i in range(lo, hi) if abs(found[i]["start"] - a) <= TOLERANCE and abs(found[i]["end"] - b) <= TOLERANCE]
        hit.append(bool(hits))
        right.append(bool(hits) and found[hits[0]]["word"] == word)
        accepted.append(bool(hits) and found[hits[0]]["word"] != "<unknown>")
    half = len(truth) // 2
    known = np.array([w not in oov for _, _, w in truth])
    out = {}
    for name, part in (("first", slice(0, half)), ("second", slice(half, None)), ("all", slice(None))):
        k = known[part]
        r, h = np.array(right[part])[k], np.array(hit[part])[k]
        out[name] = {"words": int(len(r)), "right_pct": 100 * r.mean(), "found_pct": 100 * h.mean(),
                     "right_of_found_pct": 100 * r.sum() / max(h.sum(), 1)}
        if not k.all():
            out[name]["oov_words"] = int((~k).sum())
            out[name]["false_acceptance_pct"] = 100 * np.array(accepted[part])[~k].mean()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speakers", nargs="+", default=list(SPEAKERS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snr", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=2, help="training processes")
    ap.add_argument("--json", type=Path, default=None, help="write the results here too")
    ap.add_argument("--work", type=Path, default=None, help="keep models and takes here")
    ap.add_argument("--oov", nargs="+", default=[], help="words left out of training: the stream's unknown words")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="wordrec-listen-adapt-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"seed": a.seed, "snr_db": a.snr, "oov": a.oov, "speakers": {}}
    print(f"Leave one speaker out on FSDD train/, each speaker's recordings as one stream ({a.snr:g} dB, seed {a.seed})")
    print("| speaker | words | second half: right, plain | with --adapt | gain | right of found, plain / --adapt "
          "| first half: plain / --adapt | found | adapted on |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, speaker in enumerate(a.speakers):
        model = train_without(speaker, work, a.jobs, a.oov)
        paths = sorted(p for p in (fsdd_root() / "train").glob("*/*.wav") if speaker_of(p) == speaker)
        take = work / f"{speaker}.wav"
        truth_file = make_take(take, 0.0, a.seed + k, a.snr, paths=paths)
        truth = [(float(s), float(e), w) for s, e, w in (line.split("\t") for line in truth_file.read_text().splitlines())]
        plain, t_plain = listen(model, take)
        saved = work / f"{speaker}.adapted.model"
        adapted, t_adapt = listen(model, take, "--adapt", "--save-adapted", str(saved))
        check = _wordrec("inspect", str(saved), "--json")
        if check.returncode != 0:
            sys.exit(f"the adapted model does not load: {check.stderr}")
        record = json.loads(check.stdout).get("adaptations")
        p, q = score_halves(truth, plain, a.oov), score_halves(truth, adapted, a.oov)
        used = json.loads(saved.read_text())["training"]["adaptation"][-1]["recordings"]
        results["speakers"][speaker] = {
            "words": len(truth), "stream_s": sf_seconds(take), "plain": p, "adapt": q, "adapted_on": sum(used.values()),
            "listen_s": {"plain": t_plain, "adapt": t_adapt}, "adaptations_in_saved_model": record,
        }
        gain = q["second"]["right_pct"] - p["second"]["right_pct"]
        print(f"| {speaker} | {len(truth)} | {p['second']['right_pct']:.2f} % | {q['second']['right_pct']:.2f} % | "
              f"{gain:+.2f} | {p['second']['right_of_found_pct']:.2f} / {q['second']['right_of_found_pct']:.2f} % | "
              f"{p['first']['right_pct']:.2f} / {q['first']['right_pct']:.2f} % | "
              f"{p['all']['found_pct']:.1f} % | {sum(used.values())} |", flush=True)
        if a.oov:
            print(f"|   | unknown words ({', '.join(a.oov)}) given a word, second half: "
                  f"{p['second']['false_acceptance_pct']:.2f} % plain, {q['second']['false_acceptance_pct']:.2f} % with --adapt "
                  f"(of {p['second']['oov_words']}) | | | | | | | |", flush=True)
    sp = results["speakers"].values()
    mean = {key: float(np.mean([s[key]["second"]["right_pct"] for s in sp])) for key in ("plain", "adapt")}
    worst = min(s["adapt"]["second"]["right_pct"] - s["plain"]["second"]["right_pct"] for s in sp)
    results["second_half_mean"] = mean
    results["smallest_gain"] = worst
    print(f"| mean | | {mean['plain']:.2f} % | {mean['adapt']:.2f} % | {mean['adapt'] - mean['plain']:+.2f} | | | | |")
    print(f"Bar: second half >= 5 points better with --adapt: mean {'met' if mean['adapt'] - mean['plain'] >= 5 else 'NOT met'}"
          f" ({mean['adapt'] - mean['plain']:+.2f}); smallest gain of a speaker {worst:+.2f}")
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def sf_seconds(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


if __name__ == "__main__":
    sys.exit(main())
