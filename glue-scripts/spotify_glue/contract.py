"""The one schema contract of the pipeline: the source files and the warehouse table, column by
column (name, type, domain, comment), and each type's spelling in DuckDB and QuickSight.

Plain Python with no third-party imports: Glue loads it with the job through
``--extra-py-files``, and the Pulumi program, the local runner, the SQL checks and the
verifier import the same declarations.

Types are spelled as the Glue catalog (Hive DDL) spells them; Spark parses the same strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from spotify_glue.domains import (
    ALBUM_TYPES,
    COUNT,
    LOUDNESS_DB,
    MODALITY,
    NON_NEGATIVE,
    PITCH_CLASS,
    POPULARITY,
    POSITIVE,
    RELEASE_DATES,
    RELEASE_YEARS,
    TIME_SIGNATURE,
    UNIT_INTERVAL,
    Domain,
    Range,
    finite_sql,
)

# --- Columns --------------------------------------------------------------------------------

ColumnType = Literal["string", "int", "bigint", "double", "boolean", "date", "array<string>"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    comment: str = ""
    nullable: bool = True
    domain: Domain | None = None
    """Allowed values besides null; doubles must also be finite, whatever the domain."""

    @property
    def finite(self) -> bool:
        """Whether the column must hold finite numbers: NaN and infinities are not data."""
        return self.type == "double"

    def domain_text(self) -> str | None:
        """The column's domain in words, or None when every value of its type is allowed."""
        text = self.domain.describe() if self.domain is not None else None
        bounded = isinstance(self.domain, Range) and None not in (self.domain.low, self.domain.high)
        if self.finite and not bounded:
            return f"finite, {text}" if text else "finite"
        return text

    def domain_sql(self, ref: str) -> str | None:
        """A predicate true when the non-null value ``ref`` is in the domain; None when every
        value of the type is allowed."""
        parts = [finite_sql(ref)] if self.finite else []
        if self.domain is not None:
            parts.append(self.domain.sql(ref))
        return " AND ".join(f"({p})" for p in parts) if parts else None

    def allows(self, value: Any, today: date | None = None) -> bool:
        """The same rule as ``domain_sql``, in Python (null is always allowed here)."""
        if value is None:
            return True
        if self.finite and not math.isfinite(value):
            return False
        return self.domain is None or self.domain.contains(value, today)


# DuckDB spelling of each contract type (the local catalog step and checks use it).
DUCKDB_TYPES: Final[dict[str, str]] = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "array<string>": "VARCHAR[]",
}

# QuickSight input column types; arrays have no QuickSight type and are left out of data sets.
QUICKSIGHT_TYPES: Final[dict[str, str]] = {
    "string": "STRING",
    "int": "INTEGER",
    "bigint": "INTEGER",
    "double": "DECIMAL",
    "boolean": "BOOLEAN",
    "date": "DATETIME",
}


# --- Source files (DATA.md): exact names, header order and read types -------------------------


@dataclass(frozen=True)
class SourceFile:
    key: str
    file_name: str
    columns: tuple[Column, ...]
    required: bool = True

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        """Spark DDL read schema, in header order."""
        return ", ".join(f"`{c.name}` {c.type}" for c in self.columns)

    def text_ddl(self) -> str:
        """Spark DDL with every column a string, in header order: the fields as written."""
        return ", ".join(f"`{c.name}` string" for c in self.columns)


def _strings(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "string") for n in names)


ALBUMS: Final = SourceFile(
    key="albums",
    file_name="spotify-albums_data_2023.csv",
    columns=(
        Column("track_name", "string"),
        Column("track_id", "string"),
        Column("track_number", "int", domain=COUNT),
        Column("duration_ms", "int", domain=POSITIVE),
        Column("album_type", "string", domain=ALBUM_TYPES),
        Column("artists", "string", "Python-list string, e.g. ['A', 'B']"),
        Column("total_tracks", "int", domain=COUNT),
        Column("album_name", "string"),
        Column("release_date", "string", "e.g. 2016-11-10 00:00:00 UTC", domain=RELEASE_DATES),
        Column("label", "string"),
        Column("album_popularity", "int", domain=POPULARITY),
        Column("album_id", "string"),
        Column("artist_id", "string"),
        *_strings(*(f"artist_{i}" for i in range(12))),
        Column("duration_sec", "double", domain=POSITIVE),
    ),
)

ARTISTS: Final = SourceFile(
    key="artists",
    file_name="spotify_artist_data_2023.csv",
    columns=(
        Column("id", "string"),
        Column("name", "string"),
        Column("artist_popularity", "int", domain=POPULARITY),
        Column("artist_genres", "string", "Python-list string, often []"),
        Column("followers", "bigint", domain=NON_NEGATIVE),
        *_strings(*(f"genre_{i}" for i in range(7))),
    ),
)

