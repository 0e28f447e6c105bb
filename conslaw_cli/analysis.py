"""The pipeline in one place: file -> spec -> graph -> φ -> engines -> result objects.

`count` runs on the layer graph and never expands φ; the expanded-φ machinery (law systems, block
laws, the expanded engine with its compiled kernels) is imported only by the functions that need
it, so that a count never pays for numba."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from typing import TYPE_CHECKING

from conslaw_cli.phi.compiler import DEFAULT_MAX_TERMS, Phi, compile_phi, piece_layout, pieces_rich, pieces_richness
from .errors import ConslawError, TooLarge
from .graph import GATED, NORMS, Graph, build_graph, walk_layers
from conslaw_cli.counting.graph.count import trace_graph
from conslaw_cli.counting.graph.network import Unsupported
from conslaw_cli.counting.lie import TraceResult
from .limits import DEFAULT_MAX_BLOCK, DEFAULT_MAX_SECONDS, DEFAULT_MAX_UNKNOWNS
from conslaw_cli.results.laws import Law, LawsResult
from conslaw_cli.results.count import CountResult
from .spec import ArchSpec, load_spec

if TYPE_CHECKING:
    from conslaw_cli.phi.blocks import PerBlockRow



@contextmanager
def located(graph: Graph):
    """Refusals of the engines (TooLarge) reported at the file's first layer, like bad input."""
    try:
        yield
    except TooLarge as exc:
        first = graph.layers[0]
        raise ConslawError(str(exc), graph.file, first.line, first.col, exc.hint) from None


Source = str | Path | ArchSpec  # an architecture file, or a spec already validated (the Python API's)


def source_file(source: Source) -> str:
    """The file name that results and messages give for `source` (a spec's own label)."""
    return source.file if isinstance(source, ArchSpec) else str(source)


def load_graph(source: Source) -> Graph:
    """Validate a file (or take a validated spec) and build its layer graph (raises ConslawError
    on bad input)."""
    return build_graph(source if isinstance(source, ArchSpec) else load_spec(source))


def load(source: Source, max_terms: int = DEFAULT_MAX_TERMS) -> tuple[Graph, Phi]:
    """Validate a file (or take a spec) and compile it (raises ConslawError on bad input or hopeless size)."""
    graph = load_graph(source)
    return graph, compile_phi(graph, max_terms)


def load_block(source: Source, block: str | None,
               max_terms: int = DEFAULT_MAX_TERMS) -> tuple[Graph, Phi, set[int], str]:
    """(graph, φ, parameters, name): with `block`, φ restricted to the parameters it names (laws of
    a subset of parameters, Marcotte et al. 2025, Prop 4.3; see phi/blocks.py) and the name says so."""
    from conslaw_cli.phi.blocks import resolve, restrict

    graph, phi = load(source, max_terms)
    if block is None:
        return graph, phi, set(range(graph.num_params)), graph.name
    variables = resolve(graph, block)
    return graph, restrict(phi, variables), variables, f"{graph.name} [{block}]"


SMALL_PHI_PARAMETERS = 2_000  # below this, φ is compiled to report its number of components


def _trace(graph: Graph, seed: int, progress=None, max_block: int = DEFAULT_MAX_BLOCK,
           max_terms: int = DEFAULT_MAX_TERMS, max_seconds: float = DEFAULT_MAX_SECONDS) -> tuple[TraceResult, str]:
    """The trace from the layer graph (graph engine), or from the expanded φ where the graph
    engine does not cover the network yet; with the name of the engine used."""
    try:
        return trace_graph(graph, seed=seed, progress=progress, max_block=max_block, max_seconds=max_seconds), "graph"
    except Unsupported:
        from conslaw_cli.counting.expanded_phi import flatten, trace_of_terms

        terms = flatten(compile_phi(graph, max_terms))
        return trace_of_terms(terms, seed=seed, progress=progress, max_block=max_block), "expanded φ"


SMALL_PHI_TERMS = 50_000


def small_phi(graph: Graph) -> bool:
    """Whether φ is small enough to expand only to show it (its number of components): counting
    never needs φ expanded, and the term estimate itself walks every unit, so large networks are
    told apart by their parameters first."""
    from conslaw_cli.phi.compiler import estimate_terms

    return graph.num_params <= SMALL_PHI_PARAMETERS and estimate_terms(graph) <= SMALL_PHI_TERMS


def _component_count(graph: Graph, max_terms: int) -> int | None:
    """Number of components of φ, for small networks only."""
    return len(compile_phi(graph, max_terms).components) if small_phi(graph) else None


