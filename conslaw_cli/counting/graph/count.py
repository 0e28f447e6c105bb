"""The count from the layer graph: blocks (``blocks``) → dimension of Lie(V)(θ), mod p.

Blocks use disjoint parameters, so their fields commute and the trace dimensions add up
(Marcotte, Gribonval, Peyré 2025, App. G); blocks with the same structure are computed once.
Each block is certified by sandwich bounds (``certificate``), known by a theorem (an attention
pair: a two-layer linear network), proved when its trace reaches the ceiling set by checked
family laws (``lawcheck``), or traced at two independent points.
Receives a Graph, returns a lie.TraceResult.
"""

from __future__ import annotations

from conslaw_cli.counting import gf, lie
from conslaw_cli.errors import TooLarge
from conslaw_cli.graph import Graph
from conslaw_cli.limits import DEFAULT_MAX_BLOCK, DEFAULT_MAX_SECONDS, MAX_BYTES
from conslaw_cli.phi.compiler import piece_layout
from conslaw_cli.counting.progress import Progress, Task, Tracker, tracing
from .blocks import DenseBlock, blocks_of, segments, structure
from .certificate import Certificate, certify, single_path_layers
from .estimate import BASE_BYTES, Cost, block_cost, certificate_cost, dense_segment_cost, edges
from .lawcheck import check_in_blocks
from .sum_zero import linear_twin


def _ceilings(graph: Graph, dense, seed: int) -> dict[tuple, tuple[int, float]]:
    """For every dense block: n minus the rank of the family laws that live in the block and pass
    the field check (an upper bound on dim Lie(V)), with the check's error bound. A trace that
    reaches its ceiling is proved at one point, without the probe of the next bracket level: on
    the zoo this makes counts 2–10× faster than two full traces (deep linear 8^6: 0.3 → 0.12 s)."""
    if not dense:
        return {}
    from conslaw_cli.lawfinding.families import phi_families

    owner = [-1] * graph.num_params  # the dense block of each parameter (classes share none)
    for k, (block, _) in enumerate(dense):
        for v in block.global_of_local.tolist():
            owner[v] = k
    laws_of: list[list[int]] = [[] for _ in dense]
    polys = []
    for entry in (e for f in phi_families(graph, attention=False) for e in f.entries):
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


def _certifiable(block: DenseBlock) -> bool:
    return block.layers is not None and block.values_from is None and single_path_layers(block.layers)


def _certificates(graph: Graph, classes, seed: int, tracker: Tracker) -> dict[tuple, Certificate]:
    """Sandwich certificates of the single-path segments whose bounds meet (any size: peeling and
    the family check cost less than one dense trace, ReLU 4-5-3: 1.5 ms against 17 ms)."""
    single = [(k, b) for k, (b, _) in enumerate(classes) if _certifiable(b)]
    if not single:
        return {}
    from conslaw_cli.lawfinding.families import phi_families  # parameter names: only where there is a segment

    families = phi_families(graph, attention=False)  # a family inside a segment is never an attention's
    out = {}
    for k, block in single:
        tracker.begin(k, "certifying")
        rng = gf.Residues(seed, 7)
        cert = certify(block.fields.program, block.layers, block.local, block.global_of_local,
                       families, rng, block.fields.degree)
        if cert.exact:
            out[block.signature] = cert
    return out


def refuse_hopeless(graph: Graph, max_block: int, max_seconds: float = DEFAULT_MAX_SECONDS) -> Cost:
    """Estimate the work from the layer shapes (O(layers), nothing of size D allocated) and raise
    TooLarge when it is hopeless or would take more than `max_seconds`; returns the estimate."""
    total, seen = Cost(0.0, BASE_BYTES), set()  # the process itself, even when every block is a theorem's
    for piece in piece_layout(graph.layers):
        parts = [piece.layers] if piece.kind == "attention" else segments(piece.layers)
        for k, segment in enumerate(parts):
            if structure(segment) in seen:  # computed once (see blocks_of)
                continue
            seen.add(structure(segment))
            if piece.kind == "attention":  # its pairs' dimension is a theorem's (blocks.attention_block)
                continue
            n = sum(l.num_params for l in segment)
            if single_path_layers(segment) and not (k == 0 and piece.values_from):
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
                cost = dense_segment_cost(segment, n)
            total = Cost(total.seconds + cost.seconds, max(total.bytes, cost.bytes))  # blocks run one by one
    if total.seconds > max_seconds:
        raise TooLarge(f"counting this network would take {total.text()} (estimated from the layer shapes; "
                       f"the budget is {max_seconds:,g} s)", "raise the limit with --max-seconds N if you can wait")
    return total


