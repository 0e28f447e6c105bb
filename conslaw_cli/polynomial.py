"""Printing polynomials in named variables (plain text or LaTeX), through sympy (imported only
for the short laws it prints: 0.17 s that wide laws, printed directly, do not need)."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from .sanitize import latex_mathrm

if TYPE_CHECKING:
    import sympy

_TENSOR = re.compile(r"[^\W\d]\w*\.\w+")
_INDEX = re.compile(r"[\d,]+\]")


def symbol_latex(name: str) -> str:
    """`linear1.weight[0,1]` -> `\\mathrm{linear1.weight}_{0,1}` (non-ASCII letters as [U+XXXX])."""
    tensor, bracket, index = name.partition("[")
    if bracket and _INDEX.fullmatch(index) and (latex := _tensor_latex(tensor)) is not None:
        return latex + "_{" + index[:-1] + "}"
    return latex_mathrm(name)


@functools.lru_cache(maxsize=1024)
def _tensor_latex(tensor: str) -> str | None:
    """A tensor's name (`layer.tensor`) in LaTeX, or None if it is not one; once per tensor (a wide
    law names thousands of its entries)."""
    return latex_mathrm(tensor) if _TENSOR.fullmatch(tensor) else None


def to_sympy(poly: dict, names: list[str]) -> sympy.Expr:
    """A polynomial {monomial: coefficient} as a sympy expression in symbols named like the variables
    (one Add of all terms: adding terms one by one is quadratic in sympy)."""
    import sympy

    symbols: dict[int, sympy.Symbol] = {}
    terms = [sympy.Mul(sympy.Rational(coef), *(symbols.setdefault(v, sympy.Symbol(names[v])) for v in mono))
             for mono, coef in poly.items()]
    return sympy.Add(*terms)


# sympy prints about 6,000 terms a second; a law of a wide layer (a rescaling law of an MNIST
# layer has 849 terms, 192 such laws) is printed directly instead, in the same notation.
SYMPY_MAX_TERMS = 64


def poly_text(poly: dict, names: list[str], latex: bool = False) -> str:
    """The polynomial as text (sympy's notation, `x**2`) or LaTeX."""
    if len(poly) > SYMPY_MAX_TERMS:
        return _direct_text(poly, names, latex)
    import sympy

    expr = to_sympy(poly, names)
    if latex:
        return sympy.latex(expr, symbol_names={s: symbol_latex(s.name) for s in expr.free_symbols})
    return str(expr)


def _direct_text(poly: dict, names: list[str], latex: bool) -> str:
    """Terms by decreasing degree, then in the parameters' order, `c*x*y**2` (or `c x y^{2}` in LaTeX)."""
    symbol = symbol_latex if latex else str
    times, power = (" ", "^{{{}}}") if latex else ("*", "**{}")
    square = power.format(2)
    shown = {v: symbol(names[v]) for v in {v for mono in poly for v in mono}}
    out = []
    for degree in sorted({len(mono) for mono in poly}, reverse=True):
        for mono in sorted(mono for mono in poly if len(mono) == degree):
            if degree == 2:  # most terms of the laws: a product of two parameters, or a square
                u, v = mono
                body = shown[u] + times + shown[v] if u != v else shown[u] + square
            else:
                body = times.join(shown[v] if (k := mono.count(v)) == 1 else shown[v] + power.format(k)
                                  for v in sorted(set(mono)))
            coef = poly[mono]
            if abs(coef) != 1 or not body:
                body = str(abs(coef)) + times + body if body else str(abs(coef))
            out.append(("- " if coef < 0 else "+ ") + body)
    text = " ".join(out) or "0"
    return text[2:] if text.startswith("+ ") else "-" + text[2:] if text.startswith("- ") else text
