"""Power activations: relu: {power: p} (squared ReLU for p = 2) and power: {p: k} (x ↦ xᵏ).

Where the expected numbers come from. A power neuron is homogeneous of degree p, so scaling its
incoming weights and bias by λ > 0 and its outgoing weights by λ⁻ᵖ leaves the network unchanged;
by Noether's theorem ‖W_in[k]‖² + b_k² − p‖W_out[:,k]‖² is conserved (Zhao et al. 2023, Ex. 5.3;
Głuch and Urbanke 2021, §4). The counts below are those laws (plus a softmax head's column sums,
Marcotte, Gribonval, Peyré 2025, Prop 3.11), and that there are no others is computed twice,
independently: the network certificate (exact integer arithmetic on the network's own fields) and
the numerical count of `count --check` (float64 autodiff of the JAX network, at three random θ).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from conftest import refused, written_graph

from conslaw_cli import analysis
from conslaw_cli.counting.graph import exact_pass
from conslaw_cli.counting.graph.blocks import tensor_offsets
from conslaw_cli.counting.graph.lawcheck import check_in_network
from conslaw_cli.counting.graph.network import build_program
from conslaw_cli.phi.compiler import VariableTable
from conslaw_cli.training.lie_check import numerical_counts
from conslaw_cli.training.model import build_network

SQUARED_RELU = """input: 4
layers:
  - linear: {out: 3, bias: true}
  - relu: {power: 2}
  - linear: {out: 2}
"""


def test_relu_power_and_power_are_graph_kinds_with_their_exponent(tmp_path):
    _, graph = written_graph(tmp_path, SQUARED_RELU)
    assert (graph.layers[1].kind, graph.layers[1].options) == ("power", {"p": 2, "rectified": True})
    _, graph = written_graph(tmp_path, "input: 2\nlayers:\n  - power: {p: 3}\n  - relu: {power: 1}\n  - power: {p: 1}\n")
    assert [(l.kind, l.options) for l in graph.layers] == [("power", {"p": 3, "rectified": False}),
                                                           ("relu", {}), ("identity", {})]


def test_the_jax_network_raises_to_the_power():
    from conslaw_cli.graph import build_graph
    from conslaw_cli.spec import parse_spec

    x = jnp.array([-2.0, 3.0])
    for layer, expected in (("relu: {power: 2}", [0.0, 9.0]), ("power: {p: 3}", [-8.0, 27.0])):
        graph = build_graph(parse_spec(f"input: 2\nlayers:\n  - {layer}\n"))
        assert build_network(graph).apply(jnp.zeros(0), x).tolist() == expected


def test_a_squared_relu_mlp_is_certified_with_its_degree_two_rescaling(tmp_path):
    path, graph = written_graph(tmp_path, SQUARED_RELU)
    result = analysis.count(path)
    # 3 hidden neurons, one law each; φ alone (its paths end at the power neurons) has none
    assert (result.laws, result.phi_laws, result.upper_bound, result.status) == (3, 0, 3, "exact (certified)")
    assert [c[0] for c in numerical_counts(graph) if c is not None] == [3, 3, 3]
    laws = analysis.laws(path)
    assert laws.complete
    [(family, _)] = laws.families
    assert family.name.startswith("‖linear1.weight[k]‖² + linear1.bias[k]² − 2·‖linear2.weight[:,k]‖², k = 0…2")


@pytest.mark.parametrize("text, laws", [
    # x³ (odd, no gate): 3 neurons, 3 laws
    ("input: 3\nlayers:\n  - linear: {out: 3}\n  - power: {p: 3}\n  - linear: {out: 2}\n", 3),
    # a conv channel rescaling through relu(x)² and a max pool (2 laws), a ReLU channel rescaling
    # (2) and the head's 4 column sums
    ("input: {channels: 1, length: 6}\nlayers:\n  - conv: {out_channels: 2, kernel_size: 3, bias: true}\n"
     "  - relu: {power: 2}\n  - max_pool: {kernel_size: 2}\n  - conv: {out_channels: 2, kernel_size: 2, "
     "padding: valid}\n  - relu\n  - flatten\n  - softmax_head: {classes: 3}\n", 2 + 2 + 4),
])
def test_power_networks_are_certified_and_agree_with_the_numerical_count(tmp_path, text, laws):
    path, graph = written_graph(tmp_path, text)
    result = analysis.count(path)
    assert (result.laws, result.upper_bound) == (laws, laws)
    assert min(c[0] for c in numerical_counts(graph) if c is not None) == laws


def test_the_family_with_the_wrong_factor_fails_the_network_check(tmp_path):
    # ‖W_in[k]‖² + b_k² − p‖W_out[:,k]‖² passes; with factor 1 (the ReLU law) it is not a law of
    # relu(x)²: the check in the network must say so
    _, graph = written_graph(tmp_path, SQUARED_RELU)
    v = VariableTable(graph)
    w1, b1, w2 = (v.offsets[t][0] for t in ("linear1.weight", "linear1.bias", "linear2.weight"))

    def law(factor):
        poly = {(w1 + j, w1 + j): 1 for j in range(4)}
        poly[(b1, b1)] = 1
        poly.update({(w2 + 3 * o, w2 + 3 * o): -factor for o in range(2)})
        return poly

    assert check_in_network(graph, [law(2), law(1)]).passed == [True, False]


def test_the_exact_pass_decides_relu_power_and_never_gates_a_plain_power(tmp_path):
    _, graph = written_graph(tmp_path, "input: 2\nlayers:\n  - linear: {out: 2}\n  - relu: {power: 2}\n"
                                "  - linear: {out: 2}\n  - power: {p: 3}\n  - linear: {out: 1}\n")
    program = build_program(graph.layers, tensor_offsets(graph), graph.num_params)
    theta = np.array([1, 0, 0, -1, 1, 1, 1, -1, 1, 1])  # W1 = I·diag(1, −1), W2 = [[1, 1], [1, −1]], W3 = [1, 1]
    pattern = exact_pass.activation_pattern(program, theta, np.array([[2, 3], [1, 0]]))
    # input (2, 3): pre-activations (2, −3): gains (1, 0); then W2·(4, 0) = (4, 4), cubed, gain 1
    # input (1, 0): (1, 0) is on the relu's boundary (a tie); the power neurons have gain 1 anyway
    assert pattern.gains.tolist() == [[1, 0, 1, 1], [1, 0, 1, 1]]
    assert pattern.ties.tolist() == [False, True]


def test_bad_powers_are_located(tmp_path):
    message = refused(tmp_path, "input: 2\nlayers:\n  - power: {p: 0}\n")
    assert message.startswith(f"{tmp_path / 'net.yaml'}:3:16: power.p must be positive"), message
    assert "conslaw calls this layer 'relu: {power: 2}'" in refused(tmp_path, "input: 2\nlayers:\n  - squared_relu\n")
