"""What a count is doing now, for progress lines: the stage, block i of n with its size, the
bracket step and the dimension reached, and the time left as estimated.

The engines report through a `Tracker`; it turns their calls into `ProgressEvent`s for the
caller's callback (the CLI prints them with the time elapsed, a notebook may read the fields).
The time left is the refusal logic's estimate of the blocks not yet done (``estimate``), scaled
by how the blocks done so far compared with their own estimates, so that it corrects itself as
the run goes on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: `block` of `blocks` (1-based), `size` parameters, in `stage`
    ("certifying", "tracing at point 1 of 2", …); `step` and `dim` once a bracket trace runs;
    `target` when one exact rank of the steps up to `step` aims at a proved dimension (the
    ceiling set by checked laws; `dim` is then None); `remaining` estimated seconds left when the
    event was made, at `made` (time.monotonic(); None when no estimate is known). Its text gives
    the time left as of when it is printed, so that a line repeated during a long block counts
    down."""

    stage: str
    block: int
    blocks: int
    size: int
    step: int | None = None
    dim: int | None = None
    target: int | None = None
    remaining: float | None = None
    made: float = field(default_factory=lambda: time.monotonic())

    def __str__(self) -> str:
        text = f"block {self.block}/{self.blocks} ({self.size:,} parameters): {self.stage}"
        if self.target is not None:
            text += f", bracket steps 0–{self.step} in one exact rank, toward dim {self.target:,}"
        elif self.step is not None:
            text += f", bracket step {self.step}, dim {self.dim:,}"
        if self.remaining is not None:
            text += ", " + _time_left(self.remaining - (time.monotonic() - self.made))
        return text


Progress = Callable[[ProgressEvent], None]


def tracing(point: int, points: int) -> str:
    """The stage of a bracket trace at one of the random points."""
    return f"tracing at point {point + 1} of {points}"


def _time_left(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s left"
    if seconds < 60:
        return f"about {round(seconds)} s left"
    if seconds < 3600:
        return f"about {seconds / 60:.0f} min left"
    return f"about {seconds / 3600:.1f} h left"


@dataclass(frozen=True)
class Task:
    """A unit of work the tracker expects: block (0-based), stage and estimated seconds."""

    block: int
    stage: str
    estimate: float = 0.0


class Tracker:
    """Turns the engine's calls into events. `expect(tasks)` says what is still to come, in order
    (called again when the plan changes, e.g. a certificate that does not meet leaves a trace to
    do); `begin(block, stage)` as each task starts (planned tasks before it were skipped);
    `step(level, rank)` from the bracket trace (lie.block_trace's callback). `sizes[i]`: the
    parameters of block i. Without estimates (`timed=False`) no time left is shown."""

    def __init__(self, callback: Progress | None, sizes: Sequence[int], timed: bool = True):
        self.callback, self.sizes, self.timed = callback, list(sizes), timed
        self.pending: list[Task] = []
        self.current: Task | None = None
        self.current_started = time.monotonic()
        self.estimated_done = 0.0  # estimated seconds of the tasks finished
        self.measured_done = 0.0  # their measured seconds

    def expect(self, tasks: Sequence[Task]) -> None:
        self.pending = list(tasks)

    def begin(self, block: int, stage: str) -> None:
        now = time.monotonic()
        if self.current is not None:
            self.estimated_done += self.current.estimate
            self.measured_done += now - self.current_started
        matches = [k for k, task in enumerate(self.pending) if (task.block, task.stage) == (block, stage)]
        if matches:
            self.current, self.pending = self.pending[matches[0]], self.pending[matches[0] + 1:]
        else:
            self.current = Task(block, stage)
        self.current_started = now
        self._emit()

    def step(self, level: int, rank: int | None, target: int | None = None) -> None:
        self._emit(level, rank, target)

    def _remaining(self) -> float | None:
        if not self.timed or self.current is None:
            return None
        scale = self.measured_done / self.estimated_done if self.estimated_done > 0.05 else 1.0
        spent = time.monotonic() - self.current_started
        return max(0.0, scale * self.current.estimate - spent) + scale * sum(t.estimate for t in self.pending)

    def _emit(self, level: int | None = None, rank: int | None = None, target: int | None = None) -> None:
        if self.callback is not None and self.current is not None:
            block = self.current.block
            self.callback(ProgressEvent(self.current.stage, block + 1, len(self.sizes), self.sizes[block],
                                        level, rank, target, self._remaining()))
