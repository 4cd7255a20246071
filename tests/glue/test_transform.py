"""The job's transform through its production path (staged CSVs -> ``run`` -> the published
table), the gate rules, argument parsing and the Glue entry point's wiring."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
from pyspark.sql.types import StructType
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual
from spotify_glue import etl
from spotify_glue.classify import parse_release_date
from spotify_glue.contract import (
    ALBUMS,
    ARTISTS,
    AUDIO_FEATURE_COLUMNS,
    FEATURES,
    TRACKS,
    SourceFile,
    warehouse_ddl,
)
from spotify_glue.etl import (
    JOB_ARGUMENTS,
    JobArgs,
    JobArgumentError,
    QualityGateError,
    gate_failures,
    run,
)
from spotify_glue.gate import GATE_RULES, GateThresholds

from tests.builders import run_summary, warehouse_row
from tests.glue.conftest import LENIENT


def schema_of(spark: SparkSession, ddl: str) -> StructType:
    return spark.createDataFrame([], ddl).schema


@pytest.fixture(scope="module")
def warehouse_schema(spark) -> StructType:
    return schema_of(spark, warehouse_ddl())


def stage(folder: Path, source: SourceFile, rows: list[dict[str, Any]]) -> None:
    """The source's CSV file in ``folder``: its header, then one record per row, as the
    Spotify files write values; unnamed columns are empty."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / source.file_name).open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(source.header)
        writer.writerows([text(row.get(name)) for name in source.header] for row in rows)


def album(track_id: str, artist_id: str, **values: Any) -> dict[str, Any]:
    return {
        "track_id": track_id,
        "artist_id": artist_id,
        "track_name": f"Song {track_id}",
        "track_number": 1,
        "duration_ms": 200_000,
        "duration_sec": 200.0,
        "album_type": "album",
        "total_tracks": 10,
        "album_id": f"al-{track_id}",
        "album_name": f"Album {track_id}",
        "release_date": "2016-11-10 00:00:00 UTC",
        "label": "Label",
        "album_popularity": 50,
        **values,
    }


SOURCE_NAMES = {"musical_key": "key", "musical_mode": "mode"}
"""The features file's names for the table's audio-feature columns that are renamed."""


def features(track_id: str, danceability: float, key: int, mode: int) -> dict[str, Any]:
    """The features file's row for ``track_id``: the table row's default audio features with
    these three values, under the file's column names."""
    row = warehouse_row(track_id, danceability=danceability, musical_key=key, musical_mode=mode)
    return {
        "id": track_id,
        **{SOURCE_NAMES.get(name, name): row[name] for name in AUDIO_FEATURE_COLUMNS},
        "type": "audio_features",
        "duration_ms": 200_000,
    }


def expected_row(names: list[str], track_id: str, **values: Any) -> Row:
    """The table row for ``album(track_id, ...)``: the default row (whose album values are
    those ``album`` stages) with ``values`` over it, in the order of ``names``."""
    row = warehouse_row(track_id, **values)
    return Row(**{name: row[name] for name in names})