def count(source: Source, seed: int = 0, max_terms: int = DEFAULT_MAX_TERMS, progress=None,
          block: str | None = None, max_block: int = DEFAULT_MAX_BLOCK,
          max_seconds: float = DEFAULT_MAX_SECONDS) -> CountResult:
    """Number of independent conservation laws of φ (of g when φ is rich); with `block`, of the
    laws that depend only on those parameters."""
    start = time.perf_counter()
    if block is not None:
        from conslaw_cli.counting.expanded_phi import flatten, trace_of_terms

        graph, phi, variables, name = load_block(source, block, max_terms)
        parameters, components, engine = len(variables), len(phi.components), "expanded φ"
        exact, richness = phi.rich, phi.richness
        terms = flatten(phi) if phi.components else None
        del phi  # the engine needs only the arrays: free the polynomials (most of the memory) first
        with located(graph):
            trace = trace_of_terms(terms, seed=seed, progress=progress, max_block=max_block)
        upper = None  # block laws: the certificate bounds the whole network's count only
    else:
        graph = load_graph(source)
        name, parameters = graph.name, graph.num_params
        pieces = [piece.describe() for piece in piece_layout(graph.layers)]
        exact, richness = pieces_rich(pieces), pieces_richness(pieces)
        with located(graph):
            trace, engine = _trace(graph, seed, progress, max_block, max_terms, max_seconds)
            components = _component_count(graph, max_terms)
        upper = None
    phi_laws, laws, family_error = parameters - trace.dimension, parameters - trace.dimension, 0.0
    certificate_seconds, certificate_bytes, beyond_phi = 0.0, 0, ""
    if block is None and not exact:
        found = _network_family_bound(graph, seed)
        if found is not None and found[0] > phi_laws:
            laws, family_error = found
        elif added := _symmetry_laws_beyond_phi(graph, seed):
            laws, beyond_phi = phi_laws + added, symmetry_laws_text(graph)
        from conslaw_cli.counting.graph.upper_bound import planned_cost

        certificate_seconds, certificate_bytes = planned_cost(graph) or (0.0, 0)
        if progress and certificate_seconds:
            from conslaw_cli.counting.progress import ProgressEvent

            progress(ProgressEvent("the whole network: bounding the count from above with its own fields", 1, 1,
                                   parameters, remaining=certificate_seconds))
        upper = _upper_bound(graph, parameters - laws, seed, max_seconds - (time.perf_counter() - start))
    return CountResult(
        name=name, file=source_file(source), parameters=parameters,
        phi_components=components, blocks=trace.num_blocks, block_classes=trace.num_classes,
        trace_dims=trace.dims, laws=laws, exact=exact,
        richness=richness, seconds=time.perf_counter() - start, seed=seed, points=trace.points,
        error_bound=trace.error_bound + trace.check_error_bound + family_error, engine=engine,
        certified_blocks=trace.certified, check_error_bound=trace.check_error_bound + family_error,
        phi_laws=phi_laws if laws > phi_laws else None,
        estimate_seconds=trace.estimate.seconds + certificate_seconds if trace.estimate else None,
        estimate_bytes=max(trace.estimate.bytes, certificate_bytes) if trace.estimate else None,
        upper_bound=upper.laws if upper else None, upper_bound_note=upper.note if upper else "",
        beyond_phi=beyond_phi,
    )


def _network_checked_families(graph: Graph, seed: int):
    """(candidate families, their check against the network's own fields) for a piecewise
    polynomial network, else None (counting.graph.lawcheck.check_in_network)."""
    from conslaw_cli.counting.graph.lawcheck import check_in_network, network_program
    from conslaw_cli.lawfinding.families import candidate_families

    try:
        program = network_program(graph)
    except Unsupported:
        return None
    families = candidate_families(graph)
    return families, check_in_network(graph, [e for f in families for e in f.entries], seed, program)


def symmetry_laws_text(graph: Graph) -> str:
    """What the laws added to φ's by `_symmetry_laws_beyond_phi` are laws of, in words."""
    kinds = {layer.kind for layer in walk_layers(graph.layers)}
    sources = [what for what, present in (("normalization layers", kinds & set(NORMS)), ("gated units", GATED in kinds))
               if present]
    return f"φ and of the symmetries of its {' and '.join(sources)} (Noether's theorem)"



