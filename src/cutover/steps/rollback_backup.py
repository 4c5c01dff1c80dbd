"""The backup a run took, as the rollback reads it: `backup.json` evidence, the archive checked against its SHA-256,
the folder to redeploy, and what a waived backup step means (no rollback). Re-exported by `cutover.steps.rollback`.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from cutover.engine.chain import sha256_file
from cutover.steps._params import as_text

if TYPE_CHECKING:
    from cutover.engine import StepContext, WaiverRecord
    from cutover.engine.store import Store

MD_NS = "http://soap.sforce.com/2006/04/metadata"
DEFAULT_API_VERSION = "62.0"


# ---------------------------------------------------------------------------------------------------------------------
# The backup the run took (written by the backup step as `backup.json` evidence)
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    type: str
    name: str

    @classmethod
    def parse(cls, raw: object) -> Component:
        if isinstance(raw, Mapping):
            return cls(str(raw.get("type") or raw.get("Type")), str(raw.get("name") or raw.get("fullName")))
        type_, _, name = str(raw).partition(":")
        if not name:
            raise ValueError(f"not a Type:Name component: {raw!r}")
        return cls(type_, name)

    def __str__(self) -> str:
        return f"{self.type}:{self.name}"


@dataclass(frozen=True)
class BackupRecord:
    step_id: str
    folder: Path | None
    archive: Path | None
    sha256: str | None
    components: tuple[Component, ...] = ()
    added_by_release: tuple[Component, ...] = ()
    api_version: str | None = None


def _first(doc: Mapping[str, object], *keys: str) -> object:
    return next((doc[k] for k in keys if doc.get(k)), None)


def parse_backup(doc: Mapping[str, Any], project_dir: Path, step_id: str = "backup") -> BackupRecord:
    """Read the backup step's evidence (a JSON document); paths may be relative to the project folder, and must stay
    inside it (else StateDamaged: a path in recorded state that leaves the project is never followed)."""
    from cutover.steps.backup import inside_project

    def path(*keys: str) -> Path | None:
        key = next((k for k in keys if doc.get(k)), None)
        if key is None:
            return None
        return inside_project(project_dir, str(doc[key]), f"{key} in the backup record of step {step_id}")

    return BackupRecord(
        step_id=step_id,
        folder=path("metadata_root", "metadata_dir", "folder", "backup_dir"),
        archive=path("archive", "archive_path"),
        sha256=as_text(_first(doc, "sha256", "archive_sha256")),
        components=tuple(Component.parse(c) for c in doc.get("components") or ()),
        added_by_release=tuple(Component.parse(c) for c in doc.get("added_by_release") or ()),
        api_version=as_text(_first(doc, "api_version", "apiVersion")),
    )


def find_backup(ctx_or_store: StepContext | Store, run_id: str, project_dir: Path) -> BackupRecord | None:
    """The newest `backup*.json` evidence of a backup-stage step of the run (None if the run took no backup)."""
    store = getattr(ctx_or_store, "store", ctx_or_store)
    stages = {r.id: r.spec.stage for r in store.steps(run_id)}
    for item in reversed(store.evidence(run_id)):
        name = str(item["name"])
        if stages.get(item["step_id"]) == "backup" and name.startswith("backup") and name.endswith(".json"):
            try:
                doc = json.loads((store.cutover_dir / item["relpath"]).read_text(encoding="utf-8"))
                return parse_backup(doc, project_dir, item["step_id"]) if isinstance(doc, Mapping) else None
            except (OSError, ValueError, RecursionError) as exc:
                from cutover.engine.damage import StateDamaged

                raise StateDamaged(
                    f"the backup record .cutover/{item['relpath']} cannot be read ({type(exc).__name__}: "
                    f"{str(exc)[:200]})"
                ) from None
    return None


def _package_root(folder: Path) -> Path | None:
    """The folder holding package.xml: the backup folder itself, or the one folder inside it that has it."""
    if (folder / "package.xml").is_file():
        return folder
    found = sorted(p.parent for p in folder.rglob("package.xml") if "destructive" not in p.name.lower())
    return found[0] if found else None


def restore_folder(backup: BackupRecord, work_dir: Path) -> Path:
    """The metadata-format folder to deploy, after checking the archive's SHA-256. A verified archive is unpacked and
    deployed (the checksum proves those files; the loose folder beside it could have been edited since); the folder
    is used only when there is no archive to verify."""
    verified = False
    if backup.archive is not None and backup.archive.is_file() and backup.sha256:
        actual = sha256_file(backup.archive)
        if actual != backup.sha256:
            raise RollbackProblem(
                f"backup archive {backup.archive.name} changed since the backup: SHA-256 {actual[:12]}, "
                f"recorded {backup.sha256[:12]}"
            )
        verified = True
    if not verified and backup.folder is not None and backup.folder.is_dir():
        root = _package_root(backup.folder)
        if root is not None:
            return root
    if backup.archive is not None and backup.archive.is_file():
        target = work_dir / "backup"
        if target.exists():  # an earlier attempt's copy: unpack afresh so only the archive's files are deployed
            shutil.rmtree(target)
        target.mkdir(parents=True)
        try:
            with tarfile.open(backup.archive) as archive:
                archive.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise RollbackProblem(f"cannot unpack backup archive {backup.archive.name}: {exc}") from None
        root = _package_root(target)
        if root is not None:
            return root
    raise RollbackProblem(
        f"the backup is not there any more: neither {backup.folder} nor {backup.archive} holds a package.xml"
    )


class RollbackProblem(Exception):
    """Something the rollback cannot proceed without (reported as the step's failure detail)."""


def manifest_components(package_xml: Path) -> list[Component]:
    root = ET.parse(package_xml).getroot()
    out = []
    for types in root.findall(f"{{{MD_NS}}}types"):
        name = types.findtext(f"{{{MD_NS}}}name") or ""
        out += [Component(name, m.text or "") for m in types.findall(f"{{{MD_NS}}}members") if m.text]
    return out


def package_xml(components: Sequence[Component], api_version: str = DEFAULT_API_VERSION) -> str:
    """A package.xml (or destructiveChanges.xml) listing `components`, grouped by type, both sorted."""
    by_type: dict[str, list[str]] = {}
    for component in components:
        by_type.setdefault(component.type, []).append(component.name)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Package xmlns="{MD_NS}">']
    for type_name in sorted(by_type):
        lines.append("    <types>")
        lines += [f"        <members>{escape(m)}</members>" for m in sorted(set(by_type[type_name]))]
        lines.append(f"        <name>{escape(type_name)}</name>")
        lines.append("    </types>")
    lines += [f"    <version>{escape(api_version)}</version>", "</Package>"]
    return "\n".join(lines) + "\n"


def waived_backup(store: Store, run_id: str) -> WaiverRecord | None:
    """The waiver of the run's backup step, if it was waived (then there is no backup to roll back to)."""
    stages = {r.id: r.spec.stage for r in store.steps(run_id)}
    waived = [w for w in store.waivers(run_id) if stages.get(w.step_id) == "backup"]
    return waived[-1] if waived else None


def waived_backup_message(waiver: WaiverRecord, *, alias: str = "<alias>", source_dir: str = "<folder>") -> str:
    return (
        f"rollback impossible: the backup step {waiver.step_id} was waived on {waiver.at} by {waiver.approver} "
        f"({waiver.reason}); a rollback needs a backup. Restore by hand from the previous release's source (a "
        f"checkout of its tag) with `sf project deploy start --source-dir {source_dir} --target-org {alias}`, or "
        "ask Salesforce Support for an org restore (Destructive Rollback, Option 2)"
    )
