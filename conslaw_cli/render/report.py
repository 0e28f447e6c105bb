"""`conslaw report`: one architecture or a catalog, as LaTeX, Markdown or JSON.

Reports are reproducible: the same inputs give byte-identical output. Wall-clock times appear
only with ``timings=True``, and a date only when ``SOURCE_DATE_EPOCH`` is set. Every string that
comes from a user's file (names, descriptions, file paths) goes through the target format's
sanitiser (sanitize.py)."""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from importlib.metadata import version

from conslaw_cli import analysis, sanitize
from conslaw_cli.phi.compiler import Piece, pieces_richness
from conslaw_cli.counting.gf import PRIME
from conslaw_cli.errors import ConslawError
from conslaw_cli.graph import Graph, shape_text
from conslaw_cli.results.laws import LawsResult
from conslaw_cli.references import bibtex_entries, cited_keys, latex_with_citations, thebibliography
from .terminal import law_items, split_note
from conslaw_cli.results.count import CountResult

if TYPE_CHECKING:
    from conslaw_cli.training.verify import Settings as VerifySettings, VerifyResult

SCHEMA_VERSION = 1


@dataclass
class ArchitectureReport:
    """Everything a report says about one architecture."""

    graph: Graph
    pieces: list[Piece]  # φ's pieces, read off the layers
    components: dict[str, int] | None  # components per piece; None: φ too large to expand for display
    count: CountResult
    laws: LawsResult
    training: VerifyResult | None = None  # `report --verify`: the laws checked on training runs
    figure: str | None = None  # the training figure's file name, relative to the report


@dataclass(frozen=True)
class RefusedReport:
    """An architecture of a catalog that could not be reported: the located reason. The catalog
    gets a "Not reported" section instead of ending at it (the command exits 2 once it is written)."""

    error: ConslawError


def _split(reports: list) -> tuple[list[ArchitectureReport], list[RefusedReport]]:
    return ([r for r in reports if isinstance(r, ArchitectureReport)],
            [r for r in reports if isinstance(r, RefusedReport)])


def _refused_lines(refused: list[RefusedReport], escape) -> list[str]:
    """One line per refused file: `file:line:col: message (hint)`, escaped for the format."""
    return [escape(f"{r.error.file}:{r.error.line}:{r.error.col}: {r.error.message}"
                   + (f" (hint: {r.error.hint})" if r.error.hint else "")) for r in refused]


def build(path, degree: int, seed: int, max_terms: int, say=lambda text: None,
          training: VerifySettings | None = None) -> ArchitectureReport:
    """Compile, count and find the polynomial laws of one architecture, and with `training` check
    them on training runs (`conslaw verify`); `say` reports progress."""
    graph = analysis.load_graph(path)
    pieces, components = _factorization(graph, max_terms)
    count = analysis.count(path, seed=seed, max_terms=max_terms,
                           progress=say)
    say(f"polynomial laws of degree ≤ {degree}")
    report = ArchitectureReport(graph, pieces, components, count, analysis.laws(path, degree, seed, max_terms, count=count))
    if training is not None:
        from conslaw_cli.training.verify import verify

        say(f"training: {training.optimizer}, {len(training.learning_rates)} learning rates, {training.seeds} seeds")
        report.training = verify(path, training)
    return report


def _factorization(graph: Graph, max_terms: int) -> tuple[list[Piece], dict[str, int] | None]:
    """φ's pieces and their numbers of components. The count never expands φ; a report expands it
    only when small (`analysis.small_phi`, as `count` does for its φ column): beyond, the pieces
    are described from the layers and their components are not counted (a ReLU MLP
    784-128-64-10 has 10⁷ paths)."""
    from conslaw_cli.phi.compiler import compile_phi, piece_layout

    if not analysis.small_phi(graph):
        return [piece.describe() for piece in piece_layout(graph.layers)], None
    phi = compile_phi(graph, max_terms)
    counts: dict[str, int] = {}
    for comp in phi.components:
        counts[comp.piece] = counts.get(comp.piece, 0) + 1
    return phi.pieces, counts


def _training_rows(result: VerifyResult) -> list[tuple[str, int, list[float], str, str]]:
    """(family, laws, final error per learning rate, slope, verdict) per family and the control."""
    from conslaw_cli.training.verify import slope_text

    return [(f.name, f.laws, list(f.final_errors), slope_text(f.slopes), f.verdict) for f in result.families]