def _symmetry_laws_beyond_phi(graph: Graph, seed: int) -> int:
    """How many independent laws the families proved by a theorem (a normalization's invariances
    and a gated unit's rescalings, `lawfinding.families.normalization_families` and
    `gated_unit_families`) add to φ's, certainly
    (``counting.graph.lawcheck.rank_beyond_phi``); 0 when there are none or the graph engine does
    not cover φ."""
    from conslaw_cli.counting.graph.lawcheck import rank_beyond_phi
    from conslaw_cli.lawfinding.families import candidate_families  # built once per graph

    polys = [entry for family in candidate_families(graph, attention=False) if family.proved_by
             for entry in family.entries]
    if not polys:
        return 0
    try:
        return rank_beyond_phi(graph, polys, seed)
    except Unsupported:
        return 0


def _network_family_bound(graph: Graph, seed: int) -> tuple[int, float] | None:
    """(independent laws among the named families that pass the network's field check, the
    check's error bound): a lower bound on the laws that can exceed φ's when a family crosses
    φ's pieces (a ReLU stem's neurons rescaling the residual stream of the blocks after it)."""
    found = _network_checked_families(graph, seed)
    if found is None:
        return None
    families, checked = found
    return checked.rank_lower_bound(_passing(families, checked)[1]), checked.error_bound


def _passing(families: list, checked) -> tuple[list, list[int]]:
    """(the families whose laws all pass the check, the indices of their laws)."""
    kept, chosen, position = [], [], 0
    for family in families:
        indices = range(position, position + len(family.entries))
        position += len(family.entries)
        if family.entries and (family.proved_by or all(checked.passed[k] for k in indices)):
            kept.append(family)
            chosen.extend(indices)
    return kept, chosen


def _upper_bound(graph: Graph, phi_dimension: int, seed: int, seconds_left: float):
    """The network certificate (counting.graph.upper_bound) of a count that φ gives only as a lower
    bound: φ's dim Lie is the most the network's fields can reach."""
    from conslaw_cli.counting.graph.upper_bound import certify

    return certify(graph, phi_dimension, seed, max(0.0, seconds_left))


def _laws_upper_bound(graph: Graph, count: int, seed: int, given: CountResult | None) -> int | None:
    """The network certificate's bound for the verdict of `laws` (None: no certificate): the
    given count's, or computed here."""
    if given is not None:
        return given.upper_bound
    return _upper_bound(graph, graph.num_params - count, seed, DEFAULT_MAX_SECONDS).laws


def _given(count: int | CountResult | None) -> tuple[int | None, CountResult | None]:
    """(the count, the CountResult it came from when one was given: its certificate is reused)."""
    return (count.laws, count) if isinstance(count, CountResult) else (count, None)


def laws(source: Source, degree: int = 2, seed: int = 0, max_terms: int = DEFAULT_MAX_TERMS,
         count: int | CountResult | None = None, block: str | None = None,
         max_unknowns: int = DEFAULT_MAX_UNKNOWNS) -> LawsResult:
    """Polynomial laws of degree ≤ `degree`, named by family where possible, with a verdict
    against `count` (computed here when not given; a CountResult also gives its certificate);
    with `block`, the block laws."""
    if block is None and degree == 2:
        fast = family_laws(source, seed, count)
        if fast is not None:
            return fast
    count, given = _given(count)
    from conslaw_cli.counting.expanded_phi import trace_dimension  # the law system's machinery (numba kernels), only when needed
    from conslaw_cli.lawfinding.families import candidate_families
    from conslaw_cli.lawfinding.system import find_laws, functional_rank, name_with_families, select_generators
    graph, phi, block_vars, name = load_block(source, block, max_terms)
    with located(graph):
        if count is None and block is None:
            count = graph.num_params - _trace(graph, seed, max_terms=max_terms)[0].dimension
            count += _symmetry_laws_beyond_phi(graph, seed)
        elif count is None:
            count = len(block_vars) - trace_dimension(phi, seed=seed).dimension
        found = find_laws(phi, degree, max_unknowns)
    families = [f for f in candidate_families(graph) if all(v in block_vars for e in f.entries for m in e for v in m)]
    basis = [law for law in found if {v for m in law.poly for v in m} <= block_vars]
    if block is None:  # laws of the network's symmetries that φ's law system cannot see (its paths end there)
        basis += [law for law in _laws_of([f for f in families if f.proved_by]) if law.degree <= degree]
    generators, products = select_generators(basis, degree)
    shown, families, explained = name_with_families(generators, products, families,
                                                    [c.poly for c in phi.components], degree)
    return LawsResult(name=name, file=source_file(source), laws=shown, families=families, products=len(products),
                      independent=functional_rank(generators, len(phi.variables), seed), count=count,
                      degree=degree, explained_by_families=explained, variables=phi.variables, exact=phi.rich,
                      upper_bound=None if phi.rich or block is not None else _laws_upper_bound(graph, count, seed, given))


