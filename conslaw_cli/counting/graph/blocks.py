"""The blocks of φ on the layer graph: which parameters are coupled, and each block's program.

Pieces of φ use disjoint parameters (Marcotte, Gribonval, Peyré 2025, App. G); a path-lifting
piece is cut further at smooth and power activations and normalizations, which end its paths (a
normalization's γ ⊙ n + β starts the next segment), and an attention layer splits
into (Q_h, K_h) and (V_h, O_h) per head. Blocks with the same structure up to renaming share a
signature, so that the count computes each once. Used by the count (``count``) and the law check
(``lawcheck``); receives a Graph, returns DenseBlocks with their parameters' global indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from conslaw_cli.graph import GATED, HOMOGENEOUS, PATH_ENDING, Graph, Layer, affine_part, glu_projection, walk_layers
from conslaw_cli.phi.compiler import merges_tokens, piece_layout
from .fields import GraphFields
from .network import Affine, Dense, Program, Unsupported, build_program, connections, program_ops


@dataclass
class DenseBlock:
    """A block whose trace is computed from sampled fields and exact dense ranks, or certified
    (see ``certificate``) when it is a single-path segment too large for dense ranks."""

    signature: tuple
    fields: GraphFields
    layers: list[Layer] | None = None  # a segment's layers (None: attention)
    local: dict[str, int] | None = None  # tensor -> first local parameter
    sizes: dict[str, int] | None = None  # tensor -> number of parameters
    values_from: Layer | None = None  # the segment's paths start at this attention's values
    global_of_local: np.ndarray | None = None  # of the block computed (the first of its class)
    theorem_dimension: int | None = None  # dim Lie(V)(θ) at generic θ known by a theorem: no trace needed


def tensor_offsets(graph: Graph) -> dict[str, int]:
    """First variable index of every parameter tensor (the variable table's order, no names)."""
    offsets, total = {}, 0
    for name, shape in graph.parameter_tensors():
        offsets[name] = total
        total += math.prod(shape)
    return offsets


def structure(layers: list[Layer]) -> tuple:
    """What makes two segments the same up to renaming parameters."""
    return tuple((l.kind, l.in_shape, l.out_shape, tuple(sorted((k, str(v)) for k, v in l.options.items()
                                                                 if k != "name")),
                  tuple(sorted(l.params.items())), structure(l.inner)) for l in layers)


def segments(layers: list[Layer]) -> list[list[Layer]]:
    """A path-lifting piece cut at its smooth and power activations, normalizations and gated units
    (each ends the paths through it)."""
    out, run = [], []
    for layer in layers:
        if layer.kind == GATED:  # a gated unit's projection ends the segment, its products start the next
            out.append(run + [glu_projection(layer)])
            run = []
        elif layer.kind in PATH_ENDING:
            out.append(run)
            run = [affine_part(layer)] if layer.params else []  # a normalization's γ ⊙ n + β starts the next
        elif any(inner.kind in PATH_ENDING for inner in walk_layers(layer.inner)):
            raise Unsupported("smooth or power activation or normalization inside an inline residual block")
        else:
            run.append(layer)
    out.append(run)
    return [seg for seg in out if any(l.params or l.body for l in seg)]


def segment_block(layers: list[Layer], offsets: dict[str, int], values_from: Layer | None = None) -> DenseBlock:
    """The dense block of one segment, its parameters numbered from 0 (with `values_from`, the
    attention's V and O first: the segment's paths start at its values)."""
    local, sizes, size = {}, {}, 0
    tensors = [(f"{values_from.name}.{t}", values_from.params[t]) for t in "VO"] if values_from else []
    tensors += [(f"{layer.name}.{p}", shape) for layer in walk_layers(layers) for p, shape in layer.params.items()]
    for tensor, shape in tensors:
        local[tensor], sizes[tensor] = size, math.prod(shape)
        size += sizes[tensor]
    program = build_program(layers, local, size, values_from)
    affine = [op for op in program_ops(program.ops) if isinstance(op, Affine)]
    homogeneous = any(l.kind in HOMOGENEOUS or l.kind == "max_pool" for l in walk_layers(layers))  # gated paths
    chains = size if homogeneous else min(size, (program.sources + program.has_constant) * program.sinks)
    edges = connections(program)
    signature = ("segment", structure(layers), structure([values_from]) if values_from else None)
    return DenseBlock(signature, GraphFields(program, len(affine), chains, edges), layers, local, sizes, values_from)



def attention_block(layer: Layer) -> DenseBlock:
    """(Q_h, K_h) of one head as the chain v ↦ Q_hᵀ(K_h v): φ = entries of Q_hᵀK_h; (V_h, O_h)
    is the same block up to renaming (Marcotte et al. 2025, Thm 3.8). Its dimension is known
    (`two_layer_linear_laws`), so it is never traced."""
    head_dim, dim = layer.options["head_dim"], layer.in_shape[2]
    entries = head_dim * dim
    into_head = Dense(entries, head_dim, dim)  # K_h[a, i] after Q_h's entries
    out_of_head = Dense(0, dim, head_dim, transposed=True)  # Q_hᵀ: Q_h[a, j] at a·dim + j
    program = Program([Affine(into_head), Affine(out_of_head)], dim, dim, 2 * entries)
    program.num_gains = 2 * dim + 1
    known = 2 * entries - two_layer_linear_laws(dim, dim, head_dim)
    return DenseBlock(("attention pair", head_dim, dim), GraphFields(program, 2, dim * dim, 2 * entries),
                      theorem_dimension=known)


def two_layer_linear_laws(n: int, m: int, r: int) -> int:
    """The number of independent laws of φ = entries of U Vᵀ, U ∈ R^{n×r}, V ∈ R^{m×r}, near a
    generic point: r(r+1)/2 when r ≤ n + m, else r(r+1)/2 − (r−n−m)(r−n−m+1)/2 (Marcotte,
    Gribonval, Peyré 2023, Prop 4.2, 4.3 and Cor 4.4; the laws are the entries of UᵀU − VᵀV).
    An attention pair Q_hᵀK_h is U = Q_hᵀ, V = K_hᵀ with n = m = dim, r = head_dim."""
    excess = max(0, r - n - m)
    return r * (r + 1) // 2 - excess * (excess + 1) // 2


def covered_pieces(graph: Graph) -> list:
    """The pieces of φ (compiler.piece_layout); raises Unsupported where linear layers are composed
    into an attention's bilinear forms (the pieces then share parameters) or its values reach a
    flatten (sources per token): the expanded engine takes these."""
    pieces = piece_layout(graph.layers)
    if any(piece.composed or (piece.upstream and piece.upstream.composed) for piece in pieces):
        raise Unsupported("layers composed into attention")
    if any(piece.values_from is not None and merges_tokens(piece.layers) for piece in pieces):
        raise Unsupported("attention values through flatten (sources per token)")
    return pieces


def _piece_blocks(graph: Graph, offsets: dict[str, int]):
    """(piece, block) for every attention layer and every segment of the covered pieces, in order
    (a segment fed by an attention's values is the first of its piece)."""
    for piece in covered_pieces(graph):
        if piece.kind == "attention":
            yield piece, attention_block(piece.layers[0])
            continue
        for k, segment in enumerate(segments(piece.layers)):
            yield piece, segment_block(segment, offsets, piece.values_from if k == 0 else None)


def blocks_of(graph: Graph) -> list[tuple[DenseBlock, int]]:
    """Distinct blocks with their multiplicities (raises Unsupported for what this engine lacks)."""
    offsets = tensor_offsets(graph)
    found: dict[tuple, list] = {}
    for piece, block in _piece_blocks(graph, offsets):
        if block.signature not in found:
            block.global_of_local = _head_pair(piece.layers[0], offsets, 0, "QK") if piece.kind == "attention" \
                else global_of_local(block, offsets)  # an attention pair is computed on head 0's Q, K
            found[block.signature] = [block, 0]
        if piece.kind == "attention":
            found[block.signature][1] += (1 if piece.carries_values else 2) * piece.layers[0].options["heads"]
        else:
            found[block.signature][1] += 1
    return [(block, mult) for block, mult in found.values()]


def _head_pair(layer: Layer, offsets: dict[str, int], head: int, pair: str) -> np.ndarray:
    """The global indices of an attention pair block: `pair` ("QK" or "VO") of head `head`."""
    rows = layer.options["head_dim"] * layer.in_shape[2]
    return np.concatenate([offsets[f"{layer.name}.{t}"] + head * rows + np.arange(rows) for t in pair])


def global_of_local(block: DenseBlock, offsets: dict[str, int]) -> np.ndarray:
    """The global index of each of a segment block's local parameters."""
    out = np.zeros(block.fields.num_vars, dtype=np.int64)
    for tensor, start in block.local.items():
        out[start:start + block.sizes[tensor]] = offsets[tensor] + np.arange(block.sizes[tensor])
    return out


def blocks_with_variables(graph: Graph):
    """Every block of φ (no deduplication) as (program, global index of each local parameter)."""
    for block, glob in every_block(graph):
        yield block.fields.program, glob


def every_block(graph: Graph):
    """Every block of φ (no deduplication) as (DenseBlock, global index of each local parameter);
    an attention's pairs share one DenseBlock."""
    offsets = tensor_offsets(graph)
    for piece, block in _piece_blocks(graph, offsets):
        if piece.kind != "attention":
            yield block, global_of_local(block, offsets)
            continue
        for head in range(piece.layers[0].options["heads"]):
            for pair in ("QK",) if piece.carries_values else ("QK", "VO"):
                yield block, _head_pair(piece.layers[0], offsets, head, pair)
