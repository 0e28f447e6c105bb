"""GF(p), p = 2^61 - 1: the prime, its uint64 constants, elementwise operations on numpy uint64
residues (the compiled kernels, ``kernels.py``, have their own) and random residues."""

from __future__ import annotations

import random

import numpy as np

PRIME = (1 << 61) - 1
# uint64 constants (numpy would promote Python ints to float64); shared with kernels.py
P64 = np.uint64(PRIME)
MASK31 = np.uint64((1 << 31) - 1)
MASK30 = np.uint64((1 << 30) - 1)
S61, S31, S30, S3, ONE, ZERO = (np.uint64(k) for k in (61, 31, 30, 3, 1, 0))


def reduce(x: np.ndarray) -> np.ndarray:
    """x mod p for any uint64 x (two folds of the top bits: 2^61 ≡ 1)."""
    x = (x & P64) + (x >> S61)
    return np.where(x >= P64, x - P64, x)


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b mod p for residues."""
    s = a + b
    return np.where(s >= P64, s - P64, s)


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a·b mod p from 31-bit halves (2^62 ≡ 2 mod p), broadcasting like numpy."""
    a_hi, a_lo = a >> S31, a & MASK31
    b_hi, b_lo = b >> S31, b & MASK31
    mid = a_hi * b_lo + a_lo * b_hi
    t = ((a_hi * b_hi) << ONE) + (mid >> S30) + ((mid & MASK30) << S31) + a_lo * b_lo
    return reduce(t)


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a - b mod p for residues a, b < p."""
    return np.where(a >= b, a - b, a + (P64 - b))


def poly_gradient(poly: dict, theta: list[int]) -> dict[int, int]:
    """∇h(θ) mod p for an integer polynomial {monomial: coefficient} (a monomial: a tuple of variable
    indices, repeated for powers) at θ given as Python integers, as {variable: nonzero value}."""
    grad: dict[int, int] = {}
    for mono, coef in poly.items():
        if len(mono) == 2:  # most laws are quadratic: ∂(c·θ_u θ_v) = c θ_v e_u + c θ_u e_v
            u, v = mono
            grad[u] = (grad.get(u, 0) + coef * theta[v]) % PRIME
            grad[v] = (grad.get(v, 0) + coef * theta[u]) % PRIME
            continue
        for k, v in enumerate(mono):
            rest = coef
            for u in mono[:k] + mono[k + 1:]:
                rest = rest * theta[u] % PRIME
            grad[v] = (grad.get(v, 0) + rest) % PRIME
    return {v: g for v, g in grad.items() if g}


WORDS_PER_DRAW = 1 << 20  # 64-bit words per call of randbytes (8 MB)


class Residues:
    """A reproducible stream of uniform random residues mod p, named by a key (seed, purpose…):
    the random points and combinations of Schwartz–Zippel.

    Drawn from the standard library's Mersenne Twister (`random.Random.randbytes`, seeded by the
    key's text): importing numpy.random costs ~20 ms, a tenth of a small count's whole run. A
    61-bit word is uniform on [0, 2^61); reduced mod p only 2^61 − 1 lands on 0, a bias of 2^-61."""

    def __init__(self, *key: int):
        self._source = random.Random("conslaw:" + ",".join(str(k) for k in key))

    def residues(self, shape) -> np.ndarray:
        """Uniform residues in [0, p), as a uint64 array of `shape` (an int or a tuple). Drawn in
        chunks (randbytes counts its bits in a C int: one draw of 2^25 words overflows it); the
        stream is the same whatever the chunks, so results do not depend on them."""
        count = int(np.prod(shape, dtype=np.int64))
        words = np.empty(count, dtype=np.uint64)
        for start in range(0, count, WORDS_PER_DRAW):
            size = min(WORDS_PER_DRAW, count - start)
            words[start:start + size] = np.frombuffer(self._source.randbytes(8 * size), dtype="<u8")
        words >>= S3
        words[words == P64] = ZERO
        return words.reshape(shape)

    def nonzero(self, shape) -> np.ndarray:
        """Uniform residues in [1, p) (points with no zero coordinate), zeros drawn again."""
        out = self.residues(shape)
        while not out.all():
            zeros = out == 0
            out[zeros] = self.residues(int(zeros.sum()))
        return out
