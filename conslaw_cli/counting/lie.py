"""The Lie-algebra trace loop, shared by both engines: dim V_0(θ), dim V_1(θ), … mod p.

Method (docs/method.md §2; Marcotte et al. 2023, Prop 3.1, Lemma 3.2, Thm 3.3): V_0 = span{∇φ_i},
V_{j+1} = V_j + [V_0, V_j]. Random bracket values of level j span V_j(θ) with high probability
(Schwartz–Zippel); they are added to an exact GF(p) rank until a sample fails to raise it, and the
count stops when dim V_{j+1}(θ) = dim V_j(θ) (Lemma 3.2 at a generic point). Where the fields come
from (expanded terms or the layer graph) is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import gf

# Matrices up to this many entries are ranked by numpy elimination (2–7 ms here): importing
# python-flint costs 35 ms, a seventh of a small count's whole run.
SMALL_RANK_ENTRIES = 4_096
# A whole dense count costs about this many seconds per D³ (measured here with two threads: linear
# 30-40-30, D = 2400, 3.4 s; attention dim 32, D = 2048, 2.1 s; both one rank to a ceiling).
RANK_SECONDS_PER_CUBE = 2.5e-10


class EngineDisagreement(RuntimeError):
    """The two random points gave different dimensions: a non-generic point or a bug."""


def exact_rank(rows: np.ndarray) -> int:
    """Rank over GF(p) of the rows: FLINT's nmod_mat, or for small matrices `small_rank`."""
    if rows.shape[0] == 0:
        return 0
    if rows.size <= SMALL_RANK_ENTRIES:
        return small_rank(rows)
    from .flint_bridge import to_nmod_mat  # python-flint: imported only for a matrix this large

    return to_nmod_mat(rows).rank()


def small_rank(rows: np.ndarray) -> int:
    """Rank over GF(p) of residues (< p) by Gauss elimination, a pivot per step on whole numpy
    rows (a 40 × 43 matrix: 6 ms here; Python integers take twice as long)."""
    matrix = np.array(rows, dtype=np.uint64)
    rank = 0
    for column in range(matrix.shape[1]):
        nonzero = np.flatnonzero(matrix[rank:, column])
        if nonzero.size == 0:
            continue
        pivot = rank + nonzero[0]
        matrix[[rank, pivot]] = matrix[[pivot, rank]]
        inverse = pow(int(matrix[rank, column]), gf.PRIME - 2, gf.PRIME)
        row = matrix[rank, column:] = gf.mul(matrix[rank, column:], np.uint64(inverse))
        below = matrix[rank + 1:, column:]  # zero left of `column` already
        below[:] = gf.sub(below, gf.mul(below[:, :1], row))
        rank += 1
        if rank == matrix.shape[0]:
            break
    return rank


@dataclass
class BlockTrace:
    """Trace dimensions of one block, after each bracket step, and the error bound's share."""

    dims: list[int]
    error_bound: float
    certified: bool = False  # reached a ceiling set by checked laws: no second point needed


