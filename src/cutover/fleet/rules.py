"""The fleet's arithmetic, pure and deterministic (the fleet workflow runs it inside Temporal's sandbox): how many
orgs a wave takes, and when a wave halts the fleet."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

#: Outcomes of an org's run that count against a wave's threshold.
BAD_OUTCOMES = frozenset({"failed", "rolled_back", "aborted", "error", "locked"})
CANARY_THRESHOLD = 0.0
DEFAULT_THRESHOLD = 0.10


def wave_size(size: int | str, total: int, remaining: int) -> int:
    """Orgs in a wave: a count (`3`), a share of the whole fleet (`10%`, rounded up, at least 1) or `rest`; never
    more than the orgs not yet placed."""
    if isinstance(size, str):
        text = size.strip().lower()
        if text == "rest":
            return remaining
        if text.endswith("%"):
            share = float(text[:-1])
            count = max(1, math.ceil(total * share / 100 - 1e-9))
            return min(count, remaining)
        size = int(text)
    return min(int(size), remaining)


def split_waves(sizes: Sequence[int | str], total: int) -> list[int]:
    """The number of orgs in each wave, in order (a wave left with no org gets 0)."""
    out = []
    remaining = total
    for size in sizes:
        count = wave_size(size, total, remaining)
        out.append(count)
        remaining -= count
    return out


def default_threshold(index: int) -> float:
    """0 for the canary (the first wave), 10 % after it."""
    return CANARY_THRESHOLD if index == 0 else DEFAULT_THRESHOLD


def bad_orgs(outcomes: Mapping[str, str]) -> list[str]:
    return sorted(org for org, outcome in outcomes.items() if outcome in BAD_OUTCOMES)


def halt_reason(wave: str, outcomes: Mapping[str, str], threshold: float) -> str | None:
    """Why the fleet halts after this wave (None: it goes on): failed or rolled-back orgs exceed the threshold."""
    if not outcomes:
        return None
    bad = bad_orgs(outcomes)
    if len(bad) <= threshold * len(outcomes) + 1e-9:
        return None
    listed = ", ".join(f"{org} {outcomes[org]}" for org in bad)
    return (
        f"wave {wave}: {len(bad)} of {len(outcomes)} org(s) failed or rolled back ({listed}), "
        f"more than its threshold of {threshold:.0%}"
    )
