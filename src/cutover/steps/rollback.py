"""The rollback stage (seed "Rollback Procedure > Quick Rollback (Option 1)"), plus what the seed leaves behind.

- `sf.rollback` redeploys the backup the run took before deploying (`backup.json` evidence of the backup step: a
  metadata-format folder with its package.xml, the archive and its SHA-256). The archive is checked against the
  recorded SHA-256 first; if the folder is gone it is unpacked from the archive. The deploy is
  `sf project deploy start --metadata-dir <backup> --test-level RunLocalTests`, started `--async` so the job id is
  recorded before waiting (a resumed run re-attaches with `deploy report` instead of deploying twice).
- `sf.rollback_destructive` deletes what the release *added*: components the backup proved absent
  (`added_by_release`) and the deploy's result shows it created; never standard objects or fields, never children
  of an object deleted in the same changes; referencers in destructiveChangesPre.xml, what they reference in
  destructiveChangesPost.xml (the full rule: `cutover.steps.rollback_plan`). A redeploy of the backup cannot do
  that, which is why the seed's manual procedure leaves new classes behind. It deploys a metadata-format folder
  holding an empty package.xml and the two manifests (the form a `--metadata-dir` deploy understands; it needs no
  SFDX project and does not depend on the release's source still being on disk). `--ignore-warnings` makes a
  second attempt idempotent: deleting a component that is already gone is only a warning, counted as "already
  gone". Deleted Apex is then checked to be gone with a query. Custom fields and objects are deleted without
  `--purge-on-delete` (production refuses it; Salesforce keeps them restorable for 15 days). Changes to components
  that already existed are restored by the redeploy; anything beyond that is the seed's Option 2 (an org restore
  by Salesforce Support).
- A run whose backup step was waived has no backup: both steps fail with one line saying who waived it and when,
  and how to restore by hand.

Order: the backup is redeployed *first*, so components the release changed no longer reference the ones it added;
only then are those deleted (Salesforce refuses to delete a class another class still references).

Scheduled jobs: Salesforce refuses to deploy or delete a Schedulable class while jobs of it are pending. Runbook jobs
whose class is about to be replaced are aborted first (the ids and crons are recorded as evidence), and re-created
afterwards whether the deploy worked or not (the pipx-style transaction: undo what we changed on the way out). Jobs
whose class is being deleted stay aborted. The contingency's `rollback.scheduled-jobs` step checks them all again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.engine import StepContext, StepOutcome
from cutover.steps._params import params_of
from cutover.steps.interrupted import ask_org_after_interrupt
from cutover.steps.registry import StepServices, register_action
from cutover.steps.rollback_backup import (
    DEFAULT_API_VERSION,
    MD_NS,
    BackupRecord,
    Component,
    RollbackProblem,
    find_backup,
    manifest_components,
    package_xml,
    parse_backup,
    restore_folder,
    waived_backup,
    waived_backup_message,
)
from cutover.steps.rollback_plan import (
    DeletionCounts,
    DestructivePlan,
    Item,
    count_deletions,
    manifest_xml,
    plan_deletions,
    references_in,
    release_created,
    summary,
)
from cutover.steps.validate import APEX_TYPES
from cutover.steps.verify import (
    JobProblem,
    JobSpec,
    SfFactory,
    _wait_minutes,
    job_query,
    recreate_jobs,
    step_sf,
)

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep
    from cutover.sf import DeployResult, SfCli

__all__ = [  # the backup side lives in rollback_backup; importers keep using this module
    "DEFAULT_API_VERSION",
    "MD_NS",
    "BackupRecord",
    "Component",
    "RedeployBackupStep",
    "RemoveAddedStep",
    "RollbackProblem",
    "find_backup",
    "manifest_components",
    "package_xml",
    "parse_backup",
    "restore_folder",
    "waived_backup",
    "waived_backup_message",
]


def write_destructive_folder(folder: Path, plan: DestructivePlan, api_version: str) -> Path:
    """A metadata-format deploy folder that only deletes: an empty package.xml, destructiveChangesPre.xml (the
    referencing layer) and destructiveChangesPost.xml (the referenced layer), each in `DELETE_ORDER`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.xml").write_text(package_xml([], api_version), encoding="utf-8")
    for name, items in (("destructiveChangesPre.xml", plan.pre), ("destructiveChangesPost.xml", plan.post)):
        path = folder / name
        if items:
            path.write_text(manifest_xml(items, api_version), encoding="utf-8")
        elif path.exists():  # an earlier attempt's file
            path.unlink()
    legacy = folder / "destructiveChanges.xml"
    if legacy.exists():
        legacy.unlink()
    return folder


