"""The command line, driven through typer's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from conslaw_cli.cli import app

ROOT = Path(__file__).parent.parent
runner = CliRunner()


def test_count_table_on_a_file():
    result = runner.invoke(app, ["count", str(ROOT / "architectures/resnet_block.yaml")])
    assert result.exit_code == 0, result.output
    assert "resnet_block" in result.stdout and "44 → 44" in result.stdout
    assert "Schwartz–Zippel" in result.stdout


def test_count_json_fields():
    files = [str(ROOT / "architectures/mlp_linear.yaml"), str(ROOT / "architectures/mlp_relu.yaml")]
    result = runner.invoke(app, ["count", *files, "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [d["name"] for d in data] == ["mlp_linear", "mlp_relu"]
    first = data[0]
    assert first["schema"] == 1 and first["file"] == files[0]
    assert (first["parameters"], first["phi_components"], first["trace_dims"], first["laws"]) == (20, 6, [6, 10, 10], 10)
    assert first["seconds"] >= 0 and first["exact"] is True and first["error_bound"] < 1e-12


def test_expect_exit_codes():
    path = str(ROOT / "architectures/mlp_relu.yaml")
    assert runner.invoke(app, ["count", path, "--expect", "5"]).exit_code == 0
    wrong = runner.invoke(app, ["count", path, "--expect", "4"])
    assert wrong.exit_code == 1
    assert "expected 4 laws, found 5" in wrong.stderr


def test_count_without_files_uses_the_architectures_folder(tmp_path):
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        result = runner.invoke(app, ["count", "--json"])
        assert result.exit_code == 0
        assert len(json.loads(result.stdout)) == len(list((ROOT / "architectures").glob("*.yaml")))
        os.chdir(tmp_path)
        empty = runner.invoke(app, ["count"])
        assert empty.exit_code == 2 and "none found under ./architectures/" in empty.stderr
    finally:
        os.chdir(cwd)


def test_seed_option_gives_the_same_count():
    path = str(ROOT / "architectures/deep_linear.yaml")
    for seed in ("0", "7"):
        data = json.loads(runner.invoke(app, ["count", path, "--json", "--seed", seed]).stdout)
        assert data[0]["laws"] == 9 and data[0]["seed"] == int(seed)


def test_show_prints_layers_and_D():
    result = runner.invoke(app, ["show", str(ROOT / "architectures/resnet.yaml")])
    assert result.exit_code == 0
    assert "D = 96" in result.stdout and "residual1" in result.stdout and "conv1.weight 3x2x3" in result.stdout


def test_phi_summary_and_components():
    result = runner.invoke(app, ["phi", str(ROOT / "architectures/mlp_linear.yaml"), "-c", "2"])
    assert result.exit_code == 0
    assert "6 components in 20 variables" in result.stdout
    assert "φ_1 = linear1.weight[0,0]*linear2.weight[0,0]" in result.stdout
    latex = runner.invoke(app, ["phi", str(ROOT / "architectures/mlp_linear.yaml"), "-c", "1", "--latex"])
    assert r"\mathrm{linear1.weight}_{0,0}" in latex.stdout
