"""`cutover init` (write a runbook for this project: generic, or the Elaro seed's with --template elaro) and
`cutover plan` (print every step, no side effects)."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from cutover.commands._context import app_context, out_console
from cutover.errors import EnvironmentProblem, UsageError
from cutover.redact import redact
from cutover.runbook import RUNBOOK_FILENAME, Runbook, find_runbook, load_runbook, parse_runbook, template_text
from cutover.runbook.generic import SCHEDULED_CLASSES_SOQL, SCHEDULED_JOBS_SOQL, OrgFacts, OrgJob, render_generic
from cutover.runbook.inspect import inspect_project
from cutover.runbook.loader import display_path
from cutover.runbook.models import STAGES
from cutover.runbook.plan import STAGE_TITLES, PlanStep, build_plan, build_rollback_plan

_ALIAS_RE = re.compile(r"^[A-Za-z0-9_.@+-]+$")


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""
    app.command(
        "init", help="Write a runbook (cutover.yaml) for this SFDX project, from what it finds in the project and org."
    )(init)
    app.command("plan", help="Print every step of the runbook in order, with the equivalent sf command. Runs nothing.")(
        plan
    )


# ---------------------------------------------------------------------------------------------------------------------
# init
# ---------------------------------------------------------------------------------------------------------------------


class Template(StrEnum):
    generic = "generic"
    elaro = "elaro"


def init(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing cutover.yaml."),
    target_org: str | None = typer.Option(
        None,
        "--target-org",
        "-o",
        metavar="ALIAS",
        help="The sf alias of the production org (default: production). When it works, init reads the org's "
        "identity (target.expect) and scheduled jobs.",
    ),
    template: Template = typer.Option(
        Template.generic,
        "--template",
        help="generic: built from what init finds in the project (and org); elaro: the Elaro seed runbook.",
    ),
    print_schema: bool = typer.Option(
        False, "--print-schema", help="Print the JSON Schema of cutover.yaml (for editors) and write nothing."
    ),
) -> None:
    if print_schema:
        typer.echo(json.dumps(Runbook.model_json_schema(by_alias=True), indent=2))
        return
    project_dir = app_context(ctx).project_dir
    path = project_dir / RUNBOOK_FILENAME
    if path.exists() and not force:
        raise UsageError(f"{RUNBOOK_FILENAME} already exists in {project_dir}", hint="use --force to overwrite it")
    if target_org is not None and not _ALIAS_RE.match(target_org):
        raise UsageError(f"--target-org {target_org!r}: not a valid sf alias or username")
    console = out_console()
    if template is Template.elaro:
        text, what = render_template(target_org), "Elaro production runbook"
    else:
        facts = inspect_project(project_dir)
        org, org_note = _read_org(project_dir, target_org)
        text, what = render_generic(facts, target_org or "production", org), "generic runbook"
        console.print(Text(f"Found: {facts.summary()}."))
        console.print(Text(org_note, "dim" if org else "yellow"))
    runbook = parse_runbook(text, path)  # never write a file our own loader would reject
    _write_atomically(path, text)
    console.print(Text(f"Wrote {path} ({what}, target org {runbook.target.alias!r})."))
    problems = runbook.problems() + runbook.project_problems(project_dir)
    if problems:
        console.print(Text(f"{len(problems)} things to fill in before a real run (see `cutover plan`):", "yellow"))
        for problem in problems[:5]:
            console.print(Text(f"  - {problem}"))
        if len(problems) > 5:
            console.print(Text(f"  ... and {len(problems) - 5} more"))
    console.print(Text("Next: fill in the people (roles) and the expected org (target.expect), then `cutover plan`."))


def _read_org(project_dir: Path, alias: str | None) -> tuple[OrgFacts | None, str]:
    """The org's identity and scheduled jobs when `--target-org` works; else None and why (init goes on without)."""
    if alias is None:
        return None, (
            "No --target-org: target.expect is left for you to fill in and no scheduled jobs are listed "
            "(cutover init --force --target-org ALIAS reads them from the org)."
        )
    from cutover.sf import SfCli, SfError
    from cutover.steps.guard import read_identity

    try:
        sf = SfCli(None, cwd=project_dir)
        identity = read_identity(sf, alias, want_sandbox=True)
        rows = sf.data_query(alias, SCHEDULED_JOBS_SOQL).rows()
        classes: dict[str, str] = {}
        if rows:
            try:
                for row in sf.data_query(alias, SCHEDULED_CLASSES_SOQL).rows():
                    apex = row.get("ApexClass")
                    if isinstance(apex, dict) and apex.get("Name") and row.get("CronTriggerId"):
                        classes[str(row["CronTriggerId"])[:15]] = str(apex["Name"])
            except SfError:
                pass  # the class is only needed to re-create a job after a rollback; the job itself is known
    except SfError as exc:
        return None, (
            f"Could not read org {alias!r} ({redact(str(exc)).splitlines()[0][:200]}): target.expect is left "
            "for you to fill in and no scheduled jobs are listed."
        )
    jobs: list[OrgJob] = []
    seen: set[str] = set()
    for row in rows:
        detail = row.get("CronJobDetail")
        name = str(detail.get("Name") or "") if isinstance(detail, dict) else ""
        cron = str(row.get("CronExpression") or "")
        if not name or not cron or name in seen:
            continue
        seen.add(name)
        jobs.append(OrgJob(name=name, cron=cron, class_name=classes.get(str(row.get("Id") or "")[:15])))
    org = OrgFacts(identity.org_id, identity.username, identity.instance_url, identity.sandbox, jobs)
    listed = ", ".join(job.name for job in jobs) or "none"
    return org, f"Org {alias!r}: {identity.org_id} ({identity.username}); scheduled jobs: {listed}."


