"""Printing polynomials in named variables (plain text or LaTeX), through sympy."""

from __future__ import annotations

import re

import sympy

_INDEXED = re.compile(r"^(?P<layer>[A-Za-z_]\w*)\.(?P<tensor>\w+)\[(?P<index>[\d,]+)\]$")


def symbol_latex(name: str) -> str:
    """`linear1.weight[0,1]` -> `\\mathrm{linear1.weight}_{0,1}` (names are identifiers)."""
    match = _INDEXED.match(name)
    if not match:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    head = f"{match['layer']}.{match['tensor']}".replace("_", r"\_")
    return r"\mathrm{" + head + "}_{" + match["index"] + "}"


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
