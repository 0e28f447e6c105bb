"""A straightforward implementation of the published algorithm, for speed comparisons only.

As in the SageMath notebooks of Marcotte et al. 2023: the fields ∇φ_i are built symbolically (sympy), every
new field of V_j is bracketed symbolically with every field of V_0, values are taken at one
random point of [0,1)^D in floating point, and numpy's SVD-based matrix_rank decides which
fields raise the rank. It stops when a step adds nothing (Marcotte et al. 2023, Lemma 3.2)."""

from __future__ import annotations

import numpy as np
import sympy

from conslaw_cli.phi.compiler import Phi


def reference_trace_dims(phi: Phi, seed: int = 0) -> list[int]:
    symbols = sympy.symbols(f"x0:{len(phi.variables)}")
    point = dict(zip(symbols, np.random.default_rng(seed).random(len(symbols))))
    components = [sum(c * sympy.Mul(*[symbols[v] for v in m]) for m, c in comp.poly.items())
                  for comp in phi.components]
    gradients = [[sympy.diff(f, x) for x in symbols] for f in components]

    def value(field):
        return [float(e.subs(point)) if not e.is_Number else float(e) for e in field]

    def bracket(X, Y):
        return [sympy.expand(sum(X[j] * sympy.diff(Y[i], symbols[j]) - Y[j] * sympy.diff(X[i], symbols[j])
                                 for j in range(len(symbols)) if X[j] != 0 or Y[j] != 0))
                for i in range(len(symbols))]

    basis, values = [], []
    for field in gradients:
        candidate = values + [value(field)]
        if np.linalg.matrix_rank(np.array(candidate)) > len(values):
            basis.append(field)
            values = candidate
    generators, new, dims = list(basis), list(basis), [len(values)]
    while new:
        added = []
        for X in generators:
            for Y in new:
                field = bracket(X, Y)
                candidate = values + [value(field)]
                if np.linalg.matrix_rank(np.array(candidate)) > len(values):
                    added.append(field)
                    values = candidate
        new = added
        dims.append(len(values))
    return dims


def reference_law_count(phi: Phi, degree: int = 2) -> int:
    """Polynomial laws as in Marcotte et al. 2023, §2.4 done naively: symbolic h with unknown coefficients,
    all identities ∇h·∇φ_i = 0 expanded with sympy, nullity of the float system by SVD."""
    symbols = sympy.symbols(f"x0:{len(phi.variables)}")
    monomials = [m for d in range(1, degree + 1) for m in sympy.itermonomials(symbols, d, d)]
    coefficients = sympy.symbols(f"c0:{len(monomials)}")
    h = sum(c * m for c, m in zip(coefficients, monomials))
    grad_h = [sympy.diff(h, x) for x in symbols]
    rows = []
    for comp in phi.components:
        f = sum(c * sympy.Mul(*[symbols[v] for v in m]) for m, c in comp.poly.items())
        identity = sympy.expand(sum(gh * sympy.diff(f, x) for gh, x in zip(grad_h, symbols)))
        for coeff in sympy.Poly(identity, *symbols).coeffs():
            rows.append([float(coeff.coeff(c)) for c in coefficients])
    matrix = np.array(rows) if rows else np.zeros((0, len(coefficients)))
    return len(coefficients) - np.linalg.matrix_rank(matrix)
