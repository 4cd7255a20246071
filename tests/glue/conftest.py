"""Hand-written Spotify-shaped CSVs, one line per quirk, so the job tests need no generator.

Every line's fate is known in advance (published, quarantined, de-duplicated or dropped by a
join); the tests in this folder check the job against these expectations.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import Row, SparkSession
from spotify_glue import etl
from spotify_glue.contract import ALBUMS, ARTISTS, FEATURES, TRACKS, SourceFile
from spotify_glue.etl import JobArgs, run
from spotify_glue.gate import GateThresholds
from spotify_glue.records import LineScan
from spotify_glue.run_summary import RunSummary
from spotify_glue.sources import scan_source

from tests.glue.fake_glue import fake_glue  # noqa: F401 (a fixture for the test modules)

# pyspark.testing imports pandas-on-Spark, which warns (an error under filterwarnings=error)
# unless this is set before the JVM starts; the value is what it asks for.
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

# Album lines as (first 13 fields, artist_0.., duration_sec): joined with commas, and with
# artist_1..artist_11 left empty as on most real rows. Quoting is written by hand.
_EMPTY_ARTISTS = "," * 10


def _album(head: str, artist_0: str, duration_sec: str) -> str:
    return f"{head},{artist_0},{_EMPTY_ARTISTS},{duration_sec}"


ALBUM_LINES = [
    # published: a comma inside a quoted track name; list-string with a comma inside quotes
    _album(
        '"Hello, World",t1,1,215000,album,"[\'Emerson, Lake & Palmer\']",9,Brain Salad Surgery,'
        "1973-11-19 00:00:00 UTC,Manticore,61,al1,ar1",
        '"Emerson, Lake & Palmer"',
        "215.0",
    ),
    # published: doubled quotes; two-artist list-string; the artist has no genres
    '"She said ""yes""",t2,2,180500,single,"[\'Beyoncé\', \'JAY-Z\']",1,Crazy in Love,'
    "2003-05-18 00:00:00 UTC,Columbia,77,al2,ar2,Beyoncé,JAY-Z,,,,,,,,,,,180.5",
    # published: CJK and emoji; no audio-features row
    _album(
        "戦場のメリークリスマス 🎄,t3,5,300000,compilation,['坂本龍一'],12,"
        "Ryuichi Sakamoto: Playing the Piano,2009-04-29 00:00:00 UTC,commmons,48,al3,ar3",
        "坂本龍一",
        "300.0",
    ),
    # duplicate track ids: the most popular album's row (al4b, popularity 55) survives
    _album(
        "Echo,t4,3,200000,album,['Beyoncé'],10,Echo Early,"
        "2001-01-01 00:00:00 UTC,Columbia,30,al4a,ar2",
        "Beyoncé",
        "200.0",
    ),
    *[
        _album(
            "Echo,t4,7,200000,album,['Beyoncé'],14,Echo Deluxe,"
            "2002-02-02 00:00:00 UTC,Columbia,55,al4b,ar2",
            "Beyoncé",
            "200.0",
        )
    ]
    * 2,
    # dropped by the artist join: no artist row for ar404
    _album(
        "Orphan,t5,1,100000,single,['Nobody'],1,Orphan,2020-01-01 00:00:00 UTC,Indie,5,al5,ar404",
        "Nobody",
        "100.0",
    ),
    # dropped by the tracks join: no popularity row for t6
    _album(
        "Unrated,t6,2,100000,album,['Emerson'],9,Works,1977-03-25 00:00:00 UTC,Atlantic,40,al6,ar1",
        "Emerson",
        "100.0",
    ),
    # quarantined: junk in a numeric column
    _album(
        "Junk,t7,1,12x,album,['Beyoncé'],1,Junk,2020-01-01 00:00:00 UTC,Indie,5,al7,ar2",
        "Beyoncé",
        "1.0",
    ),
    # dropped by the tracks join: its tracks row is quarantined (junk popularity)
    _album(
        "Bad Pop,t8,1,100000,album,['Beyoncé'],1,Bad Pop,2020-01-01 00:00:00 UTC,Indie,5,al8,ar2",
        "Beyoncé",
        "100.0",
    ),
    # quarantined: wrong field count
    "Short,t9,1",
    # quarantined: not a calendar date
    _album(
        "Bad Date,t10,1,100000,album,['Beyoncé'],1,Bad Date,"
        "2016-13-45 00:00:00 UTC,Indie,5,al10,ar2",
        "Beyoncé",
        "100.0",
    ),
    # quarantined: empty key
    _album(
        "No Id,,1,100000,album,['Beyoncé'],1,No Id,2020-01-01 00:00:00 UTC,Indie,5,al11,ar2",
        "Beyoncé",
        "100.0",
    ),
]

