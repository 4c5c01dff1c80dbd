"""Gates on the repository and its documents: git state, reviews, README/CHANGELOG/known issues."""

from __future__ import annotations

from cutover.checks import docs as doc_checks
from cutover.checks import git as git_checks
from cutover.checks import reviews as review_checks
from cutover.checks.result import GateResult, failed, passed, skipped
from cutover.steps._params import as_int
from cutover.steps.preflight.context import GateSpec, PreflightContext, combine, param


def gate_git(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """Clean tree, up to date with the remote base branch (fetched), no conflicts with it (`git merge-tree`)."""
    release = ctx.runbook.release
    remote = str(param(spec, "remote", default=release.remote))
    base = str(param(spec, "base_branch", default=release.base_branch))
    parts = [git_checks.check_clean_tree(spec.id, spec.title, ctx.project_dir)]
    up_to_date = git_checks.check_up_to_date(spec.id, spec.title, ctx.project_dir, remote=remote, base_branch=base)
    parts.append(up_to_date)
    base_ref = git_checks.remote_ref(remote, base)
    if git_checks.git(ctx.project_dir, "rev-parse", "--verify", "--quiet", base_ref).code == 0:
        parts.append(
            git_checks.check_merge_conflicts(spec.id, spec.title, ctx.project_dir, remote=remote, base_branch=base)
        )
    return combine(spec, parts)


def gate_reviews(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    signed = tuple(review_checks.Person.parse(record.by) for record in ctx.view.signoffs.get(spec.id, ()))
    return review_checks.check_reviews(
        spec.id,
        spec.title,
        ctx.project_dir,
        since=ctx.previous_tag,
        min_approvals=as_int(param(spec, "min_approvals", default=ctx.runbook.reviews.min_approvals)),
        signed_reviewers=signed,
        reviewer_not_author=ctx.runbook.separation_of_duties.reviewer_not_author,
    )


def gate_docs(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """README names the version, CHANGELOG has its section, known issues are written down, API docs exist."""
    docs = ctx.runbook.project.docs
    version = str(param(spec, "version", default=ctx.runbook.release.version))
    parts: list[GateResult] = []
    checks = (
        ("readme", docs.readme, docs.readme_mentions_version, doc_checks.check_readme_version),
        ("changelog", docs.changelog, docs.changelog_mentions_version, doc_checks.check_changelog),
    )
    for key, name, wanted, check in checks:
        if not name or not wanted:
            continue
        if not (ctx.project_dir / name).is_file() and not ctx.explicit(docs, key):
            # The default file name, and the project has no such file: nothing to hold to the version.
            parts.append(skipped(spec.id, spec.title, f"no {name} (set project.docs.{key} to check one)"))
            continue
        parts.append(check(spec.id, spec.title, ctx.project_dir, version=version, **{key: name}))
    if docs.api_docs:
        path = ctx.project_dir / docs.api_docs
        parts.append(
            passed(spec.id, spec.title, f"{docs.api_docs} present")
            if path.exists()
            else failed(spec.id, spec.title, f"{docs.api_docs} not found")
        )
    parts.append(
        doc_checks.check_known_issues(
            spec.id,
            spec.title,
            ctx.project_dir,
            runbook_known_issues=len(ctx.runbook.known_issues),
            declared_none=ctx.explicit(ctx.runbook, "known_issues"),
        )
    )
    return combine(spec, parts)