def test_transform_dedupes_joins_and_types(spark, warehouse_schema, tmp_path):
    """Through the job's own path (CSV files -> ``run`` -> the published table): duplicates
    collapse to the preferred row, inner joins drop unmatched album rows, the features join
    keeps tracks without features, the table follows the contract, and the summary counts
    what each step removed."""
    staging = tmp_path / "staging"
    stage(
        staging,
        ALBUMS,
        [
            album("t1", "ar1"),
            # the more popular album's row survives a duplicate track id
            album("t2", "ar2", album_popularity=10, album_id="al-old"),
            album("t2", "ar2", album_popularity=20, release_date="2020-02-29 00:00:00 UTC"),
            album("t3", "ar-missing"),  # no artist row
            album("t4", "ar1"),  # no tracks row
            album("t5", "ar2", release_date=None),  # no features row, no date
            album("t6", "ar-missing"),  # neither: dropped once, by the artists join
        ],
    )
    stage(
        staging,
        ARTISTS,
        [
            {
                "id": "ar1",
                "name": "Emerson, Lake & Palmer",
                "artist_popularity": 60,
                "followers": 1_000,
                "genre_0": "art rock",
                "genre_1": "  ",
                "genre_2": "prog",
            },
            {"id": "ar1", "name": "ELP (stale)", "artist_popularity": 60, "followers": 999},
            {"id": "ar2", "name": "Beyoncé", "artist_popularity": 85, "followers": 5_000_000},
        ],
    )
    stage(
        staging,
        TRACKS,
        [
            {"id": "t1", "track_popularity": 40, "explicit": False},
            {"id": "t1", "track_popularity": 41, "explicit": True},
            {"id": "t2", "track_popularity": 90, "explicit": True},
            {"id": "t3", "track_popularity": 5, "explicit": False},
            {"id": "t5", "track_popularity": 0, "explicit": False},
        ],
    )
    stage(
        staging,
        FEATURES,
        [
            features("t1", 0.8, key=3, mode=0),
            features("t1", 0.9, key=5, mode=1),  # the greater row survives
            features("t2", 0.1, key=0, mode=0),
            features("t4", 0.2, key=1, mode=1),
        ],
    )

    summary = run(spark, JobArgs(str(staging), str(tmp_path / "warehouse"), LENIENT))
    actual = spark.read.parquet(summary.table_location)

    elp = {"artist_id": "ar1", "artist_name": "Emerson, Lake & Palmer"}
    beyonce = {"artist_id": "ar2", "artist_name": "Beyoncé"}
    expected = spark.createDataFrame(
        [
            expected_row(
                warehouse_schema.names,
                "t1",
                **elp,
                artist_popularity=60,
                followers=1_000,
                primary_genre="art rock",
                genres=["art rock", "prog"],
                track_popularity=41,
                explicit=True,
                danceability=0.9,
                musical_key=5,
                musical_mode=1,
            ),
            expected_row(
                warehouse_schema.names,
                "t2",
                **beyonce,
                artist_popularity=85,
                followers=5_000_000,
                track_popularity=90,
                explicit=True,
                album_popularity=20,
                release_date=dt.date(2020, 2, 29),
                release_year=2020,
                danceability=0.1,
                musical_key=0,
                musical_mode=0,
            ),
            expected_row(
                warehouse_schema.names,
                "t5",
                **beyonce,
                artist_popularity=85,
                followers=5_000_000,
                track_popularity=0,
                release_date=None,
                release_year=None,
                **dict.fromkeys(AUDIO_FEATURE_COLUMNS),
            ),
        ],
        warehouse_schema,
    )
    assertSchemaEqual(actual.schema, warehouse_schema)
    assertDataFrameEqual(actual, expected)
    assert summary.rows_quarantined == dict.fromkeys(summary.rows_read, 0)
    assert summary.duplicates_removed == {"albums": 1, "artists": 1, "tracks": 1, "features": 1}
    assert (summary.dropped_no_artist, summary.dropped_no_track) == (2, 1)  # t3 t6, t4
    assert summary.rows_without_features == 1  # t5


def test_release_date_parses_only_real_dates(spark):
    """The files' date format and bare dates parse; impossible dates and other text give null."""
    cases = [
        ("2016-11-10 00:00:00 UTC", dt.date(2016, 11, 10)),
        ("1999-12-31", dt.date(1999, 12, 31)),
        ("2020-02-29 23:59:59 UTC", dt.date(2020, 2, 29)),
        ("2019-02-29 00:00:00 UTC", None),
        ("2016-13-45 00:00:00 UTC", None),
        ("10/11/2016", None),
        ("2016-11-10 00:00:00 UTC trailing", None),
        (None, None),
    ]
    df = spark.createDataFrame([(text,) for text, _ in cases], "text string")
    actual = df.select("text", parse_release_date(F.col("text")).alias("date"))
    assertDataFrameEqual(actual, spark.createDataFrame(cases, "text string, date date"))


GATED: dict[str, Any] = {
    "rows_read": {"albums": 100, "artists": 10, "tracks": 90, "features": 0},
    "duplicates_removed": {"albums": 0, "artists": 0, "tracks": 0, "features": 0},
    "rows_written": 100,
}
"""The run the gate cases change one figure of: 200 rows read, none quarantined (as by
default), and all 100 album rows written."""


GATE = GateThresholds(min_rows=50, max_quarantine_rate=0.05, max_join_loss_rate=0.10)


