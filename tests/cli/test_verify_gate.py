"""Which gate verify judges by: the one the published run recorded, replaced option by option
from the command line, and the contract's defaults only with a note saying so."""

from __future__ import annotations

import pytest
from spotify_glue.gate import DEFAULT_GATE, GateError, GateThresholds

from spotify_ops.publication import SummaryRead
from spotify_ops.verdict import GateOverrides, gate_of_run
from tests.cli.verify_support import LAYOUT, RUN_ID, summary

RECORDED = {"min_rows": 5, "max_quarantine_rate": 0.2, "max_join_loss_rate": 0.3}


def _read(gate: object) -> SummaryRead:
    run = summary()
    run.gate = gate  # type: ignore[assignment]  # a malformed recorded gate, as a hand-edited summary may hold
    return SummaryRead(LAYOUT.published_location, run)


def test_command_line_thresholds_override_only_what_they_name() -> None:
    """An option replaces its own threshold; the others stay as the run recorded them."""
    base = GateThresholds(min_rows=5, max_quarantine_rate=0.2, max_join_loss_rate=0.3)
    merged = GateOverrides(max_join_loss_rate=0.01).over(base)
    assert merged == GateThresholds(min_rows=5, max_quarantine_rate=0.2, max_join_loss_rate=0.01)


def test_command_line_thresholds_are_checked_by_the_contract_naming_the_option() -> None:
    with pytest.raises(GateError, match=r"^--min-rows = 0 is not allowed; use a whole number"):
        GateOverrides(min_rows=0).over(DEFAULT_GATE)


def test_a_complete_record_is_used_as_is_without_a_note() -> None:
    gate = gate_of_run(_read(RECORDED), GateOverrides())
    assert gate.thresholds == GateThresholds(5, 0.2, 0.3)
    assert (gate.source, gate.fallback) == (f"recorded by run {RUN_ID}", "")


def test_no_summary_falls_back_to_the_defaults_and_says_why() -> None:
    missing = SummaryRead(LAYOUT.published_location, None, "no run summary at s3://x/y.json")
    gate = gate_of_run(missing, GateOverrides())
    assert gate.thresholds == DEFAULT_GATE
    assert gate.source == "the contract's defaults"
    assert gate.fallback == (
        "no run summary at s3://x/y.json, so no gate is recorded; judging min_rows, "
        "max_quarantine_rate, max_join_loss_rate by the contract's defaults"
    )


def test_an_invalid_record_falls_back_naming_the_bad_value() -> None:
    """A summary from a job that allowed min_rows 0 is not trusted; the note quotes it."""
    gate = gate_of_run(_read({**RECORDED, "min_rows": 0}), GateOverrides())
    assert gate.thresholds == DEFAULT_GATE
    assert gate.fallback.startswith(f"run {RUN_ID}'s gate.min_rows = 0 is not allowed")


@pytest.mark.parametrize("recorded", [{}, [], "5"])
def test_a_record_that_is_not_a_mapping_counts_as_none(recorded: object) -> None:
    gate = gate_of_run(_read(recorded), GateOverrides())
    assert gate.thresholds == DEFAULT_GATE
    assert gate.fallback.startswith(f"run {RUN_ID}'s summary records no min_rows")


def test_options_that_replace_every_default_leave_no_note() -> None:
    """Nothing is judged by a default when the command line gives what the record lacks."""
    gate = gate_of_run(
        _read({"min_rows": 2}), GateOverrides(max_quarantine_rate=0.1, max_join_loss_rate=0.2)
    )
    assert gate.thresholds == GateThresholds(2, 0.1, 0.2)
    assert gate.fallback == ""
    assert gate.source == (
        f"recorded by run {RUN_ID}, with --max-quarantine-rate, --max-join-loss-rate from "
        "the command line"
    )
