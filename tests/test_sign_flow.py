"""`count --flow sign` against Marcotte, Gribonval, Peyré 2025, App. R: the sign flow of a
two-layer linear network x ↦ U Vᵀ x (n outputs, m inputs, r hidden) and of an attention layer
has no law, except in the scalar case n = m = r = 1 where |u| − |v| is the one law (Thm R.2 and
the computation after it)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conslaw_cli.flows import sign as sign_flow
from conslaw_cli.cli import app

runner = CliRunner()


def two_layer_linear(tmp_path, n, m, r):
    path = tmp_path / f"linear_{n}_{m}_{r}.yaml"
    path.write_text(f"input: {m}\nlayers:\n  - linear: {{out: {r}}}\n  - linear: {{out: {n}}}\n")
    return path


@pytest.mark.parametrize("n, m, r", [(2, 1, 1), (1, 2, 1), (2, 2, 2), (2, 3, 1), (3, 2, 4)])
def test_two_layer_linear_has_no_sign_flow_law(tmp_path, n, m, r):
    result = sign_flow.count(two_layer_linear(tmp_path, n, m, r))
    assert (result.parameters, result.laws) == ((n + m) * r, 0)


def test_scalar_two_layer_linear_has_one_law_abs_u_minus_abs_v(tmp_path):
    result = sign_flow.count(two_layer_linear(tmp_path, 1, 1, 1))
    assert result.laws == 1
    assert result.listed == ["|linear1.weight[0,0]| − |linear2.weight[0,0]|"]


def test_scalar_output_and_input_leave_one_direction(tmp_path):
    """n = m = 1, r = 2 (not among the paper's tested shapes): φ = Σ_k u_k v_k is one scalar, so
    every sign vector is ±sign(∇φ(θ)) and dim W_θ = 1: 2r − 1 = 3 laws."""
    assert sign_flow.count(two_layer_linear(tmp_path, 1, 1, 2)).laws == 3


def test_attention(tmp_path):
    path = tmp_path / "attention.yaml"
    path.write_text("input: {tokens: 3, dim: 2}\nlayers:\n  - attention: {head_dim: 2}\n")
    assert sign_flow.count(path).laws == 0  # Thm R.3
    # dim = head_dim = 1: Q^T K and V^T O are two separate scalar products, one law each
    path.write_text("input: {tokens: 2, dim: 1}\nlayers:\n  - attention: {head_dim: 1}\n")
    assert sorted(sign_flow.count(path).listed) == ["|attention1.Q[0,0]| − |attention1.K[0,0]|",
                                                    "|attention1.V[0,0]| − |attention1.O[0,0]|"]


def test_cli_json_expect_and_the_stated_bound(tmp_path):
    path = str(two_layer_linear(tmp_path, 1, 1, 1))
    res = runner.invoke(app, ["count", "--flow", "sign", path, "--json", "--expect", "1"])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)
    assert entry["laws"] == 1 and entry["bound"] == "upper" and entry["dim_W_sampled"] == 1
    text = runner.invoke(app, ["count", "--flow", "sign", path]).stdout
    assert "UPPER bound" in text and "|linear1.weight[0,0]| − |linear2.weight[0,0]|" in text
    assert runner.invoke(app, ["count", "--flow", "sign", path, "--expect", "0"]).exit_code == 1
