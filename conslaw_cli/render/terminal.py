"""Renderers for the terminal (rich tables), JSON, LaTeX fragments and Python; every user string
passes its channel's sanitiser (sanitize.py)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from conslaw_cli import sanitize
from conslaw_cli.phi.compiler import Phi
from conslaw_cli.graph import Graph, shape_text
from .polynomial import LatexNames, poly_text
from conslaw_cli.results.count import CountResult

if TYPE_CHECKING:  # the law machinery (numba) is loaded only by the commands that print laws
    from rich.table import Table  # imported by the first table (25 ms that --json never needs)

    from conslaw_cli.phi.blocks import PerBlockRow
    from conslaw_cli.lawfinding.system import LawsResult


BLOCK_STATUS = ("the laws that depend only on these parameters, for every value of the others (Marcotte et al. "
                "2025, Prop 4.3): the number of such laws of φ is exact. exact = they are all the network's laws on "
                "these parameters: φ is rich, or the block lies in one residual block or the last softmax layer "
                "(Marcotte et al. 2025, Thm 4.6); lower bound = laws of the network, but there may be more.")


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    """A rich table whose cells wrap, never cut (overflow "fold"), with (header, justify) columns."""
    from rich.table import Table

    table = Table(title=sanitize.terminal_markup(title), title_justify="left")
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    return table


def count_table(results: list[CountResult]) -> Table:
    """One row per architecture: the count and how it was obtained."""
    table = _table("conservation laws (gradient flow)", [
        ("name", "left"), ("D", "right"), ("φ comps", "right"), ("blocks", "right"),
        ("dim Lie(V)(θ) per step", "left"), ("laws", "right"), ("status", "left"), ("seconds", "right")])
    for r in results:
        status = f"[green]{r.status}[/]" if r.exact or r.certified else f"[yellow]{r.status}[/]"
        table.add_row(sanitize.terminal_markup(r.name), str(r.parameters),
                      "–" if r.phi_components is None else str(r.phi_components), str(r.blocks),
                      " → ".join(map(str, r.trace_dims)), f"[bold]{r.laws}[/]", status, f"{r.seconds:.3f}")
    return table


def probability(bound: float, power: int = 1) -> str:
    """bound^power for a footer: 2.1e-17, or 4.4e-340 where the float would underflow to 0, or 0
    when no random choice was involved."""
    if bound == 0:
        return "0"
    exponent = power * math.log10(bound)
    if exponent > -300:
        return f"{bound ** power:.1e}"
    whole = math.floor(exponent)
    mantissa = round(10 ** (exponent - whole), 1)
    if mantissa >= 10:
        mantissa, whole = mantissa / 10, whole + 1
    return f"{mantissa:.1f}e{whole:+03d}"


def count_footer(results: list[CountResult], block: str | None = None) -> str:
    """The error bound, what "exact" and "lower bound" mean, and why each lower bound is one."""
    if not results:
        return ""
    r = results[0]
    bound, checks = max(x.per_point_bound for x in results), max(x.check_error_bound for x in results)
    proved, all_points = sum(x.certified_blocks for x in results), "both" if r.points == 2 else f"all {r.points}"
    if proved:
        blocks = sum(x.blocks for x in results)
        others = "" if proved == blocks else \
            f", the others at {r.points} independent points, which agree (≤ {probability(bound)} per point)"
        lines = [f"exact ranks in GF({r.prime}), p = 2^61 − 1, at random points (seed {r.seed}); {proved} of {blocks} "
                 f"blocks proved once (sandwich bounds, a theorem, or the ceiling set by family laws; P(a non-law passed the "
                 f"check) ≤ {probability(checks)}){others}: P(wrong count) ≤ "
                 f"{probability(max(x.wrong_count_bound for x in results))} "
                 "(Schwartz–Zippel)."]
    else:
        lines = [f"exact ranks in GF({r.prime}), p = 2^61 − 1; {r.points} independent random points (seed {r.seed}) "
                 f"agree; P(wrong count) ≤ {probability(bound)} per point, ≤ {probability(bound, r.points)} for {all_points} "
                 "(Schwartz–Zippel)."]
    if block:
        lines.append(f"[{sanitize.terminal(block)}]: {BLOCK_STATUS} The whole network's count and its status: conslaw count "
                     "without --block.")
    else:
        lines.append(STATUS_LEGEND)
    lines += [sanitize.terminal(status_reason(x)) for x in results if not x.exact]
    return "\n".join(lines)


STATUS_LEGEND = ("exact = φ is rich (theorem-backed): all the laws of the network; exact (certified) = the laws "
                 "found (φ's, named families checked against the network's own fields, or laws of a symmetry by "
                 "Noether's theorem) meet an upper bound "
                 "proved from the network's own fields near a point; between L and U = L laws found, at most U "
                 "proved; lower bound = laws of φ, which are laws of the network, but there may be more.")


def status_reason(r: CountResult) -> str:
    """Why a count that is not theorem-backed has its status, in one line."""
    why = r.richness.removeprefix("lower bound: ")
    found = (f"the {r.laws} laws of φ" if r.phi_laws is None else
             f"{r.laws} laws of {r.found_by} (φ alone gives {r.phi_laws})")
    if r.certified:
        return (f"{r.name}: exact (certified): {found} are laws of the network, and at most {r.laws} "
                f"are possible near that point ({r.upper_bound_note})")
    if r.upper_bound is not None:
        return (f"{r.name}: between {r.laws} and {r.upper_bound}: {found} ({why}); at most "
                f"{r.upper_bound} near that point ({r.upper_bound_note})")
    return f"{r.name}: lower bound: {why}" + (f"; {r.upper_bound_note}" if r.upper_bound_note else "")


def per_block_table(name: str, rows: list[PerBlockRow], total: int) -> Table:
    """Block laws per residual block and layer; top-level units partition the parameters."""
    table = _table(f"{name}: laws that depend on one block only (Marcotte et al. 2025, Prop 4.3)",
                   [("block", "left"), ("kind", "left"), ("parameters", "right"), ("block laws", "right"),
                    ("status", "left")])
    for row in rows:
        indent = "" if row.in_partition else "  "
        table.add_row(indent + sanitize.terminal_markup(row.name), row.kind, str(row.parameters), str(row.laws),
                      "exact" if row.exact else "lower bound")
    summed = sum(r.laws for r in rows if r.in_partition)
    table.add_section()
    table.add_row("sum over top-level blocks and layers", "", "", str(summed), "")
    table.add_row("total count (see conslaw count for its status)", "", "", str(total), "")
    table.add_row("laws not attached to a single block", "", "", str(total - summed), "")
    table.caption = "block laws: " + BLOCK_STATUS
    table.caption_justify = "left"
    return table


def count_json(results: list[CountResult]) -> str:
    return sanitize.json_text([r.to_json() for r in results])


def graph_table(graph: Graph) -> Table:
    """Layers, shapes and parameter tensors (`conslaw show`)."""
    table = _table(f"{graph.name}: input {shape_text(graph.input_shape)}, D = {graph.num_params}",
                   [("layer", "left"), ("kind", "left"), ("output", "left"), ("parameter tensors", "left"),
                    ("parameters", "right")])

    for depth, layer in graph.walk():
        params = ", ".join(f"{layer.name}.{p} {'x'.join(map(str, s))}" for p, s in layer.params.items())
        table.add_row("  " * depth + sanitize.terminal_markup(layer.name), layer.kind, shape_text(layer.out_shape),
                      sanitize.terminal_markup(params),
                      str(layer.own_params or ""))
    return table


def phi_summary(phi: Phi) -> Table:
    """Pieces of φ: component counts, degrees, and what backs them (`conslaw phi`)."""
    table = _table(f"φ: {len(phi.components)} components in {len(phi.variables)} variables",
                   [(column, "left") for column in ("piece", "kind", "components", "degrees", "backing")])
    for piece in phi.pieces:
        comps = [c for c in phi.components if c.piece == piece.name]
        degrees = sorted({max(len(m) for m in c.poly) for c in comps})
        table.add_row(sanitize.terminal_markup(piece.name), piece.kind, str(len(comps)), ",".join(map(str, degrees)) or "-",
                      sanitize.terminal_markup(piece.reason))
    return table


def phi_status(phi: Phi) -> str:
    """What the count of this φ is: exact (and the theorem) or a lower bound (and why)."""
    if phi.rich:
        return "count: exact (φ is rich): " + sanitize.terminal(phi.richness.removeprefix("theorem-backed: "))
    return "count: lower bound: " + sanitize.terminal(phi.richness.removeprefix("lower bound: "))


def phi_components(phi: Phi, limit: int, latex: bool) -> list[str]:
    """The first `limit` components as text or LaTeX, with provenance."""
    lines, names = [], LatexNames(phi.variables) if latex else phi.variables
    for i, comp in enumerate(phi.components[:limit]):
        lines.append(sanitize.terminal(f"φ_{i + 1} = {poly_text(comp.poly, names, latex)}    [{comp.provenance}]"))
    if len(phi.components) > limit:
        lines.append(f"… {len(phi.components) - limit} more (use --components N)")
    return lines


def python_name(name: str) -> str:
    """`linear1.weight[0,1]` -> `linear1_weight_0_1`: an identifier sympy can parse."""
    return name.replace(".", "_").replace("[", "_").replace("]", "").replace(",", "_")


def laws_text(result: LawsResult, expand: bool = False, exact: bool = True) -> list[str]:
    """Terminal lines for `conslaw laws`: families as matrix expressions, other laws as polynomials.
    `exact`: whether the count they are compared with is exact (else "complete for φ")."""
    bound = ("the count is a lower bound" if result.upper_bound is None or exact else
             f"the network has between {result.count} and {result.upper_bound} laws")
    verdict = (("complete" if exact else f"complete for φ ({bound})") if result.complete else
               f"{result.count - result.independent} law(s) missing at degree ≤ {result.degree}: "
               f"try --degree {result.degree + 1}")
    lines = [f"{sanitize.terminal(result.name)}: polynomial laws of degree ≤ {result.degree} — {verdict} "
             f"({result.independent} functionally independent, count {result.count})"]
    for family, n in result.families:
        lines.append(f"  {n} law{'s' if n != 1 else ''} = {sanitize.terminal(family.name)}")
    listed = result.laws if expand else [law for law in result.laws if law.family is None]
    for degree in sorted({law.degree for law in listed}):
        lines.append(f"  degree {degree}:")
        lines.extend(sanitize.terminal(f"    {poly_text(law.poly, result.variables)}"
                                       + (f"    [{law.family}]" if law.family else ""))
                     for law in listed if law.degree == degree)
    if result.products:
        lines.append(f"  + {result.products} independent products of lower-degree laws (not listed)")
    if not result.laws:
        lines.append("  no polynomial law of this degree")
    if result.check_error_bound is not None:
        proved = sorted({f.proved_by for f, _ in result.families if f.proved_by})
        by_theorem = f"; the families of a symmetry are proved by {', '.join(proved)}, not checked" if proved else ""
        lines.append(f"  (families checked against the fields of {result.checked_against} at random points mod p, no law system: "
                     f"P(a listed law is wrong) ≤ {result.check_error_bound:.1e}, Schwartz–Zippel{by_theorem})")
    return lines


def split_note(tex: str) -> tuple[str, str]:
    """(math, note): a trailing `\\ \\text{(…)}` of a LaTeX formula is a note in words, not math."""
    note = re.search(r"\\ \\text\{(.*)\}$", tex)
    return (tex[:note.start()], note.group(1)) if note else (tex, "")


def math_with_note(tex: str) -> str:
    """`$math$ note`: the formula as inline math and its trailing note as text."""
    math, note = split_note(tex)
    return f"${math}$" + (f" {note}" if note else "")


def law_items(result: LawsResult, with_products: bool = True) -> list[str]:
    """The laws as list items with $…$ math (LaTeX and Markdown alike): families as matrix
    expressions, other laws as polynomials, then the number of products not listed."""
    items = [f"{n} law{'s' if n != 1 else ''}: {math_with_note(family.latex)}" for family, n in result.families]
    items += [f"${poly_text(law.poly, result.latex_names, True)}$" for law in result.laws if law.family is None]
    if with_products and result.products:
        items.append(f"and {result.products} independent products of lower-degree laws (not listed)")
    return items


def laws_latex(result: LawsResult) -> str:
    """A LaTeX fragment: families as matrix expressions, other laws as polynomials."""
    items = [rf"\item {item}" for item in law_items(result, with_products=False)]
    verdict = "complete" if result.complete else f"{result.count - result.independent} missing"
    body = "\n".join(items) if items else r"\item no polynomial law of this degree"
    return (rf"% {sanitize.latex(result.name)}: degree <= {result.degree}, {verdict}" + "\n"
            r"\begin{itemize}" + "\n" + body + "\n" + r"\end{itemize}")


def laws_python(result: LawsResult) -> list[str]:
    """Laws as Python/sympy expressions; variables as identifiers (see the comment line)."""
    lines = [f"# {sanitize.python_comment(result.name)}: laws of degree <= {result.degree}; "
             "linear1.weight[i,j] is written linear1_weight_i_j"]
    names = [python_name(n) for n in result.variables]
    lines += [f"h{i + 1} = {poly_text(law.poly, names)}" for i, law in enumerate(result.laws)]
    return lines
