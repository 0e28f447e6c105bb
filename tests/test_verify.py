"""`conslaw verify`: the listed laws hold on real GD runs, the control ‖θ‖² does not, a wrong law
is caught, weight decay follows Marcotte, Gribonval, Peyré 2025, Thm 2.1.

Expected behaviour from theory: a law of gradient flow drifts by O(τ²) per GD step, a function
that is not a law by O(τ) (Marcotte, Gribonval, Peyré 2025, Prop 5.1), so the log–log slope of
the final error against τ separates them (≈ 2 against ≈ 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conslaw_cli import analysis
from conslaw_cli.cli import app
from conslaw_cli.training.verify import CONTROL, CROSS_CHECK_TOLERANCE, SLOPE_THRESHOLD, Settings, verify

ZOO_DIR = Path(__file__).resolve().parents[1] / "architectures"
ZOO = sorted(ZOO_DIR.glob("*.yaml"))
QUICK = Settings(steps=20, seeds=2)  # three learning rates 1e-4, 2e-4, 5e-4
runner = CliRunner()


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_zoo_laws_conserved_control_not(path):
    result = verify(path, QUICK)
    laws = [f for f in result.families if not f.is_control]
    control = next(f for f in result.families if f.is_control)
    assert laws, "every zoo architecture lists laws"
    for family in laws:
        assert family.passed is True, (family.name, family.verdict, family.slopes)
    assert control.passed is True and "not conserved" in control.verdict
    assert (control.slopes < SLOPE_THRESHOLD).all()
    assert result.cross_check <= CROSS_CHECK_TOLERANCE  # drift = Σ τ² gᵀAg to rounding
    assert result.passed


def test_a_wrong_law_is_not_conserved():
    """One term of a rescaling law flipped: ‖u_k‖² + b_k² − ‖v_k‖² with one sign wrong is no law."""
    path = ZOO_DIR / "mlp_relu.yaml"
    law = next(l for l in analysis.laws(path).laws if l.family and "per hidden neuron" in l.family)
    wrong = dict(law.poly)
    monomial = next(iter(wrong))
    wrong[monomial] = -wrong[monomial]
    result = verify(path, QUICK, polys_override=[wrong])
    given = result.families[0]
    assert given.verdict == "NOT conserved" and given.passed is False
    assert not result.passed


def test_weight_decay_decays_as_predicted():
    """(1 − τλ)^(−2k) h(θ_k) is conserved for the quadratic laws (Thm 2.1, discrete form)."""
    result = verify(ZOO_DIR / "deep_linear.yaml", Settings(steps=20, seeds=2, weight_decay=2.0))
    for family in result.families:
        expected = "as expected, not conserved" if family.name == CONTROL else "decays as predicted"
        assert family.verdict == expected and family.passed is True
    assert result.cross_check is None  # the exact second-order identity is for plain GD


def test_adam_drift_is_only_measured():
    result = verify(ZOO_DIR / "mlp_linear.yaml", Settings(optimizer="adam", steps=10, seeds=2))
    assert all(f.passed is None and f.verdict.startswith("measured only") for f in result.families)
    assert result.passed and any("not a test" in note for note in result.notes)


def test_cli_json_and_exit_code(tmp_path):
    plot = tmp_path / "fig.png"
    res = runner.invoke(app, ["verify", str(ZOO_DIR / "mlp_linear.yaml"), "--steps", "10", "--seeds", "2",
                              "--json", "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)
    assert entry["passed"] and entry["families"][0]["slope_mean"] > SLOPE_THRESHOLD
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_digits_on_a_network_that_cannot_take_them_is_bad_input():
    res = runner.invoke(app, ["verify", str(ZOO_DIR / "mlp_relu.yaml"), "--data", "digits"])
    assert res.exit_code == 2
    assert "mlp_relu.yaml:" in res.output and "digits are 8×8 = 64 values" in res.output and "hint:" in res.output


def test_digits_train_a_classifier(tmp_path):
    spec = tmp_path / "digits.yaml"
    spec.write_text("input: 64\nlayers:\n  - linear: {out: 2}\n  - relu\n  - softmax_head: {classes: 10}\n")
    result = verify(spec, Settings(steps=10, seeds=2, data="digits"))
    assert result.passed, [(f.name, f.verdict) for f in result.families]


def test_bad_options_and_empty_networks_exit_2(tmp_path):
    spec = tmp_path / "empty.yaml"
    spec.write_text("input: 3\nlayers:\n  - relu\n")
    res = runner.invoke(app, ["verify", str(spec)])
    assert res.exit_code == 2 and "empty.yaml:3:5: this network has no parameters" in res.output
    res = runner.invoke(app, ["verify", str(ZOO_DIR / "mlp_relu.yaml"), "--lr", "0"])
    assert res.exit_code == 2 and "learning rates must be positive" in res.output
