"""Vectorised arithmetic mod p = 2^61 − 1 on numpy uint64 arrays, and on jets.

Why not numba here: small networks must not pay for loading compiled kernels, and the heavy work
of the graph engine is matrix products, which float64 BLAS does exactly when the operands are cut
into 21-bit limbs (a product of two limbs is < 2^42, and a sum of 2^11 of them is < 2^53, the
float64 mantissa).

A *jet* is a truncated polynomial in nilpotent ε_1..ε_k (ε_i² = 0), stored along an axis of
J = 2^k residues: entry S is the coefficient of Π_{i∈S} ε_i.  The product of two jets is the
subset convolution (c)_S = Σ_{T ⊆ S} a_T b_{S∖T}.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from conslaw_cli import blas_threads
from conslaw_cli.counting.gf import MASK31, P64, PRIME, S31, add, mul, reduce, sub  # noqa: F401  (sub re-exported)

MASK32, S32 = np.uint64((1 << 32) - 1), np.uint64(32)
LIMB_BITS = 21
LIMB_MASK = np.uint64((1 << LIMB_BITS) - 1)
MAX_INNER = 1 << 11  # inner dimension of one exact float64 limb product
# Below this many multiply-adds, Python integers beat the nine limb products (measured: a 4×3
# by 3×5 product takes 17 µs as Python integers, 240 µs as limbs; they break even near 2,000).
SMALL_PRODUCT = 1_500
_SHIFTS = [(LIMB_BITS * s) % 61 for s in range(5)]  # 2^(21 s) ≡ 2^(21 s mod 61) (mod 2^61 − 1)


def _times_power_of_two(x: np.ndarray, shift: int) -> np.ndarray:
    """x·2^shift mod p for residues x and 0 ≤ shift < 61 (a rotation of the 61 bits)."""
    if shift == 0:
        return x
    low = (x << np.uint64(shift)) & P64
    high = x >> np.uint64(61 - shift)
    return reduce(low + high)


def _limbs(a: np.ndarray) -> list[np.ndarray]:
    return [((a >> np.uint64(LIMB_BITS * i)) & LIMB_MASK).astype(np.float64) for i in range(3)]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b mod p (numpy broadcasting of leading axes), exactly, through float64 BLAS."""
    inner = a.shape[-1]
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) if b.ndim > 1 else a.shape[:-2]
    multiply_adds = math.prod(lead) * math.prod(a.shape[-2:]) * (b.shape[-1] if b.ndim > 1 else 1)
    if multiply_adds <= SMALL_PRODUCT:
        return ((a.astype(object) @ b.astype(object)) % PRIME).astype(np.uint64)
    if inner == 1 and a.ndim > 1 and b.ndim > 1:  # outer products: elementwise, no limbs
        return mul(a, b)
    blas_threads.widen_for(multiply_adds)
    if inner > MAX_INNER:
        out = None
        for start in range(0, inner, MAX_INNER):
            part = matmul(a[..., start:start + MAX_INNER], b[..., start:start + MAX_INNER, :])
            out = part if out is None else add(out, part)
        return out
    la, lb = _limbs(a), _limbs(b)
    total = None
    for s in range(5):
        acc = None
        for i in range(max(0, s - 2), min(2, s) + 1):
            prod = np.matmul(la[i], lb[s - i]).astype(np.uint64)  # exact: < 2^53
            acc = prod if acc is None else acc + prod  # < 3·2^53: no overflow
        term = _times_power_of_two(reduce(acc), _SHIFTS[s])
        total = term if total is None else add(total, term)
    return total


def sum_mod(a: np.ndarray, axis) -> np.ndarray:
    """Sum of residues along `axis`, mod p (sums in 31-bit halves, so any length is exact)."""
    low = (a & MASK31).sum(axis=axis, dtype=np.uint64)
    high = (a >> S31).sum(axis=axis, dtype=np.uint64)
    # high·2^31 + low, each < 2^31·n; fold n up to 2^33 terms exactly
    return add(reduce(low), _times_power_of_two(reduce(high), 31))


