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
from conslaw_cli.lawfinding.system import integer_row

POINT_RANGE = 30  # |θ_i| ≤ 30 at the integer point
W_RANGE = 1000  # |w_i| ≤ 1000
BATCH = 64
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

    def to_json(self) -> dict:
        return {"schema": 1, "flow": "sign", "name": self.name, "file": self.file, "parameters": self.parameters,
                "dim_W_sampled": self.dimension, "samples": self.samples, "sign_patterns": self.patterns,
                "laws": self.laws, "bound": "upper" if self.rich else "none (φ not rich)", "laws_listed": self.listed, "seed": self.seed,
                "seconds": round(self.seconds, 4), "prime": PRIME}


def jacobian_at(components: list[dict], point: list[int], num_vars: int) -> np.ndarray:
    """∂φ(θ) at an integer point, exactly (an object array of Python integers)."""
    jac = np.zeros((len(components), num_vars), dtype=object)
    for row, poly in enumerate(components):
        for monomial, coefficient in poly.items():
            for position, var in enumerate(monomial):
                term = coefficient
                for other, u in enumerate(monomial):
                    if other != position:
                        term *= point[u]
                jac[row, var] += term
    return jac


def sampled_span(jac: np.ndarray, rng: np.random.Generator, patience: int = PATIENCE) -> tuple[list, int, int]:
    """(a basis of the sampled span, mod p, in reduced echelon form; samples drawn; distinct sign
    patterns): sign(∂φᵀw) for random integer w, in batches, until `patience` batches add no
    dimension or the span is everything."""
    num_vars = jac.shape[1]
    basis: list[list[int]] = []
    seen: set[tuple] = set()
    samples, idle = 0, 0
    while idle < patience and len(basis) < num_vars:
        w = rng.integers(-W_RANGE, W_RANGE + 1, size=(jac.shape[0], BATCH)).astype(object)
        signs = np.sign(jac.T.dot(w)).astype(np.int64).T  # exact: integer arithmetic
        samples += BATCH
        new = [vector for vector in set(map(tuple, signs.tolist())) - seen if any(vector)]
        seen.update(new)
        before = len(basis)
        if new:
            reduced, rank = flint.nmod_mat(basis + [[v % PRIME for v in vector] for vector in new], PRIME).rref()
            basis = [[int(reduced[i, j]) for j in range(num_vars)] for i in range(rank)]
        idle = 0 if len(basis) > before else idle + 1
    return basis, samples, len(seen)


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


def count(path: analysis.Source, seed: int = 0) -> SignFlowResult:
    """D − dim W_θ at a random integer point (see the module docstring for what is guaranteed)."""
    start = time.perf_counter()
    graph, phi = analysis.load(path)
    rng = np.random.default_rng([seed, 4242])
    point = [int(v) for v in rng.integers(1, POINT_RANGE + 1, len(phi.variables)) *
             rng.choice([-1, 1], len(phi.variables))]
    jac = jacobian_at([c.poly for c in phi.components], point, len(phi.variables))
    basis, samples, patterns = sampled_span(jac, rng)
    laws = len(phi.variables) - len(basis)
    listed = law_texts(basis, point, phi.variables) if 0 < laws <= MAX_LISTED else []
    return SignFlowResult(graph.name, analysis.source_file(path), len(phi.variables), len(basis), samples, patterns, laws, listed,
                          seed, time.perf_counter() - start, phi.rich)


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
