"""The seed's Glue Studio visual job, re-expressed on plain Spark for comparison only.

Its semantics, kept on purpose: every column a string, albums ⋈ artists on ``artist_id = id``
then ⋈ tracks on ``track_id = id`` (inner joins), the duplicate keys dropped, no
de-duplication, no quarantine, no gate, Parquet with Snappy written in append mode. The CSV
quoting options match the real job's so both parse the same fields.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)
from spotify_glue.contract import ALBUMS, ARTISTS, TRACKS
from spotify_glue.layout import join_uri

SEED_COLUMNS: Final = (
    "followers",
    "track_id",
    "artist_popularity",
    "artist_id",
    "album_id",
    "duration_ms",
    "album_name",
    "name",
    "duration_sec",
    "track_name",
    "track_popularity",
    "label",
    "release_date",
    "album_popularity",
    "genre",
)
"""The 15 string columns the seed job produced (DATA.md)."""

_CSV: Final = {"header": "true", "quote": '"', "escape": '"', "encoding": "UTF-8"}


def _read(spark: SparkSession, staging_path: str, file_name: str) -> DataFrame:
    return spark.read.options(**_CSV).csv(join_uri(staging_path, file_name))


def seed_transform(albums: DataFrame, artists: DataFrame, tracks: DataFrame) -> DataFrame:
    """The visual job's graph: two inner joins, keys dropped, the seed's columns."""
    artists = artists.select(
        "id", "name", "artist_popularity", "followers", F.col("genre_0").alias("genre")
    )
    tracks = tracks.select(F.col("id").alias("track_key"), "track_popularity")
    joined = (
        albums.join(artists, albums["artist_id"] == artists["id"], "inner")
        .drop(artists["id"])
        .join(tracks, albums["track_id"] == tracks["track_key"], "inner")
        .drop("track_key")
    )
    return joined.select(*SEED_COLUMNS)


def run_seed(spark: SparkSession, staging_path: str, output_path: str) -> None:
    """Read the three CSVs as strings, join, and append Snappy Parquet to ``output_path``."""
    table = seed_transform(
        _read(spark, staging_path, ALBUMS.file_name),
        _read(spark, staging_path, ARTISTS.file_name),
        _read(spark, staging_path, TRACKS.file_name),
    )
    table.write.mode("append").option("compression", "snappy").parquet(output_path)
