"""The command line, driven through typer's CliRunner."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from conslaw_cli.cli import app

ROOT = Path(__file__).parent.parent
runner = CliRunner()


def test_count_table_on_a_file():
    result = runner.invoke(app, ["count", str(ROOT / "architectures/resnet_block.yaml")])
    assert result.exit_code == 0, result.output
    assert "resnet_block" in result.stdout and re.search(r"│ 44 +│ +4 │ exact", result.stdout)
    # a conv-ReLU-conv segment: sandwich bounds (peeled rank 44, one rescaling law per channel) meet
    assert "1 of 1 blocks proved once (sandwich bounds" in result.stdout and "Schwartz–Zippel" in result.stdout


def test_count_json_fields():
    files = [str(ROOT / "architectures/mlp_linear.yaml"), str(ROOT / "architectures/mlp_relu.yaml")]
    result = runner.invoke(app, ["count", *files, "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [d["name"] for d in data] == ["mlp_linear", "mlp_relu"]
    first = data[0]
    assert first["schema"] == 1 and first["file"] == files[0]
    # linear 3-4-2: the Gram laws of the hidden layer (r(r+1)/2 = 10, Marcotte et al. 2023, Cor 4.4) set
    # the ceiling D − 10 = 10, which the trace reaches at bracket level 1 (no probe of level 2)
    assert (first["parameters"], first["phi_components"], first["trace_dims"], first["laws"]) == (20, 6, [6, 10], 10)
    assert first["seconds"] >= 0 and first["exact"] is True and first["certified_blocks"] == 1
    # its one block is proved by the checked laws: the check is all the error, and it is done once
    assert 0 < first["check_error_bound"] == first["error_bound"] == first["wrong_count_bound"] < 1e-12


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
    header = next(line for line in result.stdout.splitlines() if "layer" in line and "kind" in line)
    assert "parameter tensors" in header and "count" not in header  # a parameter count, not a law count


def test_phi_summary_and_components():
    result = runner.invoke(app, ["phi", str(ROOT / "architectures/mlp_linear.yaml"), "-c", "2"])
    assert result.exit_code == 0
    assert "6 components in 20 variables" in result.stdout
    assert "φ_1 = linear1.weight[0,0]*linear2.weight[0,0]" in result.stdout
    latex = runner.invoke(app, ["phi", str(ROOT / "architectures/mlp_linear.yaml"), "-c", "1", "--latex"])
    assert r"\mathrm{linear1.weight}_{0,0}" in latex.stdout


def run_conslaw(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """conslaw in its own process, stdout and stderr piped (not terminals), as in CI."""
    return subprocess.run([sys.executable, "-c", "from conslaw_cli.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL)


def test_phi_says_lower_bound_once_with_its_reason(tmp_path):
    path = tmp_path / "tanh.yaml"
    path.write_text("input: 3\nlayers:\n  - linear: {out: 2}\n  - tanh\n  - linear: {out: 2}\n")
    result = runner.invoke(app, ["phi", str(path)])
    assert result.exit_code == 0, result.output
    assert "count: lower bound: smooth activations (tanh) cut the paths" in result.stdout
    assert result.stdout.count("lower bound") == 2  # the piece's backing column and the status line
    rich = runner.invoke(app, ["phi", str(ROOT / "architectures/conv_relu.yaml")])
    assert "count: exact (φ is rich): Marcotte et al. 2025, Thm 3.6 (conv)" in rich.stdout


def test_block_count_of_a_residual_block_is_exact_and_says_what_is_exact():
    # Marcotte et al. 2025, Thm 4.6: the laws on one residual block are those of the block alone; here a
    # conv ReLU block with 3 hidden channels, so 3 laws (Marcotte et al. 2025, Thm 3.6)
    result = runner.invoke(app, ["count", str(ROOT / "architectures/resnet.yaml"), "--block", "residual1", "--json"])
    data = json.loads(result.stdout)[0]
    assert (data["laws"], data["exact"]) == (3, True)
    table = runner.invoke(app, ["count", str(ROOT / "architectures/resnet.yaml"), "--block", "residual1"]).stdout
    assert "│ exact " in table and "lower bound" not in table.split("exact ranks")[0]
    assert "[residual1]: the laws that depend only on these parameters" in table
    # two layers on either side of a skip span two pieces: no theorem, a lower bound
    across = runner.invoke(app, ["count", str(ROOT / "architectures/resnet.yaml"), "--block", "conv2,conv3", "--json"])
    assert json.loads(across.stdout)[0]["exact"] is False


def test_count_footer_gives_the_reason_of_each_status(tmp_path):
    result = runner.invoke(app, ["count", str(ROOT / "architectures/multihead_attention.yaml")])
    assert "multihead_attention: exact (certified): the 12 laws of φ are laws of the network" in result.stdout
    wide = tmp_path / "wide_tanh.yaml"  # too many parameters for the ball-arithmetic certificate
    wide.write_text("input: 30\nlayers:\n  - linear: {out: 30}\n  - tanh\n  - linear: {out: 30}\n")
    result = runner.invoke(app, ["count", str(wide)])
    assert "wide_tanh: lower bound: smooth activations (tanh)" in result.stdout
    assert "no upper bound: tanh is not piecewise polynomial, and D = 1,800 is more than" in result.stdout


def _unwrapped_help(command: str) -> str:
    return " ".join(runner.invoke(app, [command, "--help"]).stdout.split())


def _modules_loaded_by(args: list[str], modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh process running `conslaw ARGS` has loaded when it is done."""
    probe = ("import sys\nfrom conslaw_cli.cli import app\ntry:\n    app(sys.argv[2:], prog_name='conslaw')\n"
             "except SystemExit:\n    pass\n"
             "print(' '.join(m for m in sys.argv[1].split(',') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe, ",".join(modules), *args], capture_output=True, text=True,
                            timeout=120)
    return loaded.stdout.splitlines()[-1].split()


