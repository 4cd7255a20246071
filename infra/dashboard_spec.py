"""The dashboard as data: one visual spec, rendered twice.

The program renders it into the QuickSight dashboard (``infra/quicksight_definition.py``); the
operator CLI renders it into the local report (``spotify_ops/report.py``) and runs each visual's
query on DuckDB. Like ``infra/outputs.py`` this module imports no Pulumi, so both sides can use
it; like a Vega-Lite spec it says what to show, and each renderer decides how.

Every visual reads only columns of the schema contract that QuickSight can type (the array column
``genres`` has no QuickSight type, so genre questions use ``primary_genre``). Each visual's
Athena SQL is rendered from the spec too (:func:`athena_sql`) and written to
``sql/insights/<visual id>.sql`` by ``python -m infra.dashboard_spec``; a test keeps those files
equal to the rendering, so the named queries, the verifier's probe and the local run read the
same query.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from spotify_glue.contract import PRIMARY_KEY, QUICKSIGHT_TYPES, WAREHOUSE_COLUMNS
from spotify_glue.layout import TABLE_NAME

from infra import naming

ChartType = Literal["bar", "line", "scatter", "heat_map", "table", "kpi"]
Aggregation = Literal["SUM", "AVERAGE", "MIN", "MAX", "COUNT", "DISTINCT_COUNT"]
NumberFormat = Literal["text", "count", "decimal", "year"]
"""How a value reads: ``count`` with thousands separators and no decimals, ``decimal`` with
two decimals, ``year`` without separators (2023, not 2,023), ``text`` as is."""

COLUMN_TYPES: Final[dict[str, str]] = {c.name: c.type for c in WAREHOUSE_COLUMNS}
NUMERIC_TYPES: Final = frozenset({"int", "bigint", "double"})
SQL_AGGREGATES: Final[dict[str, str]] = {
    "SUM": "SUM({})",
    "AVERAGE": "AVG({})",
    "MIN": "MIN({})",
    "MAX": "MAX({})",
    "COUNT": "COUNT({})",
    "DISTINCT_COUNT": "COUNT(DISTINCT {})",
}
SQL_DIR: Final = Path(__file__).resolve().parent.parent / "sql" / "insights"


@dataclass(frozen=True)
class Dimension:
    """A column the visual groups by (or plots as is, in an unaggregated scatter)."""

    column: str
    label: str = ""
    format: NumberFormat | None = None
    """Defaults by the column's type: numbers as counts, everything else as text."""

    @property
    def name(self) -> str:
        """The field's name in the query result and the CSV download."""
        return self.column

    @property
    def title(self) -> str:
        return self.label or self.column.replace("_", " ")

    @property
    def number_format(self) -> NumberFormat:
        if self.format is not None:
            return self.format
        return "count" if COLUMN_TYPES.get(self.column) in NUMERIC_TYPES else "text"


@dataclass(frozen=True)
class Measure:
    """An aggregation of one column."""

    column: str
    aggregation: Aggregation
    label: str
    key: str = ""
    """The field's name in the query result; defaults to ``<aggregation>_<column>``."""
    format: NumberFormat | None = None
    """Defaults: counts for COUNT and DISTINCT_COUNT, decimals for AVERAGE, else by type."""

    @property
    def name(self) -> str:
        return self.key or f"{self.aggregation.lower()}_{self.column}"

    @property
    def title(self) -> str:
        return self.label

    @property
    def number_format(self) -> NumberFormat:
        if self.format is not None:
            return self.format
        if self.aggregation in ("COUNT", "DISTINCT_COUNT"):
            return "count"
        if self.aggregation == "AVERAGE" or COLUMN_TYPES.get(self.column) == "double":
            return "decimal"
        return "count"


Field = Dimension | Measure


@dataclass(frozen=True)
class Sort:
    """Order by one field of the visual (its ``name``)."""

    field: str
    descending: bool = False


@dataclass(frozen=True)
class NotNull:
    """Row filter: leave out rows where the column is empty."""

    column: str


