"""Laws of a subset of the parameters: block laws of deep networks (Marcotte et al. 2025, §4, docs/method.md §6).

h(θ_T) is a law of the network iff ∇h ⊥ ∇_{θ_T} φ_i(θ_T, η) for every i and every value η of the
other parameters (Marcotte et al. 2025, Prop 4.3).  Writing φ_i(θ_T, η) = Σ_β c_{iβ}(θ_T) η^β, the span over
all η of these fields is the span of the ∇c_{iβ} (the monomials η^β are linearly independent
functions of η), so the fields of *every* η are obtained exactly, with no sampling: the block's
φ is the set of coefficients c_{iβ}, and its count is |T| − dim Lie(span ∇c_{iβ})(θ_T).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from .compiler import Component, Phi, Piece, VariableTable, assemble
from conslaw_cli.counting.expanded_phi import trace_dimension
from conslaw_cli.errors import ConslawError, did_you_mean
from conslaw_cli.graph import Graph, Layer


@dataclass
class Unit:
    """A named group of parameters: a layer, a residual block, or one parameter tensor."""

    name: str
    kind: str
    variables: set[int]


def units(graph: Graph) -> dict[str, Unit]:
    """Every layer, residual block and parameter tensor of the graph, by name."""
    table = VariableTable(graph)
    out: dict[str, Unit] = {}

    def tensor_vars(tensor: str) -> set[int]:
        offset, shape = table.offsets[tensor]
        return set(range(offset, offset + math.prod(shape)))

    def walk(layers: list[Layer]) -> set[int]:
        collected: set[int] = set()
        for layer in layers:
            unit = out[layer.name] = Unit(layer.name, "residual block" if layer.kind == "residual" else "layer", set())
            for p in layer.params:
                out[f"{layer.name}.{p}"] = Unit(f"{layer.name}.{p}", "tensor", tensor_vars(f"{layer.name}.{p}"))
                unit.variables |= out[f"{layer.name}.{p}"].variables
            unit.variables |= walk(layer.inner)
            if not unit.variables:
                del out[layer.name]
            collected |= unit.variables
        return collected

    walk(graph.layers)
    return out


def resolve(graph: Graph, spec: str) -> set[int]:
    """The variables named by SPEC: comma-separated layer, residual block or tensor names."""
    known = units(graph)
    variables: set[int] = set()
    for name in (part.strip() for part in spec.split(",")):
        if name not in known:
            raise ConslawError(f"--block: no layer, residual block or parameter tensor named '{name}'", graph.file,
                               hint=did_you_mean(name, known) or f"known names: {', '.join(sorted(known))}")
        variables |= known[name].variables
    return variables


def restrict(phi: Phi, block: set[int]) -> Phi:
    """The block's φ: coefficients of each φ_i as a polynomial in the other parameters.

    It keeps only the pieces of φ that contain block parameters, and its `rich` says whether the
    block count is the network's exact count of laws on these parameters (`_block_backing`)."""
    components = []
    for comp in phi.components:
        groups: dict[tuple, dict] = {}
        for mono, c in comp.poly.items():
            inside = tuple(v for v in mono if v in block)
            if inside:
                outside = tuple(v for v in mono if v not in block)
                poly = groups.setdefault(outside, {})
                poly[inside] = poly.get(inside, 0) + c
        for outside, poly in groups.items():
            label = "coefficient of " + ("·".join(phi.variables[v] for v in outside) if outside else "1")
            components.append(Component(poly, comp.piece, comp.chain + (comp.sink,), label))
    touched = {comp.piece for comp in components}
    return assemble(phi.variables, components, _block_backing(phi, [p for p in phi.pieces if p.name in touched]))


def _block_backing(phi: Phi, touched: list[Piece]) -> list[Piece]:
    """The touched pieces, marked rich only when a theorem makes the block count exact: φ is one
    rich piece, or the block lies in one rich piece that is a residual block's body or the last
    softmax layer (Marcotte et al. 2025, Thm 4.6: the laws on such a block are those of the block
    alone). Otherwise (several pieces, attention without a skip, a run between blocks) the block's
    laws are laws of the network, but there may be more."""
    with_params = [p for p in phi.pieces if p.kind != "empty"]
    if len(with_params) == 1 or len(touched) != 1 or not touched[0].rich:
        return touched
    piece = touched[0]
    residual_body = any(re.match(r"[^\[]+\.in\[", comp.chain[0])
                        for comp in phi.components if comp.piece == piece.name and comp.chain)
    last_softmax_layer = piece is with_params[-1] and "sum-zero projection" in piece.formula
    if residual_body or last_softmax_layer:
        return [replace(piece, reason=f"{piece.reason}; block laws: Marcotte et al. 2025, Thm 4.6")]
    return [replace(piece, rich=False, reason="lower bound: the block is neither one residual block with an identity "
                                              "skip nor the last softmax layer (Marcotte et al. 2025, Thm 4.6 does "
                                              "not apply)")]


def block_laws(phi: Phi, block: set[int], seed: int = 0) -> tuple[int, list[int]]:
    """(number of laws depending only on the block's parameters, trace dimensions per step)."""
    laws, dims, _ = _block_count(restrict(phi, block), block, seed)
    return laws, dims


def _block_count(block_phi: Phi, block: set[int], seed: int) -> tuple[int, list[int], bool]:
    """(laws, trace dimensions, exact for the network) of a block's φ (see `restrict`)."""
    trace = trace_dimension(block_phi, seed=seed)
    return len(block) - trace.dimension, trace.dims, block_phi.rich


@dataclass
class PerBlockRow:
    name: str
    kind: str
    parameters: int
    laws: int
    in_partition: bool  # top-level units partition the parameters; their laws are summed
    exact: bool = True  # the block lies in one theorem-backed piece: all the network's laws on it


def per_block(graph: Graph, phi: Phi, seed: int = 0) -> list[PerBlockRow]:
    """Block laws of every residual block and every layer (top level first in file order)."""
    known = units(graph)
    top = {layer.name for layer in graph.layers}
    rows = []
    for unit in (u for u in known.values() if u.kind != "tensor"):
        laws, _, exact = _block_count(restrict(phi, unit.variables), unit.variables, seed)
        rows.append(PerBlockRow(unit.name, unit.kind, len(unit.variables), laws, unit.name in top, exact))
    return rows
