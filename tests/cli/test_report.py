"""The HTML report is one self-contained file: the checks, a preview of the QuickSight dashboard
drawn from the same spec as the deployed one (every visual with its title, chart kind and data
as CSV), the run summary and the check queries' answers."""

from __future__ import annotations

import base64
import csv
import io
import re
from functools import partial
from typing import Any

import pytest

from infra.dashboard_spec import DASHBOARD, Visual, athena_sql
from spotify_ops.checks import CheckResult
from spotify_ops.dashboard_preview import csv_text, format_value, render_svg, render_visual
from spotify_ops.duckdb_engine import DuckDBEngine
from spotify_ops.report import ReportData, render_report
from tests.builders import run_summary

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|<script|<link|@import""", re.I)
VISUALS = {v.id: v for v in DASHBOARD.visuals}


make_summary = partial(
    run_summary,
    rows_read={"albums": 1000, "artists": 90, "tracks": 990, "features": 970},
    rows_quarantined={"albums": 4, "artists": 0, "tracks": 2, "features": 1},
    duplicates_removed={"albums": 3, "artists": 0, "tracks": 1, "features": 0},
    dropped_no_artist=11,
    dropped_no_track=6,
    rows_written=976,
)
"""The summary the report is checked against, changed by keyword: 7 of 3,050 rows
quarantined (0.23%), 17 of the 993 album rows left lost in the joins (1.71%)."""


def sample_rows(visual: Visual) -> list[dict[str, Any]]:
    """Three rows in the shape of the visual's query, with values a reader can spot."""
    rows = []
    for i in range(3):
        row: dict[str, Any] = {}
        for item in visual.fields:
            if item.number_format == "year":
                row[item.name] = 2021 + i
            elif item.number_format == "count":
                row[item.name] = 1_234_567 + i
            elif item.number_format == "decimal":
                row[item.name] = 12.3456 + i
            elif item.name == "explicit":
                row[item.name] = bool(i)
            else:
                row[item.name] = ("米津玄師", "<b>Emerson, Lake & Palmer</b>", "Sigur Rós")[i]
        rows.append(row)
    return rows


INSIGHTS: dict[str, list[dict[str, Any]]] = {
    **{v.id: sample_rows(v) for v in DASHBOARD.visuals},
    "row_count": [{"row_count": 976}],
}
CHECKS = [
    CheckResult("schema", True, "33 columns match the contract"),
    CheckResult("row_count", False, "975 rows, but the last run summary says 976 were written"),
]


def render(**changes: Any) -> str:
    data = ReportData(make_summary(**changes), CHECKS, INSIGHTS, source="data/sample")
    return render_report(data)


@pytest.fixture(scope="module")
def page() -> str:
    """The report for the default summary, drawn once (charts take a moment)."""
    return render()


def figure(page: str, visual_id: str) -> str:
    found = re.search(
        rf"<figure class='visual [^']*' id='visual-{visual_id}'>(.*?)</figure>", page, re.S
    )
    assert found is not None, visual_id
    return found.group(1)


def csv_rows(block: str) -> list[dict[str, str]]:
    """The rows of the CSV a figure offers for download."""
    (encoded,) = re.findall(r"href='data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]+)'", block)
    return list(csv.DictReader(io.StringIO(base64.b64decode(encoded).decode("utf-8"))))


def as_csv_strings(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]


def test_every_visual_of_the_spec_is_in_the_report_with_its_title_and_kind(page):
    """Each visual appears once, in spec order, under its title and question, drawn as its
    chart kind: SVG for charts, a table for tables, a number for KPIs."""
    found = re.findall(r"<figure class='visual visual-([a-z_]+)' id='visual-([a-z_]+)'>", page)
    assert found == [(v.chart, v.id) for v in DASHBOARD.visuals]
    for visual in DASHBOARD.visuals:
        block = figure(page, visual.id)
        assert f"<strong>{visual.title}</strong>" in block
        body = block.split("</figcaption>", 1)[1]
        expected = {"table": "<table", "kpi": "<div class='kpi-value'>"}.get(visual.chart, "<svg")
        assert body.lstrip().startswith(expected), visual.id


def test_every_visual_offers_its_rows_as_csv(page):
    """The CSV link of each visual holds exactly its query's rows, one column per field."""
    for visual in DASHBOARD.visuals:
        assert csv_rows(figure(page, visual.id)) == as_csv_strings(INSIGHTS[visual.id])


def test_numbers_read_as_years_counts_and_decimals_right_aligned(page):
    """Years have no thousands separator, counts have one, decimals two places, and table
    cells with numbers are right-aligned."""
    table = figure(page, "top_tracks_by_popularity")
    assert "<td class='num'>2021</td>" in table
    assert "2,021" not in table
    assert "<td class='num'>1,234,567</td>" in table
    assert "<div class='kpi-value'>12.35</div>" in figure(page, "average_popularity")
    assert "<div class='kpi-value'>1,234,567</div>" in figure(page, "tracks_total")
    assert "td.num,th.num{text-align:right" in page
    assert format_value(2023, "year") == "2023"
    assert format_value(1952, "count") == "1,952"


