"""`conslaw report`: one architecture or a catalog, as LaTeX, Markdown or JSON.

Reports are reproducible: the same inputs give byte-identical output. Wall-clock times appear
only with ``timings=True``, and a date only when ``SOURCE_DATE_EPOCH`` is set. Every string that
comes from a user's file (names, descriptions, file paths) goes through the target format's
sanitiser (sanitize.py)."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from importlib.metadata import version

from . import analysis, sanitize
from .compiler import Phi
from .gf import PRIME
from .graph import Graph, shape_text
from .laws import LawsResult
from .render import law_items
from .results import CountResult

SCHEMA_VERSION = 1


@dataclass
class ArchitectureReport:
    """Everything a report says about one architecture."""

    graph: Graph
    phi: Phi
    count: CountResult
    laws: LawsResult


def build(path, degree: int, seed: int, max_terms: int) -> ArchitectureReport:
    graph, phi = analysis.load(path, max_terms)
    count = analysis.count(path, seed=seed, max_terms=max_terms)
    return ArchitectureReport(graph, phi, count, analysis.laws(path, degree, seed, max_terms, count=count.laws))


def _layers(graph: Graph) -> list[tuple[str, str, str, int]]:
    """(indented name, kind, output shape, own parameters) per layer."""
    return [("  " * depth + layer.name, layer.kind, shape_text(layer.out_shape), layer.own_params)
            for depth, layer in graph.walk()]


def _pieces(report: ArchitectureReport) -> list[tuple[str, str, str, int, str]]:
    """(piece, formula text, formula LaTeX, components, backing) for the pieces with parameters."""
    counts: dict[str, int] = {}
    for comp in report.phi.components:
        counts[comp.piece] = counts.get(comp.piece, 0) + 1
    return [(p.name, p.formula, p.formula_latex, counts.get(p.name, 0), p.reason)
            for p in report.phi.pieces if p.kind != "empty"]


def _verdict(laws: LawsResult) -> str:
    if laws.complete:
        return "complete"
    return f"{laws.count - laws.independent} missing at degree <= {laws.degree}"


def _date() -> str | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch or not epoch.strip().isdigit():
        return None
    try:
        return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):  # beyond the years datetime can represent
        return None


def _provenance(reports: list[ArchitectureReport], seed: int, timings: bool) -> list[str]:
    bound = max((r.count.error_bound for r in reports), default=0.0)
    lines = [f"conslaw {version('conslaw')}", f"seed {seed}", f"prime p = {PRIME} (2^61 - 1)",
             "2 independent random points per count",
             f"error bound: P(wrong count) <= {bound:.1e} per point (Schwartz-Zippel)"]
    if timings:
        lines.append("seconds: " + ", ".join(f"{r.count.name} {r.count.seconds:.3f}" for r in reports))
    if _date():
        lines.append(f"date {_date()}")
    return lines


# --- LaTeX --------------------------------------------------------------------------------------

LATEX_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{booktabs}
\usepackage{longtable}
\setlength{\emergencystretch}{3em}
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt}
\title{Conservation laws of gradient flows}
\author{conslaw}
\date{DATE}
\begin{document}
\maketitle
"""


def _tt(text: str) -> str:
    """Typewriter text, breakable after '/' and '.' (long paths and names)."""
    escaped = sanitize.latex(text)
    for breakable in "/.+":
        escaped = escaped.replace(breakable, breakable + r"\allowbreak{}")
    return r"\texttt{" + escaped + "}"


def to_latex(reports: list[ArchitectureReport], seed: int, fragment: bool = False, timings: bool = False) -> str:
    parts = []
    if len(reports) > 1:
        parts.append(r"\section*{Summary}" + "\n" + r"\begin{longtable}{lrrrl}" + "\n" + r"\toprule" + "\n"
                     r"architecture & $D$ & laws & polynomial laws found & complete \\ \midrule" + "\n" + r"\endhead")
        for r in reports:
            parts.append(rf"{sanitize.latex(r.graph.name)} & {r.count.parameters} & {r.count.laws} & "
                         rf"{r.laws.independent} & {_verdict(r.laws)} \\")
        parts.append(r"\bottomrule" + "\n" + r"\end{longtable}")
    for r in reports:
        parts.append(_latex_section(r))
    parts.append(r"\section*{Provenance}" + "\n" + r"\begin{itemize}" + "\n"
                 + "\n".join(rf"\item {sanitize.latex(line)}" for line in _provenance(reports, seed, timings))
                 + "\n" + r"\end{itemize}")
    body = "\n\n".join(parts) + "\n"
    if fragment:
        return "% conslaw report fragment: needs amsmath, amssymb, booktabs, longtable\n" + body
    return LATEX_PREAMBLE.replace("DATE", _date() or "") + "\n" + body + r"\end{document}" + "\n"


