"""Which plan steps overlap (cutover.runbook.plan.overlap), on the Elaro example runbook."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from cutover.runbook import load_runbook
from cutover.runbook.plan import build_plan

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "elaro" / "cutover.yaml"


def plan_of(tmp_path: Path, **changes: object) -> dict[str, object]:
    ryaml = YAML()
    doc = ryaml.load(EXAMPLE.read_text())
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            doc.setdefault(section, {})[name] = value
        else:
            doc[section] = value
    path = tmp_path / "cutover.yaml"
    with path.open("w") as handle:
        ryaml.dump(doc, handle)
    return {step.id: step for step in build_plan(load_runbook(path))}


def test_the_validation_is_submitted_after_the_guard_and_the_tests_joined_before_the_announcement(
    tmp_path: Path,
) -> None:
    steps = plan_of(tmp_path)
    validate, tests = steps["validate.dry-run"], steps["verify.apex-tests"]
    assert validate.params["overlap"] == {"after": ["guard.org-identity"], "join_before": None}
    assert any("runs alongside backup.retrieve, release.branch-and-tag" in c for c in validate.checks)
    assert tests.params["overlap"]["join_before"] == "verify.announce"
    alongside = next(c for c in tests.checks if c.startswith("Overlap:"))
    assert "verify.apex-logs" in alongside and "verify.permission-sets" in alongside
    assert "verify.announce" not in alongside.split("joined before")[0]


def test_sf_overlap_false_keeps_every_step_in_its_place(tmp_path: Path) -> None:
    steps = plan_of(tmp_path, sf__overlap=False)
    assert not any("overlap" in s.params for s in steps.values())
    assert not any(c.startswith("Overlap:") for s in steps.values() for c in s.checks)


def test_a_custom_step_after_the_guard_holds_the_validation_back(tmp_path: Path) -> None:
    custom = [{"id": "build-static", "after": "backup", "run": ["npm", "run", "build"]}]
    steps = plan_of(tmp_path, custom_steps=custom)
    overlap = steps["validate.dry-run"].params["overlap"]
    assert overlap["after"] == ["custom.build-static"]  # it may change the sources the validation sends


def test_scheduled_jobs_that_may_be_recreated_are_not_checked_while_the_tests_run(tmp_path: Path) -> None:
    steps = plan_of(tmp_path, verify__recreate_missing_jobs=True)
    assert steps["verify.apex-tests"].params["overlap"]["join_before"] == "verify.scheduled-jobs"
