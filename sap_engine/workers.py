"""Independent work on several cores: analyses first, then figures.

Analyses of a plan do not depend on each other's results, and neither do figures, so both
are spread over worker processes. The workers are *forked* once the plan is checked and its
data loaded: they inherit the plan, the data and the imported modules copy-on-write, so only
a step number goes to a worker and only its ARD rows (or a figure's SVG) come back.

Results are merged in plan order, whatever the order in which workers finish, so the ARD
is the same with any number of jobs (``tests/test_workers.py`` compares one job with two,
value for value). With one job, or where ``fork`` is not available (Windows; macOS, where
forking after system frameworks are loaded is unsafe), everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

# What the forked workers inherit: set just before the pool starts, read in the child.
_INHERITED: dict = {}


def default_jobs() -> int:
    """The cores this process may use (its CPU affinity, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def pool(jobs: int, inherited: dict) -> ProcessPoolExecutor | None:
    """A pool of ``jobs`` forked workers that see ``inherited``; None to run serially."""
    if jobs <= 1 or not can_fork():
        return None
    _INHERITED.clear()
    _INHERITED.update(inherited)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))


def inherited() -> dict:
    return _INHERITED


def submit_all(pool_: ProcessPoolExecutor | None, fn: Callable, items: Iterable) -> list:
    """Start ``fn(item)`` for every item without waiting: futures with a pool, else the
    results computed here. Collect with :func:`results`."""
    items = list(items)
    if pool_ is None:
        return [_Done(fn(item)) for item in items]
    with warnings.catch_warnings():
        # A fork-context pool forks its workers at the first submit. From Python 3.12 on,
        # fork() warns whenever the process has other OS threads. Ours are only native
        # library threads (pyarrow's jemalloc background thread, the BLAS and Arrow thread
        # pools), which re-initialise themselves in the child through pthread_atfork
        # handlers. No Python thread runs then (the analysis pool is shut down before the
        # figure pool starts), so the child cannot inherit a held Python lock.
        warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                category=DeprecationWarning)
        return [pool_.submit(fn, item) for item in items]


def results(pending: list) -> list:
    return [p.result() for p in pending]


class _Done:
    """An already computed result with the ``Future.result`` interface."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value
