"""Normalization layers: layer_norm and rms_norm over the features of a vector or of each token.

Where the expected numbers come from. A normalization is scale invariant, N(λh) = N(h) for λ > 0,
so the linear layer a feeding it keeps ‖W_a‖² + ‖b_a‖²; layer_norm also subtracts the mean, so
each column sum of W_a and the sum of b_a are kept (translations); and feature k of γ ⊙ n + β
rescales against the weights that read it, γ_k² + β_k² − ‖W_b[:,k]‖². Each is Noether's theorem
for a symmetry of the network. That these are all the laws is computed twice, independently: the
network certificate in ball arithmetic (an upper bound, no probability) and the numerical count of
`count --check` (float64 autodiff of the JAX network at three random θ).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import written_graph

from conslaw_cli import analysis
from conslaw_cli.cli import app
from conslaw_cli.counting.graph.lawcheck import check_laws, rank_beyond_phi
from conslaw_cli.graph import build_graph
from conslaw_cli.lawfinding.families import normalization_families
from conslaw_cli.spec import parse_spec
from conslaw_cli.training.lie_check import numerical_counts
from conslaw_cli.training.model import build_network

LAYER_NORM_MLP = """input: 3
layers:
  - linear: {out: 4, bias: true}
  - layer_norm
  - linear: {out: 2}
"""
RMS_NORM_MLP = """input: 3
layers:
  - linear: {out: 4}
  - rms_norm
  - linear: {out: 3}
  - relu
  - linear: {out: 2}
"""


def test_norms_have_pytorchs_parameters_and_forward():
    graph = build_graph(parse_spec("input: {tokens: 2, dim: 3}\nlayers:\n  - layer_norm\n  - rms_norm: {affine: false}\n"
                                   "  - layer_norm: {name: ln, bias: false}\n"))
    assert [(l.name, l.params) for l in graph.layers] == [
        ("layer_norm1", {"weight": (3,), "bias": (3,)}), ("rms_norm1", {}), ("ln", {"weight": (3,)})]
    net = build_network(build_graph(parse_spec("input: 4\nlayers:\n  - layer_norm\n")))
    theta = jnp.array([2.0, 2.0, 2.0, 2.0, 1.0, 0.0, 0.0, 0.0])  # γ = 2, β = e_0
    out = net.apply(theta, jnp.array([1.0, 2.0, 3.0, 6.0]))  # mean 3, centred (−2, −1, 0, 3), std √3.5
    assert np.allclose(out, 2 * np.array([-2.0, -1.0, 0.0, 3.0]) / np.sqrt(3.5) + np.array([1.0, 0, 0, 0]))


@pytest.mark.parametrize("text, laws, from_phi", [
    # φ: the 4 per-feature rescalings γ_k² + β_k² − ‖W2[:,k]‖²; Noether adds the scale law and the
    # 3 column sums and the bias sum of linear1: 4 + 1 + 4 = 9
    (LAYER_NORM_MLP, 9, 4),
    # φ: 4 per-feature rescalings (γ against linear2) and 3 per-neuron (relu); Noether adds ‖W1‖²: 8
    (RMS_NORM_MLP, 8, 7),
])
def test_a_norm_adds_the_laws_of_its_invariances_and_is_certified(tmp_path, text, laws, from_phi):
    path, graph = written_graph(tmp_path, text)
    result = analysis.count(path)
    assert (result.laws, result.phi_laws, result.upper_bound, result.status) == (laws, from_phi, laws, "exact (certified)")
    assert [c[0] for c in numerical_counts(graph) if c is not None] == [laws] * 3
    listed = analysis.laws(path)
    assert listed.complete and sum(n for _, n in listed.families) == laws


def test_the_invariance_laws_are_not_laws_of_phi_but_add_to_its_count(tmp_path):
    _, graph = written_graph(tmp_path, LAYER_NORM_MLP)
    scale, shifts, features = normalization_families(graph)
    assert scale.name.startswith("‖linear1.weight‖² + ‖linear1.bias‖² (layer_norm1 is scale invariant")
    assert [len(f.entries) for f in (scale, shifts, features)] == [1, 4, 4]
    checked = check_laws(graph, scale.entries + shifts.entries + features.entries)
    assert checked.passed == [False] * 5 + [True] * 4  # φ's paths end at the norm: only γ's rescalings are φ's
    assert rank_beyond_phi(graph, scale.entries + shifts.entries + features.entries) == 5


def test_norms_on_channels_and_of_one_feature_are_refused_with_a_hint(tmp_path):
    path = tmp_path / "net.yaml"
    for text, message in (("input: {channels: 2, length: 4}\nlayers:\n  - layer_norm\n",
                           "layer_norm normalizes the features of a vector or of each token, got signal 2x4"),
                          ("input: 1\nlayers:\n  - layer_norm\n", "a layer_norm of one feature outputs 0"),
                          ("input: 2\nlayers:\n  - batch_norm\n", "unknown layer kind 'batch_norm'")):
        path.write_text(text)
        result = CliRunner().invoke(app, ["count", str(path)])
        assert result.exit_code == 2 and result.stderr.startswith(f"{path}:3:5: {message}"), result.stderr
    assert "the normalization layers it supports: layer_norm, rms_norm" in result.stderr
