"""GF(p), p = 2^61 - 1: the prime, its uint64 constants, and the few vectorised operations the
engine needs outside the compiled kernels (``kernels.py`` has the products)."""

from __future__ import annotations

import numpy as np

PRIME = (1 << 61) - 1
# uint64 constants (numpy would promote Python ints to float64); shared with kernels.py
P64 = np.uint64(PRIME)
MASK31 = np.uint64((1 << 31) - 1)
MASK30 = np.uint64((1 << 30) - 1)
S61, S31, S30, ONE, ZERO = (np.uint64(k) for k in (61, 31, 30, 1, 0))


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a - b mod p for residues a, b < p."""
    return np.where(a >= b, a - b, a + (P64 - b))


def random_residues(rng: np.random.Generator, shape) -> np.ndarray:
    """Uniform random residues in [0, p) (the random points and combinations of Schwartz–Zippel)."""
    return rng.integers(0, PRIME, size=shape, dtype=np.uint64)
