"""The job's run() on real pyspark over hand-written CSVs (tests/glue/conftest.py): each quirk,
the accounting of every album row, idempotent re-runs, the gate, and input errors."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, Row
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual
from spotify_glue import etl
from spotify_glue.contract import (
    ALBUMS,
    ARTISTS,
    AUDIO_FEATURE_COLUMNS,
    FEATURES,
    TRACKS,
    warehouse_ddl,
)
from spotify_glue.etl import JobArgs, QualityGateError, run
from spotify_glue.gate import GateThresholds
from spotify_glue.run_summary import RunSummary
from spotify_glue.sources import InputFileError
from spotify_glue.transform import group_records

from spotify_ops.spark import SHORT_RUN_SETTINGS
from tests.glue.conftest import (
    ARTIST_LINES,
    LENIENT,
    Published,
    odd_quote_sources,
    run_spying_on_scans,
    table_files,
    write_staging,
)


def published_row(published: Published, track_id: str) -> Row:
    matches = [r for r in published.rows if r["track_id"] == track_id]
    assert len(matches) == 1, f"{track_id}: {len(matches)} rows"
    return matches[0]


def quarantined(spark, published: Published) -> list[tuple[str, str, str]]:
    rows = spark.read.json(published.summary.quarantine_location).collect()
    return sorted((r["source"], r["reason"], r["raw"]) for r in rows)


FEATURES_NULL: dict[str, Any] = dict.fromkeys(AUDIO_FEATURE_COLUMNS)


def test_files_without_odd_quote_lines_are_read_once(published):
    """The hand-written files hold quoted commas and doubled quotes, but no line with an odd
    number of quotes: no file is scanned, each is read once, a record per line."""
    assert odd_quote_sources(Path(published.args.staging_path)) == []
    assert published.scanned == []


def test_a_stray_quote_is_scanned_for_but_the_records_read_stand(spark, tmp_path):
    """A quote inside an unquoted field (an album named 12" Vinyl) makes a line of odd quote
    count: the file is scanned, finds no record spanning lines, and the records already read
    are kept (grouped once); the value is published as written."""
    staging = write_staging(tmp_path / "staging")
    albums = staging / ALBUMS.file_name
    albums.write_text(
        albums.read_text(encoding="utf-8").replace(",Brain Salad Surgery,", ',12" Vinyl,'),
        encoding="utf-8",
    )
    groupings: list[int] = []

    def counting_group(classified: Mapping[str, DataFrame]) -> DataFrame:
        groupings.append(1)
        return group_records(classified)

    args = JobArgs(str(staging), str(tmp_path / "warehouse"), LENIENT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(etl, "group_records", counting_group)
        summary, scanned = run_spying_on_scans(spark, args, patch)
    assert scanned == odd_quote_sources(staging) == ["albums"]
    assert len(groupings) == 1
    table = spark.read.parquet(summary.table_location)
    assert {r["album_name"] for r in table.where("track_id = 't1'").collect()} == {'12" Vinyl'}


def test_published_table_is_typed_and_exactly_the_expected_rows(spark, published):
    """The table holds the four joinable, de-duplicated tracks with every column typed and
    valued as the CSV lines say."""
    table = spark.read.parquet(published.summary.table_location)
    schema = spark.createDataFrame([], warehouse_ddl()).schema
    assertSchemaEqual(table.schema, schema)
    common = {"explicit": False}
    expected = [
        {
            **common,
            "track_id": "t1",
            "track_name": "Hello, World",
            "track_number": 1,
            "track_popularity": 55,
            "duration_ms": 215000,
            "duration_sec": 215.0,
            "album_id": "al1",
            "album_name": "Brain Salad Surgery",
            "album_type": "album",
            "total_tracks": 9,
            "album_popularity": 61,
            "label": "Manticore",
            "release_date": dt.date(1973, 11, 19),
            "release_year": 1973,
            "artist_id": "ar1",
            "artist_name": "Emerson, Lake & Palmer",
            "artist_popularity": 60,
            "followers": 1000000,
            "primary_genre": "art rock",
            "genres": ["art rock", "progressive rock"],
            "danceability": 0.5,
            "energy": 0.8,
            "musical_key": 4,
            "loudness": -5.5,
            "musical_mode": 1,
            "speechiness": 0.05,
            "acousticness": 0.1,
            "instrumentalness": 0.0,
            "liveness": 0.2,
            "valence": 0.6,
            "tempo": 120.0,
            "time_signature": 4,
        },
        {
            "track_id": "t2",
            "track_name": 'She said "yes"',
            "track_number": 2,
            "explicit": True,
            "track_popularity": 90,
            "duration_ms": 180500,
            "duration_sec": 180.5,
            "album_id": "al2",
            "album_name": "Crazy in Love",
            "album_type": "single",
            "total_tracks": 1,
            "album_popularity": 77,
            "label": "Columbia",
            "release_date": dt.date(2003, 5, 18),
            "release_year": 2003,
            "artist_id": "ar2",
            "artist_name": "Beyoncé",
            "artist_popularity": 85,
            "followers": 5000000,
            "primary_genre": None,
            "genres": [],
            "danceability": 0.7,
            "energy": 0.9,
            "musical_key": 11,
            "loudness": -3.25,
            "musical_mode": 0,
            "speechiness": 0.2,
            "acousticness": 0.01,
            "instrumentalness": 0.001,
            "liveness": 0.3,
            "valence": 0.8,
            "tempo": 99.5,
            "time_signature": 4,
        },
        {
            **common,
            **FEATURES_NULL,
            "track_id": "t3",
            "track_name": "戦場のメリークリスマス 🎄",
            "track_number": 5,
            "track_popularity": 65,
            "duration_ms": 300000,
            "duration_sec": 300.0,
            "album_id": "al3",
            "album_name": "Ryuichi Sakamoto: Playing the Piano",
            "album_type": "compilation",
            "total_tracks": 12,
            "album_popularity": 48,
            "label": "commmons",
            "release_date": dt.date(2009, 4, 29),
            "release_year": 2009,
            "artist_id": "ar3",
            "artist_name": "坂本龍一",
            "artist_popularity": 70,
            "followers": 300000,
            "primary_genre": "japanese classical",
            "genres": ["japanese classical"],
        },
        {
            **common,
            "track_id": "t4",
            "track_name": "Echo",
            "track_number": 7,
            "track_popularity": 40,
            "duration_ms": 200000,
            "duration_sec": 200.0,
            "album_id": "al4b",
            "album_name": "Echo Deluxe",
            "album_type": "album",
            "total_tracks": 14,
            "album_popularity": 55,
            "label": "Columbia",
            "release_date": dt.date(2002, 2, 2),
            "release_year": 2002,
            "artist_id": "ar2",
            "artist_name": "Beyoncé",
            "artist_popularity": 85,
            "followers": 5000000,
            "primary_genre": None,
            "genres": [],
            "danceability": 0.4,
            "energy": 0.3,
            "musical_key": 7,
            "loudness": -9.0,
            "musical_mode": 1,
            "speechiness": 0.03,
            "acousticness": 0.5,
            "instrumentalness": 0.2,
            "liveness": 0.1,
            "valence": 0.2,
            "tempo": 80.0,
            "time_signature": 3,
        },
    ]
    expected_df = spark.createDataFrame(
        [tuple(row[name] for name in schema.names) for row in expected], schema
    )
    assertDataFrameEqual(table, expected_df)


@pytest.mark.parametrize(
    ("track_id", "column", "value"),
    [
        pytest.param("t1", "track_name", "Hello, World", id="quoted-comma"),
        pytest.param("t1", "artist_name", "Emerson, Lake & Palmer", id="quoted-comma-artist"),
        pytest.param("t2", "track_name", 'She said "yes"', id="doubled-quotes"),
        # the columns after a list-string with a quoted comma are not shifted
        pytest.param("t2", "album_name", "Crazy in Love", id="list-string"),
        pytest.param("t2", "artist_name", "Beyoncé", id="accents"),
        pytest.param("t3", "track_name", "戦場のメリークリスマス 🎄", id="cjk-emoji"),
        pytest.param("t3", "artist_name", "坂本龍一", id="cjk-artist"),
        pytest.param("t2", "genres", [], id="empty-genres"),
        pytest.param("t2", "primary_genre", None, id="empty-genres-primary"),
        pytest.param("t1", "genres", ["art rock", "progressive rock"], id="genres"),
        pytest.param("t4", "album_id", "al4b", id="duplicate-track-id"),
        pytest.param("t2", "followers", 5_000_000, id="duplicate-artist-id"),
        pytest.param("t1", "track_popularity", 55, id="duplicate-tracks-row"),
        pytest.param("t3", "danceability", None, id="missing-features-row"),
        pytest.param("t1", "release_date", dt.date(1973, 11, 19), id="release-date"),
        pytest.param("t1", "release_year", 1973, id="release-year"),
    ],
)
def test_quirk_survives_into_the_table(published, track_id, column, value):
    """Each quirk of the real files reaches the table with its exact value."""
    assert published_row(published, track_id)[column] == value


@pytest.mark.parametrize(
    ("source", "reason", "raw_start"),
    [
        pytest.param("albums", "duration_ms is not a valid int", "Junk,t7,1,12x,", id="junk-int"),
        pytest.param("albums", "wrong field count (expected 26)", "Short,t9,1", id="field-count"),
        pytest.param("albums", "unparseable release_date", "Bad Date,t10,", id="bad-date"),
        pytest.param("albums", "missing key track_id", "No Id,,1,", id="empty-key"),
        pytest.param(
            "artists", "artist_popularity is not a valid int", "ar9,Junk Artist,lots", id="artist"
        ),
        pytest.param("tracks", "track_popularity is not a valid int", "t8,abc,true", id="tracks"),
        # the table never reads features.duration_ms, yet the junk in it is still caught
        pytest.param(
            "features", "duration_ms is not a valid int", "0.1,0.1,1,", id="unused-column"
        ),
    ],
)
def test_malformed_row_is_quarantined_with_reason_and_raw_line(
    spark, published, source, reason, raw_start
):
    """A malformed row lands in quarantine once, with its source, reason and raw line."""
    matches = [q for q in quarantined(spark, published) if q[0] == source and q[1] == reason]
    assert len(matches) == 1, matches
    assert matches[0][2].startswith(raw_start)


def test_every_album_row_is_accounted_for(spark, published):
    """Nothing is lost silently: each album row read is quarantined, a removed duplicate,
    dropped by a named join, or written; the quarantine holds exactly the counted rows."""
    s = published.summary
    assert s.status == "published"
    assert s.rows_read == {"albums": 13, "artists": 5, "tracks": 7, "features": 4}
    assert s.rows_quarantined == {"albums": 4, "artists": 1, "tracks": 1, "features": 1}
    assert s.duplicates_removed == {"albums": 2, "artists": 1, "tracks": 1, "features": 0}
    assert (s.dropped_no_artist, s.dropped_no_track) == (1, 2)
    assert s.rows_without_features == 1
    assert s.rows_written == len(published.rows) == 4
    assert s.rows_read["albums"] == (
        s.rows_quarantined["albums"]
        + s.duplicates_removed["albums"]
        + s.dropped_no_artist
        + s.dropped_no_track
        + s.rows_written
    )
    by_source: dict[str, int] = {}
    for source, _reason, _raw in quarantined(spark, published):
        by_source[source] = by_source.get(source, 0) + 1
    assert by_source == {k: v for k, v in s.rows_quarantined.items() if v}
    written = RunSummary.from_json(
        Path(published.args.layout.summary_location).read_text(encoding="utf-8")
    )
    assert written == s


def test_rerun_on_the_same_input_yields_the_same_table(spark, published, tmp_path):
    """A re-run over an existing table replaces it: the same rows, no duplicates."""
    warehouse = tmp_path / "warehouse"
    shutil.copytree(published.warehouse, warehouse)
    args = JobArgs(published.args.staging_path, str(warehouse), LENIENT)
    again = run(spark, args)
    table = spark.read.parquet(again.table_location)
    assertDataFrameEqual(table, published.rows)
    assert again.rows_written == table.count() == published.summary.rows_written
    assert again.run_id != published.summary.run_id


def test_the_local_short_run_settings_leave_the_result_unchanged(spark, published, tmp_path):
    """The local session's settings for small inputs (adaptive execution off) change how
    Spark plans the job, not what it publishes: the same rows, quarantine and counts."""
    for key in SHORT_RUN_SETTINGS:
        assert spark.conf.get(key) != SHORT_RUN_SETTINGS[key]  # else this compares nothing
    saved = {key: spark.conf.get(key) for key in SHORT_RUN_SETTINGS}
    try:
        for key, value in SHORT_RUN_SETTINGS.items():
            spark.conf.set(key, value)
        short = run(spark, JobArgs(published.args.staging_path, str(tmp_path), LENIENT))
        assertDataFrameEqual(spark.read.parquet(short.table_location), published.rows)
        assertDataFrameEqual(
            spark.read.json(short.quarantine_location),
            spark.read.json(published.summary.quarantine_location),
        )
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)
    moved = {"run_id", "started_at", "finished_at", "table_location", "quarantine_location"}

    def counts(summary: RunSummary) -> dict[str, Any]:
        return {k: v for k, v in asdict(summary).items() if k not in moved}

    assert counts(short) == counts(published.summary)


def test_rejected_run_leaves_the_published_table_untouched(spark, published, tmp_path):
    """A run failing the gate raises with the failed rules, records a rejected summary, and
    leaves every table file and the published-run pointer byte-identical."""
    warehouse = tmp_path / "warehouse"
    shutil.copytree(published.warehouse, warehouse)
    strict = GateThresholds(min_rows=5, max_quarantine_rate=0.05, max_join_loss_rate=0.10)
    args = JobArgs(published.args.staging_path, str(warehouse), strict)
    tables = args.layout.table_root
    pointer = Path(args.layout.published_location)
    before = (table_files(tables), pointer.read_bytes())

    with pytest.raises(QualityGateError) as raised:
        run(spark, args)

    message = str(raised.value)
    assert "published table was left untouched" in message
    assert "rows 4 < min_rows 5" in message
    assert "quarantine_rate 0.2414 > max_quarantine_rate 0.05" in message
    assert "join_loss_rate 0.4286 > max_join_loss_rate 0.1" in message
    assert (table_files(tables), pointer.read_bytes()) == before
    summary = RunSummary.from_json(Path(args.layout.summary_location).read_text(encoding="utf-8"))
    assert summary.status == "rejected"
    assert summary.rows_written == 0
    assert summary.gate_failures == raised.value.failures
    assert len(summary.gate_failures) == 3


def test_missing_input_file_names_the_expected_file(spark, tmp_path):
    """A missing file fails before any work, naming the expected file and the folder."""
    staging = write_staging(tmp_path / "staging")
    (staging / TRACKS.file_name).unlink()
    args = JobArgs(str(staging), str(tmp_path / "warehouse"))
    with pytest.raises(InputFileError, match=r"missing input file for tracks: expected "):
        run(spark, args)
    assert not (tmp_path / "warehouse").exists()


def test_a_folder_staged_as_a_file_is_refused_before_any_work(spark, tmp_path):
    """A folder under a source's file name (e.g. a Spark output) fails, naming the fix."""
    staging = write_staging(tmp_path / "staging")
    text = (staging / TRACKS.file_name).read_text(encoding="utf-8")
    (staging / TRACKS.file_name).unlink()
    (staging / TRACKS.file_name).mkdir()
    (staging / TRACKS.file_name / "part-0.csv").write_text(text, encoding="utf-8")
    args = JobArgs(str(staging), str(tmp_path / "warehouse"))
    with pytest.raises(InputFileError, match=f"is a folder; stage {TRACKS.file_name} as one file"):
        run(spark, args)
    assert not (tmp_path / "warehouse").exists()


def test_a_file_with_cr_line_breaks_is_refused_before_any_work(spark, tmp_path):
    """A file that breaks lines with CR alone would be read as one line: it fails, naming the
    fix, before any file is read (whatever its header looks like to a CR-aware reader)."""
    staging = write_staging(tmp_path / "staging")
    path = staging / TRACKS.file_name
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    args = JobArgs(str(staging), str(tmp_path / "warehouse"))
    with pytest.raises(InputFileError, match="Save it with LF or CRLF line breaks"):
        run(spark, args)
    assert not (tmp_path / "warehouse").exists()


def test_misnamed_input_file_gets_a_rename_hint(spark, tmp_path):
    """An albums file saved with an underscore instead of the real hyphen is pointed out."""
    staging = write_staging(tmp_path / "staging")
    misnamed = ALBUMS.file_name.replace("-", "_")
    (staging / ALBUMS.file_name).rename(staging / misnamed)
    args = JobArgs(str(staging), str(tmp_path / "warehouse"))
    with pytest.raises(InputFileError) as raised:
        run(spark, args)
    assert f"Found '{misnamed}': rename it to '{ALBUMS.file_name}'" in str(raised.value)


def test_wrong_header_is_reported_by_column(spark, tmp_path):
    """A file whose header is not the Spotify one fails, naming missing and unexpected columns."""
    staging = write_staging(tmp_path / "staging")
    header = ",".join(ARTISTS.header).replace("followers", "follower_count")
    (staging / ARTISTS.file_name).write_text(
        "\n".join([header, *ARTIST_LINES]) + "\n", encoding="utf-8"
    )
    args = JobArgs(str(staging), str(tmp_path / "warehouse"))
    with pytest.raises(
        InputFileError,
        match=r"missing columns \['followers'\], unexpected columns \['follower_count'\]",
    ):
        run(spark, args)


def test_a_first_line_that_does_not_read_as_csv_is_refused_as_a_wrong_header(spark, tmp_path):
    """A first line the csv module refuses (here a field past its size limit, lowered so a
    short file shows it) fails as a wrong header does, with InputFileError, not csv.Error."""
    staging = write_staging(tmp_path / "staging")
    path = staging / ARTISTS.file_name
    path.write_bytes(b"x" * 200 + path.read_bytes())
    args = JobArgs(str(staging), str(tmp_path / "warehouse"))
    previous = csv.field_size_limit(100)
    try:
        with pytest.raises(
            InputFileError,
            match=r"does not have the artists header .*: it does not read as CSV \(field larger",
        ):
            run(spark, args)
    finally:
        csv.field_size_limit(previous)
    assert not (tmp_path / "warehouse").exists()


def test_missing_staging_folder_is_named(spark, tmp_path):
    """A staging folder that does not exist is named in the error."""
    args = JobArgs(str(tmp_path / "nowhere"), str(tmp_path / "warehouse"))
    with pytest.raises(InputFileError, match=r"staging folder .*nowhere' does not exist"):
        run(spark, args)


def test_features_source_is_read_like_the_others(published):
    """All four job sources are read and counted (features included)."""
    assert set(published.summary.rows_read) == {s.key for s in (ALBUMS, ARTISTS, TRACKS, FEATURES)}
