"""The JAX network (conslaw_cli.training) against the YAML semantics and the symmetries behind
each law family, on every zoo architecture, in float64.

Symmetries (each leaves g(θ, ·) unchanged, which is why the family is conserved):
* neuron rescaling around a homogeneous activation (Marcotte, Gribonval, Peyré 2023, Ex. 2.2;
  per conv channel, Marcotte, Gribonval, Peyré 2025, Thm 3.6);
* GL(r) between two linear layers, U V ↦ U G⁻¹ G V (Marcotte, Gribonval, Peyré 2023, Prop 4.2);
* per attention head, Q_h ↦ M Q_h, K_h ↦ M⁻ᵀ K_h and V_h ↦ N V_h, O_h ↦ N⁻ᵀ O_h
  (Marcotte, Gribonval, Peyré 2025, Thm 3.8);
* a softmax head's columns shifted by a common vector (the logits move by a constant:
  Marcotte, Gribonval, Peyré 2025, Prop 3.11).
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from conslaw_cli.analysis import load_graph
from conslaw_cli.phi.compiler import VariableTable
from conslaw_cli.graph import HOMOGENEOUS
from conslaw_cli.training.model import build_network

ZOO = sorted(Path(__file__).resolve().parents[1].joinpath("architectures").glob("*.yaml"))
RNG_SEED = 7


def _random_invertible(rng, n):
    return np.eye(n) + 0.3 * rng.standard_normal((n, n))


def _rescale(tensors, a, b, rng):
    """Scale the units between layers a and b by random λ > 0 (in by λ, out by 1/λ)."""
    units = a.params["weight"][0]
    lam = rng.uniform(0.5, 2.0, units)
    w = tensors[f"{a.name}.weight"]
    tensors[f"{a.name}.weight"] = w * lam.reshape((-1,) + (1,) * (w.ndim - 1))
    if f"{a.name}.bias" in tensors:
        tensors[f"{a.name}.bias"] = tensors[f"{a.name}.bias"] * lam
    v = tensors[f"{b.name}.weight"]
    tensors[f"{b.name}.weight"] = v / lam.reshape((1, -1) + (1,) * (v.ndim - 2))


def _general_linear(tensors, a, b, rng):
    g = _random_invertible(rng, a.params["weight"][0])
    tensors[f"{a.name}.weight"] = g @ tensors[f"{a.name}.weight"]
    if f"{a.name}.bias" in tensors:
        tensors[f"{a.name}.bias"] = g @ tensors[f"{a.name}.bias"]
    tensors[f"{b.name}.weight"] = tensors[f"{b.name}.weight"] @ np.linalg.inv(g)


def _attention_maps(tensors, layer, rng):
    d = layer.options["head_dim"]
    for h in range(layer.options["heads"]):
        rows = slice(h * d, (h + 1) * d)
        for left, right in (("Q", "K"), ("V", "O")):
            m = _random_invertible(rng, d)
            tensors[f"{layer.name}.{left}"][rows] = m @ tensors[f"{layer.name}.{left}"][rows]
            tensors[f"{layer.name}.{right}"][rows] = np.linalg.inv(m).T @ tensors[f"{layer.name}.{right}"][rows]


def apply_symmetries(graph, tensors, rng) -> list[str]:
    """Apply every symmetry the layer sequence has (in place); return their names."""
    applied = []

    def walk(layers):
        previous, between = None, []
        for layer in layers:
            walk(layer.body)
            if layer.kind == "attention":
                _attention_maps(tensors, layer, rng)
                applied.append(f"attention maps {layer.name}")
            if layer.kind == "softmax_head":
                w = tensors[f"{layer.name}.weight"]
                tensors[f"{layer.name}.weight"] = w + rng.standard_normal(w.shape[1])[None, :]
                applied.append(f"column shift {layer.name}")
            if layer.kind in ("linear", "conv", "softmax_head"):
                homogeneous = [k for k in between if k in HOMOGENEOUS]
                if previous is not None and len(homogeneous) == 1 and "flatten" not in between:
                    _rescale(tensors, previous, layer, rng)
                    applied.append(f"rescaling {previous.name}→{layer.name}")
                elif previous is not None and not between and previous.kind == layer.kind == "linear":
                    _general_linear(tensors, previous, layer, rng)
                    applied.append(f"GL {previous.name}→{layer.name}")
                previous, between = layer, []
            elif layer.kind in HOMOGENEOUS or layer.kind in ("identity", "flatten"):
                between.append(layer.kind)
            else:
                previous, between = None, []

    walk(graph.layers)
    return applied


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_zoo_network_is_invariant_under_its_symmetries(path):
    graph = load_graph(path)
    net = build_network(graph)
    rng = np.random.default_rng(RNG_SEED)
    theta = net.init(rng)
    xs = rng.standard_normal((16,) + net.input_shape)
    tensors = {k: np.array(v) for k, v in net.unflatten(theta).items()}
    applied = apply_symmetries(graph, tensors, rng)
    assert applied, "every zoo architecture has a family of laws, hence a symmetry"
    moved = np.concatenate([tensors[name].ravel() for name in net.tensors])
    assert np.linalg.norm(moved - theta) > 0.1 * np.linalg.norm(theta)
    predict = jax.jit(net.predict)  # one compilation instead of one per operation
    before, after = predict(theta, xs), predict(moved, xs)
    assert np.max(np.abs(after - before)) <= 1e-12 * max(1.0, np.max(np.abs(before)))
    # Non-vacuous: a random move of the same size changes the function.
    other = theta + rng.standard_normal(theta.shape) * np.linalg.norm(moved - theta) / np.sqrt(theta.size)
    assert np.max(np.abs(predict(other, xs) - before)) > 1e-3


def test_parameter_order_is_the_variable_table_order():
    graph = load_graph(ZOO[0].parent / "deep_relu.yaml")
    net = build_network(graph)
    names = VariableTable(graph).names
    theta = np.arange(len(names), dtype=float)
    tensors = net.unflatten(theta)
    # linear2.bias[1] is variable number names.index(...): the flat layout must put it there.
    assert float(tensors["linear2.bias"][1]) == names.index("linear2.bias[1]")
    assert float(tensors["linear1.weight"][2, 1]) == names.index("linear1.weight[2,1]")


def test_forward_matches_a_hand_computation(tmp_path):
    """Circular conv, stride, attention and residual computed with numpy loops from the README."""
    spec = tmp_path / "net.yaml"
    spec.write_text("input: {channels: 1, length: 5}\nlayers:\n"
                    "  - conv: {out_channels: 1, kernel_size: 3, stride: 2, bias: true}\n")
    net = build_network(load_graph(spec))
    theta = np.array([1.0, 2.0, 3.0, 0.5])  # weight[0,0,0..2], bias[0]
    x = np.arange(5.0).reshape(1, 5)
    # circular, k = 3, stride 2: output size ⌈5/2⌉ = 3, position q reads (2q + j − 1) mod 5
    expected = [sum(theta[j] * x[0, (2 * q + j - 1) % 5] for j in range(3)) + 0.5 for q in range(3)]
    np.testing.assert_allclose(np.asarray(net.apply(theta, x))[0], expected, rtol=1e-15)

    spec.write_text("input: {tokens: 2, dim: 2}\nlayers:\n  - residual:\n      - attention: {head_dim: 1}\n")
    net = build_network(load_graph(spec))
    rng = np.random.default_rng(0)
    theta, x = rng.standard_normal(8), rng.standard_normal((2, 2))
    q, k, v, o = theta.reshape(4, 1, 2)
    scores = x @ q.T @ k @ x.T
    attention = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(net.apply(theta, x)), x + attention @ x @ v.T @ o, rtol=1e-13)
