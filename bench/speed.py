#!/usr/bin/env python3
"""Speed of wordrec, next to hmmlearn's GMMHMM on identical inputs (issue 4).

Measured in one run, each number the median of --runs runs (default 3):

* features: read (audio.read) + MFCC + deltas + normalisation
  (features.extract_many) of every FSDD training file, in times real time;
  also the front end alone, the same in one worker process per core
  (featurise.extract_files), and that as ``wordrec train`` runs it (which
  adds endpointing);
* EM: 10 words on FSDD train, 6 states, 3 Gaussians, left-to-right, 10
  iterations, no early stopping, on identical feature arrays.  wordrec:
  fit_word(..., grow_mix=False) (split straight to 3 Gaussians, no
  1 -> 2 -> 3 schedule), one process; hmmlearn: GMMHMM(n_components=6,
  n_mix=3, covariance_type="diag", n_iter=10, tol=-inf,
  init_params="mcw", params="stmcw") started left-to-right, one word after
  the other.  hmmlearn EM takes minutes per run, so it runs
  --hmmlearn-runs times (default 1);
* scoring: the 250 test files against the 10 word models of the EM step,
  wordrec.core.score.score against GMMHMM.score per file per model (as users
  write it), with hmmlearn given the same model parameters;
* end to end, as separate processes under /usr/bin/time: ``wordrec train``
  with defaults (wall time; and peak memory in one more run: PSS summed
  over the process and its workers, sampled from /proc every 50 ms, which
  slows the command), ``wordrec eval``,
  ``wordrec --help``; once in the caller's environment and once with one
  BLAS/OpenMP thread per process (--cli-env);
* scaling: EM as above on 250, 500, 1000 and 2250 training files, and
  scoring one utterance of 1, 10 and 60 seconds (test files laid end to
  end) against the 10 models.

wordrec and hmmlearn runs alternate, so that both see the same load.
The in-process comparisons run with one BLAS/OpenMP thread on both sides
(set below, before numpy loads): on a shared 2-core machine, threaded BLAS
and OpenMP spin-waiting make both libraries many times slower and the
numbers meaningless.  The end-to-end commands run with the caller's
environment, as users run them.  CPU times are printed beside wall times:
on a machine shared with other work, CPU time is the steadier number.

Prints a markdown table and writes a JSON copy (bench/results/speed.json).

    python bench/speed.py [--runs 3] [--hmmlearn-runs 1] [--no-hmmlearn] [--out FILE]

FSDD is read from $WORDREC_FSDD (default ../shared/data/fsdd next to the repo).
"""

from __future__ import annotations

import os

CALLER_ENV = dict(os.environ)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from fsdd import fsdd_root  # noqa: E402

from wordrec.core.features import FeatureConfig  # noqa: E402
from wordrec.core.model import ModelSet  # noqa: E402
from wordrec.core.score import score  # noqa: E402
from wordrec.core.train import TrainConfig, fit_word, variance_floor  # noqa: E402
from wordrec.io import corpus  # noqa: E402
from wordrec.jobs import featurise  # noqa: E402

N_STATES, N_MIX, N_ITER = 6, 3, 10


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(fn, runs: int) -> tuple[dict, object]:
    """Median wall and CPU seconds of ``runs`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall": float(np.median(walls)), "cpu": float(np.median(cpus)), "runs": runs, "walls": walls}, out


def interleaved(fns: dict, runs: dict) -> dict:
    """Like :func:`timed` for several functions, their runs alternating; each entry keeps its last result."""
    walls = {k: [] for k in fns}
    cpus = {k: [] for k in fns}
    out = {}
    for i in range(max(runs[k] for k in fns)):
        for k, fn in fns.items():
            if i < runs[k]:
                w, c = time.perf_counter(), time.process_time()
                out[k] = fn()
                walls[k].append(time.perf_counter() - w)
                cpus[k].append(time.process_time() - c)
    return {k: {"wall": float(np.median(walls[k])), "cpu": float(np.median(cpus[k])), "runs": runs[k],
                "walls": walls[k], "result": out[k]} for k in fns}


# --- end-to-end commands ------------------------------------------------------


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of a process and all its descendants, from /proc (kB).

    PSS shares each page among the processes mapping it, so forked workers
    are not charged again for the pages they share with their parent.
    """
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
        except OSError:
            pass
    return total