def block_trace(fields, rng: gf.Residues, progress=None, ceiling: int | None = None) -> BlockTrace:
    """dim V_0(θ), dim V_1(θ), … until it stops growing, at a random θ (one block).

    `fields` evaluates random bracket values: ``num_vars``, ``degree`` (of φ in θ) and
    ``samples(level, count, theta, rng)`` (here `BlockFields`; the graph engine has its own).
    `progress(level, rank, target=None)` is told each rank reached (progress.Tracker.step).

    `ceiling`: an upper bound on dim Lie(V) known otherwise (D minus laws checked to be laws).
    A rank mod p of values of fields at θ is a lower bound on their rank over Q, hence on the
    generic dim Lie(V), with certainty; once it reaches the ceiling the dimension is proved and the
    trace stops (`certified`), with no probe of the next level."""
    n = fields.num_vars
    theta = rng.residues(n)
    # one rank to the ceiling where FLINT's elimination is the cost; a small block goes level by
    # level (its ranks cost less than the samples a failed attempt wastes: linear 2-4-3-2-3, whose
    # ceiling needs level 2, 18 → 14 ms)
    if ceiling is not None and fields.num_components < ceiling and ceiling * n > SMALL_RANK_ENTRIES:
        if progress:
            progress(1, None, ceiling)
        proved = _one_rank_to_the_ceiling(fields, theta, rng, ceiling)
        if proved is not None:
            return proved
    rows = np.zeros((0, n), dtype=np.uint64)
    dims: list[int] = []
    bound = 0.0
    level, gain = 0, min(fields.num_components, n)
    while True:
        rank = dims[-1] if dims else 0
        # level 0 and 1: a batch the size of the previous gain (+1 to see saturation); later levels
        # usually add nothing, so a probe of 2 samples first (the rank calls are the cost)
        batch = gain + 1 if level <= 1 else 2
        while rank < n:
            batch = min(batch, n - rank + 1)
            if ceiling is not None:
                batch = max(1, min(batch, ceiling - rank))
            rows = np.concatenate([rows, fields.samples(level, batch, theta, rng)])
            new_rank = exact_rank(rows)
            # Schwartz–Zippel: a nonzero minor in (θ, α) of degree ≤ n (L+1)(δ+1)
            bound += n * (level + 1) * (fields.degree + 1) / gf.PRIME
            grew, rank = new_rank - rank, new_rank
            if progress:
                progress(level, rank)
            if ceiling is not None and rank >= ceiling:
                if rank > ceiling:
                    raise AssertionError("internal error: a checked family law is contradicted by the trace")
                return BlockTrace(dims + [rank], bound, certified=True)
            if grew < batch:
                break
            batch = max(2 * batch, gain + 1)
        gain = rank - (dims[-1] if dims else 0)
        dims.append(rank)
        if rank == n or (level > 0 and gain == 0):
            return BlockTrace(dims, bound)
        level += 1


def _one_rank_to_the_ceiling(fields, theta: np.ndarray, rng: gf.Residues, ceiling: int) -> BlockTrace | None:
    """One exact rank of level-0 and level-1 samples together, as many as the ceiling: when it is
    reached, dim Lie(V) = ceiling is proved with a single rank (the dense rank is the cost; a
    per-level trace needs one per level and a probe). None when it is not reached."""
    level0 = fields.num_components  # ≥ dim V_0; the 5 % spare covers level-0 samples that repeat
    level1 = ceiling - level0 + level0 // 20 + 1
    rows = np.concatenate([fields.samples(0, level0, theta, rng), fields.samples(1, level1, theta, rng)])
    rank = exact_rank(rows)
    if rank > ceiling:
        raise AssertionError("internal error: a checked family law is contradicted by the trace")
    return BlockTrace([rank], 0.0, certified=True) if rank == ceiling else None


@dataclass
class TraceResult:
    """The trace dimension of Lie(V) at a generic point, and how it was obtained."""

    dims: list[int]  # summed over blocks, after each bracket step
    num_blocks: int
    num_classes: int
    error_bound: float  # probability bound for one point (blocks traced at every point)
    points: int = 2
    per_point_dims: list[list[int]] = field(default_factory=list)
    certified: int = 0  # blocks proved once: sandwich bounds, or a trace that reached checked laws' ceiling
    estimate: object = None  # the cost estimate made before the work (graph engine)
    check_error_bound: float = 0.0  # P(a checked family law of a proved block is not a law), counted once
    # every block certified, each once, and every candidate family checked inside one of them: the
    # families are then all the laws (their rank is the count), already checked
    families_proved: bool = False

    @property
    def dimension(self) -> int:
        return self.dims[-1] if self.dims else 0


def summed(traces: list[tuple[BlockTrace, int]]) -> list[int]:
    steps = max((len(t.dims) for t, _ in traces), default=1)
    return [sum(mult * t.dims[min(s, len(t.dims) - 1)] for t, mult in traces) for s in range(steps)]