def trace_graph(graph: Graph, seed: int = 0, points: int = 2, progress: Progress | None = None,
                max_block: int = DEFAULT_MAX_BLOCK, max_seconds: float = DEFAULT_MAX_SECONDS) -> lie.TraceResult:
    """dim Lie(span ∇φ_i)(θ) from the graph. Blocks certified by sandwich bounds, or whose trace
    reaches the ceiling set by checked family laws, are proved once (their error is the family
    check's, counted once); the others are traced at `points` independent random points, which
    must agree (their error bound is per point). A softmax head is counted as its linear twin
    with one class fewer (``sum_zero``: the same dim Lie(V))."""
    given, graph = graph, linear_twin(graph)
    estimate = refuse_hopeless(graph, max_block, max_seconds)
    classes = blocks_of(graph)
    if not classes:
        return lie.TraceResult([0], 0, 0, 0.0, points, [[0]] * points, estimate=estimate)
    tracker = Tracker(progress, [block.fields.num_vars for block, _ in classes])
    tracker.expect(_plan(classes, points, _certifiable))
    certified = _certificates(graph, classes, seed, tracker)
    tracker.expect(_plan(classes, points, lambda block: block.signature in certified))
    known = [(lie.BlockTrace([b.theorem_dimension], 0.0, certified=True), m) for b, m in classes
             if b.theorem_dimension is not None]
    dense = [(b, m) for b, m in classes if b.signature not in certified and b.theorem_dimension is None]
    largest = max((block.fields.num_vars for block, _ in dense), default=0)
    if largest > max_block:  # a large single-path segment whose certificate bounds did not meet
        raise TooLarge(f"a block of {largest:,} coupled parameters was not certified and needs exact ranks of "
                       f"{largest:,} x {largest:,} matrices mod p (limit {max_block:,} parameters per block)",
                       "raise the limit with --max-block N if you really mean it")
    fixed = known + [(lie.BlockTrace([c.peeled_rank], c.error_bound, certified=True), m) for b, m in classes
                     if (c := certified.get(b.signature))]
    index = {block.signature: k for k, (block, _) in enumerate(classes)}
    if dense:
        tracker.begin(index[dense[0][0].signature], "checking the family laws of the blocks to trace")
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
            tracker.begin(index[block.signature], tracing(point, points))
            trace = lie.block_trace(block.fields, rng, tracker.step, ceiling)
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
                           certified=sum(m for b, m in classes if b.signature in certified or b.signature in proved
                                         or b.theorem_dimension is not None),
                           estimate=estimate, check_error_bound=sum(t.error_bound for t in once),
                           families_proved=graph is given and _families_proved(graph, classes, certified))


def _plan(classes, points: int, certified) -> list[Task]:
    """The tasks still to come, in the order trace_graph runs them, with the estimated seconds of
    each (estimate.py): the certificates of the blocks for which `certified(block)`, then a trace
    of every other block at each point."""
    costs = [block_cost(block, certified(block)).seconds for block, _ in classes]
    first = [Task(k, "certifying", costs[k]) for k, (block, _) in enumerate(classes) if certified(block)]
    traces = [Task(k, tracing(point, points), costs[k] / points) for point in range(points)
              for k, (block, _) in enumerate(classes) if not certified(block) and block.theorem_dimension is None]
    return first + traces


def _families_proved(graph: Graph, classes, certified: dict[tuple, Certificate]) -> bool:
    """Were all the candidate families checked by the certificates, which all meet? (Blocks share
    no parameter, so a family lies in one block at most: the certificates' counts add up.)"""
    if not all(b.signature in certified and m == 1 for b, m in classes):
        return False
    from conslaw_cli.lawfinding.families import phi_families  # built for the certificates already

    return sum(c.families for c in certified.values()) == len(phi_families(graph))
