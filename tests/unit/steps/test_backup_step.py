"""sf.backup: what the release adds, verification of the retrieved folder, archive + SHA-256, reuse on resume."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.runbook import parse_runbook
from cutover.sf.results import RetrieveResult, parse_retrieve_result
from cutover.steps._sf import _Binding
from cutover.steps.backup import (
    Backup,
    classify_retrieve,
    read_manifest,
    release_components,
    verify_backup,
)
from cutover.steps.registry import StepServices

PACKAGE = """<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
{types}    <version>62.0</version>
</Package>
"""


def package(types: dict[str, list[str]]) -> str:
    body = ""
    for name, members in types.items():
        body += "    <types>\n" + "".join(f"        <members>{m}</members>\n" for m in members)
        body += f"        <name>{name}</name>\n    </types>\n"
    return PACKAGE.format(types=body)


RELEASE_MANIFEST = {"ApexClass": ["*"], "CustomObject": ["*"], "CustomField": ["*"], "PermissionSet": ["Elaro_Admin"]}
SOURCE = {
    "ApexClass": ["ElaroLogger", "NewController"],
    "CustomObject": ["Elaro_Audit_Log__c", "New_Object__c"],
    "CustomField": ["Elaro_Audit_Log__c.Action__c", "Elaro_Audit_Log__c.Severity__c"],
    "LightningComponentBundle": ["notInTheManifest"],
}
OBJECT_FILE = """<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <fields><fullName>Action__c</fullName><type>Text</type></fields>
    <label>Elaro Audit Log</label>
