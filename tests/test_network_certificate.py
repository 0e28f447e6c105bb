"""The network certificate (counting.graph.upper_bound): an upper bound on the laws proved from the
network's own fields at an integer point, and the exact pass that decides its activation pattern.

Where the expected numbers come from: the ResNet of the zoo has 14 laws of φ (Marcotte, Gribonval,
Peyré 2025, Thm 3.6 per conv block and Prop 3.11 for the softmax head), and the certificate must
prove no more are possible; the ReLU stem before two residual blocks has 6 laws of φ (one per
hidden neuron of each block, Marcotte et al. 2023, Ex. 2.2) and 9 by an independent float64
computation from the network function (the JAX Lie trace of training.lie_check, the minimum over
its three random θ): the stem's neurons rescale the residual stream through both blocks, which
φ's pieces do not see (3 laws of the stream family, checked against the network's own fields),
and the certificate must meet the 9."""

from __future__ import annotations

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conslaw_cli import analysis
from conslaw_cli.counting.graph import exact_pass
from conslaw_cli.counting.graph.blocks import tensor_offsets
from conslaw_cli.counting.graph.network import build_program
from conslaw_cli.counting.graph.upper_bound import certify
from conslaw_cli.graph import build_graph
from conslaw_cli.spec import parse_spec

STEM_STACK = """name: stem_stack
input: 3
layers:
  - linear: {out: 3}
  - relu
  - residual: [{linear: {out: 3}}, relu, {linear: {out: 3}}]
  - residual: [{linear: {out: 3}}, relu, {linear: {out: 3}}]
  - linear: {out: 2}
"""


def _count(tmp_path, text: str):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return analysis.count(path), analysis.load_graph(path)


def test_the_zoo_resnet_is_certified_exact():
    result = analysis.count("architectures/resnet.yaml")
    assert (result.laws, result.exact, result.upper_bound, result.status) == (14, False, 14, "exact (certified)")
    assert "no probability" in result.upper_bound_note


def test_a_relu_stem_before_residual_blocks_is_certified_with_the_laws_across_pieces(tmp_path):
    from conslaw_cli.training.lie_check import numerical_counts

    result, graph = _count(tmp_path, STEM_STACK)
    numerical = min(c[0] for c in numerical_counts(graph) if c is not None)
    # φ sees 6; the stem's 3 neurons rescale the stream through both blocks (the stream family,
    # checked against the network's own fields) and the certificate allows no more than 9
    assert (result.phi_laws, result.laws, numerical, result.upper_bound) == (6, 9, 9, 9)
    assert result.status == "exact (certified)"
    laws = analysis.laws(tmp_path / "net.yaml")
    assert (laws.count, laws.independent, laws.certified, laws.checked_against) == (9, 9, True, "the network")
    assert any("per stream unit through 2 residual blocks" in family.name for family, _ in laws.families)


def test_a_bound_that_does_not_meet_the_laws_is_an_interval(tmp_path, monkeypatch):
    # the certificate stopped at V_0 (no bracket) cannot reach dim Lie(W) = 42 on the stem stack
    # above (its brackets are needed): the status is then the interval, never "exact"
    from conslaw_cli.counting.graph import upper_bound

    monkeypatch.setattr(upper_bound, "MAX_LEVELS", 1)
    result, _ = _count(tmp_path, STEM_STACK)
    assert result.laws == 9 and result.upper_bound > 9
    assert result.status == f"between 9 and {result.upper_bound}" and not result.certified


def test_a_smooth_network_is_bounded_by_ball_arithmetic(tmp_path):
    # tanh between linear layers: φ sees no law across the tanh; a float64 audit of this network
    # (training.lie_check) finds the network's own count, which the ball certificate must reach
    from conslaw_cli.training.lie_check import numerical_trace_of
    from conslaw_cli.training.model import build_network

    result, graph = _count(tmp_path, "input: 3\nlayers:\n  - linear: {out: 3}\n  - tanh\n  - linear: {out: 3}\n"
                                     "  - relu\n  - linear: {out: 2}\n")
    numerical = graph.num_params - numerical_trace_of(build_network(graph), seed=0).dimension
    assert result.upper_bound is not None and result.laws <= numerical <= result.upper_bound
    assert "ball arithmetic" in result.upper_bound_note


