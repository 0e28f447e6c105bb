"""Every conslaw command shown in the README runs as printed, and the output it shows is what
conslaw prints (numbers included; only the seconds column may differ). The LaTeX recipe line is
run by test_typesetting.py, which also checks its log and pages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
FENCE = re.compile(r"```(sh|console)\n(.*?)```", re.S)
SECONDS = re.compile(r"\b\d+\.\d{3}\b")


def readme_examples() -> list[tuple[str, list[str]]]:
    """(command line, output lines shown after it) for every conslaw command in the README.
    In ```console blocks a command starts with '$ ' and its output follows; ```sh blocks show
    commands only."""
    examples = []
    for kind, body in FENCE.findall((ROOT / "README.md").read_text()):
        for line in body.splitlines():
            if kind == "console" and line.startswith("$ "):
                examples.append((line[2:], []))
            elif kind == "console" and examples:
                examples[-1][1].append(line)
            elif kind == "sh" and line.startswith("conslaw "):
                examples.append((line, []))
    return [(command, shown) for command, shown in examples if "latexmk" not in command]


def normalized(line: str) -> str:
    return SECONDS.sub("#", line.rstrip())


def test_the_readme_shows_commands_with_their_output():
    examples = readme_examples()
    assert len(examples) >= 10
    assert sum(1 for _, shown in examples if shown) >= 2


@pytest.mark.parametrize("command, shown", readme_examples(), ids=lambda value: value if isinstance(value, str) else "")
def test_readme_command_runs_and_prints_what_the_readme_shows(command, shown, tmp_path):
    shutil.copytree(ROOT / "architectures", tmp_path / "architectures")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = {normalized(line) for line in proc.stdout.splitlines()}
    missing = [line for line in shown if normalized(line) not in printed]
    assert missing == [], proc.stdout
