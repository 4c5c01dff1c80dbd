"""`git.release`: seed "3. Create Deployment Branch" — release branch and annotated tag of the commit being released.

What it does, in order (every git command that changes something is run through `ctx.run_command`, so it is
evidence):
1. refuses uncommitted changes to tracked files (they would be deployed but not be in the tag);
2. `git fetch <remote> <base>` when the remote exists; refuses when the local base branch is behind or has diverged
   from `<remote>/<base>` (the seed's "git pull" — cutover does not merge for you), and when HEAD is not the tip of
   the base branch (the run was gated on HEAD, so that is what gets the tag);
3. creates `release/v<version>` at HEAD (`git branch`, HEAD stays where it is: same commit, no checkout needed);
4. creates the annotated tag at HEAD;
5. pushes nothing when the plan deploys: `deploy.push-release` (`git.push_release`, right after `deploy.quick`)
   pushes the branch and the tag once the deploy succeeded, so a failed validation or deploy leaves nothing on the
   remote. Only a runbook without a `deploy` stage pushes here. Never `--force`; no remote → skipped, not failed.

Idempotent: a branch or tag that already points at HEAD is reused (accepted as done, and not counted as created by
the run); one that points elsewhere is a blocking failure (an existing tag is never moved, an existing branch never
reset) that names the run which created it, when one did. `{date}` in the names is the run's creation date, so a
resume on the next day finds the same names.

What the run created (and pushed) is recorded in the step outcomes; `cutover abort` removes exactly that
(`remove_release_refs`), unless the run deployed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.engine import StepContext, StepOutcome
from cutover.steps._params import params_of
from cutover.steps.registry import StepServices, register_action
from cutover.steps.release_refs import created_refs

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep


class ReleaseRefused(Exception):
    """A precondition of the release is false (the message says which and what to do)."""


@dataclass(frozen=True)
class ReleaseNames:
    branch: str
    tag: str
    message: str


def git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A read-only git query (not evidence: mutating commands go through ctx.run_command)."""
    return subprocess.run(["git", *args], cwd=project_dir, capture_output=True, text=True, timeout=120, check=False)


def rev(project_dir: Path, ref: str) -> str | None:
    done = git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return done.stdout.strip() or None if done.returncode == 0 else None


def tag_object_type(project_dir: Path, tag: str) -> str | None:
    done = git(project_dir, "cat-file", "-t", f"refs/tags/{tag}")
    return done.stdout.strip() if done.returncode == 0 else None


def has_remote(project_dir: Path, remote: str) -> bool:
    done = git(project_dir, "remote")
    return remote in done.stdout.split()


def ahead_behind(project_dir: Path, local: str, upstream: str) -> tuple[int, int]:
    done = git(project_dir, "rev-list", "--left-right", "--count", f"{local}...{upstream}")
    ahead, behind = (int(x) for x in done.stdout.split())
    return ahead, behind


