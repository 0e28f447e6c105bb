"""The bad-input corpus: every file gives its `file:line:col: message`, a hint, exit 2, no traceback,
from every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conslaw_cli.cli import app

CORPUS = Path(__file__).parent / "bad_inputs"
EXPECTED = dict(line.split(":", 1) for line in (CORPUS / "expected.txt").read_text().splitlines())
runner = CliRunner()


def test_corpus_is_large_and_fully_specified():
    files = {p.name for p in CORPUS.glob("*.yaml")}
    assert len(files) >= 25
    assert files == {name for name in EXPECTED if "@" not in name}


COMMANDS = ("count", "show", "phi", "laws", "report")
REFUSED_ONLY_WHEN_COMPILING = {"too_large.yaml"}  # `show` does not compile, so it answers for these


@pytest.mark.parametrize("name", sorted(name for name in EXPECTED if "@" not in name))
def test_every_command_refuses_bad_input_without_a_traceback(name):
    path = CORPUS / name
    for command in COMMANDS:
        result = runner.invoke(app, [command, str(path)])
        assert isinstance(result.exception, (SystemExit, type(None))), (command, result.exception)
        assert "Traceback" not in result.output + result.stderr
        if command == "show" and name in REFUSED_ONLY_WHEN_COMPILING:
            assert result.exit_code == 0
        else:
            assert result.exit_code == 2, (command, result.output)
            # "NAME@COMMAND" lines give a command's own message (phi refuses expansion, count a dense block)
            assert result.stderr.splitlines()[0] == f"{path}:{EXPECTED.get(f'{name}@{command}', EXPECTED[name])}"
            assert "hint:" in result.stderr


def test_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["count", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{tmp_path / 'nope.yaml'}:1:1: cannot read file")


def test_size_limit_is_an_option(tmp_path):
    # 20-20-20 ReLU: 8,000 path terms; refused under a limit of 1,000, accepted by default
    path = tmp_path / "medium.yaml"
    path.write_text("input: 20\nlayers:\n  - linear: {out: 20}\n  - relu\n  - linear: {out: 20}\n")
    refused = runner.invoke(app, ["count", str(path), "--max-terms", "1000"])
    assert refused.exit_code == 2
    assert "needs about 8,000 polynomial terms (limit 1,000)" in refused.stderr and "--max-terms" in refused.stderr
    assert runner.invoke(app, ["count", str(path), "--expect", "20"]).exit_code == 0


def test_show_does_not_compile_so_it_answers_for_large_networks():
    result = runner.invoke(app, ["show", str(CORPUS / "too_large.yaml")])
    assert result.exit_code == 0
    assert "D = 2000000" in result.stdout


def test_hopeless_engine_work_is_refused_with_an_estimate():
    path = str(Path(__file__).parent.parent / "architectures/mlp_linear.yaml")
    count = runner.invoke(app, ["count", path, "--max-block", "10"])
    assert count.exit_code == 2
    assert count.stderr.startswith(f"{path}:8:5: a block of 20 coupled parameters needs exact ranks")
    assert "--max-block" in count.stderr
    # at degree 3 a law system is needed (at degree 2 the complete Gram family needs none)
    laws = runner.invoke(app, ["laws", path, "--degree", "3", "--max-unknowns", "100"])
    assert laws.exit_code == 2
    assert "laws of degree <= 3 here have 1,770 unknown coefficients (limit 100)" in laws.stderr
    assert "--max-unknowns" in laws.stderr


@pytest.mark.parametrize("kind, hint", [
    ("prelu", "a known activation that conslaw does not support yet"),  # spelling alone says 'relu'
    ("selu", "a known activation that conslaw does not support yet"),  # spelling alone says 'silu'
    ("BatchNorm", "a known normalization layer that conslaw does not support yet; the normalization layers it "
                  "supports: layer_norm, rms_norm"),
    ("LayerNorm", "kinds are written in lower case with underscores: 'layer_norm'"),
    ("squared_relu", "conslaw calls this layer 'relu: {power: 2}'"),
    ("MaxPool2d", "conslaw calls this layer 'max_pool'"),
    ("AdaptiveAvgPool2d", "conslaw calls this layer 'global_avg_pool'"),
    ("dense", "conslaw calls this layer 'linear'"),
    ("swish", "conslaw calls this layer 'silu'"),
    ("Leaky-ReLU", "kinds are written in lower case with underscores: 'leaky_relu'"),
    ("reul", "did you mean 'relu'?"),
])
def test_an_unknown_kind_is_answered_by_meaning_then_by_spelling(tmp_path, kind, hint):
    path = tmp_path / "net.yaml"
    path.write_text(f"input: 3\nlayers:\n  - linear: {{out: 4}}\n  - {kind}\n")
    result = runner.invoke(app, ["count", str(path)])
    assert result.exit_code == 2
    message, hint_line = result.stderr.splitlines()
    assert message == f"{path}:4:5: unknown layer kind '{kind}'" and hint_line.startswith(f"  hint: {hint}")
