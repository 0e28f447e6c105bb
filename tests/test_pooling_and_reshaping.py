"""Pooling and reshaping layers: avg_pool, max_pool, global_avg_pool, transpose, patches.

Where the expected numbers come from: the windows are PyTorch's (no padding, stride defaulting to
the kernel, ⌊(size − k)/stride⌋ + 1 outputs), worked out by hand below. The laws come from the
symmetries: a positive per-channel scaling commutes with an average and with a max, so each conv
channel (each neuron) before a pool keeps the rescaling law ‖incoming‖² + bias² − ‖outgoing‖²
(Marcotte, Gribonval, Peyré 2023, Ex. 2.2; 2025, Thm 3.6 for convolutions), and a softmax head
adds its column sums (Marcotte et al. 2025, Prop 3.11). That these are all the laws is checked
twice, independently: the network certificate (an upper bound from the network's own fields,
exact integer arithmetic) and the numerical count of `count --check` (float64 autodiff of the
JAX network, the minimum over three random θ)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import written_graph

from conslaw_cli import analysis
from conslaw_cli.counting import expanded_phi
from conslaw_cli.counting.graph import exact_pass
from conslaw_cli.counting.graph.blocks import tensor_offsets
from conslaw_cli.counting.graph.count import trace_graph
from conslaw_cli.counting.graph.network import build_program
from conslaw_cli.graph import unit_windows
from conslaw_cli.training.lie_check import numerical_counts
from conslaw_cli.training.model import build_network

LENET = """name: lenet
input: {channels: 1, height: 12, width: 12}
layers:
  - conv: {out_channels: 2, kernel_size: 3, padding: valid, bias: true}
  - relu
  - max_pool: {kernel_size: 2}
  - conv: {out_channels: 3, kernel_size: 3, padding: valid}
  - relu
  - avg_pool: {kernel_size: [2, 2]}
  - flatten
  - linear: {out: 4}
  - relu
  - softmax_head: {classes: 3}
