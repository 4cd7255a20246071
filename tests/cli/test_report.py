"""The HTML report is one self-contained file with the five charts, the run summary and the
check results."""

from __future__ import annotations

import re
from typing import Any

import pytest
from spotify_glue.contract import RunSummary

from spotify_ops.checks import CheckResult
from spotify_ops.report import CHARTS, ReportData, render_report, render_svg

CHART_QUERIES = {
    "top_artists_by_followers",
    "popularity_vs_duration",
    "releases_per_year",
    "popularity_by_genre",
    "audio_features_summary",
}
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|<script|<link|@import""", re.I)


def make_summary(**changes: Any) -> RunSummary:
    fields: dict[str, Any] = {
        "run_id": "20240101T000000Z-abcdef12",
        "status": "published",
        "started_at": "2024-01-01T00:00:00+00:00",
        "finished_at": "2024-01-01T00:00:09+00:00",
        "rows_read": {"albums": 1000, "artists": 90, "tracks": 990, "features": 970},
        "rows_quarantined": {"albums": 4, "artists": 0, "tracks": 2, "features": 1},
        "duplicates_removed": {"albums": 3, "artists": 0, "tracks": 1, "features": 0},
        "dropped_no_artist": 11,
        "dropped_no_track": 6,
        "rows_without_features": 29,
        "rows_written": 976,
        "gate": {"min_rows": 1, "max_quarantine_rate": 0.05, "max_join_loss_rate": 0.1},
    }
    fields.update(changes)
    return RunSummary(**fields)


INSIGHTS: dict[str, list[dict[str, Any]]] = {
    "top_artists_by_followers": [
        {"artist_id": "a1", "artist_name": "米津玄師", "followers": 9_000_000, "tracks": 3},
        {"artist_id": "a2", "artist_name": "<b>Emerson, Lake & Palmer</b>", "followers": 12},
    ],
    "popularity_vs_duration": [
        {
            "duration_bucket_sec": 120 + 30 * i,
            "tracks": 10,
            "avg_track_popularity": 30.0 + i,
            "min_track_popularity": 2,
            "max_track_popularity": 80,
        }
        for i in range(5)
    ],
    "releases_per_year": [
        {"release_year": 2020 + i, "albums": 5 + i, "tracks": 20 + i} for i in range(4)
    ],
    "popularity_by_genre": [
        {"genre": "k-pop", "tracks": 40, "artists": 3, "avg_track_popularity": 61.5},
        {"genre": "rock en español", "tracks": 12, "artists": 2, "avg_track_popularity": 40.0},
    ],
    "audio_features_summary": [
        {"explicit": False, "tracks": 700, "tracks_with_features": 690, "danceability": 0.5,
         "energy": 0.6, "speechiness": 0.1, "acousticness": 0.3, "instrumentalness": 0.05,
         "liveness": 0.2, "valence": 0.5},
        {"explicit": True, "tracks": 276, "tracks_with_features": 270, "danceability": 0.6,
         "energy": 0.7, "speechiness": 0.2, "acousticness": 0.2, "instrumentalness": 0.01,
         "liveness": 0.2, "valence": 0.4},
    ],
    "popularity_correlations": [{"tracks": 976, "track_vs_album_popularity": 0.71}],
}  # fmt: skip
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


def test_report_has_one_inline_svg_chart_per_required_chart(page):
    """The five charts (top artists, popularity vs duration, releases per year, popularity by
    genre, audio features) are inline SVG, each under its query's id."""
    assert {c.query for c in CHARTS} == CHART_QUERIES
    for query in CHART_QUERIES:
        figure = re.search(rf"<figure class='chart' id='chart-{query}'>(.*?)</figure>", page, re.S)
        assert figure is not None, query
        assert figure.group(1).lstrip().startswith("<svg")
    for chart in CHARTS:
        assert chart.title in page


def test_report_is_self_contained(page):
    """Nothing is fetched when the report opens: no scripts, stylesheets or remote images."""
    assert not EXTERNAL.search(page)


def test_report_shows_the_run_summary_and_rates(page):
    """Rows read, quarantined and dropped per source and the two gate rates appear."""
    for text in (
        "rows read: albums</td><td>1,000",
        "rows quarantined: tracks</td><td>2",
        "album rows dropped: no artist row</td><td>11",
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


def test_rejected_run_shows_its_gate_failures():
    """A rejected run's report says so and lists the rule that failed."""
    page = render(status="rejected", rows_written=0, gate_failures=["join loss 1.71% > 0.00%"])
    assert "<strong>rejected</strong>" in page
    assert "gate failure</td><td>join loss 1.71% &gt; 0.00%" in page


def test_names_are_escaped_and_any_script_survives(page):
    """Names are HTML-escaped in tables; CJK names stay as text in the charts."""
    assert "&lt;b&gt;Emerson, Lake &amp; Palmer&lt;/b&gt;" in page
    assert "<b>Emerson" not in page
    assert "米津玄師" in page


def test_chart_svg_is_deterministic():
    """The same rows draw the same SVG, so re-running on the same data gives the same report."""
    chart = CHARTS[0]
    rows = INSIGHTS[chart.query]
    assert render_svg(chart, rows) == render_svg(chart, rows)


def test_chart_without_rows_says_so():
    """An empty answer draws a chart that says 'no rows' instead of failing."""
    assert "no rows" in render_svg(CHARTS[2], [])


def test_demo_report_has_charts_summary_and_checks(demo_run):
    """The demo's report holds the five charts, the published summary and passing checks."""
    assert demo_run.exit_code == 0, demo_run.output
    page = (demo_run.out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == len(CHART_QUERIES)
    assert "<strong>published</strong>" in page
    assert "all checks passed" in page
    assert "class='fail'" not in page
    assert not EXTERNAL.search(page)
