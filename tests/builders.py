"""Test data shared by the CLI and job tests: a run summary and a row of the published table,
each with defaults a test overrides by keyword, so a change to either shape is made once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from spotify_glue.contract import WAREHOUSE_COLUMNS
from spotify_glue.gate import DEFAULT_GATE, GateThresholds
from spotify_glue.layout import WarehouseLayout
from spotify_glue.run_summary import RunSummary

RUN_LAYOUT = WarehouseLayout("s3://warehouse")
"""The warehouse a summary's run wrote to unless a test names its own."""


def run_summary(
    *,
    layout: WarehouseLayout = RUN_LAYOUT,
    gate: GateThresholds = DEFAULT_GATE,
    **changes: Any,
) -> RunSummary:
    """A summary as the job writes it, with ``changes`` over the defaults: a small published
    run whose figures add up (4 album rows read, 1 a duplicate, 3 written). The run's folders
    are in ``layout`` (a rejected run names no table folder) and it records ``gate``."""
    figures: dict[str, Any] = {
        "run_id": "20240101T060000Z-1a2b3c4d",
        "status": "published",
        "started_at": "2024-01-01T06:00:00Z",
        "finished_at": "2024-01-01T06:02:25Z",
        "rows_read": {"albums": 4, "artists": 2, "tracks": 4, "features": 3},
        "rows_quarantined": {"albums": 0, "artists": 0, "tracks": 0, "features": 0},
        "duplicates_removed": {"albums": 1, "artists": 0, "tracks": 0, "features": 0},
        "dropped_no_artist": 0,
        "dropped_no_track": 0,
        "rows_without_features": 0,
        "rows_written": 3,
        "gate": gate.as_dict(),
        **changes,
    }
    run_id = figures["run_id"]
    published = figures["status"] == "published"
    figures.setdefault("table_location", layout.table_location(run_id) if published else "")
    figures.setdefault("quarantine_location", layout.quarantine_location(run_id))
    return RunSummary(**figures)


def warehouse_row(track_id: str = "t1", **changes: Any) -> dict[str, Any]:
    """A row of the published table with a value inside its domain in every contract column,
    in contract order, with ``changes`` over the defaults; a name outside the contract is an
    error, so a mistyped override cannot go unnoticed."""
    row: dict[str, Any] = {
        "track_id": track_id,
        "track_name": f"Song {track_id}",
        "track_number": 1,
        "explicit": False,
        "track_popularity": 50,
        "duration_ms": 200_000,
        "duration_sec": 200.0,
        "album_id": f"al-{track_id}",
        "album_name": f"Album {track_id}",
        "album_type": "album",
        "total_tracks": 10,
        "album_popularity": 50,
        "label": "Label",
        "release_date": dt.date(2016, 11, 10),
        "release_year": 2016,
        "artist_id": "ar1",
        "artist_name": "Artist",
        "artist_popularity": 50,
        "followers": 10,
        "primary_genre": None,
        "genres": [],
        "danceability": 0.5,
        "energy": 0.5,
        "musical_key": 5,
        "loudness": -6.0,
        "musical_mode": 1,
        "speechiness": 0.1,
        "acousticness": 0.2,
        "instrumentalness": 0.0,
        "liveness": 0.3,
        "valence": 0.4,
        "tempo": 120.0,
        "time_signature": 4,
    }
    names = [column.name for column in WAREHOUSE_COLUMNS]
    assert sorted(row) == sorted(names), "the builder must cover exactly the contract's columns"
    unknown = sorted(changes.keys() - row.keys())
    if unknown:
        raise KeyError(f"not warehouse columns: {unknown}")
    row.update(changes)
    return {name: row[name] for name in names}
