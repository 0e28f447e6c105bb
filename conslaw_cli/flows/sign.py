"""`conslaw count --flow sign`: conservation laws of the sign flow θ' = −sign(∇L(θ)) (the
limit flow of Adam with β₁ = β₂ = 0).

Marcotte, Gribonval, Peyré 2025, §2.3 and App. R: with g(θ, x) = f(φ(θ), x), the gradient is
∂φ(θ)ᵀw for some w, so the fields of the sign flow are the vectors sign(∂φ(θ)ᵀw). They are
locally constant in θ, so their brackets vanish and the Lie algebra they generate is their span
W_θ = span{sign(∂φ(θ)ᵀw) : w}; the number of independent laws near θ is D − dim W_θ.

Computation, exact: θ is a random integer point (no zero entry), ∂φ(θ) is evaluated over the
integers, w is drawn with random integer entries, so every sign is exact; the sign vectors go
into an exact rank modulo p = 2^61 − 1 (python-flint `nmod_mat`). Vectors are drawn in batches
until `patience` batches in a row fail to raise the rank, or the rank reaches D.

What the stopping rule guarantees: every sampled vector lies in W_θ, so the sampled dimension is
a lower bound on dim W_θ and the printed count an UPPER bound on the number of laws. A sign
pattern reached only from a thin cone of w can be missed; a rank mod p can only be lower than the
rank over Q. Where the count is reached, the laws are the linear functions ⟨n, θ⟩ with n ⊥ W_θ,
valid where the sign patterns stay those of θ (App. R): they are printed with |θ_i| = sign(θ_i)θ_i
at the sampled point (for the scalar two-layer network, |u| − |v|).

The formula assumes, as App. R does, that every w ∈ R^d is reached by ∂_φ f ᵀ ∂ℓ (proved for
two-layer linear networks and attention, Thm R.2, R.3). Where φ is not rich, fewer w may be
reached, W_θ may be smaller and the network may have more laws: the result says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import flint
import numpy as np

from conslaw_cli import analysis
from conslaw_cli.counting.gf import PRIME
from conslaw_cli.errors import TooLarge
from conslaw_cli.lawfinding.system import integer_row
from conslaw_cli.limits import DEFAULT_MAX_SECONDS, MAX_BYTES

POINT_RANGE = 30  # |θ_i| ≤ 30 at the integer point
W_RANGE = 1000  # |w_i| ≤ 1000
BATCH = 64
# measured on this machine (2 cores): one entry of the Jacobian (Python integers), one entry of a
# batch's sparse product (numpy), one entry operation of an exact rank mod p (FLINT)
SECONDS_PER_ENTRY, SECONDS_PER_PRODUCT, SECONDS_PER_RANK_ENTRY = 2e-6, 1e-8, 1.6e-10
PATIENCE = 4  # batches without a new dimension before stopping
MAX_LISTED = 12


@dataclass
class SignFlowResult:
    name: str
    file: str
    parameters: int
    dimension: int  # sampled dim W_θ (a lower bound)
    samples: int
    patterns: int  # distinct sign vectors seen
    laws: int  # D − dimension: an upper bound on the number of sign-flow laws
    listed: list[str] = field(default_factory=list)
    seed: int = 0
    seconds: float = 0.0
    rich: bool = True  # φ theorem-backed: the upper bound holds for the network itself
    estimate_seconds: float | None = None  # what the refusal logic predicted before the work

    def to_json(self) -> dict:
        return {"schema": 1, "flow": "sign", "name": self.name, "file": self.file, "parameters": self.parameters,
                "dim_W_sampled": self.dimension, "samples": self.samples, "sign_patterns": self.patterns,
                "laws": self.laws, "bound": "upper" if self.rich else "none (φ not rich)", "laws_listed": self.listed, "seed": self.seed,
                "seconds": round(self.seconds, 4), "estimate_seconds": self.estimate_seconds, "prime": PRIME}


@dataclass
class SparseJacobian:
    """∂φ(θ) at an integer point, exactly, as its nonzero entries: component `rows[k]`, parameter
    `cols[k]`, value `values[k]` (int64 when no product with w can overflow, else Python ints)."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    num_components: int
    num_vars: int

    def signs(self, w: np.ndarray) -> np.ndarray:
        """sign(∂φᵀw) for each column of w (components × batch): one row per column, exact."""
        products = self.values[:, None] * w[self.rows].astype(self.values.dtype)
        total = np.zeros((self.num_vars, w.shape[1]), dtype=self.values.dtype)
        np.add.at(total, self.cols, products)
        return np.sign(total).astype(np.int64).T


