"""Progress events of a count (counting/progress.py): what they say, and the time left, which is
the estimate of the work still to come scaled by how the finished work compared with its own."""

from __future__ import annotations

import pytest

from conslaw_cli import progress as progress_lines
from conslaw_cli.counting import progress
from conslaw_cli.counting.progress import ProgressEvent, Task, Tracker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    return clock


def test_the_time_left_is_scaled_by_the_blocks_done(clock):
    events = []
    tracker = Tracker(events.append, [10, 20])
    tracker.expect([Task(0, "certifying", 1.0), Task(1, "certifying", 2.0)])
    tracker.begin(0, "certifying")
    assert events[-1].remaining == pytest.approx(3.0)  # nothing done yet: the estimates themselves
    clock.now += 2.0  # block 1 took twice its estimate
    tracker.begin(1, "certifying")
    assert events[-1].remaining == pytest.approx(4.0)  # so block 2 is expected to take 2 × 2 s
    assert (events[-1].block, events[-1].blocks, events[-1].size) == (2, 2, 20)
    clock.now += 1.0
    tracker.step(0, 7)
    assert events[-1].remaining == pytest.approx(3.0) and events[-1].dim == 7


def test_skipped_tasks_leave_the_plan(clock):
    tracker = Tracker(None, [5, 5])
    tracker.expect([Task(0, "p1", 1.0), Task(1, "p1", 1.0), Task(0, "p2", 1.0), Task(1, "p2", 1.0)])
    tracker.begin(0, "p1")
    tracker.begin(1, "p1")
    tracker.begin(1, "p2")  # block 1 was proved at the first point: its second trace never runs
    assert tracker.pending == []


def test_an_event_counts_its_time_left_down_as_it_is_printed(clock):
    event = ProgressEvent("tracing at point 1 of 2", 3, 4, 2400, step=2, dim=1204, remaining=12.4)
    assert str(event) == ("block 3/4 (2,400 parameters): tracing at point 1 of 2, bracket step 2, dim 1,204, "
                          "about 12 s left")
    clock.now += 12.0
    assert str(event).endswith("under 1 s left")
    assert str(ProgressEvent("tracing", 1, 1, 9, step=1, target=5)) == \
        "block 1/1 (9 parameters): tracing, bracket steps 0–1 in one exact rank, toward dim 5"


@pytest.mark.parametrize("value, expected", [("1e300", progress_lines.MAX_INTERVAL), ("inf", progress_lines.MAX_INTERVAL),
                                             ("nan", 0.01), ("-3", 0.01), ("2", 2.0), ("soon", 5.0)])
def test_the_progress_interval_is_bounded(monkeypatch, value, expected):
    # a huge interval once made the progress thread fail ("timestamp out of range for platform time_t")
    monkeypatch.setenv("CONSLAW_PROGRESS_SECONDS", value)
    assert progress_lines.interval() == expected