class GitRelease:
    idempotent = True  # every action checks first whether it is already done

    def __init__(self, params: Mapping[str, object], runbook: Runbook, services: StepServices) -> None:
        self.params = params
        self.runbook = runbook
        self.services = services

    def names(self, ctx: StepContext) -> ReleaseNames:
        created = None
        run = ctx.store.get_run(ctx.run_id)
        if run is not None and run.created:
            try:
                created = datetime.fromisoformat(run.created.replace("Z", "+00:00")).astimezone(UTC)
            except ValueError:
                created = None
        release = self.runbook.release
        return ReleaseNames(release.branch_name(created), release.tag_name(created), release.tag_text(created))

    def run(self, ctx: StepContext) -> StepOutcome:
        project = Path(ctx.project_dir)
        names = self.names(ctx)
        try:
            return self._release(ctx, project, names)
        except ReleaseRefused as exc:
            return StepOutcome.failed(str(exc), branch=names.branch, tag=names.tag)

    def pushes_here(self) -> bool:
        """Push in this step only when no deploy follows (else `deploy.push-release` pushes after the deploy)."""
        return "deploy" not in (getattr(self.runbook, "stages", None) or ())

    def _must(self, ctx: StepContext, argv: list[str], name: str, what: str) -> None:
        # Never wait for a credentials prompt nobody will answer: fail and say so.
        result = ctx.run_command(argv, name=name, timeout=300, env={"GIT_TERMINAL_PROMPT": "0"})
        if not result.ok:
            why = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise ReleaseRefused(f"{what} failed (exit {result.returncode}): {why[-1] if why else 'no output'}")

    def _release(self, ctx: StepContext, project: Path, names: ReleaseNames) -> StepOutcome:
        release = self.runbook.release
        base, remote = release.base_branch, release.remote
        lines: list[str] = []
        if rev(project, "HEAD") is None:
            raise ReleaseRefused(f"{project} is not a git repository with a commit")
        dirty = git(project, "status", "--porcelain", "--untracked-files=no").stdout.strip()
        if dirty:
            first = dirty.splitlines()[0].strip()
            raise ReleaseRefused(
                f"uncommitted changes to tracked files (e.g. {first}): they would be deployed but not be in tag "
                f"{names.tag}; commit or stash them"
            )
        head = rev(project, "HEAD") or ""
        base_tip = rev(project, f"refs/heads/{base}")
        if base_tip is None:
            raise ReleaseRefused(f"base branch {base!r} does not exist locally")
        remote_exists = has_remote(project, remote)
        if remote_exists:
            self._must(ctx, ["git", "fetch", remote, base], "git-fetch", f"git fetch {remote} {base}")
            upstream = rev(project, f"refs/remotes/{remote}/{base}")
            if upstream is None:
                raise ReleaseRefused(f"{remote}/{base} does not exist after fetch")
            ahead, behind = ahead_behind(project, f"refs/heads/{base}", f"refs/remotes/{remote}/{base}")
            if behind and ahead:
                raise ReleaseRefused(
                    f"{base} has diverged from {remote}/{base} ({ahead} ahead, {behind} behind); reconcile, re-gate "
                    "and start a new run"
                )
            if behind:
                raise ReleaseRefused(
                    f"{base} is {behind} commit(s) behind {remote}/{base}: the release would miss them; "
                    f"`git pull {remote} {base}`, re-gate and start a new run"
                )
            if ahead:
                raise ReleaseRefused(
                    f"{base} is {ahead} commit(s) ahead of {remote}/{base}: push {base} first, so the released "
                    "commit is on the shared branch"
                )
            lines.append(f"{base} up to date with {remote}/{base}")
        else:
            lines.append(f"no remote {remote!r}: fetch and push skipped")
        if head != base_tip:
            raise ReleaseRefused(
                f"HEAD ({head[:12]}) is not the tip of {base} ({base_tip[:12]}): the release branch is cut from "
                f"an up-to-date {base}; check out {base}"
            )

        created: list[str] = []
        branch_at = rev(project, f"refs/heads/{names.branch}")
        if branch_at is None:
            self._must(ctx, ["git", "branch", names.branch, head], "git-branch", f"git branch {names.branch}")
            lines.append(f"created branch {names.branch}")
            created.append("branch")
        elif branch_at != head:
            raise ReleaseRefused(
                f"branch {names.branch} already exists at {branch_at[:12]}, not at HEAD {head[:12]}; cutover never "
                f"resets a branch ({_who_created(ctx, 'branch', names.branch)})"
            )
        else:
            lines.append(f"branch {names.branch} already at HEAD")

        tag_at = rev(project, f"refs/tags/{names.tag}")
        if tag_at is None:
            self._must(
                ctx, ["git", "tag", "-a", names.tag, "-m", names.message, head], "git-tag", f"git tag {names.tag}"
            )
            lines.append(f"created annotated tag {names.tag}")
            created.append("tag")
        elif tag_at != head:
            raise ReleaseRefused(
                f"tag {names.tag} already exists at {tag_at[:12]}, not at HEAD {head[:12]}; cutover never moves a "
                f"tag ({_who_created(ctx, 'tag', names.tag)})"
            )
        elif tag_object_type(project, names.tag) != "tag":
            raise ReleaseRefused(f"tag {names.tag} exists at HEAD but is lightweight; the release tag is annotated")
        else:
            lines.append(f"tag {names.tag} already at HEAD")

        pushed: list[str] = []
        if not self.runbook.release.push:
            lines.append("push disabled (release.push: false)")
        elif not self.pushes_here():
            lines.append("pushed after a successful deploy (deploy.push-release)")
        elif remote_exists:
            pushed = push_refs(ctx, project, remote, names, self._must)
            lines.append(f"pushed {names.branch} and {names.tag} to {remote}")
        ctx.record_evidence(
            "release.json",
            {
                "commit": head,
                "branch": names.branch,
                "tag": names.tag,
                "message": names.message,
                "created": created,
                "pushed": bool(pushed) or (self.pushes_here() and remote_exists and self.runbook.release.push),
                "pushed_refs": pushed,
            },
        )
        return StepOutcome.passed(
            f"{names.tag} at {head[:12]}: " + "; ".join(lines),
            commit=head,
            branch=names.branch,
            tag=names.tag,
            created=created,
            pushed_refs=pushed,
            remote=remote,
        )


