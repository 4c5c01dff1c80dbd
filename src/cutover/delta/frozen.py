"""A run's delta, computed once and frozen in the run's folder: `.cutover/runs/<run>/delta/`.

`package.xml`, `destructiveChangesPost.xml` (when the release deletes anything) and `delta.json` (the tag, both
commits, the equivalent git command, every component and the SHA-256 of both manifests). The first step that asks
(`release_selection`, usually the backup) computes it and records the three files as its evidence; every later step
of the run reads the same files back, their SHA-256 checked, so the backup, the validation, the quick deploy and the
rollback all use one delta even if the working tree moves on.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.delta.compute import Component, Delta, DeltaError, compute_delta, git_command
from cutover.delta.manifest import read_members, write_manifests
from cutover.delta.plan import tag_pattern
from cutover.engine.chain import sha256_file
from cutover.errors import Failure

if TYPE_CHECKING:
    from cutover.engine import StepContext
    from cutover.runbook.models import Runbook

DEFAULT_API_VERSION = "62.0"


@dataclass(frozen=True)
class FrozenDelta:
    delta: Delta
    folder: Path
    package_xml: Path
    destructive_post_xml: Path | None
    git_command: str

    @property
    def summary(self) -> str:
        return f"delta release: {self.delta.describe()}"


def delta_base(project_dir: Path, runbook: Runbook) -> str:
    """`project.delta.since`, else the latest release tag reachable from HEAD other than the one this release
    creates; a one-line error when there is none."""
    if runbook.project.delta.since:
        return runbook.project.delta.since
    from cutover.checks.git import previous_release_tag

    pattern = tag_pattern(runbook)
    tag = previous_release_tag(project_dir, pattern=pattern, exclude=runbook.release.tag_name())
    if tag is None:
        raise DeltaError(
            f"no release tag matching {pattern!r} before HEAD: a delta release needs the tag of the release in "
            "production; set project.delta.since in cutover.yaml (e.g. `since: v1.4.0`) or tag that release"
        )
    return tag


def api_version(project_dir: Path, runbook: Runbook) -> str:
    if runbook.sf.api_version:
        return runbook.sf.api_version
    try:
        doc = json.loads((project_dir / "sfdx-project.json").read_text(encoding="utf-8"))
        version = str(doc.get("sourceApiVersion") or "")
    except (OSError, ValueError, AttributeError):
        version = ""
    return version if version[:2].isdigit() else DEFAULT_API_VERSION


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _components(raw: object) -> tuple[Component, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        Component(str(c["type"]), str(c["name"]), tuple(str(p) for p in c.get("paths") or ()))
        for c in raw
        if isinstance(c, Mapping)
    )


def _as_json(components: tuple[Component, ...]) -> list[dict[str, Any]]:
    return [{"type": c.type, "name": c.name, "paths": list(c.paths)} for c in components]


def _load(folder: Path) -> FrozenDelta:
    from cutover.engine.damage import StateDamaged

    try:
        doc = json.loads((folder / "delta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StateDamaged(f"the run's frozen delta {folder / 'delta.json'} cannot be read ({exc})") from None
    for name, digest in (doc.get("sha256") or {}).items():
        path = folder / Path(str(name)).name
        if not path.is_file() or sha256_file(path) != digest:
            raise StateDamaged(f"the run's frozen delta {path} changed since it was frozen (SHA-256 differs)")
    upserts, deletions = _components(doc.get("upserts")), _components(doc.get("deletions"))
    by_key = {c.key: c for c in (*upserts, *deletions)}
    renames = tuple(
        (by_key[(a["type"], a["name"])], by_key[(b["type"], b["name"])])
        for a, b in doc.get("renames") or ()
        if (a["type"], a["name"]) in by_key and (b["type"], b["name"]) in by_key
    )
    delta = Delta(
        since=str(doc["since"]),
        until=str(doc["until"]),
        upserts=upserts,
        deletions=deletions,
        renames=renames,
        since_commit=str(doc.get("since_commit") or ""),
        until_commit=str(doc.get("until_commit") or ""),
        skipped=tuple(
            (Component(str(x["type"]), str(x["name"])), str(x.get("reason", "")))
            for x in doc.get("skipped") or ()
            if isinstance(x, Mapping)
        ),
    )
    post = folder / "destructiveChangesPost.xml"
    return FrozenDelta(delta, folder, folder / "package.xml", post if post.is_file() else None, doc["git_command"])


def _with_runbook_deletions(delta: Delta, project_dir: Path, runbook: Runbook) -> Delta:
    """The runbook's own `destructive_changes.post` members join the delta's deletions (one destructive manifest)."""
    post = runbook.project.destructive_changes.post
    if not post or not (project_dir / post).is_file():
        return delta
    have = {c.key for c in delta.deletions}
    extra = tuple(Component(t, n, (post,)) for t, n in read_members(project_dir / post) if (t, n) not in have)
    if not extra:
        return delta
    return replace(delta, deletions=tuple(sorted((*delta.deletions, *extra))))


def frozen_delta(ctx: StepContext, runbook: Runbook) -> FrozenDelta:
    """The run's delta: read back when frozen, else computed now, frozen and recorded as this step's evidence."""
    project_dir = Path(ctx.project_dir)
    run_dir = ctx.store.run_dir(ctx.run_id)
    folder = run_dir / "delta"
    with _locked(run_dir / ".delta.lock"):
        if (folder / "delta.json").is_file():
            return _load(folder)
        since = delta_base(project_dir, runbook)
        dirs = runbook.project.source_dirs
        try:
            delta = compute_delta(project_dir, since, "HEAD", source_dirs=dirs)
        except DeltaError as exc:
            if runbook.project.delta.since and "does not exist" in exc.message:
                raise DeltaError(
                    f"project.delta.since: tag {since!r} does not exist in {project_dir}: set it to the tag of the "
                    "release in production (or `git fetch --tags`)"
                ) from None
            raise
        if runbook.project.delta.enabled and delta.empty:
            raise Failure(
                f"nothing to release: no component in {', '.join(dirs)} changed since {since} "
                f"({delta.since_commit[:12]}..{delta.until_commit[:12]}); a delta release refuses an empty delta"
            )
        if runbook.project.delta.enabled:
            delta = _with_runbook_deletions(delta, project_dir, runbook)
        command = git_command(since, "HEAD", dirs)
        tmp = run_dir / ".delta.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        package, post = write_manifests(delta, tmp, api_version(project_dir, runbook))
        doc = {
            "since": delta.since,
            "since_commit": delta.since_commit,
            "until": delta.until,
            "until_commit": delta.until_commit,
            "git_command": command,
            "source_dirs": dirs,
            "upserts": _as_json(delta.upserts),
            "deletions": _as_json(delta.deletions),
            "renames": [[{"type": a.type, "name": a.name}, {"type": b.type, "name": b.name}] for a, b in delta.renames],
            "skipped": [{"type": c.type, "name": c.name, "reason": r} for c, r in delta.skipped],
            "sha256": {p.name: sha256_file(p) for p in (package, post) if p is not None},
        }
        (tmp / "delta.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder)
        for name in ("package.xml", "destructiveChangesPost.xml"):
            if (folder / name).is_file():
                ctx.record_file(f"delta-{name}", folder / name)
        ctx.record_evidence("delta.json", doc)
        ctx.event(
            "delta.frozen",
            since=delta.since,
            since_commit=delta.since_commit,
            until_commit=delta.until_commit,
            upserts=len(delta.upserts),
            deletions=len(delta.deletions),
            command=command,
        )
        return _load(folder)


def frozen_record(run_dir: Path) -> dict[str, Any] | None:
    """What the rollback shows of the run's delta (None for a full release): the tag, both commits, and what the
    release upserted and deleted; the frozen files are checked first (`_load`)."""
    folder = run_dir / "delta"
    if not (folder / "delta.json").is_file():
        return None
    frozen = _load(folder)
    delta = frozen.delta
    return {
        "since": delta.since,
        "since_commit": delta.since_commit,
        "until_commit": delta.until_commit,
        "upserted": [str(c) for c in delta.upserts],
        "deleted": [str(c) for c in delta.deletions],
        "git_command": frozen.git_command,
    }
