"""Helpers: write an architecture to a temporary file and analyse it."""

from __future__ import annotations

import itertools

import pytest

from conslaw_cli import analysis

_counter = itertools.count()


def mlp_yaml(widths, activation=None, bias=False) -> str:
    """An MLP with the given widths; `activation` between linear layers (None: linear network)."""
    lines = [f"input: {widths[0]}", "layers:"]
    for i, width in enumerate(widths[1:]):
        lines.append(f"  - linear: {{out: {width}, bias: {str(bias).lower()}}}")
        if activation and i < len(widths) - 2:
            lines.append(f"  - {activation}")
    return "\n".join(lines) + "\n"


def written_graph(tmp_path, text: str):
    """(path, layer graph) of an architecture written to `tmp_path`/net.yaml."""
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return path, analysis.load_graph(path)


def refused(tmp_path, text: str) -> str:
    """`conslaw count` of an architecture written to `tmp_path`/net.yaml, which must be refused
    (exit 2): its message."""
    from typer.testing import CliRunner

    from conslaw_cli.cli import app

    path = tmp_path / "net.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["count", str(path)])
    assert result.exit_code == 2, result.stdout
    return result.stderr


@pytest.fixture
def count_of(tmp_path):
    """count_of(yaml_text, seed=0) -> number of laws (the CountResult is in .last)."""

    def run(text: str, seed: int = 0) -> int:
        path = tmp_path / f"arch{next(_counter)}.yaml"
        path.write_text(text)
        run.last = analysis.count(path, seed=seed)
        return run.last.laws

    return run


@pytest.fixture
def phi_of(tmp_path):
    """phi_of(yaml_text) -> (graph, φ)."""

    def run(text: str):
        path = tmp_path / f"arch{next(_counter)}.yaml"
        path.write_text(text)
        return analysis.load(path)

    return run
