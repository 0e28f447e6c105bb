"""The `conslaw` command line (typer).

Exit codes: 0 success; 1 `count --expect` did not match or a `verify` check failed; 2 bad input
(file:line:col message) or options that do not combine; 3 the two random points disagreed (a
non-generic point: rerun with another --seed); 4 an internal error (a bug: a one-line message
asks to report it)."""

# No `from __future__ import annotations` here: typer would compile and eval every command's
# annotations from strings on each run (10 ms).
import atexit
import errno
import functools
import math
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer
from typer.core import TyperCommand

from . import blas_threads, progress, sanitize, streams
from .errors import ConslawError
from .limits import DEFAULT_MAX_SECONDS, DEFAULT_MAX_TERMS, MAX_BATCH, MAX_SEEDS, MAX_STEPS, verify_option_problem
from conslaw_cli.render.output import check_target, write_output

if TYPE_CHECKING:
    from rich.console import Console

# numpy, numba and flint load only when a command runs (api, render), so that
# `conslaw --help` and `--version` answer at once.
BAD_INPUT = ("2 bad input (FILE:LINE:COL: message, then a hint), a refused size, options that do not combine, "
             "or an output that could not be written (a full disk)")
FULL_DISK = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO)  # a write that failed for want of room
WRITE_FAILED = "error: cannot write the output to standard output: {}\n  hint: free some space, or write elsewhere with -o FILE"
RANDOM_POINTS = "3 the two random points disagreed (rerun with another --seed)"
INTERNAL = "4 an internal error (a bug: please report it)"


def exit_codes(*codes: str) -> str:
    """The epilog line listing the exit codes a command can return (each command lists its own)."""
    return "Exit codes: " + "; ".join(codes) + "."


EXIT_CODES = exit_codes("0 success", "1 count --expect did not match or a verify check failed", BAD_INPUT,
                        RANDOM_POINTS, INTERNAL)
COUNT_EXIT_CODES = exit_codes("0 success", "1 a --expect did not match", BAD_INPUT, RANDOM_POINTS, INTERNAL)
COMPUTE_EXIT_CODES = exit_codes("0 success", BAD_INPUT, RANDOM_POINTS, INTERNAL)
NO_POINTS_EXIT_CODES = exit_codes("0 success", BAD_INPUT, INTERNAL)
VERIFY_EXIT_CODES = exit_codes("0 every check passed", "1 a listed law failed its check, the control looked "
                               "conserved, the second-order check failed, or a run diverged", BAD_INPUT, RANDOM_POINTS, INTERNAL)
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, epilog=EXIT_CODES,
                  help="Exact conservation laws of gradient flows for neural network architectures.")


class LazyConsole:
    """A rich Console made on first use: importing rich costs 25 ms, which `--help` never needs."""

    def __init__(self, make: Callable[[], "Console"]):
        self._make = make

    @functools.cached_property
    def _console(self) -> "Console":
        return self._make()

    def __getattr__(self, name: str):
        return getattr(self._console, name)

    # rich's Progress enters its console (`with console:`); special methods bypass __getattr__
    def __enter__(self) -> "Console":
        return self._console.__enter__()

    def __exit__(self, *exc) -> None:
        self._console.__exit__(*exc)


def _stdout_console() -> "Console":
    """On a terminal rich wraps long cells (never cuts them); elsewhere (CI, pipes) no wrapping,
    no colour."""
    from rich.console import Console

    console = Console(highlight=False)
    if console.is_terminal:
        return console
    return Console(highlight=False, width=1_000_000, soft_wrap=True, no_color=True)


def _stderr_console() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


out = LazyConsole(_stdout_console)
err = LazyConsole(_stderr_console)

# Arguments are described in each command's help text (typer would print their Python types).
FilesArg = Annotated[Optional[list[Path]], typer.Argument(show_default=False, metavar="[FILE…]", hidden=True)]
FileArg = Annotated[Path, typer.Argument(metavar="FILE", hidden=True)]
SeedOpt = Annotated[int, typer.Option(metavar="N", min=0, help="seed of the random points (the second point is derived from it)")]
MaxTermsOpt = Annotated[int, typer.Option(metavar="N", min=1, help="refuse networks whose φ would have more polynomial terms")]
BlockOpt = Annotated[Optional[str], typer.Option(
    "--block", metavar="SPEC", help="only laws of these parameters: comma-separated layer, residual block or tensor names")]


