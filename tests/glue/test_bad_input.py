"""What the job does with bad input, on real pyspark through ``run()``: one run over the
hand-written files of conftest.py plus one record per defect (tests/glue/bad_input.py).

Each defect of issue 10 items 2-6: an implausible date, a line break inside a quoted field,
values outside their column's domain (non-finite numbers included), bytes that are not UTF-8,
and a record with tens of thousands of fields. None may crash the job, change a value or
publish a fragment; each bad record is quarantined once, whole, with a reason that names it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
from spotify_glue import etl
from spotify_glue.contract import ALBUMS, ARTISTS, FEATURES, TRACKS, WAREHOUSE_COLUMNS
from spotify_glue.etl import JobArgs
from spotify_glue.gate import GateThresholds
from spotify_glue.records import MAX_RECORD_BYTES, NOT_UTF8, TOO_LONG, UNTERMINATED
from spotify_glue.run_summary import RunSummary
from spotify_glue.transform import publishable

from tests.glue.bad_input import (
    BadInput,
    Quarantined,
    album,
    album_values,
    csv_record,
    features,
)
from tests.glue.conftest import (
    ALBUM_LINES,
    ARTIST_LINES,
    FEATURE_LINES,
    TRACK_LINES,
    odd_quote_sources,
    run_spying_on_scans,
)

ANY_RATE = GateThresholds(min_rows=1, max_quarantine_rate=1.0, max_join_loss_rate=1.0)
DATES = "release_date outside its domain (1877-01-01 to the end of next year)"
DURATION_SEC = "duration_sec outside its domain (finite, > 0)"
POPULARITY = "outside its domain (0 to 100)"
UNIT = "outside its domain (0 to 1)"


def bad_input() -> BadInput:
    bad = BadInput()
    # --- published exactly: line breaks inside quoted fields (RFC 4180) --------------------
    bad.publish("b1", track_name="Line one\nLine two")
    bad.publish("b2", track_name="CRLF kept\r\ninside the quotes")
    bad.publish("b3", album_name="a bare CR\rinside")
    # the middle line alone is a well-formed album record: it must not be published as one
    bad.publish("b4", track_name=f"Before\n{album('bX')}\nAfter")
    bad.publish("b5", track_name="U+FFFD really in the file: \ufffd")
    # a quote inside an unquoted field opens nothing (the next record is read normally)
    bad.publish("b6", record=album("b6").replace("Song b6", '12" Vinyl'), track_name='12" Vinyl')
    bad.publish("b7", release_date="1877-01-01 00:00:00 UTC", album_popularity=0, total_tracks=1)
    bad.add(FEATURES, features("b1", key="-1", time_signature="1", loudness="-60", tempo="0"))
    # --- quarantined: implausible dates --------------------------------------------------
    for track_id, date in (("d1", "0216-11-10 00:00:00 UTC"), ("d2", "2999-01-01 00:00:00 UTC")):
        bad.quarantine(ALBUMS, album(track_id, release_date=date), DATES)
    # --- quarantined: values outside their column's domain ---------------------------------
    for track_id, column, value, reason in (
        ("v1", "album_popularity", "-5", f"album_popularity {POPULARITY}"),
        ("v2", "album_popularity", "101", f"album_popularity {POPULARITY}"),
        ("v3", "duration_ms", "0", "duration_ms outside its domain (> 0)"),
        ("v4", "duration_sec", "1e999", DURATION_SEC),
        ("v5", "duration_sec", "Infinity", DURATION_SEC),
        ("v6", "duration_sec", "-Infinity", DURATION_SEC),
        ("v7", "duration_sec", "NaN", DURATION_SEC),
        ("v8", "duration_sec", "0", DURATION_SEC),
        ("v9", "track_number", "0", "track_number outside its domain (>= 1)"),
        ("v10", "total_tracks", "0", "total_tracks outside its domain (>= 1)"),
        ("v11", "album_type", "ep", "album_type outside its domain (one of album, single, "
         "compilation)"),
    ):  # fmt: skip
        bad.quarantine(ALBUMS, album(track_id, **{column: value}), reason)
    bad.quarantine(ARTISTS, "ar7,Too Popular,101,[],10,,,,,,,", f"artist_popularity {POPULARITY}")
    bad.quarantine(ARTISTS, "ar8,Negative,50,[],-1,,,,,,,", "followers outside its domain (>= 0)")
    bad.quarantine(TRACKS, "t9,-1,false", f"track_popularity {POPULARITY}")
    for track_id, column, value, reason in (
        ("f1", "danceability", "1.5", f"danceability {UNIT}"),
        ("f2", "energy", "-0.1", f"energy {UNIT}"),
        ("f3", "key", "12", "key outside its domain (-1 to 11)"),
        ("f4", "loudness", "11", "loudness outside its domain (-60 to 10)"),
        ("f5", "mode", "2", "mode outside its domain (0 to 1)"),
        ("f6", "speechiness", "NaN", f"speechiness {UNIT}"),
        ("f7", "acousticness", "Infinity", f"acousticness {UNIT}"),
        ("f8", "instrumentalness", "1.01", f"instrumentalness {UNIT}"),
        ("f9", "liveness", "-0.01", f"liveness {UNIT}"),
        ("f10", "valence", "2", f"valence {UNIT}"),
        ("f11", "tempo", "-1", "tempo outside its domain (finite, >= 0)"),
        ("f12", "tempo", "1e999", "tempo outside its domain (finite, >= 0)"),
        ("f13", "time_signature", "8", "time_signature outside its domain (0 to 7)"),
        ("f14", "duration_ms", "0", "duration_ms outside its domain (> 0)"),
    ):
        bad.quarantine(FEATURES, features(track_id, **{column: value}), reason)
    # --- quarantined: bytes that are not UTF-8 ---------------------------------------------
    latin1 = album("u1", track_name="Café").encode("latin-1")
    bad.add(ALBUMS, latin1)
    bad.quarantined.append(Quarantined(ALBUMS.key, NOT_UTF8, latin1.decode("utf-8", "replace")))
    # --- quarantined whole, without crashing the job: pathological records -------------------
    wide = ",".join(["x"] * 30_000)
    bad.quarantine(ALBUMS, wide, "wrong field count (expected 26)")
    long = album("l1", track_name="y" * (MAX_RECORD_BYTES + 10))
    bad.quarantine(ALBUMS, long, TOO_LONG)
    # last in the file: a quoted field that never closes
    bad.quarantine(ALBUMS, album("q1").replace("Song q1", '"Never closed', 1), UNTERMINATED)
    return bad


BAD = bad_input()


@dataclass(frozen=True)
class BadRun:
    summary: RunSummary
    table: DataFrame
    quarantine: list[tuple[str, str, str]]
    written_violations: dict[str, int]
    """Per contract column with a domain: values outside it that reached ``write_table``."""
    scanned: list[str]
    odd_quote_sources: list[str]


def _violations(frame: DataFrame) -> dict[str, int]:
    counts = [
        F.sum((F.col(c.name).isNotNull() & ~F.expr(sql)).cast("long")).alias(c.name)
        for c in WAREHOUSE_COLUMNS
        if (sql := c.domain_sql(f"`{c.name}`")) is not None
    ]
    row = frame.agg(*counts).first()
    assert row is not None
    return {name: int(value or 0) for name, value in row.asDict().items()}


@pytest.fixture(scope="module")
def bad_run(spark, tmp_path_factory: pytest.TempPathFactory) -> BadRun:
    root = tmp_path_factory.mktemp("bad-input")
    staging = BAD.write(root / "staging")
    reached: dict[str, int] = {}
    real_write = etl.write_table

    def spying_write(enriched: DataFrame, location: str) -> None:
        reached.update(_violations(publishable(enriched)))
        real_write(enriched, location)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(etl, "write_table", spying_write)
        args = JobArgs(str(staging), str(root / "warehouse"), ANY_RATE)
        summary, scanned = run_spying_on_scans(spark, args, patch)
    rows = spark.read.json(summary.quarantine_location).collect()
    return BadRun(
        summary=summary,
        table=spark.read.parquet(summary.table_location),
        quarantine=[(r["source"], r["reason"], r["raw"]) for r in rows],
        written_violations=reached,
        scanned=scanned,
        odd_quote_sources=odd_quote_sources(staging),
    )


def test_the_run_publishes_despite_every_defect(bad_run):
    """No defect crashes the job or fails the write: the run is published."""
    assert bad_run.summary.status == "published"


def test_files_with_odd_quote_lines_are_scanned_and_only_they(bad_run):
    """A file with a line of odd quote count may hold records that span lines: the run
    scans exactly those files (each once); the others it reads a record per line."""
    assert bad_run.odd_quote_sources
    assert bad_run.scanned == bad_run.odd_quote_sources


def test_every_record_is_read_once(bad_run):
    """rows_read counts records, not lines: a record spanning lines counts once, and each
    source's count is its hand-written records plus the added ones."""
    base = {"albums": ALBUM_LINES, "artists": ARTIST_LINES, "tracks": TRACK_LINES}
    base["features"] = FEATURE_LINES
    expected = {key: len(lines) + len(BAD.records.get(key, [])) for key, lines in base.items()}
    assert bad_run.summary.rows_read == expected


