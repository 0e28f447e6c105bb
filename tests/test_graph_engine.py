"""The graph engine against the expanded-φ engine (the test oracle), and its certificates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import mlp_yaml
from conslaw_cli import analysis
from conslaw_cli.counting import expanded_phi as engine
from conslaw_cli.counting import gf
from conslaw_cli.counting import lie

from conslaw_cli.lawfinding.families import candidate_families
from conslaw_cli.counting.graph import certificate
from conslaw_cli.counting.graph.blocks import blocks_of, global_of_local, tensor_offsets
from conslaw_cli.counting.graph.count import trace_graph
from conslaw_cli.counting.graph.sum_zero import linear_twin
from conslaw_cli.lawfinding.system import Family

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _layer(kind: str, width: int) -> str:
    return {"linear": f"  - linear: {{out: {width}}}", "linear_bias": f"  - linear: {{out: {width}, bias: true}}",
            "relu": "  - relu", "abs": "  - abs", "tanh": "  - tanh", "identity": "  - identity"}[kind]


@st.composite
def vector_networks(draw):
    """Random small vector networks of every plain layer kind, optionally in residual blocks (identity
    or projection shortcuts) or ending in a softmax head."""
    width = draw(st.integers(2, 3))
    kinds = draw(st.lists(st.sampled_from(["linear", "linear_bias", "relu", "abs", "tanh", "identity"]),
                          min_size=1, max_size=5))
    lines = [f"input: {width}", "layers:"] + [_layer(k, width) for k in kinds]
    for _ in range(draw(st.integers(0, 2))):  # after a relu: lifted inline; with a relu after the add
        if draw(st.booleans()):  # identity skip
            lines += ["  - residual:", "    - linear: {out: %d}" % width, "    - relu", "    - linear: {out: %d}" % width]
        else:  # projection shortcut to a new width
            out = draw(st.integers(2, 3))
            lines += ["  - residual:", "      shortcut: linear", "      layers:", "      - linear: {out: %d}" % width,
                      "      - relu", "      - linear: {out: %d}" % out]
            width = out
        if draw(st.booleans()):
            lines.append("  - relu")
    if draw(st.booleans()):
        lines.append(f"  - softmax_head: {{classes: {draw(st.integers(2, 3))}}}")
    return "\n".join(lines) + "\n"


@st.composite
def token_and_conv_networks(draw):
    """Attention (one or two heads, with residuals and token MLPs) and 1-D/2-D convolutions."""
    if draw(st.booleans()):
        heads = draw(st.integers(1, 2))
        attention = f"attention: {{heads: {heads}, head_dim: {draw(st.integers(1, 2))}}}"
        if draw(st.booleans()):  # behind a skip
            body = ["input: {tokens: 2, dim: 2}", "layers:", "  - residual:", f"    - {attention}"]
        else:  # composed with what follows (values contracted with the next layers)
            body = ["input: {tokens: 2, dim: 2}", "layers:", f"  - {attention}"]
            # (values through a flatten need per-token sources: the expanded engine takes those)
            body += draw(st.sampled_from([[], ["  - linear: {out: 2}"], ["  - linear: {out: 3, bias: true}", "  - relu",
                                                                        "  - linear: {out: 1}"]]))
        if draw(st.booleans()) and not any("out: 1" in line for line in body):
            body += ["  - residual:", "    - linear: {out: 3}", "    - relu", "    - linear: {out: 2}"]
        return "\n".join(body) + "\n"
    image = draw(st.booleans())
    shape = "{channels: 2, height: 3, width: 3}" if image else "{channels: 2, length: 4}"
    padding = draw(st.sampled_from(["circular", "valid"]))
    bias = str(draw(st.booleans())).lower()
    return (f"input: {shape}\nlayers:\n  - conv: {{out_channels: 2, kernel_size: 2, padding: {padding}, bias: {bias}}}\n"
            f"  - {draw(st.sampled_from(['relu', 'tanh', 'identity']))}\n"
            f"  - conv: {{out_channels: 2, kernel_size: 2, padding: {padding}}}\n")


def _dense_dimension(graph, seed: int = 5) -> int:
    """dim Lie(V)(θ) from the graph engine's dense traces alone: no certificate, no ceiling."""
    rng = gf.Residues(seed, 0)
    return sum(mult * lie.block_trace(block.fields, rng).dims[-1] for block, mult in blocks_of(graph))


