"""Integer polynomials in θ ({monomial tuple of variable indices: coefficient}, the form of laws
and φ components) evaluated in JAX, many at once."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass
class _Terms:
    """All terms of one monomial length: variables (terms × length), coefficients, owner."""

    variables: np.ndarray
    coefficients: np.ndarray
    owner: np.ndarray


class PolynomialSet:
    """Evaluates polynomials p_1 … p_m at θ: `values(θ)` is the vector (p_i(θ)), `sizes(θ)` the
    vector Σ_α |c_α θ^α| (the size of p_i's terms, a scale for relative errors)."""

    def __init__(self, polys: list[dict]):
        self.count = len(polys)
        by_length: dict[int, list[tuple[tuple[int, ...], int, int]]] = {}
        for owner, poly in enumerate(polys):
            for monomial, coefficient in poly.items():
                by_length.setdefault(len(monomial), []).append((monomial, coefficient, owner))
        self.groups = [
            _Terms(np.array([m for m, _, _ in terms], dtype=np.int64).reshape(len(terms), length),
                   np.array([c for _, c, _ in terms], dtype=np.float64),
                   np.array([o for _, _, o in terms], dtype=np.int64))
            for length, terms in sorted(by_length.items())
        ]

    def values(self, theta: jnp.ndarray) -> jnp.ndarray:
        """(p_i(θ)) in JAX (traceable, for use inside compiled training steps)."""
        total = jnp.zeros(self.count, dtype=theta.dtype)
        for group in self.groups:
            terms = group.coefficients * jnp.prod(theta[group.variables], axis=1)
            total = total + jax.ops.segment_sum(terms, group.owner, num_segments=self.count)
        return total

    def sizes(self, theta: np.ndarray) -> np.ndarray:
        """(Σ_α |c_α θ^α|) in numpy, at a point known in advance (θ_0)."""
        total = np.zeros(self.count)
        for group in self.groups:
            terms = np.abs(group.coefficients * np.prod(theta[group.variables], axis=1))
            total += np.bincount(group.owner, weights=terms, minlength=self.count)
        return total


def quadratic_part(poly: dict) -> dict:
    """The degree-2 terms of h: for h = θᵀAθ + bᵀθ it is θ ↦ θᵀAθ, so evaluated at a gradient g
    it gives gᵀAg, the exact second-order change of h in a GD step θ − τg (times τ²)."""
    return {m: c for m, c in poly.items() if len(m) == 2}
