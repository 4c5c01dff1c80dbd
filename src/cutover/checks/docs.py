"""Documentation gates: README names the release version, CHANGELOG has its section, known issues are written down."""

from __future__ import annotations

import re
from pathlib import Path

from cutover.checks.result import Evidence, GateResult, failed, passed

KNOWN_ISSUES_HEADING = re.compile(r"(?im)^#{1,6}\s*known issues\b")
KNOWN_ISSUES_FILES = ("KNOWN_ISSUES.md", "KNOWN-ISSUES.md", "docs/known-issues.md", "docs/KNOWN_ISSUES.md")


def _version_pattern(version: str) -> re.Pattern[str]:
    # "3.0.0" must not match inside "13.0.0", "3.0.01" or a pre-release "3.0.0-rc.1"; a leading "v" is fine.
    return re.compile(rf"(?<![\w.])v?{re.escape(version.removeprefix('v'))}(?![\w]|\.\d|[-+][0-9A-Za-z])")


def check_readme_version(
    gate_id: str, title: str, project: Path, *, version: str, readme: str = "README.md"
) -> GateResult:
    path = project / readme
    if not path.is_file():
        return failed(gate_id, title, f"{readme} not found")
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if _version_pattern(version).search(line):
            return passed(
                gate_id,
                title,
                f"{readme}:{number} mentions {version}",
                Evidence.text("readme-version.txt", f"{readme}:{number}: {line}\n"),
            )
    found = sorted(set(re.findall(r"(?<![\w.])v?\d+\.\d+\.\d+(?![\w])", text)))
    hint = f" (it mentions {', '.join(found[:3])})" if found else ""
    return failed(gate_id, title, f"{readme} does not mention version {version}{hint}; update it for this release")


def check_changelog(
    gate_id: str, title: str, project: Path, *, version: str, changelog: str = "CHANGELOG.md"
) -> GateResult:
    path = project / changelog
    if not path.is_file():
        return failed(gate_id, title, f"{changelog} not found")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    heading = re.compile(rf"^#{{1,3}}\s*\[?{_version_pattern(version).pattern}\]?")
    for number, line in enumerate(lines, start=1):
        if heading.search(line):
            body = []
            for following in lines[number:]:
                if re.match(r"^#{1,2}\s", following):
                    break
                if following.strip():
                    body.append(following)
            if not any(item.lstrip().startswith(("-", "*", "+")) or item.startswith("###") for item in body):
                return failed(gate_id, title, f"{changelog}:{number}: the {version} section has no release notes")
            return passed(
                gate_id,
                title,
                f"{changelog}:{number}: {line.strip()} ({len(body)} line(s) of notes)",
                Evidence.text("changelog-section.md", "\n".join([line, *body]) + "\n"),
            )
    return failed(
        gate_id,
        title,
        f"{changelog} has no section for {version} (expected a heading like `## [{version}] - YYYY-MM-DD`)",
    )


def check_known_issues(
    gate_id: str, title: str, project: Path, *, runbook_known_issues: int = 0, declared_none: bool = False
) -> GateResult:
    """Known issues live in the runbook (`known_issues`), a KNOWN_ISSUES file, or a "Known Issues" section.
    `declared_none`: the runbook writes `known_issues: []` itself, which says there are none."""
    places: list[str] = []
    if runbook_known_issues:
        places.append(f"runbook ({runbook_known_issues} issue(s))")
    elif declared_none:
        places.append("runbook (known_issues: [], none)")
    for name in KNOWN_ISSUES_FILES:
        if (project / name).is_file() and (project / name).read_text(encoding="utf-8", errors="replace").strip():
            places.append(name)
    for name in ("README.md", "CHANGELOG.md"):
        path = project / name
        if path.is_file() and KNOWN_ISSUES_HEADING.search(path.read_text(encoding="utf-8", errors="replace")):
            places.append(f"{name} (Known Issues section)")
    if places:
        return passed(gate_id, title, "known issues documented in " + ", ".join(places))
    return failed(
        gate_id,
        title,
        "no known issues documented: add `known_issues` to the runbook, a docs/known-issues.md, "
        "or a 'Known Issues' section in README.md (write 'None' if there are none)",
    )