def test_version_and_help_are_clean_and_do_not_load_the_engine():
    version = run_conslaw("--version")
    assert version.returncode == 0 and re.fullmatch(r"conslaw \d+\.\d+\.\d+\n", version.stdout)
    assert _modules_loaded_by(["--help"], ("numpy", "numba", "flint", "sympy")) == []
    for command in ("count", "laws", "report", "show", "phi"):
        text = runner.invoke(app, [command, "--help"]).stdout
        assert "<bool>" not in text and "<list" not in text and "<path>" not in text and "{file}" not in text
        assert "Examples:" in text and "Exit codes: 0 success" in text, command
    assert " count [OPTIONS] [FILE…]\n" in runner.invoke(app, ["count", "--help"]).stdout
    assert " show [OPTIONS] FILE\n" in runner.invoke(app, ["show", "--help"]).stdout
    laws_help = runner.invoke(app, ["laws", "--help"]).stdout
    # only count has --expect, only verify has checks that fail: the others never exit 1 (cli.py)
    for command in ("laws", "report", "show", "phi"):
        assert " 1 " not in _unwrapped_help(command).split("Exit codes:")[1], command
    assert "1 a --expect did not match" in _unwrapped_help("count")
    assert " 3 " not in _unwrapped_help("show").split("Exit codes:")[1]
    assert "--block SPEC" in laws_help and "--seed N" in laws_help and "-k, --degree K" in laws_help


def test_small_runs_load_only_what_they_use():
    # a small count needs neither compiled kernels, FLINT (matrices under 4,096 entries), sympy nor
    # rich (--json); laws are printed without sympy
    small = str(ROOT / "architectures/mlp_relu.yaml")
    assert _modules_loaded_by(["count", small, "--json"], ("numba", "flint", "sympy", "rich")) == []
    assert _modules_loaded_by(["laws", small, "--json"], ("sympy",)) == []


def test_help_states_the_engine_defaults():
    from conslaw_cli.counting.expanded_phi import DEFAULT_MAX_BLOCK
    from conslaw_cli.lawfinding.system import DEFAULT_MAX_UNKNOWNS

    assert f"[default: {DEFAULT_MAX_BLOCK}]" in runner.invoke(app, ["count", "--help"]).stdout
    assert f"[default: {DEFAULT_MAX_UNKNOWNS}]" in runner.invoke(app, ["laws", "--help"]).stdout


def test_piped_output_is_never_wrapped_cut_or_coloured(tmp_path):
    name = "a_network_with_a_rather_long_name_that_would_not_fit_in_eighty_columns"
    path = tmp_path / "long.yaml"
    path.write_text(f"name: {name}\ninput: 3\nlayers:\n  - linear: {{out: 2}}\n  - relu\n  - linear: {{out: 2}}\n")
    result = run_conslaw("count", str(path), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert name in result.stdout and "\x1b[" not in result.stdout
    footer = [line for line in result.stdout.splitlines() if line.startswith("exact ranks")]
    assert len(footer) == 1 and footer[0].endswith("(Schwartz–Zippel).")  # one line, not broken mid-sentence


def test_terminal_tables_wrap_long_names_instead_of_cutting_them():
    from rich.console import Console

    from conslaw_cli import analysis
    from conslaw_cli.render import terminal as render

    result = dataclasses.replace(analysis.count(ROOT / "architectures/resnet_block.yaml"),
                                 name="resnet_block_with_a_name_much_longer_than_the_first_column_can_hold")
    console = Console(width=80, record=True)
    console.print(render.count_table([result]))
    text = console.export_text()
    assert "…" not in text
    assert "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")) == result.name


