"""The generic runbook `cutover init` writes: the data template `templates/generic.yaml` (comments kept) filled in with
what `cutover.runbook.inspect` found in the project and, when the alias works, in the org (identity, scheduled jobs).
Nothing here names a project: every project-specific value comes from the inspection.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from cutover.runbook.inspect import ProjectFacts

#: CronTriggers of scheduled Apex (CronJobDetail.JobType '7'), live ones only.
SCHEDULED_JOBS_SOQL = (
    "SELECT Id, CronExpression, State, NextFireTime, CronJobDetail.Name FROM CronTrigger "
    "WHERE CronJobDetail.JobType = '7' AND State IN ('WAITING', 'ACQUIRED', 'EXECUTING', 'PAUSED', 'BLOCKED') "
    "ORDER BY CronJobDetail.Name"
)
#: Which Apex class each scheduled job runs (for re-creating it after a rollback).
SCHEDULED_CLASSES_SOQL = "SELECT CronTriggerId, ApexClass.Name FROM AsyncApexJob WHERE JobType = 'ScheduledApex'"


@dataclass(frozen=True)
class OrgJob:
    name: str
    cron: str
    class_name: str | None = None


@dataclass(frozen=True)
class OrgFacts:
    """What `sf org display` (+ the CronTrigger query) told about the target org."""

    org_id: str
    username: str
    instance_url: str
    sandbox: bool | None
    jobs: list[OrgJob] = field(default_factory=list)


def template_text(name: str) -> str:
    return (files("cutover.runbook") / "templates" / f"{name}.yaml").read_text(encoding="utf-8")


def _null(representer: Any, _: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _flow(items: list[str]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def render_generic(project: ProjectFacts, alias: str, org: OrgFacts | None = None) -> str:
    """The generic template filled in for this project (and org, when reachable)."""
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(type(None), _null)
    doc: CommentedMap = yaml.load(template_text("generic"))
    if project.version:
        doc["release"]["version"] = DoubleQuotedScalarString(project.version)
    proj = doc["project"]
    proj["source_dir"] = project.package_dirs[0]
    proj["extra_source_dirs"] = _flow(list(project.package_dirs[1:]))
    if project.destructive_pre or project.destructive_post:
        # sf deletes components only together with --manifest: the project's own package.xml when it has one, else
        # the validation generates one listing the package directories.
        proj["manifest"] = project.manifest
        destructive = CommentedMap()
        destructive["pre"] = project.destructive_pre
        destructive["post"] = project.destructive_post
        proj["destructive_changes"] = destructive
    proj["has_apex"] = project.has_apex
    proj["has_permission_sets"] = project.has_permission_sets
    for key in ("test_all", "lint", "fmt_check", "test_unit"):
        argv = project.commands.get(key)
        proj["commands"][key] = " ".join(argv) if argv else None
    proj["docs"]["readme"] = project.readme
    proj["docs"]["changelog"] = project.changelog
    proj["docs"]["changelog_mentions_version"] = project.changelog is not None
    doc["sf"]["api_version"] = project.api_version
    doc["security"]["scan_paths"] = _flow(list(project.package_dirs))
    target = doc["target"]
    target["alias"] = alias
    if org is not None:
        expect = target["expect"]
        expect["org_id"], expect["username"], expect["instance_url"] = org.org_id, org.username, org.instance_url
        if org.sandbox is not None:
            expect["sandbox"] = org.sandbox
            target["production"] = not org.sandbox
        doc["scheduled_jobs"] = _jobs(org.jobs)
    if not project.has_apex:
        doc["verify"]["run_tests"] = False
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    return buffer.getvalue()


def _jobs(jobs: list[OrgJob]) -> CommentedSeq:
    seq = CommentedSeq()
    for job in jobs:
        entry = CommentedMap()
        entry["name"] = job.name
        entry["class"] = job.class_name
        entry["frequency"] = f"cron {job.cron}"
        entry["crons"] = _flow([job.cron])
        entry["purpose"] = "found scheduled in the org by cutover init"
        entry["expected_state"] = "WAITING"
        seq.append(entry)
    return seq
