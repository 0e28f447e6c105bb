"""The one error type the user sees: a located message with a hint, printed without a traceback."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from . import sanitize


@dataclass
class ConslawError(Exception):
    """A problem with the user's input, located in a file (1-based line and column)."""

    message: str
    file: str = "<input>"
    line: int = 1
    col: int = 1
    hint: str | None = None

    def __str__(self) -> str:
        """`file:line:col: message` and an indented hint line; every part passes the terminal
        sanitiser (file names and quoted values come from the user)."""
        text = f"{sanitize.terminal(self.file)}:{self.line}:{self.col}: {sanitize.terminal(self.message)}"
        if self.hint:
            text += f"\n  hint: {sanitize.terminal(self.hint)}"
        return text


def did_you_mean(word: str, choices) -> str | None:
    """A 'did you mean' hint for a misspelt key or kind, or None when nothing is close."""
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


class TooLarge(Exception):
    """Work that could not finish in reasonable time; the message carries an estimate."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint
