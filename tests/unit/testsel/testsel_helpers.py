"""Shared by the testsel unit tests: the fixture project and deltas built with cutover.delta's own types."""

from __future__ import annotations

from pathlib import Path

from cutover.delta import Component, Delta

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "testsel"


def delta(*upserts: Component, deletions: tuple[Component, ...] = ()) -> Delta:
    return Delta(since="v1.0.0", until="HEAD", upserts=upserts, deletions=deletions, renames=())


__all__ = ["FIXTURE", "Component", "Delta", "delta"]