def family_laws(source: Source, seed: int = 0, count: int | CountResult | None = None,
                max_block: int = DEFAULT_MAX_BLOCK) -> LawsResult | None:
    """Degree-2 laws from the named families alone, when they are complete (issue of scale: no law
    system is built, φ is never expanded).

    Every candidate family (per-neuron and per-channel rescaling, Gram laws, attention Gram laws) is
    checked against the fields of φ at random points (``counting.graph.lawcheck``); a family that
    fails is dropped. When the rank of the passing laws' gradients equals the count, they are all
    the laws (Marcotte et al. 2023, Thm 3.3: every law is a function of D − dim Lie(V) independent
    ones), and the result is returned; otherwise None (the law system decides). When the count's
    sandwich certificates already checked every family and met, they are not checked again.
    The k degree-1 laws (a softmax head's column sums), independent since the rank check counts
    them, have k(k+1)/2 linearly independent products of degree 2, counted and not listed, as the
    law system does."""
    from conslaw_cli.phi.compiler import VariableTable
    from conslaw_cli.lawfinding.families import candidate_families

    count, given = _given(count)
    graph = load_graph(source)
    pieces = [piece.describe() for piece in piece_layout(graph.layers)]
    with located(graph):
        trace = None
        if count is None:
            trace = _trace(graph, seed, max_block=max_block)[0]
            count = graph.num_params - trace.dimension + _symmetry_laws_beyond_phi(graph, seed)
        families = candidate_families(graph)
        across = None if pieces_rich(pieces) else _network_checked_families(graph, seed)
        if across is not None:  # checked against the network itself: families across φ's pieces count
            count = max(count, across[1].rank_lower_bound(_passing(*across)[1]))
            found = _if_complete(*across, count)
        elif trace is not None and trace.families_proved:  # the count's certificates checked them all
            kept = [f for f in families if f.entries]
            found = kept, _laws_of(kept), trace.check_error_bound
        else:
            found = _families_by_check(graph, families, seed, count)
    if found is None or len(found[1]) != count:
        return None
    kept, laws, error_bound = found
    linear = sum(1 for law in laws if law.degree == 1)
    return LawsResult(name=graph.name, file=source_file(source), laws=laws, families=[(f, len(f.entries)) for f in kept],
                      products=linear * (linear + 1) // 2, independent=count, count=count, degree=2, explained_by_families=True,
                      variables=VariableTable(graph).names, check_error_bound=error_bound,
                      exact=pieces_rich(pieces), upper_bound=None if pieces_rich(pieces) else _laws_upper_bound(graph, count, seed, given),
                      checked_against="φ" if across is None else "the network")


def _laws_of(families: list) -> list[Law]:
    """The laws of named families, each with its degree (a column sum has degree 1)."""
    return [Law(e, max(len(m) for m in e), f.name) for f in families for e in f.entries]


def _families_by_check(graph: Graph, families: list, seed: int, count: int):
    """(the families whose laws all pass the field check, their laws, the check's error bound), or
    None when the rank of these laws is not the count (or the graph engine does not cover φ)."""
    from conslaw_cli.counting.graph.lawcheck import check_laws

    try:
        checked = check_laws(graph, [e for f in families for e in f.entries], seed)
    except Unsupported:  # the fields come from the expanded φ: the law system decides
        return None
    return _if_complete(families, checked, count)


def _if_complete(families: list, checked, count: int):
    kept, chosen = _passing(families, checked)
    if checked.rank_lower_bound(chosen) != count:
        return None
    return kept, _laws_of(kept), checked.error_bound


def per_block(source: Source, seed: int = 0, max_terms: int = DEFAULT_MAX_TERMS) -> tuple[str, list[PerBlockRow], int]:
    """(name, block laws of every residual block and layer, total count) — `count --per-block`."""
    from conslaw_cli.phi.blocks import per_block as per_block_rows

    graph, phi = load(source, max_terms)
    with located(graph):
        total = graph.num_params - _trace(graph, seed, max_terms=max_terms)[0].dimension
        return graph.name, per_block_rows(graph, phi, seed), total
