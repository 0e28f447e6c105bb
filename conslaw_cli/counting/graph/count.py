"""The count from the layer graph: pieces → blocks → dimension of Lie(V)(θ), mod p, at two points.

Blocks (Marcotte, Gribonval, Peyré 2025, App. G): pieces of φ use disjoint parameters, so their
fields commute and the trace dimensions add up; a path-lifting piece is cut further at smooth
activations (which end paths), and attention splits into (Q_h, K_h) and (V_h, O_h) per head,
all identical up to renaming. Blocks with the same structure are computed once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from conslaw_cli.counting import gf, lie
from conslaw_cli.phi.compiler import merges_tokens, piece_layout
from conslaw_cli.errors import TooLarge
from conslaw_cli.graph import HOMOGENEOUS, SMOOTH, Graph, Layer
from .certificate import Certificate, certify, single_path_layers
from .estimate import MAX_BYTES, Cost, certificate_cost, dense_cost, edges, linear_chain
from .fields import GraphFields
from .network import Affine, Dense, Program, Unsupported, build_program

from conslaw_cli.limits import DEFAULT_MAX_BLOCK  # noqa: E402


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


def tensor_offsets(graph: Graph) -> dict[str, int]:
    """First variable index of every parameter tensor (the variable table's order, no names)."""
    offsets, total = {}, 0
    for name, shape in graph.parameter_tensors():
        offsets[name] = total
        total += math.prod(shape)
    return offsets


def _structure(layers: list[Layer]) -> tuple:
    """What makes two segments the same up to renaming parameters."""
    return tuple((l.kind, l.in_shape, l.out_shape, tuple(sorted((k, str(v)) for k, v in l.options.items()
                                                                 if k != "name")),
                  tuple(sorted(l.params.items())), _structure(l.body)) for l in layers)


def _segments(layers: list[Layer]) -> list[list[Layer]]:
    """A path-lifting piece cut at its smooth activations (each ends the paths through it)."""
    out, run = [], []
    for layer in layers:
        if layer.kind in SMOOTH:
            out.append(run)
            run = []
        elif any(inner.kind in SMOOTH for inner in _walk(layer.body)):
            raise Unsupported("smooth activation inside an inline residual block")
        else:
            run.append(layer)
    out.append(run)
    return [seg for seg in out if any(l.params or l.body for l in seg)]


def _walk(layers: list[Layer]):
    for layer in layers:
        yield layer
        yield from _walk(layer.body)


def _segment_block(layers: list[Layer], offsets: dict[str, int], values_from: Layer | None = None) -> DenseBlock:
    """The dense block of one segment, its parameters numbered from 0 (with `values_from`, the
    attention's V and O first: the segment's paths start at its values)."""
    local, sizes, size = {}, {}, 0
    tensors = [(f"{values_from.name}.{t}", values_from.params[t]) for t in "VO"] if values_from else []
    tensors += [(f"{layer.name}.{p}", shape) for layer in _walk(layers) for p, shape in layer.params.items()]
    for tensor, shape in tensors:
        local[tensor], sizes[tensor] = size, math.prod(shape)
        size += sizes[tensor]
    program = build_program(layers, local, size, values_from)
    affine = [op for op in _ops(program.ops) if isinstance(op, Affine)]
    homogeneous = any(l.kind in HOMOGENEOUS for l in _walk(layers))
    chains = size if homogeneous else min(size, (program.sources + program.has_constant) * program.sinks)
    edges = sum(op.edges.uses for op in affine)
    signature = ("segment", _structure(layers), _structure([values_from]) if values_from else None)
    return DenseBlock(signature, GraphFields(program, len(affine), chains, edges), layers, local, sizes, values_from)


def _ops(ops):
    for op in ops:
        yield op
        yield from _ops(getattr(op, "body", []))


def _attention_block(layer: Layer) -> DenseBlock:
    """(Q_h, K_h) of one head as the chain v ↦ Q_hᵀ(K_h v): φ = entries of Q_hᵀK_h; (V_h, O_h)
    is the same block up to renaming (Marcotte et al. 2025, Thm 3.8)."""
    head_dim, dim = layer.options["head_dim"], layer.in_shape[2]
    entries = head_dim * dim
    into_head = Dense(entries, head_dim, dim)  # K_h[a, i] after Q_h's entries
    out_of_head = Dense(0, dim, head_dim, transposed=True)  # Q_hᵀ: Q_h[a, j] at a·dim + j
    program = Program([Affine(into_head), Affine(out_of_head)], dim, dim, 2 * entries)
    program.num_gains = 2 * dim + 1
    return DenseBlock(("attention pair", head_dim, dim), GraphFields(program, 2, dim * dim, 2 * entries))


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


def blocks_of(graph: Graph) -> list[tuple[DenseBlock, int]]:
    """Distinct blocks with their multiplicities (raises Unsupported for what this engine lacks)."""
    offsets = tensor_offsets(graph)
    found: dict[tuple, list] = {}
    for piece in covered_pieces(graph):
        if piece.kind == "attention":
            layer = piece.layers[0]
            block = _attention_block(layer)
            if block.signature not in found:  # its parameters: Q and K of head 0
                rows = layer.options["head_dim"] * layer.in_shape[2]
                block.global_of_local = np.concatenate([offsets[f"{layer.name}.{t}"] + np.arange(rows) for t in "QK"])
            entry = found.setdefault(block.signature, [block, 0])
            entry[1] += (1 if piece.carries_values else 2) * layer.options["heads"]
            continue
        for k, segment in enumerate(_segments(piece.layers)):
            block = _segment_block(segment, offsets, piece.values_from if k == 0 else None)
            if block.signature not in found:
                block.global_of_local = _global_of_local(block, offsets)
                found[block.signature] = [block, 0]
            found[block.signature][1] += 1
    return [(block, mult) for block, mult in found.values()]


def _global_of_local(block: DenseBlock, offsets: dict[str, int]) -> np.ndarray:
    out = np.zeros(block.fields.num_vars, dtype=np.int64)
    for tensor, start in block.local.items():
        out[start:start + block.sizes[tensor]] = offsets[tensor] + np.arange(block.sizes[tensor])
    return out


def _ceilings(graph: Graph, dense, seed: int) -> dict[tuple, tuple[int, float]]:
    """For every dense block: n minus the rank of the family laws that live in the block and pass
    the field check (an upper bound on dim Lie(V)), with the check's error bound. A trace that
    reaches its ceiling is proved at one point, without the probe of the next bracket level: on
    the zoo this makes counts 2–10× faster than two full traces (deep linear 8^6: 0.3 → 0.12 s)."""
    if not dense:
        return {}
    from conslaw_cli.lawfinding.families import candidate_families
    from .lawcheck import check_in_blocks

    owner = [-1] * graph.num_params  # the dense block of each parameter (classes share none)
    for k, (block, _) in enumerate(dense):
        for v in block.global_of_local.tolist():
            owner[v] = k
    laws_of: list[list[int]] = [[] for _ in dense]
    polys = []
    for entry in (e for f in candidate_families(graph) for e in f.entries):
        blocks = {owner[v] for m in entry for v in m}
        if len(blocks) == 1 and (k := blocks.pop()) >= 0:  # a law living in one dense block
            laws_of[k].append(len(polys))
            polys.append(entry)
    if not polys:
        return {}
    checked = check_in_blocks([(b.fields.program, b.global_of_local) for b, _ in dense], polys, graph.num_params, seed)
    per_law = checked.error_bound / len(polys)
    out = {}
    for k, (block, _) in enumerate(dense):
        passing = [i for i in laws_of[k] if checked.passed[i]]
        if passing:
            out[block.signature] = (block.fields.num_vars - checked.rank_lower_bound(passing), per_law * len(laws_of[k]))
    return out


def _certificates(graph: Graph, classes, seed: int) -> dict[tuple, Certificate]:
    """Sandwich certificates of the single-path segments whose bounds meet (any size: peeling and
    the family check cost less than one dense trace, ReLU 4-5-3: 1.5 ms against 17 ms)."""
    single = [b for b, _ in classes if b.layers is not None and b.values_from is None
              and single_path_layers(b.layers)]
    if not single:
        return {}
    from conslaw_cli.lawfinding.families import candidate_families  # parameter names: only where there is a segment

    families = candidate_families(graph)
    out = {}
    for block in single:
        rng = gf.Residues(seed, 7)
        cert = certify(block.fields.program, block.layers, block.local, block.global_of_local,
                       families, rng, block.fields.degree)
        if cert.exact:
            out[block.signature] = cert
    return out


def _parameters(layers: list[Layer]) -> int:
    return sum(l.own_params for l in _walk(layers))


def refuse_hopeless(graph: Graph, max_block: int) -> Cost:
    """Estimate the work from the layer shapes (O(layers), nothing of size D allocated) and raise
    TooLarge when it is hopeless; returns the estimate."""
    total, seen = Cost(0.0, 0), set()
    for piece in piece_layout(graph.layers):
        segments = [piece.layers] if piece.kind == "attention" else _segments(piece.layers)
        for k, segment in enumerate(segments):
            if _structure(segment) in seen:  # computed once (see blocks_of)
                continue
            seen.add(_structure(segment))
            n = _parameters(segment) // (2 * segment[0].options["heads"]) if piece.kind == "attention" \
                else _parameters(segment)
            if piece.kind != "attention" and single_path_layers(segment) and not (k == 0 and piece.values_from):
                # certified (see trace_graph; a segment fed by an attention's values is not)
                cost = certificate_cost(segment)
                if cost.bytes > MAX_BYTES:
                    raise TooLarge(f"counting this network needs {cost.text()} for {edges(segment):,} weight uses "
                                   f"(limit {MAX_BYTES / 2**30:.0f} GB)", "try smaller widths")
            elif n > max_block:
                raise TooLarge(f"a block of {n:,} coupled parameters needs exact ranks of matrices up to "
                               f"{n:,} x {n:,} mod p: about {lie.RANK_SECONDS_PER_CUBE * n ** 3:,.0f} s "
                               f"and {2 * 8 * n ** 2 / 2**30:,.1f} GB (limit {max_block:,} parameters per block)",
                               "raise the limit with --max-block N if you really mean it")
            else:
                cost = dense_cost(n, edges(segment), len(segment), linear_chain(segment))
            total = Cost(total.seconds + cost.seconds, max(total.bytes, cost.bytes))  # blocks run one by one
    return total


def trace_graph(graph: Graph, seed: int = 0, points: int = 2, progress=None,
                max_block: int = DEFAULT_MAX_BLOCK) -> lie.TraceResult:
    """dim Lie(span ∇φ_i)(θ) from the graph. Blocks certified by sandwich bounds, or whose trace
    reaches the ceiling set by checked family laws, are proved once (their error is the family
    check's, counted once); the others are traced at `points` independent random points, which
    must agree (their error bound is per point)."""
    estimate = refuse_hopeless(graph, max_block)
    classes = blocks_of(graph)
    if not classes:
        return lie.TraceResult([0], 0, 0, 0.0, points, [[0]] * points, estimate=estimate)
    certified = _certificates(graph, classes, seed)
    dense = [(b, m) for b, m in classes if b.signature not in certified]
    largest = max((block.fields.num_vars for block, _ in dense), default=0)
    if largest > max_block:  # a large single-path segment whose certificate bounds did not meet
        raise TooLarge(f"a block of {largest:,} coupled parameters was not certified and needs exact ranks of "
                       f"{largest:,} x {largest:,} matrices mod p (limit {max_block:,} parameters per block)",
                       "raise the limit with --max-block N if you really mean it")
    fixed = [(lie.BlockTrace([c.peeled_rank], c.error_bound, certified=True), m) for b, m in classes
             if (c := certified.get(b.signature))]
    ceilings = _ceilings(graph, dense, seed)
    proved: dict[tuple, lie.BlockTrace] = {}
    results, bound = [], 0.0
    for point in range(points):
        rng = gf.Residues(seed, point)
        traces = list(fixed)
        for block, mult in dense:
            if block.signature in proved:  # proved at the first point: another would repeat it
                traces.append((proved[block.signature], mult))
                continue
            ceiling, check_bound = ceilings.get(block.signature, (None, 0.0))
            trace = lie.block_trace(block.fields, rng, progress, ceiling)
            if trace.certified:
                trace.error_bound = check_bound
                proved[block.signature] = trace
            traces.append((trace, mult))
        results.append(lie.summed(traces))
        bound = max(bound, sum(t.error_bound for t, _ in traces if not t.certified))
    if any(r[-1] != results[0][-1] for r in results):
        raise lie.EngineDisagreement(f"the random points disagree: trace dimensions {results}; "
                                     "rerun with another --seed and report this")
    once = [t for t, _ in fixed] + list(proved.values())
    return lie.TraceResult(results[0], sum(m for _, m in classes), len(classes), bound, points, results,
                           certified=sum(m for b, m in classes if b.signature in certified or b.signature in proved),
                           estimate=estimate, check_error_bound=sum(t.error_bound for t in once),
                           families_proved=_families_proved(graph, classes, certified))


def _families_proved(graph: Graph, classes, certified: dict[tuple, Certificate]) -> bool:
    """Were all the candidate families checked by the certificates, which all meet? (Blocks share
    no parameter, so a family lies in one block at most: the certificates' counts add up.)"""
    if not all(b.signature in certified and m == 1 for b, m in classes):
        return False
    from conslaw_cli.lawfinding.families import candidate_families  # built for the certificates already

    return sum(c.families for c in certified.values()) == len(candidate_families(graph))
