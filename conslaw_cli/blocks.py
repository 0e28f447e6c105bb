"""Laws of a subset of the parameters: block laws of deep networks (Marcotte et al. 2025, §4, docs/method.md §6).

h(θ_T) is a law of the network iff ∇h ⊥ ∇_{θ_T} φ_i(θ_T, η) for every i and every value η of the
other parameters (Marcotte et al. 2025, Prop 4.3).  Writing φ_i(θ_T, η) = Σ_β c_{iβ}(θ_T) η^β, the span over
all η of these fields is the span of the ∇c_{iβ} (the monomials η^β are linearly independent
functions of η), so the fields of *every* η are obtained exactly, with no sampling: the block's
φ is the set of coefficients c_{iβ}, and its count is |T| − dim Lie(span ∇c_{iβ})(θ_T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .compiler import Component, Phi, VariableTable, assemble
from .engine import trace_dimension
from .errors import ConslawError, did_you_mean
from .graph import Graph, Layer


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
            unit.variables |= walk(layer.body)
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

    It keeps only the pieces of φ that contain block parameters, so `rich` says whether the block
    count is exact for the network: a block inside one theorem-backed piece (a residual block, the
    softmax head) has as laws exactly those of that piece alone (Marcotte et al. 2025, Thm 4.6)."""
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
    return assemble(phi.variables, components, [p for p in phi.pieces if p.name in touched])


def block_laws(phi: Phi, block: set[int], seed: int = 0) -> tuple[int, list[int]]:
    """(number of laws depending only on the block's parameters, trace dimensions per step)."""
    trace = trace_dimension(restrict(phi, block), seed=seed)
    return len(block) - trace.dimension, trace.dims


@dataclass
class PerBlockRow:
    name: str
    kind: str
    parameters: int
    laws: int
    in_partition: bool  # top-level units partition the parameters; their laws are summed


def per_block(graph: Graph, phi: Phi, seed: int = 0) -> list[PerBlockRow]:
    """Block laws of every residual block and every layer (top level first in file order)."""
    known = units(graph)
    top = {layer.name for layer in graph.layers}
    return [PerBlockRow(u.name, u.kind, len(u.variables), block_laws(phi, u.variables, seed)[0], u.name in top)
            for u in known.values() if u.kind != "tensor"]