@SETTINGS
@given(text=st.one_of(vector_networks(), token_and_conv_networks()))
def test_graph_engine_agrees_with_the_expanded_engine(tmp_path, text):
    # the expanded-φ engine is the oracle: both compute dim Lie(span ∇φ_i)(θ) for the same φ, the
    # graph engine as it counts (blocks proved by checked family laws) and by dense traces alone
    path = tmp_path / "net.yaml"
    path.write_text(text)
    graph, phi = analysis.load(path)
    expanded = engine.trace_dimension(phi, seed=5).dimension if phi.components else 0
    assert trace_graph(graph, seed=5).dimension == _dense_dimension(graph) == expanded, text


@pytest.mark.parametrize("widths,bias", [((3, 4, 3), True), ((2, 3, 3, 2), False), ((4, 3, 3, 3, 2), True)])
def test_certificate_meets_on_relu_mlps(tmp_path, widths, bias):
    # laws = one per hidden neuron (Marcotte, Gribonval, Peyré 2023, eq. (13), App. I); the
    # certificate must reach it from both sides, and agree with the dense engine
    path = tmp_path / "mlp.yaml"
    path.write_text(mlp_yaml(widths, "relu", bias))
    graph = analysis.load_graph(path)
    cert = _certificate(graph)
    assert cert.exact and cert.family_laws == sum(widths[1:-1])
    assert cert.peeled_rank == _dense_dimension(graph)


def test_certificate_meets_on_a_conv_relu_block(tmp_path):
    # one law per hidden channel (Marcotte, Gribonval, Peyré 2025, Thm 3.6)
    path = tmp_path / "conv.yaml"
    path.write_text("input: {channels: 2, height: 4, width: 4}\nlayers:\n  - conv: {out_channels: 3, kernel_size: 3}\n"
                    "  - relu\n  - conv: {out_channels: 2, kernel_size: 3}\n")
    cert = _certificate(analysis.load_graph(path))
    assert cert.exact and cert.family_laws == 3


def test_a_wrong_family_law_is_rejected(tmp_path):
    # flip one sign of a rescaling law: ‖W1[0]‖² + ‖W2[:,0]‖² is not conserved
    path = tmp_path / "mlp.yaml"
    path.write_text(mlp_yaml((3, 4, 2), "relu"))
    graph = analysis.load_graph(path)
    family = candidate_families(graph)[0]
    wrong = Family("wrong", "", [{m: abs(c) for m, c in family.entries[0].items()}])
    with pytest.raises(AssertionError, match="fails the field check"):
        _certificate(graph, [wrong])


def test_peeling_counts_a_triangular_system_and_stops_on_a_cycle():
    # rows {0,1}, {1,2}, {2}: triangular, rank 3; rows {0,1}, {1,2}, {2,0}: every column is shared
    assert certificate.peel(np.array([[0, 1], [1, 2], [2, -1]]), 3)[0] == 3
    assert certificate.peel(np.array([[0, 1], [1, 2], [2, 0]]), 3)[0] == 0


def test_the_huge_linear_layer_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("input: 100000\nlayers:\n  - linear: {out: 100000}\n")
    with pytest.raises(Exception, match="too large: 10,000,000,000 parameters"):  # the graph builder's limit
        analysis.count(path)


def _certificate(graph, families=None):
    (block, _), = [(b, m) for b, m in blocks_of(graph) if b.layers is not None]
    families = candidate_families(graph) if families is None else families
    rng = gf.Residues(1)
    return certificate.certify(block.fields.program, block.layers, block.local,
                               global_of_local(block, tensor_offsets(graph)), families, rng, block.fields.degree)


