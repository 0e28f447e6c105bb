"""The Lie-algebra trace engine: dim Lie(span ∇φ_i)(θ) at a random point, exactly mod p.

Method (docs/method.md §2; Marcotte et al. 2023, Prop 3.1, Lemma 3.2, Thm 3.3):

* V_0 = span{∇φ_i}, V_{j+1} = V_j + [V_0, V_j]; V_j(θ) is spanned by the values at θ of the
  right-normed brackets [X_1, [X_2, … X_{j+1}]] of fields of V_0.  Brackets are multilinear, so
  their values at *random combinations* X_α = ∇(α·φ) span the same space with high
  probability (Schwartz–Zippel): we draw such samples, level by level, and add them to an
  exact GF(p) rank until a sample fails to raise it (then the level is complete, error ≤ deg/p).
  No bracket is ever materialised as a polynomial: its value at θ is computed by forward-mode
  differentiation in GF(p)[ε_1, …, ε_k]/(ε_i²) ("jets"): [X, Y](θ) = D_{X(θ)}Y(θ) − D_{Y(θ)}X(θ).
* the count stops when dim V_{j+1}(θ) = dim V_j(θ) (Lemma 3.2 at a generic point);
* components that share no variable form blocks whose fields commute: dimensions add up
  (Marcotte et al. 2025, App. G); blocks that are identical up to renaming variables (every neuron of a
  layer, every channel of a conv) have the same generic dimension and are computed once;
* everything is repeated at a second, independent random point, which must agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import gf, kernels
from .progress import Progress, Tracker, tracing
from conslaw_cli.phi.compiler import Phi, no_cyclic_gc
from conslaw_cli.errors import TooLarge
from .lie import RANK_SECONDS_PER_CUBE, BlockTrace, EngineDisagreement, TraceResult, block_trace, summed  # noqa: F401

from conslaw_cli.limits import DEFAULT_MAX_BLOCK  # noqa: E402
MEMORY_BUDGET = 4_000_000  # uint64 entries per batch of jet points (32 MB)


@dataclass
class Block:
    """Components sharing variables (transitively), in local variable numbering, as arrays."""

    variables: list[int]  # global indices
    components: list[int]  # indices into phi.components
    coef: np.ndarray  # (T,) residues: coefficient of each term
    comp: np.ndarray  # (T,) local component index of each term
    idx: np.ndarray  # (T, degree) local variable indices, padded with len(variables) (= 1)
    signature: tuple = ()  # equal signatures: the same block up to renaming variables

    @property
    def num_vars(self) -> int:
        return len(self.variables)

    @property
    def degree(self) -> int:
        return self.idx.shape[1]


@dataclass
class Terms:
    """φ as arrays, all the engine needs: the component of each term, its coefficient mod p, its
    variables (padded with -1). Much smaller than the polynomials (the caller may free those)."""

    comp: np.ndarray
    coef: np.ndarray
    idx: np.ndarray
    num_vars: int
    num_components: int


def flatten(phi: Phi) -> Terms:
    """φ's terms as arrays, filled straight from generators (no Python list of millions of terms)."""
    polys = [c.poly for c in phi.components]
    lengths = np.fromiter((len(p) for p in polys), dtype=np.int64, count=len(polys))
    terms = int(lengths.sum())
    degree = max(len(m) for p in polys for m in p)
    pad = (-1,) * degree
    with no_cyclic_gc():
        coef = np.fromiter((c % gf.PRIME for p in polys for c in p.values()), dtype=np.uint64, count=terms)
        idx = np.fromiter((v for p in polys for m in p for v in (m + pad)[:degree]), dtype=np.int64,
                          count=terms * degree).reshape(terms, degree)
    comp = np.repeat(np.arange(len(polys), dtype=np.int64), lengths)
    return Terms(comp, coef, idx, len(phi.variables), len(polys))


def _block_labels(comp: np.ndarray, idx: np.ndarray, num_vars: int, num_comps: int) -> np.ndarray:
    """For each component, the smallest variable of its block (connected components of the
    component–variable graph, by min-label propagation with pointer jumping)."""
    vars_of_terms = np.where(idx >= 0, idx, idx[:, :1])
    term_of = np.repeat(comp, idx.shape[1])
    flat_vars = vars_of_terms.reshape(-1)
    label = np.arange(num_vars)
    while True:
        comp_label = np.full(num_comps, num_vars, dtype=np.int64)
        np.minimum.at(comp_label, term_of, label[flat_vars])
        new = label.copy()
        np.minimum.at(new, flat_vars, comp_label[term_of])
        new = new[new]
        if np.array_equal(new, label):
            return comp_label
        label = new


def split_blocks(terms: Terms) -> list[Block]:
    """Group components into blocks of disjoint variables, as arrays in local numbering."""
    comp, coef, idx = terms.comp, terms.coef, terms.idx
    labels = _block_labels(comp, idx, terms.num_vars, terms.num_components)
    order = np.argsort(labels[comp], kind="stable")
    term_labels = labels[comp][order]
    starts = np.concatenate([[0], np.nonzero(np.diff(term_labels))[0] + 1, [len(order)]])
    return [_make_block(comp[order[a:b]], coef[order[a:b]], idx[order[a:b]]) for a, b in zip(starts[:-1], starts[1:])]


