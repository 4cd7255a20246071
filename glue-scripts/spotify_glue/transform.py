"""From classified records to the table: de-duplication, the joins, and the counts of both.

Albums, tracks and features share the track id, and artists are few. So one aggregate over
every record of every source does the work of four de-duplications and two joins, and holds
the quarantined records too (``group_records``): one shuffle for the whole job. Its result,
about the table's size, is cached by the job; every count, the quarantine file and the table
are read from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 (the PySpark convention)

from spotify_glue.classify import RAW_COLUMN, REASON_COLUMN, parse_release_date
from spotify_glue.contract import (
    ALBUMS,
    ARTISTS,
    FEATURES,
    JOB_SOURCES,
    PRIMARY_KEY,
    TRACKS,
    WAREHOUSE_COLUMNS,
    SourceFile,
)
from spotify_glue.records import ODD_COLUMN, RECORD_ID_COLUMN

DEDUPE_KEYS: Final[dict[str, str]] = {
    ALBUMS.key: "track_id",
    ARTISTS.key: "id",
    TRACKS.key: "id",
    FEATURES.key: "id",
}

DEDUPE_PREFERENCE: Final[dict[str, tuple[str, ...]]] = {
    ALBUMS.key: ("album_popularity", "release_date", "total_tracks"),
    ARTISTS.key: ("followers", "artist_popularity"),
    TRACKS.key: ("track_popularity",),
    FEATURES.key: (),
}
"""Among rows sharing a key, the row with the greatest of these (in order) survives; the
remaining columns break any tie, so the choice never depends on file or partition order."""

FEATURE_COLUMNS: Final[dict[str, str]] = {
    "danceability": "danceability",
    "energy": "energy",
    "key": "musical_key",
    "loudness": "loudness",
    "mode": "musical_mode",
    "speechiness": "speechiness",
    "acousticness": "acousticness",
    "instrumentalness": "instrumentalness",
    "liveness": "liveness",
    "valence": "valence",
    "tempo": "tempo",
    "time_signature": "time_signature",
}
"""Features source column -> warehouse column (``key``/``mode`` are SQL keywords)."""

GENRE_COLUMNS: Final = tuple(f"genre_{i}" for i in range(7))

_ALBUM_ARTIST_LISTS: Final = {"artists", *(f"artist_{i}" for i in range(12))}
USED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    ALBUMS.key: tuple(c for c in ALBUMS.header if c not in _ALBUM_ARTIST_LISTS),
    ARTISTS.key: ("id", "name", "artist_popularity", "followers", *GENRE_COLUMNS),
    TRACKS.key: TRACKS.header,
    FEATURES.key: ("id", *FEATURE_COLUMNS),
}
"""The columns the table is built from. Every column is still parsed and validated; only
these are kept after classification, so the shuffle and the cache stay narrow."""

TRACK_SOURCES: Final = (ALBUMS, TRACKS, FEATURES)
"""The sources keyed by track id."""

KIND_COLUMN: Final = "_kind"
KEY_COLUMN: Final = "_key"
TRACK: Final = "track"
ARTIST: Final = "artist"
QUARANTINED: Final = "quarantined"
"""The kinds of ``group_records`` rows."""
QUARANTINE_COLUMN: Final = "_quarantined"
QUARANTINED_ROWS: Final = "_quarantined_rows"
"""Records in a quarantined group: always 1, as each has its own key."""
ARTIST_KEY: Final = "_artist_key"

HAS_ALBUM: Final = "_has_album"
HAS_ARTIST: Final = "_has_artist"
HAS_TRACK: Final = "_has_track"
HAS_FEATURES: Final = "_has_features"


def rows_column(source: SourceFile) -> str:
    """The number of usable rows a source had for a key (0: none)."""
    return f"_{source.key}_rows"


def odd_quotes_column(source: SourceFile) -> str:
    """The number of a source's lines with an odd number of quotes (``records.ODD_COLUMN``)."""
    return f"_{source.key}_odd_quotes"


