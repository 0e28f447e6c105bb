"""Attention options: the causal mask.

Where the expected numbers come from: with a mask the scores are still x_t Q_hᵀK_h x_sᵀ and the
values x_s V_hᵀO_h, so φ = (Q_hᵀK_h, V_hᵀO_h) per head is a valid factorization and its laws
Q_hQ_hᵀ − K_hK_hᵀ, V_hV_hᵀ − O_hO_hᵀ (head_dim(head_dim+1)/2 each, Marcotte, Gribonval, Peyré
2025, Thm 3.8 and Cor 3.10) are laws of the masked network. Thm 3.8's completeness is stated
without a mask, so conslaw calls φ's count a lower bound; the ball-arithmetic certificate (the
network's own fields, masked) and the float64 numerical count (JAX, three random θ) are the two
independent checks that there are no more."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from conslaw_cli import analysis
from conslaw_cli.training.lie_check import numerical_counts
from conslaw_cli.training.model import build_network

CAUSAL = "input: {tokens: 3, dim: 4}\nlayers:\n  - attention: {heads: 2, head_dim: 2, causal: true}\n"


def test_a_causal_head_attends_only_to_earlier_tokens(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: {tokens: 3, dim: 2}\nlayers:\n  - attention: {head_dim: 2, causal: true}\n")
    network = build_network(analysis.load_graph(path))
    theta = np.random.default_rng(0).standard_normal(network.num_params)
    x = np.random.default_rng(1).standard_normal((3, 2))
    changed = x.copy()
    changed[2] += 1.0  # the last token: it must not change what tokens 0 and 1 see
    before, after = network.apply(theta, jnp.asarray(x)), network.apply(theta, jnp.asarray(changed))
    assert np.allclose(before[:2], after[:2]) and not np.allclose(before[2], after[2])
    # token 0 sees itself only: its output is x_0 V_hᵀO_h
    params = network.unflatten(theta)
    assert np.allclose(before[0], x[0] @ np.asarray(params["attention1.V"]).T @ np.asarray(params["attention1.O"]))


def test_causal_attention_is_a_lower_bound_certified_by_its_own_fields(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(CAUSAL)
    result = analysis.count(path)
    # 2 heads × (3 + 3) Gram laws of head_dim 2
    assert (result.laws, result.exact, result.upper_bound, result.status) == (12, False, 12, "exact (certified)")
    assert "causal mask" in result.richness
    assert [c[0] for c in numerical_counts(analysis.load_graph(path)) if c is not None] == [12, 12, 12]
