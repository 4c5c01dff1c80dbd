"""The bench's arithmetic and its printed lines: windows, ratios, sf calls and the overhead outside sf."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.window.sfcalls import SfCall

POLL = "project deploy report"


def busy_seconds(intervals: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end] covered by at least one interval (overlapping sf processes count once)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total, cursor = 0.0, start
    for a, b in clipped:
        a = max(a, cursor)
        if b > a:
            total += b - a
            cursor = b
    return total


def poll_wait_seconds(calls: Sequence[SfCall], start: float, end: float) -> float:
    """Seconds of [start, end] with no sf process running that end in a poll of the job the previous sf call
    submitted or polled (`project deploy start|quick|report` then `project deploy report`): the tool sleeping
    between two questions to the org, i.e. waiting on the org, not working."""
    waited, cursor, last = 0.0, start, None
    for call in sorted(calls, key=lambda c: c.start):
        if call.end <= start or call.start >= end:
            continue
        polled = last is not None and call.command.startswith(POLL) and last.command.split()[:2] == POLL.split()[:2]
        if call.start > cursor and polled:
            waited += call.start - cursor
        if call.end > cursor:
            cursor, last = min(call.end, end), call
    return waited


@dataclass
class Window:
    """One path's deployment window: wall-clock start and end, and the sf processes of the whole path."""

    label: str
    start: float
    end: float
    calls: list[SfCall] = field(default_factory=list)
    note: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def window_calls(self) -> list[SfCall]:
        """sf processes started inside the window."""
        return [c for c in self.calls if self.start <= c.start <= self.end]

    @property
    def sf_seconds(self) -> float:
        return busy_seconds([(c.start, c.end) for c in self.window_calls], self.start, self.end)

    @property
    def poll_wait_seconds(self) -> float:
        return poll_wait_seconds(self.window_calls, self.start, self.end)

    @property
    def overhead_seconds(self) -> float:
        """Wall time of the window neither inside an sf process nor sleeping between polls of a deploy job: the
        tool's own work (git, archives, its database, Python)."""
        return self.seconds - self.sf_seconds - self.poll_wait_seconds

    @property
    def overhead_share(self) -> float:
        return self.overhead_seconds / self.seconds if self.seconds > 0 else 0.0


def ratio(path: Window, seed: Window) -> float:
    return path.seconds / seed.seconds if seed.seconds > 0 else float("inf")


def window_line(window: Window) -> str:
    calls = window.window_calls
    failed = sum(1 for c in calls if c.returncode != 0)
    failed_text = f" ({failed} exited non-zero)" if failed else ""
    waited = window.poll_wait_seconds
    polls = f", {waited:.1f}s between polls (waiting on the org)" if waited >= 0.05 else ""
    return (
        f"{window.label}: window {window.seconds:.1f}s, {len(calls)} sf calls{failed_text}, "
        f"{window.sf_seconds:.1f}s inside sf{polls}, overhead {window.overhead_seconds:.1f}s "
        f"({window.overhead_share * 100:.1f} %)"
    )


def comparison_line(path: Window, seed: Window, target: float, overhead_target: float | None = None) -> str:
    value = ratio(path, seed)
    text = f"ratio {value:.2f}x the seed's path (target <= {target:.2f}x: {'met' if value <= target else 'NOT met'})"
    if overhead_target is not None:
        share = path.overhead_share
        verdict = "met" if share < overhead_target else "NOT met"
        text += f"; overhead {share * 100:.1f} % (target < {overhead_target * 100:.0f} %: {verdict})"
    return text


def call_breakdown(window: Window) -> str:
    """`project deploy` x2 (95.1s), ...: what the window's sf time went to."""
    groups: dict[str, list[SfCall]] = {}
    for call in window.window_calls:
        groups.setdefault(call.command, []).append(call)
    parts = [
        f"{name} x{len(calls)} ({sum(c.seconds for c in calls):.1f}s)"
        for name, calls in sorted(groups.items(), key=lambda item: -sum(c.seconds for c in item[1]))
    ]
    return ", ".join(parts)
