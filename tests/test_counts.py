"""Every expected count of the count issue, each from a theorem (source in the comment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import mlp_yaml

ZOO = Path(__file__).parent.parent / "architectures"


def two_layer_linear_laws(m: int, r: int, n: int) -> int:
    """Marcotte et al. 2023, Prop 4.2, 4.3, Cor 4.4: r(r+1)/2, minus (r-n-m)(r-n-m+1)/2 when r > n+m."""
    excess = max(0, r - n - m)
    return r * (r + 1) // 2 - excess * (excess + 1) // 2


@pytest.mark.parametrize("m,r,n", [(3, 4, 2), (2, 2, 2), (4, 3, 5), (1, 1, 1), (5, 3, 1)])
def test_two_layer_linear_r_at_most_n_plus_m(count_of, m, r, n):
    assert r <= n + m
    assert count_of(mlp_yaml((m, r, n))) == r * (r + 1) // 2
    assert count_of.last.exact


@pytest.mark.parametrize("m,r,n", [(1, 4, 1), (2, 6, 1), (1, 5, 2)])
def test_two_layer_linear_r_above_n_plus_m(count_of, m, r, n):
    assert r > n + m
    assert count_of(mlp_yaml((m, r, n))) == two_layer_linear_laws(m, r, n)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("m,r,n", [(3, 4, 2), (2, 5, 3), (1, 3, 1)])
def test_two_layer_relu(count_of, m, r, n, bias):
    # Marcotte et al. 2023, Ex. 2.2/3.6, Marcotte et al. 2025, Thm 3.4, Prop 3.5: one law per hidden neuron
    assert count_of(mlp_yaml((m, r, n), "relu", bias)) == r


@pytest.mark.parametrize("activation", ["leaky_relu", "abs"])
def test_homogeneous_activations_behave_like_relu(count_of, activation):
    # Marcotte et al. 2023, App. E.2, Zhao et al. 2023: positively 1-homogeneous activations have the ReLU laws
    assert count_of(mlp_yaml((3, 4, 2), activation, True)) == 4


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("widths", [(2, 3, 3, 2), (3, 2, 4, 2), (2, 3, 2, 3, 2)])
def test_deep_relu_one_law_per_hidden_neuron(count_of, widths, bias):
    # path lifting, Marcotte et al. 2023, eq. (13), App. I: sum of hidden widths (widths >= 2)
    assert count_of(mlp_yaml(widths, "relu", bias)) == sum(widths[1:-1])


@pytest.mark.parametrize("widths,laws", [((2, 3, 3, 2), 12), ((3, 3, 3, 3), 12), ((4, 3, 2, 5), 9),
                                         ((2, 4, 3, 2, 3), 19)])
def test_deep_linear(count_of, widths, laws):
    # Marcotte et al. 2023, Prop 4.1, App. I: the independent Gram laws (the reference notebooks' "known")
    assert count_of(mlp_yaml(widths)) == laws


def test_deep_linear_trace_steps(count_of):
    # the bracket steps of the reference notebooks for 2-4-3-2-3: 6 -> 11 -> 13 (D = 32); the
    # checked Gram laws (19) set the ceiling 32 − 19 = 13, so no probe of a fourth level follows
    count_of(mlp_yaml((2, 4, 3, 2, 3)))
    assert count_of.last.trace_dims == [6, 11, 13]
    assert count_of.last.parameters == 32


CONV_CASES = [
    # (input, conv1 options, conv2 options, c1)
    ("{channels: 2, length: 6}", "out_channels: 3, kernel_size: 3", "out_channels: 2, kernel_size: 2", 3),
    ("{channels: 1, length: 8}", "out_channels: 2, kernel_size: 3, stride: 2",
     "out_channels: 3, kernel_size: 2, padding: valid", 2),
    ("{channels: 3, length: 7}", "out_channels: 4, kernel_size: 2, padding: valid, bias: true",
     "out_channels: 1, kernel_size: 3", 4),
    ("{channels: 2, height: 4, width: 4}", "out_channels: 3, kernel_size: [2, 3]",
     "out_channels: 2, kernel_size: 2, stride: 2, padding: valid", 3),
    ("{channels: 1, height: 5, width: 4}", "out_channels: 2, kernel_size: 3, stride: [2, 1]",
     "out_channels: 2, kernel_size: [1, 2]", 2),
]


@pytest.mark.parametrize("shape,conv1,conv2,c1", CONV_CASES)
def test_conv_relu_one_law_per_hidden_channel(count_of, shape, conv1, conv2, c1):
    # Marcotte et al. 2025, Thm 3.6, App. E: one law per hidden channel, sum_k |u_kj|^2 - sum_i |v_ji|^2
    text = f"input: {shape}\nlayers:\n  - conv: {{{conv1}}}\n  - relu\n  - conv: {{{conv2}}}\n"
    assert count_of(text) == c1


@pytest.mark.parametrize("dim,d1", [(2, 1), (2, 3), (2, 4), (3, 2), (3, 5)])
def test_single_head_attention(count_of, dim, d1):
    # Marcotte et al. 2025, Thm 3.8, Cor 3.9: d1(d1+1) laws when d1 <= 2 dim
    assert d1 <= 2 * dim
    text = f"input: {{tokens: 3, dim: {dim}}}\nlayers:\n  - attention: {{heads: 1, head_dim: {d1}}}\n"
    assert count_of(text) == d1 * (d1 + 1)


@pytest.mark.parametrize("m,classes", [(1, 2), (3, 2), (4, 3), (2, 5)])
def test_softmax_head_alone(count_of, m, classes):
    # Marcotte et al. 2025, Prop 3.11, Cor 2.8: the m column sums
    assert count_of(f"input: {m}\nlayers:\n  - softmax_head: {{classes: {classes}}}\n") == m


ZOO_EXPECTED = {
    # each file's header comment gives the theorem
    "mlp_linear": 10, "mlp_relu": 5, "deep_linear": 9, "deep_relu": 6, "conv_relu": 3, "conv2d_relu": 3,
    "resnet_block": 4, "attention": 12, "multihead_attention": 12, "softmax_head": 10,
    "transformer_block": 9, "resnet": 14, "lenet5": 14, "mlp_mixer": 10,
}


@pytest.mark.parametrize("name", sorted(ZOO_EXPECTED))
def test_zoo(count_of, name):
    path = ZOO / f"{name}.yaml"
    assert f"Expected: {ZOO_EXPECTED[name]} laws" in path.read_text()
    assert count_of(path.read_text()) == ZOO_EXPECTED[name]


def test_zoo_has_every_file_tested():
    assert {p.stem for p in ZOO.glob("*.yaml")} == set(ZOO_EXPECTED)


@pytest.mark.parametrize("seed", [1, 2, 12345])
def test_same_count_at_other_seeds(count_of, seed):
    assert count_of(mlp_yaml((4, 3, 2, 5)), seed=seed) == 9
    assert count_of((ZOO / "resnet_block.yaml").read_text(), seed=seed) == 4
