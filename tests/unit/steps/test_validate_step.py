"""sf.validate: the seed's Validation Criteria over recorded sf shapes, and the submit → record id → poll order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, Progress, StepContext, StepSpec, StepStatus
from cutover.runbook import parse_runbook
from cutover.runbook.models import DestructiveChanges
from cutover.runbook.plan import build_plan
from cutover.sf import SfApiError
from cutover.sf.process import SfResult
from cutover.sf.results import ComponentMessage, DeployResult, parse_deploy_result
from cutover.steps._sf import _Binding, _record, last_result, polling, sf_session
from cutover.steps.registry import StepServices
from cutover.steps.validate import (
    MAX_POLL_INTERVAL_S,
    StillWaiting,
    Validate,
    criteria_table,
    describe_progress,
    failure_reasons,
    poll_interval,
    summary_line,
    validation_criteria,
    wait_for_deploy,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sf"


def deploy_fixture(name: str) -> DeployResult:
    return parse_deploy_result(json.loads((FIXTURES / name).read_text())["result"])


SUCCESS = deploy_fixture("validate_success_runlocaltests.json")
FAILED_TESTS = deploy_fixture("deploy_dryrun_failed_tests_legacy.json")
FAILED_COMPONENTS = deploy_fixture("deploy_failed_components.json")
QUEUED = deploy_fixture("deploy_async_queued.json")


@dataclass
class RecordingProgress(Progress):
    lines: list[str] = field(default_factory=list)

    def update(self, text: str) -> None:
        self.lines.append(text)


@dataclass
class FakeSf:
    """The SfCli methods validate uses; `reports` are answered in order (the last one repeats)."""

    reports: list[Any]
    ctx: StepContext | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    ids_seen_at_first_report: dict[str, Any] | None = None
    _cutover_binding: _Binding = field(default_factory=_Binding)

    def deploy_start(self, alias: str, **kwargs: Any) -> DeployResult:
        self.calls.append(("deploy_start", kwargs))
        return QUEUED

    def generate_manifest(self, **kwargs: Any) -> Path:
        self.calls.append(("generate_manifest", kwargs))
        path = Path(kwargs["output_dir"]) / "package.xml"
        path.write_text("<Package/>")
        return path

    cancel_error: Exception | None = None

    def deploy_cancel(self, alias: str, job_id: str, **_: Any) -> DeployResult:
        self.calls.append(("deploy_cancel", job_id))
        if self.cancel_error is not None:
            raise self.cancel_error
        return QUEUED

    def deploy_report(self, alias: str, job_id: str, **_: Any) -> DeployResult:
        self.calls.append(("deploy_report", job_id))
        if self.ids_seen_at_first_report is None:
            ctx = self._cutover_binding.ctx
            assert ctx is not None
            self.ids_seen_at_first_report = dict(ctx.store.step(ctx.run_id, ctx.step.id).external_ids)
        answer = self.reports.pop(0) if len(self.reports) > 1 else self.reports[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


RUNBOOK = parse_runbook("target:\n  alias: production\nthresholds:\n  apex_coverage: 85\n")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def make_ctx(engine: Engine, progress: Progress | None = None) -> StepContext:
    run = engine.create_run(
        "production", [StepSpec(id="validate.dry-run", stage="validate", title="v", action="sf.validate")]
    )
    record = engine.store.step(run.id, "validate.dry-run")
    return StepContext(store=engine.store, record=record, project_dir=engine.project_dir, progress=progress)


def make_step(engine: Engine, fake: FakeSf) -> Validate:
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    services.extras["sf"] = fake
    step = Validate({"manifest": "manifest/package.xml", "test_level": "RunLocalTests"}, RUNBOOK, services)
    step.interval_s = 0
    return step


# -- criteria ---------------------------------------------------------------------------------------------------------
def test_successful_validation_meets_every_criterion() -> None:
    criteria = validation_criteria(SUCCESS, min_coverage=85)
    assert [c.ok for c in criteria] == [True, True, True, True]
    coverage = SUCCESS.coverage_pct
    assert coverage is not None and coverage >= 85
    line = summary_line(SUCCESS, min_coverage=85)
    assert line.startswith("Succeeded: ") and f"coverage {coverage:.1f}% ≥ 85%" in line
    assert f"{SUCCESS.components_deployed}/{SUCCESS.components_total} components" in line


def test_coverage_below_the_threshold_fails_only_that_criterion() -> None:
    coverage = SUCCESS.coverage_pct
    assert coverage is not None
    criteria = validation_criteria(SUCCESS, min_coverage=coverage + 0.5)
    assert [c.name for c in criteria if not c.ok] == ["Code coverage"]
    assert any("below" in r for r in failure_reasons(SUCCESS, criteria))
    assert "| Code coverage |" in criteria_table(criteria) and "FAIL" in criteria_table(criteria)


def test_failed_test_names_class_method_and_message() -> None:
    criteria = validation_criteria(FAILED_TESTS, min_coverage=0)
    failing = {c.name for c in criteria if not c.ok}
    assert {"Status", "All tests pass"} <= failing
    first = FAILED_TESTS.test_failures[0]
    reasons = failure_reasons(FAILED_TESTS, criteria)
    assert any(f"test {first.full_name}: " in r and (first.message or "") in r for r in reasons)


def test_component_failures_are_listed_with_file_and_line() -> None:
    criteria = validation_criteria(FAILED_COMPONENTS, min_coverage=85)
    assert not next(c for c in criteria if c.name == "No component failures").ok
    comp = FAILED_COMPONENTS.failures[0]
    reasons = failure_reasons(FAILED_COMPONENTS, criteria)
    assert reasons[0].startswith(f"{comp.type} {comp.name} (") and f":{comp.line}" in reasons[0]


def test_scheduled_jobs_blocking_a_class_get_a_hint() -> None:
    comp = FAILED_COMPONENTS.component_failures[0]
    blocked = replace(comp, problem="This schedulable class has jobs pending or in progress", line=None)
    result = replace(FAILED_COMPONENTS, component_failures=(blocked,))
    reasons = failure_reasons(result, validation_criteria(result, min_coverage=85))
    assert any(f"pending jobs: {comp.name}" in r and "Deployment Settings" in r for r in reasons)
    assert not any("Deployment Settings" in r for r in failure_reasons(FAILED_COMPONENTS))


def test_no_tests_run_cannot_prove_the_criteria() -> None:
    no_tests = replace(SUCCESS, tests=None)
    criteria = validation_criteria(no_tests, min_coverage=85)
    assert {c.name for c in criteria if not c.ok} == {"All tests pass", "Code coverage"}


def test_progress_line_shows_components_and_tests() -> None:
    running = replace(SUCCESS, status="InProgress", components_deployed=3, components_total=9, tests_completed=1)
    text = describe_progress("validation", running)
    assert "InProgress" in text and "components 3/9" in text and f"tests 1/{SUCCESS.tests_total}" in text


# -- the step ----------------------------------------------------------------------------------------------------------
def test_run_records_the_job_id_before_polling_and_passes(engine: Engine) -> None:
    progress = RecordingProgress()
    running = replace(SUCCESS, status="InProgress", done=False, id=QUEUED.id)
    fake = FakeSf(reports=[running, replace(SUCCESS, id=QUEUED.id)])
    ctx = make_ctx(engine, progress)
    outcome = make_step(engine, fake).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert fake.calls[0][0] == "deploy_start"
    kwargs = fake.calls[0][1]
    assert kwargs["dry_run"] is True and kwargs["async_"] is True and kwargs["test_level"] == "RunLocalTests"
    assert fake.ids_seen_at_first_report == {"validation_id": QUEUED.id}
    assert [c for c in fake.calls if c[0] == "deploy_report"] == [("deploy_report", QUEUED.id)] * 2
    assert outcome.detail.startswith("Succeeded:") and QUEUED.id in outcome.detail
    assert any("InProgress" in line for line in progress.lines)
    names = {e["name"] for e in engine.store.evidence(ctx.run_id, ctx.step.id)}
    assert {"validation-criteria.json", "validation-criteria.md"} <= names


def test_failed_validation_is_a_failure_with_the_reasons(engine: Engine) -> None:
    fake = FakeSf(reports=[replace(FAILED_TESTS, id=QUEUED.id)])
    outcome = make_step(engine, fake).run(make_ctx(engine))
    assert outcome.status == StepStatus.FAILED
    assert FAILED_TESTS.test_failures[0].full_name in outcome.detail
    assert "cutover retry validate.dry-run" in outcome.detail


def test_reattach_polls_the_recorded_job_without_resubmitting(engine: Engine) -> None:
    fake = FakeSf(reports=[replace(SUCCESS, id="0Af000000000042AAA")])
    outcome = make_step(engine, fake).reattach(make_ctx(engine), {"validation_id": "0Af000000000042AAA"})
    assert outcome.status == StepStatus.PASSED
    assert [c[0] for c in fake.calls] == ["deploy_report"]
    assert fake.calls[0][1] == "0Af000000000042AAA"


def test_a_transient_report_error_is_retried_but_three_in_a_row_end_the_wait(engine: Engine) -> None:
    blip = SfApiError("INVALID_SESSION_ID-ish blip")
    fake = FakeSf(reports=[blip, blip, replace(SUCCESS, id=QUEUED.id)])
    assert make_step(engine, fake).run(make_ctx(engine)).status == StepStatus.PASSED

    other = Engine(engine.project_dir / "other")
    try:
        broken = FakeSf(reports=[blip, blip, blip, replace(SUCCESS, id=QUEUED.id)])
        with pytest.raises(SfApiError):
            make_step(other, broken).run(make_ctx(other))
    finally:
        other.close()


# -- the shared sf session (steps/_sf.py) -------------------------------------------------------------------------
def test_sf_calls_become_evidence_and_polls_only_events(engine: Engine, tmp_path: Path) -> None:
    services = StepServices(project_dir=tmp_path, target_org="production")
    ctx = make_ctx(engine)
    envelope = {"status": 0, "result": {"id": QUEUED.id, "status": "InProgress"}}
    call = SfResult(("/x/sf", "project", "deploy", "report", "--job-id", QUEUED.id, "--json"), 0, envelope, "", "", 1.2)
    with sf_session(ctx, services, RUNBOOK) as sf:
        binding = sf._cutover_binding  # type: ignore[attr-defined]
        assert binding.ctx is ctx and sf.cwd == tmp_path
        _record(binding, call)
        with polling(sf):
            _record(binding, call)
        assert last_result(sf) is call
    assert binding.ctx is None
    names = [e["name"] for e in engine.store.evidence(ctx.run_id, ctx.step.id)]
    assert names == ["sf-01-project-deploy-report.json"]
    events = [e for e in engine.store.events(ctx.run_id) if e.type == "sf.command"]
    assert [e.payload.get("polled", False) for e in events] == [False, True]
    assert events[0].payload["command"] == f"sf project deploy report --job-id {QUEUED.id}"
    assert events[1].payload["status"] == "InProgress"


def test_a_job_still_running_at_the_deadline_says_how_to_wait_again(engine: Engine) -> None:
    running = replace(SUCCESS, status="InProgress", done=False, id=QUEUED.id)
    fake = FakeSf(reports=[running])
    ctx = make_ctx(engine)
    fake._cutover_binding.ctx = ctx
    with pytest.raises(StillWaiting) as waited:
        wait_for_deploy(ctx, fake, "production", QUEUED.id, label="validation", timeout_s=0, sleep=lambda _: None)  # type: ignore[arg-type]
    assert "still InProgress" in waited.value.message
    assert waited.value.hint and "cutover retry validate.dry-run && cutover resume" in waited.value.hint


def test_the_release_deletions_travel_with_the_validation(engine: Engine) -> None:
    runbook = RUNBOOK.model_copy(
        update={
            "project": RUNBOOK.project.model_copy(
                update={
                    "destructive_changes": DestructiveChanges(post="manifest/destructiveChangesPost.xml"),
                    "manifest": "manifest/package.xml",
                }
            )
        }
    )
    fake = FakeSf(reports=[replace(SUCCESS, id=QUEUED.id)])
    step = make_step(engine, fake)
    step.runbook = runbook
    assert step.run(make_ctx(engine)).status == StepStatus.PASSED
    kwargs = fake.calls[0][1]
    assert kwargs["manifest"] == engine.project_dir / "manifest/package.xml"
    assert kwargs["post_destructive"] == engine.project_dir / "manifest/destructiveChangesPost.xml"
    assert kwargs["pre_destructive"] is None


def test_the_plan_shows_the_deletions_and_a_manifest_is_required() -> None:
    text = (
        "target:\n  alias: production\nproject:\n  destructive_changes:\n    pre: manifest/destructiveChangesPre.xml\n"
    )
    runbook = parse_runbook(text, "cutover.yaml")
    step = next(s for s in build_plan(runbook) if s.id == "validate.dry-run")
    assert "--pre-destructive-changes manifest/destructiveChangesPre.xml" in (step.sf_command or "")
    # sf deletes only with --manifest: without one the validation generates a package.xml of the package directories
    without = parse_runbook(text.replace("project:\n", "project:\n  manifest: null\n"), "cutover.yaml")
    step = next(s for s in build_plan(without) if s.id == "validate.dry-run")
    assert "--manifest <generated-package.xml> --pre-destructive-changes" in (step.sf_command or "")


def test_deletions_without_a_manifest_send_a_generated_one(engine: Engine) -> None:
    project = RUNBOOK.project.model_copy(
        update={"manifest": None, "destructive_changes": DestructiveChanges(post="manifest/destructiveChangesPost.xml")}
    )
    fake = FakeSf(reports=[replace(SUCCESS, id=QUEUED.id)])
    step = make_step(engine, fake)
    step.runbook = RUNBOOK.model_copy(update={"project": project})
    step.params = {**step.params, "manifest": None}  # the plan passes the runbook's manifest, None included
    assert step.run(make_ctx(engine)).status == StepStatus.PASSED
    (name, generated), (_, sent) = fake.calls[0], fake.calls[1]
    assert name == "generate_manifest" and generated["source_dirs"] == ["force-app"]
    assert sent["manifest"].name == "package.xml" and sent["source_dirs"] is None
    assert sent["post_destructive"] == engine.project_dir / "manifest/destructiveChangesPost.xml"


def _without_tests(*types: str) -> DeployResult:
    rows = tuple(ComponentMessage(type=t, name=f"n{i}", file=f"f{i}", success=True) for i, t in enumerate(types))
    return replace(SUCCESS, tests=None, tests_total=0, tests_completed=0, component_successes=rows, files=())


def test_a_release_without_apex_needs_no_tests_to_pass() -> None:
    result = _without_tests("LightningComponentBundle", "StaticResource", "BrandingSet")
    criteria = validation_criteria(result, min_coverage=85)
    assert [c.ok for c in criteria] == [True, True, True, True]
    assert "no Apex" in criteria[2].actual and "no Apex" in summary_line(result, min_coverage=85)


def test_apex_without_tests_or_an_unknown_component_list_still_fails() -> None:
    with_apex = validation_criteria(_without_tests("ApexClass", "StaticResource"), min_coverage=85)
    assert [c.ok for c in with_apex] == [True, True, False, False]
    unknown = validation_criteria(_without_tests(), min_coverage=85)
    assert [c.ok for c in unknown] == [True, True, False, False]


# -- detachable: submit, join, cancel; fewer polls ------------------------------------------------------------------
def test_submit_records_the_job_id_and_does_not_wait(engine: Engine) -> None:
    fake = FakeSf(reports=[SUCCESS])
    ctx = make_ctx(engine)
    make_step(engine, fake).submit(ctx)
    assert [c[0] for c in fake.calls] == ["deploy_start"]
    assert fake.calls[0][1]["async_"] is True and fake.calls[0][1]["dry_run"] is True
    assert engine.store.step(ctx.run_id, "validate.dry-run").external_ids == {"validation_id": QUEUED.id}


def test_a_submitted_validation_is_joined_or_cancelled_by_its_job_id(engine: Engine) -> None:
    fake = FakeSf(reports=[replace(SUCCESS, id=QUEUED.id)])
    step = make_step(engine, fake)
    ctx = make_ctx(engine)
    assert step.reattach(ctx, {"validation_id": QUEUED.id}).status == StepStatus.PASSED
    step.cancel(ctx, {"validation_id": QUEUED.id})
    assert [c for c in fake.calls if c[0] != "deploy_report"] == [("deploy_cancel", QUEUED.id)]
    assert any(e.type == "validation.cancelled" for e in engine.store.events(ctx.run_id))


def test_the_poll_interval_grows_with_the_wait_and_is_capped() -> None:
    assert poll_interval(2.0, 0) == 2.0
    assert poll_interval(2.0, 15) == 2.0
    assert poll_interval(2.0, 100) == pytest.approx(10.0)
    assert poll_interval(2.0, 7200) == MAX_POLL_INTERVAL_S
    # an hour-long wait: ~150 report calls instead of 1,800 at a fixed 2 s
    waited, calls = 0.0, 0
    while waited < 3600:
        waited += poll_interval(2.0, waited)
        calls += 1
    assert 100 < calls < 200


def test_a_validation_that_finished_before_the_cancel_is_said_so_and_other_errors_raise(engine: Engine) -> None:
    finished = SfApiError("Can't cancel deploy because it's already completed.", name="CannotCancelDeployError")
    fake = FakeSf(reports=[SUCCESS], cancel_error=finished)
    ctx = make_ctx(engine)
    note = make_step(engine, fake).cancel(ctx, {"validation_id": QUEUED.id})
    assert note == f"validation {QUEUED.id} had already finished (it changed nothing)"
    fake.cancel_error = SfApiError("INVALID_SESSION_ID: Session expired or invalid")
    with pytest.raises(SfApiError):
        make_step(engine, fake).cancel(ctx, {"validation_id": QUEUED.id})
