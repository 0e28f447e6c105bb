"""Laws of a subset of parameters: block laws of ResNets and Transformers (Marcotte et al. 2025, §4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conslaw_cli import analysis
from conslaw_cli.phi import blocks
from conslaw_cli.counting import expanded_phi as engine
from conslaw_cli.cli import app
from conslaw_cli.phi.compiler import full_path_lifting

ROOT = Path(__file__).parent.parent
runner = CliRunner()

CONV_BLOCK = ("  - residual:\n      name: {name}\n      layers:\n"
              "        - conv: {{out_channels: 3, kernel_size: {k}, name: {a}}}\n        - relu\n"
              "        - conv: {{out_channels: 2, kernel_size: {k}, name: {b}}}\n")


def resnet_yaml(blocks_count: int, length: int = 4, kernel: int = 3, head: bool = True) -> str:
    text = f"input: {{channels: 2, length: {length}}}\nlayers:\n"
    for i in range(blocks_count):
        text += CONV_BLOCK.format(name=f"block{i + 1}", k=kernel, a=f"conv{2 * i + 1}", b=f"conv{2 * i + 2}")
    if head:
        text += "  - flatten\n  - softmax_head: {classes: 3}\n"
    return text


def body_alone_yaml(kernel: int = 3, length: int = 4) -> str:
    """One block's body as a network of its own, with the same layer names as block1."""
    return (f"input: {{channels: 2, length: {length}}}\nlayers:\n"
            f"  - conv: {{out_channels: 3, kernel_size: {kernel}, name: conv1}}\n  - relu\n"
            f"  - conv: {{out_channels: 2, kernel_size: {kernel}, name: conv2}}\n")


