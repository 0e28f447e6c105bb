"""Printing polynomials in named variables (plain text or LaTeX), through sympy."""

from __future__ import annotations

import re

import sympy

from .sanitize import latex_mathrm

_INDEXED = re.compile(r"^(?P<layer>[^\W\d]\w*)\.(?P<tensor>\w+)\[(?P<index>[\d,]+)\]$")


def symbol_latex(name: str) -> str:
    """`linear1.weight[0,1]` -> `\\mathrm{linear1.weight}_{0,1}` (non-ASCII letters as [U+XXXX])."""
    match = _INDEXED.match(name)
    if not match:
        return latex_mathrm(name)
    return latex_mathrm(f"{match['layer']}.{match['tensor']}") + "_{" + match["index"] + "}"


def to_sympy(poly: dict, names: list[str]) -> sympy.Expr:
    """A polynomial {monomial: coefficient} as a sympy expression in symbols named like the variables."""
    symbols: dict[int, sympy.Symbol] = {}
    expr = sympy.Integer(0)
    for mono, coef in poly.items():
        term = sympy.Rational(coef)
        for v in mono:
            if v not in symbols:
                symbols[v] = sympy.Symbol(names[v])
            term *= symbols[v]
        expr += term
    return expr


def poly_text(poly: dict, names: list[str], latex: bool = False) -> str:
    expr = to_sympy(poly, names)
    if latex:
        return sympy.latex(expr, symbol_names={s: symbol_latex(s.name) for s in expr.free_symbols})
    return str(expr)
