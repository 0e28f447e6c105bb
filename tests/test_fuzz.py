"""No input makes conslaw print a traceback: every command either succeeds or exits 2 with a
`FILE:LINE:COL: message`. Two sources of input: a fixed corpus of mutated zoo files (broken YAML
text) and hypothesis-generated YAML trees (valid and invalid architectures). Sizes stay small
(at most 3), which keeps every valid network tiny: that is the memory cap of these tests."""

from __future__ import annotations

import random
import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conslaw_cli.cli import app
from conslaw_cli.spec import ACTIVATIONS, LAYER_KINDS, LAYER_OPTIONS

ZOO = Path(__file__).parent.parent / "architectures"
SMALL_ZOO = ("mlp_linear", "mlp_relu", "resnet_block", "conv_relu", "softmax_head", "attention")
COMMANDS = ("count", "show", "phi", "laws", "report")
NASTY = ["[", "]", "{", "}", "&a ", "*a", "*b", "!!int ", "!foo ", "\t", ":", ": ", "- ", "~", "1e999", "-1", "0",
         "\x00", "\u202e", "é", '"', "'", "#", "\n  ", "\n- ", "?", "|", ">", "%", "@", "`", "\x1b[31m", "\ud800"]
runner = CliRunner()


def assert_succeeds_or_refuses(command: str, path: Path) -> None:
    result = runner.invoke(app, [command, str(path)])
    assert isinstance(result.exception, (SystemExit, type(None))), (command, repr(result.exception))
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code in (0, 2), (command, result.exit_code, result.stderr)
    if result.exit_code == 2:
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", result.stderr), (command, result.stderr)


def mutants(count: int, seed: int = 10) -> list[str]:
    """Zoo files cut, spliced, with lines dropped or doubled and nasty strings inserted."""
    rng = random.Random(seed)
    sources = [(ZOO / f"{name}.yaml").read_text() for name in SMALL_ZOO]
    out = []
    for _ in range(count):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 3)):
            cut = rng.randrange(len(text) + 1)
            action = rng.randrange(4)
            if action == 0:
                text = text[:cut]
            elif action == 1:
                text = text[:cut] + rng.choice(NASTY) + text[cut:]
            elif action == 2:
                lines = text.splitlines(keepends=True)
                if lines:
                    del lines[rng.randrange(len(lines))]
                text = "".join(lines)
            else:
                line = text[:cut].rsplit("\n", 1)[-1]
                text = text[:cut] + "\n" + line + text[cut:]
        out.append(text)
    return out


def test_fuzz_corpus_through_every_command(tmp_path):
    for i, text in enumerate(mutants(15)):
        path = tmp_path / f"mutant{i}.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        for command in COMMANDS:
            assert_succeeds_or_refuses(command, path)


# --- hypothesis: random YAML trees --------------------------------------------------------------

small_size = st.integers(1, 3)
odd_value = st.sampled_from([0, -1, 2.5, "3", "x", None, True, [], {}, [1, 2], [1, 2, 3], ".nan", 10**30, "relu"])
size = st.one_of(small_size, odd_value)
name = st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), st.text(max_size=4), st.sampled_from(LAYER_KINDS))
option_names = sorted({option for options in LAYER_OPTIONS.values() for option in options} | {"bogus"})
option_value = st.one_of(size, st.booleans(), name, st.sampled_from(["circular", "valid", "same", 0.01, 1, 0]))

valid_layer = st.one_of(  # layers that fit any vector or token input
    st.sampled_from(ACTIVATIONS),
    st.builds(lambda n, bias: {"linear": {"out": n, "bias": bias}}, small_size, st.booleans()),
    st.builds(lambda slope: {"leaky_relu": {"slope": slope}}, st.sampled_from([0, 1, 0.5, -1])),
    st.builds(lambda n: {"attention": {"head_dim": n}}, small_size),
    st.builds(lambda n, k: {"conv": {"out_channels": n, "kernel_size": k}}, small_size, small_size),
)
noisy_layer = st.one_of(
    st.sampled_from(LAYER_KINDS + ("softmax", "reul")),
    st.builds(lambda kind, options: {kind: options}, st.sampled_from(LAYER_KINDS),
              st.dictionaries(st.sampled_from(option_names), option_value, max_size=3)),
)


def layer_lists(child):
    """Lists of mostly valid layers, some noise, and residual blocks whose bodies are `child`."""
    residual = st.one_of(st.builds(lambda body: {"residual": body}, child),
                         st.builds(lambda body, n: {"residual": {"layers": body, "name": n}}, child, name))
    return st.lists(st.one_of(valid_layer, valid_layer, valid_layer, noisy_layer, residual), min_size=1, max_size=4)


layer_tree = st.recursive(st.lists(valid_layer, min_size=1, max_size=3), layer_lists, max_leaves=8)
input_spec = st.one_of(
    small_size, small_size,
    st.builds(lambda c, n: {"channels": c, "length": n}, small_size, small_size),
    st.builds(lambda n, e: {"tokens": n, "dim": e}, small_size, small_size),
    size,
    st.dictionaries(st.sampled_from(["channels", "length", "height", "width", "tokens", "dim", "features"]), size,
                    min_size=1, max_size=3),
)
architecture = st.fixed_dictionaries({"input": input_spec, "layers": layer_tree},
                                     optional={"name": name.filter(bool), "description": st.text(max_size=8)})
junk = st.recursive(st.one_of(size, name), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["input", "layers", "name", "layer"]), inner, max_size=3),
                    max_leaves=6)
document = st.one_of(architecture, architecture, architecture, junk)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                                    HealthCheck.too_slow])
@given(doc=document, command=st.sampled_from(COMMANDS))
def test_random_yaml_trees_succeed_or_refuse_with_a_location(tmp_path, doc, command):
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert_succeeds_or_refuses(command, path)
