"""CPU a file of recognition as an eval worker spends it: files read, endpointed, featurised and scored in blocks.

    python bench/eval_cost.py MODEL MANIFEST [--files 10000] [--repeats 2]

Runs in this process (one BLAS thread), block after block of
``recognition.BLOCK_FILES`` files as a worker of ``wordrec eval -j N`` does,
and prints user and system CPU per file, and minor page faults per file,
for each repeat.  ``--profile`` prints the functions that take the time
instead.  Used to find and check the cuts in eval's cost (docs/speed.md,
"What eval spends a file").
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import resource  # noqa: E402

from wordrec.io import corpus, modelfile  # noqa: E402
from wordrec.jobs import recognition  # noqa: E402


def run(models, paths) -> None:
    block = recognition.BLOCK_FILES
    for a in range(0, len(paths), block):
        recognition._recognize_block((paths[a : a + block], 1, None, True, None))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("manifest", help="a corpus (manifest or folder tree)")
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args(argv)
    paths = [p for p, _ in corpus.load(a.manifest).items[: a.files]]
    models = modelfile.load(a.model)
    recognition._set_models(models)
    if a.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(run, models, paths)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        return
    for _ in range(a.repeats):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        run(models, paths)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        n = len(paths)
        print(f"{n} files: user {1e3 * (r1.ru_utime - r0.ru_utime) / n:.3f} ms a file, "
              f"system {1e3 * (r1.ru_stime - r0.ru_stime) / n:.3f} ms, "
              f"{(r1.ru_minflt - r0.ru_minflt) / n:.1f} minor faults a file", flush=True)


if __name__ == "__main__":
    main()