# ---------------------------------------------------------------------------------------------------------------------
# Deploy with the job id recorded before waiting
# ---------------------------------------------------------------------------------------------------------------------


def deploy_and_wait(
    ctx: StepContext, sf: SfCli, alias: str, folder: Path, *, test_level: str, wait: int
) -> DeployResult:
    """Start a metadata-format deploy `--async`, record its id, then poll it to the end."""
    queued = sf.deploy_start(alias, metadata_dir=folder, test_level=test_level, ignore_warnings=True, async_=True)
    ctx.set_external_id("deploy_id", queued.id)
    return wait_for_deploy(ctx, sf, alias, queued.id, wait=wait)


def wait_for_deploy(ctx: StepContext, sf: SfCli, alias: str, deploy_id: str, *, wait: int) -> DeployResult:
    """`deploy report` until the job is done (the validate/deploy steps' poller: live progress, status events)."""
    from cutover.steps.validate import record_report
    from cutover.steps.validate import wait_for_deploy as poll

    result = poll(ctx, sf, alias, deploy_id, label="rollback deploy", timeout_s=wait * 60.0)
    record_report(ctx, sf, "rollback-deploy-result.json")
    return result


def _deploy_outcome(result: DeployResult, what: str) -> str | None:
    """None when the deploy succeeded, else one line on why not."""
    if result.succeeded:
        return None
    from cutover.sf import describe_deploy_failure

    return describe_deploy_failure(result, what=what)


# ---------------------------------------------------------------------------------------------------------------------
# Scheduled jobs that would block a deploy
# ---------------------------------------------------------------------------------------------------------------------


def jobs_on_classes(jobs: Sequence[JobSpec], components: Sequence[Component]) -> list[JobSpec]:
    classes = {c.name.lower() for c in components if c.type == "ApexClass"}
    return [job for job in jobs if job.class_name and job.class_name.lower() in classes]


def abort_jobs(ctx: StepContext, sf: SfCli, alias: str, jobs: Sequence[JobSpec], *, why: str) -> list[JobSpec]:
    """Abort the live triggers of `jobs` (one `sf apex run`); returns the jobs that had any."""
    if not jobs:
        return []
    from cutover.steps.verify import _apex_string, _trigger_name

    rows = sf.data_query(alias, job_query(jobs)).rows()
    live = [(job, row) for job in jobs for row in rows if job.owns(_trigger_name(row))]
    if not live:
        return []
    script = "// Written by cutover: abort scheduled jobs so their classes can be deployed or deleted.\n" + "".join(
        f"System.abortJob({_apex_string(str(row['Id']))}); // {_trigger_name(row)}\n" for _, row in live
    )
    evidence = ctx.record_evidence("abort-jobs.apex", script)
    aborted = list(dict.fromkeys(job for job, _ in live))
    ctx.set_external_id("aborted_jobs", [job.name for job in aborted])
    ctx.event("scheduled_jobs.abort", jobs=[j.name for j in aborted], reason=why, script=evidence.relpath)
    sf.apex_run(alias, evidence.path)
    return aborted


