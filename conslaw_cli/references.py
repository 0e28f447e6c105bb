"""The papers conslaw relies on, and their citations in each output format.

Code and output strings cite a paper in short form, e.g. "Marcotte et al. 2025, Thm 3.6". The
LaTeX report turns every short form into ``\\cite[Thm~3.6]{marcotte2025transformative}`` and
embeds a ``thebibliography`` of the papers it cites, so the document compiles alone. The bundled
``conslaw_cli/references.bib`` holds the same entries for users' own papers (a test checks that
it is exactly ``bibtex()``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BIB_PATH = Path(__file__).with_name("references.bib")


@dataclass(frozen=True)
class Reference:
    key: str
    short: str  # the short form used in terminals, code and docs
    authors: str  # BibTeX "and"-separated, with LaTeX accents
    title: str
    venue: str  # journal, proceedings or preprint server, as printed
    year: int
    entry_type: str  # BibTeX type
    venue_field: str  # BibTeX field that holds the venue
    note: str = ""


REFERENCES = [
    Reference("marcotte2023abide", "Marcotte et al. 2023", "Sibylle Marcotte and R{\\'e}mi Gribonval and Gabriel Peyr{\\'e}",
              "Abide by the Law and Follow the Flow: Conservation Laws for Gradient Flows",
              "Advances in Neural Information Processing Systems 36 (NeurIPS 2023)", 2023, "inproceedings", "booktitle"),
    Reference("marcotte2025transformative", "Marcotte et al. 2025",
              "Sibylle Marcotte and R{\\'e}mi Gribonval and Gabriel Peyr{\\'e}",
              "Transformative or Conservative? Conservation Laws for ResNets and Transformers",
              "Proceedings of the 42nd International Conference on Machine Learning (ICML 2025), PMLR 267", 2025,
              "inproceedings", "booktitle"),
    Reference("zhao2023symmetries", "Zhao et al. 2023",
              "Bo Zhao and Robin Walters and Nima Dehmamy and Iordan Ganev and Rose Yu",
              "Symmetries, Flat Minima, and the Conserved Quantities of Gradient Flow",
              "International Conference on Learning Representations (ICLR 2023)", 2023, "inproceedings", "booktitle"),
    Reference("gluch2021noether", "Głuch & Urbanke 2021", "Grzegorz G{\\l}uch and R{\\\"u}diger Urbanke",
              "Noether: The More Things Change, the More Stay the Same", "arXiv preprint arXiv:2104.05508", 2021,
              "misc", "howpublished"),
    Reference("stock2022embedding", "Stock & Gribonval 2022", "Pierre Stock and R{\\'e}mi Gribonval",
              "An Embedding of ReLU Networks and an Analysis of Their Identifiability", "Constructive Approximation",
              2022, "article", "journal"),
]
BY_SHORT = {ref.short: ref for ref in REFERENCES}

# "Marcotte et al. 2025, Thm 3.6": a short form, optionally followed by one locator
_LOCATOR = r"(?:Thm|Prop|Cor|Lemma|Def\.|Ex\.|App\.|eq\.) ?\(?[0-9A-Z](?:[0-9.]*[0-9A-Z])?\)?|§ ?[0-9](?:[0-9.]*[0-9])?"
CITATION = re.compile("(" + "|".join(re.escape(ref.short) for ref in REFERENCES) + f")(?:, ({_LOCATOR}))?")


def bibtex_entries(keys: list[str] | None = None) -> str:
    """BibTeX entries of the given keys (default: all), in bibliography order."""
    entries = []
    for ref in REFERENCES:
        if keys is not None and ref.key not in keys:
            continue
        fields = [("author", ref.authors), ("title", "{" + ref.title + "}"), (ref.venue_field, ref.venue),
                  ("year", str(ref.year))]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@{ref.entry_type}{{{ref.key},\n{body}\n}}\n")
    return "\n".join(entries)


def bibtex() -> str:
    """The text of conslaw_cli/references.bib."""
    return "% conslaw: the papers its theorems come from (see docs/references.md)\n\n" + bibtex_entries()


def latex_with_citations(text: str, escape) -> str:
    """`text` for LaTeX: every short-form citation becomes \\cite[locator]{key}, the rest goes through
    `escape` (the report's escape function for text from files and φ descriptions)."""
    out, position = [], 0
    for match in CITATION.finditer(text):
        out.append(escape(text[position:match.start()]))
        key = BY_SHORT[match.group(1)].key
        locator = match.group(2)
        if locator:
            locator = locator.replace("§ ", "§").replace("§", r"\S\,").replace(" ", "~")
            out.append(rf"\cite[{locator}]{{{key}}}")
        else:
            out.append(rf"\cite{{{key}}}")
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def cited_keys(latex: str) -> list[str]:
    """Keys cited in a LaTeX text, in bibliography order."""
    used = set(re.findall(r"\\cite(?:\[[^\]]*\])?\{([^}]*)\}", latex))
    return [ref.key for ref in REFERENCES if ref.key in used]


def thebibliography(keys: list[str]) -> str:
    """A thebibliography environment with the given entries: no .bib file is needed to compile."""
    items = []
    for ref in REFERENCES:
        if ref.key in keys:
            authors = ref.authors.split(" and ")
            names = ", ".join(authors[:-1]) + " and " + authors[-1] if len(authors) > 1 else authors[0]
            items.append(rf"\bibitem{{{ref.key}}} {names}. \newblock \emph{{{ref.title}}}. "
                         rf"\newblock {ref.venue}, {ref.year}.")
    return r"\begin{thebibliography}{9}" + "\n" + "\n".join(items) + "\n" + r"\end{thebibliography}"
