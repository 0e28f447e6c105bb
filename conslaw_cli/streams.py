"""Standard output and error whatever the locale.

Documents (JSON, a report on standard output) are written as UTF-8 bytes, the same bytes as a
file written with -o: JSON is UTF-8 by its standard (RFC 8259), a report is meant for a file.
Terminal text (tables, laws, messages) goes through the stream's own encoding; when the locale
cannot encode conslaw's symbols (LANG=C without UTF-8 coercion, ISO-8859-1, …) the characters it
cannot encode are spelled in ASCII (φ → phi, ≤ → <=, ² → ^2), never an encoding error."""

from __future__ import annotations

import codecs
import sys
import unicodedata
from typing import TextIO

ERRORS = "conslaw-ascii"
SYMBOLS = "φθ≤→−×‖²∇"  # a stream that can encode these needs no fallback
ASCII_SPELLINGS = {
    "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "→": "->", "←": "<-", "↦": "|->", "−": "-", "–": "-", "—": "--",
    "×": "x", "·": "*", "∘": "o", "‖": "||", "∇": "grad ", "∂": "d", "Σ": "sum ", "∑": "sum ", "Π": "prod ",
    "∈": " in ", "∞": "inf", "…": "...", "′": "'", "’": "'", "‘": "'", "“": '"', "”": '"', "•": "*", "✓": "ok",
    "✗": "x", "ᵀ": "^T", "⁻": "^-", "√": "sqrt", "⊙": "(*)", "⊗": "(x)", "∪": " u ", "∩": " n ",
}


def _spelling(character: str) -> str:
    """ASCII for one character: the table, a Greek letter's name, superscripts and subscripts as
    ^n and _n, else the compatibility decomposition's ASCII part, else '?'."""
    if character in ASCII_SPELLINGS:
        return ASCII_SPELLINGS[character]
    name = unicodedata.name(character, "")
    if name.startswith("GREEK SMALL LETTER "):
        return name.removeprefix("GREEK SMALL LETTER ").lower()
    if name.startswith("GREEK CAPITAL LETTER "):
        return name.removeprefix("GREEK CAPITAL LETTER ").capitalize()
    plain = unicodedata.normalize("NFKD", character).encode("ascii", "ignore").decode("ascii")
    if name.startswith("SUPERSCRIPT ") and plain:
        return "^" + plain
    if name.startswith("SUBSCRIPT ") and plain:
        return "_" + plain
    return plain or "?"


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(_spelling(c) for c in error.object[error.start:error.end]), error.end


codecs.register_error(ERRORS, _ascii_fallback)


def encodes_symbols(stream: TextIO) -> bool:
    try:
        SYMBOLS.encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def make_locale_safe(stream: TextIO) -> None:
    """Let `stream` spell in ASCII what its encoding cannot encode (a no-op for UTF-8)."""
    if not encodes_symbols(stream) and hasattr(stream, "reconfigure"):
        stream.reconfigure(errors=ERRORS)


def write_document(text: str) -> None:
    """A document on standard output as UTF-8 bytes, whatever the locale."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a replaced stream (tests, notebooks): it takes text
        sys.stdout.write(text)
    else:
        sys.stdout.flush()
        buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
