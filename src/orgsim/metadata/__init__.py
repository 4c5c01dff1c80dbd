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


def _compose_object(object_dir: Path) -> bytes | None:
    """A metadata-format `.object` from a source-format object folder (object-meta.xml + fields/*.field-meta.xml)."""
    import xml.etree.ElementTree as ET

    main = object_dir / f"{object_dir.name}.object-meta.xml"
    if not main.is_file():
        return None
    namespace = "http://soap.sforce.com/2006/04/metadata"
    ET.register_namespace("", namespace)
    root = ET.fromstring(main.read_bytes())
    for field_file in sorted((object_dir / "fields").glob("*.field-meta.xml")):
        field = ET.fromstring(field_file.read_bytes())
        field.tag = f"{{{namespace}}}fields"
        root.append(field)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root) + b"\n"


def _source_to_metadata_dir(path: Path) -> dict[str, bytes]:
    """Minimal source-format → metadata-format conversion for seeding: classes, triggers, permission sets, custom
    objects with their fields, and LWC/Aura bundles (copied as they are)."""
    files: dict[str, bytes] = {}
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        parts = file.relative_to(path).parts
        for folder in ("classes", "triggers", "permissionsets"):
            if folder in parts[:-1]:
                name = file.name
                if folder == "permissionsets" and name.endswith(".permissionset-meta.xml"):
                    name = name.removesuffix("-meta.xml")
                files[f"{folder}/{name}"] = file.read_bytes()
        for folder in ("lwc", "aura"):
            if folder in parts[:-2] and "__tests__" not in parts:
                index = parts.index(folder)
                files["/".join(parts[index:])] = file.read_bytes()
    for object_dir in sorted(p for p in path.rglob("objects/*") if p.is_dir()):
        composed = _compose_object(object_dir)
        if composed is not None:
            files[f"objects/{object_dir.name}.object"] = composed
    return files


def seed_metadata(org: Any, path: Path | str) -> list[tuple[str, str]]:
    """Deploy a directory (metadata format with package.xml, or a simple source-format tree) without tests.

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
        files = _source_to_metadata_dir(root)
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