def run_command(args: list[str], cwd: str, env: dict, memory: bool = False) -> dict:
    """Wall time, CPU time and peak memory of one command under /usr/bin/time -v.

    With ``memory``, the PSS of the process tree is also sampled every 50 ms
    (``tree_pss_mb``); the sampling walks /proc and takes CPU from the
    command, so timed runs do without it.
    """
    cmd = ["/usr/bin/time", "-v"] + args
    peak = [0]
    w = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_pss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - w
    done.set()
    if memory:
        sampler.join()
    fields = {}
    for line in err.splitlines():
        key, _, value = line.strip().partition(": ")
        fields[key] = value
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-2000:]}")
    cpu = float(fields.get("User time (seconds)", 0)) + float(fields.get("System time (seconds)", 0))
    return {"wall": wall, "cpu": cpu, "max_rss_mb": int(fields.get("Maximum resident set size (kbytes)", 0)) / 1024,
            "tree_pss_mb": peak[0] / 1024}


def commands(root: Path, runs: int, env: dict) -> dict:
    exe = [sys.executable, "-m", "wordrec"]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = str(Path(tmp) / "m")
        for name, args in [
            ("train", exe + ["train", str(root / "train"), "-o", model, "-q"]),
            ("eval", exe + ["eval", "-m", model, str(root / "test"), "-q"]),
            ("help", exe + ["--help"]),
        ]:
            rs = []
            for _ in range(runs):
                rs.append(run_command(args, tmp, env))
                say(f"  {name}: {rs[-1]['wall']:.2f} s")
            out[name] = {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
            out[name]["walls"] = [r["wall"] for r in rs]
            out[name]["runs"] = runs
            # Memory in one more run, sampled (which would slow the timed ones).
            out[name]["tree_pss_mb"] = run_command(args, tmp, env, memory=True)["tree_pss_mb"]
    return out


# --- in-process comparisons ---------------------------------------------------


def hmmlearn_model(n_features: int):
    from hmmlearn.hmm import GMMHMM

    m = GMMHMM(n_components=N_STATES, n_mix=N_MIX, covariance_type="diag", n_iter=N_ITER, tol=-np.inf,
               init_params="mcw", params="stmcw", random_state=0)
    m.startprob_ = np.eye(N_STATES)[0]
    trans = np.eye(N_STATES) * 0.5 + np.eye(N_STATES, k=1) * 0.5
    trans[-1, -1] = 1.0
    m.transmat_ = trans
    m.n_features = n_features
    return m


def hmmlearn_fit(by_word: dict) -> dict:
    models = {}
    for w in sorted(by_word):
        m = hmmlearn_model(by_word[w][0].shape[1])
        m.fit(np.concatenate(by_word[w]), [len(s) for s in by_word[w]])
        assert m.monitor_.iter == N_ITER, "hmmlearn stopped early"
        models[w] = m
    return models


def as_hmmlearn(wm):
    """A GMMHMM holding a wordrec word model's parameters."""
    m = hmmlearn_model(wm.means.shape[2])
    m.startprob_, m.transmat_ = wm.startprob, wm.transmat
    m.weights_, m.means_, m.covars_ = wm.weights, wm.means, wm.variances
    return m


def em_config() -> TrainConfig:
    return TrainConfig(n_states=N_STATES, n_mix=N_MIX, max_iter=N_ITER, tol=0.0)


def wordrec_fit(by_word: dict) -> list:
    cfg = em_config()
    floor = variance_floor([s for w in sorted(by_word) for s in by_word[w]], cfg.var_floor)
    return [fit_word(w, by_word[w], cfg, floor, grow_mix=False)[0] for w in sorted(by_word)]


def subset(by_word: dict, n_files: int) -> dict:
    per = max(1, n_files // len(by_word))
    return {w: s[:per] for w, s in by_word.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per wordrec number (median)")
    ap.add_argument("--hmmlearn-runs", type=int, default=1, help="runs of hmmlearn EM (minutes each)")
    ap.add_argument("--no-hmmlearn", action="store_true")
    ap.add_argument("--cli-env", choices=["caller", "one-thread", "both"], default="both",
                    help="environment of the end-to-end commands: the caller's, or one BLAS/OpenMP thread")
    ap.add_argument("--out", default=str(BENCH / "results" / "speed.json"))
    args = ap.parse_args()
    root = fsdd_root()
    if not (root / "train").is_dir():
        say(f"FSDD not found at {root} (set WORDREC_FSDD)")
        return 1
    warnings.filterwarnings("ignore")
    res: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                             "load_avg_start": os.getloadavg()}}

    say("features ...")
    import soundfile

    from wordrec.core.features import extract, extract_many
    from wordrec.io import audio

    items = corpus.load(root / "train").items
    paths = [p for p, _ in items]
    audio_s = sum(soundfile.info(str(p)).duration for p in paths)
    cfg = FeatureConfig.for_rate(8000)

    def read_and_extract():
        return extract_many([audio.read(p, 8000)[0] for p in paths], cfg)

    feats_t, feats = timed(read_and_extract, args.runs)
    res["features"] = {**feats_t, "files": len(paths), "audio_s": audio_s, "x_real_time": audio_s / feats_t["wall"],
                       "x_real_time_cpu": audio_s / feats_t["cpu"]}
    signals = [audio.read(p, 8000)[0] for p in paths]
    fe_t, _ = timed(lambda: extract_many(signals, cfg), args.runs)
    res["front_end"] = {**fe_t, "x_real_time": audio_s / fe_t["wall"], "x_real_time_cpu": audio_s / fe_t["cpu"]}
    # The same in one worker process per core, as `wordrec train` reads and featurises.
    jobs = os.cpu_count() or 1
    no_trim = FeatureConfig.for_rate(8000, trim=False)
    par_t, _ = timed(lambda: featurise.extract_files(paths, no_trim, jobs=jobs), args.runs)
    res["features_parallel"] = {**par_t, "jobs": jobs, "x_real_time": audio_s / par_t["wall"]}
    # What `wordrec train` runs: the same plus endpointing.
    pl_t, _ = timed(lambda: featurise.extract_files(paths, cfg, jobs=jobs), args.runs)
    res["pipeline_features"] = {**pl_t, "jobs": jobs, "x_real_time": audio_s / pl_t["wall"]}
    by_word: dict = {}
    for f, (_, w) in zip(feats, items):
        by_word.setdefault(w, []).append(f)
    test_items = corpus.load(root / "test").items
    test_feats = extract_many([audio.read(p, 8000)[0] for p, _ in test_items], cfg)

    # wordrec and hmmlearn runs alternate, so that both sides see the same load.
    say("EM ...")
    em_fits = {"wordrec": lambda: wordrec_fit(by_word)}
    if not args.no_hmmlearn:
        em_fits["hmmlearn"] = lambda: hmmlearn_fit(by_word)
    em = interleaved(em_fits, {"wordrec": args.runs, "hmmlearn": args.hmmlearn_runs})
    models = em["wordrec"].pop("result")
    em.get("hmmlearn", {}).pop("result", None)
    res["em"] = {**em, "frames": sum(len(s) for v in by_word.values() for s in v)}
    modelset = ModelSet(cfg, tuple(models), {}, {})

    say("scoring ...")
    hl_models = [] if args.no_hmmlearn else [as_hmmlearn(wm) for wm in models]
    sc_fits = {"wordrec": lambda: score(modelset, test_feats)}
    if not args.no_hmmlearn:
        sc_fits["hmmlearn"] = lambda: [[m.score(f) for m in hl_models] for f in test_feats]
    sc = interleaved(sc_fits, {"wordrec": max(args.runs, 5), "hmmlearn": args.runs})
    for v in sc.values():
        v.pop("result")
    res["score"] = {**sc, "files": len(test_feats)}

    say("scaling ...")
    res["scaling_train"] = {}
    for n in (250, 500, 1000, 2250):
        sub = subset(by_word, n)
        t, _ = timed(lambda: wordrec_fit(sub), args.runs)
        frames = sum(len(s) for v in sub.values() for s in v)
        res["scaling_train"][n] = {**t, "frames": frames, "us_per_frame": t["cpu"] / frames * 1e6}
    res["scaling_score"] = {}
    signals = [audio.read(p, 8000)[0] for p, _ in test_items]
    for seconds in (1, 10, 60):
        long = np.concatenate(signals)[: seconds * 8000]
        x = extract(long, cfg)
        t, _ = timed(lambda: score(modelset, [x]), max(args.runs, 5))
        res["scaling_score"][seconds] = {**t, "frames": len(x), "us_per_frame": t["cpu"] / len(x) * 1e6}

    one_thread = {**CALLER_ENV, **{v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    if args.cli_env in ("caller", "both"):
        say("end to end, caller's environment ...")
        res["commands"] = commands(root, args.runs, CALLER_ENV)
    if args.cli_env in ("one-thread", "both"):
        say("end to end, one BLAS thread per process ...")
        res["commands_one_thread"] = commands(root, args.runs, one_thread)
    res["machine"]["load_avg_end"] = os.getloadavg()
    print(table(res))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    say(f"wrote {out}")
    return 0


def table(r: dict) -> str:
    rows = ["| measurement | wordrec | hmmlearn | ratio | target | pass (wall) | pass (cpu) |",
            "|---|---|---|---|---|---|---|"]

    def add(name, ours, theirs, ratio, target, ok, ok_cpu=None):
        ok_cpu = ok if ok_cpu is None else ok_cpu
        rows.append(f"| {name} | {ours} | {theirs} | {ratio} | {target} | {'yes' if ok else 'NO'} "
                    f"| {'yes' if ok_cpu else 'NO'} |")

    def wc(t):
        return f"{t['wall']:.3f} s (cpu {t['cpu']:.3f})"

    em, sc = r["em"], r["score"]
    if "hmmlearn" in em:
        ratio = em["hmmlearn"]["wall"] / em["wordrec"]["wall"]
        rc = em["hmmlearn"]["cpu"] / em["wordrec"]["cpu"]
        add("EM, 10 words, 6x3, 10 iter", wc(em["wordrec"]), wc(em["hmmlearn"]), f"{ratio:.0f}x (cpu {rc:.0f}x)",
            ">= 30x", ratio >= 30, rc >= 30)
    else:
        add("EM, 10 words, 6x3, 10 iter", wc(em["wordrec"]), "-", "-", ">= 30x", False)
    if "hmmlearn" in sc:
        ratio = sc["hmmlearn"]["wall"] / sc["wordrec"]["wall"]
        rc = sc["hmmlearn"]["cpu"] / sc["wordrec"]["cpu"]
        add("score 250 files x 10 words", wc(sc["wordrec"]), wc(sc["hmmlearn"]), f"{ratio:.0f}x (cpu {rc:.0f}x)",
            ">= 20x", ratio >= 20, rc >= 20)
    f = r["features"]
    add(f"features, {f['files']} files ({f['audio_s']:.0f} s audio)", wc(f), "-",
        f"{f['x_real_time']:.0f}x real time (cpu {f['x_real_time_cpu']:.0f}x)", ">= 1500x", f["x_real_time"] >= 1500,
        f["x_real_time_cpu"] >= 1500)
    fe = r["front_end"]
    add("  of which MFCC + deltas + normalisation", wc(fe), "-",
        f"{fe['x_real_time']:.0f}x real time (cpu {fe['x_real_time_cpu']:.0f}x)", "-", True)
    fp = r["features_parallel"]
    add(f"features as above, {fp['jobs']} worker processes (featurise.extract_files)", f"{fp['wall']:.3f} s", "-",
        f"{fp['x_real_time']:.0f}x real time", ">= 1500x", fp["x_real_time"] >= 1500)
    pl = r["pipeline_features"]
    add("  the same with endpointing (as `wordrec train`)", f"{pl['wall']:.3f} s", "-",
        f"{pl['x_real_time']:.0f}x real time", "-", True)
    for key, how in [("commands", ""), ("commands_one_thread", ", 1 BLAS thread")]:
        if key not in r:
            continue
        c = r[key]
        # Words train in one process per core: on an idle machine the wall time is about cpu / cores.
        add(f"`wordrec train` (defaults{how})", wc(c["train"]), "-", "-", "<= 5 s", c["train"]["wall"] <= 5,
            c["train"]["cpu"] / (r["machine"]["cpus"] or 1) <= 5)
        add(f"peak memory, train{how}", f"{c['train']['tree_pss_mb']:.0f} MB PSS, all processes (largest RSS "
            f"{c['train']['max_rss_mb']:.0f})", "-", "-", "<= 300 MB", c["train"]["tree_pss_mb"] <= 300)
        add(f"`wordrec eval`{how}", wc(c["eval"]), "-", "-", "<= 1.5 s", c["eval"]["wall"] <= 1.5,
            c["eval"]["cpu"] <= 1.5)
        add(f"`wordrec --help`{how}", wc(c["help"]), "-", "-", "<= 0.3 s", c["help"]["wall"] <= 0.3,
            c["help"]["cpu"] <= 0.3)
    # Linear: the cost per frame does not grow with size (within 1.5x of the smaller size's).
    for label, key in [("EM on {} files", "scaling_train"), ("score one {} s utterance", "scaling_score")]:
        previous = None
        for n, v in r[key].items():
            ok = previous is None or v["us_per_frame"] <= 1.5 * previous
            add(f"{label.format(n)} ({v['frames']} frames)", wc(v), "-", f"{v['us_per_frame']:.1f} us/frame (cpu)",
                "linear", ok)
            previous = v["us_per_frame"]
    la = r["machine"]
    rows.append("")
    rows.append(f"{la['cpus']} cores; load average {la['load_avg_start'][0]:.1f} at the start, "
                f"{la['load_avg_end'][0]:.1f} at the end.  Medians; ratios from the same run.  "
                "'pass (cpu)' judges CPU time instead of wall time (for `wordrec train`, CPU time / cores): "
                "what an idle machine would show, when other work shares the cores.")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
