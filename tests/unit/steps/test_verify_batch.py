"""The verification queries in one composite call (verify_batch.py), with one evidence file per query, and the
detachable verification tests (submit, then join by test run id)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.sf import SfApiError
from cutover.sf.composite import SubAnswer
from cutover.sf.results import QueryResult, parse_query_result, parse_test_run
from cutover.steps.verify import VerifyPermissionSetsStep, VerifyTestsStep
from cutover.steps.verify_batch import QueryBatch

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sf"
PERMS = "SELECT Assignee.Name, PermissionSet.Name FROM PermissionSetAssignment WHERE PermissionSet.Name = 'Admin'"
OTHER = "SELECT Id FROM CronTrigger WHERE CronJobDetail.Name LIKE 'Nightly%'"


def sub(ref: str, rows: list[dict[str, Any]] | None, error: str | None = None) -> SubAnswer:
    if rows is None:
        return SubAnswer(ref, 400, [{"errorCode": "INVALID_FIELD", "message": error}], None, f"INVALID_FIELD: {error}")
    body = {"totalSize": len(rows), "done": True, "records": rows}
    return SubAnswer(ref, 200, body, parse_query_result(body))


@dataclass
class FakeSf:
    composite_answers: Mapping[str, Any] | Exception
    rows: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def composite_query(self, alias: str, queries: Mapping[str, str], **kwargs: Any) -> Mapping[str, SubAnswer]:
        self.calls.append(("composite", dict(queries)))
        if isinstance(self.composite_answers, Exception):
            raise self.composite_answers
        return self.composite_answers

    def data_query(self, alias: str, soql: str, **_: Any) -> QueryResult:
        self.calls.append(("query", soql))
        return parse_query_result({"records": self.rows, "done": True})

    def apex_submit_tests(self, alias: str, **kwargs: Any) -> str:
        self.calls.append(("submit", kwargs))
        return "707000000000001"

    def apex_get_test(self, alias: str, run_id: str, **kwargs: Any) -> Any:
        self.calls.append(("get", (run_id, kwargs)))
        return parse_test_run(json.loads((FIXTURES / "apex_test_passed_coverage.json").read_text())["result"])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def setup(engine: Engine, fake: FakeSf) -> tuple[StepContext, VerifyPermissionSetsStep, QueryBatch]:
    run = engine.create_run(
        "prod", [StepSpec(id=i, stage="verify", title=i, action="t") for i in ("verify.perms", "verify.jobs")]
    )

    @contextmanager
    def session(ctx: StepContext) -> Iterator[FakeSf]:
        yield fake

    batch = QueryBatch(alias="prod")
    step = VerifyPermissionSetsStep(alias="prod", make_sf=session, query=PERMS, batch=batch)
    batch.register("verify.perms", lambda _ctx: PERMS)
    batch.register("verify.jobs", lambda _ctx: OTHER)
    ctx = StepContext(
        store=engine.store, record=engine.store.step(run.id, "verify.perms"), project_dir=engine.project_dir
    )
    return ctx, step, batch


def evidence_names(ctx: StepContext) -> list[str]:
    return [e["name"] for e in ctx.store.evidence(ctx.run_id, ctx.step.id)]


def test_the_first_query_step_fetches_every_pending_query_in_one_call(engine: Engine) -> None:
    row = {"Assignee": {"Name": "Release Manager"}, "PermissionSet": {"Name": "Admin"}}
    fake = FakeSf({"q0": sub("q0", [row]), "q1": sub("q1", [{"Id": "08e"}])})
    ctx, step, batch = setup(engine, fake)
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.PASSED and "1 permission set assignment(s) (Admin)" in outcome.detail
    assert fake.calls == [("composite", {"q0": PERMS, "q1": OTHER})]
    assert evidence_names(ctx) == ["composite-request.json", "query-result.json", "permission-set-assignments.txt"]
    evidence = next(e for e in ctx.store.evidence(ctx.run_id, "verify.perms") if e["name"] == "query-result.json")
    doc = json.loads((ctx.store.cutover_dir / evidence["relpath"]).read_text())
    assert doc["query"] == PERMS and doc["httpStatusCode"] == 200 and "REST composite" in doc["via"]
    assert batch.answers["verify.jobs"][0] == OTHER  # kept for the next step, used once


def test_a_failed_subrequest_falls_back_to_its_own_data_query(engine: Engine) -> None:
    fake = FakeSf({"q0": sub("q0", None, "bad column"), "q1": sub("q1", [])}, rows=[])
    ctx, step, _ = setup(engine, fake)
    outcome = step.run(ctx)
    assert [c[0] for c in fake.calls] == ["composite", "query"]
    assert outcome.status == StepStatus.FAILED  # 0 rows < minimum 1, judged from the data query as today
    assert any(e.type == "query.batch_fallback" for e in engine.store.events(ctx.run_id))


def test_an_org_without_composite_gets_one_data_query_per_step_and_no_second_try(engine: Engine) -> None:
    fake = FakeSf(SfApiError("NOT_FOUND: The requested resource does not exist"), rows=[{"Id": "x"}])
    ctx, step, batch = setup(engine, fake)
    step.run(ctx)
    assert [c[0] for c in fake.calls] == ["composite", "query"]
    assert batch.disabled and "NOT_FOUND" in batch.disabled
    step.run(ctx)  # a retry: straight to its own query
    assert [c[0] for c in fake.calls] == ["composite", "query", "query"]


def test_verification_tests_are_submitted_then_joined_by_their_test_run_id(engine: Engine) -> None:
    run = engine.create_run("prod", [StepSpec(id="verify.apex-tests", stage="verify", title="t", action="t")])
    ctx = StepContext(
        store=engine.store, record=engine.store.step(run.id, "verify.apex-tests"), project_dir=engine.project_dir
    )
    fake = FakeSf({})

    @contextmanager
    def session(_ctx: StepContext) -> Iterator[FakeSf]:
        yield fake

    step = VerifyTestsStep(alias="prod", make_sf=session, threshold=75, named_tests=lambda _c: ("ATest",))
    step.submit(ctx)
    assert fake.calls == [("submit", {"test_level": "RunSpecifiedTests", "tests": ("ATest",), "code_coverage": True})]
    assert engine.store.step(run.id, "verify.apex-tests").external_ids == {"test_run_id": "707000000000001"}
    outcome = step.reattach(ctx, {"test_run_id": "707000000000001"})
    assert outcome.status == StepStatus.PASSED
    assert fake.calls[-1] == ("get", ("707000000000001", {"code_coverage": True, "wait": 33}))
