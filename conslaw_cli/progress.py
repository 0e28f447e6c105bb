"""Progress of long work, on stderr.

On a terminal: a transient spinner line (rich) that `say(text)` updates. Elsewhere (CI logs,
pipes): plain lines, one every few seconds while work runs, each saying what is being computed,
which file of how many, and the time elapsed, e.g.
``conslaw: [2/5] resnet.yaml: bracket step 3, dim 1204 (14 s elapsed)``. Short runs print nothing.
The interval is 5 s, or ``CONSLAW_PROGRESS_SECONDS``."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

DEFAULT_INTERVAL = 5.0


class LineReporter:
    """Plain progress lines, at most one every `interval` seconds: printed by a background thread,
    and by `say` itself (compiled kernels may hold the interpreter lock for a while)."""

    def __init__(self, stream: TextIO, total: int, interval: float):
        self.stream, self.total, self.interval = stream, total, interval
        self.start = self.last_line = time.monotonic()
        self.index, self.name, self.text = 0, "", "starting"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def next_file(self, name: str) -> None:
        self.index, self.name, self.text = self.index + 1, name, "compiling"
        self._print_if_due()

    def say(self, text: str) -> None:
        self.text = text
        self._print_if_due()

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        return f"conslaw: [{self.index}/{self.total}] {self.name}: {self.text} ({elapsed:.0f} s elapsed)"

    def _print_if_due(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self.last_line >= self.interval:
                self.last_line = now
                print(self.line(), file=self.stream, flush=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval / 4):
            self._print_if_due()

    def __enter__(self) -> "LineReporter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class SpinnerReporter:
    """A transient rich spinner line on a terminal."""

    def __init__(self, console, total: int):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                            console=console, transient=True)
        self.total, self.index, self.name = total, 0, ""
        self.task = self.bar.add_task("", total=total)

    def next_file(self, name: str) -> None:
        if self.index:
            self.bar.advance(self.task)
        self.index, self.name = self.index + 1, name
        self.say("compiling")

    def say(self, text: str) -> None:
        self.bar.update(self.task, description=f"[{self.index}/{self.total}] {self.name}: {text}")

    def __enter__(self) -> "SpinnerReporter":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)


def interval() -> float:
    """Seconds between plain progress lines (CONSLAW_PROGRESS_SECONDS, default 5)."""
    try:
        return max(0.01, float(os.environ.get("CONSLAW_PROGRESS_SECONDS", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


@contextmanager
def reporting(console, total: int) -> Iterator[LineReporter | SpinnerReporter]:
    """A reporter for `total` files on the stderr `console`: a spinner on a terminal, else lines."""
    reporter = (SpinnerReporter(console, total) if console.is_terminal
                else LineReporter(console.file, total, interval()))
    with reporter:
        yield reporter