def finite(value: Optional[float]) -> Optional[float]:
    """An option callback: a number option must be finite (typer accepts 'inf' and 'nan')."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, not {value}")
    return value


MaxSecondsOpt = Annotated[Optional[float], typer.Option(
    metavar="S", min=0, callback=finite, help="refuse work estimated to take longer  [default: 600]")]
DegreeOpt = Annotated[int, typer.Option("--degree", "-k", min=1, max=6, metavar="K",
                                        help="maximal degree of the laws, 1 to 6")]


class Command(TyperCommand):
    """A command whose usage line shows its arguments' metavars as written (`FILE`, `[FILE…]`)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [self.options_metavar] + [p.metavar for p in self.get_params(ctx) if p.param_type_name == "argument"]


def _examples(*lines: str, codes: str = COMPUTE_EXIT_CODES) -> str:
    """A command's epilog: examples (kept as written, no rewrapping) and the exit codes it can return."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines) + "\n\n" + codes


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"conslaw {version('conslaw')}")
        raise typer.Exit()


@app.callback()
def main_options(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="print the version and exit")] = False,
) -> None:
    """Exact conservation laws of gradient flows for neural network architectures."""


def architecture_files(files: Optional[list[Path]]) -> list[Path]:
    """The files given, or every *.yaml under ./architectures/."""
    if files:
        return files
    found = sorted(Path("architectures").glob("**/*.yaml"))
    if not found:
        raise ConslawError("no architecture files given and none found under ./architectures/",
                           "architectures", hint="pass FILE arguments, e.g. conslaw count my_net.yaml")
    return found


@contextmanager
def user_errors():
    """Bad input -> 'file:line:col: message' on stderr, exit 2; a non-generic point, exit 3; any
    other exception is a bug: one line asking to report it, exit 4. Never a traceback."""
    from conslaw_cli.counting.lie import EngineDisagreement

    try:
        yield
    except (typer.Exit, typer.Abort, typer.exceptions.TyperException, BrokenPipeError):
        raise  # typer reports exits and usage errors, and ends `| head` quietly (exit 1)
    except ConslawError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    except EngineDisagreement as exc:
        err.print(f"error: {sanitize.terminal(str(exc))}", markup=False)
        raise typer.Exit(3) from None
    except MemoryError:
        err.print("error: out of memory\n  hint: lower --max-terms, or try smaller widths", markup=False)
        raise typer.Exit(2) from None
    except OSError as exc:
        if exc.errno not in FULL_DISK:  # files are read and written through ConslawError
            _internal_error(exc)
        err.print(WRITE_FAILED.format(exc.strerror), markup=False)  # a redirection of standard output
        raise typer.Exit(2) from None
    except Exception as exc:
        _internal_error(exc)


def _internal_error(exc: Exception) -> None:
    err.print(f"internal error (a bug in conslaw): {type(exc).__name__}: {sanitize.terminal(str(exc))[:300]}; "
              "please report it with the command and the input file", markup=False)
    raise typer.Exit(4) from None


def guarded(command):
    """Run a command under `user_errors`, so nothing it raises reaches the user as a traceback."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        with user_errors():
            return command(*args, **kwargs)

    return run


def refuse_combination(flag: str, others: dict[str, bool]) -> None:
    """A usage error (exit 2) when `flag` is given with any of the `others` that are set."""
    given = [name for name, is_set in others.items() if is_set]
    if given:
        raise typer.BadParameter(f"does not combine with {', '.join(given)}", param_hint=f"'{flag}'")


def for_each_file(files: Optional[list[Path]], work) -> list:
    """Run `work(path, say)` on every architecture file with progress on stderr (progress.py);
    `say(text)` tells what is being computed. Bad input exits 2 (see user_errors)."""
    results = []
    with user_errors():
        paths = architecture_files(files)
        with progress.reporting(err, len(paths)) as reporter:
            for path in paths:
                reporter.next_file(path.name)
                results.append(work(path, reporter.say))
    return results