"""


def test_windows_are_pytorchs(tmp_path):
    # signal 2 × 5, kernel 2, stride 2: outputs 0, 1 read positions {0, 1}, {2, 3} of each channel
    # (position 4 is dropped, ⌊(5 − 2)/2⌋ + 1 = 2); channel 1's units are 5 … 9
    _, graph = written_graph(tmp_path, "input: {channels: 2, length: 5}\nlayers:\n  - avg_pool: {kernel_size: 2}\n")
    layer = graph.layers[0]
    assert layer.out_shape == ("signal", 2, 2)
    assert unit_windows(layer).tolist() == [[0, 1], [2, 3], [5, 6], [7, 8]]
    # image 1 × 3 × 3, kernel 2, stride 1: four windows of 2 × 2 (row-major units h·3 + w)
    _, graph = written_graph(tmp_path, "input: {channels: 1, height: 3, width: 3}\nlayers:\n"
                                "  - max_pool: {kernel_size: 2, stride: 1}\n")
    assert unit_windows(graph.layers[0]).tolist() == [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]
    # tokens 2 × 3: the mean over tokens of feature e reads units e and 3 + e
    _, graph = written_graph(tmp_path, "input: {tokens: 2, dim: 3}\nlayers:\n  - global_avg_pool\n")
    assert graph.layers[0].out_shape == ("vector", 3)
    assert unit_windows(graph.layers[0]).tolist() == [[0, 3], [1, 4], [2, 5]]


def test_the_jax_network_pools_like_the_windows():
    import jax.numpy as jnp
    from conslaw_cli.graph import build_graph
    from conslaw_cli.spec import parse_spec

    for kind, expected in (("avg_pool", [[2.0, 3.5]]), ("max_pool", [[4.0, 6.0]])):
        graph = build_graph(parse_spec(f"input: {{channels: 1, length: 5}}\nlayers:\n  - {kind}: {{kernel_size: 2, "
                                       "stride: 2}\n"))
        out = build_network(graph).apply(jnp.zeros(0), jnp.array([[0.0, 4.0, 1.0, 6.0, 9.0]]))
        assert out.tolist() == expected  # windows {0, 1} and {2, 3}: means 2, 3.5; maxima 4, 6
    graph = build_graph(parse_spec("input: {channels: 2, length: 2}\nlayers:\n  - global_avg_pool\n"))
    assert build_network(graph).apply(jnp.zeros(0), jnp.array([[1.0, 3.0], [-2.0, 0.0]])).tolist() == [2.0, -1.0]


@pytest.mark.parametrize("text, message", [
    ("input: 4\nlayers:\n  - max_pool: {kernel_size: 2}\n", "max_pool needs a signal or image input"),
    ("input: {channels: 1, length: 3}\nlayers:\n  - avg_pool: {kernel_size: 4}\n", "pooling window 4 is larger"),
    ("input: 4\nlayers:\n  - global_avg_pool\n", "global_avg_pool averages the positions"),
    ("input: {channels: 1, length: 4}\nlayers:\n  - max_pool: {kernel_size: [2, 2]}\n", "a 1-D max_pool takes"),
    ("input: {channels: 1, length: 4}\nlayers:\n  - max_pool\n", "max_pool needs 'kernel_size'"),
])
def test_bad_pooling_is_located(tmp_path, text, message):
    from typer.testing import CliRunner
    from conslaw_cli.cli import app

    path = tmp_path / "net.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["count", str(path)])
    assert result.exit_code == 2 and result.stderr.startswith(f"{path}:3:5: {message}"), result.stderr


def test_a_lenet_is_certified_with_its_rescaling_laws(tmp_path):
    path, graph = written_graph(tmp_path, LENET)
    result = analysis.count(path)
    # 2 + 3 per-channel rescalings (conv1, conv2), 4 per-neuron (linear1), 4 column sums of the head
    assert (result.laws, result.upper_bound, result.status) == (13, 13, "exact (certified)")
    assert min(c[0] for c in numerical_counts(graph) if c is not None) == 13
    laws = analysis.laws(path)
    names = [family.name for family, _ in laws.families]
    assert laws.complete and any(n.startswith("‖conv1.weight[c]‖² + conv1.bias[c]² − ‖conv2.weight[:,c]‖²")
                                 for n in names)
    assert any(n.startswith("‖conv2.weight[c]‖² − ‖linear1.weight[:,c]‖²") for n in names)  # a 1 × 1 image per channel


def test_a_max_pool_alone_carries_the_rescaling_and_a_global_pool_reads_each_channel_once(tmp_path):
    # conv2 → max_pool → conv3 has no activation, but max(λx) = λ max(x) for λ > 0: 3 laws; the
    # windows overlap (kernel 3, stride 2), so each edge is gated on its own
    path, graph = written_graph(tmp_path, """input: {channels: 2, length: 8}
layers:
  - conv: {out_channels: 3, kernel_size: 3, bias: true}
  - relu
  - conv: {out_channels: 3, kernel_size: 3}
  - max_pool: {kernel_size: 3, stride: 2}
  - conv: {out_channels: 2, kernel_size: 1}
  - relu
  - global_avg_pool
  - linear: {out: 2}
