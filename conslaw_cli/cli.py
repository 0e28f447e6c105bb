"""The `conslaw` command line (typer).

Exit codes: 0 success; 1 `--expect` did not match; 2 bad input (file:line:col message) or
options that do not combine; 3 the two random points disagreed (a non-generic point: rerun with
another --seed); 4 an internal error (a bug: a one-line message asks to report it)."""

from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import analysis, render, sanitize
from . import report as report_module
from .compiler import DEFAULT_MAX_TERMS
from .engine import DEFAULT_MAX_BLOCK
from .laws import DEFAULT_MAX_UNKNOWNS
from .engine import EngineDisagreement
from .errors import ConslawError
from .output import check_target, write_output

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Exact conservation laws of gradient flows for neural network architectures.")
out = Console(highlight=False)
if not out.is_terminal:  # piped or captured: wide enough that tables do not wrap
    out = Console(highlight=False, width=120)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FilesArg = Annotated[Optional[list[Path]], typer.Argument(
    help="architecture YAML files (default: every *.yaml under ./architectures/)", show_default=False)]
FileArg = Annotated[Path, typer.Argument(help="an architecture YAML file")]
SeedOpt = Annotated[int, typer.Option(min=0, help="seed of the random points (the second point is derived from it)")]
MaxTermsOpt = Annotated[int, typer.Option(min=1, help="refuse networks whose φ would have more polynomial terms")]
BlockOpt = Annotated[Optional[str], typer.Option(
    "--block", help="only laws of these parameters: comma-separated layer, residual block or tensor names")]


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
    except Exception as exc:
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
    """Run `work(path, say)` on every architecture file with a progress line on stderr (when it is
    a terminal); `say(text)` updates the line. Bad input exits 2 (see user_errors)."""
    results = []
    with user_errors(), Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=err, transient=True, disable=not err.is_terminal) as bar:
        paths = architecture_files(files)
        task = bar.add_task("", total=len(paths))
        for path in paths:
            def say(text: str, path=path) -> None:
                bar.update(task, description=f"{path.name}: {text}")

            say("compiling")
            results.append(work(path, say))
            bar.advance(task)
    return results


@app.command()
@guarded
def count(
    files: FilesArg = None,
    json: Annotated[bool, typer.Option("--json", help="print a JSON list, one object per file")] = False,
    expect: Annotated[Optional[int], typer.Option(help="exit 1 unless every file has this many laws")] = None,
    seed: SeedOpt = 0,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
    block: BlockOpt = None,
    per_block: Annotated[bool, typer.Option("--per-block", help="block laws of every residual block and layer")] = False,
    max_block: Annotated[int, typer.Option(min=1, help="refuse blocks of more coupled parameters")] = DEFAULT_MAX_BLOCK,
) -> None:
    """Count the independent conservation laws: D − dim Lie(span ∇φ_i) at a generic point."""
    if per_block:
        refuse_combination("--per-block", {"--json": json, "--expect": expect is not None, "--block": block is not None,
                                           "--max-block": max_block != DEFAULT_MAX_BLOCK})
        for table in for_each_file(files, lambda path, say: render.per_block_table(
                *analysis.per_block(path, seed, max_terms))):
            out.print(table)
        return
    results = for_each_file(files, lambda path, say: analysis.count(
        path, seed=seed, max_terms=max_terms, block=block, max_block=max_block,
        progress=lambda level, rank: say(f"bracket step {level}, dim {rank}")))
    if json:
        print(render.count_json(results))
    else:
        out.print(render.count_table(results))
        out.print(render.count_footer(results), markup=False)
    if expect is not None:
        wrong = [r for r in results if r.laws != expect]
        for r in wrong:
            err.print(f"{sanitize.terminal(r.file)}: expected {expect} laws, found {r.laws}", markup=False)
        if wrong:
            raise typer.Exit(1)


