"""The SLA report as one HTML file a manager can open anywhere.

Everything is inline (styles and SVG charts drawn here), so the file needs no
network and no script: compliance over time as bars of the share met, and the
distribution of time to first response as a histogram, then the same tables as
the text report.
"""

import html

from . import reports

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; } svg text { font: 11px system-ui, sans-serif; }
"""
_MET = "#2e7d32"
_BREACHED = "#c62828"
_BAR = "#1565c0"


def render_html(report):
    period = report["period"]
    title = f"SLA report {period['from']} to {period['to']}"
    if period["company"]:
        title += f" for {period['company']}"
    overall = report["overall"]
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='note'>Dates in {_e(period['timezone'])}; generated "
        f"{_e(report['generated_at'])}. First responses met: "
        f"<b>{_e(reports.share_text(overall['met_share']))}</b> of "
        f"{overall['met'] + overall['breached']} decided; median "
        f"{_e(reports.duration_text(overall['median_seconds']))}, 90th percentile "
        f"{_e(reports.duration_text(overall['p90_seconds']))} "
        "(on each ticket's SLA calendar).</p>",
        "<h2>Compliance over time</h2>",
        compliance_svg(report["compliance"]),
        "<h2>Time to first response</h2>",
        distribution_svg(report["distribution"]),
        "<h2>By priority</h2>",
        _summary_table("priority", report["by_priority"] + [_all(overall)]),
        "<h2>By client</h2>",
        _summary_table("client", report["by_client"]),
        f"<h2>Breaches ({len(report['breaches'])})</h2>",
        _table(
            reports.BREACH_HEADERS,
            [reports.breach_cells(b) for b in report["breaches"]],
        ),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _e(value):
    return html.escape(str(value), quote=True)


def _all(overall):
    return {"name": "all", **overall}


def _summary_table(first, groups):
    rows = [[g["name"], *reports._summary_cells(g)] for g in groups]
    return _table([first, *reports.SUMMARY_HEADERS], rows)


def _table(headers, rows):
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    lines = [f"<table><tr>{head}</tr>"]
    for row in rows:
        lines.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def compliance_svg(points, width=720, height=220):
    """One bar per day (or week): its height is the share met, its title the counts."""
    if not points:
        return "<p>No first responses decided in this period.</p>"
    left, bottom, top = 40, 30, 10
    plot_h = height - bottom - top
    step = (width - left) / len(points)
    parts = [_axis(left, top, plot_h, width)]
    for index, point in enumerate(points):
        x = left + index * step
        bar_h = point["met_share"] * plot_h
        tip = (
            f"{point['date']}: {point['met']} met, {point['breached']} breached "
            f"({reports.share_text(point['met_share'])})"
        )
        colour = _MET if point["met_share"] >= 0.9 else _BREACHED
        parts.append(
            f"<rect x='{x + 1:.1f}' y='{top + plot_h - bar_h:.1f}' "
            f"width='{max(step - 2, 1):.1f}' height='{bar_h:.1f}' fill='{colour}'>"
            f"<title>{_e(tip)}</title></rect>"
        )
    parts.append(_x_labels(points, left, step, height, lambda p: p["date"][5:]))
    return _svg(width, height, "Share of first responses met", parts)


def distribution_svg(buckets, width=720, height=220):
    """A histogram of time to first response."""
    peak = max((b["count"] for b in buckets), default=0)
    if not peak:
        return "<p>No first responses recorded in this period.</p>"
    left, bottom, top = 40, 30, 14
    plot_h = height - bottom - top
    step = (width - left) / len(buckets)
    parts = []
    for index, bucket in enumerate(buckets):
        x = left + index * step
        bar_h = bucket["count"] / peak * plot_h
        y = top + plot_h - bar_h
        parts.append(
            f"<rect x='{x + 2:.1f}' y='{y:.1f}' width='{step - 4:.1f}' "
            f"height='{bar_h:.1f}' fill='{_BAR}'>"
            f"<title>{_e(bucket['bucket'])}: {bucket['count']}</title></rect>"
            f"<text x='{x + step / 2:.1f}' y='{y - 2:.1f}' text-anchor='middle'>"
            f"{bucket['count']}</text>"
        )
    parts.append(_x_labels(buckets, left, step, height, lambda b: b["bucket"]))
    return _svg(width, height, "Tickets by time to first response", parts)


def _axis(left, top, plot_h, width):
    lines = []
    for share in (0, 0.5, 0.9, 1):
        y = top + plot_h - share * plot_h
        lines.append(
            f"<line x1='{left}' x2='{width}' y1='{y:.1f}' y2='{y:.1f}' "
            "stroke='#ddd'/>"
            f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>"
            f"{share * 100:.0f}%</text>"
        )
    return "".join(lines)


def _x_labels(items, left, step, height, label):
    # Label at most about 12 bars so the text never overlaps.
    every = max(1, round(len(items) / 12))
    texts = []
    for index in range(0, len(items), every):
        x = left + index * step + step / 2
        texts.append(
            f"<text x='{x:.1f}' y='{height - 10}' text-anchor='middle'>"
            f"{_e(label(items[index]))}</text>"
        )
    return "".join(texts)


def _svg(width, height, label, parts):
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{_e(label)}'>" + "".join(parts) + "</svg>"
    )
