"""OpenBLAS's thread pool: one thread at start-up, every core once a product is large enough.

numpy starts OpenBLAS with a thread per core when it is imported. On this project's 2-core
reference machine that start costs 15–20 ms (median of 40 interleaved imports: 111 → 92 ms with
one thread), about a tenth of a small `conslaw count`, whose products are far too small for a
second thread (OpenBLAS itself keeps products under 2^18 multiply–adds on one thread). So the
console script starts the pool with one thread, unless the user chose a thread count
(OPENBLAS_NUM_THREADS or OMP_NUM_THREADS), and the first product of the graph engine (or SVD of
the numerical check) large enough to use more widens it to every core this process may use,
through threadpoolctl (the maintained way to change a BLAS pool at run time).
"""

from __future__ import annotations

import os
import sys

THREADS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
# OpenBLAS computes a product of fewer multiply–adds than this on one thread anyway
# (SMP_THRESHOLD_MIN × GEMM_MULTITHREAD_THRESHOLD = 65,536 × 4 in its interface/gemm.c)
WIDEN_ABOVE = 1 << 18

_narrowed = False


def start_narrow() -> None:
    """Before numpy is imported: start OpenBLAS with one thread, unless the user set a count (or
    numpy is loaded already: its pool has started)."""
    global _narrowed
    if "numpy" in sys.modules or any(name in os.environ for name in THREADS_VARIABLES):
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    _narrowed = True


def widen_for(multiply_adds: int) -> None:
    """Give BLAS every core from now on, if this product is large enough to use them and the pool
    was narrowed by `start_narrow` (once: later calls return at once)."""
    global _narrowed
    if not _narrowed or multiply_adds <= WIDEN_ABOVE:
        return
    _narrowed = False
    os.environ.pop("OPENBLAS_NUM_THREADS", None)  # child processes get the default again
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=usable_cores(), user_api="blas")


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, as OpenBLAS's own default counts)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
