"""`sf.backup`: seed "1. Backup Current Production State" — retrieve, verify, archive, checksum.

1. What the release deploys: the release manifest's members; a wildcard (`*`) or no manifest (`manifest: null`) is
   expanded from the project's source with `sf project generate manifest --source-dir` (the CLI's own resolver, so
   every metadata type it knows is named the way the org names it).
2. `sf project retrieve start --manifest <release manifest>` (or one `--source-dir` per package directory when the
   runbook has no manifest) `--target-metadata-dir backups/production-backup-<UTC> --unzip` — the flags `cutover
   plan` shows (`ProjectConfig.source_selection()`; an integration test compares the two). **Metadata format on
   purpose**: it needs no SFDX project layout, keeps the org's files exactly as the Metadata API gave them (with the
   org's own package.xml), and can be redeployed as it is with `sf project deploy start --metadata-dir` — the
   rollback. Source format would write into the project tree and mix the backup with the release's own files.
3. Members the org does not have: Salesforce answers `status: Succeeded` with a message per missing member ("Entity
   of type 'ApexClass' named 'NewFeatureTest' cannot be found"); the sf CLI turns those into `Failed` file rows (in
   every selection mode) and sometimes warnings. Those, and only those, are accepted: every other message, failed
   row or non-Succeeded status fails the step (`classify_retrieve`).
   A `*` that did not return a release component proves nothing (Salesforce's `CustomObject: *` never returns
   standard objects such as Account): those members are retrieved again by name (a generated manifest) and merged
   in, so `added_by_release` is what the org lacks when asked by name.
4. What the release deletes (`project.destructive_changes` manifests) is retrieved too (`--manifest <it>`) and merged
   into the same folder and package.xml (`deleted_by_release`): the rollback's redeploy restores it.
5. Verify: every `fileProperties` entry has its file on disk (count checked), and every release component the org
   does not have is recorded as `added_by_release` — the redeploy of a backup cannot remove those, so the rollback
   deletes them (when the deploy's result proves it created them).
6. `tar -czf backups/production-backup-<UTC>.tar.gz`, its SHA-256 (also in a `.sha256` file beside it, `sha256sum
   -c` format), and `backup.json` (folder, archive, sha256, components, added_by_release) beside the archive and
   as evidence.

Idempotent on resume: a `backup.json` in this step's evidence whose archive still exists with the same SHA-256 is
reused (no second retrieve).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.engine import StepContext, StepOutcome
from cutover.engine.chain import sha256_file
from cutover.engine.damage import StateDamaged
from cutover.engine.integrity import inside
from cutover.sf import RetrieveFailed, RetrieveResult, SfCli
from cutover.steps._params import as_text, as_texts, params_of
from cutover.steps._selection import release_selection
from cutover.steps._sf import last_result, sf_session
from cutover.steps.registry import StepServices, register_action

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep

MD_NS = "{http://soap.sforce.com/2006/04/metadata}"
# Types retrieved inside another type's file in metadata format: (child type, parent type).
CHILD_TYPES = {
    "CustomField": "CustomObject",
    "ListView": "CustomObject",
    "ValidationRule": "CustomObject",
    "RecordType": "CustomObject",
    "WebLink": "CustomObject",
    "FieldSet": "CustomObject",
    "BusinessProcess": "CustomObject",
    "CompactLayout": "CustomObject",
}
# The XML element under which a child type sits in its parent's file.
CHILD_ELEMENTS = {
    "CustomField": "fields",
    "ListView": "listViews",
    "ValidationRule": "validationRules",
    "RecordType": "recordTypes",
    "WebLink": "webLinks",
    "FieldSet": "fieldSets",
    "BusinessProcess": "businessProcesses",
    "CompactLayout": "compactLayouts",
}

Component = tuple[str, str]  # (metadata type, full name)


def read_manifest(path: Path) -> dict[str, list[str]]:
    """package.xml → {type: [members]} (in file order)."""
    root = ET.parse(path).getroot()
    out: dict[str, list[str]] = {}
    for types in root.iter(f"{MD_NS}types"):
        name = (types.findtext(f"{MD_NS}name") or "").strip()
        members = [(m.text or "").strip() for m in types.findall(f"{MD_NS}members")]
        if name:
            out.setdefault(name, []).extend(m for m in members if m)
    return out


def manifest_version(path: Path) -> str | None:
    try:
        return (ET.parse(path).getroot().findtext(f"{MD_NS}version") or "").strip() or None
    except (OSError, ET.ParseError):
        return None


def release_components(manifest: dict[str, list[str]], from_source: dict[str, list[str]]) -> list[Component]:
    """The components a deploy of `manifest` sends: explicit members as named; `*` = every one in the source."""
    found: set[Component] = set()
    for type_name, members in manifest.items():
        for member in members:
            if member == "*":
                found.update((type_name, m) for m in from_source.get(type_name, []))
            else:
                found.add((type_name, member))
    return sorted(found)


NOT_FOUND = re.compile(r"Entity of type '(?P<type>[^']+)' named '(?P<name>[^']+)' cannot be found")


@dataclass
class RetrieveProblems:
    """What a retrieve reported besides its files: members the org lacks, and anything else (a failure)."""

    absent: list[Component] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


def classify_retrieve(result: RetrieveResult, warnings: Iterable[str] = ()) -> RetrieveProblems:
    """Sort a retrieve's messages, failed file rows and CLI warnings: "Entity of type 'T' named 'N' cannot be found"
    means the org has no T:N (the release adds it); every other problem, and a status other than Succeeded, is a
    real failure of the backup."""
    found: dict[Component, None] = {}
    other: list[str] = []

    def sort(text: str, where: str = "") -> None:
        match = NOT_FOUND.search(text)
        if match:
            found[(match["type"], match["name"])] = None
        elif text.strip():
            other.append(f"{where}: {text}" if where else text)

    for message in result.messages:
        sort(message.problem, message.file_name)
    for row in result.failed_files:
        sort(row.error or f"{row.type} {row.full_name} failed", f"{row.type} {row.full_name}")
    for warning in warnings:
        if NOT_FOUND.search(warning):
            sort(warning)
    if result.status != "Succeeded" or not result.success:
        other.insert(0, f"retrieve {result.id or ''} status {result.status or 'unknown'}".replace("  ", " "))
    # A failed file row repeats its message: report each distinct problem once.
    return RetrieveProblems(absent=sorted(found), other=list(dict.fromkeys(other)))


@dataclass
class BackupCheck:
    """The verification of a retrieved backup folder."""

    root: Path | None
    expected_files: int
    present_files: int
    missing_files: list[str] = field(default_factory=list)
    in_org: list[Component] = field(default_factory=list)
    added_by_release: list[Component] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.root is not None and not self.missing_files and self.present_files == self.expected_files


def metadata_root(folder: Path) -> Path | None:
    """The folder holding the retrieved package.xml (`--unzip` nests it as <dir>/unpackaged/unpackaged/)."""
    candidates = sorted(folder.rglob("package.xml"), key=lambda p: len(p.parts))
    return candidates[0].parent if candidates else None


def _strip_prefix(file_name: str) -> str:
    parts = Path(file_name).parts
    return Path(*parts[1:]).as_posix() if len(parts) > 1 and parts[0] == "unpackaged" else file_name


def _child_present(root: Path, parent_file: str | None, child_type: str, child_name: str) -> bool:
    """Is `Object.Field` inside the retrieved object file?"""
    if parent_file is None:
        return False
    path = root / _strip_prefix(parent_file)
    try:
        tree = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return False
    short = child_name.split(".", 1)[-1]
    element = CHILD_ELEMENTS.get(child_type, "")
    return any((node.findtext(f"{MD_NS}fullName") or "").strip() == short for node in tree.iter(f"{MD_NS}{element}"))


def verify_backup(
    folder: Path, retrieved: RetrieveResult, release: Iterable[Component], *, absent: Iterable[Component] = ()
) -> BackupCheck:
    """Files present for every fileProperties row; which release components the org does not have (`absent`: the
    members the retrieve reported as "cannot be found", which count even when the release list missed them)."""
    root = metadata_root(folder)
    props = [p for p in retrieved.file_properties if p.type != "Package" and p.file_name]
    expected = sorted({_strip_prefix(p.file_name) for p in props})
    missing = [name for name in expected if root is None or not (root / name).exists()]
    in_org = {(p.type, p.full_name) for p in props}
    parent_files = {(p.type, p.full_name): p.file_name for p in props}
    added = []
    for type_name, name in release:
        if (type_name, name) in in_org or _folder_in_org(type_name, name, in_org):
            continue
        parent_type = CHILD_TYPES.get(type_name)
        if parent_type and root is not None:
            parent = parent_files.get((parent_type, name.split(".", 1)[0]))
            if _child_present(root, parent, type_name, name):
                in_org.add((type_name, name))
                continue
        added.append((type_name, name))
    named = {(t, n.lower()) for t, n in added}
    added += [(t, n) for t, n in absent if (t, n.lower()) not in named and (t, n) not in in_org]
    return BackupCheck(
        root=root,
        expected_files=len(expected),
        present_files=len(expected) - len(missing),
        missing_files=missing,
        in_org=sorted(in_org),
        added_by_release=sorted(added),
    )


# A package.xml names a folder under its content type (`EmailTemplate: Invoices`, `Report: Sales/` as sf project
# generate manifest writes it); the retrieve's fileProperties name it with the folder type.
FOLDER_TYPES = {
    "EmailTemplate": ("EmailFolder", "EmailTemplateFolder"),
    "Report": ("ReportFolder",),
    "Dashboard": ("DashboardFolder",),
    "Document": ("DocumentFolder",),
}


def _folder_in_org(type_name: str, name: str, in_org: set[Component]) -> bool:
    """Is release member `name` of a foldered type a folder (no '/' inside the name) that the org holds?"""
    folder = name.rstrip("/")
    if "/" in folder:
        return False
    return any((folder_type, folder) in in_org for folder_type in FOLDER_TYPES.get(type_name, ()))


def merge_metadata(root: Path, other: Path) -> None:
    """Add the files of retrieved folder `other` to `root` (never overwriting one) and their members to `root`'s
    package.xml, so one folder redeploys both."""
    from cutover.steps.rollback_plan import Item, manifest_xml

    for path in sorted(other.rglob("*")):
        rel = path.relative_to(other)
        if path.is_file() and rel.as_posix() != "package.xml" and not (root / rel).exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, root / rel)
    merged = read_manifest(root / "package.xml")
    for type_name, members in read_manifest(other / "package.xml").items():
        merged.setdefault(type_name, []).extend(m for m in members if m not in merged.get(type_name, []))
    version = manifest_version(root / "package.xml") or manifest_version(other / "package.xml") or "62.0"
    items = [Item(t, m) for t, members in merged.items() for m in members]
    write_atomic(root / "package.xml", manifest_xml(items, version))


def write_atomic(path: Path, text: str) -> None:
    """Write beside `path`, then rename over it: a crash never leaves a half-written checksum or record."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def archive(folder: Path) -> Path:
    """`tar -czf <folder>.tar.gz <folder>` (paths inside start with the folder's name), written atomically."""
    target = folder.with_name(folder.name + ".tar.gz")
    tmp = target.with_name(f".{target.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    tmp.replace(target)
    return target


def reusable_backup(ctx: StepContext, project_dir: Path) -> dict[str, Any] | None:
    """A backup this run already made and verified, whose archive is still intact."""
    for item in reversed(ctx.store.evidence(ctx.run_id, ctx.step.id)):
        if not str(item["name"]).startswith("backup") or not str(item["name"]).endswith(".json"):
            continue
        try:
            doc = json.loads((ctx.store.cutover_dir / item["relpath"]).read_text())
        except (OSError, ValueError, RecursionError):
            continue
        if not isinstance(doc, dict) or not doc.get("archive"):
            continue
        archive_path = inside_project(project_dir, doc["archive"], f"the archive in {item['relpath']}")
        if doc.get("verified") and archive_path.is_file() and sha256_file(archive_path) == doc.get("sha256"):
            return dict(doc)
    return None


def inside_project(project_dir: Path, value: object, what: str) -> Path:
    """`project_dir / value` resolved, if it stays inside the project; else StateDamaged (exit 6 on its own, a failed
    step inside a run): a path in recorded state that leaves the project is never followed."""
    path = inside(project_dir, value)
    if path is None:
        raise StateDamaged(
            f"{what} is {str(value)[:200]!r}, which leaves the project folder {project_dir}: refusing to follow it"
        )
    return path


def _components_json(items: Iterable[Component]) -> list[dict[str, str]]:
    return [{"type": t, "name": n} for t, n in items]


class Backup:
    idempotent = True  # a retrieve changes nothing in the org; a finished backup is found again in the evidence

    def __init__(self, params: Mapping[str, object], runbook: Runbook, services: StepServices) -> None:
        self.params = params
        self.runbook = runbook
        self.services = services
        self.alias = services.target_org or runbook.target.alias

    def run(self, ctx: StepContext) -> StepOutcome:
        project = Path(ctx.project_dir)
        existing = reusable_backup(ctx, project)
        if existing is not None:
            return StepOutcome.passed(
                f"reused this run's verified backup {existing['archive']} (sha256 {existing['sha256'][:12]}…)",
                archive=existing["archive"],
                sha256=existing["sha256"],
            )
        # The plan passes the runbook's manifest, None included (`manifest: null` = the source folder).
        manifest_rel = as_text(self.params.get("manifest", self.runbook.project.manifest))
        source_dir = as_text(self.params.get("source_dir")) or self.runbook.project.source_dir
        source_dirs = list(as_texts(self.params.get("source_dirs")) or [source_dir])  # every package directory
        backup_rel = as_text(self.params.get("backup_dir")) or self.runbook.project.backup_dir
        backup_dir = inside(project, backup_rel)
        if backup_dir is None:
            return StepOutcome.failed(
                f"project.backup_dir {backup_rel[:200]!r} leaves the project folder {project}: the backup must be "
                "kept inside the project (cutover.yaml project.backup_dir, e.g. `backups`)"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        folder = backup_dir / f"production-backup-{stamp}"
        suffix = 1
        while folder.exists() or folder.with_name(folder.name + ".tar.gz").exists():  # a retry within the second
            suffix += 1
            folder = backup_dir / f"production-backup-{stamp}-{suffix}"
        destructive_paths = self._destructive_manifests(project)
        delta = release_selection(ctx, self.runbook) if self.runbook.project.delta.enabled else None
        if delta is not None:  # the run's frozen delta: exactly what it upserts, and what it deletes
            manifest_rel = os.path.relpath(delta.manifest or project, project)
            destructive_paths = delta.destructive
        with sf_session(ctx, self.services, self.runbook) as sf:
            if delta is not None and delta.manifest is not None:  # exactly the delta's members, even none
                release = release_components(read_manifest(delta.manifest), {})
                ctx.record_evidence("release-components.json", _components_json(release))
            else:
                release = self._release_components(ctx, sf, project, manifest_rel, source_dirs)
            ctx.progress.update(f"retrieving {len(release)} release component(s) from {self.alias} into {folder.name}")
            folder.mkdir(parents=True, exist_ok=False)
            deleted_by_release: list[Component] = []
            if delta is not None and not release and destructive_paths:
                # A release that only deletes: the deletions are the backup (an empty package.xml retrieves nothing).
                first = destructive_paths.pop(0)
                retrieved, problems = self._retrieve(sf, folder, cwd=project, manifest=first)
                problems.absent = []  # deleting what the org lacks is harmless; nothing of it was "added"
                deleted_by_release += [(p.type, p.full_name) for p in retrieved.file_properties if p.type != "Package"]
            else:
                retrieved, problems = self._retrieve(
                    sf,
                    folder,
                    cwd=project,
                    manifest=project / manifest_rel if manifest_rel else None,
                    source_dirs=None if manifest_rel else source_dirs,
                )
            if manifest_rel and any("*" in m for m in read_manifest(project / manifest_rel).values()):
                # `*` never returns standard objects (Account), so "not returned" is no proof of absence: ask by name.
                said_absent = set(problems.absent)
                unproven = [
                    c for c in verify_backup(folder, retrieved, release).added_by_release if c not in said_absent
                ]
                if unproven:
                    ctx.progress.update(f"asking {self.alias} by name for {len(unproven)} component(s) `*` left out")
                    extra, extra_problems = self._retrieve_by_name(sf, folder, unproven, cwd=project)
                    problems.other += extra_problems.other
                    problems.absent += extra_problems.absent
                    retrieved = replace(retrieved, file_properties=retrieved.file_properties + extra.file_properties)
            for path in destructive_paths:  # what the release deletes: restored by the rollback
                ctx.progress.update(f"retrieving what {path} deletes")
                extra, extra_problems = self._retrieve_into(sf, folder, path, cwd=project)
                problems.other += extra_problems.other
                retrieved = replace(retrieved, file_properties=retrieved.file_properties + extra.file_properties)
                deleted_by_release += [(p.type, p.full_name) for p in extra.file_properties if p.type != "Package"]
        if problems.other:
            shown = "; ".join(problems.other[:3]) + (
                f" (+{len(problems.other) - 3} more)" if len(problems.other) > 3 else ""
            )
            return StepOutcome.failed(f"backup retrieve failed: {shown}; nothing deployed", folder=str(folder))
        ctx.progress.update("verifying the retrieved files")
        check = verify_backup(folder, retrieved, release, absent=problems.absent)
        if not check.ok:
            shown = ", ".join(check.missing_files[:3]) or "no package.xml in the retrieved folder"
            return StepOutcome.failed(
                f"backup incomplete: {check.present_files}/{check.expected_files} retrieved files present "
                f"(missing: {shown}); nothing deployed",
                folder=str(folder),
            )
        zip_left = folder / "unpackaged.zip"
        if zip_left.exists():  # the unzipped copy is the backup; keep one form only
            zip_left.unlink()
        ctx.progress.update(f"archiving {folder.name}.tar.gz")
        tarball = archive(folder)
        digest = sha256_file(tarball)
        write_atomic(tarball.with_name(tarball.name + ".sha256"), f"{digest}  {tarball.name}\n")
        doc = {
            "verified": True,
            "alias": self.alias,
            "retrieve_id": retrieved.id,
            "format": "metadata",
            "folder": folder.relative_to(project).as_posix(),
            # The folder holding package.xml: `sf project deploy start --metadata-dir` redeploys it as it is.
            "metadata_dir": check.root.relative_to(project).as_posix() if check.root else None,
            "api_version": manifest_version(check.root / "package.xml") if check.root else None,
            "archive": tarball.relative_to(project).as_posix(),
            "sha256": digest,
            "size": tarball.stat().st_size,
            "created": stamp,
            "manifest": manifest_rel,
            "files": check.expected_files,
            "components": _components_json(check.in_org),
            "release_components": _components_json(release),
            "added_by_release": _components_json(check.added_by_release),
            "deleted_by_release": _components_json(sorted(set(deleted_by_release))),
            "delta": delta.summary if delta is not None else None,
            "redeploy_command": f"sf project deploy start --metadata-dir {check.root.relative_to(project).as_posix()}"
            f" --target-org {self.alias} --test-level RunLocalTests"
            if check.root
            else None,
        }
        write_atomic(backup_dir / f"{folder.name}.json", json.dumps(doc, indent=2) + "\n")
        ctx.record_evidence("backup.json", doc)
        return StepOutcome.passed(
            f"{doc['archive']} sha256 {digest[:12]}…: {len(check.in_org)} component(s) in {check.expected_files} "
            f"file(s); {len(check.added_by_release)} release component(s) not in the org yet (added_by_release)",
            archive=doc["archive"],
            sha256=digest,
            added_by_release=len(check.added_by_release),
        )

    def _retrieve(
        self,
        sf: SfCli,
        folder: Path,
        *,
        cwd: Path,
        manifest: Path | None = None,
        source_dirs: list[str] | None = None,
    ) -> tuple[RetrieveResult, RetrieveProblems]:
        """One metadata-format retrieve into `folder`; members the org lacks are sorted out, not raised."""
        try:
            retrieved = sf.retrieve_start(
                self.alias,
                manifest=manifest,
                source_dirs=source_dirs,
                target_metadata_dir=folder,
                unzip=True,
                cwd=cwd,
            )
        except RetrieveFailed as exc:
            if exc.result is None:
                raise
            retrieved = exc.result  # judged by classify_retrieve: members the org lacks are expected
        call = last_result(sf)
        return retrieved, classify_retrieve(retrieved, call.warnings if call is not None else ())

    def _retrieve_into(
        self, sf: SfCli, folder: Path, manifest: Path, *, cwd: Path
    ) -> tuple[RetrieveResult, RetrieveProblems]:
        """Retrieve the members of a destructiveChanges manifest and merge them into the backup folder."""
        with tempfile.TemporaryDirectory(prefix=".deleted-", dir=folder.parent) as tmp:
            retrieved, problems = self._retrieve(sf, Path(tmp) / "retrieved", cwd=cwd, manifest=manifest)
            root, other = metadata_root(folder), metadata_root(Path(tmp) / "retrieved")
            if root is not None and other is not None:
                merge_metadata(root, other)
        return retrieved, problems

    def _retrieve_by_name(
        self, sf: SfCli, folder: Path, components: list[Component], *, cwd: Path
    ) -> tuple[RetrieveResult, RetrieveProblems]:
        """Retrieve these components by name (a manifest that lists them) and merge them into the backup folder."""
        from cutover.steps.rollback_plan import Item, manifest_xml

        root = metadata_root(folder)
        version = (manifest_version(root / "package.xml") if root else None) or "62.0"
        with tempfile.TemporaryDirectory(prefix=".by-name-", dir=folder.parent) as tmp:
            manifest = Path(tmp) / "package.xml"
            manifest.write_text(manifest_xml([Item(t, n) for t, n in components], version), encoding="utf-8")
            return self._retrieve_into(sf, folder, manifest, cwd=cwd)

    def _destructive_manifests(self, project: Path) -> list[Path]:
        changes = getattr(self.runbook.project, "destructive_changes", None)
        paths = changes.paths() if changes is not None else []
        return [project / p for p in paths if (project / p).is_file()]

    def _release_components(
        self, ctx: StepContext, sf: SfCli, project: Path, manifest_rel: str | None, source_dirs: list[str]
    ) -> list[Component]:
        manifest = read_manifest(project / manifest_rel) if manifest_rel else {}
        needs_source = not manifest or any("*" in members for members in manifest.values())
        from_source: dict[str, list[str]] = {}
        if needs_source:
            ctx.progress.update(f"listing the components in {', '.join(source_dirs)}")
            with tempfile.TemporaryDirectory(prefix="cutover-manifest-") as tmp:
                generated = sf.generate_manifest(source_dirs=source_dirs, output_dir=tmp, cwd=project)
                from_source = read_manifest(generated)
        if not manifest:
            manifest = {t: ["*"] for t in from_source}
        components = release_components(manifest, from_source)
        ctx.record_evidence("release-components.json", _components_json(components))
        return components


@register_action("sf.backup")
def _backup_factory(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> Backup:
    return Backup(dict(params_of(plan_step)), runbook, services)


__all__ = ["Backup", "read_manifest", "release_components", "verify_backup"]