def test_progress_lines_on_stderr_when_it_is_not_a_terminal(tmp_path):
    slow = tmp_path / "attention_pairs.yaml"  # dense exact ranks of 768 x 768 matrices: about 0.5 s
    slow.write_text("input: {tokens: 4, dim: 24}\nlayers:\n  - attention: {heads: 2, head_dim: 16}\n")
    result = run_conslaw("count", str(slow), str(ROOT / "architectures/mlp_relu.yaml"),
                         env={"CONSLAW_PROGRESS_SECONDS": "0.01"})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("conslaw: [")]
    assert lines and all(re.fullmatch(r"conslaw: \[[12]/2\] \S+\.yaml: .+ \(\d+ s elapsed\)", line) for line in lines)
    assert "attention_pairs.yaml" in lines[0]
    quiet = run_conslaw("count", str(ROOT / "architectures/mlp_relu.yaml"), env={"CONSLAW_PROGRESS_SECONDS": "1000"})
    assert quiet.stderr == ""  # work shorter than the interval prints no progress


def test_spinner_is_drawn_only_after_its_delay():
    from io import StringIO

    from rich.console import Console

    from conslaw_cli.progress import SpinnerReporter

    quick = StringIO()
    with SpinnerReporter(Console(file=quick, force_terminal=True), total=1, delay=1000.0) as reporter:
        reporter.next_file("net.yaml")
        reporter.say("bracket step 1, dim 3")
    assert reporter.bar is None and quick.getvalue() == ""  # a short run draws nothing
    slow = StringIO()
    with SpinnerReporter(Console(file=slow, force_terminal=True), total=2, delay=0.0) as reporter:
        reporter.next_file("a.yaml")
        reporter._timer.join()  # the delay has passed: the spinner is up
        reporter.say("bracket step 2, dim 40")
        assert reporter.bar.tasks[0].description == "[1/2] a.yaml: bracket step 2, dim 40"
    assert not reporter.bar.live.is_started  # stopped with the work


def test_spinner_runs_on_the_lazy_console_of_the_cli():
    # rich's Progress enters its console (`with console:`): the CLI's LazyConsole must forward it
    # (it did not: a count longer than the delay on a terminal stopped with exit 4)
    from io import StringIO

    from rich.console import Console

    from conslaw_cli.cli import LazyConsole
    from conslaw_cli.progress import SpinnerReporter

    stream = StringIO()
    with SpinnerReporter(LazyConsole(lambda: Console(file=stream, force_terminal=True)), total=1, delay=0.0) as reporter:
        reporter.next_file("a.yaml")
        reporter._timer.join()
        assert reporter.bar is not None
    drawn = stream.getvalue()
    assert drawn.index("\x1b[?25l") < drawn.rindex("\x1b[?25h")  # the cursor hidden, then shown again


def test_line_reporter_says_what_which_file_and_elapsed():
    from io import StringIO

    from conslaw_cli.progress import LineReporter

    stream = StringIO()
    reporter = LineReporter(stream, total=3, interval=1000.0)
    reporter.next_file("net.yaml")
    reporter.say("bracket step 2, dim 40")
    assert re.fullmatch(r"conslaw: \[1/3\] net\.yaml: bracket step 2, dim 40 \(\d+ s elapsed\)", reporter.line())
    assert stream.getvalue() == ""  # nothing before the interval has passed


def test_a_count_estimated_over_the_time_budget_is_refused_with_the_estimate(tmp_path):
    # a linear chain 24-24-24-24 is one dense block of 1,728 parameters: exact ranks of that size
    path = tmp_path / "linear_chain.yaml"
    path.write_text("input: 24\nlayers:\n" + "  - linear: {out: 24}\n" * 3)
    refused = run_conslaw("count", str(path), "--max-seconds", "0.01")
    assert refused.returncode == 2 and refused.stdout == ""
    assert re.search(r"linear_chain\.yaml:\d+:\d+: counting this network would take about [\d.]+ s", refused.stderr)
    assert "the budget is 0.01 s" in refused.stderr and "--max-seconds N" in refused.stderr
    assert run_conslaw("count", str(path), "--max-seconds", "60").returncode == 0


def test_probabilities_are_printed_without_float_underflow():
    from conslaw_cli.render.terminal import probability

    # (1e-200)² underflows float64 to 0.0, which would print "≤ 0.0e+00"
    assert (probability(2.1e-17), probability(2.1e-17, 2), probability(1e-200, 2), probability(0)) == \
        ("2.1e-17", "4.4e-34", "1.0e-400", "0")