@pytest.mark.parametrize("case", BAD.quarantined, ids=lambda q: f"{q.source}-{q.raw[:24]}")
def test_bad_record_is_quarantined_whole_with_a_reason_naming_it(bad_run, case):
    """Each bad record is in the quarantine exactly once, with its reason (naming the column
    and its domain where a domain is broken) and its text exactly as read."""
    matches = [q for q in bad_run.quarantine if q[0] == case.source and q[2] == case.raw]
    assert [m[1] for m in matches] == [case.reason]


def test_quarantine_holds_exactly_the_counted_records(bad_run):
    """The quarantine holds as many records per source as the summary counts."""
    counted = {k: v for k, v in bad_run.summary.rows_quarantined.items() if v}
    found: dict[str, int] = {}
    for source, _reason, _raw in bad_run.quarantine:
        found[source] = found.get(source, 0) + 1
    assert found == counted


@pytest.mark.parametrize("case", BAD.published, ids=lambda p: p.track_id)
def test_record_with_line_breaks_or_quotes_is_published_exactly(bad_run, case):
    """A quoted field holding LF, CRLF or a bare CR, a real U+FFFD, a quote inside an
    unquoted field, and values at the edge of their domain reach the table unchanged."""
    rows = bad_run.table.where(F.col("track_id") == case.track_id).collect()
    assert len(rows) == 1
    expected: dict[str, Any] = dict(case.values)
    if "release_date" in expected:
        expected["release_date"] = dt.date.fromisoformat(str(expected["release_date"])[:10])
    assert {k: rows[0][k] for k in expected} == expected


