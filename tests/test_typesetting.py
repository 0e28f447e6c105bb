"""The LaTeX catalog as a reader sees it: built with the README's own CI recipe (latexmk), no
overfull boxes, no table header left alone at the foot of a page, pages rendered to PNG; the
bundled bibliography; fragments with a chosen heading level."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conslaw_cli import references
from conslaw_cli.cli import app

ROOT = Path(__file__).parent.parent
runner = CliRunner()
TOOLS = ("latexmk", "pdflatex", "pdftotext", "pdftoppm")
needs_tex = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS) and not os.environ.get("CONSLAW_REQUIRE_PDFLATEX"),
                               reason="latexmk, pdflatex or poppler-utils is not installed")
HEADERS = re.compile(r"^\s*(layer\s+kind\s+output\s+parameters|architecture\s+D\s+laws\s+count)\s*$")


def readme_recipe() -> str:
    """The README's CI line that builds the PDF, exactly as printed there."""
    lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()
             if line.startswith("conslaw report") and "latexmk -pdf" in line]
    assert len(lines) == 1, lines
    return lines[0]


def run_recipe(directory: Path, command: str) -> None:
    """Run a README command line in `directory` (with the zoo copied there) using this conslaw."""
    shutil.copytree(ROOT / "architectures", directory / "architectures", dirs_exist_ok=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", command], cwd=directory, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def pages(pdf: Path) -> list[list[str]]:
    """The non-empty text lines of each page (pdftotext -layout), without the page number."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    out = []
    for page in text.split("\f"):
        lines = [line for line in page.splitlines() if line.strip()]
        if lines and lines[-1].strip().isdigit():
            lines = lines[:-1]
        out.append(lines)
    return [p for p in out if p]


def orphaned_headers(page_lines: list[list[str]]) -> list[str]:
    """Table headers followed by fewer than two rows on their page while the table goes on."""
    found = []
    for number, lines in enumerate(page_lines):
        headers = [i for i, line in enumerate(lines) if HEADERS.match(line)]
        if not headers:
            continue
        rows_after = len(lines) - headers[-1] - 1
        continues = number + 1 < len(page_lines) and page_lines[number + 1][0].strip() == "(continued)"
        if rows_after == 0 or (continues and rows_after < 2):
            found.append(f"page {number + 1}: {lines[headers[-1]].strip()}")
    return found


def assert_clean_log(log: str) -> None:
    """The last pdflatex pass (the log holds only that one) has no overfull box, nothing to rerun,
    no undefined citation or reference."""
    assert "Overfull" not in log, re.findall(r"Overfull.*", log)
    assert not re.search(r"Rerun|Column widths have changed|Label\(s\) may have changed", log)
    assert not re.search(r"(Citation|Reference) `[^']*' on page \d+ undefined", log)


@pytest.fixture(scope="module")
def zoo_catalog(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("catalog")
    run_recipe(directory, readme_recipe())
    return directory


@needs_tex
def test_readme_recipe_builds_the_zoo_catalog_without_warnings(zoo_catalog):
    assert "latexmk -pdf" in readme_recipe()
    assert_clean_log((zoo_catalog / "report.log").read_text(errors="replace"))
    text = "\n".join("\n".join(p) for p in pages(zoo_catalog / "report.pdf"))
    assert "Summary" in text and "Provenance" in text and "References" in text
    assert "lower bound" in text and "complete for" in text
    assert "Marcotte" in text and "[2, Thm 3.6]" in text  # \cite resolved against the embedded bibliography
    assert "2^61" not in text and "<=" not in text and "3x4x4" not in text


@needs_tex
def test_zoo_catalog_pages_render_and_no_header_is_orphaned(zoo_catalog):
    subprocess.run(["pdftoppm", "-r", "50", "-png", "report.pdf", "page"], cwd=zoo_catalog, check=True)
    page_lines = pages(zoo_catalog / "report.pdf")
    pngs = sorted(zoo_catalog.glob("page-*.png"))
    assert len(pngs) == len(page_lines) and all(p.stat().st_size > 1000 for p in pngs)
    assert orphaned_headers(page_lines) == []


@needs_tex
def test_a_layer_table_longer_than_a_page_repeats_its_header_and_keeps_rows_with_it(tmp_path):
    layers = "".join("  - identity\n" for _ in range(90))
    (tmp_path / "long.yaml").write_text(f"name: long\ninput: 2\nlayers:\n{layers}  - linear: {{out: 2}}\n")
    tex = runner.invoke(app, ["report", str(tmp_path / "long.yaml"), "--format", "latex"])
    assert tex.exit_code == 0, tex.output
    (tmp_path / "long.tex").write_text(tex.stdout)
    subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "long.tex"], cwd=tmp_path,
                   capture_output=True, check=True, timeout=300)
    assert_clean_log((tmp_path / "long.log").read_text(errors="replace"))
    page_lines = pages(tmp_path / "long.pdf")
    assert any(p[0].strip() == "(continued)" for p in page_lines[1:])  # the table did break
    assert orphaned_headers(page_lines) == []


def test_orphan_detector_finds_a_header_alone_at_a_page_foot():
    header = "   layer   kind   output   parameters"
    assert orphaned_headers([["intro", header], ["(continued)", header, "row", "row"]]) == [f"page 1: {header.strip()}"]
    assert orphaned_headers([["intro", header, "row 1"], ["(continued)", header, "row 2"]]) != []
    assert orphaned_headers([["intro", header, "row 1", "row 2", "row 3"], ["(continued)", header, "row 4"]]) == []


def test_bundled_bib_file_is_the_bibliography_and_the_docs_list_every_paper():
    assert (ROOT / "conslaw_cli/references.bib").read_text() == references.bibtex()
    docs = (ROOT / "docs/references.md").read_text()
    for ref in references.REFERENCES:
        assert ref.short in docs and ref.title in docs and ref.key in docs, ref.key


def test_citations_become_cite_commands_with_locators():
    from conslaw_cli.sanitize import latex as latex_escape

    tex = references.latex_with_citations("exact (Marcotte et al. 2025, Thm 3.6; Marcotte et al. 2023, §4) 50%",
                                          latex_escape)
    assert tex == r"exact (\cite[Thm~3.6]{marcotte2025transformative}; \cite[\S\,4]{marcotte2023abide}) 50\%"
    assert references.cited_keys(tex) == ["marcotte2023abide", "marcotte2025transformative"]


@pytest.mark.parametrize("heading, command", [("section", r"\section{"), ("subsection", r"\subsection{"),
                                               ("none", r"\textbf{")])
def test_fragment_heading_level(heading, command):
    result = runner.invoke(app, ["report", str(ROOT / "architectures/mlp_relu.yaml"), str(ROOT / "architectures/conv_relu.yaml"),
                                 "--format", "latex", "--fragment", "--heading", heading])
    assert result.exit_code == 0, result.output
    tex = result.stdout
    assert command + "mlp" in tex
    others = {r"\section", r"\subsection"} - {command.rstrip("{")}
    assert not any(other + "{" in tex or other + "*{" in tex for other in others)
    assert r"\section*{Provenance}" not in tex and r"\paragraph{Provenance.}" in tex
    assert "\\begin{thebibliography}" not in tex and "% @inproceedings{marcotte2025transformative," in tex
