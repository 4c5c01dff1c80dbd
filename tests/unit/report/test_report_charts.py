"""The auditor's record (issue 9.5): monitoring charts as inline SVG (a point per sample, the threshold line, breaches
and alerts marked), the audit head's publications, and each sign-off's verified signer or "unsigned"."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from cutover.engine import Engine, StepContext, StepOutcome, StepSpec
from cutover.engine.model import SignoffRule
from cutover.engine.signoffs import VerifiedSignature
from cutover.notify import AlertDesk, Notifier, OutboxChannel
from cutover.report import build_record, render
from cutover.report.render_charts import HEIGHT, TOP, metric_chart, timeline_chart
from cutover.runbook.models import Role

SVG = "{http://www.w3.org/2000/svg}"
SOQL = [30.0, 55.0, 85.0, 60.0]  # percent of the limit at each sample; the third crosses 80


def _classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def _series(**changes: Any) -> dict[str, Any]:
    points = [
        {"n": i + 1, "at": f"2026-12-05T20:0{i}:00Z", "value": v, "breach": "HIGH" if v >= 80 else None}
        for i, v in enumerate(SOQL)
    ]
    base = {
        "metric": "soql",
        "title": "SOQL queries",
        "unit": "%",
        "threshold": 80.0,
        "points": points,
        "alerts": [{"id": "al-1", "at": "2026-12-05T20:02:01Z", "severity": "HIGH", "sample": 3}],
    }
    return base | changes


def test_the_chart_has_a_point_per_sample_the_threshold_line_and_the_breach_marked() -> None:
    svg = ET.fromstring(str(metric_chart(_series())))
    points = [c for c in svg.iter(f"{SVG}circle") if "point" in _classes(c)]
    assert [float(c.get("data-value") or 0) for c in points] == SOQL
    breaches = [c for c in points if "breach" in _classes(c)]
    assert [c.get("data-n") for c in breaches] == ["3"] and breaches[0].get("data-breach") == "HIGH"
    [threshold] = [line for line in svg.iter(f"{SVG}line") if "threshold" in _classes(line)]
    assert threshold.get("data-threshold") == "80.0"
    # the y axis runs 0..100 %: 80 % is a fifth of the plot height below the top; the breach is drawn above it
    plot_h = HEIGHT - TOP - 40
    assert float(threshold.get("y1") or 0) == pytest.approx(TOP + plot_h * 0.2, abs=0.1)
    assert float(breaches[0].get("cy") or 0) < float(threshold.get("y1") or 0)
    assert all(float(c.get("cy") or 0) > float(threshold.get("y1") or 0) for c in points if c not in breaches)
    # x grows with time; the line joins the four samples
    xs = [float(c.get("cx") or 0) for c in points]
    assert xs == sorted(xs) and len(set(xs)) == 4
    [line] = list(svg.iter(f"{SVG}polyline"))
    assert len((line.get("points") or "").split()) == 4
    [alert] = [g for g in svg.iter(f"{SVG}g") if "alert" in _classes(g)]
    assert alert.get("data-alert") == "al-1" and alert.get("data-severity") == "HIGH"
    [alert_line] = [x for x in alert.iter(f"{SVG}line")]
    assert float(alert_line.get("x1") or 0) == pytest.approx(xs[2])  # at the sample that raised it
    assert svg.get("data-samples") == "4" and svg.get("data-breaches") == "1"


def test_a_chart_without_threshold_or_breach_has_neither_and_escapes_its_text() -> None:
    series = _series(title="<script>x</script>", threshold=None, alerts=[], unit="logs")
    series["points"] = [dict(p, breach=None) for p in series["points"]]
    text = str(metric_chart(series))
    assert "<script" not in text and "&lt;script&gt;" in text
    svg = ET.fromstring(text)
    assert not [e for e in svg.iter() if "threshold" in _classes(e) or "breach" in _classes(e)]
    assert not [g for g in svg.iter(f"{SVG}g") if "alert" in _classes(g)]


def test_the_timeline_draws_a_bar_per_step_that_ran() -> None:
    steps = [
        {"id": "a", "status": "passed", "started": "2026-12-05T20:00:00Z", "finished": "2026-12-05T20:01:00Z"},
        {"id": "b", "status": "failed", "started": "2026-12-05T20:01:00Z", "finished": "2026-12-05T20:03:00Z"},
        {"id": "c", "status": "pending", "started": None, "finished": None},
    ]
    svg = ET.fromstring(str(timeline_chart(steps)))
    bars = [r for r in svg.iter(f"{SVG}rect") if "bar" in _classes(r)]
    assert [b.get("data-step") for b in bars] == ["a", "b"]
    assert float(bars[1].get("width") or 0) == pytest.approx(2 * float(bars[0].get("width") or 0), rel=0.01)
    assert timeline_chart([steps[2]]) is None


# ---------------------------------------------------------------------------------------------------------------------
# the record, built from a run's events
# ---------------------------------------------------------------------------------------------------------------------


def _sample(n: int, soql: float, api: float, small: float) -> dict[str, Any]:
    readings = [
        {"metric": "soql", "title": "SOQL queries", "source": "snapshot", "value": soql, "threshold": 80.0},
        {"metric": "org:DailyApiRequests", "title": "DailyApiRequests", "value": api, "threshold": 80.0},
        {"metric": "org:Small", "title": "Small", "value": small, "threshold": 80.0},
        {"metric": "apex-failures", "title": "Apex failures", "value": None, "unit": "logs"},
    ]
    breaches = [{"metric": "soql", "severity": "HIGH", "value": soql, "threshold": 80.0}] if soql >= 80 else []
    return {"window": "w2", "n": n, "at": f"2026-12-05T20:0{n}:00Z", "readings": readings, "breaches": breaches}


def _monitor(tmp_path: Path) -> Any:
    def run(ctx: StepContext) -> StepOutcome:
        ctx.event("monitor.sample", **{**_sample(1, 99.0, 99.0, 1.0), "window": "w1"})  # an earlier window
        notifier = Notifier(
            [OutboxChannel("pager", "pagerduty", "on-call", tmp_path / "pager.jsonl")],
            outbox=tmp_path / "outbox.jsonl",
            cutover_dir=ctx.store.cutover_dir,
        )
        desk = AlertDesk(
            store=ctx.store,
            run_id=ctx.run_id,
            step_id=ctx.step.id,
            notifier=notifier,
            escalation_rows=[{"severity": "HIGH", "response_time": "1h", "path": ["lead"]}],
            roles={"lead": Role(title="Deployment Lead", name="Dana Lee")},
        )
        for n, soql in enumerate(SOQL, start=1):
            ctx.event("monitor.sample", **_sample(n, soql, 40.0 + 5 * n, 1.0))
            if soql >= 80:
                desk.raise_alert(
                    key="w2/soql", severity="HIGH", title="SOQL 85%", body="b", data={"metric": "soql", "sample": n}
                )
        return StepOutcome.passed("watched")

    return type("Monitor", (), {"idempotent": True, "run": staticmethod(run)})()


@pytest.fixture
def record(tmp_path: Path) -> Mapping[str, Any]:
    engine = Engine(tmp_path)
    try:
        run = engine.create_run(
            "prod",
            [
                StepSpec("signoff.qa", "preflight", "QA sign-off", "signoff", kind="signoff",
                         signoff=SignoffRule(roles=("qa_lead", "security_reviewer"), min_signers=2)),
                StepSpec("monitor.limits", "monitor", "Monitor governor limits", "monitor.limits"),
            ],
        )  # fmt: skip
        signature = VerifiedSignature(
            signer="Sam Secure",
            fingerprint="SHA256:abcDEF0123456789abcDEF0123456789abcDEF01234",
            principal="sam@example.com",
            statement="{}",
            signature="-----BEGIN SSH SIGNATURE-----",
            statement_sha256="f" * 64,
        )
        engine.signoff(run.id, "signoff.qa", by="Sam Secure", role="security_reviewer", signature=signature)
        engine.signoff(run.id, "signoff.qa", by="Quinn QA", role="qa_lead")
        done = lambda ctx: StepOutcome.passed("signed")  # noqa: E731
        signoff = type("S", (), {"idempotent": True, "run": staticmethod(done)})()
        engine.execute(run.id, {"signoff.qa": signoff, "monitor.limits": _monitor(tmp_path)})
    finally:
        engine.close()
    return build_record(tmp_path)


def test_the_series_come_from_the_last_window_with_breaches_and_alerts(record: Mapping[str, Any]) -> None:
    series = {s["metric"]: s for s in record["monitoring"]["series"]}
    # org-wide limits only when they came near their threshold; metrics without a number are not charted
    assert set(series) == {"soql", "org:DailyApiRequests"}
    soql = series["soql"]
    assert [p["value"] for p in soql["points"]] == SOQL  # the earlier window's 99 % is not mixed in
    assert [p["breach"] for p in soql["points"]] == [None, None, "HIGH", None]
    assert soql["threshold"] == 80.0 and soql["max"] == 85.0 and soql["breaches"] == 1
    assert [(a["severity"], a["sample"]) for a in soql["alerts"]] == [("HIGH", 3)]


def test_the_html_draws_the_charts_inline_and_loads_nothing(record: Mapping[str, Any]) -> None:
    html = render(record, "html")
    charts = re.findall(r'<svg class="chart metric-chart"[^>]*data-metric="([^"]+)"', html)
    assert charts == ["soql", "org:DailyApiRequests"]
    assert 'id="monitoring-charts"' in html and 'class="chart timeline-chart"' in html
    assert "@media print" in html and "@page" in html
    lowered = html.lower()
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered and "url(" not in lowered
    assert not re.search(r"\ssrc=", lowered)
    assert {h[:1] for h in re.findall(r'href="([^"]+)"', html)} == {"#"}  # only links within the page


def test_each_signoff_shows_its_verified_signer_or_unsigned(record: Mapping[str, Any]) -> None:
    by = {s["by"]: s for s in record["signoffs"]}
    assert by["Sam Secure"]["signed"] is True and by["Sam Secure"]["fingerprint"].startswith("SHA256:abc")
    assert by["Quinn QA"]["signed"] is False and by["Quinn QA"]["signer"] is None
    html = render(record, "html")
    assert 'Sam Secure<br><span class="mono">SHA256:abcDEF0123456789abcDEF0123456789abcDEF01234</span>' in html
    assert '<td class="unsigned">unsigned</td>' in html
    markdown = render(record, "md")
    assert "SSH-signed by Sam Secure (key SHA256:abcDEF0123456789abcDEF0123456789abcDEF01234)" in markdown
    assert "Quinn QA (qa_lead) at " in markdown and "unsigned" in markdown


def test_the_record_lists_where_the_audit_head_was_published(record: Mapping[str, Any]) -> None:
    notes = [a for a in record["anchors"] if a["kind"] == "notification"]
    assert len(notes) == 1 and notes[0]["where"].startswith("notification alert ") and notes[0]["published"]
    assert "pagerduty on-call" in notes[0]["where"]
    assert len(notes[0]["hash"]) == 64 and notes[0]["seq"] < notes[0]["event"]
    html = render(record, "html")
    assert 'id="anchors"' in html and notes[0]["hash"] in html
    markdown = render(record, "md")
    assert "## Audit head anchored off this machine" in markdown and notes[0]["hash"] in markdown
    assert "| SOQL queries | 4 | 30 → 55 → 85! → 60 | 80% | 1 | " in markdown  # the charts' data, as text


def _anchor_event_record(tmp_path: Path) -> Mapping[str, Any]:
    engine = Engine(tmp_path)
    try:
        run = engine.create_run("prod", [StepSpec("a", "preflight", "A", "x")])
        with engine.store.transaction() as tx:
            tx.append_event(
                run.id,
                "anchor.published",
                None,
                {
                    "head": {"seq": 1, "hash": "e" * 64},
                    "at": "2026-12-05T20:00:00Z",
                    "reason": "paused",
                    "published": [
                        {"where": "git-notes", "ref": "refs/notes/cutover", "on": "tag v3.0.0", "remote": "origin",
                         "written": True, "pushed": False, "warning": "git push origin refs/notes/cutover failed: x"},
                    ],
                    "warnings": [],
                },
            )  # fmt: skip
    finally:
        engine.close()
    return build_record(tmp_path)


def test_a_git_anchor_that_was_not_pushed_says_so(tmp_path: Path) -> None:
    [anchor] = _anchor_event_record(tmp_path)["anchors"]
    assert anchor["kind"] == "git-notes" and anchor["seq"] == 1 and anchor["published"] is False
    assert anchor["where"] == "git notes refs/notes/cutover on tag v3.0.0, this clone only (not pushed)"
    assert anchor["warning"].startswith("git push origin")
