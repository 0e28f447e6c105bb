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
from .blocks import blocks_with_variables, tensor_offsets
from .network import build_program, gradient, output_degree


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
        from .certificate import sparse_rank_lower_bound

        chosen = [k for k, ok in enumerate(self.passed) if ok] if chosen is None else chosen
        return sparse_rank_lower_bound([self.gradients[k] for k in chosen], self.num_params)


def check_laws(graph: Graph, polys: list[dict], seed: int = 0, samples: int = 2) -> Checked:
    """Whether each polynomial passes the field check of every block (see the module's text)."""
    return check_in_blocks(list(blocks_with_variables(graph)), polys, graph.num_params, seed, samples)


def check_in_network(graph: Graph, polys: list[dict], seed: int = 0) -> Checked:
    """`check_laws` against the fields of the whole network as one gated network, for a network of
    linear, conv, softmax-head, ReLU-like, power, pooling and residual layers (else Unsupported): the rank-one
    gains then stand for its inputs, its activation patterns and its output weights at once, so a
    polynomial that passes is a law of the network on every activation region (except with the
    Schwartz–Zippel probability), also where it mixes parameters of several pieces of φ."""
    program = build_program(graph.layers, tensor_offsets(graph), graph.num_params)
    return check_in_blocks([(program, np.arange(graph.num_params))], polys, graph.num_params, seed)


def rank_beyond_phi(graph: Graph, polys: list[dict], seed: int = 0) -> int:
    """A lower bound r on how many independent laws the laws `polys` of the network add to φ's:
    the rank of their pairing ⟨∇h_k(θ), X(θ)⟩ with φ's fields X at a random point, mod p.

    Why: the network's fields lie in Lie(φ)(θ) (they are combinations of φ's) and are orthogonal to
    every ∇h_k, so dim Lie(network)(θ) ≤ dim Lie(φ)(θ) − r with r the rank of the ∇h_k restricted
    to Lie(φ)(θ) ⊇ V_0(θ): laws ≥ φ's laws + r. The rank of integer polynomial entries at one
    point mod p is at most their generic rank (a nonzero minor mod p is a nonzero polynomial), so
    r is certain; fields drawn with random gains only decide whether it is tight."""
    from conslaw_cli.counting import lie

    rng = gf.Residues(seed, 13)
    theta = rng.nonzero(graph.num_params)
    theta_list = theta.tolist()
    gradients = [gf.poly_gradient(poly, theta_list) for poly in polys]
    columns = []
    for program, glob in blocks_with_variables(graph):
        local = {int(g): k for k, g in enumerate(glob)}
        touching = [k for k, grad in enumerate(gradients) if any(v in local for v in grad)]
        if not touching:
            continue
        fields = gradient(program, theta[glob][None, None, :], rng.residues((len(touching) + 4, program.num_gains)))[:, 0, :]
        pairing = np.zeros((len(polys), fields.shape[0]), dtype=np.uint64)
        for k in touching:
            mine = [(local[v], c) for v, c in gradients[k].items() if v in local]
            idx = np.array([i for i, _ in mine])
            values = np.array([c for _, c in mine], dtype=np.uint64)
            pairing[k] = arith.sum_mod(arith.mul(fields[:, idx], values[None, :]), 1)
        columns.append(pairing)
    return lie.exact_rank(np.hstack(columns)) if columns else 0


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