@pytest.mark.parametrize(
    ("figures", "keys", "expected"),
    [
        ({}, {}, []),
        ({"rows_written": 49}, {}, ["rows 49 < min_rows 50"]),
        ({}, {"null_keys": 2}, ["2 rows have a null track_id"]),
        ({}, {"duplicate_keys": 3}, ["3 duplicate track_id values"]),
        (
            {"rows_quarantined": {"albums": 11, "artists": 0, "tracks": 0, "features": 0}},
            {},
            ["quarantine_rate 0.0550 > max_quarantine_rate 0.05"],
        ),
        (
            {"dropped_no_artist": 6, "dropped_no_track": 5, "rows_written": 89},
            {},
            ["join_loss_rate 0.1100 > max_join_loss_rate 0.1"],
        ),
    ],
    ids=["passes", "min-rows", "null-keys", "duplicate-keys", "quarantine", "join-loss"],
)
def test_gate_rules(figures, keys, expected):
    """Each gate rule fails on its own, with the figure and the threshold in the message."""
    failures = gate_failures(
        run_summary(**{**GATED, **figures}, gate=GATE),
        GATE,
        null_keys=keys.get("null_keys", 0),
        duplicate_keys=keys.get("duplicate_keys", 0),
    )
    assert len(failures) == len(expected)
    for failure, start in zip(failures, expected, strict=True):
        assert failure.startswith(start)


OPTIONS = {
    "staging_path": "s3://staging/spotify-2023/",
    "warehouse_location": "s3://warehouse",
    "catalog_database": "spotify_dev",
    "min_rows": "1000",
    "max_quarantine_rate": "0.05",
    "max_join_loss_rate": "0.1",
}


def test_job_args_parse_glue_strings():
    """Glue passes every argument as a string; numbers come out typed."""
    args = JobArgs.from_options(OPTIONS)
    assert args.gate == GateThresholds(1000, 0.05, 0.1)
    assert args.catalog_database == "spotify_dev"
    assert set(OPTIONS) == set(JOB_ARGUMENTS)
    assert set(JOB_ARGUMENTS) >= set(GATE_RULES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_rows": "many"}, "--min_rows = 'many' is not allowed; use a whole number >= 1"),
        ({"min_rows": "0"}, "--min_rows = '0' is not allowed; use a whole number >= 1"),
        (
            {"max_quarantine_rate": "1.5"},
            "--max_quarantine_rate = '1.5' is not allowed; use a rate",
        ),
        ({"max_join_loss_rate": "nan"}, "--max_join_loss_rate = 'nan' is not allowed; use a rate"),
        ({"max_join_loss_rate": None}, "missing job arguments: --max_join_loss_rate"),
        ({"warehouse_location": " "}, "--warehouse_location is empty"),
    ],
)
def test_job_args_errors_name_the_argument(change, message):
    """A bad or missing argument fails with its --name and what is expected."""
    options = {k: v for k, v in {**OPTIONS, **change}.items() if v is not None}
    with pytest.raises(JobArgumentError, match=message):
        JobArgs.from_options(options)


def test_job_layout_is_the_contract_layout_below_the_warehouse():
    """Each run's table and quarantine folders and the summaries sit where the contract says."""
    layout = JobArgs("s3://stage/spotify-2023", "s3://wh/").layout
    run_id = "20261129T061500Z-1a2b3c4d"
    assert layout.table_location(run_id) == f"s3://wh/spotify_tracks/run={run_id}/"
    assert layout.quarantine_location(run_id) == f"s3://wh/_quarantine/spotify_tracks/run={run_id}/"
    assert layout.summary_location == "s3://wh/_run_summary/spotify_tracks.json"
    assert layout.published_location == "s3://wh/_run_summary/spotify_tracks.published.json"


def test_glue_entry_point_resolves_the_job_arguments_and_commits(fake_glue, monkeypatch):
    """main() asks Glue for JOB_NAME plus exactly JOB_ARGUMENTS (never a reserved argument
    such as JOB_RUN_ID, which Glue returns unasked), runs with them typed, then commits."""
    fake_glue.options["catalog_database"] = "spotify_dev"

    def fake_run(session, args, switch_catalog):
        fake_glue.calls.append(("run", args))
        fake_glue.calls.append(("switch", switch_catalog is not None))

    monkeypatch.setattr(etl, "run", fake_run)
    etl.main()
    assert fake_glue.calls == [
        ("getResolvedOptions", ["JOB_NAME", *JOB_ARGUMENTS]),
        ("init", "spotify-etl"),
        ("run", JobArgs.from_options(fake_glue.options)),
        ("switch", True),
        ("commit", None),
    ]


def test_glue_entry_point_fails_the_job_on_rejection(fake_glue, monkeypatch):
    """A rejected run propagates, so Glue marks the job run failed and does not commit."""

    def rejecting_run(session, args, switch_catalog):
        raise QualityGateError(["rows 0 < min_rows 1"], args.layout.summary_location)

    monkeypatch.setattr(etl, "run", rejecting_run)
    with pytest.raises(QualityGateError, match="rows 0 < min_rows 1"):
        etl.main()
    assert ("commit", None) not in fake_glue.calls
