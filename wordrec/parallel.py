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

    On Ctrl-C, SIGTERM or an error, the workers are stopped at once.
    """
    tasks = list(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield fn(task)
        return
    import multiprocessing

    pool = multiprocessing.Pool(min(jobs, len(tasks)), initializer=_ignore_sigint)
    try:
        yield from pool.imap(fn, tasks)
    except BaseException:
        # Ctrl-C, SIGTERM (raised as KeyboardInterrupt by the CLI) or an
        # error: stop the workers now rather than after their current task.
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def _ignore_sigint() -> None:
    """In a worker: leave Ctrl-C to the parent, which stops the workers
    itself (an idle worker would otherwise print a traceback)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
