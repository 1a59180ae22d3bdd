"""Memory of each process of a command's tree over time: RSS, PSS, private and shared dirty pages.

    python bench/proc_memory.py [--every 15] -- wordrec train corpus.tsv -o m.model -j 2 -q
    python bench/proc_memory.py --pid PID --every 60 --sample 1   # a run already going

Every ``--every`` seconds, one line: the total PSS, then for the parent (P)
and each worker (w) its RSS, PSS, private dirty (pd) and shared dirty (sd)
MB from ``/proc/PID/smaps_rollup``; at the end the peak total PSS and the
largest RSS and PSS of the parent and of any one worker.  Shared
dirty pages that turn private in one process show a forked worker's
inherited heap being copied (docs/speed.md, "Where the memory went").
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proctree  # noqa: E402

FIELDS = {"Rss:": "rss", "Pss:": "pss", "Private_Dirty:": "pd", "Shared_Dirty:": "sd"}


def memory(pid: int) -> dict:
    """MB of each field of ``FIELDS`` for one process (empty if it is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if parts and parts[0] in FIELDS:
                out[FIELDS[parts[0]]] = int(parts[1]) // 1024
    except OSError:
        pass
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=float, default=15.0, help="seconds between printed lines")
    ap.add_argument("--sample", type=float, default=0.2, help="seconds between samples (for the peaks)")
    ap.add_argument("--pid", type=int, help="watch this running process (and its workers) instead of a command")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if a.pid:
        pid, alive = a.pid, (lambda: Path(f"/proc/{a.pid}").exists())
    else:
        proc = subprocess.Popen(cmd, env=proctree.env_one_thread(), stdout=subprocess.DEVNULL)
        pid, alive = proc.pid, (lambda: proc.poll() is None)
    start, last, peak = time.time(), 0.0, 0
    most = {"P": {}, "w": {}}  # the largest of each field, for the parent and for any one worker
    while alive():
        ms = {q: memory(q) for q in proctree._tree(pid)}
        total = sum(m.get("pss", 0) for m in ms.values())
        peak = max(peak, total)
        for q, m in ms.items():
            role = most["P" if q == pid else "w"]
            for k, v in m.items():
                role[k] = max(role.get(k, 0), v)
        if time.time() - last >= a.every:
            last = time.time()
            each = " | ".join(
                f"{'P' if q == pid else 'w'} rss {m.get('rss')} pss {m.get('pss')} pd {m.get('pd')} sd {m.get('sd')}"
                for q, m in ms.items()
            )
            print(f"{last - start:6.0f} s  total PSS {total} MB | {each}", flush=True)
        time.sleep(a.sample)
    ended = "ended" if a.pid else f"exit {proc.returncode}"
    largest = "; ".join(f"{'parent' if r == 'P' else 'a worker'} rss {m.get('rss')} pss {m.get('pss')}"
                        for r, m in most.items() if m)
    print(f"{ended}, peak total PSS {peak} MB, {time.time() - start:.1f} s; largest: {largest} MB")


if __name__ == "__main__":
    main()