@dataclass(frozen=True)
class AtLeast:
    """Group filter: keep only groups whose aggregate reaches a minimum (e.g. enough tracks)."""

    measure: Measure
    minimum: int


Filter = NotNull | AtLeast


@dataclass(frozen=True)
class Visual:
    """One chart or table of the dashboard and of the local report.

    Field roles by chart type: ``bar`` and ``line`` plot measures per value of their one
    dimension; ``heat_map`` has row and column dimensions and one measure; ``scatter`` plots
    either two dimensions as x and y for each row (unaggregated) or two measures as x and y per
    value of one dimension; ``table`` shows dimensions then measures; ``kpi`` shows one measure.
    ``limit`` keeps the top categories (bar, line), the top rows of a heat map, the first page
    of a table, or at most that many points of a scatter.
    """

    id: str
    """Visual id in the dashboard, query name (``insights/<id>``) and CSV file name."""
    title: str
    question: str
    """What the visual answers; the subtitle and the query's description."""
    chart: ChartType
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = ()
    sort: tuple[Sort, ...] = ()
    limit: int | None = None
    filters: tuple[Filter, ...] = ()

    @property
    def fields(self) -> tuple[Field, ...]:
        return (*self.dimensions, *self.measures)

    @property
    def columns(self) -> frozenset[str]:
        """Every contract column the visual reads, filters included."""
        found = {f.column for f in self.fields}
        for item in self.filters:
            found.add(item.column if isinstance(item, NotNull) else item.measure.column)
        return frozenset(found)

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(f"visual {self.id!r} has no field {name!r}")


@dataclass(frozen=True)
class RangeControl:
    """A dashboard-wide slider that narrows a numeric column to a range."""

    column: str
    title: str
    minimum: int
    maximum: int


@dataclass(frozen=True)
class ListControl:
    """A dashboard-wide multi-select list of a text column's values."""

    column: str
    title: str


Control = RangeControl | ListControl


@dataclass(frozen=True)
class DashboardSpec:
    title: str
    visuals: tuple[Visual, ...]
    controls: tuple[Control, ...]
    """Filters that apply to every visual; all values are selected at first."""


def dashboard_id(environment: str) -> str:
    return f"{naming.resource_prefix(environment)}-insights"


def data_set_id(environment: str) -> str:
    return f"{naming.resource_prefix(environment)}-tracks"


def dashboard_name(environment: str) -> str:
    return f"{DASHBOARD.title} ({environment})"


# --- The spec ---------------------------------------------------------------------------------

_TRACKS = Measure("track_id", "COUNT", "Tracks", key="tracks")
_AVG_POPULARITY = Measure("track_popularity", "AVERAGE", "Average track popularity")
_YEAR = Dimension("release_year", "Release year", format="year")

