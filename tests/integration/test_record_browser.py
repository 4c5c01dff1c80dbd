"""Issue 9.5: the release record opened in a real headless Chromium (Debian's `chromium`): the timeline, the
sign-offs and the monitoring charts are *visible* (laid out with a size, not hidden, not covered, inside the page),
the page requests nothing from the network, and it prints.

The record comes from a real monitoring window (real sf CLI against orgsim, SOQL rising past its 80 % threshold: a
breach and an alert) plus a sign-off. A copy of the HTML gets a small script (the record itself has none) that
measures each section and writes the verdict into the DOM, read back with `--dump-dom`; the page's own requests are
read from Chromium's net log (requests whose initiator is the page, not the browser's own background traffic), from
the Resource Timing entries and from a Content-Security-Policy that reports every load attempt.

Chromium is installed by `scripts/ensure-chromium.sh` when it is missing and that is possible (root, apt-get);
otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_monitor_against_orgsim import RUNBOOK, start_org

from cutover.cli import main
from cutover.engine import Engine
from cutover.errors import StepFailed
from cutover.runbook import load_runbook
from cutover.runbook.plan import build_plan
from cutover.steps import build_executors, plan_to_specs
from cutover.steps.registry import StepServices

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ENSURE = ROOT / "scripts" / "ensure-chromium.sh"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIGNOFF = """\
signoffs:
  - id: monitoring-reviewed
    title: Monitoring window reviewed
    role: qa_lead
    stage: monitor
    blocking: false