TRACKS: Final = SourceFile(
    key="tracks",
    file_name="spotify_tracks_data_2023.csv",
    columns=(
        Column("id", "string"),
        Column("track_popularity", "int", domain=POPULARITY),
        Column("explicit", "boolean"),
    ),
)

FEATURES: Final = SourceFile(
    key="features",
    file_name="spotify_features_data_2023.csv",
    columns=(
        Column("danceability", "double", domain=UNIT_INTERVAL),
        Column("energy", "double", domain=UNIT_INTERVAL),
        Column("key", "int", domain=PITCH_CLASS),
        Column("loudness", "double", domain=LOUDNESS_DB),
        Column("mode", "int", domain=MODALITY),
        Column("speechiness", "double", domain=UNIT_INTERVAL),
        Column("acousticness", "double", domain=UNIT_INTERVAL),
        Column("instrumentalness", "double", domain=UNIT_INTERVAL),
        Column("liveness", "double", domain=UNIT_INTERVAL),
        Column("valence", "double", domain=UNIT_INTERVAL),
        Column("tempo", "double", domain=NON_NEGATIVE),
        Column("type", "string"),
        Column("id", "string"),
        Column("uri", "string"),
        Column("track_href", "string"),
        Column("analysis_url", "string"),
        Column("duration_ms", "int", domain=POSITIVE),
        Column("time_signature", "int", domain=TIME_SIGNATURE),
    ),
)

DENORMALISED_FILE_NAME: Final = "spotify_data_12_20_2023.csv"
"""The pre-joined 49-column file; generated for fidelity, not read by the job."""

JOB_SOURCES: Final[tuple[SourceFile, ...]] = (ALBUMS, ARTISTS, TRACKS, FEATURES)


# --- The warehouse table --------------------------------------------------------------------

PRIMARY_KEY: Final = "track_id"
"""The warehouse table's key: one row per track."""

WAREHOUSE_COLUMNS: Final[tuple[Column, ...]] = (
    Column("track_id", "string", "Spotify track id; unique", nullable=False),
    Column("track_name", "string"),
    Column("track_number", "int", domain=COUNT),
    Column("explicit", "boolean"),
    Column("track_popularity", "int", domain=POPULARITY),
    Column("duration_ms", "int", domain=POSITIVE),
    Column("duration_sec", "double", domain=POSITIVE),
    Column("album_id", "string"),
    Column("album_name", "string"),
    Column("album_type", "string", domain=ALBUM_TYPES),
    Column("total_tracks", "int", domain=COUNT),
    Column("album_popularity", "int", domain=POPULARITY),
    Column("label", "string"),
    Column("release_date", "date", domain=RELEASE_DATES),
    Column("release_year", "int", domain=RELEASE_YEARS),
    Column("artist_id", "string"),
    Column("artist_name", "string", "primary artist"),
    Column("artist_popularity", "int", domain=POPULARITY),
    Column("followers", "bigint", domain=NON_NEGATIVE),
    Column("primary_genre", "string", "first genre of the primary artist, if any"),
    Column("genres", "array<string>", "all genres of the primary artist"),
    Column(
        "danceability",
        "double",
        "audio feature; null when the track has none",
        domain=UNIT_INTERVAL,
    ),
    Column("energy", "double", domain=UNIT_INTERVAL),
    Column("musical_key", "int", "pitch class; -1 when no key was detected", domain=PITCH_CLASS),
    Column("loudness", "double", "dB", domain=LOUDNESS_DB),
    Column("musical_mode", "int", "1 major, 0 minor", domain=MODALITY),
    Column("speechiness", "double", domain=UNIT_INTERVAL),
    Column("acousticness", "double", domain=UNIT_INTERVAL),
    Column("instrumentalness", "double", domain=UNIT_INTERVAL),
    Column("liveness", "double", domain=UNIT_INTERVAL),
    Column("valence", "double", domain=UNIT_INTERVAL),
    Column("tempo", "double", "BPM", domain=NON_NEGATIVE),
    Column("time_signature", "int", "beats per bar", domain=TIME_SIGNATURE),
)


AUDIO_FEATURE_COLUMNS: Final[tuple[str, ...]] = tuple(
    c.name for c in WAREHOUSE_COLUMNS[[c.name for c in WAREHOUSE_COLUMNS].index("danceability") :]
)
"""The columns the left join to the features file fills; null for a track without features."""


def warehouse_ddl() -> str:
    """Spark DDL of the warehouse table, in contract order."""
    return ", ".join(
        f"`{c.name}` {c.type}{'' if c.nullable else ' NOT NULL'}" for c in WAREHOUSE_COLUMNS
    )


def column_names() -> tuple[str, ...]:
    return tuple(c.name for c in WAREHOUSE_COLUMNS)