DASHBOARD: Final = DashboardSpec(
    title="Spotify 2023",
    controls=(
        RangeControl("release_year", "Release year", minimum=1900, maximum=2030),
        ListControl("primary_genre", "Genre"),
    ),
    visuals=(
        Visual(
            "tracks_total",
            "Tracks",
            "How many tracks the published table holds.",
            "kpi",
            measures=(_TRACKS,),
        ),
        Visual(
            "average_popularity",
            "Average track popularity",
            "The mean popularity (0-100) of the tracks.",
            "kpi",
            measures=(_AVG_POPULARITY,),
        ),
        Visual(
            "top_artists_by_followers",
            "Top artists by followers",
            "The 20 artists with the most followers.",
            "bar",
            dimensions=(Dimension("artist_name", "Artist"),),
            measures=(Measure("followers", "MAX", "Followers", key="followers"),),
            sort=(Sort("followers", descending=True),),
            limit=20,
            filters=(NotNull("artist_name"),),
        ),
        Visual(
            "top_tracks_by_popularity",
            "Top tracks by popularity",
            "The 20 most popular tracks, with artist, album and release year.",
            "table",
            dimensions=(
                Dimension("track_name", "Track"),
                Dimension("artist_name", "Artist"),
                Dimension("album_name", "Album"),
                _YEAR,
            ),
            measures=(Measure("track_popularity", "MAX", "Popularity", key="popularity"),),
            sort=(Sort("popularity", descending=True),),
            limit=20,
        ),
        Visual(
            "popularity_by_genre",
            "Average popularity by genre",
            "Average track popularity per primary genre, for genres with at least 10 tracks"
            " from at least 2 artists (so one prolific artist cannot carry a genre).",
            "bar",
            dimensions=(Dimension("primary_genre", "Genre"),),
            measures=(_AVG_POPULARITY,),
            sort=(Sort("average_track_popularity", descending=True),),
            limit=25,
            filters=(
                NotNull("primary_genre"),
                AtLeast(_TRACKS, 10),
                AtLeast(Measure("artist_id", "DISTINCT_COUNT", "Artists"), 2),
            ),
        ),
        Visual(
            "popularity_by_label",
            "Average popularity by label",
            "Average track popularity per record label, for labels with at least 3 albums.",
            "bar",
            dimensions=(Dimension("label", "Label"),),
            measures=(_AVG_POPULARITY,),
            sort=(Sort("average_track_popularity", descending=True),),
            limit=25,
            filters=(NotNull("label"), AtLeast(Measure("album_id", "DISTINCT_COUNT", "Albums"), 3)),
        ),
        Visual(
            "albums_with_most_tracks",
            "Albums with the most tracks",
            "The 20 albums with the most tracks in the table, beside the count they declare.",
            "table",
            # By id too: editions of one album share its name and artist, and merged they
            # would hold more tracks than either declares.
            dimensions=(
                Dimension("album_name", "Album"),
                Dimension("artist_name", "Artist"),
                Dimension("album_id", "Album id"),
            ),
            measures=(
                _TRACKS,
                Measure("total_tracks", "MAX", "Declared tracks", key="declared_tracks"),
            ),
            sort=(Sort("tracks", descending=True),),
            limit=20,
        ),
        Visual(
            "popularity_vs_duration",
            "Popularity against duration",
            "Each track's popularity against its length (up to 2,000 tracks).",
            "scatter",
            dimensions=(
                Dimension("duration_sec", "Duration (s)", format="decimal"),
                Dimension("track_popularity", "Track popularity"),
            ),
            # QuickSight draws up to the limit; the preview takes a stable sample of whole
            # albums (their ids are random): album_id is a fifth of track_id's bytes to read.
            sort=(Sort("album_id"),),
            limit=2000,
            filters=(NotNull("duration_sec"), NotNull("track_popularity")),
        ),
        Visual(
            "releases_per_year",
            "Releases per year",
            "Albums and tracks released per year.",
            "line",
            dimensions=(_YEAR,),
            measures=(Measure("album_id", "DISTINCT_COUNT", "Albums", key="albums"), _TRACKS),
            sort=(Sort("release_year"),),
            filters=(NotNull("release_year"),),
        ),
        Visual(
            "genre_by_year",
            "Genre by year",
            "Tracks per release year for the 8 genres with the most tracks.",
            "heat_map",
            dimensions=(Dimension("primary_genre", "Genre"), _YEAR),
            measures=(_TRACKS,),
            sort=(Sort("tracks", descending=True),),
            limit=8,
            filters=(NotNull("primary_genre"), NotNull("release_year")),
        ),
        Visual(
            "popularity_correlations",
            "Track popularity against artist popularity",
            "Per artist: how the tracks' average popularity follows the artist's popularity.",
            "scatter",
            # One point per artist id, as the album scatter: artists may share a name.
            dimensions=(Dimension("artist_id", "Artist id"),),
            measures=(
                Measure("artist_popularity", "AVERAGE", "Artist popularity"),
                _AVG_POPULARITY,
            ),
            sort=(Sort("artist_id"),),
            limit=2000,
            filters=(NotNull("artist_id"),),
        ),
        Visual(
            "album_popularity_correlation",
            "Track popularity against album popularity",
            "Per album: how the tracks' average popularity follows the album's popularity.",
            "scatter",
            dimensions=(Dimension("album_id", "Album id"),),
            measures=(
                Measure("album_popularity", "AVERAGE", "Album popularity"),
                _AVG_POPULARITY,
            ),
            sort=(Sort("album_id"),),
            limit=2000,
            filters=(NotNull("album_id"),),
        ),
        Visual(
            "audio_features_summary",
            "Audio features: explicit and clean tracks",
            "Mean audio features of explicit and clean tracks that have features.",
            "table",
            dimensions=(Dimension("explicit", "Explicit"),),
            measures=(
                _TRACKS,
                Measure("danceability", "COUNT", "Tracks with features", key="with_features"),
                *(
                    Measure(name, "AVERAGE", name.capitalize(), key=name, format="decimal")
                    for name in (
                        "danceability",
                        "energy",
                        "speechiness",
                        "acousticness",
                        "instrumentalness",
                        "liveness",
                        "valence",
                    )
                ),
                Measure("tempo", "AVERAGE", "Tempo (BPM)", key="tempo_bpm"),
                Measure("loudness", "AVERAGE", "Loudness (dB)", key="loudness_db"),
            ),
            sort=(Sort("explicit"),),
            filters=(NotNull("explicit"),),
        ),
    ),
)
"""The dashboard: the questions users ask of the Spotify 2023 data."""


