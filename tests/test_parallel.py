"""The worker pool: ordered results, errors passed on, no worker left behind."""

import multiprocessing

import pytest

from wordrec.jobs.parallel import ordered_map


def _square(x):
    return x * x


def _fail_on_three(x):
    if x == 3:
        raise ValueError("three")
    return x


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_results_in_task_order_and_no_worker_left(jobs):
    seen = []
    assert ordered_map(_square, range(20), jobs, done=seen.append) == [x * x for x in range(20)]
    assert seen == list(range(20))
    assert multiprocessing.active_children() == []


def test_an_error_in_a_worker_reaches_the_caller_and_stops_the_pool():
    with pytest.raises(ValueError, match="three"):
        ordered_map(_fail_on_three, range(10), jobs=2)
    assert multiprocessing.active_children() == []