class Flow(str, Enum):
    gradient = "gradient"
    sign = "sign"


def _count_sign_flow(files: Optional[list[Path]], json: bool, expect: Optional[int], seed: int,
                     max_seconds: float) -> None:
    """`count --flow sign`: D − dim span{sign(∂φ(θ)ᵀw)} (see flows/sign.py)."""
    from . import api
    from .flows import sign as sign_flow

    results = for_each_file(files, lambda path, say: api.sign_flow_count(path, seed=seed, max_seconds=max_seconds))
    if json:
        streams.write_document(sanitize.json_text([r.to_json() for r in results]) + "\n")
    else:
        out.print(sign_flow.table(results))
        for line in sign_flow.footer(results):
            out.print(sanitize.terminal(line), markup=False)
    _exit_unless_expected(results, expect)


def _exit_unless_expected(results: list, expect: Optional[int]) -> None:
    """`--expect N`: name every file whose count is not N, then exit 1."""
    wrong = [r for r in results if expect is not None and r.laws != expect]
    for r in wrong:
        err.print(f"{sanitize.terminal(r.file)}: expected {expect} laws, found {r.laws}", markup=False)
    if wrong:
        raise typer.Exit(1)



@app.command(cls=Command, short_help="Count the independent conservation laws.", epilog=_examples(
    "conslaw count architectures/mlp_relu.yaml --expect 5",
    "conslaw count --json > counts.json",
    "conslaw count architectures/resnet.yaml --block residual1", codes=COUNT_EXIT_CODES))
@guarded
def count(
    files: FilesArg = None,
    json: Annotated[bool, typer.Option("--json", help="print a JSON list, one object per file")] = False,
    expect: Annotated[Optional[int], typer.Option(metavar="N", help="exit 1 unless every file has this many laws")] = None,
    seed: SeedOpt = 0,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
    block: BlockOpt = None,
    per_block: Annotated[bool, typer.Option("--per-block", help="block laws of every residual block and layer")] = False,
    max_block: Annotated[Optional[int], typer.Option(
        metavar="N", min=1, help="refuse blocks of more coupled parameters  [default: 12000]")] = None,
    max_seconds: MaxSecondsOpt = None,
    flow: Annotated[Flow, typer.Option(metavar="FLOW", help="gradient, or sign: the sign flow θ' = −sign(∇L) of Adam "
                                       "(an upper bound)")] = Flow.gradient,
    check: Annotated[bool, typer.Option("--check", help="numerical cross-check from the network itself (float64, gap)")] = False,
) -> None:
    """Count the independent conservation laws: D − dim Lie(span ∇φ_i) at a generic point.

    FILE…: architecture YAML files (default: every *.yaml under ./architectures/)."""
    from . import api
    from .render import terminal as render
    from .limits import DEFAULT_MAX_BLOCK

    if flow is Flow.sign:
        refuse_combination("--flow sign", {"--block": block is not None, "--per-block": per_block, "--check": check,
                                           "--max-block": max_block is not None})
        return _count_sign_flow(files, json, expect, seed, DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds)
    refuse_combination("--check", {"--block (it compares whole networks)": check and block is not None,
                                   "--per-block (it compares whole networks)": check and per_block})
    if per_block:
        refuse_combination("--per-block", {"--json": json, "--expect": expect is not None, "--block": block is not None,
                                           "--max-block": max_block is not None, "--max-seconds": max_seconds is not None})

        def block_table(path, say):
            say("block laws of every residual block and layer")
            return render.per_block_table(*api.per_block(path, seed=seed, max_terms=max_terms))

        for table in for_each_file(files, block_table):
            out.print(table)
        return
    results = for_each_file(files, lambda path, say: api.count(
        path, seed=seed, max_terms=max_terms, block=block, max_block=max_block or DEFAULT_MAX_BLOCK,
        max_seconds=DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds,
        progress=say))
    checks = [api.numerical_check(r.file, r, seed=seed) for r in results] if check else [None] * len(results)
    if json:
        documents = [r.to_json() | ({"numerical_check": c} if c else {}) for r, c in zip(results, checks)]
        streams.write_document(sanitize.json_text(documents) + "\n")
    else:
        out.print(render.count_table(results))
        out.print(render.count_footer(results, block), markup=False)
        for r, c in zip(results, checks):
            if c:
                out.print(f"{sanitize.terminal(r.name)}: numerical check (float64): {c['status']}", markup=False)
    _exit_unless_expected(results, expect)