def jacobian_at(components: list[dict], point: list[int], num_vars: int) -> SparseJacobian:
    """∂φ(θ) at an integer point, exactly: every term's derivative in each of its variables
    (O(terms × degree); the dense matrix would be components × D)."""
    rows, cols, values = [], [], []
    for row, poly in enumerate(components):
        for monomial, coefficient in poly.items():
            for position, var in enumerate(monomial):
                term = coefficient
                for other, u in enumerate(monomial):
                    if other != position:
                        term *= point[u]
                rows.append(row)
                cols.append(var)
                values.append(term)
    largest = max(map(abs, values), default=0)
    exact_in_int64 = largest * W_RANGE * max(len(values), 1) < 2**62  # no sum can overflow
    return SparseJacobian(np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
                          np.array(values, dtype=np.int64 if exact_in_int64 else object), len(components), num_vars)


def sampled_span(jac: SparseJacobian, rng: np.random.Generator, patience: int = PATIENCE) -> tuple[np.ndarray, int, int]:
    """(the distinct nonzero sign vectors drawn, as rows; the rank of their span mod p; samples
    drawn): sign(∂φᵀw) for random integer w, in batches, until `patience` batches add no
    dimension or the span is everything. The number of distinct patterns is the rows' count."""
    from conslaw_cli.counting.lie import exact_rank

    seen: set[tuple] = set()
    vectors = np.zeros((0, jac.num_vars), dtype=np.int64)  # the distinct patterns, in the order drawn
    rank, samples, idle = 0, 0, 0
    while idle < patience and rank < jac.num_vars:
        w = rng.integers(-W_RANGE, W_RANGE + 1, size=(jac.num_components, BATCH))
        samples += BATCH
        new = list(dict.fromkeys(v for v in map(tuple, jac.signs(w).tolist()) if any(v) and v not in seen))
        seen.update(new)
        before = rank
        if new:
            vectors = np.concatenate([vectors, np.array(new, dtype=np.int64)])
            rank = exact_rank((vectors % PRIME).astype(np.uint64))  # −1 ↦ p − 1
        idle = 0 if rank > before else idle + 1
    return vectors, rank, samples


def echelon_basis(vectors: np.ndarray) -> list[list[int]]:
    """A basis of the span of integer vectors mod p, in reduced echelon form (for the laws)."""
    if len(vectors) == 0:
        return []
    reduced, rank = flint.nmod_mat([[v % PRIME for v in row] for row in vectors.tolist()], PRIME).rref()
    return [[int(reduced[i, j]) for j in range(vectors.shape[1])] for i in range(rank)]


def law_texts(basis: list, point: list[int], names: list[str]) -> list[str]:
    """The linear laws ⟨n, θ⟩, n ⊥ W_θ, written with |θ_i| (signs of the sampled point)."""
    num_vars = len(names)
    if not basis:
        return [f"|{name}| (every parameter is conserved)" for name in names]
    null, nullity = flint.nmod_mat(basis, PRIME).nullspace()
    texts = []
    for column in range(nullity):
        normal = integer_row([int(null[i, column]) for i in range(num_vars)])
        terms = [(c * (1 if point[i] > 0 else -1), names[i]) for i, c in enumerate(normal) if c]
        if terms[0][0] < 0:  # |u| − |v| rather than −|u| + |v|
            terms = [(-c, n) for c, n in terms]
        texts.append(" ".join(f"{'+' if c > 0 else '−'} {'' if abs(c) == 1 else f'{abs(c)}·'}|{n}|"
                              for c, n in terms).lstrip("+ "))
    return texts


def estimated_seconds(entries: int, num_vars: int) -> float:
    """The work of `count` from φ's sizes (`entries`: the Jacobian's nonzero entries, one per
    variable of each term): the Jacobian, then batches of BATCH sign vectors until the span stops
    growing (at least D / BATCH batches when W_θ is everything), each a sparse product with the
    Jacobian and an exact rank of the distinct vectors so far (r rows in D columns: about r² D).
    Measured here: ReLU 30-40-30, D = 2,400: 30 s; ReLU 10-20-10, D = 400: 0.1 s."""
    batches = num_vars // BATCH + PATIENCE
    ranks = sum(min((b + 1) * BATCH, num_vars) ** 2 for b in range(batches)) * num_vars * SECONDS_PER_RANK_ENTRY
    return entries * (SECONDS_PER_ENTRY + batches * BATCH * SECONDS_PER_PRODUCT) + ranks


