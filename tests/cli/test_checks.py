"""The summary checks judge the published run's own rates against the gate's limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from spotify_glue.gate import GateThresholds

from spotify_ops.checks import CheckResult, check_join_loss, check_quarantine_rate
from tests.cli.verify_support import summary

NO_ENGINE: Any = None
"""The summary checks read the run summary, never the table."""
NONE = {"albums": 0, "artists": 0, "tracks": 0, "features": 0}
RUN = replace(
    summary(),
    rows_read={"albums": 10, "artists": 5, "tracks": 3, "features": 2},
    rows_quarantined={**NONE, "albums": 1},
    duplicates_removed={**NONE, "albums": 1},
    dropped_no_artist=1,
    dropped_no_track=1,
)
"""1 of 20 rows quarantined (5%); 2 of the 8 album rows left lost in the joins (25%)."""


@pytest.mark.parametrize(
    ("limit", "passed"), [(0.05, True), (0.04, False)], ids=["at-limit", "over-limit"]
)
def test_quarantine_rate_passes_up_to_its_limit_and_names_both(limit, passed):
    """A quarantine rate equal to the limit passes, one above it fails; the detail gives the
    rate, the rows read and the limit."""
    result = check_quarantine_rate(NO_ENGINE, RUN, GateThresholds(max_quarantine_rate=limit))
    assert result == CheckResult(
        "quarantine_rate", passed, f"5.00% of 20 rows quarantined (limit {limit:.2%})"
    )


@pytest.mark.parametrize(
    ("limit", "passed"), [(0.25, True), (0.2, False)], ids=["at-limit", "over-limit"]
)
def test_join_loss_passes_up_to_its_limit_and_names_the_drops(limit, passed):
    """A join loss rate equal to the limit passes, one above it fails; the detail splits the
    lost rows into those without an artist and those without a track."""
    result = check_join_loss(NO_ENGINE, RUN, GateThresholds(max_join_loss_rate=limit))
    assert result == CheckResult(
        "join_loss_rate",
        passed,
        f"25.00% of album rows lost in joins (1 no artist, 1 no track; limit {limit:.2%})",
    )


@pytest.mark.parametrize("check", [check_quarantine_rate, check_join_loss])
def test_a_missing_summary_fails_the_rate_checks(check):
    """Without the published run's summary there is no rate to judge: the check fails."""
    result = check(NO_ENGINE, None, GateThresholds())
    assert not result.passed
    assert result.detail == "no run summary to read it from"