@app.command(cls=Command, short_help="The polynomial conservation laws, with a completeness verdict.", epilog=_examples(
    "conslaw laws architectures/softmax_head.yaml",
    "conslaw laws architectures/mlp_linear.yaml --degree 3 --json > laws.json",
    "conslaw laws architectures/resnet.yaml --block conv2,conv3"))
@guarded
def laws(
    files: FilesArg = None,
    degree: DegreeOpt = 2,
    json: Annotated[bool, typer.Option("--json", help="print a JSON list, one object per file")] = False,
    latex: Annotated[bool, typer.Option("--latex", help="print LaTeX fragments")] = False,
    python: Annotated[bool, typer.Option("--python", help="print expressions sympy can parse")] = False,
    expand: Annotated[bool, typer.Option("--expand", help="list every law, also those of a named family")] = False,
    seed: SeedOpt = 0,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
    block: BlockOpt = None,
    max_unknowns: Annotated[Optional[int], typer.Option(
        metavar="N", min=1, help="refuse law systems with more unknowns  [default: 2000000]")] = None,
    weight_decay: Annotated[bool, typer.Option(
        "--weight-decay", help="also each law's time-dependent form under weight decay (Thm 2.1)")] = False,
) -> None:
    """The polynomial conservation laws, exact, named by family, with a completeness verdict.

    FILE…: architecture YAML files (default: every *.yaml under ./architectures/)."""
    from . import api
    from .render import terminal as render
    from .flows import weight_decay as decay
    from .limits import DEFAULT_MAX_UNKNOWNS

    formats = [flag for flag, is_set in (("--json", json), ("--latex", latex), ("--python", python)) if is_set]
    if formats:
        refuse_combination(formats[0], {flag: True for flag in formats[1:]} | {"--expand": expand})

    def find(path, say):
        say(f"polynomial laws of degree ≤ {degree}")
        return api.laws(path, degree=degree, seed=seed, max_terms=max_terms, block=block,
                        max_unknowns=max_unknowns or DEFAULT_MAX_UNKNOWNS)

    results = for_each_file(files, find)
    if json:
        streams.write_document(sanitize.json_text([decay.to_json(r) if weight_decay else r.to_json() for r in results]) + "\n")
    elif latex:
        print("\n\n".join(render.laws_latex(r) + ("\n" + decay.latex_items(r) if weight_decay else "")
                           for r in results))
    elif python:
        print("\n".join(line for r in results
                        for line in render.laws_python(r) + (decay.python_lines(r) if weight_decay else [])))
    else:
        for r in results:
            for line in render.laws_text(r, expand, r.exact or r.certified) + (decay.family_lines(r) if weight_decay else []):
                out.print(sanitize.terminal(line), markup=False)


class ReportFormat(str, Enum):
    latex = "latex"
    markdown = "markdown"
    json = "json"


class Heading(str, Enum):
    section = "section"
    subsection = "subsection"
    none = "none"


@app.command(cls=Command, short_help="A report or a catalog: LaTeX, Markdown or JSON.", epilog=_examples(
    "conslaw report --format latex -o catalog.tex && latexmk -pdf catalog.tex",
    "conslaw report architectures/resnet.yaml --format latex --fragment --heading subsection -o resnet.tex",
    "conslaw report architectures/mlp_relu.yaml --format markdown"))