def render_template(target_org: str | None = None) -> str:
    """The Elaro template, with the target alias replaced when given."""
    text = template_text()
    if target_org is None:
        return text
    if not _ALIAS_RE.match(target_org):
        raise UsageError(f"--target-org {target_org!r}: not a valid sf alias or username")
    replaced, count = re.subn(r"(?m)^(target:\n  alias: )production$", rf"\g<1>{target_org}", text)
    if count != 1:  # the template changed shape; fail loudly rather than write the wrong org
        raise RuntimeError("the runbook template has no `target: alias:` line to replace")
    return replaced


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temp file and rename. The file gets the mode it had (on --force) or the user's umask default, not
    mkstemp's private 0600; a folder that cannot be written is a one-line error."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=".cutover-init-", dir=path.parent)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EnvironmentProblem(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------------------------------------------------


def plan(
    ctx: typer.Context,
    output_format: PlanFormat = typer.Option(PlanFormat.text, "--format", "-f", help="text, json or markdown."),
    json_flag: bool = typer.Option(False, "--json", help="Same as --format json (like sf)."),
    stage: str | None = typer.Option(
        None, "--stage", "-s", metavar="STAGE", help=f"Only this stage: {', '.join(STAGES)} or rollback."
    ),
    runbook_path: Path | None = typer.Option(
        None, "--runbook", metavar="FILE", help="Runbook file (default: cutover.yaml in the project folder)."
    ),
) -> None:
    project_dir = app_context(ctx).project_dir
    path = (project_dir / runbook_path) if runbook_path else find_runbook(project_dir)
    runbook = load_runbook(path)
    steps, rollback = build_plan(runbook), build_rollback_plan(runbook)
    if stage is not None:
        if stage not in (*STAGES, "rollback"):
            raise UsageError(f"--stage {stage!r}: unknown stage (stages: {', '.join((*STAGES, 'rollback'))})")
        if stage != "rollback" and stage not in runbook.stages:
            raise UsageError(f"--stage {stage!r}: this runbook does not run that stage (stages: {runbook.stages})")
        steps = [s for s in steps if s.stage == stage]
        rollback = rollback if stage == "rollback" else []
    problems = runbook.problems() + runbook.project_problems(path.parent)
    fmt = PlanFormat.json if json_flag else output_format
    if fmt is PlanFormat.json:
        typer.echo(json.dumps(plan_json(runbook, path, steps, rollback, problems), indent=2, ensure_ascii=False))
    elif fmt is PlanFormat.markdown:
        typer.echo(plan_markdown(runbook, path, steps, rollback, problems))
    else:
        _print_text(runbook, path, steps, rollback, problems)


def _step_json(step: PlanStep, number: int | None) -> dict[str, Any]:
    data = step.to_json()
    if number is not None:
        data = {"number": number, **data}
    return data


def plan_json(
    runbook: Runbook, path: Path, steps: list[PlanStep], rollback: list[PlanStep], problems: list[str]
) -> dict[str, Any]:
    return {
        "runbook": str(path),
        "name": runbook.name,
        "target_org": runbook.target.alias,
        "release": runbook.release.version,
        "stages": list(runbook.stages),
        "steps": [_step_json(step, n) for n, step in enumerate(steps, 1)],
        "rollback": [_step_json(step, None) for step in rollback],
        "roles": {role_id: role.model_dump() for role_id, role in runbook.roles.items()},
        "known_issues": [issue.model_dump() for issue in runbook.known_issues],
        "problems": problems,
    }


