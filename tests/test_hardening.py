"""The reproducers of the hardening issue (data loss, injection, tracebacks, limits, flags,
messages), each kept as a test; the bad-input files among them are in tests/bad_inputs/."""

from __future__ import annotations

import ast
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import mlp_yaml

from conslaw_cli.cli import app
from test_counts import two_layer_linear_laws

ROOT = Path(__file__).parent.parent
MLP_LAYERS = "layers:\n  - linear: {out: 3}\n  - relu\n  - linear: {out: 2}\n"
MLP = "input: 4\n" + MLP_LAYERS
runner = CliRunner()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def no_traceback(result) -> bool:
    """Nothing escaped the command: no exception other than its exit, no traceback printed."""
    return isinstance(result.exception, (SystemExit, type(None))) and "Traceback" not in result.output + result.stderr


# --- data loss (items 1-4) ----------------------------------------------------------------------

def test_report_refuses_to_replace_its_input(tmp_path):
    path = write(tmp_path, "v.yaml", MLP)
    link = tmp_path / "link.md"
    link.symlink_to(path)
    for target in (path, link):
        result = runner.invoke(app, ["report", str(path), "-f", "markdown", "-o", str(target)])
        assert result.exit_code == 2
        assert result.stderr.splitlines()[0] == f"{target}:1:1: refusing to write the output over the input file {path}"
    assert path.read_text() == MLP


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    path = write(tmp_path, "net.yaml", MLP)
    old = write(tmp_path, "g.md", "the previous report\n" * 50)
    assert runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "warm.md")]).exit_code == 0  # kernels compiled
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200, hard))  # like `prlimit --fsize=200`
    try:
        result = runner.invoke(app, ["report", str(path), "-f", "markdown", "-o", str(old)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{old}:1:1: cannot write: File too large; the existing file is unchanged")
    assert old.read_text() == "the previous report\n" * 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.md", "net.yaml", "warm.md"]  # no temporary left


def test_lone_surrogates_are_printed_and_written_not_fatal(tmp_path):
    path = write(tmp_path, "s.yaml", 'name: "net \\uD800"\ndescription: "lone \\uD800 surrogate"\n' + MLP)
    for command in ("count", "show", "laws"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 0, result.output
        assert "net \\ud800" in result.stdout  # the terminal sanitiser shows it as an escape
    keep = write(tmp_path, "keep.json", "{}")
    assert runner.invoke(app, ["report", str(path), "-f", "json", "-o", str(keep)]).exit_code == 0
    assert json.loads(keep.read_text())["architectures"][0]["description"] == "lone \ufffd surrogate"
    for form in ("markdown", "latex"):
        assert runner.invoke(app, ["report", str(path), "-f", form]).exit_code == 0


def test_output_onto_a_symlink_replaces_the_link_not_its_target(tmp_path):
    path = write(tmp_path, "net.yaml", MLP)
    target = write(tmp_path, "precious.txt", "keep me\n")
    link = tmp_path / "out.md"
    link.symlink_to(target)
    assert runner.invoke(app, ["report", str(path), "-f", "markdown", "-o", str(link)]).exit_code == 0
    assert not link.is_symlink() and link.read_text().startswith("# Conservation laws")
    assert target.read_text() == "keep me\n"


def test_output_dash_is_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "net.yaml", MLP)
    result = runner.invoke(app, ["report", str(path), "-f", "json", "-o", "-"])
    assert result.exit_code == 0 and json.loads(result.stdout)["schema"] == 1
    assert not (tmp_path / "-").exists()


# --- injection (items 5-8) ----------------------------------------------------------------------

def test_python_output_keeps_a_name_in_its_comment(tmp_path):
    path = write(tmp_path, "evil.yaml", 'name: "evil\\nimport os; os.system(\'echo pwned\')\\n#"\n' + MLP)
    result = runner.invoke(app, ["laws", str(path), "--python"])
    assert result.exit_code == 0
    statements = ast.parse(result.stdout).body
    assert statements and all(isinstance(s, ast.Assign) for s in statements)
    assert result.stdout.startswith("# evil\\nimport os")


def test_markdown_report_escapes_the_file_path(tmp_path):
    path = write(tmp_path, "net\n<img src=x onerror=alert(1)>\n# Injected.yaml", MLP)
    result = runner.invoke(app, ["report", str(path), "-f", "markdown"])
    assert result.exit_code == 0
    assert "<img" not in result.stdout and "&lt;img src=x onerror=alert(1)&gt;" in result.stdout
    headings = [line for line in result.stdout.splitlines() if line.startswith("#")]
    assert headings == ["# Conservation laws of gradient flows",  # the name is the file's stem, escaped
                        "## net &lt;img src=x onerror=alert(1)&gt; \\# Injected", "## Provenance"]


def test_terminal_never_receives_escape_or_bell_bytes(tmp_path):
    path = write(tmp_path, "ansi.yaml", 'name: "ansi\\e[31mRED\\e[0m\\e]0;title\\a"\n' + MLP)
    for command in ("count", "show", "laws", "phi"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 0
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "ansi\\x1b[31mRED" in runner.invoke(app, ["count", str(path)]).stdout
    bad = write(tmp_path, "bad\x1b]0;x\x07.yaml", "input: 4\nlayers: []\n")
    error = runner.invoke(app, ["count", str(bad)])
    assert error.exit_code == 2 and "\x1b" not in error.stderr and "bad\\x1b]0;x\\x07.yaml:2:9" in error.stderr


def test_latex_writes_non_ascii_names_as_code_points_inside_mathrm(tmp_path):
    path = write(tmp_path, "cjk.yaml", "input: 4\nlayers:\n  - linear: {out: 3, name: 层}\n  - relu\n  - linear: {out: 2}\n")
    laws = runner.invoke(app, ["laws", str(path), "--latex"])
    report = runner.invoke(app, ["report", str(path), "-f", "latex"])
    phi = runner.invoke(app, ["phi", str(path), "-c", "1", "--latex"])
    for result in (laws, report):
        assert result.exit_code == 0 and "层" not in result.stdout
        assert r"\mathrm{[U+5C42].weight}" in result.stdout
    assert r"\mathrm{[U+5C42].weight}_{0,0}" in phi.stdout


# --- tracebacks, limits (items 11, 14, 15) ------------------------------------------------------

@pytest.mark.parametrize("args, option", [(["count", "--seed", "-1"], "--seed"), (["phi", "-c", "-1"], "--components"),
                                          (["count", "--max-terms", "0"], "--max-terms")])
def test_out_of_range_options_are_usage_errors(args, option):
    result = runner.invoke(app, [*args, str(ROOT / "architectures/mlp_linear.yaml")])
    assert result.exit_code == 2 and option in result.stderr and no_traceback(result)


def test_a_huge_name_is_refused_before_it_is_copied(tmp_path):
    path = write(tmp_path, "long.yaml", "input: 4\nlayers:\n  - linear: {out: 100, name: " + "a" * 1_000_000 + "}\n")
    result = runner.invoke(app, ["count", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:3:30: linear.name is 1,000,000 characters long (limit 200)")


def test_only_regular_files_of_bounded_size_are_read(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # no writer: opening it for reading would block without O_NONBLOCK
    big = write(tmp_path, "big.yaml", MLP + "#" * (1 << 20))
    cases = {"/dev/zero": "cannot read file: not a regular file", str(fifo): "cannot read file: not a regular file",
             str(tmp_path): "cannot read file: not a regular file",
             str(big): "the file is larger than 1,048,576 bytes"}
    for path, message in cases.items():
        result = runner.invoke(app, ["count", path])
        assert result.exit_code == 2 and result.stderr.startswith(f"{path}:1:1: {message}")


# --- numba cache (item 12) ----------------------------------------------------------------------

def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    return subprocess.run([sys.executable, "-c", code], env=base | env, capture_output=True, text=True, timeout=300)


def test_numba_cache_goes_to_the_user_cache_directory(tmp_path):
    code = "import os, conslaw_cli.counting.kernels; print(os.environ['NUMBA_CACHE_DIR'])"
    assert run_python(code, {"XDG_CACHE_HOME": str(tmp_path)}).stdout.strip() == str(tmp_path / "conslaw" / "numba")
    assert run_python(code, {"NUMBA_CACHE_DIR": str(tmp_path / "mine")}).stdout.strip() == str(tmp_path / "mine")


def test_a_damaged_numba_cache_is_rebuilt(tmp_path):
    path = write(tmp_path, "net.yaml", MLP)
    code = (f"from conslaw_cli import analysis; from conslaw_cli.counting import expanded_phi as engine; graph, phi = analysis.load({str(path)!r}); "
            "print(graph.num_params - engine.trace_dimension(phi).dimension)")  # the engine with numba kernels
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = run_python(code, env)
    entries = [p for p in (tmp_path / "cache").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert first.returncode == 0 and entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:10])  # truncated, as by a full disk or a killed run
    second = run_python(code, env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout == "3\n"  # relu MLP: one law per hidden neuron (test_counts)
    rebuilt = [p for p in (tmp_path / "cache").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert rebuilt and all(entry.stat().st_size > 10 for entry in rebuilt)  # damaged entries gone or rewritten


# --- semantics and flags (items 16-18) ----------------------------------------------------------

@pytest.mark.parametrize("m,r,n", [(4, 3, 2), (2, 4, 1)])
def test_leaky_relu_slopes(count_of, m, r, n):
    def with_slope(slope):
        return mlp_yaml((m, r, n), "leaky_relu").replace("- leaky_relu", f"- leaky_relu: {{slope: {slope}}}")

    # slope 1 is the identity: a linear network (Marcotte et al. 2023, Prop 4.2, 4.3, Cor 4.4)
    assert count_of(with_slope(1)) == count_of(mlp_yaml((m, r, n), "identity")) == two_layer_linear_laws(m, r, n)
    # slope 0 is relu, any other finite slope positively homogeneous: one law per hidden neuron
    # (Marcotte et al. 2023, App. E.2)
    assert count_of(with_slope(0)) == count_of(with_slope(0.5)) == count_of(with_slope(-1)) == r


def test_show_says_which_activation_a_slope_is(tmp_path):
    path = write(tmp_path, "s.yaml", "input: 2\nlayers:\n  - leaky_relu: {slope: 1}\n  - leaky_relu: {slope: 0}\n"
                 "  - leaky_relu: {slope: 0.2}\n")
    kinds = [line.split("│")[2].strip() for line in runner.invoke(app, ["show", str(path)]).stdout.splitlines()
             if line.startswith("│")]
    assert kinds == ["identity", "relu", "leaky_relu"]


@pytest.mark.parametrize("args, message", [
    (["count", "--per-block", "--expect", "999"], "'--per-block': does not combine with --expect"),
    (["count", "--per-block", "--json"], "'--per-block': does not combine with --json"),
    (["count", "--per-block", "--block", "linear1"], "'--per-block': does not combine with --block"),
    (["count", "--per-block", "--max-block", "5"], "'--per-block': does not combine with --max-block"),
    (["laws", "--json", "--latex"], "'--json': does not combine with --latex"),
    (["laws", "--latex", "--python"], "'--latex': does not combine with --python"),
    (["laws", "--python", "--expand"], "'--python': does not combine with --expand"),
    (["report", "--fragment", "-f", "markdown"], "'--fragment': does not combine with --format markdown"),
    (["report", "--fragment", "-f", "json"], "'--fragment': does not combine with --format json"),
    (["report", "--heading", "subsection", "-f", "markdown"], "'--heading': does not combine with --format markdown"),
    (["phi", "--latex"], "'--latex': does not combine with --components 0"),
])
def test_flags_that_do_not_combine_are_refused(args, message):
    result = runner.invoke(app, [*args, str(ROOT / "architectures/mlp_linear.yaml")])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())


def test_phi_counts_the_components_it_does_not_print():
    # mlp_linear: 6 components (test_cli); -c 1 prints one and says 5 more
    result = runner.invoke(app, ["phi", str(ROOT / "architectures/mlp_linear.yaml"), "-c", "1"])
    assert result.exit_code == 0 and "… 5 more (use --components N)" in result.stdout