def test_laws_from_the_certificates_are_the_checked_laws(tmp_path):
    # ReLU 3-4-4-2 with biases: one law per hidden neuron, 8 (Marcotte, Gribonval, Peyré 2023,
    # eq. (13)). The count's certificate checks every rescaling family, so `laws` does not check
    # them again (count not given); given the count, they are checked: the same laws either way
    path = tmp_path / "mlp.yaml"
    path.write_text(mlp_yaml((3, 4, 4, 2), "relu", True))
    assert trace_graph(analysis.load_graph(path)).families_proved
    proved, checked = analysis.family_laws(path), analysis.family_laws(path, count=8)
    assert [law.poly for law in proved.laws] == [law.poly for law in checked.laws] and len(proved.laws) == 8
    # a network whose blocks are not all certified (attention) checks its families
    path.write_text("input: {tokens: 2, dim: 2}\nlayers:\n  - attention: {head_dim: 1}\n")
    assert not trace_graph(analysis.load_graph(path)).families_proved


SOFTMAX_MLP = mlp_yaml((784, 128, 64), "relu", bias=True) + "  - relu\n  - softmax_head: {classes: 10}\n"


def test_a_softmax_head_is_certified_like_its_linear_twin(tmp_path):
    # ReLU 784-128-64 (biases) + softmax head of 10 classes: one rescaling law per hidden neuron,
    # 128 + 64 (Marcotte, Gribonval, Peyré 2023, eq. (13)), and the 64 column sums of the head
    # (Marcotte et al. 2025, Prop 3.11, Cor 2.8): 256 laws, every block certified (no dense rank)
    path = tmp_path / "mnist_softmax.yaml"
    path.write_text(SOFTMAX_MLP)
    result = analysis.count(path)
    assert result.laws == 256 and result.certified_blocks == result.blocks == 1
    # the laws: the named families, checked against the fields of φ with its sum-zero projection;
    # the 64 linear laws have 64·65/2 independent products of degree 2
    laws = analysis.family_laws(path)
    assert laws.explained_by_families and len(laws.laws) == 256 and laws.products == 64 * 65 // 2
    assert sum(law.degree == 1 for law in laws.laws) == 64


def test_a_lenet_with_a_softmax_head_is_certified(tmp_path):
    # conv 6 5x5 valid, relu, conv 16 5x5 stride 2, relu, flatten, linear 120, relu, linear 84,
    # relu, softmax head 10 on 1x28x28: one law per hidden channel (6 + 16, Marcotte et al. 2025,
    # Thm 3.6) and per hidden neuron (120 + 84), plus the head's 84 column sums (Cor 2.8): 310
    path = tmp_path / "lenet.yaml"
    path.write_text("input: {channels: 1, height: 28, width: 28}\nlayers:\n"
                    "  - conv: {out_channels: 6, kernel_size: 5, padding: valid}\n  - relu\n"
                    "  - conv: {out_channels: 16, kernel_size: 5, stride: 2, padding: valid}\n  - relu\n"
                    "  - flatten\n  - linear: {out: 120}\n  - relu\n  - linear: {out: 84}\n  - relu\n"
                    "  - softmax_head: {classes: 10}\n")
    result = analysis.count(path)
    assert result.laws == 310 and result.certified_blocks == result.blocks


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_the_linear_twin_has_the_dimension_of_the_softmax_network(tmp_path, classes):
    # the twin's dim Lie(V) against the dense trace of the softmax network itself (its fields
    # through the sum-zero projection, no twin), and against the expanded-φ engine
    path = tmp_path / "net.yaml"
    path.write_text(mlp_yaml((4, 3, 3), "relu", bias=True) + f"  - relu\n  - softmax_head: {{classes: {classes}}}\n")
    graph, phi = analysis.load(path)
    twin = linear_twin(graph)
    assert twin.num_params == graph.num_params - 3 and twin.layers[-1].params["weight"] == (classes - 1, 3)
    assert trace_graph(graph, seed=3).dimension == _dense_dimension(graph) \
        == engine.trace_dimension(phi, seed=3).dimension


TINY_RESNET = """input: {channels: 2, length: 5}
layers:
  - conv: {out_channels: 2, kernel_size: 3}
  - relu
  - residual:
    - conv: {out_channels: 3, kernel_size: 3}
    - relu
    - conv: {out_channels: 2, kernel_size: 3}
  - relu
  - residual:
    - conv: {out_channels: 3, kernel_size: 3}
    - relu
    - conv: {out_channels: 2, kernel_size: 3}
  - relu
"""


