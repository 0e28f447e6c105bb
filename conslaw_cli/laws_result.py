"""What `conslaw laws` finds: laws, named families and the verdict (no engine imported here, so
that the family fast path and the renderers stay light)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from .polynomial import LatexNames, poly_text

Poly = dict[tuple[int, ...], int]


@dataclass
class Law:
    """One law: an integer polynomial in the global variables."""

    poly: Poly
    degree: int
    family: str | None = None


@dataclass
class Family:
    """A named matrix expression whose entries may be laws (docs/method.md §5), e.g. a Gram difference."""

    name: str
    latex: str
    entries: list[Poly]


@dataclass
class LawsResult:
    """What `conslaw laws` reports for one architecture."""

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
            "complete": self.complete, "exact": self.exact, "check_error_bound": self.check_error_bound,
        }
