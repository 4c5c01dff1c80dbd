"""compute_delta on a git repository built here, against answers written by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta_repo import META, Repo, apex_class, custom_object, field, lwc

from cutover.delta import Delta, DeltaError, compute_delta, read_members, write_manifests
from cutover.errors import UsageError

SRC = "force-app/main/default"


def keys(components: object) -> list[str]:
    return sorted(str(c) for c in components)  # type: ignore[attr-defined]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "proj")
    repo.write({"sfdx-project.json": '{"packageDirectories": [{"path": "force-app", "default": true}]}\n'})
    repo.write({".forceignore": "**/__tests__/**\n**/jsconfig.json\n"})
    for name in ("Keep", "Change", "Remove", "Old", "MetaOnly"):
        repo.write(apex_class(name))
    repo.write(
        {
            f"{SRC}/triggers/AcctTrigger.trigger": "trigger AcctTrigger on Account (before insert) {}\n",
            f"{SRC}/triggers/AcctTrigger.trigger-meta.xml": META.format(
                kind="ApexTrigger", body="<apiVersion>62.0</apiVersion>"
            ),
        }
    )
    repo.write({**custom_object("Acct__c"), **field("Acct__c", "A__c"), **field("Acct__c", "B__c")})
    repo.write(
        {
            f"{SRC}/objects/Acct__c/listViews/All.listView-meta.xml": META.format(
                kind="ListView", body="<label>All</label>"
            )
        }
    )
    repo.write({**custom_object("Gone__c"), **field("Gone__c", "X__c")})
    repo.write({**field("Account", "Std__c"), **field("Account", "Name")})
    repo.write({**lwc("card"), **lwc("gone"), **lwc("partial")})
    repo.write({f"{SRC}/lwc/partial/partial.css": ".x {}\n", f"{SRC}/lwc/jsconfig.json": "{}\n"})
    repo.write(
        {
            f"{SRC}/aura/auraCmp/auraCmp.cmp": "<aura:component/>\n",
            f"{SRC}/aura/auraCmp/auraCmp.cmp-meta.xml": META.format(
                kind="AuraDefinitionBundle", body="<apiVersion>62.0</apiVersion>"
            ),
            f"{SRC}/aura/auraCmp/auraCmpController.js": "({})\n",
            f"{SRC}/staticresources/logo.png": "png1",
            f"{SRC}/staticresources/logo.resource-meta.xml": META.format(
                kind="StaticResource", body="<contentType>image/png</contentType>"
            ),
            f"{SRC}/staticresources/lib/a.js": "var a = 1;\n",
            f"{SRC}/staticresources/lib.resource-meta.xml": META.format(
                kind="StaticResource", body="<contentType>application/zip</contentType>"
            ),
            f"{SRC}/README.md": "# notes\n",
            "docs/outside.cls": "not in a package directory\n",
        }
    )
    repo.commit("v1", tag="v1.0.0")
    return repo


def test_no_change_is_an_empty_delta(repo: Repo) -> None:
    delta = compute_delta(repo.root, "v1.0.0", source_dirs=["force-app"])
    assert delta.empty and delta.describe().startswith("0 upsert(s), 0 deletion(s) since v1.0.0")
    assert len(delta.since_commit) == 40 and delta.since_commit == delta.until_commit


def test_every_kind_of_change(repo: Repo) -> None:
    repo.write(apex_class("Change", "Integer x;"))
    repo.write(apex_class("Added"))
    repo.remove(f"{SRC}/classes/Remove.cls", f"{SRC}/classes/Remove.cls-meta.xml")
    repo.move(f"{SRC}/classes/Old.cls", f"{SRC}/classes/New.cls")
    repo.move(f"{SRC}/classes/Old.cls-meta.xml", f"{SRC}/classes/New.cls-meta.xml")
    repo.write(
        {f"{SRC}/classes/MetaOnly.cls-meta.xml": META.format(kind="ApexClass", body="<apiVersion>63.0</apiVersion>")}
    )
    repo.remove(f"{SRC}/triggers")
    repo.write({**field("Acct__c", "B__c", label="Changed"), **field("Acct__c", "C__c")})
    repo.write(
        {
            f"{SRC}/objects/Acct__c/listViews/All.listView-meta.xml": META.format(
                kind="ListView", body="<label>Every</label>"
            )
        }
    )
    repo.remove(f"{SRC}/objects/Acct__c/fields/A__c.field-meta.xml", f"{SRC}/objects/Gone__c")
    repo.remove(
        f"{SRC}/objects/Account/fields/Std__c.field-meta.xml", f"{SRC}/objects/Account/fields/Name.field-meta.xml"
    )
    repo.write({f"{SRC}/lwc/card/card.html": "<template><p>v2</p></template>\n"})
    repo.write({f"{SRC}/lwc/card/__tests__/card.test.js": "test('x', () => {});\n"})
    repo.remove(f"{SRC}/lwc/gone", f"{SRC}/lwc/partial/partial.css")
    repo.write({f"{SRC}/aura/auraCmp/auraCmpController.js": "({ go: function() {} })\n"})
    repo.write({f"{SRC}/staticresources/lib/a.js": "var a = 2;\n", f"{SRC}/staticresources/logo.png": "png2"})
    repo.write({f"{SRC}/lwc/jsconfig.json": '{"x": 1}\n', f"{SRC}/README.md": "# more\n", "docs/outside.cls": "x\n"})
    repo.commit("v2")

    delta = compute_delta(repo.root, "v1.0.0", source_dirs=["force-app"])

    assert keys(delta.upserts) == [
        "ApexClass:Added",
        "ApexClass:Change",
        "ApexClass:MetaOnly",
        "ApexClass:New",
        "AuraDefinitionBundle:auraCmp",
        "CustomField:Acct__c.B__c",
        "CustomField:Acct__c.C__c",
        "LightningComponentBundle:card",
        "LightningComponentBundle:partial",  # lost a file, still there: changed
        "ListView:Acct__c.All",
        "StaticResource:lib",
        "StaticResource:logo",
    ]
    assert keys(delta.deletions) == [
        "ApexClass:Old",
        "ApexClass:Remove",
        "ApexTrigger:AcctTrigger",
        "CustomField:Account.Std__c",
        "CustomField:Acct__c.A__c",
        "CustomObject:Gone__c",  # its field X__c goes with it, not listed
        "LightningComponentBundle:gone",
    ]
    assert [(str(a), str(b)) for a, b in delta.renames] == [("ApexClass:Old", "ApexClass:New")]
    assert [(str(c), why) for c, why in delta.skipped] == [("CustomField:Account.Name", "standard field")]
    added = next(c for c in delta.upserts if c.name == "Added")
    assert added.paths == (f"{SRC}/classes/Added.cls", f"{SRC}/classes/Added.cls-meta.xml")
    gone = next(c for c in delta.deletions if c.name == "Gone__c")
    assert f"{SRC}/objects/Gone__c/fields/X__c.field-meta.xml" not in gone.paths  # the field resolved to the field
    assert gone.paths == (f"{SRC}/objects/Gone__c/Gone__c.object-meta.xml",)


def test_bundle_deleted_only_when_all_files_are_gone(repo: Repo) -> None:
    repo.remove(f"{SRC}/lwc/gone/gone.js", f"{SRC}/lwc/gone/gone.html")
    repo.commit("half")
    half = compute_delta(repo.root, "v1.0.0", source_dirs=["force-app"])
    assert keys(half.upserts) == ["LightningComponentBundle:gone"] and not half.deletions
    repo.remove(f"{SRC}/lwc/gone")
    repo.commit("all")
    whole = compute_delta(repo.root, "v1.0.0", source_dirs=["force-app"])
    assert keys(whole.deletions) == ["LightningComponentBundle:gone"] and not whole.upserts


def test_renamed_bundle_and_field(repo: Repo) -> None:
    repo.move(f"{SRC}/lwc/card", f"{SRC}/lwc/tile")
    repo.move(f"{SRC}/objects/Acct__c/fields/A__c.field-meta.xml", f"{SRC}/objects/Acct__c/fields/A2__c.field-meta.xml")
    repo.commit("renames")
    delta = compute_delta(repo.root, "v1.0.0", source_dirs=["force-app"])
    assert keys(delta.upserts) == ["CustomField:Acct__c.A2__c", "LightningComponentBundle:tile"]
    assert keys(delta.deletions) == ["CustomField:Acct__c.A__c", "LightningComponentBundle:card"]
    assert sorted((str(a), str(b)) for a, b in delta.renames) == [
        ("CustomField:Acct__c.A__c", "CustomField:Acct__c.A2__c"),
        ("LightningComponentBundle:card", "LightningComponentBundle:tile"),
    ]


def test_only_the_named_package_directories_and_the_until_ref(repo: Repo) -> None:
    repo.write({"other-app/main/default/classes/Elsewhere.cls": "public class Elsewhere {}\n"})
    repo.commit("other")
    repo.git("tag", "mid")
    repo.write(apex_class("Later"))
    repo.commit("later")
    assert keys(compute_delta(repo.root, "v1.0.0", "mid", source_dirs=["force-app"]).upserts) == []
    assert keys(compute_delta(repo.root, "v1.0.0", "mid", source_dirs=["force-app", "other-app"]).upserts) == [
        "ApexClass:Elsewhere"
    ]
    assert keys(compute_delta(repo.root, "mid", source_dirs=["force-app"]).upserts) == ["ApexClass:Later"]


def test_project_in_a_subfolder_of_the_repository(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "mono")
    repo.write({f"sf/{k}": v for k, v in apex_class("A").items()})
    repo.commit("v1", tag="v1")
    repo.write({f"sf/{k}": v for k, v in apex_class("B").items()})
    repo.commit("v2")
    delta = compute_delta(tmp_path / "mono" / "sf", "v1", source_dirs=["force-app"])
    assert keys(delta.upserts) == ["ApexClass:B"]
    assert delta.upserts[0].paths == (f"{SRC}/classes/B.cls", f"{SRC}/classes/B.cls-meta.xml")


def test_missing_tag_and_not_a_repository(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(DeltaError, match=r"'v9\.9\.9' does not exist"):
        compute_delta(repo.root, "v9.9.9", source_dirs=["force-app"])
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(DeltaError, match="is not a git repository"):
        compute_delta(plain, "v1", source_dirs=["force-app"])
    with pytest.raises(UsageError):
        compute_delta(repo.root, "--output=x", source_dirs=["force-app"])


def test_write_manifests(repo: Repo, tmp_path: Path) -> None:
    repo.write(apex_class("Added"))
    repo.remove(f"{SRC}/classes/Remove.cls", f"{SRC}/classes/Remove.cls-meta.xml")
    repo.commit("v2")
    delta = compute_delta(repo.root, "v1.0.0", source_dirs=["force-app"])
    package, post = write_manifests(delta, tmp_path / "out", "62.0")
    assert read_members(package) == [("ApexClass", "Added")]
    assert post is not None and read_members(post) == [("ApexClass", "Remove")]
    assert "<version>62.0</version>" in package.read_text()
    only_adds = Delta("v1", "HEAD", delta.upserts, (), ())
    package, post = write_manifests(only_adds, tmp_path / "out", "62.0")
    assert post is None and not (tmp_path / "out" / "destructiveChangesPost.xml").exists()


def _labels(*pairs: tuple[str, str]) -> dict[str, str]:
    body = "".join(
        f"<labels><fullName>{n}</fullName><language>en_US</language><protected>false</protected>"
        f"<shortDescription>{n}</shortDescription><value>{v}</value></labels>"
        for n, v in pairs
    )
    return {f"{SRC}/labels/CustomLabels.labels-meta.xml": META.format(kind="CustomLabels", body=body)}


def test_labels_are_diffed_label_by_label(repo: Repo) -> None:
    repo.write(_labels(("Keep", "k"), ("Change", "c1"), ("Drop", "d")))
    repo.commit("labels", tag="v1.1.0")
    repo.write(_labels(("Keep", "k"), ("Change", "c2"), ("Add", "a")))
    repo.commit("v2")
    delta = compute_delta(repo.root, "v1.1.0", source_dirs=["force-app"])
    assert keys(delta.upserts) == ["CustomLabel:Add", "CustomLabel:Change"]
    assert keys(delta.deletions) == ["CustomLabel:Drop"]
    assert delta.upserts[0].paths == (f"{SRC}/labels/CustomLabels.labels-meta.xml",)


def test_folders_and_reports(repo: Repo, tmp_path: Path) -> None:
    repo.write(
        {
            f"{SRC}/reports/Sales.reportFolder-meta.xml": META.format(kind="ReportFolder", body="<name>Sales</name>"),
            f"{SRC}/reports/Sales/Pipeline.report-meta.xml": META.format(kind="Report", body="<name>P</name>"),
            f"{SRC}/email/Mails.emailFolder-meta.xml": META.format(kind="EmailFolder", body="<name>M</name>"),
            f"{SRC}/email/Mails/Hello.email": "Hello\n",
            f"{SRC}/email/Mails/Hello.email-meta.xml": META.format(kind="EmailTemplate", body="<name>H</name>"),
        }
    )
    repo.commit("v2")
    delta = compute_delta(repo.root, "v1.0.0", source_dirs=["force-app"])
    assert keys(delta.upserts) == [
        "EmailFolder:Mails",
        "EmailTemplate:Mails/Hello",
        "Report:Sales/Pipeline",
        "ReportFolder:Sales",
    ]
    package, _ = write_manifests(delta, tmp_path / "m", "62.0")
    assert sorted(read_members(package)) == [
        ("EmailTemplate", "Mails"),
        ("EmailTemplate", "Mails/Hello"),
        ("Report", "Sales/"),  # as the CLI writes a report folder
        ("Report", "Sales/Pipeline"),
    ]
