"""The release record as one self-contained HTML page (jinja2, autoescape on; inline CSS and SVG, no scripts, no
network loads)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from cutover.report.render_charts import metric_chart, timeline_chart
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


def render_html(record: Mapping[str, Any]) -> str:
    return _html_template().render(r=record)


@functools.cache
def _html_template() -> Any:
    """Compiled once per process (compiling costs more than rendering)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cutover.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(duration=duration, short_time=short_time, identity=identity, pct=coverage_pct)
    env.globals.update(
        operators=operators,
        runbook_line=runbook_line,
        audit_lines=audit_lines,
        is_link=_is_link,
        window_line=window_line,
        checklist_signers=checklist_signers,
        checklist_requirement=checklist_requirement,
        alert_row=alert_row,
        alert_headers=ALERT_HEADERS,
        metric_chart=metric_chart,
        timeline_chart=timeline_chart,
        signature_text=signature_text,
    )
    return env.get_template("record.html.j2")


def _is_link(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^\s\"'<>]+$", value) is not None