# ---------------------------------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class RedeployBackupStep:
    """Quick Rollback (Option 1): deploy the backup back to the org."""

    alias: str
    make_sf: SfFactory
    project_dir: Path
    test_level: str = "RunLocalTests"
    wait_minutes: int = 33
    jobs: Sequence[JobSpec] = field(default_factory=tuple)
    idempotent: bool = False  # a deploy: after an interrupt, `reattach` (recorded id) or `recover` (ask the org)

    def run(self, ctx: StepContext) -> StepOutcome:
        backup = find_backup(ctx, ctx.run_id, self.project_dir)
        if backup is None:
            return StepOutcome.failed(no_backup_message(ctx, "there is nothing to redeploy"))
        try:
            folder = restore_folder(backup, ctx.store.run_dir(ctx.run_id) / "rollback")
        except RollbackProblem as exc:
            return StepOutcome.failed(str(exc))
        components = manifest_components(folder / "package.xml")
        from cutover.delta.frozen import frozen_record

        ctx.record_evidence(
            "rollback-plan.json",
            {
                "backup_folder": str(folder),
                "archive": str(backup.archive),
                "sha256": backup.sha256,
                "restore": [str(c) for c in components],
                # A delta release: the backup holds what it changed and deleted; remove-added deletes what it added.
                "delta": frozen_record(ctx.store.run_dir(ctx.run_id)),
            },
        )
        if not components:
            return StepOutcome.passed("the backup holds no components: nothing to restore", restored=[])
        with self.make_sf(ctx) as sf:
            blocking = jobs_on_classes(self.jobs, components)
            aborted = abort_jobs(ctx, sf, self.alias, blocking, why="redeploy of the backup")
            result, jobs_error = self._deploy_then_reschedule(
                ctx,
                sf,
                aborted,
                lambda: deploy_and_wait(
                    ctx, sf, self.alias, folder, test_level=self.test_level, wait=self.wait_minutes
                ),
            )
        return self._judge(result, components, aborted, jobs_error)

    def reattach(self, ctx: StepContext, external_ids: Mapping[str, Any]) -> StepOutcome:
        aborted = self._aborted(external_ids)
        if not external_ids.get("deploy_id"):  # interrupted after aborting jobs, before sf answered with an id
            return self.recover(ctx)
        deploy_id = str(external_ids["deploy_id"])
        with self.make_sf(ctx) as sf:
            result, jobs_error = self._deploy_then_reschedule(
                ctx, sf, aborted, lambda: wait_for_deploy(ctx, sf, self.alias, deploy_id, wait=self.wait_minutes)
            )
        backup = find_backup(ctx, ctx.run_id, self.project_dir)
        return self._judge(result, list(backup.components) if backup else [], aborted, jobs_error)

    def recover(self, ctx: StepContext) -> StepOutcome:
        """Interrupted before sf answered with a deploy id: the org says whether the redeploy exists (followed) or
        not (the jobs this step aborted are re-scheduled, then the step starts again). `cutover.steps.interrupted`."""
        external_ids = dict(ctx.external_ids)
        with self.make_sf(ctx) as sf:
            found, refused = ask_org_after_interrupt(ctx, sf, self.alias, what="the redeploy of the backup")
            if refused is not None:
                return refused
            if found is None:
                self._recreate(ctx, sf, self._aborted(external_ids))
        if found is not None:
            return self.reattach(ctx, {**external_ids, "deploy_id": found})
        return self.run(ctx)

    def _aborted(self, external_ids: Mapping[str, Any]) -> list[JobSpec]:
        names = set(external_ids.get("aborted_jobs") or ())
        return [job for job in self.jobs if job.name in names]

    def _deploy_then_reschedule(
        self, ctx: StepContext, sf: SfCli, aborted: Sequence[JobSpec], deploy: Callable[[], DeployResult]
    ) -> tuple[DeployResult, str | None]:
        """Run the deploy (or follow it), then schedule the aborted jobs again (also when the deploy raised). Not on
        an interrupt: the resumed step re-schedules them (twice would fail: the job names are taken)."""
        try:
            result = deploy()
        except Exception:
            self._recreate(ctx, sf, aborted)
            raise
        return result, self._recreate(ctx, sf, aborted)

    def _recreate(self, ctx: StepContext, sf: SfCli, aborted: Sequence[JobSpec]) -> str | None:
        """Schedule the aborted jobs again; never raises (it runs on the way out of a failed deploy too)."""
        if not aborted:
            return None
        from cutover.errors import CutoverError

        problems = [JobProblem(job, "aborted for the rollback") for job in aborted]
        try:
            recreate_jobs(ctx, sf, self.alias, problems, why="aborted so the backup could be deployed")
        except CutoverError as exc:
            ctx.event("scheduled_jobs.recreate_failed", jobs=[j.name for j in aborted], error=exc.message)
            scripts = [e for e in ctx.store.evidence(ctx.run_id, ctx.step.id) if e["name"].startswith("schedule-jobs")]
            if not scripts:
                return exc.message
            path = ctx.store.cutover_dir / scripts[-1]["relpath"]
            shown = path.relative_to(self.project_dir) if path.is_relative_to(self.project_dir) else path
            return f"{exc.message} (once fixed: `sf apex run --file {shown} --target-org {self.alias}`)"
        return None

    def _judge(
        self,
        result: DeployResult,
        components: Sequence[Component],
        aborted: Sequence[JobSpec],
        jobs_error: str | None = None,
    ) -> StepOutcome:
        problem = _deploy_outcome(result, "rollback deploy")
        data = {
            "deploy_id": result.id,
            "restored": [str(c) for c in components],
            "jobs_rescheduled": [j.name for j in aborted],
        }
        if jobs_error:  # the jobs this step aborted are not running: say so loudly, whatever the deploy did
            problem = (f"{problem}; " if problem else f"deploy {result.id} restored the backup, but ") + (
                f"re-scheduling {', '.join(j.name for j in aborted)} failed: {jobs_error}"
            )
        if problem:
            return StepOutcome.failed(problem, **data)
        names = ", ".join(c.name for c in components[:6]) + (" …" if len(components) > 6 else "")
        jobs = f"; re-scheduled {', '.join(j.name for j in aborted)}" if aborted else ""
        return StepOutcome.passed(
            f"restored {len(components)} component(s) from the backup ({names}), deploy {result.id}{jobs}", **data
        )


