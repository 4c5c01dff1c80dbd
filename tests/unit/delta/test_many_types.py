"""compute_delta across many metadata types (tests/fixtures/delta/many-types, whose whole tree the integration test
proves against the sf CLI): known answers written by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

from delta_repo import Repo

from cutover.delta import compute_delta

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "delta" / "many-types"
D = "force-app/main/default"


def test_changes_across_types(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "p")
    shutil.copytree(FIXTURE, repo.root, dirs_exist_ok=True)
    repo.commit("v1", tag="v1")
    edit = {
        f"{D}/experiences/portal1/views/home.json": '{"id": "home", "v": 2}\n',
        f"{D}/bots/Helper/v1.botVersion-meta.xml": "<BotVersion><fullName>v1</fullName><x/></BotVersion>\n",
        f"{D}/customMetadata/Config.Default.md-meta.xml": "<CustomMetadata><label>D2</label></CustomMetadata>\n",
        f"{D}/staticresources/bundle/lib/a.js": "var a = 2;\n",
        f"{D}/documents/Docs/logo.png": "png2\n",
        f"{D}/aura/evt/evt.evt": '<aura:event type="COMPONENT"/>\n',
        f"{D}/lwc/widget/__tests__/widget.test.js": "test('y', () => {});\n",
        f"{D}/lwc/jsconfig.json": '{"v": 2}\n',
        f"{D}/README.md": "# still not metadata\n",
    }
    repo.write(edit)
    repo.remove(f"{D}/staticresources/single.js", f"{D}/staticresources/single.resource-meta.xml")
    repo.remove(f"{D}/reports/Ops/Sub/Deep.report-meta.xml", f"{D}/lwc/utils", f"{D}/objects/Config__mdt")
    repo.remove(f"{D}/objectTranslations", f"{D}/settings/Account.settings-meta.xml")
    repo.move(
        f"{D}/layouts/Account-Account Layout.layout-meta.xml", f"{D}/layouts/Account-Partner Layout.layout-meta.xml"
    )
    repo.commit("v2")

    delta = compute_delta(repo.root, "v1", source_dirs=["force-app"])

    assert sorted(str(c) for c in delta.upserts) == [
        "AuraDefinitionBundle:evt",
        "BotVersion:Helper.v1",
        "CustomMetadata:Config.Default",
        "Document:Docs/logo",
        "ExperienceBundle:portal1",
        "Layout:Account-Partner Layout",
        "StaticResource:bundle",
    ]
    assert sorted(str(c) for c in delta.deletions) == [
        "CustomObject:Config__mdt",  # Value__c goes with it
        "Layout:Account-Account Layout",
        "LightningComponentBundle:utils",
        "Report:Ops/Sub/Deep",
        "StaticResource:single",
    ]
    assert [(str(c), why) for c, why in delta.skipped] == [
        ("CustomObjectTranslation:Account-es", "CustomObjectTranslation is never deleted by a delta release"),
        ("Settings:Account", "Settings is never deleted by a delta release"),
    ]
    assert "2 removal(s) not deleted" in delta.describe()
    assert [(str(a), str(b)) for a, b in delta.renames] == [
        ("Layout:Account-Account Layout", "Layout:Account-Partner Layout")
    ]