def survivor_column(source: SourceFile) -> str:
    """The source's surviving row for a key, as a struct (null: none)."""
    return f"_{source.key}"


def winner(source: SourceFile) -> Column:
    """The source's row as a struct ordered for de-duplication: its preference columns, then
    every other column it keeps. ``max`` of it is the surviving row: the greatest by the
    preference columns, nulls lowest, then by the rest, so the same row on every run."""
    key = DEDUPE_KEYS[source.key]
    preferred = DEDUPE_PREFERENCE[source.key]
    rest = [c for c in USED_COLUMNS[source.key] if c != key and c not in preferred]
    return F.struct(*preferred, *rest)


def _tagged(classified: DataFrame, source: SourceFile) -> DataFrame:
    """A source's records as ``group_records`` input: usable ones under their key, each
    quarantined one under its own (source and record id)."""
    usable = F.col(REASON_COLUMN).isNull()
    kind = ARTIST if source is ARTISTS else TRACK
    own_key = F.concat_ws(":", F.lit(source.key), F.col(RECORD_ID_COLUMN).cast("string"))
    quarantined = F.struct(
        F.lit(source.key).alias("source"),
        F.col(REASON_COLUMN).alias("reason"),
        F.col(RAW_COLUMN).alias("raw"),
    )
    # A flag, not a filter: Spark would push a filter below the parse and substitute the
    # parser's expression into every field the reason reads (measured: six times slower).
    return classified.select(
        F.when(usable, F.lit(kind)).otherwise(F.lit(QUARANTINED)).alias(KIND_COLUMN),
        F.when(usable, F.col(DEDUPE_KEYS[source.key])).otherwise(own_key).alias(KEY_COLUMN),
        F.when(usable, winner(source)).alias(survivor_column(source)),
        F.when(~usable, quarantined).alias(QUARANTINE_COLUMN),
        F.col(ODD_COLUMN).cast("long").alias(odd_quotes_column(source)),
    )


def group_records(classified: Mapping[str, DataFrame]) -> DataFrame:
    """Every record of every source in one aggregate, one row per (``_kind``, ``_key``):

    - ``track``: a track id, with the surviving albums, tracks and features rows (null when
      the source has none) and how many usable rows each source had for it;
    - ``artist``: an artist id, with the surviving artists row and its count;
    - ``quarantined``: one quarantined record, with its source, reason and raw text.

    Each row also counts each source's lines with an odd number of quotes among its records.
    ``classified`` holds each source's classified records with their record id and odd-quotes
    flag."""
    union = reduce(
        lambda a, b: a.unionByName(b, allowMissingColumns=True),
        (_tagged(classified[s.key], s) for s in JOB_SOURCES),
    )
    # Keys are almost all distinct, so a map-side partial aggregate would sort every row
    # before the shuffle for nothing; shuffled by key first, only the reduce side sorts. The
    # key leads the sort: its first bytes (the sort prefix) then tell rows apart, where the
    # kind's are the same for almost every row.
    by_key = union.repartition(KEY_COLUMN, KIND_COLUMN)
    return by_key.groupBy(KEY_COLUMN, KIND_COLUMN).agg(
        *(
            aggregate
            for s in JOB_SOURCES
            for aggregate in (
                F.max(survivor_column(s)).alias(survivor_column(s)),
                F.count(survivor_column(s)).alias(rows_column(s)),
            )
        ),
        F.max(QUARANTINE_COLUMN).alias(QUARANTINE_COLUMN),
        F.count(QUARANTINE_COLUMN).alias(QUARANTINED_ROWS),
        *(F.sum(odd_quotes_column(s)).alias(odd_quotes_column(s)) for s in JOB_SOURCES),
    )


def quarantined_records(groups: DataFrame) -> DataFrame:
    """The quarantined records as (source, reason, raw)."""
    return groups.where(F.col(KIND_COLUMN) == QUARANTINED).select(f"{QUARANTINE_COLUMN}.*")


