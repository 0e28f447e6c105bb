"""Progress of long work, on stderr.

On a terminal: a transient spinner line (rich) that `say(text)` updates, after half a second of
work. Elsewhere (CI logs, pipes): plain lines, one every few seconds while work runs, each saying
what is being computed, which file of how many, and the time elapsed, e.g.
``conslaw: [2/5] resnet.yaml: block 3/7 (1,204 parameters): tracing at point 1 of 2, bracket step 3,
dim 820, about 12 s left (14 s elapsed)``. Short runs print nothing. What `say` receives is printed
as str() each time a line is due (a counting.progress.ProgressEvent counts its time left down).
The interval is 5 s, or ``CONSLAW_PROGRESS_SECONDS``."""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

DEFAULT_INTERVAL = 5.0
MAX_INTERVAL = 3600.0
SPINNER_DELAY = 0.5  # seconds of work before a terminal shows a spinner


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

    def say(self, text: object) -> None:
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
    """A transient rich spinner line on a terminal, drawn once the work has run for `delay`
    seconds: a short run draws nothing and never imports rich.progress (40 ms)."""

    def __init__(self, console, total: int, delay: float):
        self.console, self.total = console, total
        self.index, self.name, self.text = 0, "", "starting"
        self.bar = self.task = None
        self._closed = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True

    def next_file(self, name: str) -> None:
        with self._lock:
            self.index, self.name, self.text = self.index + 1, name, "compiling"
            self._redraw(advance=1 if self.index > 1 else 0)

    def say(self, text: object) -> None:
        with self._lock:
            self.text = text
            self._redraw()

    def _description(self) -> str:
        return f"[{self.index}/{self.total}] {self.name}: {self.text}"

    def _redraw(self, advance: int = 0) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=self._description(), advance=advance)

    def _show(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with self._lock:
            if self._closed:
                return
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                console=self.console, transient=True)
            self.task = self.bar.add_task(self._description(), total=self.total, completed=max(0, self.index - 1))
            self.bar.start()

    def __enter__(self) -> "SpinnerReporter":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            if self.bar is not None:
                self.bar.stop()


def interval() -> float:
    """Seconds between plain progress lines (CONSLAW_PROGRESS_SECONDS, default 5, at most an hour:
    a thread cannot wait for a time beyond the platform's clock)."""
    try:
        return min(MAX_INTERVAL, max(0.01, float(os.environ.get("CONSLAW_PROGRESS_SECONDS", DEFAULT_INTERVAL))))
    except ValueError:
        return DEFAULT_INTERVAL


@contextmanager
def reporting(console, total: int) -> Iterator[LineReporter | SpinnerReporter]:
    """A reporter for `total` files: a spinner on the stderr `console` when stderr is a terminal
    (asked of the stream, so that the rich console is made only if a spinner is drawn), else lines."""
    reporter = (SpinnerReporter(console, total, SPINNER_DELAY) if sys.stderr.isatty()
                else LineReporter(sys.stderr, total, interval()))
    with reporter:
        yield reporter

