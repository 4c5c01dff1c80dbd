"""What `cutover init` finds in an SFDX project (read-only): package directories, API version, npm scripts and which
kinds of metadata the project holds. `inspect_project(project_dir)` never runs anything; the org half (identity and
scheduled jobs) is `cutover.runbook.init_org`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cutover.errors import UsageError

#: package.json script names, in order of preference, for each project command gate.
SCRIPT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "test_all": ("test:all", "test"),
    "lint": ("lint", "lint:all", "eslint"),
    "fmt_check": ("fmt:check", "format:check", "prettier:verify", "prettier:check", "format:verify", "fmt:verify"),
    "test_unit": ("test:unit:coverage", "test:coverage", "test:unit", "test:lwc"),
}
_NPM_DEFAULT_TEST = "no test specified"  # `npm init`'s placeholder test script, which always exits 1
_JEST_CONFIGS = ("jest.config.js", "jest.config.cjs", "jest.config.mjs", "jest.config.ts", "jest.config.json")
_SKIP_DIRS = {"node_modules", ".git", ".sf", ".sfdx", ".cutover"}


@dataclass(frozen=True)
class ProjectFacts:
    package_dirs: list[str]  # the default package directory first
    api_version: str | None
    manifest: str | None  # manifest/package.xml when it exists
    scripts: dict[str, str] = field(default_factory=dict)  # package.json scripts (empty: no package.json)
    has_package_json: bool = False
    commands: dict[str, list[str]] = field(default_factory=dict)  # ProjectCommands key -> argv
    has_apex: bool = False
    has_custom_objects: bool = False
    has_permission_sets: bool = False
    has_lwc: bool = False
    has_jest: bool = False
    readme: str | None = None
    changelog: str | None = None
    destructive_pre: str | None = None  # manifest/destructiveChangesPre.xml
    destructive_post: str | None = None  # manifest/destructiveChangesPost.xml (or destructiveChanges.xml)
    version: str | None = None  # the newest CHANGELOG version, else package.json's, else the package's versionNumber
    metadata_counts: dict[str, int] = field(default_factory=dict)  # folder kind -> files, for the summary line
    other_metadata: dict[str, int] = field(default_factory=dict)  # file suffix (flow, layout, ...) -> files

    def summary(self) -> str:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(self.metadata_counts.items()) if n) or "no metadata yet"
        if self.other_metadata:
            top = sorted(self.other_metadata.items(), key=lambda item: (-item[1], item[0]))
            kinds += "; other metadata: " + ", ".join(f"{k} {n}" for k, n in top[:8])
            kinds += f" and {len(top) - 8} more kinds" if len(top) > 8 else ""
        npm = (
            f"npm scripts used: {', '.join(self.commands) or 'none'}"
            if self.has_package_json
            else "no package.json (no npm gates)"
        )
        return f"package directories {', '.join(self.package_dirs)}; {kinds}; {npm}"


def read_sfdx_project(project_dir: Path) -> tuple[list[str], str | None]:
    """Package directories (default first) and sourceApiVersion of sfdx-project.json; a UsageError when unreadable."""
    path = project_dir / "sfdx-project.json"
    if not path.is_file():
        raise UsageError(
            f"no sfdx-project.json in {project_dir}",
            hint="run cutover init in the Salesforce DX project folder (or pass --project-dir)",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not readable JSON ({exc})") from None
    entries = data.get("packageDirectories") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: packageDirectories is missing or empty")
    dirs: list[tuple[bool, str]] = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and entry["path"].strip():
            dirs.append((bool(entry.get("default")), entry["path"].strip().strip("/").removeprefix("./")))
    if not dirs:
        raise UsageError(f"{path}: no packageDirectories entry has a path")
    ordered = [p for d, p in dirs if d] + [p for d, p in dirs if not d]
    version = data.get("sourceApiVersion")
    api = str(version) if isinstance(version, str | int | float) and str(version).strip() else None
    if api is not None and re.fullmatch(r"\d{2,3}", api):
        api += ".0"
    if api is not None and not re.fullmatch(r"\d{2,3}\.0", api):
        api = None  # the runbook pins only versions sf accepts; an odd value is left to sf's own default
    return list(dict.fromkeys(ordered)), api


def _package_version(project_dir: Path) -> object:
    """package.json `version`, else the default package directory's `versionNumber` (None when neither)."""
    for name, key in (("package.json", "version"), ("sfdx-project.json", "packageDirectories")):
        try:
            data = json.loads((project_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        value = data.get(key) if isinstance(data, dict) else None
        if key == "packageDirectories" and isinstance(value, list):
            numbers = [d.get("versionNumber") for d in value if isinstance(d, dict)]
            value = next((n for n in numbers if n), None)
        if value:
            return value
    return None


def _read_scripts(project_dir: Path) -> tuple[bool, dict[str, str]]:
    path = project_dir / "package.json"
    if not path.is_file():
        return False, {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not readable JSON ({exc})") from None
    scripts = data.get("scripts") if isinstance(data, dict) else None
    if not isinstance(scripts, dict):
        return True, {}
    return True, {str(k): str(v) for k, v in scripts.items() if isinstance(v, str)}


def _unit_test_argv(script: str, body: str) -> list[str] | None:
    """`npm run <script>` made to write jest's json-summary (the LWC coverage gate reads it); None for a runner that
    is not jest (we cannot make it write the summary)."""
    if "jest" not in body:
        return None
    extra = [] if "--coverage" in body else ["--coverage"]
    # sfdx-lwc-jest hands options after its own `--` to jest; plain jest takes them directly.
    # (npm appends our arguments at the end: after the script's own `--`, if it has one, they already reach jest).
    wrapped = "lwc-jest" in body and not re.search(r"(^|\s)--(\s|$)", body)
    passthrough = ["--"] if wrapped else []
    return ["npm", "run", script, "--", *extra, *passthrough, "--coverageReporters=json-summary"]


def npm_commands(scripts: dict[str, str], *, has_jest: bool) -> dict[str, list[str]]:
    """The project command gates for the scripts that exist: ProjectCommands key -> argv."""
    out: dict[str, list[str]] = {}
    for key, candidates in SCRIPT_CANDIDATES.items():
        for name in candidates:
            body = scripts.get(name)
            if body is None or (name == "test" and _NPM_DEFAULT_TEST in body):
                continue
            if key == "test_unit":
                if not has_jest:
                    break
                argv = _unit_test_argv(name, body)
                if argv is None:
                    continue
                out[key] = argv
            else:
                out[key] = ["npm", "run", name]
            break
    if "test_all" in out and out["test_all"][2:3] == out.get("test_unit", [])[2:3]:
        del out["test_all"]  # the same script twice would run the tests twice
    return out


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    if not root.is_dir():
        return out
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                if entry.name not in _SKIP_DIRS and not entry.is_symlink():
                    stack.append(entry)
            else:
                out.append(entry)
    return out


def _metadata(project_dir: Path, package_dirs: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    counts = {"Apex classes": 0, "triggers": 0, "custom objects": 0, "permission sets": 0, "LWC bundles": 0}
    other: dict[str, int] = {}
    lwc_bundles: set[Path] = set()
    for package in package_dirs:
        for path in _walk(project_dir / package):
            name = path.name
            if name.endswith(".cls-meta.xml"):
                counts["Apex classes"] += 1
            elif name.endswith(".trigger-meta.xml"):
                counts["triggers"] += 1
            elif name.endswith(".object-meta.xml") and name.removesuffix(".object-meta.xml").endswith(
                ("__c", "__e", "__mdt", "__b", "__x")
            ):
                counts["custom objects"] += 1
            elif name.endswith(".permissionset-meta.xml"):
                counts["permission sets"] += 1
            elif name.endswith(".js-meta.xml") and path.parent.parent.name == "lwc":
                lwc_bundles.add(path.parent)
            elif name.endswith("-meta.xml") and "." in name.removesuffix("-meta.xml"):
                kind = name.removesuffix("-meta.xml").rsplit(".", 1)[1]
                other[kind] = other.get(kind, 0) + 1
    counts["LWC bundles"] = len(lwc_bundles)
    return counts, other


_VERSION_HEADING = re.compile(r"^#{1,3}\s*\[?v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)\]?", re.MULTILINE)


def release_version(project_dir: Path, changelog: str | None, package_version: object) -> str | None:
    """The version being released, as the project states it: the newest CHANGELOG heading (`## 1.5.0`,
    `## [1.5.0] - date`), else package.json's `version`, else sfdx-project.json's versionNumber (`0.9.0.NEXT`)."""
    if changelog:
        try:
            match = _VERSION_HEADING.search((project_dir / changelog).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            match = None
        if match:
            return match.group(1)
    text = str(package_version or "")
    match = re.match(r"^v?(\d+\.\d+\.\d+)", text)
    return match.group(1) if match else None


def _first_file(project_dir: Path, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if (project_dir / n).is_file()), None)


def inspect_project(project_dir: Path) -> ProjectFacts:
    project_dir = Path(project_dir)
    package_dirs, api_version = read_sfdx_project(project_dir)
    has_package_json, scripts = _read_scripts(project_dir)
    changelog = _first_file(project_dir, ("CHANGELOG.md", "changelog.md", "CHANGES.md"))
    counts, other = _metadata(project_dir, package_dirs)
    has_jest = _first_file(project_dir, _JEST_CONFIGS) is not None or any("jest" in b for b in scripts.values())
    has_lwc = counts["LWC bundles"] > 0
    return ProjectFacts(
        package_dirs=package_dirs,
        api_version=api_version,
        manifest="manifest/package.xml" if (project_dir / "manifest" / "package.xml").is_file() else None,
        destructive_pre=_first_file(project_dir, ("manifest/destructiveChangesPre.xml",)),
        destructive_post=_first_file(
            project_dir, ("manifest/destructiveChangesPost.xml", "manifest/destructiveChanges.xml")
        ),
        scripts=scripts,
        has_package_json=has_package_json,
        commands=npm_commands(scripts, has_jest=has_jest and has_lwc),
        has_apex=counts["Apex classes"] + counts["triggers"] > 0,
        has_custom_objects=counts["custom objects"] > 0,
        has_permission_sets=counts["permission sets"] > 0,
        has_lwc=has_lwc,
        has_jest=has_jest,
        readme=_first_file(project_dir, ("README.md", "readme.md", "README")),
        changelog=changelog,
        version=release_version(project_dir, changelog, _package_version(project_dir)),
        metadata_counts=counts,
        other_metadata=other,
    )