Must = Callable[[StepContext, list[str], str, str], None]


def push_refs(ctx: StepContext, project: Path, remote: str, names: ReleaseNames, must: Must) -> list[str]:
    """Push the branch and the tag (never --force); returns which of them the remote did not have before."""
    listed = git(project, "ls-remote", remote, f"refs/heads/{names.branch}", f"refs/tags/{names.tag}")
    before = listed.stdout if listed.returncode == 0 else ""
    new = [
        kind
        for kind, ref in (("branch", f"refs/heads/{names.branch}"), ("tag", f"refs/tags/{names.tag}"))
        if listed.returncode == 0 and ref not in before.split()
    ]
    must(
        ctx,
        ["git", "push", remote, f"refs/heads/{names.branch}", f"refs/tags/{names.tag}"],
        "git-push",
        f"git push {remote} {names.branch} {names.tag}",
    )
    return new


class GitReleasePush(GitRelease):
    """`deploy.push-release`: push the release branch and tag after the deploy succeeded (idempotent: pushing refs
    the remote already has at the same commit changes nothing)."""

    def _release(self, ctx: StepContext, project: Path, names: ReleaseNames) -> StepOutcome:
        remote = self.runbook.release.remote
        if not self.runbook.release.push:
            return StepOutcome.skipped("push disabled (release.push: false)")
        if not has_remote(project, remote):
            return StepOutcome.skipped(f"no remote {remote!r}: push skipped")
        commit = rev(project, f"refs/heads/{names.branch}")
        if commit is None or rev(project, f"refs/tags/{names.tag}") != commit:
            raise ReleaseRefused(
                f"branch {names.branch} and tag {names.tag} are not both present at the same commit; "
                f"push them by hand: git push {remote} {names.branch} {names.tag}"
            )
        pushed = push_refs(ctx, project, remote, names, self._must)
        ctx.record_evidence(  # the release record reads the newest release*.json: now it says pushed
            "release.json",
            {
                "commit": commit,
                "branch": names.branch,
                "tag": names.tag,
                "message": names.message,
                "pushed": True,
                "pushed_refs": pushed,
            },
        )
        return StepOutcome.passed(
            f"pushed {names.branch} and {names.tag} ({commit[:12]}) to {remote}",
            commit=commit,
            branch=names.branch,
            tag=names.tag,
            pushed_refs=pushed,
            remote=remote,
        )


def _who_created(ctx: StepContext, kind: str, name: str) -> str:
    """The hint for a release ref in the way: the run that created it, when one did."""
    for run in reversed(ctx.store.list_runs()):
        if run.id == ctx.run_id:
            continue
        if name in created_refs(ctx.store, run.id).get(kind, ()):
            if run.state.value in ("planned", "running", "paused", "failed"):
                return (
                    f"run {run.id} created it and is {run.state.value}: "
                    f"`cutover abort {run.id} --reason TEXT` removes it"
                )
            return f"run {run.id} created it; delete it by hand if that release is void, or change release.version"
    return "delete or rename it, or change release.version"


@register_action("git.release")
def _release_factory(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> GitRelease:
    return GitRelease(dict(params_of(plan_step)), runbook, services)


@register_action("git.push_release")
def _push_factory(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> GitReleasePush:
    return GitReleasePush(dict(params_of(plan_step)), runbook, services)