def _kind_label(step: PlanStep, runbook: Runbook) -> str:
    if step.kind == "signoff":
        who = runbook.roles[step.role].title if step.role in runbook.roles else "?"
        return f"sign-off: {who}" + ("" if step.blocking else ", follow-up")
    return "automated" + ("" if step.blocking else ", non-blocking")


def _print_text(
    runbook: Runbook, path: Path, steps: list[PlanStep], rollback: list[PlanStep], problems: list[str]
) -> None:
    console = out_console()
    header = Text()
    header.append(runbook.name, "bold")
    header.append(f"  release {runbook.release.version} → org {runbook.target.alias}  ({display_path(path)})")
    console.print(header)
    window = runbook.window
    console.print(Text(f"Window: {window.describe()} (about {window.duration_hours:g} h)", "dim"))
    current = None
    for number, step in enumerate(steps, 1):
        if step.stage != current:
            current = step.stage
            console.print()
            console.print(Text(f"== {current}: {STAGE_TITLES.get(current, current)}", "bold cyan"))
        _print_step(console, runbook, step, f"{number:>2}.")
    if rollback:
        console.print()
        console.print(Text(f"== rollback: {STAGE_TITLES['rollback']}", "bold magenta"))
        for number, step in enumerate(rollback, 1):
            _print_step(console, runbook, step, f"R{number}.")
    console.print()
    console.print(Text("Contacts:", "bold"))
    for role in runbook.roles.values():
        console.print(Text(f"  {role.title}: {role.name}  email {role.email}  phone {role.phone}"))
    if runbook.known_issues:
        console.print()
        console.print(Text("Known issues (tell support before the window):", "bold"))
        for issue in runbook.known_issues:
            console.print(Text(f"  - {issue.title}: {issue.symptom}. Workaround: {issue.workaround}."))
    console.print()
    if problems:
        console.print(Text(f"Problems ({len(problems)}):", "bold yellow"))
        for problem in problems:
            console.print(Text(f"  warning: {problem}", "yellow"))
    else:
        console.print(Text("No problems found in the runbook.", "green"))


def _print_step(console: Any, runbook: Runbook, step: PlanStep, number: str) -> None:
    line = Text(f"{number} ")
    style = "magenta" if step.kind == "signoff" else "blue"
    line.append(f"[{_kind_label(step, runbook)}]", style)
    line.append(" ")
    line.append(step.title, "bold")
    line.append(f"  ({step.id})", "dim")
    console.print(line)
    for check in step.checks:
        if check != step.title:  # a sign-off's first check repeats its title
            console.print(Text(f"      - {check}"))
    if step.sf_command:
        console.print(Text(f"      $ {step.sf_command}", "green"))
    if step.command:
        console.print(Text(f"      $ {step.command}", "green"))
    if step.params.get("progress_command"):
        console.print(Text(f"      $ {step.params['progress_command']}   # progress", "green"))


def plan_markdown(
    runbook: Runbook, path: Path, steps: list[PlanStep], rollback: list[PlanStep], problems: list[str]
) -> str:
    out = [
        f"# {runbook.name}: release {runbook.release.version} to `{runbook.target.alias}`",
        "",
        f"Runbook: `{path}`. Window: {runbook.window.describe()}.",
    ]
    current = None
    for number, step in enumerate(steps, 1):
        if step.stage != current:
            current = step.stage
            out += ["", f"## {current}: {STAGE_TITLES.get(current, current)}", ""]
        out += _markdown_step(runbook, step, f"{number}.")
    if rollback:
        out += ["", f"## rollback: {STAGE_TITLES['rollback']}", ""]
        for number, step in enumerate(rollback, 1):
            out += _markdown_step(runbook, step, f"R{number}.")
    out += ["", "## Contacts", "", "| Role | Name | Email | Phone |", "|---|---|---|---|"]
    out += [f"| {r.title} | {r.name} | {r.email} | {r.phone} |" for r in runbook.roles.values()]
    if runbook.known_issues:
        out += ["", "## Known issues", ""]
        out += [
            f"- **{i.title}**: {i.symptom}. Workaround: {i.workaround}."
            + (f" Permanent fix: {i.permanent_fix}." if i.permanent_fix else "")
            for i in runbook.known_issues
        ]
    if problems:
        out += ["", "## Problems", "", *(f"- {p}" for p in problems)]
    return "\n".join(out) + "\n"


def _markdown_step(runbook: Runbook, step: PlanStep, number: str) -> list[str]:
    lines = [f"### {number} {step.title} ({_kind_label(step, runbook)}, `{step.id}`)", ""]
    lines += [f"- [ ] {check}" for check in step.checks]
    for command in (step.sf_command, step.command, step.params.get("progress_command")):
        if command:
            lines += ["", "```bash", command, "```"]
    lines.append("")
    return lines
