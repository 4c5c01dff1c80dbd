"""The bench's SFDX project, generated: N Apex service classes, one test class each, a custom object with a field, a
trigger on it and a permission set; v1 (in production) and v2 (the release: `changed` classes edited).

The classes form groups of five: each service calls its group's first class, so the dependency graph is not flat,
yet a change to a class that is not a group head touches only its own test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

API_VERSION = "62.0"
GROUP = 5
METHODS_PER_TEST_CLASS = 2  # test_source() writes two @isTest methods
CLASS_META = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">\n'
    f"    <apiVersion>{API_VERSION}</apiVersion>\n    <status>Active</status>\n</ApexClass>\n"
)
TRIGGER_META = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ApexTrigger xmlns="http://soap.sforce.com/2006/04/metadata">\n'
    f"    <apiVersion>{API_VERSION}</apiVersion>\n    <status>Active</status>\n</ApexTrigger>\n"
)
OBJECT_META = """<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <deploymentStatus>Deployed</deploymentStatus>
    <label>Ledger Entry</label>
    <nameField>
        <label>Entry Name</label>
        <type>Text</type>
    </nameField>
    <pluralLabel>Ledger Entries</pluralLabel>
    <sharingModel>ReadWrite</sharingModel>
</CustomObject>
"""
FIELD_META = """<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
    <fullName>Amount__c</fullName>
    <label>Amount</label>
    <precision>16</precision>
    <scale>2</scale>
    <type>Number</type>