@dataclass
class RemoveAddedStep:
    """Delete what the release added: what a redeploy of the backup leaves behind (rules: `rollback_plan`)."""

    alias: str
    make_sf: SfFactory
    project_dir: Path
    test_level: str = "RunLocalTests"
    wait_minutes: int = 33
    jobs: Sequence[JobSpec] = field(default_factory=tuple)
    idempotent: bool = False  # a deploy: after an interrupt, `reattach` (recorded id) or `recover` (ask the org)

    def run(self, ctx: StepContext) -> StepOutcome:
        backup = find_backup(ctx, ctx.run_id, self.project_dir)
        if backup is None:
            return StepOutcome.failed(no_backup_message(ctx, "what the release added is unknown"))
        plan = self._plan(ctx, backup)
        if not plan.delete:
            return StepOutcome.passed(summary(plan, DeletionCounts()), removed=[], **_plan_data(plan))
        folder = write_destructive_folder(
            ctx.store.run_dir(ctx.run_id) / "rollback" / "remove-added", plan, backup.api_version or DEFAULT_API_VERSION
        )
        for name in ("destructiveChangesPre.xml", "destructiveChangesPost.xml"):
            if (folder / name).is_file():
                ctx.record_file(name, folder / name)
        deleted = [Component(i.type, i.name) for i in plan.delete]
        with self.make_sf(ctx) as sf:
            # Their class is going away: these jobs are aborted and stay so (re-creating them would fail anyway).
            abort_jobs(ctx, sf, self.alias, jobs_on_classes(self.jobs, deleted), why="their class is being deleted")
            result = deploy_and_wait(ctx, sf, self.alias, folder, test_level=self.test_level, wait=self.wait_minutes)
            return self._judge(ctx, sf, result, plan)

    def reattach(self, ctx: StepContext, external_ids: Mapping[str, Any]) -> StepOutcome:
        if not external_ids.get("deploy_id"):  # interrupted after aborting jobs, before sf answered with an id
            return self.recover(ctx)
        backup = find_backup(ctx, ctx.run_id, self.project_dir)
        if backup is None:
            return self.run(ctx)
        plan = self._plan(ctx, backup)
        with self.make_sf(ctx) as sf:
            result = wait_for_deploy(ctx, sf, self.alias, str(external_ids["deploy_id"]), wait=self.wait_minutes)
            return self._judge(ctx, sf, result, plan)

    def recover(self, ctx: StepContext) -> StepOutcome:
        """Interrupted before sf answered with a deploy id: the org says whether the destructive deploy exists
        (followed) or not (the step starts again). `cutover.steps.interrupted`."""
        with self.make_sf(ctx) as sf:
            found, refused = ask_org_after_interrupt(ctx, sf, self.alias, what="the destructive deploy")
        if refused is not None:
            return refused
        if found is not None:
            return self.reattach(ctx, {**ctx.external_ids, "deploy_id": found})
        return self.run(ctx)

    def _plan(self, ctx: StepContext, backup: BackupRecord) -> DestructivePlan:
        created = release_created(ctx.store, ctx.run_id)
        added = [Item(c.type, c.name) for c in backup.added_by_release]
        try:  # what the redeployed backup still names cannot be deleted (Salesforce: "referenced elsewhere")
            restored = restore_folder(backup, ctx.store.run_dir(ctx.run_id) / "rollback" / "remove-added-check")
            referenced = references_in(restored, added)
        except RollbackProblem:
            referenced = {}
        plan = plan_deletions(added, created, referenced)
        ctx.record_evidence("destructive-plan.json", plan.to_json())
        return plan

    def _judge(self, ctx: StepContext, sf: SfCli, result: DeployResult, plan: DestructivePlan) -> StepOutcome:
        problem = _deploy_outcome(result, "destructive deploy")
        data = {"deploy_id": result.id, "removed": [str(i) for i in plan.delete], **_plan_data(plan)}
        if problem:
            return StepOutcome.failed(problem, **data)
        still_there = still_present(sf, self.alias, [Component(i.type, i.name) for i in plan.delete])
        if still_there:
            return StepOutcome.failed(
                f"deploy {result.id} succeeded but these are still in the org: {', '.join(still_there)}", **data
            )
        counts = count_deletions(plan.delete, result)
        data.update(
            deleted=[str(i) for i in counts.deleted],
            already_gone=[str(i) for i in counts.already_gone],
            unconfirmed=[str(i) for i in counts.unconfirmed],
        )
        return StepOutcome.passed(f"{summary(plan, counts)} (deploy {result.id})", **data)


