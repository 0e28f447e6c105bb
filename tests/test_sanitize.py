"""The sanitisers (one per output channel) and the atomic writer, on hostile strings."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conslaw_cli import sanitize
from conslaw_cli.errors import ConslawError
from conslaw_cli.render.output import write_output

HOSTILE = "a\x1b[31m\x07\n\r\t\u202e\u2028\ud800<img>#`|$\\_{}é层"


def test_terminal_shows_every_invisible_character_as_an_escape():
    shown = sanitize.terminal(HOSTILE)
    assert shown == "a\\x1b[31m\\x07\\n\\r\\t\\u202e\\u2028\\ud800<img>#`|$\\_{}é层"
    assert all(ch.isprintable() for ch in shown)
    assert sanitize.terminal_markup("[bold]x") == "\\[bold]x"


def test_python_comment_cannot_end_its_line():
    comment = "# " + sanitize.python_comment(HOSTILE)
    assert len(comment.splitlines()) == 1 and comment.isprintable()


def test_markdown_has_no_structure_and_no_html():
    text = sanitize.markdown(HOSTILE)
    assert "\n" not in text and "<" not in text and "[U+202E]" in text and "[U+D800]" in text
    assert text.startswith("a[U+001B]\\[31m[U+0007]")


def test_latex_is_ascii_and_literal():
    assert sanitize.latex(HOSTILE).isascii()
    assert sanitize.latex("层_x") == r"[U+5C42]\_x"
    assert sanitize.latex_mathrm("层.weight") == r"\mathrm{[U+5C42].weight}"
    assert sanitize.latex_mathrm("hidden_1.bias") == r"\mathrm{hidden\_1.bias}"


def test_json_replaces_lone_surrogates_and_stays_valid():
    text = sanitize.json_text({"name": HOSTILE, HOSTILE: [HOSTILE]})
    text.encode("utf-8")  # encodable: no lone surrogate left
    data = json.loads(text)
    assert data["name"] == HOSTILE.replace("\ud800", "\ufffd")


def test_writer_refuses_directories_and_keeps_permissions(tmp_path):
    with pytest.raises(ConslawError, match="not a regular file"):
        write_output("x", tmp_path, [])
    with pytest.raises(ConslawError, match="No such file or directory"):
        write_output("x", tmp_path / "missing" / "out.md", [])
    private = tmp_path / "private.md"
    private.write_text("old")
    private.chmod(0o600)
    write_output("new", private, [])
    assert private.read_text() == "new" and stat.S_IMODE(os.stat(private).st_mode) == 0o600


def test_writer_writes_devices_directly():
    write_output("discarded", Path(os.devnull), [])  # /dev/null cannot be replaced by a rename


def test_writer_changes_nothing_when_the_text_cannot_be_encoded(tmp_path):
    target = tmp_path / "keep.json"
    target.write_text("{}")
    with pytest.raises(UnicodeEncodeError):
        write_output("\ud800", target, [])
    assert target.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["keep.json"]