def _program(doc: dict):
    graph = build_graph(parse_spec(yaml.safe_dump(doc), "net.yaml"))
    return graph, build_program(graph.layers, tensor_offsets(graph), graph.num_params)


layer = st.one_of(st.sampled_from(["relu", "abs", {"leaky_relu": {"slope": 0.25}}, {"leaky_relu": {"slope": -2}}]),
                  st.builds(lambda n, bias: {"linear": {"out": n, "bias": bias}}, st.integers(1, 3), st.booleans()))
network = st.builds(lambda n, body, skip: {"input": n, "layers": [{"linear": {"out": 2}}, "relu",
                                                                   *([{"residual": [{"linear": {"out": 2}}, "relu",
                                                                                    {"linear": {"out": 2}}]}] if skip else []),
                                                                   *body, {"linear": {"out": 2}}]},
                    st.integers(1, 3), st.lists(layer, max_size=4), st.booleans())
examples = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@examples
@given(doc=network, seed=st.integers(0, 1000))
def test_the_float64_pass_decides_the_pattern_as_python_integers_do(doc, seed):
    graph, program = _program(doc)
    rng = np.random.default_rng(seed)
    theta = rng.integers(-1024, 1025, graph.num_params)
    inputs = rng.integers(-1024, 1025, (6, program.sources))
    fast = exact_pass.activation_pattern(program, theta, inputs)
    limit, exact_pass.EXACT_FLOAT_LIMIT = exact_pass.EXACT_FLOAT_LIMIT, 0.0  # force Python integers and fractions
    try:
        slow = exact_pass.activation_pattern(program, theta, inputs)
    finally:
        exact_pass.EXACT_FLOAT_LIMIT = limit
    assert (fast.gains == slow.gains).all() and (fast.ties == slow.ties).all()


@examples
@given(doc=network)
def test_the_upper_bound_never_falls_below_the_laws_of_phi(doc, tmp_path_factory):
    # laws of φ are laws of the network (Marcotte et al. 2025, Prop 2.12): a proved upper bound
    # below their number would be a wrong proof
    result, graph = _count(tmp_path_factory.mktemp("net"), yaml.safe_dump(doc))
    bound = certify(graph, graph.num_params - result.laws)
    assert bound.laws is not None and bound.laws >= result.laws


smooth_network = st.builds(
    lambda n, first, second: {"input": n, "layers": [{"linear": {"out": 2}}, first, {"linear": {"out": 2}}, second,
                                                     {"linear": {"out": 2}}]},
    st.integers(1, 3), st.sampled_from(["tanh", "sigmoid", "gelu", "silu"]), st.sampled_from(["relu", "tanh", "identity"]))


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(doc=smooth_network)
def test_ball_bounds_never_fall_below_the_laws_of_phi(doc, tmp_path_factory):
    result, _ = _count(tmp_path_factory.mktemp("net"), yaml.safe_dump(doc))
    assert result.upper_bound is None or result.upper_bound >= result.laws, result.upper_bound_note


def test_the_balls_contain_the_float64_values():
    # the enclosure of the fields at θ₀ must contain what JAX computes in float64, up to float64's rounding
    import jax

    from conslaw_cli.counting import ball_certificate, enclosure
    from conslaw_cli.training.lie_check import nested_bracket
    from conslaw_cli.training.model import build_network

    net = build_network(analysis.load_graph("architectures/multihead_attention.yaml"))
    rng = np.random.default_rng(3)
    theta = ball_certificate._dyadic(rng, net.num_params, nonzero=True)
    params = tuple(ball_certificate._field_parameters(net, rng, 3) for _ in range(2))
    rows = ball_certificate._values(net, theta, params)
    floats = np.asarray(jax.vmap(lambda *p: nested_bracket(net, theta, p))(*params))
    radius = np.array([float(v.rad()) for v in rows.reshape(-1)]).reshape(rows.shape)
    assert np.all(np.abs(enclosure.midpoints(rows) - floats) <= radius + 1e-9 * (1 + np.abs(floats)))
    assert radius.max() < 1e-20