""")
    result = analysis.count(path)
    assert (result.laws, result.upper_bound) == (3 + 3 + 2, 8)
    assert min(c[0] for c in numerical_counts(graph) if c is not None) == 8
    names = [family.name for family, _ in analysis.laws(path).families]
    assert any(n.startswith("‖conv2.weight[c]‖² − ‖conv3.weight[:,c]‖²") for n in names)
    assert any(n.startswith("‖conv3.weight[c]‖² − ‖linear1.weight[:,c]‖²") for n in names)


def test_an_average_is_scaled_to_integer_components(tmp_path):
    # g = v·w·(x0 + x1)/2 + v·b + c: the paths from x0 and x1 are v·w/2 each, scaled to v·w (one
    # component: identical components are emitted once); the constant's chain sums the conv bias
    # through the mean (2·b/2 = b) and the linear bias
    _, graph = written_graph(tmp_path, "input: {channels: 1, length: 2}\nlayers:\n"
                                "  - conv: {out_channels: 1, kernel_size: 1, bias: true}\n"
                                "  - avg_pool: {kernel_size: 2}\n  - flatten\n  - linear: {out: 1, bias: true}\n")
    phi = analysis.load(graph.file)[1]
    polys = sorted(sorted(c.poly.items()) for c in phi.components)
    w, b, v, c = range(4)
    assert polys == sorted([[((w, v), 1)], sorted([((c,), 1), ((b, v), 1)])])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["avg_pool", "max_pool"]), kernel=st.integers(1, 3), stride=st.integers(1, 2),
       activation=st.sampled_from(["relu", "identity", "abs"]), bias=st.booleans(), image=st.booleans())
def test_the_count_engine_agrees_with_the_expanded_polynomials(tmp_path, kind, kernel, stride, activation, bias, image):
    # two implementations of the same φ: the compiler's polynomials (expanded-φ engine) and the
    # gated network with Pool ops (graph engine)
    shape = "{channels: 1, height: 4, width: 4}" if image else "{channels: 2, length: 5}"
    text = (f"input: {shape}\nlayers:\n  - conv: {{out_channels: 2, kernel_size: 2, bias: {str(bias).lower()}}}\n"
            f"  - {activation}\n  - {kind}: {{kernel_size: {kernel}, stride: {stride}}}\n"
            "  - conv: {out_channels: 2, kernel_size: 1}\n  - global_avg_pool\n  - linear: {out: 2}\n")
    path, graph = written_graph(tmp_path, text)
    phi = analysis.load(path)[1]
    assert trace_graph(graph, seed=3).dimension == expanded_phi.trace_dimension(phi, seed=3).dimension, text


def test_the_exact_pass_decides_a_max_and_flags_a_tie(tmp_path):
    _, graph = written_graph(tmp_path, "input: {channels: 1, length: 4}\nlayers:\n  - max_pool: {kernel_size: 2}\n"
                                "  - flatten\n  - linear: {out: 1}\n")
    program = build_program(graph.layers, tensor_offsets(graph), graph.num_params)
    theta = np.array([1, 1])
    pattern = exact_pass.activation_pattern(program, theta, np.array([[3, -5, 2, 7], [4, 4, 0, 1]]))
    # gains per edge (window 0: entries 0, 1; window 1: entries 2, 3): the largest entry gets 1
    assert pattern.gains.tolist() == [[1, 0, 0, 1], [1, 0, 0, 1]]
    assert pattern.ties.tolist() == [False, True]  # 4 = 4: on a boundary of the pattern


MIXER = """name: mixer
input: {channels: 1, height: 4, width: 4}
layers:
  - patches: {size: 2}
  - linear: {out: 3}
  - residual: [transpose, {linear: {out: 3, bias: true}}, relu, {linear: {out: 4}}, transpose]
  - residual: [{linear: {out: 3}}, relu, {linear: {out: 3}}]
  - global_avg_pool
  - softmax_head: {classes: 2}
