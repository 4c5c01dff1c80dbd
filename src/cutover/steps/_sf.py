"""The one place run steps get an `SfCli`: shared per run, every call recorded against the step that made it.

    with sf_session(ctx, services, runbook) as sf:      # sf is the shared SfCli, bound to this step's context
        info = sf.org_display(alias)

Every `sf` call made inside the block becomes evidence of the current step (`sf-NN-<command>.json`: redacted argv,
command line, exit code, duration, the JSON document, stderr) and an `sf.command` audit event. Calls made while
polling (`polling(ctx)`) are recorded as events only, so a 20-minute wait does not leave 600 files; the poller
records the final answer itself (`last_result(ctx)`).

The CLI is created once per run (cached in `services.extras["sf"]`): binary from the runbook's `sf.binary`, else
`$CUTOVER_SF`, else `sf` on PATH (resolved by the adapter), working folder = the project (the SFDX project the
manifest and source paths are relative to). HOME is the caller's: that is where the operator's `sf` logins live.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from cutover.engine import StepContext
from cutover.sf import SfCli, SfResult

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.steps.registry import StepServices

_EXTRAS_KEY = "sf"


@dataclass
class _Binding:
    """Which step the shared CLI is currently working for (steps run one at a time)."""

    ctx: StepContext | None = None
    polling: bool = False
    calls: int = 0
    last: SfResult | None = None


def shared_cli(services: StepServices, runbook: Runbook) -> SfCli:
    """The run's SfCli (created on first use and cached in `services.extras`; tests put a fake SfCli there)."""
    cached = services.extras.get(_EXTRAS_KEY)
    if cached is not None:
        return cast(SfCli, cached)
    binding = _Binding()
    sf_config = getattr(runbook, "sf", None)
    api_version = getattr(sf_config, "api_version", None)
    cli = SfCli(
        getattr(sf_config, "binary", None),
        # sf's own pin: every call of the run talks to the org at this API version (else sf picks the org's highest)
        env={**os.environ, "SF_ORG_API_VERSION": api_version} if api_version else None,
        cwd=services.project_dir,
        on_result=lambda result: _record(binding, result),
    )
    cli._cutover_binding = binding  # type: ignore[attr-defined]  # read back by sf_session/polling
    services.extras[_EXTRAS_KEY] = cli
    return cli


def _binding(cli: SfCli) -> _Binding:
    return cli._cutover_binding  # type: ignore[attr-defined,no-any-return]


@contextmanager
def sf_session(ctx: StepContext, services: StepServices, runbook: Runbook) -> Iterator[SfCli]:
    """Bind the shared CLI to `ctx` for the duration of the block."""
    cli = shared_cli(services, runbook)
    binding = _binding(cli)
    previous = binding.ctx
    binding.ctx = ctx
    try:
        yield cli
    finally:
        binding.ctx = previous


@contextmanager
def polling(cli: SfCli) -> Iterator[None]:
    """Inside: calls are audit events only (no evidence file each); use `last_result` for the final answer."""
    binding = _binding(cli)
    before = binding.polling
    binding.polling = True
    try:
        yield
    finally:
        binding.polling = before


def last_result(cli: SfCli) -> SfResult | None:
    """The most recent call's (redacted) result, e.g. the last `deploy report` of a poll."""
    return _binding(cli).last


def _command_words(result: SfResult) -> str:
    words = []
    for arg in result.argv[1:]:
        if arg.startswith("-"):
            break
        words.append(arg)
    return re.sub(r"[^a-z0-9]+", "-", "-".join(words[:3]).lower()).strip("-") or "call"


def _record(binding: _Binding, result: SfResult) -> None:
    binding.last = result
    ctx = binding.ctx
    if ctx is None:  # used outside a step (cutover target pin): nothing to record against
        return
    binding.calls += 1
    summary: dict[str, object] = {
        "command": result.command_line,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "duration_s": round(result.duration_s, 3),
    }
    if binding.polling:
        status = result.result.get("status") if isinstance(result.result, dict) else None
        ctx.event("sf.command", **summary, polled=True, status=status)
        return
    evidence = ctx.record_evidence(f"sf-{binding.calls:02d}-{_command_words(result)}.json", result.to_evidence())
    ctx.event("sf.command", **summary, evidence=evidence.relpath)
