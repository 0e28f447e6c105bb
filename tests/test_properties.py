"""Property tests: random small MLPs against the closed-form counts of docs/method.md §5."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import mlp_yaml
from test_counts import two_layer_linear_laws

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
width = st.integers(min_value=1, max_value=5)


@SETTINGS
@given(m=width, r=width, n=width, seed=st.integers(0, 2**32))
def test_two_layer_linear_formula(count_of, m, r, n, seed):
    # Marcotte et al. 2023, Prop 4.2, 4.3, Cor 4.4
    assert count_of(mlp_yaml((m, r, n)), seed=seed) == two_layer_linear_laws(m, r, n)


@SETTINGS
@given(widths=st.lists(st.integers(2, 4), min_size=3, max_size=5), bias=st.booleans(),
       activation=st.sampled_from(["relu", "leaky_relu", "abs"]), seed=st.integers(0, 2**32))
def test_deep_homogeneous_one_law_per_hidden_neuron(count_of, widths, bias, activation, seed):
    # path lifting, Marcotte et al. 2023, eq. (13), App. I (widths >= 2)
    assert count_of(mlp_yaml(widths, activation, bias), seed=seed) == sum(widths[1:-1])


@SETTINGS
@given(m=width, r=width, n=width, seed=st.integers(0, 2**32))
def test_two_layer_relu_with_bias(count_of, m, r, n, seed):
    # Marcotte et al. 2025, Thm 3.4, Prop 3.5: |u_k|^2 - |v_k|^2 - b_k^2, one per hidden neuron
    assert count_of(mlp_yaml((m, r, n), "relu", True), seed=seed) == r