def _training_intro(result: VerifyResult) -> str:
    s = result.settings
    return (f"{s.optimizer}, {s.steps} steps, {s.seeds} seeds, data {s.data}"
            + (f", weight decay {s.weight_decay:g}" if s.weight_decay else "") + "; numerical (float64)")


def _training_lines(result: VerifyResult) -> list[str]:
    from conslaw_cli.training.verify import verify_footer

    return verify_footer(result)


def _layers(graph: Graph) -> list[tuple[str, str, tuple, int]]:
    """(indented name, kind, output shape, own parameters) per layer."""
    return [("  " * depth + layer.name, layer.kind, layer.out_shape, layer.own_params)
            for depth, layer in graph.walk()]


def _pieces(report: ArchitectureReport) -> list[tuple[str, str, str, int | None, str]]:
    """(piece, formula text, formula LaTeX, components or None, backing) for the pieces with parameters."""
    counts = report.components
    return [(p.name, p.formula, p.formula_latex, None if counts is None else counts.get(p.name, 0), p.reason)
            for p in report.pieces if p.kind != "empty"]


def _components_text(report: ArchitectureReport) -> str:
    """φ's number of components, or why it is not given."""
    if report.components is None:
        return "is not expanded into components for this report (it is large; the count works on the layer graph)"
    return f"has {sum(report.components.values())} components"


def _piece_components(n: int | None) -> str:
    return "components not expanded" if n is None else f"{n} components"


def _verdict(r: ArchitectureReport) -> str:
    """The polynomial-law verdict, honest about what it is complete for."""
    laws = r.laws
    if not laws.complete:
        return f"{laws.count - laws.independent} missing at degree ≤ {laws.degree}"
    return "complete" if r.count.exact or r.count.certified else "complete for φ"


def _status(r: ArchitectureReport) -> str:
    return r.count.status


def _richness(c) -> tuple[str, str]:
    """(whether φ is rich, what that makes the count) for the Factorization paragraph."""
    if c.exact:
        return "rich", "the count is exact"
    return "not proved rich", ("the count is certified exact: see Count" if c.certified else "the count is a lower bound")


def _count_qualifier(c) -> str:
    """What the count is, closing the Count paragraph (plain text, no symbols to escape)."""
    if c.exact:
        return " (exact)."
    if c.certified:
        return " (exact, certified: the network's own fields at a point allow no more)."
    if c.upper_bound is not None:
        return f" (a lower bound for the network; its own fields at a point allow at most {c.upper_bound})."
    return " (a lower bound for the network)."


def _lower_bound_reason(r: ArchitectureReport) -> str:
    """Why a count is only a lower bound, in one sentence (for the summary's legend)."""
    c = r.count
    if c.certified:
        found = "φ's count" if c.phi_laws is None else f"the count of {c.found_by} ({c.laws}; φ alone gives {c.phi_laws})"
        return f"the network's own fields prove {found} exact near a point ({c.upper_bound_note})"
    pieces = [p for p in r.pieces if p.kind != "empty"]
    unproved = [p.reason.removeprefix("lower bound: ") for p in pieces if not p.rich]
    reason = unproved[0] if len(pieces) == 1 else (
        "φ concatenates the φ's of several pieces (residual blocks, attention layers): the laws of each block "
        "are exact (Marcotte et al. 2025, Thm 4.6), no theorem covers the laws across them"
        + "".join(f"; {reason}" for reason in unproved))
    if c.upper_bound is not None:
        return f"{reason}; at most {c.upper_bound} laws near a point ({c.upper_bound_note})"
    return reason + (f"; {c.upper_bound_note}" if c.upper_bound_note else "")


def _legend(reports: list[ArchitectureReport]) -> tuple[dict[str, int], list[str]]:
    """(architecture name -> footnote number, footnote texts) for the lower-bound rows."""
    reasons: list[str] = []
    marks: dict[str, int] = {}
    for r in reports:
        if not r.count.exact:
            reason = _lower_bound_reason(r)
            if reason not in reasons:
                reasons.append(reason)
            marks[r.graph.name] = reasons.index(reason) + 1
    return marks, reasons


