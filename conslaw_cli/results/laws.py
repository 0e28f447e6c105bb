"""What `conslaw laws` finds: laws, named families and the verdict (no engine imported here, so
that the family fast path and the renderers stay light).

These are the public result types of `conslaw_cli.lawfinding.system` (docs/api.md): immutable, and a law can
be printed (text, LaTeX), turned into a sympy expression, and evaluated or differentiated with
numpy on a batch of parameter vectors θ, in the order of the result's `variables`."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from conslaw_cli.render.polynomial import LatexNames, poly_text

if TYPE_CHECKING:
    import numpy as np
    import sympy

Poly = dict[tuple[int, ...], int]


@dataclass(frozen=True)
class Law:
    """One conserved function h(θ): an integer polynomial in the parameters.

    `poly` maps a monomial, the tuple of the indices of its variables (repeated for powers,
    `(3, 3)` is θ₃²), to its integer coefficient. `names` are the parameters' names, set by the
    result that holds the law (`LawsResult.variables`); the printing and evaluation methods need
    them."""

    poly: Poly
    degree: int
    family: str | None = None  # the named family the law belongs to (e.g. a Gram difference), if any
    names: LatexNames | None = field(default=None, repr=False, compare=False)

    def _names(self) -> LatexNames:
        if self.names is None:
            raise ValueError("this law has no parameter names: take it from a LawsResult")
        return self.names

    def text(self) -> str:
        """The law in sympy's notation, e.g. `a[0]**2 - b[0]**2` (parameters by their names)."""
        return poly_text(self.poly, self._names().names)

    def latex(self) -> str:
        """The law in LaTeX (math mode, without the dollars)."""
        return poly_text(self.poly, self._names(), latex=True)

    def sympy(self) -> "sympy.Expr":
        """The law as a sympy expression in one symbol per parameter name (imports sympy)."""
        import sympy

        names = self._names().names
        symbols = {v: sympy.Symbol(names[v]) for v in {v for mono in self.poly for v in mono}}
        return sympy.Add(*(sympy.Integer(c) * sympy.Mul(*(symbols[v] for v in mono))
                           for mono, c in self.poly.items()))

    def evaluate(self, theta) -> "np.ndarray":
        """h(θ) for θ of shape (D,) (a float) or (N, D) (N values), D the number of parameters."""
        import numpy as np

        theta = self._theta(theta)
        value = np.zeros(theta.shape[:-1])
        for indices, coefficients in _monomials_by_degree(self.poly):
            value = value + np.prod(theta[..., indices], axis=-1) @ coefficients
        return value if value.ndim else float(value)

    def gradient(self, theta) -> "np.ndarray":
        """∇h(θ): shape (D,) for θ of shape (D,), (N, D) for (N, D)."""
        import numpy as np

        theta = self._theta(theta)
        batch = theta.reshape(-1, theta.shape[-1])
        grad = np.zeros_like(batch)
        for indices, coefficients in _monomials_by_degree(self.poly):
            factors = batch[:, indices]  # (N, monomials, degree)
            for position in range(indices.shape[1]):
                others = np.prod(np.delete(factors, position, axis=2), axis=2) * coefficients
                np.add.at(grad, (slice(None), indices[:, position]), others)
        return grad.reshape(theta.shape)

    def _theta(self, theta) -> "np.ndarray":
        import numpy as np

        theta = np.asarray(theta, dtype=float)
        expected = len(self._names().names)
        if theta.ndim not in (1, 2) or theta.shape[-1] != expected:
            raise ValueError(f"θ must have shape ({expected},) or (N, {expected}), not {theta.shape}")
        return theta


def _monomials_by_degree(poly: Poly):
    """(indices of shape (monomials, degree), coefficients) for each degree of `poly`'s terms."""
    import numpy as np

    by_degree: dict[int, list] = {}
    for mono, coefficient in poly.items():
        by_degree.setdefault(len(mono), []).append((mono, coefficient))
    for degree, terms in sorted(by_degree.items()):
        indices = np.array([mono for mono, _ in terms], dtype=np.intp).reshape(len(terms), degree)
        yield indices, np.array([float(c) for _, c in terms])


@dataclass(frozen=True)
class Family:
    """A named matrix expression whose entries may be laws (docs/method.md §5), e.g. a Gram difference."""

    name: str
    latex: str
    entries: list[Poly]
    # the theorem by which the entries are laws of the network (not checked against fields; not
    # laws of φ), e.g. Noether's theorem for a normalization's scale invariance; "" for the others
    proved_by: str = ""


@dataclass(frozen=True)
class LawsResult:
    """What `conslaw laws` reports for one architecture: `laws` (each bound to `variables`, the
    parameters' names in θ's order), the named `families`, and the verdict: `complete` when the
    laws found are as many independent ones as `count`; `exact` says whether that count is the
    network's (theorem-backed) or a lower bound on it."""

    name: str
    file: str
    laws: list[Law]  # a basis of the laws modulo products of lower-degree laws
    families: list[tuple[Family, int]]  # recognised families and how many independent laws each gives
    products: int  # independent products of lower-degree laws, not listed
    independent: int  # functionally independent laws found (rank of gradients at a random point)
    count: int  # the count of `conslaw count`
    degree: int
    explained_by_families: bool = False
    variables: list[str] = field(default_factory=list)
    # family laws checked against the fields at random points (no law system): P(a non-law passed) ≤ this
    check_error_bound: float | None = None
    exact: bool = True  # the count is theorem-backed (φ rich); else a lower bound on the network's laws
    upper_bound: int | None = None  # at most this many laws, proved from the network's own fields (count.py)
    checked_against: str = "φ"  # the fields the families were checked against: φ's or "the network" (own fields)

    @property
    def certified(self) -> bool:
        """Not theorem-backed, but the count meets the network's upper bound: proved exact."""
        return not self.exact and self.upper_bound == self.count

    def __post_init__(self):
        object.__setattr__(self, "laws", tuple(law if law.names is not None else replace(law, names=self.latex_names)
                                               for law in self.laws))

    @property
    def complete(self) -> bool:
        return self.independent == self.count

    @functools.cached_property
    def latex_names(self) -> LatexNames:
        """The variables' LaTeX names, made as the laws are printed and shared by every printer of
        this result (JSON, LaTeX, weight-decay forms)."""
        return LatexNames(self.variables)

    def to_json(self) -> dict:
        return {
            "schema": 1, "name": self.name, "file": self.file, "degree": self.degree,
            "laws": [{"expr": poly_text(l.poly, self.variables), "latex": poly_text(l.poly, self.latex_names, True),
                      "degree": l.degree, "family": l.family} for l in self.laws],
            "families": [{"name": f.name, "latex": f.latex, "laws": n} for f, n in self.families],
            "products": self.products, "independent": self.independent, "count": self.count,
            "complete": self.complete, "exact": self.exact, "upper_bound": self.upper_bound,
            "certified": self.certified, "checked_against": self.checked_against,
            "check_error_bound": self.check_error_bound,
        }
