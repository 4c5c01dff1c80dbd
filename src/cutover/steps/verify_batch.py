"""The read-only verification queries of a run in one `sf` process (REST Composite), one evidence file per query.

Each query step of the verify stage (ApexLog, scheduled jobs, permission sets) registers how it computes its SOQL
with the run's `QueryBatch` (`services.extras`). The first of them to run asks the batch for its rows: the batch
computes the queries of every registered step that has not run yet, sends them in one `sf api request rest` call
(`SfCli.composite_query`; its request is evidence `composite-request.json`, the response `sf-NN-api-request-rest
.json`, both of that first step) and keeps each answer for its step. Each step then records its own answer as
`query-result.json` (query, HTTP status, rows, and which composite call it came from) and judges it as before.

A step falls back to its own `sf data query` (exactly today's path) when: the composite call failed as a whole (an
org or CLI without it: then no later step tries it again), its subrequest failed (the data query then reports the
error as sf words it), the answer has more pages, or the step's query differs from the one batched (its inputs
changed in between). An answer is used once: a retried step queries afresh.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cutover.engine import StepContext, StepStatus
from cutover.sf import SfError

if TYPE_CHECKING:
    from cutover.sf import SfCli
    from cutover.sf.composite import SubAnswer
    from cutover.steps.registry import StepServices

#: The run's batch in `services.extras`.
BATCH_KEY = "verify_query_batch"
DEFAULT_API_VERSION = "62.0"

#: step context -> the step's SOQL (None: the step has nothing to query).
QueryOf = Callable[[StepContext], "str | None"]


@dataclass
class QueryBatch:
    alias: str
    api_version: str = DEFAULT_API_VERSION
    providers: dict[str, QueryOf] = field(default_factory=dict)
    answers: dict[str, tuple[str, SubAnswer, str]] = field(default_factory=dict)  # step -> (soql, answer, via)
    disabled: str | None = None  # why the composite call is not used any more in this run

    def register(self, step_id: str, query_of: QueryOf) -> None:
        self.providers[step_id] = query_of

    def rows(self, ctx: StepContext, sf: SfCli, soql: str) -> list[dict[str, Any]] | None:
        """This step's rows from the batch (fetching it on first use), or None: query it yourself."""
        step_id = ctx.step.id
        if step_id not in self.answers and self.disabled is None:
            self._fetch(ctx, sf)
        cached = self.answers.pop(step_id, None)
        if cached is None:
            return None
        batched, answer, via = cached
        if batched != soql or answer.result is None:
            why = "its query changed since it was batched" if batched != soql else answer.error
            ctx.event("query.batch_fallback", reason=why, composite=via)
            return None
        ctx.record_evidence(
            "query-result.json",
            {
                "query": soql,
                "via": f"REST composite ({via})",
                "httpStatusCode": answer.status,
                "totalSize": answer.result.total_size,
                "records": list(answer.result.records),
            },
        )
        return [dict(r) for r in answer.result.rows()]

    def _fetch(self, ctx: StepContext, sf: SfCli) -> None:
        composite = getattr(sf, "composite_query", None)
        if composite is None:
            self.disabled = "this sf adapter has no composite queries"
            return
        statuses = {r.id: r.status for r in ctx.store.steps(ctx.run_id)}
        queries: dict[str, str] = {}
        for step_id, query_of in self.providers.items():
            if step_id != ctx.step.id and statuses.get(step_id) != StepStatus.PENDING:
                continue  # done already (or not part of this run)
            soql = query_of(ctx)
            if soql:
                queries[step_id] = soql
        if len(queries) < 2 or ctx.step.id not in queries:
            return  # nothing to save: each step asks for itself
        refs = {f"q{i}": step_id for i, step_id in enumerate(queries)}
        request = ctx.record_evidence(
            "composite-request.json",
            {
                "api_version": self.api_version,
                "queries": {ref: {"step": s, "query": queries[s]} for ref, s in refs.items()},
            },
        )
        via = f"{ctx.step.id}: {request.relpath}"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                answers = composite(
                    self.alias,
                    {ref: queries[s] for ref, s in refs.items()},
                    api_version=self.api_version,
                    workdir=tmp,
                )
        except SfError as exc:
            self.disabled = exc.message
            ctx.event("query.batch_unavailable", error=exc.message, queries=len(queries))
            return
        for ref, step_id in refs.items():
            if ref in answers:
                self.answers[step_id] = (queries[step_id], answers[ref], via)
        ctx.event("query.batched", steps=list(queries), composite_request=request.relpath)


def batch_for(services: StepServices, runbook: Any, step_id: str, query_of: QueryOf) -> QueryBatch | None:
    """Register a verify-stage query step with the run's batch (None when `sf.overlap` is off: one call each)."""
    sf_config = getattr(runbook, "sf", None)
    if not getattr(sf_config, "overlap", True):
        return None
    batch = services.extras.get(BATCH_KEY)
    if not isinstance(batch, QueryBatch):
        version = getattr(sf_config, "api_version", None) or DEFAULT_API_VERSION
        batch = QueryBatch(alias=services.target_org, api_version=str(version))
        services.extras[BATCH_KEY] = batch
    batch.register(step_id, query_of)
    return batch


def query_rows(batch: QueryBatch | None, ctx: StepContext, sf: SfCli, alias: str, soql: str) -> list[dict[str, Any]]:
    """The step's rows: from the batch when it has them, else its own `sf data query`."""
    rows = batch.rows(ctx, sf, soql) if batch is not None else None
    if rows is None:
        rows = [dict(r) for r in sf.data_query(alias, soql).rows()]
    return rows


__all__ = ["BATCH_KEY", "QueryBatch", "batch_for", "query_rows"]
