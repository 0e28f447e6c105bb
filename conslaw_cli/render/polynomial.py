"""Printing polynomials in named variables: plain text in sympy's notation (`2*x*y - z**2`, which
sympy and Python read back) or LaTeX.

One printer for laws of every size, written here rather than through sympy's printers: terms by
decreasing degree, then in the parameters' order (the layers' order, then the indices', so `[0,2]`
comes before `[0,10]` and a layer's Q before its K). sympy's printers order terms by the
variables' names as strings, print about 6,000 terms a second (a rescaling law of an MNIST layer
has 849 terms, and there are 192 of them), and importing sympy takes 0.25 s, half of a small
`conslaw laws`. The tests read the text back with sympy (the same polynomial) and compile the LaTeX.
"""

from __future__ import annotations

import functools
import re

from conslaw_cli.sanitize import latex_mathrm

_TENSOR = re.compile(r"[^\W\d]\w*\.\w+")


def symbol_latex(name: str) -> str:
    """`linear1.weight[0,1]` -> `\\mathrm{linear1.weight}_{0,1}` (non-ASCII letters as [U+XXXX])."""
    tensor, bracket, index = name.partition("[")
    if bracket and index.isascii() and index[-1:] == "]" and index[:-1].replace(",", "").isdigit() \
            and (latex := _tensor_latex(tensor)) is not None:
        return latex + "_{" + index[:-1] + "}"
    return latex_mathrm(name)


@functools.lru_cache(maxsize=1024)
def _tensor_latex(tensor: str) -> str | None:
    """A tensor's name (`layer.tensor`) in LaTeX, or None if it is not one; once per tensor (a wide
    law names thousands of its entries)."""
    return latex_mathrm(tensor) if _TENSOR.fullmatch(tensor) else None


class LatexNames(dict):
    """The LaTeX of each variable's name (variable index -> LaTeX), made on first use and kept: one
    for the laws of a result (a parameter of a transformer appears in dozens of its laws), gone
    with it."""

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = names

    def __missing__(self, variable: int) -> str:
        made = self[variable] = symbol_latex(self.names[variable])
        return made


def poly_text(poly: dict, names: list[str] | LatexNames, latex: bool = False) -> str:
    """The polynomial as text, `c*x*y**2` (sympy's notation), or LaTeX, `c x y^{2}`: terms by
    decreasing degree, then in the parameters' order. `names` may be a LatexNames shared by the
    laws of one result (its plain names are used for text)."""
    if latex and not isinstance(names, LatexNames):
        names = LatexNames(names)
    elif not latex and isinstance(names, LatexNames):
        names = names.names
    times, power = (" ", "^{{{}}}") if latex else ("*", "**{}")
    square = power.format(2)
    out = []
    for mono in sorted(poly, key=lambda m: (-len(m), m)):
        if len(mono) == 2:  # most terms of the laws: a product of two parameters, or a square
            u, v = mono
            body = names[u] + times + names[v] if u != v else names[u] + square
        else:
            body = times.join(names[v] if (k := mono.count(v)) == 1 else names[v] + power.format(k)
                              for v in sorted(set(mono)))
        coef = poly[mono]
        if abs(coef) != 1 or not body:
            body = str(abs(coef)) + times + body if body else str(abs(coef))
        out.append(("- " if coef < 0 else "+ ") + body)
    text = " ".join(out) or "0"
    return text[2:] if text.startswith("+ ") else "-" + text[2:] if text.startswith("- ") else text
