"""The publish checks on their own: the last run, the published-run pointer and the catalog
table's location, judged against the contract's warehouse layout."""

from __future__ import annotations

from dataclasses import replace

import pytest

from spotify_ops.publication import (
    SummaryRead,
    check_last_run,
    check_published_run,
    check_table_location,
)
from tests.cli.verify_support import LAYOUT, PREVIOUS_RUN_ID, RUN_ID, summary

RUN_FOLDER = LAYOUT.table_location(RUN_ID)
PUBLISHED = SummaryRead(LAYOUT.published_location, summary(rows_written=3))
LAST = SummaryRead(LAYOUT.summary_location, summary(rows_written=3))
MISSING = SummaryRead(
    LAYOUT.published_location, None, f"no run summary at {LAYOUT.published_location}"
)


def test_a_consistent_publish_passes_every_check() -> None:
    """Pointer and last run name the same run, and the catalog reads its folder."""
    assert check_last_run(LAST, PUBLISHED).passed
    assert check_published_run(PUBLISHED, LAYOUT).passed
    result = check_table_location(RUN_FOLDER, PUBLISHED, LAST, LAYOUT)
    assert result.passed, result.detail


def test_a_location_without_its_trailing_slash_is_the_same_folder() -> None:
    """Glue keeps the location as written; Athena reads `x` and `x/` alike."""
    assert check_table_location(RUN_FOLDER.rstrip("/"), PUBLISHED, LAST, LAYOUT).passed


def test_a_last_run_newer_than_the_pointer_is_named() -> None:
    """A last-run summary that says published to another folder than the catalog reads (the
    job stopped between its writes) fails, naming that run and folder."""
    newer = summary(rows_written=3, run_id="20240102T060000Z-2b3c4d5e")
    last = SummaryRead(LAYOUT.summary_location, newer)
    result = check_table_location(RUN_FOLDER, PUBLISHED, last, LAYOUT)
    assert not result.passed
    assert result.detail == (
        f"the catalog table reads {RUN_FOLDER}, but the last run {newer.run_id} published "
        f"{newer.table_location}"
    )


def test_a_rejected_last_run_is_not_compared_with_the_catalog() -> None:
    """After a rejection the catalog keeps serving the published run; that is correct."""
    previous = SummaryRead(LAYOUT.published_location, summary(run_id=PREVIOUS_RUN_ID))
    rejected = SummaryRead(LAYOUT.summary_location, summary(status="rejected", rows_written=0))
    folder = LAYOUT.table_location(PREVIOUS_RUN_ID)
    assert check_table_location(folder, previous, rejected, LAYOUT).passed
    last = check_last_run(rejected, previous)
    assert not last.passed
    assert last.detail.endswith(f"the table still serves run {PREVIOUS_RUN_ID} (3 rows)")


def test_a_rejected_first_run_says_nothing_is_published() -> None:
    rejected = SummaryRead(LAYOUT.summary_location, summary(status="rejected", rows_written=0))
    assert check_last_run(rejected, MISSING).detail.endswith("; nothing has been published yet")


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        (
            replace(summary(), status="rejected"),
            f"the pointer at {LAYOUT.published_location} names run {RUN_ID} as rejected; "
            "the job writes only published runs there",
        ),
        (
            replace(summary(), table_location=LAYOUT.table_location(PREVIOUS_RUN_ID)),
            f"run {RUN_ID}'s table_location {LAYOUT.table_location(PREVIOUS_RUN_ID)!r} is not "
            f"run {RUN_ID}'s own folder {RUN_FOLDER}",
        ),
        (
            replace(summary(), table_location="s3://elsewhere/spotify_tracks/"),
            f"run {RUN_ID}'s table_location 's3://elsewhere/spotify_tracks/' is not below this "
            f"warehouse's table folder {LAYOUT.table_root}",
        ),
    ],
)
def test_a_pointer_that_names_no_published_run_folder_fails(pointer, expected) -> None:
    """The pointer must name a published run and that run's own folder in this warehouse."""
    result = check_published_run(SummaryRead(LAYOUT.published_location, pointer), LAYOUT)
    assert (result.passed, result.detail) == (False, expected)


def test_a_malformed_pointer_is_reported_as_is() -> None:
    read = SummaryRead(LAYOUT.published_location, None, "malformed summary at x: boom")
    assert check_published_run(read, LAYOUT).detail == "malformed summary at x: boom"


def test_a_table_switched_past_the_pointer_is_told_from_a_rollback() -> None:
    """A catalog on a newer run than the pointer means the job stopped between the switch
    and the pointer; on an older one, a rollback."""
    newer = LAYOUT.table_location("20240102T060000Z-2b3c4d5e")
    older = LAYOUT.table_location(PREVIOUS_RUN_ID)
    ahead = check_table_location(newer, PUBLISHED, LAST, LAYOUT).detail
    behind = check_table_location(older, PUBLISHED, LAST, LAYOUT).detail
    assert ahead.endswith("the job stopped after switching the table, before writing the pointer")
    assert behind.endswith("a rollback to an earlier run is in place")


@pytest.mark.parametrize(
    ("problem", "last_hint", "pointer_hint"),
    [
        (
            "no run summary at s3://w/x.json",
            "; the job has not published yet (run the pipeline with verify --run)",
            "; no run has passed the gate yet (run the pipeline with verify --run)",
        ),
        ("malformed summary at s3://w/x.json: boom", "", ""),
    ],
    ids=["missing", "malformed"],
)
def test_an_unread_summary_fails_both_checks_and_a_missing_one_says_how_to_run(
    problem, last_hint, pointer_hint
) -> None:
    """An unread last-run summary or pointer fails its check with the read problem; only a
    missing one adds what has not happened yet and how to run the pipeline."""
    last = check_last_run(SummaryRead(LAYOUT.summary_location, None, problem), PUBLISHED)
    pointer = check_published_run(SummaryRead(LAYOUT.published_location, None, problem), LAYOUT)
    assert (last.name, last.passed, last.detail) == ("run_summary", False, problem + last_hint)
    assert (pointer.name, pointer.passed, pointer.detail) == (
        "published_run",
        False,
        problem + pointer_hint,
    )
