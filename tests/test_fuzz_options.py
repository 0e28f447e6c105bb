"""The options of every engine under random values (issue 27): `count --flow sign`, `--per-block`,
`--block`, `--max-block`, `--max-seconds`, `phi -c/--max-terms` and `verify`'s training options,
on small random networks, each run under a cap of its own: 60 s of wall time and 3 GB of address
space beyond what the test process already holds. Each run must succeed, fail a check (exit 1,
verify only) or refuse with a message (exit 2), never print a traceback, never need more time
or memory than its cap, and never say "internal error"."""

from __future__ import annotations

import contextlib
import re
import resource
import signal

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conslaw_cli.cli import app

SECONDS_PER_RUN = 60
BYTES_PER_RUN = 3 * 2**30
runner = CliRunner()


class RunTooLong(Exception):
    """A run went over SECONDS_PER_RUN."""


def _address_space() -> int:
    with open("/proc/self/status") as status:
        return int(re.search(r"VmSize:\s+(\d+)", status.read()).group(1)) * 1024


@contextlib.contextmanager
def capped():
    """Run the block with at most SECONDS_PER_RUN seconds and BYTES_PER_RUN more address space
    (an allocation beyond it fails, as under `ulimit -v`)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)

    def too_long(signum, frame):
        raise RunTooLong(f"over {SECONDS_PER_RUN} s")

    previous = signal.signal(signal.SIGALRM, too_long)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + BYTES_PER_RUN, hard))
    signal.alarm(SECONDS_PER_RUN)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)


def assert_answers_within_caps(args: list[str], allowed: tuple[int, ...]) -> None:
    with capped():
        result = runner.invoke(app, args)
    assert isinstance(result.exception, (SystemExit, type(None))), (args, repr(result.exception))
    text = result.output + result.stderr
    assert "Traceback" not in text and "internal error" not in text, (args, text)
    assert result.exit_code in allowed, (args, result.exit_code, result.stderr)
    if result.exit_code == 2:
        assert result.stderr.strip(), args


size = st.integers(1, 3)
layer = st.one_of(
    st.sampled_from(["relu", "tanh", "abs", "identity"]),
    st.builds(lambda n, bias: {"linear": {"out": n, "bias": bias}}, size, st.booleans()),
)
body = st.lists(layer, min_size=1, max_size=3)
network = st.builds(lambda n, layers, tail: {"input": n, "layers": [{"linear": {"out": 2}}] + layers + tail},
                    size, st.lists(st.one_of(layer, st.builds(lambda b: {"residual": b}, body)), min_size=1, max_size=4),
                    st.sampled_from([[], [{"linear": {"out": 2}}], [{"softmax_head": {"classes": 2}}]]))

odd_int = st.sampled_from(["0", "-1", "1", "2", "7", "1e3", "99999999999999999999", "x"])
odd_float = st.sampled_from(["0", "-1", "1e-3", "0.5", "1e10", "1e308", "nan", "inf", "-inf", "x"])
name = st.sampled_from(["linear1", "residual1", "linear1.weight", "nope", "", ","])
count_options = st.one_of(
    st.just(["--flow", "sign"]), st.just(["--per-block"]),
    st.builds(lambda n: ["--block", n], name), st.builds(lambda n: ["--max-block", n], odd_int),
    st.builds(lambda s: ["--flow", "sign", "--max-seconds", s], odd_float),
    st.builds(lambda s: ["--max-seconds", s], odd_float),
)
phi_options = st.one_of(st.builds(lambda n: ["-c", n], odd_int), st.builds(lambda n: ["--max-terms", n], odd_int))
engine_command = st.one_of(st.builds(lambda o: ["count", *o], count_options), st.builds(lambda o: ["phi", *o], phi_options))
VALID_TRAINING = {"--steps": ["1", "2"], "--seeds": ["1", "2"], "--lr": ["1e-3", "0.5", "1e10"],
                  "--batch": ["1", "4"], "--optimizer": ["gd", "sgd", "adam", "sign", "momentum"],
                  "--weight-decay": ["0", "0.1"]}
ODD_TRAINING = {"--steps": ["0", "-3", "99999999999999999999"], "--seeds": ["0", "101"], "--batch": ["0", "1e9"],
                "--lr": ["0", "-1", "1e308", "nan", "inf"], "--optimizer": ["newton"], "--weight-decay": ["-1", "inf"]}


def _training_args(valid: dict, odd: tuple | None) -> list[str]:
    options = valid | dict([odd] if odd else [])
    return ["verify", *(part for option, value in options.items() for part in (option, value))]


training_command = st.builds(  # valid options, one of them replaced by an odd value in half the runs
    _training_args, st.fixed_dictionaries({option: st.sampled_from(values) for option, values in VALID_TRAINING.items()}),
    st.one_of(st.none(), st.sampled_from([(option, value) for option, values in ODD_TRAINING.items() for value in values])))



def examples(count: int) -> settings:
    return settings(max_examples=count, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@examples(60)
@given(doc=network, command=engine_command)
def test_engine_options_answer_within_their_caps(tmp_path, doc, command):
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert_answers_within_caps([command[0], str(path), *command[1:]], allowed=(0, 2))


@examples(16)
@given(doc=network, command=training_command)
def test_verify_options_answer_within_their_caps(tmp_path, doc, command):
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert_answers_within_caps([command[0], str(path), *command[1:]], allowed=(0, 1, 2))
