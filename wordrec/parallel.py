"""Run independent tasks in worker processes, results in task order.

Each task's result depends on the task alone, so the output is the same
for any number of workers; ``jobs=1`` runs in this process, with no pool.
"""

from __future__ import annotations


def ordered_map(fn, tasks, jobs: int = 1, done=None) -> list:
    """``[fn(task) for task in tasks]``, in ``jobs`` worker processes.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by name for the workers).
    tasks : list
        Arguments for ``fn``; picklable when ``jobs > 1``.
    jobs : int
        Worker processes.  With 1, or a single task, no pool is started.
    done : callable, optional
        Called with the index of each task as its result arrives, in order.

    Returns
    -------
    list
        The results, in the order of ``tasks``.

    The pool lives only inside this call: it is closed and joined when all
    results are in, and its workers are stopped at once on Ctrl-C, SIGTERM
    (raised as KeyboardInterrupt by the CLI) or an error.  Workers ignore
    Ctrl-C themselves, so that only this process reacts to it.
    """
    tasks = list(tasks)
    results: list = []
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            results.append(fn(task))
            if done:
                done(len(results) - 1)
        return results
    import multiprocessing

    pool = multiprocessing.Pool(min(jobs, len(tasks)), initializer=_worker_signals)
    try:
        for out in pool.imap(fn, tasks):
            results.append(out)
            if done:
                done(len(results) - 1)
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()
    return results


def _worker_signals() -> None:
    """In a worker: leave Ctrl-C to the parent, which stops the workers
    itself (an idle worker would otherwise print a traceback), and let
    SIGTERM end the worker quietly: the CLI's handler, inherited through
    fork, turns it into KeyboardInterrupt, which in a worker is a traceback,
    and ``Pool.terminate`` stops workers with SIGTERM."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