@pytest.fixture
def write(tmp_path):
    def run(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return run


@pytest.mark.parametrize("use_full_path_lifting", [False, True])
@pytest.mark.parametrize("blocks_count", [2, 3])  # 3 blocks: no head, length 3 (full lifting grows fast)
def test_block_laws_are_the_laws_of_the_block_alone(write, blocks_count, use_full_path_lifting):
    # Marcotte et al. 2025, Thm 4.6. With the full path lifting (cross-block products of weights), this is not
    # true by construction of φ: the block's fields are the coefficients in the other parameters.
    length = 4 if blocks_count == 2 else 3
    graph = analysis.load_graph(write(resnet_yaml(blocks_count, length=length, head=blocks_count == 2)))
    phi = full_path_lifting(graph) if use_full_path_lifting else analysis.load(graph.file)[1]
    alone = analysis.count(write(body_alone_yaml(length=length), "alone.yaml")).laws
    assert alone == 3  # Marcotte et al. 2025, Thm 3.6: c1 = 3
    for i in range(blocks_count):
        laws, _ = blocks.block_laws(phi, blocks.resolve(graph, f"block{i + 1}"))
        assert laws == alone


def test_block_polynomial_laws_equal_those_of_the_block_alone(write):
    path = write(resnet_yaml(2))
    in_network = analysis.laws(path, block="block1")
    alone = analysis.laws(write(body_alone_yaml(), "alone.yaml"))
    assert [(f.name, n) for f, n in in_network.families] == [(f.name, n) for f, n in alone.families]
    assert sorted(map(str, (l.poly for l in in_network.laws))) == sorted(map(str, (l.poly for l in alone.laws)))
    assert in_network.complete


@pytest.mark.parametrize("name", ["resnet", "transformer_block"])
def test_zoo_blocks_match_their_bodies(name):
    # Marcotte et al. 2025, Thm 4.6 on the zoo: the residual blocks' laws are those of their bodies
    path = ROOT / f"architectures/{name}.yaml"
    _, rows, total = analysis.per_block(path)
    by_name = {r.name: r.laws for r in rows}
    expected = {"resnet": {"residual1": 3, "residual2": 3, "softmax_head1": 8},
                "transformer_block": {"residual1": 6, "residual2": 3}}[name]
    assert {k: by_name[k] for k in expected} == expected
    assert total == sum(r.laws for r in rows if r.in_partition)


def test_last_softmax_head_has_the_laws_of_the_head_alone(write):
    # Marcotte et al. 2025, Thm 4.6 (last layer): 2 x 4 = 8 features -> 8 column sums, as for the head alone
    graph = analysis.load_graph(write(resnet_yaml(2)))
    head_laws, _ = blocks.block_laws(full_path_lifting(graph), blocks.resolve(graph, "softmax_head1"))
    alone = analysis.count(write("input: 8\nlayers:\n  - softmax_head: {classes: 3}\n", "head.yaml")).laws
    assert head_laws == alone == 8


@pytest.mark.parametrize("use_full_path_lifting", [False, True])
def test_two_layers_around_a_skip_carry_no_law(write, use_full_path_lifting):
    # Marcotte et al. 2025, Thm 4.7: full filters (kernel = signal length, circular); (V^{l+1}, U^l) has no law
    graph = analysis.load_graph(write(resnet_yaml(2, length=3, kernel=3, head=False)))
    phi = full_path_lifting(graph) if use_full_path_lifting else analysis.load(graph.file)[1]
    laws, _ = blocks.block_laws(phi, blocks.resolve(graph, "conv2,conv3"))
    assert laws == 0


SCALAR_RESNET = ("input: 1\nlayers:\n"
                 "  - residual: [{linear: {out: 1, name: v}}, relu, {linear: {out: 1, name: u}}]\n"
                 "  - residual: [{linear: {out: 1, name: t}}, relu, {linear: {out: 1, name: s}}]\n")


def test_scalar_two_block_resnet_has_two_laws_at_a_generic_point(write):
    # Marcotte et al. 2025, Ex. 4.8: x + uσ(vx) + sσ(t(x + uσ(vx))): u² − v² and s² − t² at a generic point;
    # the third law the paper finds lives on the domain sgn t = sgn v = sgn u (README)
    path = write(SCALAR_RESNET)
    graph = analysis.load_graph(path)
    assert analysis.count(path).laws == 2
    assert blocks.block_laws(full_path_lifting(graph), set(range(4)))[0] == 2
    laws = analysis.laws(path)
    assert laws.complete and [n for _, n in laws.families] == [1, 1]


@pytest.mark.parametrize("width", [2, 3])
def test_two_block_resnets_with_vector_inputs_have_only_block_laws(write, width):
    # Marcotte et al. 2025, §4.4: for input dimension > 1, no law beyond the block laws (full path lifting)
    text = (f"input: {width}\nlayers:\n"
            f"  - residual: [{{linear: {{out: 3}}}}, relu, {{linear: {{out: {width}}}}}]\n"
            f"  - residual: [{{linear: {{out: 2}}}}, relu, {{linear: {{out: {width}}}}}]\n")
    graph = analysis.load_graph(write(text))
    full = full_path_lifting(graph)
    total = len(full.variables) - engine.trace_dimension(full).dimension
    per_block = [blocks.block_laws(full, blocks.resolve(graph, name))[0] for name in ("residual1", "residual2")]
    assert per_block == [3, 2] and total == sum(per_block)


def test_cli_block_and_per_block():
    path = str(ROOT / "architectures/resnet.yaml")
    result = runner.invoke(app, ["count", path, "--block", "residual1,softmax_head1", "--expect", "11"])
    assert result.exit_code == 0 and "resnet [residual1,softmax_head1]" in result.stdout
    table = runner.invoke(app, ["count", path, "--per-block"]).stdout
    assert "laws not attached to a single block" in table and "residual2" in table
    bad = runner.invoke(app, ["count", path, "--block", "reslab1"])
    assert bad.exit_code == 2 and "did you mean 'residual1'?" in bad.stderr
    laws = runner.invoke(app, ["laws", path, "--block", "softmax_head1"]).stdout
    assert "8 laws = column sums" in laws