def _refuse_hopeless(phi, max_seconds: float) -> float:
    """The estimated seconds (`estimated_seconds`); TooLarge over the budget or the memory limit."""
    entries = sum(len(m) for c in phi.components for m in c.poly)
    seconds = estimated_seconds(entries, len(phi.variables))
    memory = 3 * 8 * (entries * BATCH + (len(phi.variables) + PATIENCE * BATCH) * len(phi.variables))  # products, ranks
    if memory > MAX_BYTES or seconds > max_seconds:
        raise TooLarge(f"the sign flow needs {entries:,} entries of the exact Jacobian of φ and exact ranks of up to "
                       f"{len(phi.variables):,} columns mod p: about {seconds:,.0f} s and {memory / 2**30:,.1f} GB "
                       f"(budget {max_seconds:,g} s, {MAX_BYTES // 2**30} GB)",
                       "raise the limit with --max-seconds N if you can wait, or try smaller widths")
    return seconds


def count(path: analysis.Source, seed: int = 0, max_seconds: float = DEFAULT_MAX_SECONDS) -> SignFlowResult:
    """D − dim W_θ at a random integer point (see the module docstring for what is guaranteed);
    refused, with the estimate, before any work beyond φ when it would take over `max_seconds`."""
    start = time.perf_counter()
    graph, phi = analysis.load(path)
    with analysis.located(graph):
        estimate = _refuse_hopeless(phi, max_seconds)
    rng = np.random.default_rng([seed, 4242])
    point = [int(v) for v in rng.integers(1, POINT_RANGE + 1, len(phi.variables)) *
             rng.choice([-1, 1], len(phi.variables))]
    jac = jacobian_at([c.poly for c in phi.components], point, len(phi.variables))
    vectors, dimension, samples = sampled_span(jac, rng)
    laws = len(phi.variables) - dimension
    listed = law_texts(echelon_basis(vectors), point, phi.variables) if 0 < laws <= MAX_LISTED else []
    return SignFlowResult(graph.name, analysis.source_file(path), len(phi.variables), dimension, samples, len(vectors),
                          laws, listed, seed, time.perf_counter() - start, phi.rich, estimate)


def table(results: list[SignFlowResult]):
    """A rich table for `count --flow sign`, one row per file."""
    from conslaw_cli.sanitize import terminal_markup as escape  # names literally: no ESC or BEL reaches the terminal
    from rich.table import Table

    out = Table(title="conservation laws of the sign flow θ' = −sign(∇L) (Adam limit)", title_justify="left")
    for column, justify in (("name", "left"), ("D", "right"), ("dim W_θ (sampled)", "right"), ("samples", "right"),
                            ("sign patterns", "right"), ("laws (upper bound)", "right"), ("seconds", "right")):
        out.add_column(column, justify=justify)
    for r in results:
        out.add_row(escape(r.name), str(r.parameters), str(r.dimension), str(r.samples), str(r.patterns),
                    f"[bold]{r.laws}[/]" + ("" if r.rich else " [yellow](φ not rich)[/]"), f"{r.seconds:.3f}")
    return out


def footer(results: list[SignFlowResult]) -> list[str]:
    """The laws where they were found, and what the numbers guarantee."""
    lines = [f"{r.name}: {law}" for r in results for law in r.listed]
    lines.append("W_θ = span{sign(∂φ(θ)ᵀw)} (Marcotte, Gribonval, Peyré 2025, App. R): exact signs at an integer θ, "
                 f"exact rank mod {PRIME}; w sampled until {PATIENCE} batches of {BATCH} add no dimension. A sampled "
                 "dimension is a lower bound on dim W_θ, so each count is an UPPER bound on the number of laws. "
                 "Laws are linear in |θ_i| near θ (signs of the sampled point).")
    if not all(r.rich for r in results):
        lines.append("φ not rich: the formula assumes every w is reached (App. R, Thm R.2, R.3); where φ is not "
                     "rich fewer may be, and the network may have more sign-flow laws than printed (no bound).")
    return lines