def surviving_artists(groups: DataFrame) -> DataFrame:
    """One row per artist id: the surviving row's columns."""
    return groups.where(F.col(KIND_COLUMN) == ARTIST).select(
        F.col(KEY_COLUMN).alias(ARTIST_KEY), f"{survivor_column(ARTISTS)}.*"
    )


def with_artists(groups: DataFrame) -> DataFrame:
    """Every group with its album's surviving artist row (``_artist_key`` and the artist's
    table columns; null when the group has no album or the album's artist has no row).
    Artists are few: broadcast, not shuffled."""
    artists = F.broadcast(surviving_artists(groups)).select(
        ARTIST_KEY,
        F.col("name").alias("artist_name"),
        "artist_popularity",
        "followers",
        F.filter(F.array(*GENRE_COLUMNS), lambda g: g.isNotNull() & (F.trim(g) != "")).alias(
            "genres"
        ),
    )
    album = survivor_column(ALBUMS)
    return groups.join(artists, F.col(f"{album}.artist_id") == artists[ARTIST_KEY], "left")


def enrich(groups: DataFrame) -> DataFrame:
    """Every track id in the warehouse shape, with match flags.

    ``_has_album`` marks the keys the table is built from; ``_has_artist`` and ``_has_track``
    mark the rows the visual job's inner joins keep. Joining left and flagging keeps the
    rows those joins drop countable (``count_groups``). Audio features join left: a track
    without them keeps null features."""
    album, track, features = (survivor_column(s) for s in TRACK_SOURCES)
    tracks = with_artists(groups).where(F.col(KIND_COLUMN) == TRACK)
    release_date = parse_release_date(F.col(f"{album}.release_date"))
    columns = {
        **{c: F.col(f"{album}.{c}") for c in USED_COLUMNS[ALBUMS.key] if c != PRIMARY_KEY},
        PRIMARY_KEY: F.col(KEY_COLUMN),
        "track_popularity": F.col(f"{track}.track_popularity"),
        "explicit": F.col(f"{track}.explicit"),
        **{dst: F.col(f"{features}.{src}") for src, dst in FEATURE_COLUMNS.items()},
        **{c: F.col(c) for c in ("artist_name", "artist_popularity", "followers", "genres")},
        "release_date": release_date,
        "release_year": F.year(release_date),
        "primary_genre": F.get(F.col("genres"), 0),
    }
    return tracks.select(
        *(columns[c.name].cast(c.type).alias(c.name) for c in WAREHOUSE_COLUMNS),
        *(flag.alias(name) for name, flag in _match_flags().items()),
    )


def _match_flags() -> dict[str, Column]:
    """Whether a group (after ``with_artists``) has an album, its artist, a tracks row and
    a features row."""
    album, track, features = (survivor_column(s) for s in TRACK_SOURCES)
    return {
        HAS_ALBUM: F.col(album).isNotNull(),
        HAS_ARTIST: F.col(ARTIST_KEY).isNotNull(),
        HAS_TRACK: F.col(track).isNotNull(),
        HAS_FEATURES: F.col(features).isNotNull(),
    }


def kept_by_inner_joins(flags: Mapping[str, Column]) -> Column:
    """Whether the visual job's inner joins keep a group, from its ``_match_flags``: it has an
    album, the album's artist and a tracks row."""
    return flags[HAS_ALBUM] & flags[HAS_ARTIST] & flags[HAS_TRACK]


def publishable(enriched: DataFrame) -> DataFrame:
    """The rows the visual job's inner joins keep, in the contract's columns and order."""
    flags = {name: F.col(name) for name in (HAS_ALBUM, HAS_ARTIST, HAS_TRACK)}
    return enriched.where(kept_by_inner_joins(flags)).select(*(c.name for c in WAREHOUSE_COLUMNS))


def count_if(condition: Column) -> Column:
    return F.sum(condition.cast("long"))