"""
#: Injected into a copy of the record: measures what a reader would see and writes it into the DOM.
PROBE = """
<script>
(function () {
  var violations = [];
  document.addEventListener("securitypolicyviolation", function (e) { violations.push(e.blockedURI); });
  function seen(el) {
    if (!el) return "missing";
    el.scrollIntoView({block: "start"});
    var r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (r.width < 1 || r.height < 1) return "zero size";
    if (cs.display === "none" || cs.visibility !== "visible" || parseFloat(cs.opacity) === 0) return "hidden";
    var page = document.documentElement.scrollWidth;
    if (r.left < -1 || r.right > page + 1) return "outside the page";
    var hit = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height / 2, 8));
    if (!hit || !(hit === el || el.contains(hit))) return "covered by " + (hit ? hit.tagName : "nothing");
    return "visible";
  }
  function all(selector) {
    var els = document.querySelectorAll(selector), out = [];
    for (var i = 0; i < els.length; i++) out.push(seen(els[i]));
    return out;
  }
  window.addEventListener("load", function () {
    var verdict = {
      timeline: seen(document.querySelector("#timeline svg.timeline-chart")),
      steps: seen(document.querySelector("#timeline table")),
      signoffs: seen(document.querySelector("table.signoffs")),
      charts: all("#monitoring-charts svg.metric-chart"),
      breach: seen(document.querySelector("svg.metric-chart circle.breach")),
      alert: seen(document.querySelector("svg.metric-chart g.alert path.alert-mark")),
      threshold: document.querySelector("svg.metric-chart line.threshold") ?
        document.querySelector("svg.metric-chart line.threshold").getBoundingClientRect().width : 0,
      points: document.querySelectorAll("svg.metric-chart[data-metric='soql'] circle.point").length,
      resources: performance.getEntriesByType("resource").map(function (e) { return e.name; }),
      violations: violations
    };
    var out = document.createElement("pre");
    out.id = "probe-verdict";
    out.textContent = JSON.stringify(verdict);
    document.body.appendChild(out);
  });
})();
</script>
"""
#: Every load the page could attempt is refused and reported (the probe itself is the only script allowed).
CSP = (
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'\">"
)


@pytest.fixture(scope="module")
def chromium() -> Path:
    done = subprocess.run(["bash", str(ENSURE)], capture_output=True, text=True, timeout=900, check=False)
    path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if not path:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no reason given"
        pytest.skip(f"Debian's chromium is not available and cannot be installed here: {why}")
    return Path(path)


def open_page(chromium: Path, page: Path, work: Path, *extra: str) -> tuple[str, list[str]]:
    """(the DOM after load, URLs the page itself requested) from one headless Chromium."""
    netlog = work / f"{page.stem}-net.json"
    argv = [
        str(chromium),
        *FLAGS,
        f"--user-data-dir={work / (page.stem + '-profile')}",
        f"--log-net-log={netlog}",
        "--virtual-time-budget=5000",
        *extra,
        page.as_uri(),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    """URLs requested on behalf of a page (initiator "null": a file:// page), not by the browser itself."""
    doc = json.loads(netlog.read_text())
    names = {value: key for key, value in doc["constants"]["logEventTypes"].items()}
    out = []
    for event in doc["events"]:
        params: dict[str, Any] = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:  # the job's end has no url
            continue
        if params.get("initiator") != "not an origin":
            out.append(str(params.get("url")))
    return out


def probe_copy(html: str, path: Path) -> Path:
    text = html.replace("<head>", "<head>\n" + CSP, 1).replace("</body>", PROBE + "</body>", 1)
    path.write_text(text, encoding="utf-8")
    return path


def verdict_of(dom: str) -> dict[str, Any]:
    match = re.search(r'<pre id="probe-verdict">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def record_html(tmp_path: Path, sf_bin: Path, sf_home: Path) -> Path:
    rising = {
        "start": "immediately",
        "limits": {},
        "snapshots": {"SOQL Queries": 300.0},  # climbs 5 points a second past 80 %: HIGH breaches, one alert
        "snapshot_interval_seconds": 1,
        "cap_percent": 90,
    }
    server = start_org(tmp_path, sf_bin, sf_home, {"limits_rising": rising})
    project = tmp_path / "project"
    project.mkdir()
    (project / "cutover.yaml").write_text(RUNBOOK.format(duration="12s", interval="4s") + SIGNOFF)
    runbook = load_runbook(project / "cutover.yaml")
    wanted = ("monitor.alert-routing", "monitor.limits", "signoff.monitoring-reviewed")
    plan = [p for p in build_plan(runbook) if p.id in wanted]
    specs = plan_to_specs(plan, runbook)
    engine = Engine(project)
    run_id = engine.create_run("production", specs).id
    executors = build_executors(plan, runbook, StepServices(project_dir=project, target_org="production"), wanted)
    try:
        with pytest.raises(StepFailed, match=r"monitor\.limits"):  # the threshold was crossed
            engine.execute(run_id, executors)
        engine.signoff(run_id, "signoff.monitoring-reviewed", by="Quinn QA", role="qa_lead", note="window reviewed")
    finally:
        engine.close()
        server.stop()
    out = tmp_path / "record.html"
    assert main(["-C", str(project), "report", run_id, "--format", "html", "--output-file", str(out)]) == 0
    return out


def test_timeline_signoffs_and_charts_are_visible_nothing_is_loaded_and_it_prints(
    chromium: Path,
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    sf_environment: dict[str, str],
) -> None:
    record = record_html(tmp_path, sf_bin, sf_home)
    html = record.read_text(encoding="utf-8")
    assert "<script" not in html.lower()  # the record itself runs nothing
    page = probe_copy(html, tmp_path / "probed.html")
    dom, requested = open_page(chromium, page, tmp_path, "--dump-dom")
    verdict = verdict_of(dom)
    assert verdict["timeline"] == "visible", verdict
    assert verdict["steps"] == "visible", verdict
    assert verdict["signoffs"] == "visible", verdict
    assert verdict["charts"] and set(verdict["charts"]) == {"visible"}, verdict
    assert verdict["breach"] == "visible" and verdict["alert"] == "visible", verdict
    assert verdict["threshold"] > 100, verdict  # the threshold line spans the plot
    assert verdict["points"] >= 3, verdict  # a point per sample of the 12 s window every 4 s
    assert "Quinn QA" in dom and "unsigned" in dom
    # nothing from the network: no resource, no load attempt, no request on the page's behalf
    assert verdict["resources"] == [] and verdict["violations"] == [], verdict
    assert requested == []

    # the same checks do see a load: the probe's policy reports it, the net log has it without the policy
    leaky = html.replace("</body>", '<img src="http://198.51.100.7/pixel.png" alt="">\n</body>', 1)
    page = probe_copy(leaky, tmp_path / "leaky.html")
    dom, _requested = open_page(chromium, page, tmp_path, "--dump-dom")
    assert "198.51.100.7" in " ".join(verdict_of(dom)["violations"])  # the same probe catches a load attempt
    plain = tmp_path / "plain.html"
    plain.write_text(leaky, encoding="utf-8")
    _dom, requested = open_page(chromium, plain, tmp_path, "--dump-dom")
    assert requested == ["http://198.51.100.7/pixel.png"]  # and so does the net log without the policy

    pdf = tmp_path / "record.pdf"
    open_page(chromium, record, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2
