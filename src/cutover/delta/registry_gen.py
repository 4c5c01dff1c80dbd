"""Regenerate `cutover/delta/metadata_registry.json` from the sf CLI's own metadata registry.

The table tells the delta resolver, for every metadata type the CLI knows, its folder (`dir`), file suffix, whether
its folder name alone decides the type (`strict`), how its files make one component (`adapter`: bundle, mixed
content, decomposed ...), whether it lives in folders, and its child types (folder and suffix in the parent's
source folder, addressable or not). cutover never reads the CLI's files at run time; run this after upgrading it:

    .venv/bin/python -m cutover.delta.registry_gen \\
        .tools/node_modules/@salesforce/source-deploy-retrieve/lib/src/registry/metadataRegistry.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "metadata_registry.json"
Row = dict[str, object]


def _type_row(entry: dict[str, object], types: dict[str, dict[str, object]]) -> Row:
    strategies = entry.get("strategies") or {}
    assert isinstance(strategies, dict)
    row: Row = {"dir": entry.get("directoryName", "")}
    for key, out in (("suffix", "suffix"), ("legacySuffix", "legacySuffix"), ("metaFileSuffix", "metaFileSuffix")):
        if entry.get(key):
            row[out] = entry[key]
    if entry.get("strictDirectoryName"):
        row["strict"] = True
    if strategies.get("adapter"):
        row["adapter"] = strategies["adapter"]
    if strategies.get("decomposition"):
        row["decomposition"] = strategies["decomposition"]
    if strategies.get("transformer") == "nonDecomposed":  # one file holding many addressable children (labels)
        row["nonDecomposed"] = True
    if entry.get("inFolder"):
        row["inFolder"] = True
        row["folderType"] = types[str(entry["folderType"])]["name"]
    if entry.get("folderContentType"):
        row["folderContentType"] = types[str(entry["folderContentType"])]["name"]
    children = (entry.get("children") or {}).get("types") or {}  # type: ignore[union-attr]
    if children:
        row["children"] = {
            str(child["directoryName"]): {
                "name": child["name"],
                "suffix": child.get("suffix", ""),
                "addressable": child.get("isAddressable", True) is not False,
                "element": child.get("xmlElementName") or child["directoryName"],
                "id": child.get("uniqueIdElement") or "fullName",
            }
            for child in sorted(children.values(), key=lambda item: item["name"])
        }
    return row


def compact(registry: dict[str, dict[str, object]]) -> dict[str, object]:
    types = registry["types"]
    rows = {str(entry["name"]): _type_row(entry, types) for entry in types.values()}  # type: ignore[index]
    suffixes = {suffix: types[type_id]["name"] for suffix, type_id in registry["suffixes"].items() if type_id in types}
    by_suffix: dict[str, list[str]] = {}
    for entry in types.values():
        for key in ("suffix", "legacySuffix"):
            if entry.get(key):  # type: ignore[union-attr]
                by_suffix.setdefault(str(entry[key]), []).append(str(entry["name"]))  # type: ignore[index]
    for suffix, names in by_suffix.items():
        suffixes.setdefault(suffix, names[0])
    return {
        "types": dict(sorted(rows.items())),
        "suffixes": dict(sorted(suffixes.items())),
        "shared_suffixes": {s: sorted(n) for s, n in sorted(by_suffix.items()) if len(n) > 1},
        "strict_dirs": {d: types[type_id]["name"] for d, type_id in sorted(registry["strictDirectoryNames"].items())},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    table = compact(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    OUTPUT.write_text(json.dumps(table, indent=0, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {len(table['types'])} metadata types to {OUTPUT}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