@app.command()
@guarded
def laws(
    files: FilesArg = None,
    degree: Annotated[int, typer.Option("--degree", "-k", min=1, max=6, help="maximal degree of the laws")] = 2,
    json: Annotated[bool, typer.Option("--json", help="print a JSON list, one object per file")] = False,
    latex: Annotated[bool, typer.Option("--latex", help="print LaTeX fragments")] = False,
    python: Annotated[bool, typer.Option("--python", help="print expressions sympy can parse")] = False,
    expand: Annotated[bool, typer.Option("--expand", help="list every law, also those of a named family")] = False,
    seed: SeedOpt = 0,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
    block: BlockOpt = None,
    max_unknowns: Annotated[int, typer.Option(min=1, help="refuse law systems with more unknowns")] = DEFAULT_MAX_UNKNOWNS,
) -> None:
    """The polynomial conservation laws, exact, named by family, with a completeness verdict."""
    formats = [flag for flag, is_set in (("--json", json), ("--latex", latex), ("--python", python)) if is_set]
    if formats:
        refuse_combination(formats[0], {flag: True for flag in formats[1:]} | {"--expand": expand})
    results = for_each_file(files, lambda path, say: analysis.laws(
        path, degree=degree, seed=seed, max_terms=max_terms, block=block, max_unknowns=max_unknowns))
    if json:
        print(sanitize.json_text([r.to_json() for r in results]))
    elif latex:
        print("\n\n".join(render.laws_latex(r) for r in results))
    elif python:
        print("\n".join(line for r in results for line in render.laws_python(r)))
    else:
        for r in results:
            for line in render.laws_text(r, expand):
                out.print(line, markup=False)


class ReportFormat(str, Enum):
    latex = "latex"
    markdown = "markdown"
    json = "json"


@app.command()
@guarded
def report(
    files: FilesArg = None,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")] = ReportFormat.markdown,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="write to this file, replaced atomically ('-' or default: stdout)")] = None,
    degree: Annotated[int, typer.Option("--degree", "-k", min=1, max=6, help="maximal degree of the laws")] = 2,
    fragment: Annotated[bool, typer.Option("--fragment", help="LaTeX body only, for \\input in a paper")] = False,
    timings: Annotated[bool, typer.Option("--timings", help="include wall-clock times (not reproducible)")] = False,
    seed: SeedOpt = 0,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
) -> None:
    """A report (one file) or a catalog (several): layers, φ, count, polynomial laws, provenance."""
    refuse_combination("--fragment", {f"--format {format.value}": fragment and format is not ReportFormat.latex})
    if output is not None:
        check_target(output, architecture_files(files))  # before the work: never replace an input
    reports = for_each_file(files, lambda path, say: report_module.build(path, degree, seed, max_terms))
    if format is ReportFormat.latex:
        text = report_module.to_latex(reports, seed, fragment, timings)
    elif format is ReportFormat.markdown:
        text = report_module.to_markdown(reports, seed, timings)
    else:
        text = report_module.to_json(reports, seed, timings)
    write_output(text, output, architecture_files(files))


@app.command()
@guarded
def show(file: FileArg) -> None:
    """Print the intermediate graph: layers, shapes, parameters, D."""
    graph = analysis.load_graph(file)
    out.print(render.graph_table(graph))


@app.command()
@guarded
def phi(
    file: FileArg,
    components: Annotated[int, typer.Option("--components", "-c", min=0, help="print the first N components")] = 0,
    latex: Annotated[bool, typer.Option("--latex", help="components in LaTeX")] = False,
    max_terms: MaxTermsOpt = DEFAULT_MAX_TERMS,
) -> None:
    """Summarize the factorization φ (pieces, components, backing theorem) and print components."""
    refuse_combination("--latex", {"--components 0 (add -c N)": latex and components == 0})
    _, factorization = analysis.load(file, max_terms)
    out.print(render.phi_summary(factorization))
    status = "exact (rich φ)" if factorization.rich else "lower bound"
    out.print(f"{status}: {sanitize.terminal(factorization.richness)}", markup=False)
    for line in render.phi_components(factorization, components, latex):
        out.print(line, markup=False)


def main() -> None:  # pragma: no cover - console script entry point
    app(prog_name="conslaw")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