</CustomField>
"""
TRIGGER = """trigger LedgerEntryTrigger on Ledger_Entry__c (before insert, before update) {
    for (Ledger_Entry__c entry : Trigger.new) {
        entry.Amount__c = Svc0001.apply(entry.Amount__c == null ? 0 : entry.Amount__c.intValue());
    }
}
"""


@dataclass(frozen=True)
class BenchProject:
    """What was generated: the folder, its classes, its test classes and the classes the release changes."""

    root: Path
    classes: tuple[str, ...]
    test_classes: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def components(self) -> int:
        """Components a full deploy carries: classes, test classes, the trigger, object, field, permission set."""
        return len(self.classes) + len(self.test_classes) + 4


def class_names(count: int) -> list[str]:
    return [f"Svc{index:04d}" for index in range(1, count + 1)]


def _head(name: str) -> str:
    index = int(name[3:])
    return f"Svc{(index - 1) // GROUP * GROUP + 1:04d}"


def service_source(name: str, revision: int = 1) -> str:
    head = _head(name)
    call = f"{head}.apply(n)" if head != name else "n"
    return (
        f"public with sharing class {name} {{\n"
        f"    public static Integer apply(Integer n) {{\n"
        f"        Integer base = {call};\n"
        f"        Integer scaled = base * {revision + 1};\n"
        f"        if (scaled > 1000) {{\n"
        f"            scaled = 1000;\n"
        f"        }}\n"
        f"        return scaled + {revision};\n"
        f"    }}\n"
        f"\n"
        f"    public static String label(Integer n) {{\n"
        f"        return '{name} r{revision}: ' + String.valueOf(apply(n));\n"
        f"    }}\n"
        f"}}\n"
    )


def test_source(name: str) -> str:
    return (
        "@isTest\n"
        f"private class {name}Test {{\n"
        "    @isTest\n"
        "    static void appliesTheRule() {\n"
        f"        System.assert({name}.apply(3) > 0, 'apply');\n"
        "    }\n"
        "\n"
        "    @isTest\n"
        "    static void labelsTheResult() {\n"
        f"        System.assert({name}.label(3).startsWith('{name}'), 'label');\n"
        "    }\n"
        "}\n"
    )


def _permission_set(classes: list[str]) -> str:
    accesses = "".join(
        f"    <classAccesses>\n        <apexClass>{name}</apexClass>\n        <enabled>true</enabled>\n"
        "    </classAccesses>\n"
        for name in classes[:10]
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        f"{accesses}"
        "    <fieldPermissions>\n        <editable>true</editable>\n"
        "        <field>Ledger_Entry__c.Amount__c</field>\n        <readable>true</readable>\n"
        "    </fieldPermissions>\n"
        "    <label>Ledger Admin</label>\n"
        "    <objectPermissions>\n        <allowCreate>true</allowCreate>\n        <allowDelete>false</allowDelete>\n"
        "        <allowEdit>true</allowEdit>\n        <allowRead>true</allowRead>\n"
        "        <modifyAllRecords>false</modifyAllRecords>\n        <object>Ledger_Entry__c</object>\n"
        "        <viewAllRecords>false</viewAllRecords>\n    </objectPermissions>\n"
        "</PermissionSet>\n"
    )


def changed_classes(count: int, changes: int) -> list[str]:
    """`changes` classes spread over the project, none of them a group head (so each touches only its own test)."""
    names = [n for n in class_names(count) if _head(n) != n]
    step = max(1, len(names) // max(changes, 1))
    return names[step // 2 :: step][:changes]


def write_project(root: Path, count: int = 200, *, changes: int = 3, version: str = "1.0.0") -> BenchProject:
    """Write v1 of the project into `root` (created); `apply_release` turns it into v2."""
    default = root / "force-app" / "main" / "default"
    classes_dir = default / "classes"
    classes_dir.mkdir(parents=True, exist_ok=True)
    names = class_names(count)
    for name in names:
        for cls, body in ((name, service_source(name)), (f"{name}Test", test_source(name))):
            (classes_dir / f"{cls}.cls").write_text(body)
            (classes_dir / f"{cls}.cls-meta.xml").write_text(CLASS_META)
    triggers = default / "triggers"
    triggers.mkdir(parents=True, exist_ok=True)
    (triggers / "LedgerEntryTrigger.trigger").write_text(TRIGGER)
    (triggers / "LedgerEntryTrigger.trigger-meta.xml").write_text(TRIGGER_META)
    obj = default / "objects" / "Ledger_Entry__c"
    (obj / "fields").mkdir(parents=True, exist_ok=True)
    (obj / "Ledger_Entry__c.object-meta.xml").write_text(OBJECT_META)
    (obj / "fields" / "Amount__c.field-meta.xml").write_text(FIELD_META)
    permsets = default / "permissionsets"
    permsets.mkdir(parents=True, exist_ok=True)
    (permsets / "Ledger_Admin.permissionset-meta.xml").write_text(_permission_set(names))
    project = {
        "packageDirectories": [{"path": "force-app", "default": True}],
        "name": "ledger-bench",
        "namespace": "",
        "sfdcLoginUrl": "https://login.salesforce.com",
        "sourceApiVersion": API_VERSION,
    }
    (root / "sfdx-project.json").write_text(json.dumps(project, indent=2) + "\n")
    (root / ".forceignore").write_text("**/jsconfig.json\n**/.eslintrc.json\n")
    (root / ".gitignore").write_text(".sf/\n.sfdx/\n.cutover/\nbackups/\nlogs/\n")
    (root / "CHANGELOG.md").write_text(f"# Changelog\n\n## {version}\n- Ledger services.\n")
    (root / "README.md").write_text("# ledger-bench\n\nGenerated by `python -m bench window`.\n")
    return BenchProject(root, tuple(names), tuple(f"{n}Test" for n in names), tuple(changed_classes(count, changes)))


def apply_release(project: BenchProject, version: str) -> None:
    """v2: each changed class gets revision 2; the CHANGELOG gets the release's entry."""
    classes_dir = project.root / "force-app" / "main" / "default" / "classes"
    for name in project.changed:
        (classes_dir / f"{name}.cls").write_text(service_source(name, revision=2))
    changelog = project.root / "CHANGELOG.md"
    text = changelog.read_text()
    entry = f"## {version}\n- Ledger rules: {', '.join(project.changed)} round differently.\n\n"
    changelog.write_text(text.replace("## ", entry + "## ", 1))