</CustomObject>
"""
# What production has: ElaroLogger, the audit log object (with Action__c only) and the permission set.
ORG_FILES = {
    "classes/ElaroLogger.cls": "public class ElaroLogger {}",
    "classes/ElaroLogger.cls-meta.xml": "<ApexClass/>",
    "objects/Elaro_Audit_Log__c.object": OBJECT_FILE,
    "permissionsets/Elaro_Admin.permissionset": "<PermissionSet/>",
}
ORG_PROPS = [
    ("ApexClass", "ElaroLogger", "classes/ElaroLogger.cls"),
    ("CustomObject", "Elaro_Audit_Log__c", "objects/Elaro_Audit_Log__c.object"),
    ("PermissionSet", "Elaro_Admin", "permissionsets/Elaro_Admin.permissionset"),
]


def retrieve_doc(props: list[tuple[str, str, str]]) -> RetrieveResult:
    rows = [{"type": t, "fullName": n, "fileName": f"unpackaged/{f}"} for t, n, f in props]
    rows.append({"type": "Package", "fullName": "unpackaged/package.xml", "fileName": "unpackaged/package.xml"})
    return parse_retrieve_result(
        {"done": True, "id": "09S000000000001AAA", "status": "Succeeded", "success": True, "fileProperties": rows}
    )


def write_org_folder(folder: Path, files: dict[str, str]) -> None:
    root = folder / "unpackaged" / "unpackaged"  # how `--target-metadata-dir D --unzip` lays it out
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "package.xml").write_text(package({"ApexClass": ["ElaroLogger"]}))


@dataclass
class FakeSf:
    files: dict[str, str] = field(default_factory=lambda: dict(ORG_FILES))
    calls: list[str] = field(default_factory=list)
    _cutover_binding: _Binding = field(default_factory=_Binding)

    def generate_manifest(self, *, source_dirs: Any, output_dir: Any, cwd: Any, **_: Any) -> Path:
        self.calls.append("generate_manifest")
        path = Path(output_dir) / "package.xml"
        path.write_text(package(SOURCE))
        return path

    by_name: dict[str, str] = field(default_factory=dict)  # what the org returns when asked by name: file -> text

    def retrieve_start(self, alias: str, *, target_metadata_dir: Any, unzip: bool, **kwargs: Any) -> RetrieveResult:
        self.calls.append("retrieve_start")
        assert unzip
        manifest = Path(kwargs.get("manifest") or ".")
        if manifest.parent.name.startswith(".by-name-"):  # members `*` left out, asked for by name
            return self.answer_by_name(Path(target_metadata_dir), read_manifest(manifest))
        write_org_folder(Path(target_metadata_dir), self.files)
        return retrieve_doc(ORG_PROPS)

    def answer_by_name(self, folder: Path, asked: dict[str, list[str]]) -> RetrieveResult:
        root = folder / "unpackaged" / "unpackaged"
        root.mkdir(parents=True)
        (root / "package.xml").write_text(package(asked))
        rows, messages = [], []
        for type_name, members in asked.items():
            for member in members:
                found = self.by_name.get(f"{type_name}:{member}")
                if found is None:
                    problem = f"Entity of type '{type_name}' named '{member}' cannot be found"
                    messages.append({"fileName": "unpackaged/package.xml", "problem": problem})
                    continue
                (root / found).parent.mkdir(parents=True, exist_ok=True)
                (root / found).write_text(f"<{type_name}/>")
                rows.append({"type": type_name, "fullName": member, "fileName": f"unpackaged/{found}"})
        doc = {"done": True, "id": "09S000000000003AAA", "status": "Succeeded", "success": True}
        return parse_retrieve_result({**doc, "fileProperties": rows, "messages": messages})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "manifest").mkdir()
    (tmp_path / "manifest" / "package.xml").write_text(package(RELEASE_MANIFEST))
    return tmp_path


@pytest.fixture
def engine(project: Path) -> Iterator[Engine]:
    eng = Engine(project)
    yield eng
    eng.close()


RUNBOOK = parse_runbook("target:\n  alias: production\n")


def new_ctx(engine: Engine, run_id: str | None = None) -> StepContext:
    if run_id is None:
        run_id = engine.create_run(
            "production", [StepSpec(id="backup.retrieve", stage="backup", title="b", action="sf.backup")]
        ).id
    return StepContext(
        store=engine.store, record=engine.store.step(run_id, "backup.retrieve"), project_dir=engine.project_dir
    )


def backup_step(engine: Engine, fake: FakeSf) -> Backup:
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    services.extras["sf"] = fake
    return Backup(
        {"manifest": "manifest/package.xml", "source_dir": "force-app", "backup_dir": "backups"}, RUNBOOK, services
    )


# -- pure decisions -------------------------------------------------------------------------------------------------
def test_wildcards_expand_from_the_source_and_explicit_members_stay() -> None:
    components = release_components(RELEASE_MANIFEST, SOURCE)
    assert ("ApexClass", "NewController") in components and ("PermissionSet", "Elaro_Admin") in components
    assert ("LightningComponentBundle", "notInTheManifest") not in components  # not deployed: not its business


def test_verify_finds_fields_inside_their_object_and_lists_what_the_release_adds(tmp_path: Path) -> None:
    write_org_folder(tmp_path, ORG_FILES)
    check = verify_backup(tmp_path, retrieve_doc(ORG_PROPS), release_components(RELEASE_MANIFEST, SOURCE))
    assert check.ok and check.expected_files == 3 and check.present_files == 3
    assert check.added_by_release == [
        ("ApexClass", "NewController"),
        ("CustomField", "Elaro_Audit_Log__c.Severity__c"),
        ("CustomObject", "New_Object__c"),
    ]
    assert ("CustomField", "Elaro_Audit_Log__c.Action__c") in check.in_org


def test_a_folder_named_under_its_content_type_is_found_as_its_folder_type(tmp_path: Path) -> None:
    files = {"email/Invoices.emailFolder": "<EmailFolder/>", "reports/Sales.reportFolder": "<ReportFolder/>"}
    props = [
        ("EmailFolder", "Invoices", "email/Invoices.emailFolder"),
        ("ReportFolder", "Sales", "reports/Sales.reportFolder"),
    ]
    write_org_folder(tmp_path, files)
    release = [
        ("EmailTemplate", "Invoices"),  # the folder, as package.xml names it
        ("Report", "Sales/"),  # the folder, as sf project generate manifest writes it
        ("EmailTemplate", "Invoices/Paid"),  # a template inside it: not in the org
        ("Report", "Marketing"),  # another folder: not in the org
    ]
    check = verify_backup(tmp_path, retrieve_doc(props), release)
    assert check.added_by_release == [("EmailTemplate", "Invoices/Paid"), ("Report", "Marketing")]


def test_a_missing_retrieved_file_fails_verification(tmp_path: Path) -> None:
    files = {k: v for k, v in ORG_FILES.items() if not k.startswith("permissionsets/")}
    write_org_folder(tmp_path, files)
    check = verify_backup(tmp_path, retrieve_doc(ORG_PROPS), [])
    assert not check.ok and check.missing_files == ["permissionsets/Elaro_Admin.permissionset"]


def test_read_manifest_keeps_types_and_members(project: Path) -> None:
    assert read_manifest(project / "manifest" / "package.xml") == RELEASE_MANIFEST


# -- the step -------------------------------------------------------------------------------------------------------
def test_backup_archives_checksums_and_records_backup_json(engine: Engine, project: Path) -> None:
    fake = FakeSf()
    ctx = new_ctx(engine)
    outcome = backup_step(engine, fake).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    # The wildcard left NewController & co. out: asked for by name (they "cannot be found"), so proven absent.
    assert fake.calls == ["generate_manifest", "retrieve_start", "retrieve_start"]
    evidence = {e["name"]: e for e in engine.store.evidence(ctx.run_id, ctx.step.id)}
    doc = json.loads((engine.cutover_dir / evidence["backup.json"]["relpath"]).read_text())
    archive = project / doc["archive"]
    assert doc["archive"].startswith("backups/production-backup-") and archive.name.endswith(".tar.gz")
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == doc["sha256"]
    assert (archive.parent / (archive.name + ".sha256")).read_text() == f"{doc['sha256']}  {archive.name}\n"
    assert json.loads((project / "backups" / (Path(doc["folder"]).name + ".json")).read_text()) == doc
    with tarfile.open(archive) as tar:
        assert any(n.endswith("unpackaged/classes/ElaroLogger.cls") for n in tar.getnames())
    assert {"type": "ApexClass", "name": "NewController"} in doc["added_by_release"]
    assert (project / doc["metadata_dir"] / "package.xml").is_file() and doc["api_version"] == "62.0"
    assert "3 release component(s) not in the org yet" in outcome.detail


def test_resume_reuses_the_verified_backup_without_retrieving_again(engine: Engine) -> None:
    first = new_ctx(engine)
    assert backup_step(engine, FakeSf()).run(first).status == StepStatus.PASSED
    fake = FakeSf()
    again = backup_step(engine, fake).run(new_ctx(engine, first.run_id))
    assert again.status == StepStatus.PASSED and again.detail.startswith("reused")
    assert fake.calls == []


def test_a_tampered_archive_is_not_reused(engine: Engine, project: Path) -> None:
    first = new_ctx(engine)
    assert backup_step(engine, FakeSf()).run(first).status == StepStatus.PASSED
    archive = next((project / "backups").glob("*.tar.gz"))
    archive.write_bytes(archive.read_bytes() + b"x")
    fake = FakeSf()
    again = backup_step(engine, fake).run(new_ctx(engine, first.run_id))
    assert again.status == StepStatus.PASSED and "retrieve_start" in fake.calls
    assert len(list((project / "backups").glob("*.tar.gz"))) == 2


def test_an_incomplete_retrieve_fails_and_archives_nothing(engine: Engine, project: Path) -> None:
    fake = FakeSf(files={k: v for k, v in ORG_FILES.items() if "ElaroLogger.cls" not in k})
    outcome = backup_step(engine, fake).run(new_ctx(engine))
    assert outcome.status == StepStatus.FAILED and "backup incomplete: 2/3" in outcome.detail
    assert list((project / "backups").glob("*.tar.gz")) == []


class _Crash(Exception):
    """The process dying in the middle of a write."""


def test_a_crash_while_writing_the_checksum_leaves_no_half_written_file(
    engine: Engine, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However the step writes the files beside the archive (`.sha256`, the backup record), dying halfway through a
    # write must not leave a truncated one under its real name: `sha256sum -c` and people trust those files.
    import builtins

    import cutover.steps.backup as backup_module

    backups = project / "backups"
    real_write_text, real_open = Path.write_text, builtins.open

    def half_then_crash(path: Path, text: str) -> None:
        with real_open(path, "w", encoding="utf-8") as handle:
            handle.write(text[: len(text) // 2])
        raise _Crash(str(path))

    def write_text(self: Path, text: str, *args: Any, **kwargs: Any) -> int:
        if self.parent == backups:
            half_then_crash(self, text)
        return real_write_text(self, text, *args, **kwargs)

    class CrashingFile:
        def __init__(self, path: Path) -> None:
            self.path = path

        def __enter__(self) -> CrashingFile:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def write(self, text: str) -> int:
            half_then_crash(self.path, text)
            return 0

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if Path(file).parent == backups and "w" in mode:
            return CrashingFile(Path(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    monkeypatch.setattr(backup_module, "open", fake_open, raising=False)
    with pytest.raises(_Crash):
        backup_step(engine, FakeSf()).run(new_ctx(engine))
    assert list(backups.glob("*.sha256")) == []
    assert list(backups.glob("production-backup-*.json")) == []


# -- members the org lacks, in every manifest mode ---------------------------------------------------------------------
# The shape the real sf 2.146.3 printed (`project retrieve start --target-metadata-dir D --unzip --json`, against
# orgsim) for a release class the org does not have, identical with --manifest, --source-dir and --metadata:
# status Succeeded, one message per missing member, and a `Failed` file row that the CLI built from it.
NOT_FOUND = "Entity of type 'ApexClass' named 'NewFeatureTest' cannot be found"
RECORDED_MISSING_MEMBER = {
    "done": True,
    "id": "09S0000UyKCNkFLEU1",
    "status": "Succeeded",
    "success": True,
    "messages": [{"fileName": "unpackaged/package.xml", "problem": NOT_FOUND}],
    "files": [
        {
            "fullName": "NewFeatureTest",
            "type": "ApexClass",
            "state": "Failed",
            "error": NOT_FOUND,
            "problemType": "Error",
        }
    ],
}


def recorded(**changes: Any) -> RetrieveResult:
    doc = {**RECORDED_MISSING_MEMBER, **changes}
    rows = [{"type": t, "fullName": n, "fileName": f"unpackaged/{f}"} for t, n, f in ORG_PROPS]
    rows.append({"type": "Package", "fullName": "unpackaged/package.xml", "fileName": "unpackaged/package.xml"})
    return parse_retrieve_result({**doc, "fileProperties": rows})


@dataclass
class MissingMemberSf(FakeSf):
    """A retrieve that names members the org lacks: the adapter raises RetrieveFailed carrying the result."""

    result: RetrieveResult = field(default_factory=recorded)
    retrieve_kwargs: dict[str, Any] = field(default_factory=dict)

    def retrieve_start(self, alias: str, *, target_metadata_dir: Any, unzip: bool, **kwargs: Any) -> RetrieveResult:
        from cutover.sf import RetrieveFailed

        self.calls.append("retrieve_start")
        self.retrieve_kwargs = kwargs
        write_org_folder(Path(target_metadata_dir), self.files)
        if self.result.failed:
            raise RetrieveFailed("retrieve failed", result=self.result)
        return self.result


def explicit_step(engine: Engine, fake: FakeSf, manifest: str | None) -> Backup:
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    services.extras["sf"] = fake
    return Backup({"manifest": manifest, "source_dir": "force-app", "backup_dir": "backups"}, RUNBOOK, services)


def backup_doc(engine: Engine, run_id: str) -> dict[str, Any]:
    item = next(e for e in engine.store.evidence(run_id, "backup.retrieve") if e["name"] == "backup.json")
    return json.loads((engine.cutover_dir / item["relpath"]).read_text())


def test_classify_accepts_only_cannot_be_found() -> None:
    problems = classify_retrieve(recorded())
    assert problems.absent == [("ApexClass", "NewFeatureTest")] and problems.other == []
    refused = classify_retrieve(
        recorded(messages=[{"fileName": "unpackaged/package.xml", "problem": "INVALID_CROSS_REFERENCE_KEY: bad"}])
    )
    assert refused.other == ["unpackaged/package.xml: INVALID_CROSS_REFERENCE_KEY: bad"]
    failed = classify_retrieve(recorded(status="Failed", success=False, messages=[], files=[]))
    assert failed.other and "status Failed" in failed.other[0]
    warned = classify_retrieve(recorded(messages=[], files=[]), [NOT_FOUND.replace("NewFeatureTest", "Other")])
    assert warned.absent == [("ApexClass", "Other")]


@pytest.mark.parametrize(
    ("manifest_types", "manifest", "selection"),
    [
        ({"ApexClass": ["ElaroLogger", "NewFeatureTest"]}, "manifest/package.xml", "manifest"),
        (None, None, "source_dirs"),
        ({"ApexClass": ["*"]}, "manifest/package.xml", "manifest"),
    ],
    ids=["explicit-manifest", "manifest-null", "wildcard"],
)
def test_members_the_org_lacks_are_added_by_release_in_every_manifest_mode(
    engine: Engine, project: Path, manifest_types: dict[str, list[str]] | None, manifest: str | None, selection: str
) -> None:
    if manifest_types is not None:
        (project / "manifest" / "package.xml").write_text(package(manifest_types))
    fake = MissingMemberSf()
    ctx = new_ctx(engine)
    outcome = explicit_step(engine, fake, manifest).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    doc = backup_doc(engine, ctx.run_id)
    assert {"type": "ApexClass", "name": "NewFeatureTest"} in doc["added_by_release"]
    assert {"type": "ApexClass", "name": "ElaroLogger"} not in doc["added_by_release"]
    # The retrieve that ran uses the release's selection: its manifest, else the source folder.
    assert fake.retrieve_kwargs[selection] is not None
    if manifest is None:
        assert fake.retrieve_kwargs["source_dirs"] == ["force-app"] and fake.retrieve_kwargs["manifest"] is None


def test_any_other_retrieve_problem_fails_the_backup(engine: Engine, project: Path) -> None:
    (project / "manifest" / "package.xml").write_text(package({"ApexClass": ["ElaroLogger", "NewFeatureTest"]}))
    bad = recorded(
        messages=[
            {"fileName": "unpackaged/package.xml", "problem": NOT_FOUND},
            {"fileName": "unpackaged/classes/ElaroLogger.cls", "problem": "Unable to retrieve file: internal error"},
        ]
    )
    outcome = explicit_step(engine, MissingMemberSf(result=bad), "manifest/package.xml").run(new_ctx(engine))
    assert outcome.status == StepStatus.FAILED
    assert "Unable to retrieve file" in outcome.detail and "NewFeatureTest" not in outcome.detail
    assert list((project / "backups").glob("*.tar.gz")) == []


@dataclass
class DeletingReleaseSf(FakeSf):
    """The org answers the release manifest with ORG_FILES and the destructive manifest with the class it deletes."""

    manifests: list[str] = field(default_factory=list)

    def retrieve_start(self, alias: str, *, target_metadata_dir: Any, unzip: bool, **kwargs: Any) -> RetrieveResult:
        manifest = Path(kwargs["manifest"])
        self.manifests.append(manifest.name)
        if manifest.name == "package.xml":  # the release manifest, or members `*` left out asked for by name
            return super().retrieve_start(alias, target_metadata_dir=target_metadata_dir, unzip=unzip, **kwargs)
        root = Path(target_metadata_dir) / "unpackaged" / "unpackaged"
        (root / "classes").mkdir(parents=True)
        (root / "classes" / "Retired.cls").write_text("public class Retired {}")
        (root / "classes" / "Retired.cls-meta.xml").write_text("<ApexClass/>")
        (root / "package.xml").write_text(package({"ApexClass": ["Retired", "NeverThere"]}))
        return parse_retrieve_result(
            {"done": True, "id": "09S000000000002AAA", "status": "Succeeded", "success": True,
             "fileProperties": [{"type": "ApexClass", "fullName": "Retired",
                                 "fileName": "unpackaged/classes/Retired.cls"}],
             "messages": [{"fileName": "unpackaged/package.xml",
                           "problem": "Entity of type 'ApexClass' named 'NeverThere' cannot be found"}]}
        )  # fmt: skip


def test_what_the_release_deletes_is_backed_up_too(engine: Engine, project: Path) -> None:
    (project / "manifest" / "destructiveChangesPost.xml").write_text(package({"ApexClass": ["Retired", "NeverThere"]}))
    runbook = parse_runbook(
        "target:\n  alias: production\nproject:\n  manifest: manifest/package.xml\n"
        "  destructive_changes:\n    post: manifest/destructiveChangesPost.xml\n"
    )
    fake = DeletingReleaseSf()
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    services.extras["sf"] = fake
    ctx = new_ctx(engine)
    step = Backup({"manifest": "manifest/package.xml", "backup_dir": "backups"}, runbook, services)
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert fake.manifests == ["package.xml", "package.xml", "destructiveChangesPost.xml"]  # by name, then deleted
    doc = backup_doc(engine, ctx.run_id)
    assert doc["deleted_by_release"] == [{"type": "ApexClass", "name": "Retired"}]
    root = project / doc["metadata_dir"]
    assert (root / "classes" / "Retired.cls").read_text() == "public class Retired {}"
    assert (root / "classes" / "ElaroLogger.cls").is_file()
    merged = read_manifest(root / "package.xml")
    assert "Retired" in merged["ApexClass"] and "ElaroLogger" in merged["ApexClass"]
    assert not list((project / "backups").glob(".deleted-*"))  # the second retrieve's folder is gone
    assert doc["files"] == 4


def test_a_wildcard_does_not_prove_absence_standard_objects_are_asked_for_by_name(
    engine: Engine, project: Path
) -> None:
    # Salesforce's `CustomObject: *` never returns standard objects: Account in the release's source was "absent",
    # so the rollback deleted Account (issue 7). Asked for by name, the org returns it: it is backed up instead.
    (project / "manifest" / "package.xml").write_text(package({"CustomObject": ["*"], "ApexClass": ["*"]}))
    fake = FakeSf(by_name={"CustomObject:Account": "objects/Account.object"})
    source = {**SOURCE, "CustomObject": [*SOURCE["CustomObject"], "Account"]}

    def generate(*, output_dir: Any, **_: Any) -> Path:
        path = Path(output_dir) / "package.xml"
        path.write_text(package(source))
        return path

    fake.generate_manifest = generate  # type: ignore[method-assign]
    ctx = new_ctx(engine)
    outcome = backup_step(engine, fake).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    doc = backup_doc(engine, ctx.run_id)
    added = {(c["type"], c["name"]) for c in doc["added_by_release"]}
    assert ("CustomObject", "Account") not in added
    assert {("CustomObject", "New_Object__c"), ("ApexClass", "NewController")} <= added
    assert (project / doc["metadata_dir"] / "objects" / "Account.object").is_file()
    assert "Account" in read_manifest(project / doc["metadata_dir"] / "package.xml")["CustomObject"]


# -- paths stay inside the project (issue 11) ------------------------------------------------------------------------


def _record_backup_json(engine: Engine, ctx: StepContext, **changes: Any) -> None:
    """A later backup.json of the step whose fields were changed (what a tampered state would hold)."""
    evidence = {e["name"]: e for e in engine.store.evidence(ctx.run_id, ctx.step.id)}
    doc = json.loads((engine.cutover_dir / evidence["backup.json"]["relpath"]).read_text())
    ctx.record_evidence("backup.json", {**doc, **changes})


@pytest.mark.parametrize("archive", ["../../../../etc/hostname", "/etc/hostname", "backups/link-out/x.tar.gz"])
def test_a_recorded_archive_path_leaving_the_project_is_refused_not_followed(
    engine: Engine, project: Path, tmp_path_factory: pytest.TempPathFactory, archive: str
) -> None:
    from cutover.errors import CutoverError

    outside = tmp_path_factory.mktemp("outside")
    first = new_ctx(engine)
    assert backup_step(engine, FakeSf()).run(first).status == StepStatus.PASSED
    (project / "backups" / "link-out").symlink_to(outside, target_is_directory=True)
    _record_backup_json(engine, first, archive=archive)
    fake = FakeSf()
    with pytest.raises(CutoverError) as caught:
        backup_step(engine, fake).run(new_ctx(engine, first.run_id))
    assert caught.value.exit_code == 6 and "\n" not in caught.value.message
    assert f"{archive!r}, which leaves the project folder" in caught.value.message
    assert fake.calls == []  # nothing retrieved, nothing hashed outside


def test_a_backup_dir_outside_the_project_fails_the_backup_with_one_line(engine: Engine, project: Path) -> None:
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    services.extras["sf"] = fake = FakeSf()
    step = Backup({"manifest": "manifest/package.xml", "backup_dir": "../elsewhere"}, RUNBOOK, services)
    outcome = step.run(new_ctx(engine))
    assert (
        outcome.status == StepStatus.FAILED and "project.backup_dir '../elsewhere' leaves the project" in outcome.detail
    )
    assert fake.calls == [] and not (project.parent / "elsewhere").exists()
