"""The numerical Lie trace from the network itself (conslaw_cli.network.lie_check) and
`count --check`. Expected counts: the issue's example (attention then linear without a skip) has
5 laws by an independent float64 audit of the network (φ alone sees 2); the two-layer ReLU
network has one law per hidden neuron (Marcotte, Gribonval, Peyré 2023, Ex. 2.2); the two-layer
linear network r(r+1)/2 (same paper, Prop 4.2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from conslaw_cli.analysis import load_graph
from conslaw_cli.cli import app
from conslaw_cli.network.lie_check import MIN_GAP, check_status, rank_and_gap

ZOO_DIR = Path(__file__).resolve().parents[1] / "architectures"
runner = CliRunner()


def test_rank_and_gap_on_a_matrix_of_known_rank():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((10, 3)) @ rng.standard_normal((3, 6))
    rank, gap = rank_and_gap(vectors)
    assert rank == 3 and gap > 1e10


def test_attention_then_linear_has_five_laws(tmp_path):
    path = tmp_path / "attention_linear.yaml"
    path.write_text("input: {tokens: 2, dim: 2}\nlayers:\n  - attention: {head_dim: 1}\n  - linear: {out: 1}\n")
    res = runner.invoke(app, ["count", str(path), "--check", "--json"])
    assert res.exit_code == 0, res.output
    (entry,) = json.loads(res.stdout)
    assert entry["laws"] == 2  # φ cut at the attention boundary (issue 13 item 1 is not done)
    assert entry["numerical_check"]["numerical_laws"] == 5 and entry["numerical_check"]["gap"] > MIN_GAP
    assert entry["numerical_check"]["status"].startswith("lower bound: the network has 3 more laws numerically")


def test_zoo_counts_confirmed():
    for name, laws in (("mlp_relu", 5), ("mlp_linear", 10)):
        status = check_status(load_graph(ZOO_DIR / f"{name}.yaml"), laws, exact=True)
        assert status["numerical_laws"] == laws and status["status"].startswith("exact (numerically confirmed")


def test_too_large_is_refused(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("input: 20\nlayers:\n  - linear: {out: 20}\n")  # D = 400
    status = check_status(load_graph(path), 0, exact=True)
    assert status["numerical_laws"] is None and "numerical check refused: D = 400" in status["status"]
