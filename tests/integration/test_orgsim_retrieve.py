"""The real sf CLI retrieving from an org seeded with metadata (a scenario's `metadata.seed_dir`), as a backup does."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from orgsim.metadata.package import package_xml
from orgsim.testing import login, run_sf

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sfdx_mini"
CLASSES = FIXTURE / "force-app" / "main" / "default" / "classes"


def metadata_seed(folder: Path) -> Path:
    """The fixture's classes in metadata format (what an org would hold), written as a seed folder."""
    (folder / "classes").mkdir(parents=True)
    names = []
    for source in sorted(CLASSES.iterdir()):
        shutil.copyfile(source, folder / "classes" / source.name)
        if source.suffix == ".cls":
            names.append(source.stem)
    (folder / "package.xml").write_bytes(package_xml({"ApexClass": names}, "62.0"))
    return folder


def test_retrieve_returns_the_seeded_files_byte_for_byte(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path
) -> None:
    seed = metadata_seed(tmp_path / "seed")
    server = orgsim_factory({"metadata": {"seed_dir": str(seed)}, "durations": {"retrieve_seconds": 0.2}})
    assert sorted(r["Name"] for r in server.org.store.list("ApexClass")) == [
        "ElaroGreeter",
        "ElaroGreeterTest",
        "ElaroNightlyJob",
    ]
    login(sf_bin, sf_home, server.url, server.token, alias="sim")
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    shutil.rmtree(project / "force-app" / "main" / "default" / "classes")

    # Metadata format, no project needed: the zip as the org sends it, plus an ApexTrigger it does not have.
    run = run_sf(
        sf_bin,
        [
            "project",
            "retrieve",
            "start",
            "--target-org",
            "sim",
            "--metadata",
            "ApexClass",
            "--metadata",
            "ApexTrigger:Missing",
            "--target-metadata-dir",
            "backup",
        ],
        sf_home,
        cwd=project,
    )
    assert run.returncode == 0, run
    result = run.json["result"]
    assert result["success"] is True
    assert {p["fullName"] for p in result["fileProperties"] if p["type"] == "ApexClass"} == {
        "ElaroGreeter",
        "ElaroGreeterTest",
        "ElaroNightlyJob",
    }
    archive = zipfile.ZipFile(project / "backup" / "unpackaged.zip")
    for source in sorted(CLASSES.iterdir()):
        assert archive.read(f"unpackaged/classes/{source.name}") == source.read_bytes(), source.name
    assert any("ApexTrigger" in message["problem"] for message in result["messages"])

    # Source format into the project, as the runbook's backup step does.
    run = run_sf(
        sf_bin,
        ["project", "retrieve", "start", "--target-org", "sim", "--metadata", "ApexClass", "--output-dir", "restored"],
        sf_home,
        cwd=project,
    )
    assert run.returncode == 0, run
    for source in sorted(CLASSES.iterdir()):
        assert (project / "restored" / "classes" / source.name).read_bytes() == source.read_bytes(), source.name
