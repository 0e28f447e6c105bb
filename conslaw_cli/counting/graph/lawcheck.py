"""Candidate laws checked against the fields of φ, from the layer graph (φ is never expanded).

h is a law of φ iff ∇h(θ) · ∇(α·φ)(θ) = 0 for all θ and α (Marcotte, Gribonval, Peyré 2023,
§2.4). With rank-one α (the gains of the gated network, see ``network``), this is a polynomial in
θ and the gains; it is evaluated at a random point mod p for every block of φ. A nonzero
polynomial of degree δ vanishes there with probability ≤ δ/p (Schwartz–Zippel), so a law that
passes is a law except with that probability, and one that fails is certainly not a law.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conslaw_cli.counting import gf
from conslaw_cli.graph import Graph
from . import arith
from .blocks import blocks_with_variables, every_block, tensor_offsets
from .certificate import path_gradients, path_plan, segment_paths, sparse_rank_lower_bound
from .network import Program, build_program, gradient, output_degree


@dataclass
class Checked:
    """The field check of candidate laws: which passed, the probability that a non-law passed,
    and each candidate's gradient at the check's point θ (no zero entry), from which the rank of
    the passing laws is read without a second evaluation."""

    passed: list[bool]
    error_bound: float
    gradients: list[dict[int, int]]
    num_params: int

    def rank_lower_bound(self, chosen: list[int] | None = None) -> int:
        """A lower bound on the number of functionally independent laws among the passing ones
        (or among `chosen` indices): the rank of their gradients at θ, with certainty (a rank at
        one point is at most the generic rank)."""
        chosen = [k for k, ok in enumerate(self.passed) if ok] if chosen is None else chosen
        return sparse_rank_lower_bound([self.gradients[k] for k in chosen], self.num_params)


def check_laws(graph: Graph, polys: list[dict], seed: int = 0, samples: int = 2) -> Checked:
    """Whether each polynomial passes the field check of every block (see the module's text)."""
    return check_in_blocks(list(blocks_with_variables(graph)), polys, graph.num_params, seed, samples)


def network_program(graph: Graph) -> Program:
    """The whole network as one gated network (raises Unsupported for layers it cannot express)."""
    return build_program(graph.layers, tensor_offsets(graph), graph.num_params)


def check_in_network(graph: Graph, polys: list[dict], seed: int = 0, program: Program | None = None) -> Checked:
    """`check_laws` against the fields of the whole network as one gated network, for a network of
    linear, conv, softmax-head, ReLU-like, power, pooling and residual layers (else Unsupported): the rank-one
    gains then stand for its inputs, its activation patterns and its output weights at once, so a
    polynomial that passes is a law of the network on every activation region (except with the
    Schwartz–Zippel probability), also where it mixes parameters of several pieces of φ."""
    program = program or network_program(graph)
    return check_in_blocks([(program, np.arange(graph.num_params))], polys, graph.num_params, seed)


def rank_beyond_phi(graph: Graph, polys: list[dict], seed: int = 0) -> int:
    """A lower bound r on how many independent laws the laws `polys` of the network add to φ's:
    the rank of their pairing ⟨∇h_k(θ), X⟩ with vectors X of φ's V_0(θ) at a random point, mod p.

    Why: the network's fields lie in Lie(φ)(θ) (they are combinations of φ's) and are orthogonal to
    every ∇h_k, so dim Lie(network)(θ) ≤ dim Lie(φ)(θ) − r with r the rank of the ∇h_k restricted
    to Lie(φ)(θ) ⊇ V_0(θ): laws ≥ φ's laws + r. The rank of integer polynomial entries at one
    point mod p is at most their generic rank (a nonzero minor mod p is a nonzero polynomial), so
    r is certain, and any vectors of V_0(θ) will do; their choice only decides whether r is tight.
    They are chosen sparse where φ's components are (`_pairing`), so the pairing costs what the
    laws' supports cost, not (laws × parameters)."""
    rng = gf.Residues(seed, 13)
    theta = rng.nonzero(graph.num_params)
    theta_list = theta.tolist()
    gradients = [gf.poly_gradient(poly, theta_list) for poly in polys]
    rows: list[dict[int, int]] = [{} for _ in polys]
    columns = 0
    for block, glob in every_block(graph):
        local = {int(g): k for k, g in enumerate(glob)}
        touching = [k for k, grad in enumerate(gradients) if any(v in local for v in grad)]
        if not touching:
            continue
        laws = [{local[v]: c for v, c in gradients[k].items() if v in local} for k in touching]
        pairing, width = _pairing(block, theta[glob], laws, rng)
        for k, row in zip(touching, pairing):
            rows[k].update({columns + c: value for c, value in row.items() if value})
        columns += width
    return sparse_rank_lower_bound([row for row in rows if row], columns)


def _pairing(block, theta: np.ndarray, laws: list[dict[int, int]], rng) -> tuple[list[dict[int, int]], int]:
    """⟨∇h, X_c⟩ for each law gradient ∇h (local {parameter: value}) and vectors X_c of the block's
    V_0(θ): (per law {c: value}, number of vectors). A single-path segment: the gradients of its
    candidate path components (one entry per layer, ``certificate.segment_paths``); an attention
    pair Q_hᵀK_h: the gradients of its diagonal entries Σ_a Q_h[a,i] K_h[a,i]; any other block
    (small: dense traces): random fields ∇(α·φ) of its gated network."""
    if block.layers is None:
        return _pair_diagonal_pairing(block, theta, laws)
    if block.values_from is None and path_plan(block.layers) is not None:
        return _path_pairing(segment_paths(block.layers, block.local), theta, laws)
    program = block.fields.program
    fields = gradient(program, theta[None, None, :], rng.residues((len(laws) + 4, program.num_gains)))[:, 0, :]
    pairing = []
    for law in laws:
        idx = np.fromiter(law, dtype=np.int64, count=len(law))
        values = np.fromiter(law.values(), dtype=np.uint64, count=len(law))
        dots = arith.sum_mod(arith.mul(fields[:, idx], values[None, :]), 1)
        pairing.append({c: int(v) for c, v in enumerate(dots.tolist()) if v})
    return pairing, fields.shape[0]


def _path_pairing(paths: np.ndarray, theta: np.ndarray, laws: list[dict[int, int]]) -> tuple[list[dict[int, int]], int]:
    """Pairings with path components: Σ over the path's parameters w of ∂h/∂w · ∂φ_c/∂w."""
    partials = path_gradients(paths, theta)
    flat = paths.reshape(-1)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    pairing = []
    for law in laws:
        params = np.fromiter(law, dtype=np.int64, count=len(law))
        lo, hi = np.searchsorted(ordered, params, "left"), np.searchsorted(ordered, params, "right")
        counts = hi - lo
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
        entries = order[starts]  # flat positions (path, layer) holding the law's parameters
        values = np.repeat(np.fromiter(law.values(), dtype=np.uint64, count=len(law)), counts)
        products = arith.mul(values, partials.reshape(-1)[entries])
        row: dict[int, int] = {}
        for c, value in zip((entries // paths.shape[1]).tolist(), products.tolist()):
            row[c] = (row.get(c, 0) + value) % gf.PRIME
        pairing.append(row)
    return pairing, len(paths)


def _pair_diagonal_pairing(block, theta: np.ndarray, laws: list[dict[int, int]]) -> tuple[list[dict[int, int]], int]:
    """Pairings with the diagonal components Σ_a Q_h[a,i] K_h[a,i] of an attention pair (local
    layout of ``blocks.attention_block``: Q_h[a,i] at a·dim + i, K_h[a,i] after all of Q_h)."""
    dim = block.signature[2]
    entries = len(theta) // 2
    pairing = []
    for law in laws:
        row: dict[int, int] = {}
        for p, value in law.items():
            partner = p + entries if p < entries else p - entries  # ∂φ_ii/∂Q_h[a,i] = K_h[a,i], and back
            i = p % dim
            row[i] = (row.get(i, 0) + value * int(theta[partner])) % gf.PRIME
        pairing.append(row)
    return pairing, dim


def check_in_blocks(blocks: list[tuple], polys: list[dict], num_params: int, seed: int = 0,
                    samples: int = 2) -> Checked:
    """`check_laws` against the fields of these blocks only, (program, global index of each local
    parameter) pairs; every polynomial lives in their variables."""
    rng = gf.Residues(seed, 11)
    theta = rng.nonzero(num_params)
    theta_list = theta.tolist()
    where_block = np.full(num_params, -1, dtype=np.int64)
    where_local = np.full(num_params, -1, dtype=np.int64)
    fields, depth, network_degree = [], 1, 0
    for k, (program, glob) in enumerate(blocks):
        gains = rng.residues((samples, program.num_gains))
        fields.append(gradient(program, theta[glob][None, None, :], gains)[:, 0, :])
        where_block[glob], where_local[glob] = k, np.arange(len(glob))
        depth = max(depth, len(program.ops))
        network_degree = max(network_degree, output_degree(program))
    passed, gradients = [], []
    for poly in polys:
        grad = gf.poly_gradient(poly, theta_list)
        gradients.append(grad)
        variables = np.fromiter(grad, dtype=np.int64, count=len(grad))
        values = np.fromiter(grad.values(), dtype=np.uint64, count=len(grad))
        ok = bool((where_block[variables] >= 0).all()) if len(grad) else True
        if ok:
            for k in set(where_block[variables].tolist()):
                mine = where_block[variables] == k
                dots = arith.sum_mod(arith.mul(fields[k][:, where_local[variables[mine]]], values[mine][None, :]), 1)
                ok = ok and not dots.any()
        passed.append(ok)
    degree = max((len(m) for p in polys for m in p), default=1)
    # a check is a polynomial of degree ≤ (deg h − 1) + deg of the network's output (power neurons raise it)
    bound = degree + max(2 * depth + 2, network_degree)
    return Checked(passed, len(polys) * bound / gf.PRIME, gradients, num_params)