# --- Validation -------------------------------------------------------------------------------

_SHAPES: Final[dict[str, str]] = {
    "bar": "one dimension and one measure",
    "line": "one dimension and at least one measure",
    "heat_map": "two dimensions (rows, columns) and one measure",
    "scatter": "two dimensions (x, y) or one dimension and two measures (x, y)",
    "table": "at least one dimension or measure",
    "kpi": "one measure and no dimension",
}


def _shape_ok(visual: Visual) -> bool:
    dims, measures = len(visual.dimensions), len(visual.measures)
    match visual.chart:
        case "bar":
            return dims == 1 and measures == 1
        case "line":
            return dims == 1 and measures >= 1
        case "heat_map":
            return dims == 2 and measures == 1
        case "scatter":
            return (dims, measures) in ((2, 0), (1, 2))
        case "table":
            return dims + measures >= 1
        case "kpi":
            return dims == 0 and measures == 1
    return False


def spec_problems(spec: DashboardSpec = DASHBOARD) -> list[str]:
    """Everything wrong with a spec, one line each; empty when both renderers can draw it."""
    problems: list[str] = []
    ids = [v.id for v in spec.visuals]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"visual id {duplicate!r} is used twice")
    for control in spec.controls:
        problems += _column_problems("control", control.column)
    for visual in spec.visuals:
        where = f"visual {visual.id!r}"
        if not _shape_ok(visual):
            problems.append(f"{where}: a {visual.chart} chart needs {_SHAPES[visual.chart]}")
        for column in sorted(visual.columns):
            problems += _column_problems(where, column)
        group_filters = [f.measure for f in visual.filters if isinstance(f, AtLeast)]
        for measure in (*visual.measures, *group_filters):
            if (
                measure.aggregation not in ("COUNT", "DISTINCT_COUNT")
                and COLUMN_TYPES.get(measure.column) not in NUMERIC_TYPES
            ):
                problems.append(f"{where}: {measure.aggregation} needs a numeric column")
        names = [f.name for f in visual.fields]
        if len(set(names)) != len(names):
            problems.append(f"{where}: two fields share a name in {names}")
        unaggregated = visual.chart == "scatter" and not visual.measures
        for sort in visual.sort:
            if sort.field not in names and not (unaggregated and sort.field in COLUMN_TYPES):
                problems.append(f"{where}: sorts by {sort.field!r}, which it does not show")
        if visual.limit is not None and visual.limit < 1:
            problems.append(f"{where}: limit must be at least 1")
    return problems


def _column_problems(where: str, column: str) -> list[str]:
    if column not in COLUMN_TYPES:
        return [f"{where}: {column!r} is not a column of the contract's {TABLE_NAME}"]
    if COLUMN_TYPES[column] not in QUICKSIGHT_TYPES:
        return [f"{where}: {column!r} ({COLUMN_TYPES[column]}) has no QuickSight type"]
    return []