def scatter_add(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """out[..., index[k]] += values[..., k] mod p (weight sharing: many entries, one variable)."""
    lead = values.shape[:-1]
    flat = values.reshape(-1, values.shape[-1])
    rows = np.repeat(np.arange(flat.shape[0]), flat.shape[1])
    cols = np.tile(index, flat.shape[0])
    out = np.zeros(flat.shape[0] * size, dtype=np.uint64)
    keys = rows * size + cols
    low = np.bincount(keys, weights=(flat & MASK31).reshape(-1).astype(np.float64), minlength=out.size)
    high = np.bincount(keys, weights=(flat >> S31).reshape(-1).astype(np.float64), minlength=out.size)
    # each bincount sums < 2^31 per term: exact in float64 for up to 2^22 terms per variable
    out = add(reduce(low.astype(np.uint64)), _times_power_of_two(reduce(high.astype(np.uint64)), 31))
    return out.reshape(*lead, size)


# --- jets: arrays whose axis `axis` has length J = 2^k -------------------------------------------

def subset_pairs(jets: int) -> list[tuple[int, int, int]]:
    """(S, T, S∖T) for every T ⊆ S < jets: the terms of a subset convolution."""
    out = []
    for s in range(jets):
        t = s
        while True:
            out.append((s, t, s ^ t))
            if t == 0:
                break
            t = (t - 1) & s
    return out


SMALL_JET_PRODUCT = 20_000  # uint64 entries of the stacked factors: below this, one batched product


@functools.lru_cache(maxsize=None)
def _pair_index(jets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The terms of a subset convolution as index arrays (T, S∖T), grouped by S in increasing
    order, and the first term of each group (every group has T = S)."""
    pairs = subset_pairs(jets)
    firsts = [k for k, (s, _, _) in enumerate(pairs) if k == 0 or pairs[k - 1][0] != s]
    return (np.array([t for _, t, _ in pairs]), np.array([rest for _, _, rest in pairs]), np.array(firsts))


def jet_product(a: np.ndarray, b: np.ndarray, product, axis_a: int, axis_b: int, axis_out: int) -> np.ndarray:
    """The subset convolution of jets a and b under a bilinear `product` (mul, matmul, outer…).

    The jet axes of a and b are `axis_a`, `axis_b` (same length J); the result has its jet axis at
    `axis_out`. Small jets take every term in one batched product (numpy's per-call cost
    dominates there: linear 2-4-3-2-3 spent 0.1 s in 2,680 tiny products); large ones a product
    per term, skipping terms where either factor is identically zero."""
    jets = a.shape[axis_a]
    if jets > 1 and (a.size + b.size) // jets * len(_pair_index(jets)[0]) <= SMALL_JET_PRODUCT:
        return _batched_jet_product(a, b, product, axis_a, axis_b, axis_out)
    a_parts = [np.take(a, t, axis=axis_a) for t in range(jets)]
    b_parts = [np.take(b, t, axis=axis_b) for t in range(jets)]
    a_zero = [not part.any() for part in a_parts]
    b_zero = [not part.any() for part in b_parts]
    results: list = [None] * jets
    for s, t, rest in subset_pairs(jets):
        if a_zero[t] or b_zero[rest]:
            continue
        term = product(a_parts[t], b_parts[rest])
        results[s] = term if results[s] is None else add(results[s], term)
    shape = next(r.shape for r in results if r is not None) if any(r is not None for r in results) else None
    if shape is None:
        shape = product(a_parts[0], b_parts[0]).shape
    return np.stack([r if r is not None else np.zeros(shape, dtype=np.uint64) for r in results], axis=axis_out)


def _batched_jet_product(a: np.ndarray, b: np.ndarray, product, axis_a: int, axis_b: int, axis_out: int) -> np.ndarray:
    """`jet_product` as one product of the stacked terms, summed by group: a group of S has 2^|S|
    terms < 2^61, so its sums of 32-bit halves cannot overflow."""
    left, right, group_starts = _pair_index(a.shape[axis_a])
    a_terms = np.moveaxis(np.take(a, left, axis=axis_a), axis_a, 0)
    b_terms = np.moveaxis(np.take(b, right, axis=axis_b), axis_b, 0)
    if a_terms.size + b_terms.size <= SMALL_PRODUCT and product in _INTEGER_PRODUCT:  # Python integers
        terms = _INTEGER_PRODUCT[product](a_terms.astype(object), b_terms.astype(object))
        return np.moveaxis((np.add.reduceat(terms, group_starts, axis=0) % PRIME).astype(np.uint64), 0, axis_out)
    terms = product(a_terms, b_terms)
    low = np.add.reduceat(terms & MASK32, group_starts, axis=0)
    high = np.add.reduceat(terms >> S32, group_starts, axis=0)
    return np.moveaxis(add(reduce(low), _times_power_of_two(reduce(high), 32)), 0, axis_out)


_INTEGER_PRODUCT = {matmul: np.matmul, mul: np.multiply}  # the products of residues, on Python integers