"""


def test_transpose_and_patches_move_units_like_numpy(tmp_path):
    import jax.numpy as jnp

    _, graph = written_graph(tmp_path, "input: {tokens: 2, dim: 3}\nlayers:\n  - transpose\n")
    assert graph.layers[0].out_shape == ("tokens", 3, 2)
    x = np.arange(6.0).reshape(2, 3)
    assert unit_windows(graph.layers[0])[:, 0].tolist() == x.T.reshape(-1).astype(int).tolist()
    assert np.array_equal(build_network(graph).apply(jnp.zeros(0), jnp.asarray(x)), x.T)
    # a 2 × 4 × 4 image in patches of 2: 4 tokens (i, j) row-major of 2·2·2 features (c, a, b)
    _, graph = written_graph(tmp_path, "input: {channels: 2, height: 4, width: 4}\nlayers:\n  - patches: {size: 2}\n")
    assert graph.layers[0].out_shape == ("tokens", 4, 8)
    image = np.arange(32.0).reshape(2, 4, 4)
    expected = np.array([[image[c, 2 * i + a, 2 * j + b] for c in range(2) for a in range(2) for b in range(2)]
                         for i in range(2) for j in range(2)])
    assert np.array_equal(build_network(graph).apply(jnp.zeros(0), jnp.asarray(image)), expected)


@pytest.mark.parametrize("text, message", [
    ("input: 4\nlayers:\n  - transpose\n", "transpose swaps tokens and features"),
    ("input: {channels: 1, height: 4, width: 6}\nlayers:\n  - patches: {size: 4}\n",
     "patches of size 4 do not tile a 4x6 image"),
    ("input: {tokens: 2, dim: 2}\nlayers:\n  - patches: {size: 1}\n", "patches cuts an image into tokens"),
])
def test_bad_reshaping_is_located(tmp_path, text, message):
    test_bad_pooling_is_located(tmp_path, text, message)


def test_a_mixer_is_certified_with_the_joint_rescaling_of_its_stream(tmp_path):
    # φ's pieces give 9 laws (3 per-neuron rescalings in each mixing block, 3 column sums of the
    # head); scaling the patch embedding and the token-mixing biases by λ and the head by 1/λ is a
    # symmetry across the pieces (1 more law, checked against the network's own fields); the
    # certificate allows at most 10, and the numerical count (float64, independent) finds 10
    path, graph = written_graph(tmp_path, MIXER)
    result = analysis.count(path)
    assert (result.phi_laws, result.laws, result.upper_bound, result.status) == (9, 10, 10, "exact (certified)")
    assert [c[0] for c in numerical_counts(graph) if c is not None] == [10, 10, 10]
    names = [family.name for family, _ in analysis.laws(path).families]
    assert "‖linear1.weight‖² + ‖linear2.bias‖² − ‖softmax_head1.weight‖² (the whole stream scaled through 2 " \
        "residual blocks, their biases with it)" in names
    phi = analysis.load(path)[1]
    assert trace_graph(graph, seed=3).dimension == expanded_phi.trace_dimension(phi, seed=3).dimension


def test_paths_cross_pools_through_the_first_window_holding_each_unit(tmp_path):
    from conslaw_cli.counting.graph.certificate import unit_maps

    # signal 1 × 5, max pool 2 (windows {0, 1}, {2, 3}; position 4 dropped), then a transpose-free
    # average of the two: back maps each unit after to the first unit of its window before
    _, graph = written_graph(tmp_path, "input: {channels: 1, length: 5}\nlayers:\n  - max_pool: {kernel_size: 2}\n"
                                "  - avg_pool: {kernel_size: 2}\n")
    back, forward = unit_maps(graph.layers, 5)
    assert back.tolist() == [0] and forward.tolist() == [0, 0, 0, 0, -1]


def test_a_full_size_lenet5_is_counted_by_single_paths_through_its_pools(tmp_path):
    # LeNet-5 on 1 × 32 × 32 (6 and 16 filters, 120 and 84 neurons, 10 classes): 6 + 16 + 120 + 84
    # rescalings and 84 column sums = 310 laws of φ, certified for φ by the sparse path
    # certificate (no dense rank of the 61,696 parameters, which is refused)
    lenet = ("input: {channels: 1, height: 32, width: 32}\nlayers:\n"
             "  - conv: {out_channels: 6, kernel_size: 5, padding: valid, bias: true}\n  - relu\n"
             "  - max_pool: {kernel_size: 2}\n"
             "  - conv: {out_channels: 16, kernel_size: 5, padding: valid, bias: true}\n  - relu\n"
             "  - max_pool: {kernel_size: 2}\n  - flatten\n  - linear: {out: 120, bias: true}\n  - relu\n"
             "  - linear: {out: 84, bias: true}\n  - relu\n  - softmax_head: {classes: 10}\n")
    path, graph = written_graph(tmp_path, lenet)
    result = analysis.count(path)
    assert (graph.num_params, result.laws, result.status) == (61_696, 310, "lower bound")
