"""A run summary read back from JSON: the job's own output round-trips; a field of the wrong
type is an error that names it (a summary is read from S3 by verify and from --out by
local-run, where a damaged file must not pass for a run)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from spotify_glue.run_summary import RunSummary

from tests.builders import run_summary

SUMMARY = run_summary(gate_failures=[])
"""A published run as the job writes it (``tests.builders``)."""


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