def _resnet_stage(channels: int, size: int, blocks: int) -> str:
    """A conv stem + relu, `blocks` residual blocks [conv, relu, conv] each with a ReLU after the
    add, flatten, softmax head of 10 classes, on 3 x size x size."""
    lines = [f"input: {{channels: 3, height: {size}, width: {size}}}", "layers:",
             f"  - conv: {{out_channels: {channels}, kernel_size: 3}}", "  - relu"]
    for _ in range(blocks):
        lines += ["  - residual:", f"    - conv: {{out_channels: {channels}, kernel_size: 3}}", "    - relu",
                  f"    - conv: {{out_channels: {channels}, kernel_size: 3}}", "  - relu"]
    return "\n".join(lines + ["  - flatten", "  - softmax_head: {classes: 10}"]) + "\n"


@pytest.mark.parametrize("readout,laws", [("", 6), ("  - flatten\n  - linear: {out: 2}\n", 8)])
def test_a_relu_after_the_add_is_certified_with_the_stream_laws(tmp_path, readout, laws):
    # per body channel one rescaling law (3 + 3, Marcotte, Gribonval, Peyré 2025, Thm 3.6); with a
    # readout, one more per stream channel (2): the stem's channel rescaled with every block's
    # output channel through the skips. Counts from the dense trace (no certificate), and from the
    # expanded-φ engine without the readout (with it φ has 363,000 components: 20 s)
    path = tmp_path / "resnet.yaml"
    path.write_text(TINY_RESNET + readout)
    graph = analysis.load_graph(path)
    result = trace_graph(graph, seed=2)
    assert graph.num_params - result.dimension == laws and result.certified == result.num_blocks == 1
    assert result.dimension == _dense_dimension(graph)
    if not readout:
        assert result.dimension == engine.trace_dimension(analysis.load(path)[1], seed=2).dimension
    streams = [f for f in candidate_families(graph) if "per stream channel" in f.name]
    assert len(streams) == (1 if readout else 0) and (not streams or len(streams[0].entries) == 2)


def test_a_resnet_stage_is_certified_at_scale(tmp_path):
    # the 4-channel stage on 6x6 against the dense trace (independent); the 16-channel stage on
    # 32x32 (D = 178,096) from the same families: 16 per body (Thm 3.6) x 3, 16 stream laws, and
    # 16·32·32 column sums of the head (Marcotte et al. 2025, Cor 2.8)
    small = tmp_path / "small.yaml"
    small.write_text(_resnet_stage(4, 6, 2))
    graph = analysis.load_graph(small)
    assert trace_graph(graph).dimension == _dense_dimension(linear_twin(graph)) == graph.num_params - 156
    large = tmp_path / "large.yaml"
    large.write_text(_resnet_stage(16, 32, 3))
    result = analysis.count(large)
    assert result.laws == 48 + 16 + 16 * 32 * 32 and result.certified_blocks == result.blocks == 1


def test_a_circular_kernel_longer_than_its_input_is_not_taken_for_single_paths(tmp_path):
    # kernel 3 on length 2, circular: offsets −1 and +1 read the same input unit, so an edge's
    # weight is a sum of two filter entries. The sparse certificate assumed one weight per edge
    # and counted 2 laws; the expanded-φ engine (independent) and the dense trace count 6
    path = tmp_path / "wrap.yaml"
    path.write_text("input: {channels: 1, length: 2}\nlayers:\n  - conv: {out_channels: 2, kernel_size: 3}\n"
                    "  - relu\n  - conv: {out_channels: 1, kernel_size: 3}\n")
    graph, phi = analysis.load(path)
    expanded = engine.trace_dimension(phi, seed=1).dimension
    assert graph.num_params - expanded == 6 and trace_graph(graph, seed=1).dimension == expanded


PROJECTION = """\
input: {channels: 1, height: 4, width: 4}
layers:
  - conv: {out_channels: 2, kernel_size: 2}
  - relu
  - residual:
      layers: [{conv: {out_channels: 2, kernel_size: 2, stride: 2}}, relu, {conv: {out_channels: 2, kernel_size: 2}}]
      shortcut: conv
  - relu
  - flatten
  - linear: {out: 2}
"""