@guarded
def report(
    files: FilesArg = None,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")] = ReportFormat.markdown,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="PATH", help="write to this file, replaced atomically ('-' or default: stdout)")] = None,
    degree: DegreeOpt = 2,
    fragment: Annotated[bool, typer.Option("--fragment", help="LaTeX body only, for \\input in a paper")] = False,
    heading: Annotated[Heading, typer.Option("--heading", help="LaTeX heading of each architecture")] = Heading.section,
    timings: Annotated[bool, typer.Option("--timings", help="include wall-clock times (not reproducible)")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="train (conslaw verify's defaults) and add each law family's check; with -o FILE, "
        "a figure per architecture too (FILE's name + .verify-N.png)")] = False,
    seed: SeedOpt = 0,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
) -> None:
    """A report (one file) or a catalog (several): layers, φ, count, polynomial laws, provenance.

    FILE…: architecture YAML files (default: every *.yaml under ./architectures/)."""
    from . import api
    from .render.report import RefusedReport

    refuse_combination("--fragment", {f"--format {format.value}": fragment and format is not ReportFormat.latex})
    refuse_combination("--heading", {f"--format {format.value}": heading is not Heading.section
                                     and format is not ReportFormat.latex})
    if output is not None:
        check_target(output, architecture_files(files))  # before the work: never replace an input
    figures = _figure_paths(output, len(architecture_files(files))) if verify else []
    for figure in figures:
        check_target(figure, architecture_files(files))
    reports = for_each_file(files, lambda path, say: api.architecture_report(
        path, degree=degree, seed=seed, max_terms=max_terms, verify=verify, progress=say, refused_as_section=True))
    refused = [r.error for r in reports if isinstance(r, RefusedReport)]
    if figures:
        from conslaw_cli.training.plot import plot_results

        for report_, figure in zip(reports, figures):
            if not isinstance(report_, RefusedReport):
                write_output(plot_results([report_.training]), figure, architecture_files(files))
                report_.figure = figure.name
    text = api.report(reports, format=format.value, seed=seed, timings=timings, fragment=fragment,
                      heading=heading.value)
    write_output(text, output, architecture_files(files))
    for error in refused:  # the rest is written; each refused file is a "Not reported" section
        err.print(str(error), markup=False)
    if refused:
        raise typer.Exit(2)


def _figure_paths(output: Optional[Path], count: int) -> list[Path]:
    """The training figures of `report --verify -o FILE`, next to FILE (none on standard output)."""
    if output is None or str(output) == "-":
        return []
    return [output.with_name(f"{output.name}.verify-{i}.png") for i in range(1, count + 1)]


class Optimizer(str, Enum):
    gd = "gd"
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    sign = "sign"


class Data(str, Enum):
    random = "random"
    digits = "digits"


@app.command(cls=Command, short_help="Train the network and check its laws on the runs.", epilog=_examples(
    "conslaw verify architectures/resnet_block.yaml --plot fig.png",
    "conslaw verify architectures/attention.yaml --optimizer sgd --lr 1e-3 --lr 2e-3 --lr 5e-3",
    codes=VERIFY_EXIT_CODES))
@guarded
def verify(
    files: FilesArg = None,
    optimizer: Annotated[Optimizer, typer.Option(metavar="NAME", help="gd (full batch), sgd (minibatches), momentum, "
                                                 "adam or sign")] = Optimizer.gd,
    lr: Annotated[Optional[list[float]], typer.Option(
        "--lr", metavar="TAU", help="learning rate, > 0; repeat for several  [default: 1e-4, 2e-4, 5e-4]",
        show_default=False)] = None,
    steps: Annotated[int, typer.Option(min=1, max=MAX_STEPS, metavar="N", help="training steps")] = 50,
    batch: Annotated[int, typer.Option(min=1, max=MAX_BATCH, metavar="N", help="minibatch size (sgd)")] = 16,
    weight_decay: Annotated[float, typer.Option(min=0, metavar="LAMBDA", callback=finite,
                                                help="weight decay: checks the decay of the laws (Thm 2.1)")] = 0.0,
    seeds: Annotated[int, typer.Option(min=1, max=MAX_SEEDS, metavar="N",
                                       help="independent runs (initialisation, data)")] = 3,
    data: Annotated[Data, typer.Option(metavar="KIND", help="random (Gaussian inputs, random teacher) or digits "
                                       "(scikit-learn's 8×8)")] = Data.random,
    plot: Annotated[Optional[Path], typer.Option(metavar="PATH", help="write a PNG figure of the errors over the steps")] = None,
    json: Annotated[bool, typer.Option("--json", help="print a JSON list, one object per file")] = False,
    max_seconds: MaxSecondsOpt = None,
) -> None:
    """Train the network and check every listed law on the runs (exit 1 when a law fails).

    FILE…: architecture YAML files (default: every *.yaml under ./architectures/)."""
    from . import api
    from .training import verify as verify_module

    problem = verify_option_problem(lr or verify_module.Settings.learning_rates, steps, batch, seeds, weight_decay)
    if problem:  # typer checked the ranges of --steps, --batch, --seeds already
        name, message = problem
        raise typer.BadParameter(message, param_hint="--lr" if name == "learning_rates" else "--" + name.replace("_", "-"))
    if plot is not None:
        check_target(plot, architecture_files(files))  # before training: never replace an input
    results = for_each_file(files, lambda path, say: api.verify(
        path, optimizer=optimizer.value, learning_rates=lr or verify_module.Settings.learning_rates, steps=steps,
        batch=batch, weight_decay=weight_decay, seeds=seeds, data=data.value,
        max_seconds=DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds, progress=say))
    if json:
        streams.write_document(sanitize.json_text([r.to_json() for r in results]) + "\n")
    else:
        for r in results:
            out.print(verify_module.verify_table(r))
            for line in verify_module.verify_footer(r):
                out.print(sanitize.terminal(line), markup=False)
    if plot is not None:
        from conslaw_cli.training.plot import plot_results

        write_output(plot_results(results), plot, architecture_files(files))
    failed = [r for r in results if not r.passed]
    for r in failed:
        err.print(f"{sanitize.terminal(r.file)}: " + "; ".join([f"{f.name}: {f.verdict}" for f in r.failed]
                                            + ([] if r.cross_check_passed else ["second-order drift mismatch"])
                                            + r.diverged), markup=False)
    if failed:
        raise typer.Exit(1)


