"""The one schema contract of the pipeline.

Plain Python with no third-party imports: Glue loads it beside the job script through
``--extra-py-files``, and the Pulumi program, the local runner, the SQL checks and the
verifier import the same declarations.

Types are spelled as the Glue catalog (Hive DDL) spells them; Spark parses the same strings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final, Literal

# --- Names and layout -----------------------------------------------------------------------

TABLE_NAME: Final = "spotify_tracks"
"""The warehouse table, in the catalog, in Athena and locally in DuckDB."""

DATABASE_BASENAME: Final = "spotify"
"""Catalog database base name; the program suffixes it per environment."""

STAGING_PREFIX: Final = "spotify-2023/"
"""Where the raw CSVs sit in the staging bucket (or folder)."""

TABLE_PREFIX: Final = f"{TABLE_NAME}/"
"""The table's data files in the warehouse bucket; only Parquet lives below it."""

QUARANTINE_PREFIX: Final = f"_quarantine/{TABLE_NAME}/"
"""Malformed source rows with their reason, beside (not inside) the table."""

SUMMARY_KEY: Final = f"_run_summary/{TABLE_NAME}.json"
"""The latest run summary, beside (not inside) the table."""

PRIMARY_KEY: Final = "track_id"


def join_uri(base: str, *parts: str) -> str:
    """Join a bucket URI or local folder with relative parts, with exactly one slash between."""
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


@dataclass(frozen=True)
class WarehouseLayout:
    """Where one run's outputs live below a warehouse folder or bucket URI."""

    table_location: str
    quarantine_location: str
    summary_location: str


def warehouse_layout(warehouse: str) -> WarehouseLayout:
    """The contract's layout below ``warehouse``; folder locations end with a slash."""
    return WarehouseLayout(
        table_location=join_uri(warehouse, TABLE_PREFIX) + "/",
        quarantine_location=join_uri(warehouse, QUARANTINE_PREFIX) + "/",
        summary_location=join_uri(warehouse, SUMMARY_KEY),
    )


# --- Columns --------------------------------------------------------------------------------

