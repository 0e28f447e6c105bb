"""One sanitiser per output channel, for every string that comes from a user (names,
descriptions, file paths): terminal, Markdown, LaTeX (text and ``\\mathrm{…}``), JSON, Python.

A user string must stay data wherever it lands: it never starts a terminal escape sequence, a
Markdown heading or HTML tag, a LaTeX command, a Python statement, and it never makes the output
unencodable (a lone surrogate from ``"\\uD800"`` in YAML or an undecodable file name)."""

from __future__ import annotations

import json
import math
import re
import unicodedata


# control, format (bidi overrides, zero-width), surrogate, line and paragraph separators
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in _INVISIBLE_CATEGORIES


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _python_escape(ch: str) -> str:
    """`\\n`, `\\x1b`, `\\u2028`, `\\ud800`: the escape Python's repr would write."""
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_invisible(text: str, escape) -> str:
    return "".join(escape(ch) if _invisible(ch) else ch for ch in str(text))


def terminal(text: str) -> str:
    """Text for a terminal (printed with markup off): control and format characters, including
    ESC, BEL and newlines, are shown as Python escapes, so a name can neither colour, retitle
    nor clear the terminal, nor fake a line of output."""
    return _escape_invisible(text, _python_escape)


def terminal_markup(text: str) -> str:
    """Like `terminal`, for strings that rich reads as markup (table cells and titles)."""
    from rich.markup import escape

    return escape(terminal(text))


def python_comment(text: str) -> str:
    """Text inside a `#` comment of generated Python: it cannot end the comment line."""
    return terminal(text)


_MARKDOWN_SPECIALS = {"\\": "\\\\", "|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "*": "\\*", "_": "\\_",
                      "`": "\\`", "[": "\\[", "]": "\\]", "#": "\\#", "$": "\\$", "~": "\\~", "!": "\\!",
                      "\n": " ", "\r": " ", "\t": " "}


def markdown(text: str) -> str:
    """Text literal in GitHub-flavoured Markdown (tables included): no HTML, no structure (line
    breaks become spaces), other invisible characters written as [U+XXXX]."""
    return "".join(_MARKDOWN_SPECIALS.get(ch) or (f"[U+{ord(ch):04X}]" if _invisible(ch) else ch) for ch in str(text))


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                   "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                   "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "\n": " ", "\r": " ",
                   "→": r"$\to$", "−": "-", "≤": r"$\le$", "≥": r"$\ge$", "Σ": r"$\Sigma$", "φ": r"$\varphi$",
                   "θ": r"$\theta$", "‖": r"$\|$", "ᵀ": r"$^\top$", "²": r"$^2$", "…": r"\dots{}", "§": r"\S{}",
                   "–": "--", "—": "---", "τ": r"$\tau$", "λ": r"$\lambda$", "α": r"$\alpha$", "≈": r"$\approx$",
                   "±": r"$\pm$", "·": r"$\cdot$", "×": r"$\times$", "ε": r"$\varepsilon$"}


def latex(text: str) -> str:
    """Text from a user's file, safe and literal inside LaTeX text: special characters are made
    literal, a few symbols typeset, and other non-ASCII characters written as [U+XXXX] so that
    pdflatex never meets a character it cannot typeset."""
    return "".join(_LATEX_SPECIALS.get(ch, ch if 32 <= ord(ch) < 127 else f"[U+{ord(ch):04X}]") for ch in str(text))


def latex_mathrm(name: str) -> str:
    """A parameter or tensor name as upright math, ``\\mathrm{…}``: letters, digits and ``.,[]``
    kept, ``_`` escaped, anything else (non-ASCII letters of an identifier) as [U+XXXX]."""
    def math_char(ch: str) -> str:
        if ch == "_":
            return r"\_"
        if ch.isascii() and (ch.isalnum() or ch in ".,[]"):
            return ch
        return f"[U+{ord(ch):04X}]"

    return r"\mathrm{" + "".join(map(math_char, name)) + "}"


_SURROGATES = re.compile("[\ud800-\udfff]")


def _json_clean(value):
    """Strings with lone surrogates (which no UTF-8 writer accepts) get U+FFFD in their place;
    infinite and NaN numbers (a diverged training run) become null, which JSON can say."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_json_clean(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v) for v in value]
    return value


def json_text(value) -> str:
    """A JSON document (UTF-8, indented) of `value`; every string in it is encodable."""
    return json.dumps(_json_clean(value), indent=2, ensure_ascii=False)