LEGEND = [("exact", "φ is rich (theorem-backed), so the count is the number of all independent conservation laws "
                     "of the network"),
          ("exact (certified)", "the laws found (φ's, named families checked against the network's own fields, "
                                "or laws of a symmetry by Noether's theorem) meet an upper bound proved from the "
                                "network's own fields near a point (conslaw's network certificate)"),
          ("between L and U", "the L laws found are laws of the network, and its own fields allow at most U"),
          ("lower bound", "the laws of φ are laws of the network, but it may have more"),
          ("verdict", "complete when the polynomial laws listed (functionally independent) reach the count; "
                      "complete for φ when they reach it but the count is a lower bound")]


def _legend_text(emphasis, escape) -> str:
    """The summary's legend, each term set off by `emphasis`."""
    return " ".join(f"{emphasis(term)}: {escape(text)}." for term, text in LEGEND)


def _date() -> str | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch or not epoch.strip().isdigit():
        return None
    try:
        return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):  # beyond the years datetime can represent
        return None


def _mantissa_exponent(x: float) -> tuple[str, int]:
    mantissa, exponent = f"{x:.1e}".split("e")
    return mantissa, int(exponent)


def _provenance(reports: list[ArchitectureReport], seed: int, timings: bool, math: bool, escape=str) -> list[str]:
    """Provenance lines; `math`: with $…$ LaTeX math (LaTeX and Markdown), else plain Unicode text (JSON).
    Names from files go through `escape`."""
    bound = max((r.count.wrong_count_bound for r in reports), default=0.0)
    mantissa, exponent = _mantissa_exponent(bound)
    prime = rf"prime $p = 2^{{61}}-1 = {PRIME}$" if math else f"prime p = 2^61 − 1 = {PRIME}"
    if bound == 0:
        error = "error bound: none (every block proved by sandwich bounds without a random check)"
    elif math:
        error = rf"error bound: $P(\text{{wrong count}}) \le {mantissa}\times 10^{{{exponent}}}$ (Schwartz–Zippel lemma)"
    else:
        error = f"error bound: P(wrong count) ≤ {mantissa} × 10^{exponent} (Schwartz–Zippel lemma)"
    points = max((r.count.points for r in reports), default=2)
    lines = [f"conslaw {version('conslaw')}", f"seed {seed}", prime,
             "blocks proved once (sandwich bounds, a theorem, or the ceiling set by family laws checked at random points); "
             f"the others at {points} independent random points, which must agree", error]
    if timings:
        lines.append("seconds: " + ", ".join(f"{escape(r.count.name)} {r.count.seconds:.3f}" for r in reports))
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
\usepackage{graphicx}
\setlength{\emergencystretch}{3em}
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt}
\title{Conservation laws of gradient flows}
\author{conslaw}
\date{DATE}
\begin{document}
\maketitle
"""

HEADINGS = ("section", "subsection", "none")
KEEP_WITH_HEADER = 3  # table rows kept on the page of their header (longtable breaks nowhere else near it)


def _tt(text: str) -> str:
    """Typewriter text, breakable after '/' and '.' (long paths and names)."""
    escaped = sanitize.latex(text)
    for breakable in "/.+":
        escaped = escaped.replace(breakable, breakable + r"\allowbreak{}")
    return r"\texttt{" + escaped + "}"


def _cite(text: str) -> str:
    """Text (φ descriptions, reasons) with its short-form citations as \\cite."""
    return latex_with_citations(text, sanitize.latex)


def _shape_latex(shape) -> str:
    """'signal $2\\times8$': the kind in words, the sizes in math."""
    return sanitize.latex(str(shape[0])) + " $" + r"\times".join(map(str, shape[1:])) + "$"


def _heading(level: str, title: str, starred: bool = False) -> str:
    if level == "none":
        return r"\par\medskip\noindent\textbf{" + title + r"}\par\nopagebreak"
    return f"\\{level}{'*' if starred else ''}{{{title}}}"


def _longtable(spec: str, header: str, rows: list[str]) -> str:
    """A longtable whose header repeats on every page and never stands alone at a page foot: the
    first rows are tied to it (`\\\\*` forbids a page break after a row)."""
    tied = [row.removesuffix(r"\\") + r"\\*" if i < KEEP_WITH_HEADER and i < len(rows) - 1 else row
            for i, row in enumerate(rows)]
    columns = spec.count("l") + spec.count("r") + spec.count("c")
    head = r"\toprule" + "\n" + header + r" \\ \midrule"
    return "\n".join([rf"\begin{{longtable}}{{{spec}}}", head, r"\endfirsthead",
                      rf"\multicolumn{{{columns}}}{{l}}{{\emph{{(continued)}}}} \\", head, r"\endhead",
                      *tied, r"\bottomrule", r"\end{longtable}"])


def to_latex(reports: list[ArchitectureReport], seed: int, fragment: bool = False, timings: bool = False,
             heading: str = "section") -> str:
    """The report as LaTeX: a standalone article with its bibliography, or (`fragment`) the body alone
    with headings at `heading` level and the BibTeX entries it cites in a comment."""
    reports, refused = _split(reports)
    parts = []
    if len(reports) > 1:
        parts.append(_latex_summary(reports, heading))
    parts += [_latex_section(r, heading) for r in reports]
    if refused:
        parts.append(_heading(heading, "Not reported", starred=True) + "\n" + r"\begin{itemize}" + "\n"
                     + "\n".join(rf"\item {line}" for line in _refused_lines(refused, sanitize.latex))
                     + "\n" + r"\end{itemize}")
    provenance = "\n".join(rf"\item {line}" for line in _provenance(reports, seed, timings, True, sanitize.latex))
    title = _heading(heading, "Provenance", starred=True) if not fragment else r"\paragraph{Provenance.}"
    parts.append(title + "\n" + r"\begin{itemize}" + "\n" + provenance + "\n" + r"\end{itemize}")
    body = "\n\n".join(parts) + "\n"
    keys = cited_keys(body)
    if fragment:
        entries = "".join(f"% {line}\n" for line in bibtex_entries(keys).splitlines())
        return ("% conslaw report fragment: needs amsmath, amssymb, booktabs, longtable (graphicx with --verify figures), and these BibTeX entries\n"
                "% (also in conslaw_cli/references.bib):\n" + entries + body)
    bibliography = thebibliography(keys) + "\n" if keys else ""
    return (LATEX_PREAMBLE.replace("DATE", _date() or "") + "\n" + body + bibliography + r"\end{document}" + "\n")


def _latex_summary(reports: list[ArchitectureReport], heading: str) -> str:
    marks, reasons = _legend(reports)
    rows = []
    for r in reports:
        mark = rf"\textsuperscript{{{marks[r.graph.name]}}}" if r.graph.name in marks else ""
        rows.append(rf"{sanitize.latex(r.graph.name)} & {r.count.parameters} & {r.count.laws} & {_status(r)}{mark} & "
                    rf"{r.laws.independent} & {sanitize.latex(_verdict(r))} \\")
    table = _longtable("lrrlrl", r"architecture & $D$ & laws & count & polynomial laws listed & verdict", rows)
    notes = " ".join(rf"\textsuperscript{{{i}}}{_cite(reason)}." for i, reason in enumerate(reasons, 1))
    return (_heading(heading, "Summary", starred=True) + "\n" + table + "\n"
            + r"{\small " + _legend_text(lambda term: rf"\emph{{{term}}}", sanitize.latex)
            + (" " + notes if notes else "") + r"\par}")


def _formula_parts(formula: str, tex: str) -> tuple[str, str]:
    """(LaTeX math, plain-text words) of a piece's φ, so that no prose is typeset as math: a φ with
    no closed form (`= \\text{path lifting}`) is words only, a trailing note is words (`split_note`)."""
    if re.search(r"=\s*\\text\{", tex):
        return "", formula.removeprefix("φ = ")
    return split_note(tex)


def _latex_piece(name: str, formula: str, tex: str, n: int | None, backing: str) -> str:
    """One piece of φ: its formula in math, words in text."""
    math, words = _formula_parts(formula, tex)
    shown = " ".join(part for part in (f"${math}$" if math else "", sanitize.latex(words)) if part)
    return rf"\item {_tt(name)}: {shown}; {_piece_components(n)}; {_cite(backing)}."


def _latex_section(r: ArchitectureReport, heading: str) -> str:
    c, laws = r.count, r.laws
    out = [_heading(heading, sanitize.latex(r.graph.name))]
    if r.graph.description:
        out.append(sanitize.latex(r.graph.description) + r"\par")
    out.append(rf"File {_tt(c.file)}; input {_shape_latex(r.graph.input_shape)}; $D = {c.parameters}$ parameters.")
    rows = [rf"{_tt(name)} & {sanitize.latex(kind)} & {_shape_latex(shape)} & {n or ''} \\"
            for name, kind, shape, n in _layers(r.graph)]
    out.append(_longtable("llll", "layer & kind & output & parameters", rows))
    out.append(r"\paragraph{Factorization.}" + rf" $\varphi$ {_components_text(r)} "
               + "({}: {}).".format(*_richness(c)))
    out.append(r"\begin{itemize}")
    out += [_latex_piece(*piece) for piece in _pieces(r)]
    out.append(r"\end{itemize}")
    dims = r" \to ".join(map(str, c.trace_dims))
    out.append(r"\paragraph{Count.} $\dim \mathrm{Lie}(V)(\theta)$ after each bracket step: "
               rf"${dims}$, so ${c.parameters} - {c.trace_dims[-1]} = {c.laws}$ independent conservation laws"
               + _count_qualifier(c))
    out.append(rf"\paragraph{{Polynomial laws of degree $\le {laws.degree}$}} ({sanitize.latex(_verdict(r))}: "
               rf"{laws.independent} functionally independent, count {laws.count}).")
    items = [rf"\item {item}" for item in law_items(laws)]
    out.append(r"\begin{itemize}" + "\n" + ("\n".join(items) or r"\item none") + "\n" + r"\end{itemize}")
    if r.training is not None:
        out.append(_latex_training(r.training, r.figure))
    return "\n".join(out)


def _latex_number(x: float) -> str:
    r"""1.2e-05 as $1.2 \cdot 10^{-5}$."""
    if x == 0:
        return "$0$"
    mantissa, exponent = _mantissa_exponent(x)
    return rf"${mantissa} \cdot 10^{{{exponent}}}$"


def _latex_training(result: VerifyResult, figure: str | None) -> str:
    rates = " & ".join(rf"$\tau = {rate:g}$" for rate in result.settings.learning_rates)
    rows = [rf"{sanitize.latex(name)} & {laws} & " + " & ".join(map(_latex_number, errors))
            + rf" & {sanitize.latex(slope)} & {sanitize.latex(verdict)} \\"
            for name, laws, errors, slope, verdict in _training_rows(result)]
    spec = "lr" + "r" * len(result.settings.learning_rates) + "rl"
    out = [r"\paragraph{Training check.} " + sanitize.latex(_training_intro(result)) + ".",
           _longtable(spec, rf"family & laws & {rates} & slope & verdict", rows),
           " ".join(sanitize.latex(line) for line in _training_lines(result)) + r"\par"]
    if figure is not None:
        out.append(r"\begin{center}\includegraphics[width=\linewidth]{" + sanitize.latex(figure) + r"}\end{center}")
    return "\n".join(out)


# --- Markdown -----------------------------------------------------------------------------------

def _shape_markdown(shape) -> str:
    return f"{shape[0]} {'×'.join(map(str, shape[1:]))}"


def to_markdown(reports: list[ArchitectureReport], seed: int, timings: bool = False) -> str:
    reports, refused = _split(reports)
    out = ["# Conservation laws of gradient flows", ""]
    if len(reports) > 1:
        marks, reasons = _legend(reports)
        out += ["| architecture | D | laws | count | polynomial laws listed | verdict |",
                "|---|---:|---:|---|---:|---|"]
        out += [f"| {sanitize.markdown(r.graph.name)} | {r.count.parameters} | {r.count.laws} | {_status(r)}"
                + (f" ({marks[r.graph.name]})" if r.graph.name in marks else "")
                + f" | {r.laws.independent} | {_verdict(r)} |" for r in reports]
        out += ["", _legend_text(lambda term: f"*{term}*", sanitize.markdown), ""] + [f"({i}) {sanitize.markdown(reason)}." for i, reason in enumerate(reasons, 1)]
        out.append("")
    for r in reports:
        out += _markdown_section(r)
    if refused:
        out += ["## Not reported", ""] + [f"- {line}" for line in _refused_lines(refused, sanitize.markdown)] + [""]
    out += ["## Provenance", ""] + [f"- {line}" for line in _provenance(reports, seed, timings, True, sanitize.markdown)]
    return "\n".join(out) + "\n"


def _markdown_piece(name: str, formula: str, tex: str, n: int | None, backing: str) -> str:
    math, words = _formula_parts(formula, tex)
    shown = " ".join(part for part in (f"${math}$" if math else "", sanitize.markdown(words)) if part)
    return f"- {sanitize.markdown(name)}: {shown}; {_piece_components(n)}; {sanitize.markdown(backing)}."


def _markdown_section(r: ArchitectureReport) -> list[str]:
    c, laws = r.count, r.laws
    out = [f"## {sanitize.markdown(r.graph.name)}", ""]
    if r.graph.description:
        out += [sanitize.markdown(r.graph.description), ""]
    out += [f"File {sanitize.markdown(c.file)}; input {_shape_markdown(r.graph.input_shape)}; D = {c.parameters}.", "",
            "| layer | kind | output | parameters |", "|---|---|---|---:|"]
    out += [f"| {sanitize.markdown(name.strip())} | {kind} | {_shape_markdown(shape)} | {n or ''} |"
            for name, kind, shape, n in _layers(r.graph)]
    out += ["", f"**Factorization**: φ {_components_text(r)}, "
            + "{} ({}).".format(*_richness(c)), ""]
    out += [_markdown_piece(*piece) for piece in _pieces(r)]
    out += ["", f"**Count**: dim Lie(V)(θ) after each bracket step {' → '.join(map(str, c.trace_dims))}, "
            f"so **{c.laws}** independent conservation laws" + _count_qualifier(c), "",
            f"**Polynomial laws of degree ≤ {laws.degree}** ({_verdict(r)}: {laws.independent} functionally "
            f"independent, count {laws.count}):", ""]
    out += [f"- {item}" for item in law_items(laws)]
    if r.training is not None:
        out += [""] + _markdown_training(r.training, r.figure)
    return out + [""]


def _markdown_training(result: VerifyResult, figure: str | None) -> list[str]:
    rates = result.settings.learning_rates
    out = [f"**Training check** ({sanitize.markdown(_training_intro(result))}):", "",
           "| family | laws | " + " | ".join(f"error τ = {rate:g}" for rate in rates) + " | slope | verdict |",
           "|---|---:|" + "---:|" * len(rates) + "---:|---|"]
    out += [f"| {sanitize.markdown(name)} | {laws} | " + " | ".join(f"{e:.1e}" for e in errors)
            + f" | {slope} | {sanitize.markdown(verdict)} |"
            for name, laws, errors, slope, verdict in _training_rows(result)]
    out += [""] + [sanitize.markdown(line) for line in _training_lines(result)]
    if figure is not None:
        out += ["", f"![training check]({figure})"]
    return out


# --- JSON ---------------------------------------------------------------------------------------

def to_json(reports: list[ArchitectureReport], seed: int, timings: bool = False) -> str:
    """Schema 1: the objects of `count --json` and `laws --json`, with the graph and φ per
    architecture, and `refused` (file, line, col, message, hint) for files that could not be reported."""
    reports, refused = _split(reports)
    archs = []
    for r in reports:
        count = r.count.to_json()
        if not timings:
            count.pop("seconds")
        archs.append({
            "name": r.graph.name, "description": r.graph.description, "file": r.count.file,
            "parameters": r.count.parameters,
            "layers": [{"name": n.strip(), "kind": k, "output": shape_text(s), "parameters": p} for n, k, s, p in _layers(r.graph)],
            "phi": {"components": None if r.components is None else sum(r.components.values()),
                    "rich": r.count.exact, "backing": pieces_richness(r.pieces),
                    "pieces": [{"name": n, "formula": f, "latex": t, "components": k, "backing": b}
                               for n, f, t, k, b in _pieces(r)]},
            "count": count, "laws": r.laws.to_json(),
            **({"training": r.training.to_json(), "figure": r.figure} if r.training is not None else {}),
            "summary": {"parameters": r.count.parameters, "laws": r.count.laws, "status": _status(r),
                        "status_reason": pieces_richness(r.pieces) if r.count.exact else _lower_bound_reason(r),
                        "polynomial_laws_listed": r.laws.independent, "verdict": _verdict(r)},
        })
    doc = {"schema": SCHEMA_VERSION, "conslaw_version": version("conslaw"), "seed": seed, "prime": PRIME,
           "points": 2, "provenance": _provenance(reports, seed, timings, math=False), "architectures": archs}
    if refused:
        doc["refused"] = [{"file": r.error.file, "line": r.error.line, "col": r.error.col, "message": r.error.message,
                           "hint": r.error.hint} for r in refused]
    return sanitize.json_text(doc) + "\n"
