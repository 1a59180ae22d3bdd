"""Run independent tasks in worker processes, or on a Dask cluster, results in task order.

Each task's result depends on the task alone, so the output is the same
for any number of workers; ``jobs=1`` runs in this process, with no pool.
Inside :func:`cluster` every task goes to a ``dask.distributed`` cluster
instead (the optional ``[dask]`` extra, imported only there): the same
tasks, so the same results.
"""

from __future__ import annotations

from contextlib import contextmanager

# The Dask client of the innermost active cluster() block, if any.
_CLUSTER: list = []


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
    results: list = []
    for out in ordered_iter(fn, tasks, jobs):
        results.append(out)
        if done:
            done(len(results) - 1)
    return results


def ordered_iter(fn, tasks, jobs: int = 1, setup=None, setup_args=()):
    """:func:`ordered_map` as a generator: each result as soon as it and those before it are in.

    ``setup(*setup_args)`` runs once in every worker (or here, with
    ``jobs=1``) before its first task: for what all tasks share and should
    not be sent with each, such as a model.  The pool ends when the
    generator does: exhausted, closed early, or on an error.
    """
    if not hasattr(tasks, "__len__"):
        tasks = list(tasks)
    if _CLUSTER:
        yield from _cluster_iter(_CLUSTER[-1], fn, tasks, setup, setup_args)
        return
    if jobs <= 1 or len(tasks) <= 1:
        if setup:
            setup(*setup_args)
        for task in tasks:
            yield fn(task)
        return
    import multiprocessing

    from wordrec.io.items import give_back_freed_memory

    give_back_freed_memory()  # not inherited by the workers
    pool = multiprocessing.Pool(min(jobs, len(tasks)), initializer=_worker_start, initargs=(setup, setup_args))
    try:
        for out in pool.imap(fn, tasks):
            yield out
    except BaseException:
        _kill(pool)
        raise
    pool.close()
    pool.join()


class Lazy:
    """``n`` tasks made one at a time, as they are handed out: ``make(i)`` is task ``i``.

    For :func:`ordered_map` and :func:`ordered_iter` over a large corpus:
    the pool takes tasks as workers are ready for them, so only those in
    flight exist, not a list of all (each holding its share of the corpus).
    """

    def __init__(self, n: int, make):
        self.n, self.make = n, make

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.make(i)

    def __iter__(self):
        return map(self.make, range(self.n))


def _worker_start(setup, setup_args) -> None:
    _worker_signals()
    if setup:
        setup(*setup_args)


def _kill(pool) -> None:
    """Stop a pool's workers at once, without waiting on the pool's locks.

    ``Pool.terminate`` takes the locks of the task and result queues, and a
    worker stopped by a signal may have died holding one, or halfway
    through writing a result: the parent would then wait for ever (seen
    with SIGTERM to the whole process group, a few runs in ten).  Instead
    the workers are killed outright and the pool is abandoned: its threads
    are daemons, and its exit-time clean-up, which would wait on the same
    locks, is cancelled.
    """
    from multiprocessing import pool as mp_pool

    # What Pool.terminate does first: no worker is replaced, no task handed out.
    pool._state = pool._worker_handler._state = pool._task_handler._state = mp_pool.TERMINATE
    workers = list(pool._pool)
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.join()
    pool._terminate.cancel()


def _worker_signals() -> None:
    """In a worker: leave Ctrl-C to the parent, which stops the workers
    itself (an idle worker would otherwise print a traceback), and end on
    SIGTERM (``Pool.terminate`` sends it) by SystemExit.

    The CLI's handler, inherited through fork, would raise KeyboardInterrupt,
    which a worker prints as a traceback.  Dying at once (the default
    action) is no better: a worker killed while it holds a lock of the
    pool's queues leaves ``Pool.terminate`` in the parent waiting for that
    lock for ever.  SystemExit unwinds, so the locks are released, and a
    worker process exits on it without a word."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_quietly)


def _exit_quietly(signum, frame):
    raise SystemExit(1)


#: What a worker of training or recognition holds at most, about (an EM
#: chunk of :data:`wordrec.core.train.EM_CHUNK_FRAMES` frames and its
#: working arrays, or a block of recordings and its scores), and what the
#: parent process holds besides a reference per recording.
WORKER_BYTES = 400 << 20
PARENT_BYTES = 300 << 20


def default_memory() -> int:
    """The default memory budget in bytes: a quarter of the machine's memory (2 GiB if unknown)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def jobs_within(jobs: int, memory: int | None) -> int:
    """Worker processes that fit a memory budget of ``memory`` bytes (None: :func:`default_memory`).

    Every part of a job holds a bounded amount whatever the corpus (fixed
    chunk sizes, so that results never depend on the budget); the budget
    sets how many workers may run at once, one at least.
    """
    budget = default_memory() if memory is None else memory
    return max(1, min(jobs, (budget - PARENT_BYTES) // WORKER_BYTES))


@contextmanager
def cluster(address: str | None):
    """Send every task of the jobs run inside the block to a ``dask.distributed`` cluster.

    ``address``: a scheduler's address (``tcp://host:8786``), or
    ``local:N`` to start a ``LocalCluster`` of N single-threaded worker
    processes on this machine for the block; None does nothing.  Workers
    read the recordings and the feature cache themselves: on a cluster,
    paths must name shared storage.
    """
    if address is None:
        yield None
        return
    from wordrec.errors import WordrecError

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise WordrecError("--scheduler needs dask.distributed: pip install 'wordrec[dask]'") from None
    local = None
    if address.startswith("local:"):
        n = address.removeprefix("local:")
        if not n.isdigit() or not 1 <= int(n) <= 256:
            raise WordrecError(f"--scheduler {address}: local:N needs N from 1 to 256 workers")
        local = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        client = Client(local if local is not None else address, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        if local is not None:
            local.close()
        raise WordrecError(f"--scheduler {address}: cannot reach the scheduler ({exc})") from None
    _CLUSTER.append(client)
    try:
        yield client
    finally:
        _CLUSTER.pop()
        client.close()
        if local is not None:
            local.close()


# In a Dask worker: the token of the set-up last run there.
_SET_UP: dict = {}


def _with_setup(fn, task, setup, setup_args, token):
    """Run ``setup(*setup_args)`` once per worker process (per ``token``), then ``fn(task)``."""
    if setup is not None and _SET_UP.get("token") != token:
        setup(*setup_args)
        _SET_UP["token"] = token
    return fn(task)


def _cluster_iter(client, fn, tasks, setup, setup_args):
    """:func:`ordered_iter` on a Dask client: all tasks submitted, results taken in order."""
    import uuid

    token = uuid.uuid4().hex
    shared = client.scatter(list(setup_args), broadcast=True) if setup is not None else []
    futures = [
        client.submit(_with_setup, fn, task, setup, shared, token, pure=False, key=f"wordrec-{token}-{i}")
        for i, task in enumerate(tasks)
    ]
    try:
        for f in futures:
            yield f.result()
            f.release()
    finally:
        for f in futures:
            f.cancel()