# --- Athena SQL -------------------------------------------------------------------------------


def _select_item(item: Field) -> str:
    if isinstance(item, Dimension):
        return item.column
    return f"{_aggregate(item)} AS {item.name}"


def _aggregate(measure: Measure) -> str:
    if measure.aggregation == "COUNT" and measure.column == PRIMARY_KEY:
        # The gate publishes no null track id, so counting ids is counting rows, and
        # COUNT(*) reads no column (Athena scans, and bills, less as the table grows).
        return "COUNT(*)"
    return SQL_AGGREGATES[measure.aggregation].format(measure.column)


def _order_by(visual: Visual) -> list[str]:
    keys = [f"{s.field}{' DESC' if s.descending else ''}" for s in visual.sort]
    # Ties are broken by the dimensions, so the answer (and the report) is stable.
    sorted_fields = {s.field for s in visual.sort}
    keys += [d.name for d in visual.dimensions if d.name not in sorted_fields]
    return keys


def athena_sql(visual: Visual) -> str:
    """The visual's query in Athena (Trino) SQL over the warehouse table.

    Its result has one column per field, named by the field's ``name``, in the visual's order.
    """
    where = [f"{f.column} IS NOT NULL" for f in visual.filters if isinstance(f, NotNull)]
    having = [
        f"{_aggregate(f.measure)} >= {f.minimum}" for f in visual.filters if isinstance(f, AtLeast)
    ]
    grouped = bool(visual.measures) and bool(visual.dimensions)
    lines = [f"-- {visual.title}: {visual.question}"]
    source = TABLE_NAME
    if visual.chart == "heat_map" and visual.limit is not None:
        # The row limit keeps the rows with the largest total, as the dashboard's row limit does.
        row = visual.dimensions[0].column
        lines += [
            "WITH top_rows AS (",
            f"    SELECT {row}",
            f"    FROM {TABLE_NAME}",
            *([f"    WHERE {' AND '.join(where)}"] if where else []),
            f"    GROUP BY {row}",
            f"    ORDER BY {_aggregate(visual.measures[0])} DESC, {row}",
            f"    LIMIT {visual.limit}",
            ")",
        ]
        source = f"{TABLE_NAME} INNER JOIN top_rows USING ({row})"
    lines += ["SELECT", ",\n".join(f"    {_select_item(f)}" for f in visual.fields)]
    lines.append(f"FROM {source}")
    if where:
        lines.append(f"WHERE {' AND '.join(where)}")
    if grouped:
        lines.append(f"GROUP BY {', '.join(d.column for d in visual.dimensions)}")
    if having:
        lines.append(f"HAVING {' AND '.join(having)}")
    order = _order_by(visual)
    if order:
        lines.append(f"ORDER BY {', '.join(order)}")
    if visual.limit is not None and visual.chart != "heat_map":
        lines.append(f"LIMIT {visual.limit}")
    return "\n".join(lines) + "\n"


def insight_files(spec: DashboardSpec = DASHBOARD) -> dict[str, str]:
    """File name to content of ``sql/insights/``: one rendered query per visual."""
    return {f"{v.id}.sql": athena_sql(v) for v in spec.visuals}


def write_insight_files(folder: Path = SQL_DIR, spec: DashboardSpec = DASHBOARD) -> list[str]:
    """Rewrite ``folder`` to hold exactly the rendered queries; returns the names changed."""
    wanted = insight_files(spec)
    changed = []
    folder.mkdir(parents=True, exist_ok=True)
    for stale in sorted(p for p in folder.glob("*.sql") if p.name not in wanted):
        stale.unlink()
        changed.append(stale.name)
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infra.dashboard_spec``: check the spec and rewrite ``sql/insights/``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.parse_args(argv)
    problems = spec_problems()
    if problems:
        print("the dashboard spec is not valid:\n  - " + "\n  - ".join(problems), file=sys.stderr)
        return 1
    changed = write_insight_files()
    print(f"sql/insights: {', '.join(changed) if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
