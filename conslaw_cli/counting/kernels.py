"""Compiled inner loops (numba) for arithmetic in GF(p), p = 2^61 - 1, on jets.

A jet is a truncated polynomial in nilpotent ε_1..ε_k (ε_i² = 0), stored as 2^k residues: entry S
is the coefficient of Π_{i ∈ S} ε_i.  Products are subset convolutions.  The one heavy kernel,
``gradient``, evaluates ∇(α·φ) at jet points for a batch of coefficient vectors α.
"""

from __future__ import annotations

import numpy as np
from conslaw_cli import numba_cache  # noqa: F401, I001  (before numba: where numba caches the kernels)
from numba import njit, prange

from .gf import MASK30 as _M30
from .gf import MASK31 as _M31
from .gf import ONE as _1
from .gf import P64 as _P
from .gf import S30 as _30
from .gf import S31 as _31
from .gf import S61 as _61
from .gf import ZERO as _0


@njit(inline="always", cache=True)
def mulmod(a, b):
    """a*b mod p from 31-bit halves (2^62 = 2 mod p), no 128-bit arithmetic needed."""
    a_hi, a_lo = a >> _31, a & _M31
    b_hi, b_lo = b >> _31, b & _M31
    mid = a_hi * b_lo + a_lo * b_hi
    t = ((a_hi * b_hi) << _1) + (mid >> _30) + ((mid & _M30) << _31) + a_lo * b_lo
    t = (t & _P) + (t >> _61)
    t = (t & _P) + (t >> _61)
    return t - _P if t >= _P else t


@njit(inline="always", cache=True)
def addmod(a, b):
    s = a + b
    return s - _P if s >= _P else s


@njit(inline="always", cache=True)
def _jet_mul_into(a, b, out):
    """out = a*b in GF(p)[ε]/(ε_i²), by subset convolution."""
    for s in range(a.shape[0]):
        acc = _0
        sub = s
        while True:
            acc = addmod(acc, mulmod(a[sub], b[s ^ sub]))
            if sub == 0:
                break
            sub = (sub - 1) & s
        out[s] = acc


@njit(parallel=True, cache=True)
def gradient(alpha, comp, coef, idx, x, out):
    """out[b] += ∇(Σ_i alpha[b,i] φ_i) at the jet point x[b] (shape (n, J)), for every b.

    φ is given term by term: term t has coefficient coef[t], belongs to component comp[t] and is
    the product of the variables idx[t, :] (an index equal to n stands for the constant 1)."""
    batch, n, jets = x.shape
    terms, degree = idx.shape
    for b in prange(batch):
        product = np.empty(jets, dtype=np.uint64)
        scratch = np.empty(jets, dtype=np.uint64)
        for t in range(terms):
            c = mulmod(alpha[b, comp[t]], coef[t])
            if c == _0:
                continue
            for m in range(degree):
                v = idx[t, m]
                if v == n:
                    continue
                product[:] = _0
                product[0] = c
                for m2 in range(degree):
                    w = idx[t, m2]
                    if m2 == m or w == n:
                        continue
                    _jet_mul_into(product, x[b, w], scratch)
                    product[:] = scratch
                for s in range(jets):
                    out[b, v, s] = addmod(out[b, v, s], product[s])
