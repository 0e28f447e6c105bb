"""Vectorised arithmetic in GF(p), p = 2^61 - 1, on numpy ``uint64`` arrays.

The Mersenne prime makes reduction a shift and a mask, and a product of two residues is
formed from 31-bit halves so that nothing overflows 64 bits.  Everything the engines
compute at a random point goes through these few functions; exact linear algebra on the
results is delegated to python-flint's ``nmod_mat``.
"""

from __future__ import annotations

import numpy as np

PRIME = (1 << 61) - 1
# uint64 constants (numpy would promote Python ints to float64); shared with kernels.py
P64 = np.uint64(PRIME)
MASK31 = np.uint64((1 << 31) - 1)
MASK30 = np.uint64((1 << 30) - 1)
MASK32 = np.uint64((1 << 32) - 1)
S61, S32, S31, S30, ONE, ZERO = (np.uint64(k) for k in (61, 32, 31, 30, 1, 0))


def reduce(x: np.ndarray) -> np.ndarray:
    """Reduce values below 2^64 to [0, p)."""
    x = (x & P64) + (x >> S61)
    x = (x & P64) + (x >> S61)
    return np.where(x >= P64, x - P64, x)


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a*b mod p for residues a, b < p (broadcasting)."""
    a_hi, a_lo = a >> S31, a & MASK31
    b_hi, b_lo = b >> S31, b & MASK31
    mid = a_hi * b_lo + a_lo * b_hi  # < 2^62
    # 2^62 = 2 (mod p); mid * 2^31 = (mid >> 30) * 2^61 + (mid & mask30) * 2^31
    total = (a_hi * b_hi << ONE) + (mid >> S30) + ((mid & MASK30) << S31) + a_lo * b_lo
    return reduce(total)


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a+b mod p."""
    s = a + b
    return np.where(s >= P64, s - P64, s)


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a-b mod p."""
    return np.where(a >= b, a - b, a + (P64 - b))


def sum_segments(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum mod p over consecutive segments of the last axis (like ``np.add.reduceat``).

    Values are split in 32-bit halves so that the integer sums cannot overflow.
    """
    hi = np.add.reduceat(values >> S32, starts, axis=-1)
    lo = np.add.reduceat(values & MASK32, starts, axis=-1)
    return add(mul(reduce(hi), np.uint64(1 << 32)), reduce(lo))


def residues(values) -> np.ndarray:
    """Integers (any sign, any size) to residues, as a uint64 array."""
    return np.array([int(v) % PRIME for v in values], dtype=np.uint64)


def random_residues(rng: np.random.Generator, shape) -> np.ndarray:
    """Uniform random residues in [0, p)."""
    return rng.integers(0, PRIME, size=shape, dtype=np.uint64)