def _plan_data(plan: DestructivePlan) -> dict[str, list[str]]:
    return {
        "removed_with_their_object": [str(i) for i in plan.with_parent],
        "left_in_place": [str(x) for x in plan.left],
    }


def no_backup_message(ctx: StepContext, consequence: str) -> str:
    """Why there is no backup: a waived backup step says who waived it and when (rollback needs a backup)."""
    waiver = waived_backup(ctx.store, ctx.run_id)
    if waiver is not None:
        return waived_backup_message(waiver)
    return f"run {ctx.run_id} recorded no backup (backup.json), so {consequence}"


def still_present(sf: SfCli, alias: str, components: Sequence[Component]) -> list[str]:
    """Deleted Apex that a query still finds (one query per Apex type: each is an sObject of the same name)."""
    left = []
    for type_name in APEX_TYPES:
        names = sorted({c.name for c in components if c.type == type_name})
        if not names:
            continue
        quoted = ", ".join("'" + n.replace("'", "\\'") + "'" for n in names)
        rows = sf.data_query(alias, f"SELECT Id, Name FROM {type_name} WHERE Name IN ({quoted})").rows()
        left += [f"{type_name}:{row.get('Name')}" for row in rows]
    return left


# ---------------------------------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------------------------------


def _jobs(runbook: Runbook) -> tuple[JobSpec, ...]:
    return tuple(
        JobSpec.from_params(job.model_dump(by_alias=True)) for job in getattr(runbook, "scheduled_jobs", None) or ()
    )


@register_action("sf.rollback")
def _rollback(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> RedeployBackupStep:
    params = params_of(plan_step)
    return RedeployBackupStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        project_dir=services.project_dir,
        test_level=str(params.get("test_level") or "RunLocalTests"),
        wait_minutes=_wait_minutes(runbook),
        jobs=_jobs(runbook),
    )


@register_action("sf.rollback_destructive")
def _rollback_destructive(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> RemoveAddedStep:
    params = params_of(plan_step)
    return RemoveAddedStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        project_dir=services.project_dir,
        test_level=str(params.get("test_level") or "RunLocalTests"),
        wait_minutes=_wait_minutes(runbook),
        jobs=_jobs(runbook),
    )