ColumnType = Literal["string", "int", "bigint", "double", "boolean", "date", "array<string>"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    comment: str = ""
    nullable: bool = True


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

# Athena (Trino) spelling, as information_schema and DESCRIBE report it.
ATHENA_TYPES: Final[dict[str, str]] = {
    "string": "varchar",
    "int": "integer",
    "bigint": "bigint",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "array<string>": "array(varchar)",
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


def _strings(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "string") for n in names)


ALBUMS: Final = SourceFile(
    key="albums",
    file_name="spotify-albums_data_2023.csv",
    columns=(
        Column("track_name", "string"),
        Column("track_id", "string"),
        Column("track_number", "int"),
        Column("duration_ms", "int"),
        Column("album_type", "string"),
        Column("artists", "string", "Python-list string, e.g. ['A', 'B']"),
        Column("total_tracks", "int"),
        Column("album_name", "string"),
        Column("release_date", "string", "e.g. 2016-11-10 00:00:00 UTC"),
        Column("label", "string"),
        Column("album_popularity", "int"),
        Column("album_id", "string"),
        Column("artist_id", "string"),
        *_strings(*(f"artist_{i}" for i in range(12))),
        Column("duration_sec", "double"),
    ),
)

ARTISTS: Final = SourceFile(
    key="artists",
    file_name="spotify_artist_data_2023.csv",
    columns=(
        Column("id", "string"),
        Column("name", "string"),
        Column("artist_popularity", "int"),
        Column("artist_genres", "string", "Python-list string, often []"),
        Column("followers", "bigint"),
        *_strings(*(f"genre_{i}" for i in range(7))),
    ),
)

TRACKS: Final = SourceFile(
    key="tracks",
    file_name="spotify_tracks_data_2023.csv",
    columns=(
        Column("id", "string"),
        Column("track_popularity", "int"),
        Column("explicit", "boolean"),
    ),
)

FEATURES: Final = SourceFile(
    key="features",
    file_name="spotify_features_data_2023.csv",
    columns=(
        Column("danceability", "double"),
        Column("energy", "double"),
        Column("key", "int"),
        Column("loudness", "double"),
        Column("mode", "int"),
        Column("speechiness", "double"),
        Column("acousticness", "double"),
        Column("instrumentalness", "double"),
        Column("liveness", "double"),
        Column("valence", "double"),
        Column("tempo", "double"),
        Column("type", "string"),
        Column("id", "string"),
        Column("uri", "string"),
        Column("track_href", "string"),
        Column("analysis_url", "string"),
        Column("duration_ms", "int"),
        Column("time_signature", "int"),
    ),
)

DENORMALISED_FILE_NAME: Final = "spotify_data_12_20_2023.csv"
"""The pre-joined 49-column file; generated for fidelity, not read by the job."""

JOB_SOURCES: Final[tuple[SourceFile, ...]] = (ALBUMS, ARTISTS, TRACKS, FEATURES)


# --- The warehouse table --------------------------------------------------------------------

WAREHOUSE_COLUMNS: Final[tuple[Column, ...]] = (
    Column("track_id", "string", "Spotify track id; unique", nullable=False),
    Column("track_name", "string"),
    Column("track_number", "int"),
    Column("explicit", "boolean"),
    Column("track_popularity", "int", "0-100"),
    Column("duration_ms", "int"),
    Column("duration_sec", "double"),
    Column("album_id", "string"),
    Column("album_name", "string"),
    Column("album_type", "string", "album, single or compilation"),
    Column("total_tracks", "int"),
    Column("album_popularity", "int", "0-100"),
    Column("label", "string"),
    Column("release_date", "date"),
    Column("release_year", "int"),
    Column("artist_id", "string"),
    Column("artist_name", "string", "primary artist"),
    Column("artist_popularity", "int", "0-100"),
    Column("followers", "bigint"),
    Column("primary_genre", "string", "first genre of the primary artist, if any"),
    Column("genres", "array<string>", "all genres of the primary artist"),
    Column("danceability", "double", "audio feature; null when the track has none"),
    Column("energy", "double"),
    Column("musical_key", "int", "pitch class 0-11"),
    Column("loudness", "double", "dB"),
    Column("musical_mode", "int", "1 major, 0 minor"),
    Column("speechiness", "double"),
    Column("acousticness", "double"),
    Column("instrumentalness", "double"),
    Column("liveness", "double"),
    Column("valence", "double"),
    Column("tempo", "double", "BPM"),
    Column("time_signature", "int"),
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


# --- Quality gate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GateThresholds:
    """The publish gate; the job enforces it and the verifier re-checks it after a run."""

    min_rows: int = 1
    max_quarantine_rate: float = 0.05
    """Quarantined rows over rows read, all sources."""
    max_join_loss_rate: float = 0.10
    """Album rows dropped by the inner joins over album rows after de-duplication."""


DEFAULT_GATE: Final = GateThresholds()


# --- Run summary (written by the job beside the table, read by checks and the verifier) -----

RunStatus = Literal["published", "rejected"]


@dataclass
class RunSummary:
    run_id: str
    status: RunStatus
    started_at: str
    finished_at: str
    rows_read: dict[str, int]
    """Data rows read per source key (albums, artists, tracks, features)."""
    rows_quarantined: dict[str, int]
    """Malformed rows per source key, written to the quarantine prefix."""
    duplicates_removed: dict[str, int]
    """Rows dropped by de-duplication on their key, per source key."""
    dropped_no_artist: int
    """Album rows dropped by the inner join to artists."""
    dropped_no_track: int
    """Album rows dropped by the inner join to tracks."""
    rows_without_features: int
    """Output rows with no audio features (kept: the features join is a left join)."""
    rows_written: int
    """Rows in the published table (0 when rejected)."""
    gate: dict[str, float] = field(default_factory=dict)
    """The thresholds this run was judged against."""
    gate_failures: list[str] = field(default_factory=list)

    @property
    def total_read(self) -> int:
        return sum(self.rows_read.values())

    @property
    def total_quarantined(self) -> int:
        return sum(self.rows_quarantined.values())

    @property
    def quarantine_rate(self) -> float:
        return self.total_quarantined / self.total_read if self.total_read else 0.0

    @property
    def join_loss_rate(self) -> float:
        candidates = (
            self.rows_read.get(ALBUMS.key, 0)
            - self.rows_quarantined.get(ALBUMS.key, 0)
            - self.duplicates_removed.get(ALBUMS.key, 0)
        )
        lost = self.dropped_no_artist + self.dropped_no_track
        return lost / candidates if candidates > 0 else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSummary:
        """Parse a summary; a missing or extra field is an error that names it."""
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("run summary must be a JSON object")
        expected = {f.name for f in fields(cls)}
        missing = sorted(expected - data.keys())
        unknown = sorted(data.keys() - expected)
        if missing or unknown:
            raise ValueError(f"run summary fields: missing {missing}, unknown {unknown}")
        return cls(**data)
