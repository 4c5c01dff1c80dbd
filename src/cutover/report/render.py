"""Render a release record (`record.build_record`) as Markdown (`render_md`), self-contained HTML (`render_html`,
its charts in `render_charts`), JSON or JUnit XML (`render_junit`); shared wording in `render_common`.

Every renderer reads only the record dict, which is already redacted; each one still escapes for its own syntax
(Markdown table cells, HTML through jinja2 autoescape, XML through ElementTree), because evidence text may hold
anything, `<script>` included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cutover.report.render_common import (
    ALERT_HEADERS,
    alert_row,
    audit_lines,
    checklist_requirement,
    checklist_signers,
    coverage_pct,
    duration,
    identity,
    operators,
    runbook_line,
    short_time,
    signature_text,
    window_line,
)
from cutover.report.render_html import render_html
from cutover.report.render_junit import render_junit
from cutover.report.render_md import md, render_markdown

__all__ = [
    "ALERT_HEADERS",
    "FORMATS",
    "alert_row",
    "audit_lines",
    "checklist_requirement",
    "checklist_signers",
    "coverage_pct",
    "duration",
    "identity",
    "md",
    "operators",
    "render",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "runbook_line",
    "short_time",
    "signature_text",
    "window_line",
]

FORMATS = ("md", "html", "json", "junit")


def render(record: Mapping[str, Any], fmt: str) -> str:
    renderers: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "md": render_markdown,
        "html": render_html,
        "json": render_json,
        "junit": render_junit,
    }
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    return renderers[fmt](record)


def render_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
