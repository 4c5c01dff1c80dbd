"""Inline SVG charts for the HTML release record: no script, no external asset, readable when printed.

- `metric_chart(series)`: one monitored metric over the monitoring window (a `monitoring.series` item): a point per
  sample joined by a line, the threshold as a dashed line, breached samples as larger red points, and each alert
  raised for the metric as a marker above the sample that raised it. Every mark carries a `<title>` (a tooltip on
  screen, text for screen readers) and `data-*` attributes (what the tests read).
- `timeline_chart(steps)`: the run's steps as bars from start to finish, coloured by status.

Every text is escaped here (the SVG is inserted into the autoescaped template as markup).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from cutover.report.render_common import duration, short_time
from cutover.report.state import parse_time

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 20, 22, 40
STATUS_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#cf222e",
    "running": "#cf222e",
    "waived": "#9a6700",
    "waiting_signoff": "#9a6700",
    "skipped": "#8c959f",
    "pending": "#8c959f",
}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _fmt(value: float, unit: str) -> str:
    return f"{value:g}{'%' if unit == '%' else ' ' + unit if unit else ''}"


def _x_positions(times: Sequence[datetime | None], left: float, width: float) -> list[float]:
    """x of each point: by time when every point has one and they differ, else evenly by index."""
    known = [t for t in times if t is not None]
    if len(known) == len(times) and len(times) > 1 and max(known) > min(known):
        start, span = min(known), (max(known) - min(known)).total_seconds()
        return [left + width * (t - start).total_seconds() / span for t in known]
    if len(times) == 1:
        return [left + width / 2]
    return [left + width * i / (len(times) - 1) for i in range(len(times))]


def metric_chart(series: Mapping[str, Any]) -> Markup:
    points: list[Mapping[str, Any]] = list(series.get("points") or [])
    unit = str(series.get("unit") or "")
    threshold = series.get("threshold")
    title = str(series.get("title") or series.get("metric") or "metric")
    values = [float(p["value"]) for p in points]
    top_value = max([*values, float(threshold) if threshold is not None else 0.0, 1.0])
    y_max = 100.0 if unit == "%" and top_value <= 100 else top_value * 1.15
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - min(value, y_max) / y_max)

    xs = _x_positions([parse_time(p.get("at")) for p in points], LEFT, plot_w)
    label = f"{title}: {len(points)} sample(s), max {_fmt(max(values), unit) if values else 'n/a'}"
    if threshold is not None:
        label += f", threshold {_fmt(float(threshold), unit)}"
    breaches = sum(1 for p in points if p.get("breach"))
    label += f", {breaches} breach(es), {len(series.get('alerts') or [])} alert(s)"
    out = [
        f'<svg class="chart metric-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" data-metric="{_e(series.get("metric"))}" '
        f'data-samples="{len(points)}" data-breaches="{breaches}" aria-label="{_e(label)}">',
        f"<title>{_e(label)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="14">{_e(title)}</text>',
    ]
    # axes and grid
    ticks = [0.0, y_max / 4, y_max / 2, 3 * y_max / 4, y_max]
    for tick in ticks:
        y = _num(y_of(tick))
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}"/>')
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y}" text-anchor="end" dy="4">'
            f"{_e(_fmt(round(tick, 1), unit))}</text>"
        )
    out.append(f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>')
    out.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>')
    if points:
        first, last = short_time(points[0].get("at")), short_time(points[-1].get("at"))
        out.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT - 22}">{_e(first)}</text>')
        if len(points) > 1:
            out.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 22}" text-anchor="end">{_e(last)}</text>')
    if threshold is not None:
        y = _num(y_of(float(threshold)))
        out.append(
            f'<line class="threshold" data-threshold="{_e(threshold)}" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" '
            f'y2="{y}"><title>threshold {_e(_fmt(float(threshold), unit))}</title></line>'
        )
        out.append(
            f'<text class="threshold-label" x="{WIDTH - RIGHT}" y="{_num(y_of(float(threshold)) - 4)}" '
            f'text-anchor="end">threshold {_e(_fmt(float(threshold), unit))}</text>'
        )
    if len(points) > 1:
        path = " ".join(f"{_num(x)},{_num(y_of(v))}" for x, v in zip(xs, values, strict=True))
        out.append(f'<polyline class="series" points="{path}"/>')
    by_sample = {point.get("n"): x for x, point in zip(xs, points, strict=True)}
    # alerts first: the sample points are drawn over their marker lines
    for alert in series.get("alerts") or []:
        x = by_sample.get(alert.get("sample"), xs[-1] if xs else LEFT)
        tip = f"alert {alert.get('id')} ({alert.get('severity')}) raised {short_time(alert.get('at'))}"
        out.append(
            f'<g class="alert" data-alert="{_e(alert.get("id"))}" data-severity="{_e(alert.get("severity"))}">'
            f"<title>{_e(tip)}</title>"
            f'<line class="alert-line" x1="{_num(x)}" y1="{TOP}" x2="{_num(x)}" y2="{TOP + plot_h}"/>'
            f'<path class="alert-mark" d="M{_num(x - 6)},{TOP - 2} L{_num(x + 6)},{TOP - 2} L{_num(x)},{TOP + 8} Z"/>'
            "</g>"
        )
    for x, point, value in zip(xs, points, values, strict=True):
        breach = point.get("breach")
        tip = f"sample {point.get('n')} at {short_time(point.get('at'))}: {_fmt(value, unit)}"
        tip += f" — BREACH ({breach})" if breach else ""
        css = "point breach" if breach else "point"
        out.append(
            f'<circle class="{css}" cx="{_num(x)}" cy="{_num(y_of(value))}" r="{5 if breach else 3}" '
            f'data-n="{_e(point.get("n"))}" data-value="{_e(value)}"'
            + (f' data-breach="{_e(breach)}"' if breach else "")
            + f"><title>{_e(tip)}</title></circle>"
        )
    legend = "— value  ● sample  ● breach" + ("  ▼ alert" if series.get("alerts") else "")
    legend += "  - - threshold" if threshold is not None else ""
    out.append(f'<text class="legend" x="{LEFT}" y="{HEIGHT - 6}">{_e(legend)}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))  # every value above went through _e()


def timeline_chart(steps: Sequence[Mapping[str, Any]]) -> Markup | None:
    """The steps that ran, as bars from start to finish on one time axis (None when no step has times)."""
    timed = [
        (s, parse_time(s.get("started")), parse_time(s.get("finished")) or parse_time(s.get("started")))
        for s in steps
        if parse_time(s.get("started")) is not None
    ]
    if not timed:
        return None
    start = min(t for _s, t, _f in timed if t is not None)
    end = max(f for _s, _t, f in timed if f is not None)
    span = max((end - start).total_seconds(), 1.0)
    row, label_w = 18, 230
    plot_w = WIDTH - label_w - RIGHT
    height = TOP + row * len(timed) + 28
    caption = f"Timeline: {len(timed)} step(s) from {start:%Y-%m-%d %H:%M:%S}Z over {duration(span)}"
    out = [
        f'<svg class="chart timeline-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" data-steps="{len(timed)}" '
        f'aria-label="{_e(f"timeline of {len(timed)} step(s) over {duration(span)}")}">',
        f"<title>{_e(caption)}</title>",
    ]
    for index, (step, began, ended) in enumerate(timed):
        assert began is not None and ended is not None
        y = TOP + index * row
        x = label_w + plot_w * (began - start).total_seconds() / span
        w = max(plot_w * (ended - began).total_seconds() / span, 2.0)
        colour = STATUS_COLOURS.get(str(step.get("status")), "#57606a")
        tip = f"{step.get('id')}: {step.get('status')}, {short_time(step.get('started'))} → "
        tip += f"{short_time(step.get('finished')) or 'not finished'} ({duration(step.get('duration_s'))})"
        out.append(
            f'<text class="tick" x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_e(str(step.get("id"))[:34])}</text>'
        )
        out.append(
            f'<rect class="bar {_e(step.get("status"))}" x="{_num(x)}" y="{y + 3}" width="{_num(w)}" '
            f'height="{row - 6}" '
            f'fill="{colour}" data-step="{_e(step.get("id"))}"><title>{_e(tip)}</title></rect>'
        )
    base = TOP + row * len(timed) + 4
    out.append(f'<line class="axis" x1="{label_w}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>')
    out.append(f'<text class="tick" x="{label_w}" y="{base + 16}">{_e(start.strftime("%Y-%m-%d %H:%M:%SZ"))}</text>')
    out.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{base + 16}" text-anchor="end">+{_e(duration(span))}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))  # every value above went through _e()
