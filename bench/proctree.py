"""Run a command and measure its whole process tree: wall time, CPU time and peak memory.

Peak memory is sampled: every ``interval`` seconds the resident set (RSS)
and the proportional set (PSS, which shares a page between the processes
that map it, so that forked workers are not counted twice) of the command
and all its descendants are summed from /proc; the largest sums are
reported.  CPU time is the children's rusage (the command and every worker
it waited for).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Usage:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    returncode: int

    def row(self) -> str:
        return f"{self.wall_s:8.1f} s wall {self.cpu_s:8.1f} s CPU  peak RSS {self.peak_rss_mb:7.0f} MB  PSS {self.peak_pss_mb:7.0f} MB"


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB of one process (0, 0 if it is gone)."""
    try:
        rss = pss = 0
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
        return rss, pss
    except (OSError, ValueError, IndexError):
        return 0, 0


def run(cmd, interval: float = 0.1, env=None, stdout=None, stderr=None, cwd=None) -> Usage:
    """Run ``cmd`` (a list) to the end, in folder ``cwd``; its :class:`Usage`.

    The memory of the tree is sampled every ``interval`` seconds (reading
    each process's smaps takes CPU from the command on a small machine);
    ``interval=None`` does not sample (peaks reported as 0).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr, cwd=cwd)
    peak = [0, 0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            sums = [0, 0]
            for p in _tree(proc.pid):
                r, s = _memory(p)
                sums[0] += r
                sums[1] += s
            peak[0], peak[1] = max(peak[0], sums[0]), max(peak[1], sums[1])
            done.wait(interval)

    t = threading.Thread(target=sample, daemon=True)
    if interval is not None:
        t.start()
    code = proc.wait()
    done.set()
    if interval is not None:
        t.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Usage(wall, cpu, peak[0] / 1024, peak[1] / 1024, code)


def env_one_thread() -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env
