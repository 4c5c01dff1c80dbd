from pathlib import Path

from checks_git_helpers import commit, git, write

from cutover.checks.permissions import added_components, check_permission_sets
from cutover.checks.result import GateStatus

OBJ = "force-app/main/default/objects"
PERMSET = "force-app/main/default/permissionsets/Admin.permissionset-meta.xml"


def _field(required: bool = False, kind: str = "Text") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        f"<required>{str(required).lower()}</required><type>{kind}</type></CustomField>\n"
    )


def _permset(objects: list[str], fields: list[str]) -> str:
    body = "".join(
        f"<objectPermissions><allowRead>true</allowRead><object>{o}</object></objectPermissions>" for o in objects
    )
    body += "".join(f"<fieldPermissions><field>{f}</field><readable>true</readable></fieldPermissions>" for f in fields)
    return f'<?xml version="1.0"?>\n<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">{body}</PermissionSet>\n'


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, f"{OBJ}/Old__c/Old__c.object-meta.xml", "<CustomObject/>")
    write(repo, f"{OBJ}/Old__c/fields/Legacy__c.field-meta.xml", _field())
    write(repo, PERMSET, _permset([], []))
    commit(repo, "v1")
    git(repo, "tag", "v1.0.0")
    write(repo, f"{OBJ}/Snapshot__c/Snapshot__c.object-meta.xml", "<CustomObject/>")
    write(repo, f"{OBJ}/Snapshot__c/fields/Value__c.field-meta.xml", _field())
    write(repo, f"{OBJ}/Snapshot__c/fields/Key__c.field-meta.xml", _field(required=True))
    write(repo, f"{OBJ}/Snapshot__c/fields/Parent__c.field-meta.xml", _field(kind="MasterDetail"))
    write(repo, f"{OBJ}/Old__c/fields/Added__c.field-meta.xml", _field())
    return repo


def test_added_components_since_tag(tmp_path: Path):
    repo = _repo(tmp_path)
    write(repo, PERMSET, _permset([], []))
    commit(repo, "v2")
    objects, fields = added_components(repo, ["force-app"], "v1.0.0")
    assert objects == ["Snapshot__c"]
    # Required and master-detail fields cannot carry field permissions: not expected in a permission set.
    assert fields == ["Old__c.Added__c", "Snapshot__c.Value__c"]


def test_missing_grants_are_named(tmp_path: Path):
    repo = _repo(tmp_path)
    write(repo, PERMSET, _permset(["Snapshot__c"], ["Snapshot__c.Value__c"]))
    commit(repo, "v2")
    result = check_permission_sets("g", "t", repo, source_dirs=["force-app"], since="v1.0.0")
    assert result.status == GateStatus.FAILED
    assert result.detail == "no permission set grants read access to: Old__c.Added__c"


def test_everything_granted_passes(tmp_path: Path):
    repo = _repo(tmp_path)
    write(repo, PERMSET, _permset(["Snapshot__c"], ["Snapshot__c.Value__c", "Old__c.Added__c"]))
    commit(repo, "v2")
    result = check_permission_sets("g", "t", repo, source_dirs=["force-app"], since="v1.0.0")
    assert result.status == GateStatus.PASSED
    assert "1 new object(s) and 2 new field(s) since v1.0.0" in result.detail


def test_first_release_checks_everything(tmp_path: Path):
    repo = _repo(tmp_path)
    commit(repo, "v2")
    result = check_permission_sets("g", "t", repo, source_dirs=["force-app"], since=None)
    assert result.status == GateStatus.FAILED
    assert "Old__c" in result.detail and "Old__c.Legacy__c" in result.detail


def test_permission_set_missing_from_the_manifest_fails(tmp_path: Path):
    repo = _repo(tmp_path)
    write(repo, PERMSET, _permset(["Snapshot__c"], ["Snapshot__c.Value__c", "Old__c.Added__c"]))
    manifest = (
        '<?xml version="1.0"?><Package xmlns="http://soap.sforce.com/2006/04/metadata">'
        "<types><members>Other</members><name>PermissionSet</name></types><version>62.0</version></Package>"
    )
    write(repo, "manifest/package.xml", manifest)
    commit(repo, "v2")
    result = check_permission_sets(
        "g", "t", repo, source_dirs=["force-app"], since="v1.0.0", manifest="manifest/package.xml"
    )
    assert result.status == GateStatus.FAILED
    assert "not in manifest/package.xml, so not deployed: Admin" in result.detail
    write(repo, "manifest/package.xml", manifest.replace("Other", "*"))
    ok = check_permission_sets(
        "g", "t", repo, source_dirs=["force-app"], since="v1.0.0", manifest="manifest/package.xml"
    )
    assert ok.status == GateStatus.PASSED


def test_broken_permission_set_xml_fails(tmp_path: Path):
    repo = _repo(tmp_path)
    write(repo, PERMSET, "<PermissionSet><unclosed>")
    commit(repo, "v2")
    result = check_permission_sets("g", "t", repo, source_dirs=["force-app"], since="v1.0.0")
    assert result.status == GateStatus.FAILED and "not valid XML: Admin.permissionset-meta.xml" in result.detail


def test_not_a_git_repository_fails(tmp_path: Path):
    result = check_permission_sets("g", "t", tmp_path, source_dirs=["force-app"], since=None)
    assert result.status == GateStatus.FAILED and "not a git repository" in result.detail
