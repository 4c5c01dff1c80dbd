"""The org lock across machines, as the local `cutover run` sees it: when a Temporal is configured for the project
(`CUTOVER_TEMPORAL`, or the address file `cutover server` writes), an org whose workflow is open there is refused
(exit 5), whichever clone or machine started it. Without a configured Temporal nothing is asked (and `temporalio` is
not even imported): single runs behave as before. A stale address file (the embedded server is not running) is
ignored; an unreachable `CUTOVER_TEMPORAL` is exit 6."""

from __future__ import annotations

import os
from pathlib import Path

from cutover.errors import EnvironmentProblem, RunLocked
from cutover.temporal.connect import ENV_ADDRESS, address_file


def refuse_if_held(project_dir: Path, org_id: str | None) -> None:
    if not org_id or not (os.environ.get(ENV_ADDRESS) or address_file(project_dir).is_file()):
        return
    from cutover.temporal.client import org_is_open
    from cutover.temporal.connect import resolve
    from cutover.temporal.types import org_workflow_id

    target = resolve(project_dir)
    try:
        held = org_is_open(target, org_id)
    except EnvironmentProblem:
        if target.source == "cutover server":  # the embedded server is not running: nobody holds a workflow there
            return
        raise
    if held:
        raise RunLocked(
            f"org {org_id} is locked: its run is open on Temporal {target.address} (a team or fleet run)",
            hint=f"see it with: temporal workflow describe -w {org_workflow_id(org_id)} --address {target.address}",
        )
