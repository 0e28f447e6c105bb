"""Gated linear units: glu: {out: m, gate: sigmoid|silu|gelu|relu|none} (GLU, SwiGLU, GEGLU, ReGLU, bilinear).

Where the expected numbers come from. The unit computes a ⊙ σ(b), (a, b) the two halves of one
projection W h + c. The product is linear in a: scaling row k of the values' weights (and bias) by
λ > 0 and column k of the weights that read product k by 1/λ changes nothing, so by Noether's
theorem ‖W[k]‖² + c_k² − ‖W_b[:,k]‖² is conserved, one law per product (the SwiGLU law of Tran et
al. 2026). With a positively homogeneous gate (relu, none) row m + k rescales alike: a second law
per product. The other laws below are the ReLU rescalings of Marcotte, Gribonval, Peyré 2023
(Ex. 2.2), the per-head attention Gram laws of Marcotte et al. 2025 (Thm 3.8: head_dim·(head_dim +
1)/2 for each of Q/K and V/O) and the RMS norm rescalings against its reader (Noether). That there
are no others is computed twice, independently: the network certificate (ball arithmetic on the
network's own fields and brackets) and the numerical count of `count --check` (float64 autodiff of
the JAX network, at three random θ).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import refused, written_graph

from conslaw_cli import analysis
from conslaw_cli.training.lie_check import numerical_counts
from conslaw_cli.training.model import build_network


def _unit(gate: str, bias: str = "false") -> str:
    return f"input: 3\nlayers:\n  - glu: {{out: 3, gate: {gate}, bias: {bias}}}\n  - linear: {{out: 2}}\n"


def test_the_unit_is_pytorchs_glu_of_one_fused_projection(tmp_path):
    # F.glu(x, dim=-1) = x[:m] * sigmoid(x[m:]): rows 0…m−1 of the weight are the values
    _, graph = written_graph(tmp_path, "input: 2\nlayers:\n  - glu: {out: 2, bias: true}\n")
    assert graph.layers[0].params == {"weight": (4, 2), "bias": (4,)}
    assert graph.layers[0].out_shape == ("vector", 2)
    weight, bias, x = np.arange(8.0).reshape(4, 2) / 10, np.array([0.1, -0.2, 0.3, 0.4]), np.array([1.0, -2.0])
    projected = weight @ x + bias
    expected = projected[:2] / (1 + np.exp(-projected[2:]))
    theta = jnp.concatenate([jnp.asarray(weight).reshape(-1), jnp.asarray(bias)])
    assert np.allclose(build_network(graph).apply(theta, jnp.asarray(x)), expected)


def test_each_gate_is_its_activation(tmp_path):
    x = jnp.array([0.5, -1.5])
    for gate, sigma in (("silu", jax.nn.silu), ("relu", jax.nn.relu), ("none", lambda z: z),
                        ("gelu", lambda z: jax.nn.gelu(z, approximate=False))):
        _, graph = written_graph(tmp_path, f"input: 2\nlayers:\n  - glu: {{out: 1, gate: {gate}}}\n")
        theta = jnp.array([1.0, 2.0, -1.0, 0.5])  # values row (1, 2), gate row (−1, 0.5)
        value, gate_input = 1.0 * 0.5 + 2.0 * -1.5, -1.0 * 0.5 + 0.5 * -1.5
        assert np.isclose(build_network(graph).apply(theta, x)[0], value * sigma(gate_input))


@pytest.mark.parametrize("gate, bias, laws", [
    ("none", "true", 3 + 3),  # values and gates both rescale against the reader's columns
    ("relu", "false", 3 + 3),  # relu(λz) = λ relu(z) for λ > 0: the gates rescale too
    ("sigmoid", "false", 3),  # only the values
])
def test_small_units_are_certified_and_agree_with_the_numerical_count(tmp_path, gate, bias, laws):
    path, graph = written_graph(tmp_path, _unit(gate, bias))
    result = analysis.count(path)
    # φ's paths end at the products: φ alone has no law; the rescalings are Noether's
    assert (result.laws, result.phi_laws, result.upper_bound, result.status) == (laws, 0, laws, "exact (certified)")
    assert min(c[0] for c in numerical_counts(graph) if c is not None) == laws
    listed = analysis.laws(path)
    assert listed.complete and sum(n for _, n in listed.families) == laws


SWIGLU_AFTER_RELU = """input: 3
layers:
  - linear: {out: 4, name: up}
  - relu
  - glu: {out: 3, gate: silu, name: ffn}
  - linear: {out: 2, name: down}
"""


def test_a_relu_layer_rescales_against_the_units_projection(tmp_path):
    # 4 ReLU rescalings (φ's: up's rows against ffn's columns) + 3 value rescalings = 7
    path, graph = written_graph(tmp_path, SWIGLU_AFTER_RELU)
    result = analysis.count(path)
    assert (result.laws, result.phi_laws, result.upper_bound) == (7, 4, 7)
    assert "gated units (Noether's theorem)" in result.found_by
    assert min(c[0] for c in numerical_counts(graph) if c is not None) == 7
    for degree in (2, 3):  # the family route and the law system agree
        listed = analysis.laws(path, degree=degree)
        assert listed.complete, degree
        assert [f.name.split(" (")[0] for f, _ in listed.families] == [
            "‖up.weight[k]‖² − ‖ffn.weight[:,k]‖², k = 0…3", "‖ffn.weight[k]‖² − ‖down.weight[:,k]‖², k = 0…2"]


LLAMA_BLOCK = """input: {tokens: 3, dim: 4}
layers:
  - residual:
      - rms_norm: {name: attn_norm}
      - attention: {heads: 2, head_dim: 2, causal: true, name: attn}
  - residual:
      - rms_norm: {name: ffn_norm}
      - glu: {out: 6, gate: silu, name: ffn}
      - linear: {out: 4, name: down}
"""


def test_a_small_llama_block_is_certified(tmp_path):
    # 12 attention Gram laws (3 per head and pair, 2 heads), 4 + 4 RMS norm rescalings against
    # Q, K, V and against ffn, 6 value rescalings: 26; the certificate proves no more, and the
    # numerical count (run by hand: 26 at three random points) agrees
    path, _ = written_graph(tmp_path, LLAMA_BLOCK)
    result = analysis.count(path)
    assert (result.laws, result.upper_bound, result.status) == (26, 26, "exact (certified)")


def test_bad_units_are_located(tmp_path):
    message = refused(tmp_path, "input: 2\nlayers:\n  - glu: {out: 2, gate: tanh}\n")
    assert message.startswith(f"{tmp_path / 'net.yaml'}:3:25: glu.gate must be one of"), message
    assert "conslaw calls this layer 'glu: {gate: silu}'" in refused(tmp_path, "input: 2\nlayers:\n  - swiglu\n")
    message = refused(tmp_path, "input: {channels: 1, length: 4}\nlayers:\n  - glu: {out: 2}\n")
    assert "glu acts on the features of a vector or of each token" in message
