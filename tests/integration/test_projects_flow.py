"""Issue 7's acceptance: each fixture project goes from `cutover init` to `succeeded` and back to `rolled_back`.

The flow itself (phases, commands, the file-for-file comparison) is in `projects_flow.py`. One org and one flow per
project; the three can run in parallel: `pytest tests/integration/test_projects_flow.py -n 3 --dist loadgroup`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from projects_flow import PROJECTS, run_flow

pytestmark = pytest.mark.integration
# A flow takes about 160 s alone on two cores (about 40 sf calls, most of them cutover's own); under a loaded
# machine it can take several times that, so the suite's 300 s default would cut it off mid-rollback.
FLOW_TIMEOUT_S = 1200


@pytest.mark.timeout(FLOW_TIMEOUT_S)
@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.xdist_group(f"projects-{name}")) for name in PROJECTS]
)
def test_the_project_is_released_with_signoffs_and_rolled_back_to_the_same_org(
    name: str, tmp_path: Path, sf_bin: Path, record_property: pytest.RecordProperty
) -> None:
    result = run_flow(name, tmp_path / name, sf_bin)
    record_property("flow_seconds", result.seconds)
    record_property("sf_calls", result.sf_calls)
    print(f"{name}: {result.seconds} s, {result.sf_calls} direct sf calls, phases {result.phases}")
    assert result.final_state == "succeeded"
    assert result.rollback_state == "rolled_back"
    assert result.snapshot_files >= 10
