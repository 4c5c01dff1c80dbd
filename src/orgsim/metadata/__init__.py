"""orgsim's Metadata API: deploys (validation, quick deploy, cancel, destructive changes), retrieves and the
metadata store behind them. `soap.handle` is the HTTP entry point; `seed_metadata` loads a scenario's metadata."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["attach", "seed_metadata"]


def attach(org: Any) -> None:
    """Hook the deploy queue into the org's clock ticks and restore in-memory state (custom objects in the schema).

    Safe to call often: it does its work once per Org object.
    """
    if getattr(org, "_orgsim_metadata_attached", False):
        return
    from orgsim.metadata import store

    org._orgsim_metadata_attached = True
    store.register_all_custom_objects(org)
    hooks = getattr(org, "tick_hooks", None)
    if hooks is not None:
        # Deploys finish when their time is up even if nobody polls them (after_deploy symptoms start on time).
        hooks.append(_advance_deploys)


def _advance_deploys(org: Any) -> None:
    from orgsim.metadata import deploy

    try:
        deploy.advance(org)
    except Exception:
        logging.getLogger("orgsim.metadata").exception("orgsim could not advance the deploy queue")


def _zip_directory(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(path).as_posix())
    return buffer.getvalue()


def seed_metadata(org: Any, path: Path | str) -> list[tuple[str, str]]:
    """Deploy a directory (metadata format with package.xml, or an SFDX source-format tree) without tests.

    Used at scenario load: the org starts with these components, as if deployed long ago. Returns what was stored.
    """
    from orgsim.metadata import deploy, store
    from orgsim.metadata.package import Component, package_xml, read_zip, write_zip

    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"metadata seed folder {root} does not exist")
    if (root / "package.xml").is_file():
        package = read_zip(_zip_directory(root))
        components = package.components
    else:
        from orgsim.metadata.source import source_to_metadata

        files = source_to_metadata(root)
        types: dict[str, list[str]] = {}
        package = read_zip(write_zip({**files, "package.xml": package_xml(types, org.api_version)}))
        components = package.components
    store.ensure_tables(org)
    now_text = deploy._iso(org.now())
    stored: list[tuple[str, str]] = []
    with org.store.transaction():
        for component in components:
            store.save_component(org, Component(component.type, component.full_name, component.files), now_text)
            stored.append((component.type, component.full_name))
    return stored