def _make_block(comp: np.ndarray, coef: np.ndarray, idx: np.ndarray) -> Block:
    """One block in local numbering; blocks with equal signatures are equal up to renaming."""
    components, local_comp = np.unique(comp, return_inverse=True)
    variables = np.unique(idx[idx >= 0])
    local_idx = np.where(idx >= 0, np.searchsorted(variables, idx), len(variables))
    local_comp = local_comp.astype(np.int64)
    signature = (len(variables), local_idx.shape, local_comp.tobytes(), coef.tobytes(), local_idx.tobytes())
    return Block(variables.tolist(), components.tolist(), coef, local_comp, local_idx, signature)


class BlockFields:
    """Evaluates fields ∇(α·φ) of one block, and brackets of them, at jet points.

    A batch of jet points has shape (B, n, J): for each of B samples, each variable is a jet of
    J = 2^k residues (see ``kernels``)."""

    def __init__(self, block: Block):
        self.block = block
        self.num_vars = block.num_vars
        self.degree = block.degree  # of φ in θ: the Schwartz–Zippel bound needs it
        self.num_components = len(block.components)  # dim V_0 ≤ this: the first batch's size

    def gradient(self, alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
        """∇(α_b·φ) at the jet points x[b] for each row α_b: shapes (B, d), (B, n, J) -> (B, n, J)."""
        out = np.zeros(x.shape, dtype=np.uint64)
        block = self.block
        kernels.gradient(alpha, block.comp, block.coef, block.idx, np.ascontiguousarray(x), out)
        return out

    def bracket_value(self, alphas: list[np.ndarray], x: np.ndarray) -> np.ndarray:
        """Value at x of [X_{α1}, [X_{α2}, … X_{αL}]]: [X, Y] = D_{X}Y − D_{Y}X, by jets.

        Appending a direction v as a new ε doubles the jet axis: x + ε v."""
        if len(alphas) == 1:
            return self.gradient(alphas[0], x)
        J = x.shape[2]
        along_x = self.gradient(alphas[0], x)
        inner = self.bracket_value(alphas[1:], np.concatenate([x, along_x], axis=2))
        y, dy_along_x = inner[:, :, :J], inner[:, :, J:]
        dx_along_y = self.gradient(alphas[0], np.concatenate([x, y], axis=2))[:, :, J:]
        return gf.sub(dy_along_x, dx_along_y)

    def samples(self, level: int, count: int, theta: np.ndarray, rng: gf.Residues) -> np.ndarray:
        """`count` random level-`level` bracket values at θ, as rows (count, n)."""
        block = self.block
        d = len(block.components)
        per_sample = (2 ** (level + 1)) * block.num_vars
        chunk = max(1, MEMORY_BUDGET // per_sample)
        rows = []
        for start in range(0, count, chunk):
            b = min(chunk, count - start)
            alphas = [rng.residues((b, d)) for _ in range(level + 1)]
            x = np.broadcast_to(theta[None, :, None], (b, block.num_vars, 1))
            rows.append(self.bracket_value(alphas, x)[:, :, 0])
        return np.concatenate(rows)


def trace_dimension(phi: Phi, seed: int = 0, points: int = 2, progress: Progress | None = None,
                    max_block: int = DEFAULT_MAX_BLOCK) -> TraceResult:
    """dim Lie(span ∇φ_i)(θ) at `points` independent random points, which must agree."""
    return trace_of_terms(flatten(phi) if phi.components else None, seed, points, progress, max_block)


def trace_of_terms(terms: Terms | None, seed: int = 0, points: int = 2, progress: Progress | None = None,
                   max_block: int = DEFAULT_MAX_BLOCK) -> TraceResult:
    """`trace_dimension` on φ's terms (None: φ has no component)."""
    if terms is None:
        return TraceResult([0], 0, 0, 0.0, points, [[0]] * points)
    blocks = split_blocks(terms)
    classes: dict[tuple, list[Block]] = {}
    for block in blocks:
        classes.setdefault(block.signature, []).append(block)
    largest = max(len(members[0].variables) for members in classes.values())
    if largest > max_block:
        raise TooLarge(f"a block of {largest:,} coupled parameters needs exact ranks of matrices up to "
                       f"{largest:,} x {largest:,} mod p: about {RANK_SECONDS_PER_CUBE * largest ** 3:,.0f} s "
                       f"and {2 * 8 * largest ** 2 / 2**30:,.1f} GB (limit {max_block:,} parameters per block)",
                       "raise the limit with --max-block N if you really mean it")
    tracker = Tracker(progress, [len(members[0].variables) for members in classes.values()], timed=False)
    results, bound = [], 0.0
    for point in range(points):
        rng = gf.Residues(seed, point)
        traces = []
        for k, members in enumerate(classes.values()):
            tracker.begin(k, tracing(point, points))
            traces.append((block_trace(BlockFields(members[0]), rng, tracker.step), len(members)))
        results.append(summed(traces))
        bound = max(bound, sum(t.error_bound for t, _ in traces))
    if any(r[-1] != results[0][-1] for r in results):
        raise EngineDisagreement(f"the random points disagree: trace dimensions {results}; "
                                 "rerun with another --seed and report this")
    return TraceResult(results[0], len(blocks), len(classes), bound, points, results)
