"""The pipeline in one place: file -> spec -> graph -> φ -> engines -> result objects."""

from __future__ import annotations

import time
from pathlib import Path

from .compiler import DEFAULT_MAX_TERMS, Phi, compile_phi
from .engine import trace_dimension
from .families import candidate_families
from .graph import Graph, build_graph
from .laws import LawsResult, find_laws, functional_rank, name_with_families, select_generators
from .results import CountResult
from .spec import load_spec


def load_graph(path: str | Path) -> Graph:
    """Validate a file and build its layer graph (raises ConslawError on bad input)."""
    return build_graph(load_spec(path))


def load(path: str | Path, max_terms: int = DEFAULT_MAX_TERMS) -> tuple[Graph, Phi]:
    """Validate a file and compile it (raises ConslawError on bad input or hopeless size)."""
    graph = load_graph(path)
    return graph, compile_phi(graph, max_terms)


def count(path: str | Path, seed: int = 0, max_terms: int = DEFAULT_MAX_TERMS, progress=None) -> CountResult:
    """Number of independent conservation laws of φ (of g when φ is rich)."""
    start = time.perf_counter()
    graph, phi = load(path, max_terms)
    trace = trace_dimension(phi, seed=seed, progress=progress)
    return CountResult(
        name=graph.name, file=str(path), parameters=graph.num_params,
        phi_components=len(phi.components), blocks=trace.num_blocks, block_classes=trace.num_classes,
        trace_dims=trace.dims, laws=graph.num_params - trace.dimension, exact=phi.rich,
        richness=phi.richness, seconds=time.perf_counter() - start, seed=seed, points=trace.points,
        error_bound=trace.error_bound,
    )


def laws(path: str | Path, degree: int = 2, seed: int = 0, max_terms: int = DEFAULT_MAX_TERMS,
         count: int | None = None) -> LawsResult:
    """Polynomial laws of degree ≤ `degree`, named by family where possible, with a verdict
    against `count` (computed here when not given)."""
    graph, phi = load(path, max_terms)
    if count is None:
        count = graph.num_params - trace_dimension(phi, seed=seed).dimension
    basis = find_laws(phi, degree)
    generators, products = select_generators(basis, degree)
    shown, families, explained = name_with_families(generators, products, candidate_families(graph),
                                                    [c.poly for c in phi.components], degree)
    return LawsResult(name=graph.name, file=str(path), laws=shown, families=families, products=len(products),
                      independent=functional_rank(generators, len(phi.variables), seed), count=count,
                      degree=degree, explained_by_families=explained, variables=phi.variables)