def test_a_projection_shortcut_is_certified_with_the_streams_it_ends_and_starts(tmp_path):
    # 6 laws, each a rescaling (Marcotte, Gribonval, Peyré 2025, Thm 3.6, the shortcut's weights
    # as edges): 2 stem channels against the body's first conv and the 1x1 shortcut, 2 hidden
    # channels of the body, 2 channels the body and shortcut write against the readout. The
    # expanded-φ engine and the dense trace (both independent of the certificate) agree
    path = tmp_path / "projection.yaml"
    path.write_text(PROJECTION)
    graph, phi = analysis.load(path)
    assert [l.name for _, l in graph.walk() if l.kind == "conv"][-1] == "residual1_shortcut"
    result = trace_graph(graph, seed=3)
    assert graph.num_params - result.dimension == 6 and result.certified == result.num_blocks == 1
    assert result.dimension == _dense_dimension(graph) == engine.trace_dimension(phi, seed=3).dimension
    assert phi.rich  # one path-lifting piece: the block is lifted inline after the stem's relu
    streams = [f for f in candidate_families(graph) if "per stream channel" in f.name]
    assert [len(f.entries) for f in streams] == [2, 2]


def test_a_resnet_with_two_stages_is_certified(tmp_path):
    # stem 2 channels, an identity block, a stride-2 projection block to 3 channels, an identity
    # block, softmax head; laws from the families, counted against the dense trace of the
    # linear twin (independent of the certificate): 2 + 3 + 3 hidden channels, the stream of 2
    # channels through block 1 into block 2, the stream of 3 through block 3 into the head, and
    # 3·2·2 column sums of the head (Marcotte et al. 2025, Cor 2.8): 25
    path = tmp_path / "two_stages.yaml"
    path.write_text("""\
input: {channels: 2, height: 4, width: 4}
layers:
  - conv: {out_channels: 2, kernel_size: 3}
  - relu
  - residual: [{conv: {out_channels: 2, kernel_size: 3}}, relu, {conv: {out_channels: 2, kernel_size: 3}}]
  - relu
  - residual:
      layers: [{conv: {out_channels: 3, kernel_size: 3, stride: 2}}, relu, {conv: {out_channels: 3, kernel_size: 2}}]
      shortcut: conv
  - relu
  - residual: [{conv: {out_channels: 3, kernel_size: 2}}, relu, {conv: {out_channels: 3, kernel_size: 2}}]
  - relu
  - flatten
  - softmax_head: {classes: 3}
""")
    graph = analysis.load_graph(path)
    result = trace_graph(graph)
    assert graph.num_params - result.dimension == 25 and result.certified == result.num_blocks == 1
    assert result.dimension == _dense_dimension(linear_twin(graph))


def test_a_resnet20_shape_is_certified(tmp_path):
    # D = 311,216; laws = 336 hidden body channels (3·16 + 3·32 + 3·64, Marcotte et al. 2025,
    # Thm 3.6) + 16 + 32 + 64 stream channels (rescalings through the skips, ended and restarted
    # by each projection) + 64·8·8 column sums of the head (Cor 2.8) = 4,544; the same families on
    # two stages are checked against the dense trace above
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    from run import RESNET20
    path = tmp_path / "resnet20.yaml"
    path.write_text(RESNET20)
    result = analysis.count(path)
    assert result.laws == 336 + 16 + 32 + 64 + 4096 and result.certified_blocks == result.blocks == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-2, 4), min_size=3, max_size=3), max_size=40))
def test_distinct_rows_keeps_each_row_once_in_first_appearance_order(rows):
    # the candidate paths are deduplicated by a hash sort; numpy's row-unique is the oracle
    array = np.array(rows, dtype=np.int64).reshape(-1, 3)
    got = certificate.distinct_rows(array)
    expected = [tuple(r) for r in dict.fromkeys(map(tuple, array.tolist()))]  # first appearances, in order
    assert [tuple(r) for r in got.tolist()] == expected
    assert len(got) == len(np.unique(array, axis=0))
