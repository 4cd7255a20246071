"""The local run's HTML report: one self-contained file (no network), with the checks, the
preview of the QuickSight dashboard (``spotify_ops.dashboard_preview``, drawn from the same spec
as the deployed dashboard), the run summary and the check queries' answers.

Rendering is pure: data in, HTML text out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from spotify_glue.run_summary import RunSummary

from infra.dashboard_spec import DASHBOARD
from spotify_ops import dashboard_preview
from spotify_ops.checks import CheckResult

Rows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class ReportData:
    summary: RunSummary
    checks: Sequence[CheckResult]
    insights: Mapping[str, Rows]
    """Insight and check query name to its rows."""
    source: str
    """Where the input CSVs came from, as the user named it."""
    preview_stack: str = "dev"
    """The stack whose dashboard the preview names."""
    quarantine_href: str = ""
    """Link to this run's quarantine folder, relative to the report (rejected runs)."""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape("" if value is None else str(value))


def html_table(rows: Rows, limit: int | None = None, css_class: str = "") -> str:
    if not rows:
        return "<p><em>no rows</em></p>"
    columns = list(rows[0].keys())
    shown = list(rows)[:limit] if limit else list(rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in shown
    )
    more = (
        f"<p class='more'>{len(rows) - len(shown)} more rows not shown</p>"
        if len(shown) < len(rows)
        else ""
    )
    cls = f" class='{css_class}'" if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def summary_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """The run summary as (measure, value) rows, per source where the summary splits it."""
    rows: list[dict[str, Any]] = [
        {"measure": "status", "value": summary.status},
        {"measure": "run id", "value": summary.run_id},
        {"measure": "started / finished", "value": f"{summary.started_at} / {summary.finished_at}"},
    ]
    for source, count in sorted(summary.rows_read.items()):
        rows.append({"measure": f"rows read: {source}", "value": count})
    for source, count in sorted(summary.rows_quarantined.items()):
        rows.append({"measure": f"rows quarantined: {source}", "value": count})
    for source, count in sorted(summary.duplicates_removed.items()):
        rows.append({"measure": f"duplicates removed: {source}", "value": count})
    rows += [
        {
            "measure": "album rows dropped: no usable artist row (none, or quarantined)",
            "value": summary.dropped_no_artist,
        },
        {
            "measure": "album rows dropped: no usable tracks row (none, or quarantined)",
            "value": summary.dropped_no_track,
        },
        {"measure": "rows without audio features (kept)", "value": summary.rows_without_features},
        {"measure": "rows written", "value": summary.rows_written},
        {"measure": "quarantine rate", "value": f"{summary.quarantine_rate:.2%}"},
        {"measure": "join loss rate", "value": f"{summary.join_loss_rate:.2%}"},
    ]
    for name, threshold in sorted(summary.gate.items()):
        rows.append({"measure": f"gate: {name}", "value": threshold})
    for failure in summary.gate_failures:
        rows.append({"measure": "gate failure", "value": failure})
    return rows


_CSS: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
color:#191414;padding:0 1rem}
h1{margin-bottom:.2rem} .sub{color:#535353;margin-top:0}
.status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;color:#fff;font-weight:600}
.ok{background:#1DB954} .bad{background:#c0392b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.pass{color:#1a7f37;font-weight:600} td.fail{color:#c0392b;font-weight:600}
.more{color:#777;font-size:.8rem}
details{margin-bottom:.6rem}
.rejected{border-left:.3rem solid #c0392b;padding:.2rem 1rem;background:#fdf2f1}
"""


def rejection_html(data: ReportData) -> str:
    """For a rejected run: that the gate rejected it, by which rules, and where its
    quarantined rows are, since the sections below are empty. Empty for other runs."""
    summary = data.summary
    if summary.status != "rejected":
        return ""
    rules = "".join(f"<li>{html.escape(rule)}</li>" for rule in summary.gate_failures)
    location = html.escape(summary.quarantine_location)
    href = html.escape(data.quarantine_href or summary.quarantine_location)
    return f"""<section class="rejected" id="rejected">
<h2>This run was rejected by the quality gate</h2>
<p>The published table was left as it was. The rules this run broke:</p>
<ul>{rules or "<li>(the run summary names no rule)</li>"}</ul>
<p>Its {summary.total_quarantined:,} quarantined rows, each with its reason:
<a href="{href}"><code>{location}</code></a></p>
<p>Checks, the dashboard preview and query results are empty: they read a published table,
and this run published none.</p>
</section>"""


def render_report(data: ReportData) -> str:
    """The whole report as one HTML document."""
    passed = all(c.passed for c in data.checks) and data.summary.status == "published"
    badge = (
        "<span class='status ok'>all checks passed</span>"
        if passed
        else "<span class='status bad'>FAILED</span>"
    )
    check_rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td>"
        f"<td class='{'pass' if c.passed else 'fail'}'>{'pass' if c.passed else 'FAIL'}</td>"
        f"<td>{html.escape(c.detail)}</td></tr>"
        for c in data.checks
    )
    dashboard = dashboard_preview.render_dashboard(data.insights, data.preview_stack)
    visual_ids = {v.id for v in DASHBOARD.visuals}
    queries = "".join(
        f"<details><summary><code>{html.escape(name)}</code> ({len(rows)} rows)</summary>"
        f"{html_table(rows, limit=25)}</details>"
        for name, rows in sorted(data.insights.items())
        if name not in visual_ids
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Spotify pipeline: local run {html.escape(data.summary.run_id)}</title>
<style>{_CSS}{dashboard_preview.CSS}</style></head>
<body>
<h1>Spotify pipeline: local run</h1>
<p class="sub">Input <code>{html.escape(data.source)}</code>, run
<code>{html.escape(data.summary.run_id)}</code>, status
<strong>{html.escape(data.summary.status)}</strong> {badge}</p>
{rejection_html(data)}
<h2 id="checks">Checks</h2>
<table class="checks"><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead>
<tbody>{check_rows}</tbody></table>
<h2 id="dashboard">Dashboard preview</h2>
{dashboard}
<h2 id="summary">Run summary</h2>
{html_table(summary_rows(data.summary), css_class="summary")}
<h2 id="queries">Query results</h2>
{queries}
</body></html>
"""
