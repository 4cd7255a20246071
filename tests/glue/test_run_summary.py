"""A run summary read back from JSON: the job's own output round-trips; a field of the wrong
type is an error that names it (a summary is read from S3 by verify and from --out by
local-run, where a damaged file must not pass for a run)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from spotify_glue.run_summary import RunSummary

SUMMARY = RunSummary(
    run_id="20261130T061500Z-1a2b3c4d",
    status="published",
    started_at="2026-11-30T06:15:00+00:00",
    finished_at="2026-11-30T06:16:00+00:00",
    rows_read={"albums": 10, "artists": 3, "tracks": 9, "features": 9},
    rows_quarantined={"albums": 1, "artists": 0, "tracks": 0, "features": 0},
    duplicates_removed={"albums": 0, "artists": 0, "tracks": 1, "features": 0},
    dropped_no_artist=1,
    dropped_no_track=0,
    rows_without_features=2,
    rows_written=8,
    table_location="s3://warehouse/spotify_tracks/run=20261130T061500Z-1a2b3c4d/",
    quarantine_location="s3://warehouse/_quarantine/spotify_tracks/run=20261130T061500Z-1a2b3c4d/",
    gate={"min_rows": 1, "max_quarantine_rate": 0.05, "max_join_loss_rate": 0.2},
    gate_failures=[],
)


def with_field(name: str, value: Any) -> str:
    data = json.loads(SUMMARY.to_json())
    data[name] = value
    return json.dumps(data)


def test_a_summary_the_job_writes_reads_back_equal():
    assert RunSummary.from_json(SUMMARY.to_json()) == SUMMARY


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("run_id", 5),
        ("status", "done"),
        ("rows_read", {"albums": "10"}),
        ("rows_read", [10]),
        ("rows_written", 8.5),
        ("rows_written", True),
        ("gate", {"min_rows": None}),
        ("gate_failures", "rows < min_rows"),
        ("table_location", None),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_by_name(name, value):
    with pytest.raises(ValueError, match=f"wrong type: {name} = "):
        RunSummary.from_json(with_field(name, value))


def test_a_whole_number_threshold_is_a_number():
    """The gate's thresholds are floats; 1 (as JSON writes min_rows) is one."""
    read = RunSummary.from_json(with_field("gate", {"min_rows": 1000, "max_join_loss_rate": 1}))
    assert read.gate == {"min_rows": 1000, "max_join_loss_rate": 1}
