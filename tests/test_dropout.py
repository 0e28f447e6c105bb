"""Dropout: the identity in the analysis, units dropped in `verify`'s training runs.

Where the expectations come from: the analysed network is the network at evaluation, so its count
is that of the same file without the dropout layer (mlp_relu-like 3-5-2 with biases: one
rescaling law per hidden neuron, Marcotte, Gribonval, Peyré 2023, Ex. 2.2). In training, a mask
m multiplies a ReLU layer's outputs: scaling neuron k's incoming weights by λ and its outgoing
ones by 1/λ still leaves the masked network unchanged, so those laws are conserved by GD with
dropout (to O(τ²), with the exact second-order drift); between two linear layers the mask D
breaks the symmetry W₁ → A W₁, W₂ → W₂ A⁻¹ unless A commutes with every diagonal D, so their Gram
laws off the diagonal drift at first order, which `verify` measures."""

from __future__ import annotations

import jax
import numpy as np
from typer.testing import CliRunner

from conslaw_cli import analysis
from conslaw_cli.cli import app
from conslaw_cli.training.model import build_network

runner = CliRunner()
RELU = "input: 3\nlayers:\n  - linear: {out: 5, bias: true}\n  - relu\n  - dropout: {rate: 0.2}\n  - linear: {out: 2}\n"
LINEAR = "input: 3\nlayers:\n  - linear: {out: 4}\n  - dropout: {rate: 0.3}\n  - linear: {out: 2}\n"


def _write(tmp_path, text: str, name: str = "net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_dropout_is_the_identity_of_the_analysed_network(tmp_path):
    graph = analysis.load_graph(_write(tmp_path, RELU))
    layer = graph.layers[2]
    assert (layer.kind, layer.name, layer.options["dropout"]) == ("identity", "dropout1", 0.2)
    without = _write(tmp_path, RELU.replace("  - dropout: {rate: 0.2}\n", ""), "plain.yaml")
    assert analysis.count(tmp_path / "net.yaml").laws == analysis.count(without).laws == 5


def test_a_training_loss_drops_units_with_inverted_scaling(tmp_path):
    net = build_network(analysis.load_graph(_write(tmp_path, RELU)))
    masks = net.dropout_masks(jax.random.PRNGKey(0), 4000)["dropout1.mask"]
    values = set(np.unique(np.asarray(masks)).round(12).tolist())
    assert values == {0.0, 1.25} and abs(float(masks.mean()) - 1.0) < 0.02  # kept w.p. 0.8, scaled by 1/0.8
    theta, xs, ys = net.init(np.random.default_rng(0)), np.ones((3, 3)), np.zeros((3, 2))
    assert net.loss(theta, xs, ys) == net.loss(theta, xs, ys)  # evaluation: deterministic
    assert net.loss(theta, xs, ys, jax.random.PRNGKey(1)) != net.loss(theta, xs, ys)


def test_verify_keeps_the_rescaling_laws_and_measures_the_gram_laws_drift(tmp_path):
    relu = runner.invoke(app, ["verify", str(_write(tmp_path, RELU))])
    assert relu.exit_code == 0 and "conserved to O(τ²)" in relu.stdout and "dropout (dropout1 0.2)" in relu.stdout
    linear = runner.invoke(app, ["verify", str(_write(tmp_path, LINEAR, "linear.yaml"))])
    assert linear.exit_code == 1 and "NOT conserved" in linear.stdout


def test_a_rate_outside_zero_to_one_is_located(tmp_path):
    path = _write(tmp_path, RELU.replace("rate: 0.2", "rate: 1"))
    result = runner.invoke(app, ["count", str(path)])
    assert result.exit_code == 2 and f"{path}:5:21: dropout.rate must be a number in [0, 1)" in result.stderr


def test_pytorchs_option_names_are_answered_with_conslaws(tmp_path):
    path = _write(tmp_path, RELU.replace("rate: 0.2", "p: 0.2"))
    result = runner.invoke(app, ["count", str(path)])
    assert result.exit_code == 2 and "unknown key 'p' in dropout" in result.stderr
    assert "hint: conslaw calls this option 'rate'" in result.stderr
