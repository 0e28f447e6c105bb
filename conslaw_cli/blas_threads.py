"""OpenBLAS's thread pool: one thread at start-up, every core once a product is large enough.

numpy starts OpenBLAS with a thread per core when it is imported. On this project's 2-core
reference machine that start costs 15–20 ms (median of 40 interleaved imports: 111 → 92 ms with
one thread), about a tenth of a small `conslaw count`, whose products are far too small for a
second thread (OpenBLAS itself keeps products under 2^18 multiply–adds on one thread). So the
console script starts the pool with one thread, unless the user chose a thread count, and the
first product of the graph engine (or SVD of the numerical check) large enough to use more widens
it to every core, through threadpoolctl (the maintained way to change a BLAS pool at run time).
"""

from __future__ import annotations

import os

THREADS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
# OpenBLAS computes a product of fewer multiply–adds than this on one thread anyway
# (SMP_THRESHOLD_MIN × GEMM_MULTITHREAD_THRESHOLD = 65,536 × 4 in its interface/gemm.c)
WIDEN_ABOVE = 1 << 18

_narrowed = False


def start_narrow() -> None:
    """Before numpy is imported: start OpenBLAS with one thread, unless the user set a count."""
    global _narrowed
    if any(name in os.environ for name in THREADS_VARIABLES):
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
    del os.environ["OPENBLAS_NUM_THREADS"]  # child processes get the default again
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=os.cpu_count(), user_api="blas")
