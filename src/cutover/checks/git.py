"""Git gates: a clean working tree, a branch up to date with the base branch, no merge conflicts with it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from cutover.checks.result import Evidence, GateResult, failed, passed

#: Paths cutover itself writes inside the project; they never make the tree "dirty".
OWN_PATHS = (".cutover/",)


@dataclass(frozen=True)
class GitOutput:
    code: int
    out: str
    err: str


def git(repo: Path, *args: str, timeout: float = 120) -> GitOutput:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **_passthrough_env()},
        )
    except FileNotFoundError:
        return GitOutput(127, "", "git not found on PATH")
    except subprocess.TimeoutExpired:
        return GitOutput(124, "", f"git {' '.join(args)} timed out after {timeout:.0f} s")
    return GitOutput(done.returncode, done.stdout, done.stderr)


def _passthrough_env() -> dict[str, str]:
    import os

    keep = ("PATH", "HOME", "GIT_SSH_COMMAND", "SSH_AUTH_SOCK", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")
    return {key: os.environ[key] for key in keep if key in os.environ}


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def check_clean_tree(gate_id: str, title: str, repo: Path) -> GateResult:
    """Nothing modified, staged or untracked (ignored files and cutover's own `.cutover/` excepted)."""
    status = git(repo, "status", "--porcelain=v1", "--untracked-files=normal", "--", ".")
    if status.code != 0:
        if "not a git repository" in status.err:
            return failed(gate_id, title, f"{repo} is not in a git repository: put the project under git first")
        return failed(gate_id, title, f"git status failed: {_first_line(status.err)}")
    # Porcelain paths are relative to the repository root: a project in a subfolder has its state at <prefix>.cutover/.
    prefix = git(repo, "rev-parse", "--show-prefix").out.strip()
    own = tuple(prefix + path for path in OWN_PATHS)
    entries = [line for line in status.out.splitlines() if line and not line[3:].startswith(own)]
    evidence = Evidence.text("git-status.txt", status.out or "(clean)\n")
    if not entries:
        return passed(gate_id, title, "working tree clean", evidence)
    listed = ", ".join(line[3:] for line in entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    return failed(gate_id, title, f"{len(entries)} uncommitted change(s): {listed}; commit or remove them", evidence)


def remote_ref(remote: str, base_branch: str) -> str:
    return f"refs/remotes/{remote}/{base_branch}"


def fetch_base(repo: Path, remote: str, base_branch: str) -> GitOutput:
    return git(
        repo, "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{base_branch}:{remote_ref(remote, base_branch)}"
    )


def fetch_problem(repo: Path, remote: str, base_branch: str, fetched: GitOutput) -> str:
    """Why the base branch could not be fetched, with the fix: no such remote, no such branch, or git's own words."""
    if git(repo, "remote", "get-url", remote).code != 0:
        known = [name for name in git(repo, "remote").out.split() if name]
        have = f" (it has: {', '.join(known)})" if known else " (it has none)"
        return (
            f"the repository has no remote {remote!r}{have}: add it (git remote add {remote} URL) "
            "or set release.remote to the remote releases are pushed to"
        )
    if "couldn't find remote ref" in fetched.err:
        return (
            f"{remote} has no branch {base_branch!r}: set release.base_branch to the branch releases start from "
            "(e.g. master)"
        )
    return f"cannot fetch {remote}/{base_branch}: {_first_line(fetched.err)}"


def check_up_to_date(
    gate_id: str, title: str, repo: Path, *, remote: str, base_branch: str, fetch: bool = True
) -> GateResult:
    """HEAD contains every commit of the remote base branch (fetched first, so "up to date" means now)."""
    if fetch:
        fetched = fetch_base(repo, remote, base_branch)
        if fetched.code != 0:
            return failed(gate_id, title, fetch_problem(repo, remote, base_branch, fetched))
    ref = remote_ref(remote, base_branch)
    counts = git(repo, "rev-list", "--left-right", "--count", f"HEAD...{ref}")
    if counts.code != 0:
        return failed(gate_id, title, f"no {remote}/{base_branch} to compare with: {_first_line(counts.err)}")
    ahead, behind = (int(part) for part in counts.out.split())
    head = git(repo, "rev-parse", "HEAD").out.strip()
    base = git(repo, "rev-parse", ref).out.strip()
    evidence = Evidence.json(
        "git-base.json",
        {"head": head, "base_ref": f"{remote}/{base_branch}", "base": base, "ahead": ahead, "behind": behind},
    )
    if behind:
        return failed(
            gate_id,
            title,
            f"HEAD is {behind} commit(s) behind {remote}/{base_branch}; merge or rebase onto it first",
            evidence,
        )
    return passed(gate_id, title, f"HEAD contains {remote}/{base_branch} ({ahead} commit(s) ahead)", evidence)


def check_merge_conflicts(gate_id: str, title: str, repo: Path, *, remote: str, base_branch: str) -> GateResult:
    """`git merge-tree --write-tree` of HEAD with the base branch: a real three-way merge without touching the tree."""
    ref = remote_ref(remote, base_branch)
    merged = git(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", ref)
    evidence = Evidence.text(
        "merge-tree.txt", f"$ git merge-tree --write-tree HEAD {remote}/{base_branch}\n{merged.out}{merged.err}"
    )
    if merged.code == 0:
        return passed(gate_id, title, f"merges cleanly with {remote}/{base_branch}", evidence)
    if merged.code == 1:
        conflicted = [line for line in merged.out.splitlines()[1:] if line.strip()]
        listed = ", ".join(conflicted[:5]) + (f" and {len(conflicted) - 5} more" if len(conflicted) > 5 else "")
        return failed(gate_id, title, f"merge conflicts with {remote}/{base_branch} in: {listed}", evidence)
    return failed(gate_id, title, f"git merge-tree failed: {_first_line(merged.err)} (needs git 2.38+)", evidence)


def previous_release_tag(repo: Path, *, pattern: str = "v*", exclude: str | None = None) -> str | None:
    """The newest tag matching `pattern` reachable from HEAD, other than the release being prepared."""
    tags = git(repo, "tag", "--merged", "HEAD", "--list", pattern, "--sort=-v:refname")
    for tag in tags.out.splitlines():
        tag = tag.strip()
        if tag and tag != exclude:
            return tag
    return None
