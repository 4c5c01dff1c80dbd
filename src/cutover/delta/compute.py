"""The components a release changes since a git tag: `compute_delta(project_dir, since, until, source_dirs=...)`.

From `git diff --name-status -M <since> <until> -- <package directories>`:

- added or changed files → their component is upserted (package.xml);
- deleted files → their component is deleted (destructiveChangesPost.xml) only when no file of it is left at
  `until` (a bundle that lost one file is changed, not deleted); otherwise it is upserted;
- a renamed file is a deletion of its old component and an upsert of the new one (`renames` pairs them);
- children of a deleted object are not listed (deleting the object deletes them);
- standard objects and standard fields are never deleted (`skipped`, with the reason);
- files `.forceignore` names (as of `until`) are left out, as the sf CLI leaves them out.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cutover.delta.forceignore import ForceIgnore
from cutover.delta.registry import META, Resolved, file_children, packs_children, resolve
from cutover.errors import EnvironmentProblem, Failure, UsageError

CUSTOM_SUFFIXES = ("__c", "__e", "__mdt", "__b", "__x", "__kav", "__ka", "__dlm", "__share", "__history")


@dataclass(frozen=True, order=True)
class Component:
    """A metadata component, and the changed files (relative to the project folder) that put it in the delta."""

    type: str
    name: str
    paths: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.name)

    def __str__(self) -> str:
        return f"{self.type}:{self.name}"


@dataclass(frozen=True)
class Delta:
    since: str
    until: str
    upserts: tuple[Component, ...]
    deletions: tuple[Component, ...]
    renames: tuple[tuple[Component, Component], ...]
    since_commit: str = ""
    until_commit: str = ""
    skipped: tuple[tuple[Component, str], ...] = ()  # deletions left out, with the reason

    @property
    def empty(self) -> bool:
        return not self.upserts and not self.deletions

    def describe(self) -> str:
        """`3 upserts, 1 deletion, 1 rename since v1.0.0 (abc1234..def5678)`."""
        parts = [f"{len(self.upserts)} upsert(s)", f"{len(self.deletions)} deletion(s)"]
        if self.renames:
            parts.append(f"{len(self.renames)} rename(s)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} removal(s) not deleted")
        span = f" ({self.since_commit[:7]}..{self.until_commit[:7]})" if self.since_commit else ""
        return f"{', '.join(parts)} since {self.since}{span}"


class DeltaError(Failure):
    """The delta cannot be computed (unknown tag, not a git repository)."""


def _git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}
    try:
        return subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=project_dir,
            capture_output=True,
            timeout=120,
            env={**env, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"},
            check=False,
        )
    except FileNotFoundError:
        raise EnvironmentProblem("git is not installed (delta releases compare git tags)") from None
    except subprocess.TimeoutExpired:
        raise DeltaError(f"git {' '.join(args[:2])} took more than 120 s in {project_dir}") from None


def resolve_commit(project_dir: Path, ref: str, *, what: str) -> str:
    """The commit `ref` names, or a one-line error naming it."""
    if not ref or ref.startswith("-"):
        raise UsageError(f"{what} {ref!r} is not a git ref")
    done = _git(project_dir, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode != 0:
        inside = _git(project_dir, "rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0:
            raise DeltaError(f"{project_dir} is not a git repository: a delta release compares git tags")
        raise DeltaError(f"{what} {ref!r} does not exist in {project_dir} (git rev-parse {ref} fails)")
    return done.stdout.decode().strip()


@dataclass
class _Touched:
    paths: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    resolved: dict[tuple[str, str], Resolved] = field(default_factory=dict)

    def add(self, item: Resolved, path: str) -> None:
        self.resolved.setdefault(item.key, item)
        self.paths.setdefault(item.key, []).append(path)


class _Resolver:
    def __init__(self, source_dirs: Sequence[str], ignore: ForceIgnore) -> None:
        self.dirs = [PurePosixPath(d.strip("/")) for d in source_dirs]
        self.ignore = ignore

    def __call__(self, path: str) -> Resolved | None:
        if self.ignore.ignored(path):
            return None
        pure = PurePosixPath(path)
        for folder in self.dirs:
            if pure.is_relative_to(folder):
                return resolve(pure.relative_to(folder).parts)
        return None


def _diff_entries(project_dir: Path, since: str, until: str, dirs: Sequence[str]) -> list[tuple[str, list[str]]]:
    done = _git(
        project_dir, "diff", "--name-status", "-z", "-M", "--no-ext-diff", "--relative", since, until, "--", *dirs
    )
    if done.returncode != 0:
        raise DeltaError(f"git diff {since[:12]} {until[:12]} failed: {done.stderr.decode(errors='replace')[:200]}")
    fields = done.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    entries: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        count = 2 if status[:1] in ("R", "C") else 1
        entries.append((status[:1], fields[i + 1 : i + 1 + count]))
        i += 1 + count
    return entries


def _files_at(project_dir: Path, commit: str, dirs: Sequence[str]) -> list[str]:
    done = _git(project_dir, "ls-tree", "-r", "-z", "--name-only", commit, "--", *dirs)
    if done.returncode != 0:
        raise DeltaError(f"git ls-tree {commit[:12]} failed: {done.stderr.decode(errors='replace')[:200]}")
    return [p for p in done.stdout.decode("utf-8", errors="surrogateescape").split("\0") if p]


def _forceignore_at(project_dir: Path, commit: str) -> ForceIgnore:
    done = _git(project_dir, "show", f"{commit}:./.forceignore")
    return ForceIgnore(done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else "")


def _blob(project_dir: Path, commit: str, path: str) -> bytes | None:
    done = _git(project_dir, "show", f"{commit}:./{path}")
    return done.stdout if done.returncode == 0 else None


def _packed_changes(
    project_dir: Path,
    commits: tuple[str, str],
    status: str,
    paths: list[str],
    packed: Resolved,
    touched: tuple[_Touched, _Touched],
) -> None:
    """A changed labels file: each label added or changed is upserted, each one gone is a deletion candidate."""
    since_commit, until_commit = commits
    upserted, removed = touched
    before = file_children(packed.type, _blob(project_dir, since_commit, paths[0])) if status != "A" else {}
    after = file_children(packed.type, _blob(project_dir, until_commit, paths[-1])) if status != "D" else {}
    for key, xml in after.items():
        if before.get(key) != xml:
            upserted.add(Resolved(*key), paths[-1])
    for key in before.keys() - after.keys():
        removed.add(Resolved(*key), paths[0])


#: Types whose file leaving the source means "no longer tracked", never "delete it from production".
NEVER_DELETED_TYPES = frozenset(
    {"StandardValueSet", "Profile", "CustomObjectTranslation", "Translations", "AppMenu", "Role", "Territory"}
)


def undeletable(component: Component | Resolved) -> str | None:
    """Why a delta never deletes this component: standard objects and fields belong to Salesforce; profiles,
    settings, translations and standard value sets are only no longer tracked when their file goes."""
    if component.type in NEVER_DELETED_TYPES or component.type.endswith("Settings"):
        return f"{component.type} is never deleted by a delta release"
    name = component.name.lower()
    if component.type == "CustomObject" and not name.endswith(CUSTOM_SUFFIXES):
        return "standard object"
    if component.type == "CustomField" and not name.split(".", 1)[-1].endswith("__c"):
        return "standard field"
    return None


def compute_delta(project_dir: Path, since: str, until: str = "HEAD", *, source_dirs: Sequence[str]) -> Delta:
    """The components changed in `source_dirs` (package directories, relative to `project_dir`) from `since` to
    `until` (see the module docstring)."""
    project_dir = Path(project_dir)
    since_commit = resolve_commit(project_dir, since, what="the delta's base tag")
    until_commit = resolve_commit(project_dir, until, what="the delta's end")
    dirs = [d.strip("/") for d in source_dirs]
    resolver = _Resolver(dirs, _forceignore_at(project_dir, until_commit))
    existing: set[tuple[str, str]] = set()
    for path in _files_at(project_dir, until_commit, dirs):
        found = resolver(path)
        if found is not None:
            existing.add(found.key)
            if packs_children(found.type):
                existing |= set(file_children(found.type, _blob(project_dir, until_commit, path)))
    upserted, removed = _Touched(), _Touched()
    rename_pairs: list[tuple[tuple[str, str], tuple[str, str], bool]] = []
    for status, paths in _diff_entries(project_dir, since_commit, until_commit, dirs):
        old = resolver(paths[0]) if status in ("D", "R") else None
        new = resolver(paths[-1]) if status != "D" else None
        packed = next((r for r in (new, old) if r is not None and packs_children(r.type)), None)
        if packed is not None:  # labels: the labels that differ, not the file
            _packed_changes(project_dir, (since_commit, until_commit), status, paths, packed, (upserted, removed))
            continue
        if old is not None:
            removed.add(old, paths[0])
        if new is not None:
            upserted.add(new, paths[-1])
        if status == "R" and old is not None and new is not None and old.key != new.key:
            rename_pairs.append((old.key, new.key, paths[0].endswith(META)))
    for key, item in removed.resolved.items():  # a component with files left at `until` is changed, not deleted
        if key in existing:
            upserted.resolved.setdefault(key, item)
            upserted.paths.setdefault(key, []).extend(removed.paths[key])
    deleted_keys = {k for k in removed.resolved if k not in existing}
    deleted_objects = {(item.parent_type, item.parent_name) for item in removed.resolved.values() if item.parent_type}
    deleted_objects &= deleted_keys
    deletions: list[Component] = []
    skipped: list[tuple[Component, str]] = []
    for key in sorted(deleted_keys):
        item = removed.resolved[key]
        component = Component(item.type, item.name, tuple(sorted(set(removed.paths[key]))))
        if item.parent_type and (item.parent_type, item.parent_name) in deleted_objects:
            continue  # deleted with its object
        reason = undeletable(component)
        if reason:
            skipped.append((component, reason))
        else:
            deletions.append(component)
    upserts = tuple(
        Component(item.type, item.name, tuple(sorted(set(upserted.paths[key]))))
        for key, item in sorted(upserted.resolved.items())
    )
    by_key = {c.key: c for c in (*upserts, *deletions)}
    renames = tuple(
        (by_key[old], by_key[new])
        for old, new in _renames(rename_pairs, removed)
        if old in deleted_keys and old in by_key and new in by_key
    )
    return Delta(
        since=since,
        until=until,
        upserts=upserts,
        deletions=tuple(deletions),
        renames=renames,
        since_commit=since_commit,
        until_commit=until_commit,
        skipped=tuple(skipped),
    )


def _renames(
    pairs: list[tuple[tuple[str, str], tuple[str, str], bool]], removed: _Touched
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Component renames from git's file renames. `-meta.xml` files are often identical from one component to the
    next, so git pairs them at random: a pair of meta files counts only for components without content files
    (fields, objects' children), and never against a pair of content files (`Old.cls` → `New.cls`)."""
    trusted = [(old, new) for old, new, meta in pairs if not meta]
    taken = {old for old, _ in trusted} | {new for _, new in trusted}
    for old, new, meta in pairs:
        has_content = any(not p.endswith(META) for p in removed.paths.get(old, ()))
        if meta and not has_content and old not in taken and new not in taken:
            trusted.append((old, new))
            taken |= {old, new}
    return list(dict.fromkeys(trusted))


def git_command(since: str, until: str, source_dirs: Iterable[str]) -> str:
    """The equivalent command a release manager runs by hand (shown in `cutover plan` and the evidence)."""
    return f"git diff --name-status -M {since} {until} -- {' '.join(source_dirs)}"
