"""`conslaw laws --weight-decay`: each law's form under weight decay (Marcotte, Gribonval, Peyré
2025, Thm 2.1: a law homogeneous of degree k decays as e^{−kΛ(t)}). The degrees come from the
families themselves: column sums of a softmax head are linear (Prop 3.11), rescaling laws are
quadratic (Marcotte, Gribonval, Peyré 2023, Ex. 2.2)."""

from __future__ import annotations

import json
from pathlib import Path

import sympy
from typer.testing import CliRunner

from conslaw_cli.cli import app

SOFTMAX_HEAD = str(Path(__file__).resolve().parents[1] / "architectures" / "softmax_head.yaml")
runner = CliRunner()


def test_json_gives_each_law_its_decay_rate():
    res = runner.invoke(app, ["laws", SOFTMAX_HEAD, "--weight-decay", "--json"])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)
    for law in entry["laws"]:
        k = 1 if law["family"].startswith("column sums") else 2
        assert law["weight_decay"]["homogeneous_degree"] == k
        assert law["weight_decay"]["decay_factor"] == f"exp(-{k}*Lambda_t)"


def test_python_forms_parse_and_are_the_law_times_the_decay():
    res = runner.invoke(app, ["laws", SOFTMAX_HEAD, "--weight-decay", "--python"])
    assert res.exit_code == 0, res.output
    lines = [l for l in res.stdout.splitlines() if not l.startswith("#")]
    laws = dict(l.split(" = ", 1) for l in lines if "_weight_decay" not in l)
    decayed = dict(l.split(" = ", 1) for l in lines if "_weight_decay" in l)
    assert len(laws) == len(decayed) == 10
    lam = sympy.Symbol("Lambda_t")
    for name, text in laws.items():
        law = sympy.sympify(text)
        k = sympy.Poly(law).total_degree()
        assert sympy.simplify(sympy.sympify(decayed[f"{name}_weight_decay"]) - sympy.exp(k * lam) * law) == 0


def test_text_and_latex_state_the_theorem():
    text = runner.invoke(app, ["laws", SOFTMAX_HEAD, "--weight-decay"]).stdout
    assert "Thm 2.1" in text and "e^(−2Λ(t))" in text and "e^(−Λ(t))" in text
    latex = runner.invoke(app, ["laws", SOFTMAX_HEAD, "--weight-decay", "--latex"]).stdout
    assert r"e^{2\Lambda(t)}\left(" in latex and r"e^{\Lambda(t)}\left(" in latex
