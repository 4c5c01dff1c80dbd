"""What the verify steps share: the run's evidence-recording SfCli per step, evidence tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, cast

from cutover.engine import StepContext
from cutover.steps.registry import StepServices

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.sf import SfCli

# ---------------------------------------------------------------------------------------------------------------------
# sf with evidence
# ---------------------------------------------------------------------------------------------------------------------

#: Opens the run's SfCli bound to a step context (every call becomes evidence of that step): `with make_sf(ctx) as sf`.
#: Tests put their own under `services.extras["sf_session"]` (yielding a fake with the SfCli methods they use).
SfFactory = Callable[[StepContext], AbstractContextManager["SfCli"]]


def step_sf(runbook: Runbook, services: StepServices) -> SfFactory:
    """The shared, evidence-recording SfCli of the run (`cutover.steps._sf`), one session per step execution."""
    custom = services.extras.get("sf_session")
    if custom is not None:
        return cast(SfFactory, custom)

    def make(ctx: StepContext) -> AbstractContextManager[SfCli]:
        from cutover.steps._sf import sf_session

        return sf_session(ctx, services, runbook)

    return make


def _wait_minutes(runbook: Runbook) -> int:
    return int(getattr(getattr(runbook, "sf", None), "wait_minutes", 33) or 33)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A fixed-width text table for evidence files (readable in a release record without tooling)."""
    body = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}%"