def test_year_axes_have_no_thousands_separators():
    """A line over release years labels its axis 2021, not 2,021."""
    visual = VISUALS["releases_per_year"]
    svg = render_svg(visual, sample_rows(visual))
    labels = re.findall(r">\s*([0-9][0-9,.]*)\s*<", svg)
    assert {"2021", "2022", "2023"} <= set(labels)
    assert not any(label.startswith("2,02") for label in labels)


def test_report_says_which_dashboard_and_data_set_it_previews(page):
    """The preview names the deployed dashboard and data set and the stack they belong to."""
    assert "<code>spotify-dev-insights</code>" in page
    assert "data set <code>spotify-dev-tracks</code>" in page
    assert "stack <code>dev</code>" in page
    staged = render_report(
        ReportData(make_summary(), CHECKS, INSIGHTS, source="x", preview_stack="prod")
    )
    assert "<code>spotify-prod-insights</code>" in staged


def test_report_is_self_contained(page):
    """Nothing is fetched when the report opens: no scripts, stylesheets or remote images."""
    assert not EXTERNAL.search(page)


def test_report_shows_the_run_summary_and_rates(page):
    """Rows read, quarantined and dropped per source and the two gate rates appear."""
    for text in (
        "rows read: albums</td><td>1,000",
        "rows quarantined: tracks</td><td>2",
        "album rows dropped: no usable artist row (none, or quarantined)</td><td>11",
        "rows written</td><td>976",
        "quarantine rate</td><td>0.23%",
        "join loss rate</td><td>1.71%",
    ):
        assert text in page, text


def test_report_shows_each_check_with_its_result(page):
    """Passed and failed checks both appear with their detail, and a failure flags the page."""
    assert "<td>schema</td><td class='pass'>pass</td>" in page
    assert "<td>row_count</td><td class='fail'>FAIL</td>" in page
    assert "975 rows, but the last run summary says 976 were written" in page
    assert "status bad" in page


def test_check_query_answers_are_listed_but_visual_queries_only_once(page):
    """Check queries keep their answer tables; visuals' rows are not listed a second time."""
    queries = page.split('<h2 id="queries">', 1)[1]
    assert "<code>row_count</code>" in queries
    assert "top_artists_by_followers" not in queries


def test_rejected_run_shows_its_gate_failures():
    """A rejected run's report says so, lists the rule that failed and links the run's
    quarantined rows."""
    page = render(status="rejected", rows_written=0, gate_failures=["join loss 1.71% > 0.00%"])
    assert "<strong>rejected</strong>" in page
    assert "gate failure</td><td>join loss 1.71% &gt; 0.00%" in page
    quarantine = make_summary().quarantine_location
    assert quarantine.endswith(f"run={make_summary().run_id}/")
    assert f'<a href="{quarantine}"><code>{quarantine}</code></a>' in page


def test_names_are_escaped_and_any_script_survives(page):
    """Names are HTML-escaped in tables; CJK names stay as text in the charts."""
    assert "&lt;b&gt;Emerson, Lake &amp; Palmer&lt;/b&gt;" in page
    assert "<b>Emerson" not in page
    assert "米津玄師" in figure(page, "top_artists_by_followers")


def test_chart_svg_is_deterministic():
    """The same rows draw the same SVG, so re-running on the same data gives the same report."""
    visual = VISUALS["genre_by_year"]
    rows = sample_rows(visual)
    assert render_svg(visual, rows) == render_svg(visual, rows)


@pytest.mark.parametrize("chart", ["bar", "line", "scatter", "heat_map", "table", "kpi"])
def test_a_visual_without_rows_says_so(chart):
    """An empty answer renders a visual that says so instead of failing."""
    visual = next(v for v in DASHBOARD.visuals if v.chart == chart)
    block = render_visual(visual, [])
    assert "no rows" in block or "kpi-value'></div>" in block
    assert "(0 rows)" in block


def test_demo_report_renders_every_visual_with_the_demo_data(demo_run):
    """The demo's report, on the sample data, shows every visual's title and, as CSV, exactly
    the rows its query returns on the demo's table."""
    assert demo_run.exit_code == 0, demo_run.output
    page = (demo_run.out / "report.html").read_text(encoding="utf-8")
    assert "<strong>published</strong>" in page
    assert "all checks passed" in page
    assert "class='fail'" not in page
    assert not EXTERNAL.search(page)
    with DuckDBEngine(demo_run.table) as engine:
        for visual in DASHBOARD.visuals:
            block = figure(page, visual.id)
            assert f"<strong>{visual.title}</strong>" in block
            rows = engine.query(athena_sql(visual), visual.id)
            assert rows, f"{visual.id} has no rows on the sample data"
            expected = list(csv.DictReader(io.StringIO(csv_text(visual, rows))))
            assert csv_rows(block) == expected, visual.id