def _latex_section(r: ArchitectureReport) -> str:
    c, laws = r.count, r.laws
    out = [rf"\section{{{sanitize.latex(r.graph.name)}}}"]
    if r.graph.description:
        out.append(sanitize.latex(r.graph.description) + r"\par")
    out.append(rf"File {_tt(c.file)}; input {sanitize.latex(shape_text(r.graph.input_shape))}; $D = {c.parameters}$ "
               r"parameters.")
    out.append(r"\begin{longtable}{llll}" + "\n" + r"\toprule" + "\n" + r"layer & kind & output & parameters \\"
               + r" \midrule" + "\n" + r"\endhead")
    out += [rf"{_tt(name)} & {sanitize.latex(kind)} & {sanitize.latex(shape)} & {n or ''} \\"
            for name, kind, shape, n in _layers(r.graph)]
    out.append(r"\bottomrule" + "\n" + r"\end{longtable}")
    out.append(r"\paragraph{Factorization.}" + rf" $\varphi$ has {len(r.phi.components)} components "
               + ("(rich: the count is exact)." if c.exact else "(not proved rich: the count is a lower bound)."))
    out.append(r"\begin{itemize}")
    out += [rf"\item {_tt(name)}: ${tex}$; {n} components; {sanitize.latex(backing)}."
            for name, _, tex, n, backing in _pieces(r)]
    out.append(r"\end{itemize}")
    dims = r" \to ".join(map(str, c.trace_dims))
    out.append(r"\paragraph{Count.} $\dim \mathrm{Lie}(V)(\theta)$ after each bracket step: "
               rf"${dims}$, so ${c.parameters} - {c.trace_dims[-1]} = {c.laws}$ independent conservation laws"
               + (" (exact)." if c.exact else " (a lower bound for the network)."))
    out.append(rf"\paragraph{{Polynomial laws of degree $\le {laws.degree}$}} ({_verdict(laws)}: "
               rf"{laws.independent} functionally independent, count {laws.count}).")
    items = [rf"\item {item}" for item in law_items(laws)]
    out.append(r"\begin{itemize}" + "\n" + ("\n".join(items) or r"\item none") + "\n" + r"\end{itemize}")
    return "\n".join(out)


# --- Markdown -----------------------------------------------------------------------------------

def to_markdown(reports: list[ArchitectureReport], seed: int, timings: bool = False) -> str:
    out = ["# Conservation laws of gradient flows", ""]
    if len(reports) > 1:
        out += ["| architecture | D | laws | polynomial laws found | complete |", "|---|---:|---:|---:|---|"]
        out += [f"| {sanitize.markdown(r.graph.name)} | {r.count.parameters} | {r.count.laws} | "
                f"{r.laws.independent} | {_verdict(r.laws)} |" for r in reports]
        out.append("")
    for r in reports:
        out += _markdown_section(r)
    out += ["## Provenance", ""] + [f"- {sanitize.markdown(line)}" for line in _provenance(reports, seed, timings)]
    return "\n".join(out) + "\n"


def _markdown_section(r: ArchitectureReport) -> list[str]:
    c, laws = r.count, r.laws
    out = [f"## {sanitize.markdown(r.graph.name)}", ""]
    if r.graph.description:
        out += [sanitize.markdown(r.graph.description), ""]
    out += [f"File {sanitize.markdown(c.file)}; input {shape_text(r.graph.input_shape)}; D = {c.parameters}.", "",
            "| layer | kind | output | parameters |", "|---|---|---|---:|"]
    out += [f"| {sanitize.markdown(name.strip())} | {kind} | {shape} | {n or ''} |"
            for name, kind, shape, n in _layers(r.graph)]
    out += ["", f"**Factorization**: φ has {len(r.phi.components)} components, "
            + ("rich (the count is exact)." if c.exact else "not proved rich (the count is a lower bound)."), ""]
    out += [f"- {sanitize.markdown(name)}: ${tex}$; {n} components; {sanitize.markdown(backing)}."
            for name, _, tex, n, backing in _pieces(r)]
    out += ["", f"**Count**: dim Lie(V)(θ) after each bracket step {' → '.join(map(str, c.trace_dims))}, "
            f"so **{c.laws}** independent conservation laws" + (" (exact)." if c.exact else " (a lower bound)."), "",
            f"**Polynomial laws of degree ≤ {laws.degree}** ({_verdict(laws)}: {laws.independent} functionally "
            f"independent, count {laws.count}):", ""]
    out += [f"- {item}" for item in law_items(laws)]
    return out + [""]


# --- JSON ---------------------------------------------------------------------------------------

def to_json(reports: list[ArchitectureReport], seed: int, timings: bool = False) -> str:
    """Schema 1: the objects of `count --json` and `laws --json`, with the graph and φ per architecture."""
    archs = []
    for r in reports:
        count = r.count.to_json()
        if not timings:
            count.pop("seconds")
        archs.append({
            "name": r.graph.name, "description": r.graph.description, "file": r.count.file,
            "parameters": r.count.parameters,
            "layers": [{"name": n.strip(), "kind": k, "output": s, "parameters": p} for n, k, s, p in _layers(r.graph)],
            "phi": {"components": len(r.phi.components), "rich": r.phi.rich, "backing": r.phi.richness,
                    "pieces": [{"name": n, "formula": f, "latex": t, "components": k, "backing": b}
                               for n, f, t, k, b in _pieces(r)]},
            "count": count, "laws": r.laws.to_json(),
        })
    doc = {"schema": SCHEMA_VERSION, "conslaw_version": version("conslaw"), "seed": seed, "prime": PRIME,
           "points": 2, "provenance": _provenance(reports, seed, timings), "architectures": archs}
    return sanitize.json_text(doc) + "\n"
