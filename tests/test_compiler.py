"""The φ compiler: structure of the components, and per-block vs full path lifting."""

from __future__ import annotations

from pathlib import Path

import pytest

from conslaw_cli import analysis
from conslaw_cli.counting import expanded_phi as engine
from conslaw_cli.analysis import load_graph
from conslaw_cli.phi.compiler import Phi, compile_phi, estimate_terms, full_path_lifting, piece_layout
from conftest import mlp_yaml


def span_rank(phi: Phi, seed: int = 0) -> int:
    """dim V_0(θ) = rank of the gradients ∇φ_i at a random point."""
    return engine.trace_dimension(phi, seed=seed).dims[0]


def union(a: Phi, b: Phi) -> Phi:
    assert a.variables == b.variables
    return Phi(a.variables, a.components + b.components, a.pieces)


RESIDUAL_CASES = [
    "input: 2\nlayers:\n  - residual:\n      - linear: {out: 3, bias: true}\n      - relu\n"
    "      - linear: {out: 2}\n  - residual:\n      - linear: {out: 2}\n      - relu\n      - linear: {out: 2}\n",
    "input: 3\nlayers:\n  - linear: {out: 2}\n  - relu\n  - residual:\n      - linear: {out: 3}\n      - relu\n"
    "      - linear: {out: 2}\n  - softmax_head: {classes: 3}\n",
    "input: {channels: 1, length: 4}\nlayers:\n  - residual:\n      - conv: {out_channels: 2, kernel_size: 3}\n"
    "      - relu\n      - conv: {out_channels: 1, kernel_size: 3}\n  - residual:\n"
    "      - conv: {out_channels: 2, kernel_size: 2}\n      - relu\n      - conv: {out_channels: 1, kernel_size: 2}\n",
]


@pytest.mark.parametrize("text", RESIDUAL_CASES)
def test_per_block_concatenation_spans_the_full_path_lifting(phi_of, text):
    # docs/method.md §5 "Residual blocks in sequence": same span of gradients at a generic point, and
    # the same Lie trace (hence the same count)
    graph, per_block = phi_of(text)
    full = full_path_lifting(graph)
    assert len(full.components) >= len(per_block.components)
    rank = span_rank(per_block)
    assert span_rank(full) == rank == span_rank(union(per_block, full))
    assert engine.trace_dimension(full).dimension == engine.trace_dimension(per_block).dimension


def test_two_layer_relu_components_are_path_products(phi_of):
    graph, phi = phi_of(mlp_yaml((2, 3, 2), "relu"))
    assert len(phi.components) == 2 * 3 * 2
    assert all(len(c.poly) == 1 and len(next(iter(c.poly))) == 2 for c in phi.components)
    assert phi.components[0].provenance == "linear1+linear2: x[0] → linear1[0] → linear2[0]"


def test_linear_chain_contracts_to_matrix_product(phi_of):
    # y = W2 W1 x: each component is an entry of W2 W1, a sum over the hidden units
    _, phi = phi_of(mlp_yaml((2, 3, 4)))
    assert len(phi.components) == 4 * 2
    assert all(len(c.poly) == 3 for c in phi.components)


def test_conv_weight_sharing_gives_distinct_filter_products(phi_of):
    # circular conv: every hidden position produces the same filter products; kept once
    _, phi = phi_of("input: {channels: 1, length: 5}\nlayers:\n  - conv: {out_channels: 2, kernel_size: 3}\n"
                    "  - relu\n  - conv: {out_channels: 1, kernel_size: 2}\n")
    assert len(phi.components) == 2 * 3 * 2  # c1 x (c0 k1) x (c2 k2)


def test_softmax_head_components_are_projected(phi_of):
    # n Θ_cj - Σ_c' Θ_c'j (sum-zero projection times n): the components sum to zero over classes
    _, phi = phi_of("input: 2\nlayers:\n  - softmax_head: {classes: 3}\n")
    assert len(phi.components) == 6
    total: dict = {}
    for comp in phi.components:
        for m, c in comp.poly.items():
            total[m] = total.get(m, 0) + c
    assert all(c == 0 for c in total.values())


