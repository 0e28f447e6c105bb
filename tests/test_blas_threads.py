"""OpenBLAS starts with one thread in the console script and widens for large products only."""

import os
import subprocess
import sys

PROBE = """
import os, sys
from conslaw_cli import blas_threads
blas_threads.start_narrow()
import numpy, threadpoolctl
threads = lambda: [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
print(threads())
blas_threads.widen_for(blas_threads.WIDEN_ABOVE)  # OpenBLAS would use one thread for this anyway
print(threads())
blas_threads.widen_for(blas_threads.WIDEN_ABOVE + 1)
print(threads(), os.environ.get("OPENBLAS_NUM_THREADS"))
"""


def _probe(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout
    return out.splitlines()


def test_the_pool_starts_with_one_thread_and_widens_to_every_core_for_a_large_product():
    from conslaw_cli.blas_threads import usable_cores

    assert _probe() == ["[1]", "[1]", f"[{usable_cores()}] None"]


def test_a_thread_count_chosen_by_the_user_is_kept():
    assert _probe(OPENBLAS_NUM_THREADS="1") == ["[1]", "[1]", "[1] 1"]
