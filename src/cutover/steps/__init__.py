"""Run steps, one module per runbook stage, and the thin adapter from a runbook to the engine's plain inputs.

The engine (`cutover.engine`) knows nothing of the runbook: this module turns `build_plan(runbook)` into
`StepSpec`s, the runbook's roles and separation of duties into `RoleRules`, and each plan step's `action` into an
executor from `cutover.steps.registry`. Imports of the runbook and checks packages stay inside the functions so
that importing a step module stays cheap and free of cycles.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cutover.engine import RoleRules, SignoffRule, Step, StepSpec
from cutover.engine.chain import sha256_file
from cutover.errors import UsageError
from cutover.steps._params import as_int, as_texts, first, params_of

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook, Signoff
    from cutover.runbook.plan import PlanStep
    from cutover.steps.registry import StepServices


class SignoffSource(Protocol):
    """What `signoff_rule` reads of a plan step (preflight hands it a view of its gate spec)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def params(self) -> Mapping[str, object]: ...


def file_sha256(path: Path) -> str:
    return sha256_file(Path(path))


def git_head(project_dir: Path) -> str | None:
    """The commit the project folder is at, if it is a git work tree."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_dir, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def change_authors(project_dir: Path) -> tuple[str, ...]:
    """Names and emails of everyone who authored or committed the release (since the previous release tag)."""
    try:
        from cutover.checks.git import previous_release_tag
        from cutover.checks.reviews import release_commits

        if git_head(project_dir) is None:
            return ()
        release = release_commits(project_dir, previous_release_tag(project_dir))
    except Exception:  # no git, no history: nobody to exclude (the reviews gate itself reports missing history)
        return ()
    people: list[str] = []
    for person in release.authors:
        people.extend(value for value in (person.name, person.email) if value)
    return tuple(dict.fromkeys(people))


def _param(plan_step: SignoffSource, *names: str, default: object = None) -> object:
    return first(params_of(plan_step), *names, default=default)


def _runbook_signoff(plan_step: SignoffSource, runbook: Runbook) -> Signoff | None:
    for signoff in getattr(runbook, "signoffs", None) or ():
        if plan_step.id == signoff.id or plan_step.id.endswith("." + signoff.id):
            return signoff
    return None


def signoff_rule(plan_step: SignoffSource, runbook: Runbook) -> SignoffRule | None:
    """The sign-off rule of a `kind == "signoff"` plan step (roles, distinct people, evidence, not-author)."""
    if getattr(plan_step, "kind", "automated") != "signoff":
        return _review_rule(plan_step, runbook)
    declared = _runbook_signoff(plan_step, runbook)
    roles = _param(plan_step, "roles", "role")
    if roles is None and declared is not None:
        roles = declared.role
    roles_tuple = as_texts(roles)
    if not roles_tuple:
        raise UsageError(f"sign-off step {plan_step.id} names no role")
    evidence_required = _param(plan_step, "evidence_required")
    if evidence_required is None and declared is not None:
        evidence_required = declared.evidence_required
    sod = getattr(runbook, "separation_of_duties", None)
    reviewer_not_author = bool(getattr(sod, "reviewer_not_author", False))
    # A review (code review, security review) may not be signed by an author of the change.
    is_review = bool(_param(plan_step, "not_author", "review", default=False)) or "review" in plan_step.id
    return SignoffRule(
        roles=roles_tuple,
        min_signers=as_int(_param(plan_step, "min_signers", "min_approvals", default=1) or 1),
        not_author=reviewer_not_author and is_review,
        evidence_required=bool(evidence_required),
        signatures_required=getattr(sod, "signatures", "optional") == "required",
    )


def _review_rule(plan_step: SignoffSource, runbook: Runbook) -> SignoffRule | None:
    """The code-review gate is automated (it reads Reviewed-by: trailers) but also counts review sign-offs
    (`cutover signoff preflight.reviews --by WHO --role reviewer`): distinct people, never an author of the change."""
    min_approvals = _param(plan_step, "min_approvals")
    if min_approvals is None:
        return None
    sod = getattr(runbook, "separation_of_duties", None)
    return SignoffRule(
        roles=("reviewer", *(getattr(runbook, "roles", None) or {})),
        min_signers=max(as_int(min_approvals), 1),
        not_author=bool(_param(plan_step, "reviewer_not_author", default=getattr(sod, "reviewer_not_author", True))),
        signatures_required=getattr(sod, "signatures", "optional") == "required",
    )


#: Verification checks whose failure triggers the automatic rollback (the plan marks the same ones in their titles).
ROLLBACK_TRIGGER_ACTIONS = frozenset({"sf.verify_tests", "sf.verify_logs", "sf.verify_jobs"})


def with_rollback_plan(plan_steps: Sequence[PlanStep], runbook: Runbook) -> list[PlanStep]:
    """The plan plus the runbook's rollback contingency steps, when the plan deploys anything."""
    steps = list(plan_steps)
    if not any(getattr(p, "stage", None) == "deploy" for p in steps) or any(p.stage == "rollback" for p in steps):
        return steps
    from cutover.runbook.plan import build_rollback_plan

    return steps + list(build_rollback_plan(runbook))