ARTIST_LINES = [
    '"ar1","Emerson, Lake & Palmer",60,"[\'art rock\', \'progressive rock\']",1000000,'
    "art rock,progressive rock,,,,,",
    "ar2,Beyoncé,85,[],5000000,,,,,,,",
    # duplicate artist id: the row with more followers (above) survives
    "ar2,Beyoncé (old),80,[],4000000,,,,,,,",
    "ar3,坂本龍一,70,['japanese classical'],300000,japanese classical,,,,,,",
    # quarantined: junk popularity
    "ar9,Junk Artist,lots,[],10,,,,,,,",
]

TRACK_LINES = [
    "t1,50,false",
    # duplicate track id: the more popular row survives
    "t1,55,false",
    "t2,90,true",
    "t3,65,false",
    "t4,40,false",
    "t5,10,false",
    "t8,abc,true",
]

FEATURE_LINES = [
    "0.5,0.8,4,-5.5,1,0.05,0.1,0.0,0.2,0.6,120.0,audio_features,t1,spotify:track:t1,"
    "https://api.spotify.com/v1/tracks/t1,https://api.spotify.com/v1/audio-analysis/t1,215000,4",
    "0.7,0.9,11,-3.25,0,0.2,0.01,0.001,0.3,0.8,99.5,audio_features,t2,spotify:track:t2,"
    "https://api.spotify.com/v1/tracks/t2,https://api.spotify.com/v1/audio-analysis/t2,180500,4",
    "0.4,0.3,7,-9.0,1,0.03,0.5,0.2,0.1,0.2,80.0,audio_features,t4,spotify:track:t4,"
    "https://api.spotify.com/v1/tracks/t4,https://api.spotify.com/v1/audio-analysis/t4,200000,3",
    # quarantined: junk in duration_ms, a column the table does not use (t6 is unpublished)
    "0.1,0.1,1,-1.0,1,0.1,0.1,0.1,0.1,0.1,90.0,audio_features,t6,spotify:track:t6,"
    "https://api.spotify.com/v1/tracks/t6,https://api.spotify.com/v1/audio-analysis/t6,N/A,4",
]


def write_staging(folder: Path) -> Path:
    """Write the four job sources (exact names and headers) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for source, lines in (
        (ALBUMS, ALBUM_LINES),
        (ARTISTS, ARTIST_LINES),
        (TRACKS, TRACK_LINES),
        (FEATURES, FEATURE_LINES),
    ):
        text = "\n".join([",".join(source.header), *lines]) + "\n"
        (folder / source.file_name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_staging(tmp_path_factory.mktemp("staging"))


# The hand-written data drops 3 of 7 candidate album rows in joins and quarantines 7 of 29
# rows on purpose, so the published run needs looser thresholds than the defaults.
LENIENT = GateThresholds(min_rows=1, max_quarantine_rate=0.5, max_join_loss_rate=0.5)


@dataclass(frozen=True)
class Published:
    warehouse: Path
    args: JobArgs
    summary: RunSummary
    rows: list[Row]
    files: dict[str, str]
    scanned: list[str]
    """The sources the run scanned for records that span lines (``etl.scan_source``)."""


def odd_quote_sources(staging: Path) -> list[str]:
    """The sources whose staged file has a line holding an odd number of quotes, counted
    here in Python: those the job must scan for records that span lines."""
    return sorted(
        source.key
        for source in (ALBUMS, ARTISTS, TRACKS, FEATURES)
        if any(
            line.count(b'"') % 2 for line in (staging / source.file_name).read_bytes().split(b"\n")
        )
    )


def run_spying_on_scans(
    spark, args: JobArgs, patch: pytest.MonkeyPatch
) -> tuple[RunSummary, list[str]]:
    """``run``, with the sources it scanned (sorted)."""
    scanned: list[str] = []

    def spying_scan(spark: SparkSession, uri: str, source: SourceFile) -> LineScan:
        scanned.append(source.key)
        return scan_source(spark, uri, source)

    patch.setattr(etl, "scan_source", spying_scan)
    return run(spark, args), sorted(scanned)


def table_files(location: str) -> dict[str, str]:
    """Every file under the table location (relative path -> sha256)."""
    root = Path(location)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def published(spark, staging: Path, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """One published run, shared by every module: tests only read it, and run again in a copy
    of its warehouse."""
    warehouse = tmp_path_factory.mktemp("warehouse")
    args = JobArgs(str(staging), str(warehouse), LENIENT)
    with pytest.MonkeyPatch.context() as patch:
        summary, scanned = run_spying_on_scans(spark, args, patch)
    return Published(
        warehouse=warehouse,
        args=args,
        summary=summary,
        rows=spark.read.parquet(summary.table_location).collect(),
        files=table_files(str(warehouse)),
        scanned=scanned,
    )