@dataclass(frozen=True)
class SourceCounts:
    """Each source's records: usable, distinct keys among them, quarantined by reason."""

    usable: dict[str, int]
    keys: dict[str, int]
    """Distinct keys among the usable rows: the rows left after de-duplication."""
    quarantined: dict[str, dict[str, int]]
    """Source -> reason -> records."""
    odd_quote_lines: dict[str, int]
    """Lines with an odd number of quotes, in a file read a record per line; such a file must
    be scanned for records that span lines (``records.ODD_COLUMN``)."""

    @property
    def rows_quarantined(self) -> dict[str, int]:
        return {key: sum(self.quarantined[key].values()) for key in self.usable}

    @property
    def rows_read(self) -> dict[str, int]:
        return {key: self.usable[key] + self.rows_quarantined[key] for key in self.usable}

    @property
    def duplicates(self) -> dict[str, int]:
        return {key: self.usable[key] - self.keys[key] for key in self.usable}


@dataclass(frozen=True)
class JoinStats:
    """What the joins did to the de-duplicated album rows."""

    dropped_no_artist: int
    dropped_no_track: int
    rows_without_features: int
    rows: int
    """Candidate table rows: album rows the inner joins keep."""


@dataclass(frozen=True)
class GroupCounts:
    """Everything the run counts, from the grouped records."""

    sources: SourceCounts
    joins: JoinStats


def _join_counts() -> dict[str, Column]:
    flags = _match_flags()
    album, artist, track = flags[HAS_ALBUM], flags[HAS_ARTIST], flags[HAS_TRACK]
    matched = kept_by_inner_joins(flags)
    return {
        "no_artist": count_if(album & ~artist),
        "no_track": count_if(album & artist & ~track),
        "no_features": count_if(matched & ~flags[HAS_FEATURES]),
        "rows": count_if(matched),
    }


def count_groups(groups: DataFrame) -> GroupCounts:
    """``SourceCounts`` and ``JoinStats`` in one aggregate over the grouped records, by
    quarantine source and reason: the first read of the groups, so it also fills the job's
    cache of them."""
    sums = {
        **{f"usable_{s.key}": F.sum(rows_column(s)) for s in JOB_SOURCES},
        **{f"keys_{s.key}": count_if(F.col(rows_column(s)) > 0) for s in JOB_SOURCES},
        **{f"odd_{s.key}": F.sum(odd_quotes_column(s)) for s in JOB_SOURCES},
        "quarantined": F.sum(QUARANTINED_ROWS),
        "shared_keys": count_if(F.col(QUARANTINED_ROWS) > 1),
        **_join_counts(),
    }
    rows = (
        with_artists(groups)
        .groupBy(
            F.col(f"{QUARANTINE_COLUMN}.source").alias("source"),
            F.col(f"{QUARANTINE_COLUMN}.reason").alias("reason"),
        )
        .agg(*(total.alias(name) for name, total in sums.items()))
        .collect()
    )
    total = {name: sum(int(row[name] or 0) for row in rows) for name in sums}
    if total["shared_keys"]:
        # Each quarantined record is keyed by its source and record id; a shared key would
        # keep one record of several, and the counts would no longer add up.
        raise RuntimeError(
            f"{total['shared_keys']} quarantined records share a source and record id: did "
            "an input file change during the run? Run the job again"
        )
    quarantined: dict[str, dict[str, int]] = {s.key: {} for s in JOB_SOURCES}
    for row in rows:
        if row["source"] is not None:
            quarantined[row["source"]][row["reason"]] = int(row["quarantined"])
    return GroupCounts(
        sources=SourceCounts(
            usable={s.key: total[f"usable_{s.key}"] for s in JOB_SOURCES},
            keys={s.key: total[f"keys_{s.key}"] for s in JOB_SOURCES},
            quarantined=quarantined,
            odd_quote_lines={s.key: total[f"odd_{s.key}"] for s in JOB_SOURCES},
        ),
        joins=JoinStats(
            dropped_no_artist=total["no_artist"],
            dropped_no_track=total["no_track"],
            rows_without_features=total["no_features"],
            rows=total["rows"],
        ),
    )
