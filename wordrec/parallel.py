"""Run independent tasks in worker processes, results in task order.

Each task's result depends on the task alone, so the output is the same
for any number of workers; ``jobs=1`` runs in this process, with no pool.
"""

from __future__ import annotations


def ordered_map(fn, tasks, jobs: int = 1):
    """Yield ``fn(task)`` for each task, in the order of ``tasks``.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by name for the workers).
    tasks : list
        Arguments for ``fn``; picklable when ``jobs > 1``.
    jobs : int
        Worker processes.  With 1, or a single task, no pool is started.

    On Ctrl-C, SIGTERM or an error, the tasks not yet started are cancelled
    and the pool is not waited for.
    """
    tasks = list(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield fn(task)
        return
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)))
    try:
        yield from pool.map(fn, tasks)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