def test_smooth_activation_cuts_paths_and_is_a_lower_bound(phi_of):
    _, phi = phi_of(mlp_yaml((2, 3, 2), "tanh"))
    assert not phi.rich and "lower bound" in phi.richness
    assert all(len(next(iter(c.poly))) == 1 for c in phi.components)


def test_parameter_names_follow_pytorch(phi_of):
    graph, phi = phi_of("input: {tokens: 2, dim: 3}\nlayers:\n  - attention: {heads: 2, head_dim: 1}\n"
                        "  - linear: {out: 2, name: readout, bias: true}\n")
    assert phi.variables[:2] == ["attention1.Q[0,0]", "attention1.Q[0,1]"]
    assert "readout.weight[1,2]" in phi.variables and "readout.bias[1]" in phi.variables
    assert graph.num_params == 4 * 2 * 3 + 2 * 3 + 2


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "architectures").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_size_estimate_bounds_the_real_number_of_terms(path):
    # the refusal of hopeless sizes relies on estimate_terms being an upper bound
    graph, phi = analysis.load(path)
    assert estimate_terms(graph) >= sum(len(c.poly) for c in phi.components)


@pytest.mark.parametrize("text", RESIDUAL_CASES)
def test_size_estimate_bounds_residual_networks(phi_of, text):
    graph, phi = phi_of(text)
    assert estimate_terms(graph) >= sum(len(c.poly) for c in phi.components)


@pytest.mark.parametrize("text", [
    "input: {tokens: 2, dim: 2}\nlayers:\n  - linear: {out: 2}\n  - attention: {head_dim: 1}\n",
    "input: {tokens: 2, dim: 3}\nlayers:\n  - linear: {out: 2}\n  - linear: {out: 3}\n  - attention: {head_dim: 1}\n"
    "  - flatten\n  - linear: {out: 2}\n",
    "input: {tokens: 2, dim: 3}\nlayers:\n  - attention: {heads: 2, head_dim: 1}\n  - flatten\n  - linear: {out: 2}\n",
    "input: {tokens: 2, dim: 2}\nlayers:\n  - linear: {out: 3, bias: true}\n  - relu\n  - attention: {head_dim: 2}\n",
    "input: {tokens: 2, dim: 2}\nlayers:\n  - attention: {heads: 2, head_dim: 1}\n  - linear: {out: 3}\n  - relu\n"
    "  - attention: {head_dim: 1}\n  - flatten\n  - linear: {out: 2}\n",
])
def test_term_estimate_bounds_phi_composed_across_attention(tmp_path, text):
    # the refusal logic reads estimate_terms before compiling: it must bound the terms compiled
    path = tmp_path / "net.yaml"
    path.write_text(text)
    graph = load_graph(path)
    assert estimate_terms(graph) >= sum(len(c.poly) for c in compile_phi(graph).components)


def test_wide_linear_before_attention_stays_apart(tmp_path):
    # composed, (MᵀQᵀKM) would have about 10^7 terms: the pieces stay apart, and the graph engine counts
    path = tmp_path / "wide.yaml"
    path.write_text("input: {tokens: 4, dim: 32}\nlayers:\n  - linear: {out: 32}\n  - attention: {heads: 2, head_dim: 16}\n")
    assert [p.inputs for p in piece_layout(load_graph(path).layers)] == [[], []]


def test_parameter_names_are_the_index_tuples_of_each_tensor():
    # names are built one axis at a time; they must be `tensor[i,j,…]` in row-major order, as
    # formatting every index tuple gives (checked on shapes of 0 to 4 axes, empty ones included)
    import itertools
    from types import SimpleNamespace

    from hypothesis import given, settings, strategies as st

    from conslaw_cli.phi.compiler import VariableTable

    shapes = st.lists(st.lists(st.integers(0, 5), max_size=4).map(tuple), min_size=1, max_size=4)

    @settings(max_examples=200, deadline=None)
    @given(shapes)
    def check(tensor_shapes):
        tensors = [(f"layer{k}.weight", shape) for k, shape in enumerate(tensor_shapes)]
        table = VariableTable(SimpleNamespace(parameter_tensors=lambda: tensors))
        expected = [f"{name}[{','.join(map(str, idx))}]" for name, (_, shape) in table.offsets.items()
                    for idx in itertools.product(*map(range, shape))]
        assert table.names == expected

    check()