@app.command(cls=Command, short_help="The layers, shapes, parameters and D (never compiles).",
             epilog=_examples("conslaw show architectures/resnet.yaml", codes=NO_POINTS_EXIT_CODES))
@guarded
def show(file: FileArg) -> None:
    """Print the intermediate graph: layers, shapes, parameter tensors, number of parameters, D.

    FILE: an architecture YAML file."""
    from . import api
    from .render import terminal as render

    graph = api.Architecture.from_file(file).graph()
    out.print(render.graph_table(graph))


@app.command(cls=Command, short_help="The factorization φ and the theorem backing it.", epilog=_examples(
    "conslaw phi architectures/mlp_linear.yaml -c 3", "conslaw phi architectures/attention.yaml -c 2 --latex",
    codes=NO_POINTS_EXIT_CODES))
@guarded
def phi(
    file: FileArg,
    components: Annotated[int, typer.Option("--components", "-c", metavar="N", min=0,
                                            help="print the first N components")] = 0,
    latex: Annotated[bool, typer.Option("--latex", help="components in LaTeX")] = False,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
) -> None:
    """Summarize the factorization φ (pieces, components, backing theorem) and print components.

    FILE: an architecture YAML file."""
    from . import api
    from .render import terminal as render

    refuse_combination("--latex", {"--components 0 (add -c N)": latex and components == 0})
    factorization = api.factorization(file, max_terms=max_terms)
    out.print(render.phi_summary(factorization))
    out.print(render.phi_status(factorization), markup=False)
    for line in render.phi_components(factorization, components, latex):
        out.print(sanitize.terminal(line), markup=False)


def main() -> None:  # pragma: no cover - console script entry point
    """Run the app, then end the process without tearing the interpreter down: with numpy loaded,
    Python's teardown of its modules takes 25–30 ms here, a tenth of a small count. The outputs
    are flushed and the atexit handlers run first (that part of an exit is kept). OpenBLAS
    starts with one thread (`blas_threads`): small inputs never pay for a thread pool. Standard
    output and error never fail on the locale's encoding (`streams`)."""
    blas_threads.start_narrow()
    for stream in (sys.stdout, sys.stderr):
        streams.make_locale_safe(stream)
    try:
        app(prog_name="conslaw")  # click's standalone mode ends with SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # `| head` closed the pipe, or the stream is closed
            pass
        except OSError as exc:  # a full disk behind a redirection
            if stream is sys.stdout:
                print(WRITE_FAILED.format(exc.strerror), file=sys.stderr)
                code = 2
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