def _on_failure(plan_step: PlanStep, runbook: Runbook) -> str:
    automatic = bool(getattr(getattr(runbook, "rollback", None), "automatic_on_verification_failure", False))
    triggers = _param(plan_step, "triggers_rollback")
    if triggers is None:
        triggers = plan_step.stage == "verify" and plan_step.action in ROLLBACK_TRIGGER_ACTIONS
    return "rollback" if automatic and triggers else "stop"


def plan_to_specs(plan_steps: Sequence[PlanStep], runbook: Runbook) -> list[StepSpec]:
    """Engine step specs for a plan. A plan that deploys gets the runbook's rollback steps appended as contingency
    steps, and the verification checks that trigger the automatic rollback get `on_failure="rollback"`."""
    specs = []
    for plan_step in with_rollback_plan(plan_steps, runbook):
        params = dict(getattr(plan_step, "params", None) or {})
        specs.append(
            StepSpec(
                id=plan_step.id,
                stage=plan_step.stage,
                title=plan_step.title,
                action=plan_step.action,
                kind=getattr(plan_step, "kind", "automated"),
                blocking=bool(getattr(plan_step, "blocking", True)),
                params=params,
                signoff=signoff_rule(plan_step, runbook),
                contingency=plan_step.stage == "rollback",
                on_failure=_on_failure(plan_step, runbook),
            )
        )
    return specs


def role_rules(runbook: Runbook, authors: Iterable[str] = ()) -> RoleRules:
    """Separation of duties from the runbook: exclusive role groups become pairs; named role holders count."""
    from cutover.runbook.models import is_unset_contact

    sod = getattr(runbook, "separation_of_duties", None)
    pairs: list[tuple[str, str]] = []
    for group in getattr(sod, "exclusive", None) or ():
        pairs.extend(itertools.combinations(group, 2))
    holders: dict[str, tuple[str, ...]] = {}
    for role_id, role in (getattr(runbook, "roles", None) or {}).items():
        people = [(role.name, role.email)] + [(p.name, p.email) for p in getattr(role, "people", None) or ()]
        names = tuple(v for pair in people for v in pair if not is_unset_contact(v))
        if names:
            holders[role_id] = names
    window = getattr(runbook, "window", None)
    return RoleRules(
        exclusive=tuple(pairs),
        change_authors=tuple(authors),
        waiver_roles=tuple(getattr(window, "exception_approvers", None) or ()),
        role_holders=holders,
    )


def build_executors(
    plan_steps: Sequence[PlanStep],
    runbook: Runbook,
    services: StepServices,
    step_ids: Iterable[str],
    *,
    optional: Iterable[str] = (),
) -> dict[str, Step]:
    """Executors for the plan steps in `step_ids`. Raises UsageError naming every action that has none, except for
    the ids in `optional` (the rollback contingency: its absence is reported by `missing_executors`, and a rollback
    that cannot run fails the run with a clear message instead of blocking every run)."""
    from cutover.steps.registry import executor_factory, load_builtin_executors

    load_builtin_executors()
    plan_steps = with_rollback_plan(plan_steps, runbook)
    optional_ids = set(optional)
    wanted = set(step_ids) | optional_ids
    executors: dict[str, Step] = {}
    missing: dict[str, list[str]] = {}
    for plan_step in plan_steps:
        if plan_step.id not in wanted:
            continue
        factory = executor_factory(plan_step.action)
        if factory is None:
            if plan_step.id not in optional_ids:
                missing.setdefault(plan_step.action, []).append(plan_step.id)
            continue
        executors[plan_step.id] = factory(plan_step, runbook, services)
    unknown = wanted - {p.id for p in plan_steps}
    if unknown:
        raise UsageError(
            f"the run has step(s) the current plan does not: {', '.join(sorted(unknown))}",
            hint="the runbook or cutover changed since the run was created; abort it and start a new run",
        )
    if missing:
        listed = "; ".join(f"{action} ({', '.join(ids)})" for action, ids in sorted(missing.items()))
        missing_ids = {step_id for ids in missing.values() for step_id in ids}
        stages = sorted({p.stage for p in plan_steps if p.id in missing_ids})
        raise UsageError(
            f"no executor for action(s): {listed}",
            hint=f"these stages cannot run yet in this version of cutover ({', '.join(stages)}); run the others "
            "with --only STAGE,... or --until STAGE",
        )
    return executors


def missing_executors(plan_steps: Sequence[PlanStep], runbook: Runbook, step_ids: Iterable[str]) -> list[str]:
    """`action (step id)` for each of `step_ids` that no registered executor handles."""
    from cutover.steps.registry import executor_factory, load_builtin_executors

    load_builtin_executors()
    wanted = set(step_ids)
    return [
        f"{p.action} ({p.id})"
        for p in with_rollback_plan(plan_steps, runbook)
        if p.id in wanted and executor_factory(p.action) is None
    ]
