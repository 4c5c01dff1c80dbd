"""Regenerate `orgsim/data/metadata_types.json` from the sf CLI's own metadata registry.

The table tells orgsim, for every metadata type the CLI knows, its folder (`directoryName`), file suffix, whether it
lives in folders or is a bundle, and its child types (with the XML element they travel as inside the parent file).
orgsim never reads the CLI's files at run time; run this after upgrading the CLI:

    .venv/bin/python -m orgsim.metadata.registry_gen \
        .tools/node_modules/@salesforce/source-deploy-retrieve/lib/src/registry/metadataRegistry.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "data" / "metadata_types.json"
# Content-plus-meta-file adapters: the metadata format carries `<name>.<suffix>-meta.xml` next to the content.
_META_FILE_ADAPTERS = ("matchingContentFile", "mixedContent")


def compact(registry: dict) -> list[dict]:
    types = registry["types"]
    rows = []
    for entry in sorted(types.values(), key=lambda item: item["name"]):
        adapter = (entry.get("strategies") or {}).get("adapter")
        row: dict = {"name": entry["name"], "dir": entry.get("directoryName", "")}
        if entry.get("suffix"):
            row["suffix"] = entry["suffix"]
        if entry.get("inFolder"):
            row["inFolder"] = True
            row["folderType"] = types[entry["folderType"]]["name"]
        if entry.get("folderContentType"):
            row["folderContentType"] = types[entry["folderContentType"]]["name"]
        bundle_adapter = adapter in ("bundle", "digitalExperience", "uiBundles")
        if bundle_adapter or (adapter == "mixedContent" and not entry.get("suffix")):
            row["bundle"] = True
        if adapter in _META_FILE_ADAPTERS:
            row["metaFile"] = True
        children = (entry.get("children") or {}).get("types") or {}
        if children:
            row["children"] = [
                {
                    "name": child["name"],
                    "element": child.get("xmlElementName") or child["directoryName"],
                    "id": child.get("uniqueIdElement") or "fullName",
                }
                for child in sorted(children.values(), key=lambda item: item["name"])
            ]
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    registry = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    rows = compact(registry)
    OUTPUT.write_text(json.dumps(rows, indent=0, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} metadata types to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