def test_a_line_inside_a_quoted_field_is_never_a_record(bad_run):
    """The middle line of a quoted multi-line field is a well-formed album record on its own,
    yet it is part of the field: not published, not quarantined, not counted."""
    assert bad_run.table.where(F.col("track_id") == "bX").count() == 0
    assert not [q for q in bad_run.quarantine if q[2].startswith(album("bX"))]


def test_feature_values_at_the_edges_of_their_domains_are_published(bad_run):
    """key -1 (no key detected), time_signature 1, loudness -60 and tempo 0 are data."""
    (row,) = bad_run.table.where(F.col("track_id") == "b1").collect()
    assert (row["musical_key"], row["time_signature"], row["loudness"], row["tempo"]) == (
        -1,
        1,
        -60.0,
        0.0,
    )


def test_no_value_outside_its_domain_reaches_the_writer(bad_run):
    """What write_table is given holds no value outside its column's domain: no ancient
    date (Parquet's rebase error), no infinity, no NaN."""
    assert bad_run.written_violations
    assert {k: v for k, v in bad_run.written_violations.items() if v} == {}


def test_published_table_has_no_value_outside_its_domain(bad_run):
    """The same holds for the table as written, read back."""
    assert {k: v for k, v in _violations(bad_run.table).items() if v} == {}


def test_latin1_bytes_are_not_replaced_silently(bad_run):
    """No published value holds U+FFFD except the one really in the file."""
    replaced = bad_run.table.where(
        F.exists(
            F.array(*(F.col(c.name) for c in WAREHOUSE_COLUMNS if c.type == "string")),
            lambda v: v.contains("\ufffd"),
        )
    )
    assert [r["track_id"] for r in replaced.collect()] == ["b5"]


def test_csv_record_helper_quotes_line_breaks():
    """(Test data) a value with a line break is quoted, so it stays one record."""
    assert csv_record(["a\nb", "c"]) == '"a\nb",c'
    assert album_values("x")[ALBUMS.header.index("track_id")] == "x"
