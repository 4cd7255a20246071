"""Where the pipeline's data lives: table and prefix names, run ids, and the one builder of
every warehouse location (``WarehouseLayout``).

Plain Python with no third-party imports, like every module of this package.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

TABLE_NAME: Final = "spotify_tracks"
"""The warehouse table, in the catalog, in Athena and locally in DuckDB."""

DATABASE_BASENAME: Final = "spotify"
"""Catalog database base name; the program suffixes it per environment."""

STAGING_PREFIX: Final = "spotify-2023/"
"""Where the raw CSVs sit in the staging bucket (or folder)."""

TABLE_PREFIX: Final = f"{TABLE_NAME}/"
"""Below it, each run writes its Parquet files under its own ``run=<run_id>/`` folder; the
catalog table points at the published run's folder. Only Parquet lives below it."""

QUARANTINE_PREFIX: Final = f"_quarantine/{TABLE_NAME}/"
"""Malformed source rows with their reason, per run, beside (not inside) the table."""

SUMMARY_PREFIX: Final = "_run_summary/"
"""Run summaries, beside (not inside) the table."""

RUNS_KEPT: Final = 3
"""Run folders kept after a publish: the published one and the newest before it, for rollback.
Older ones are deleted by the job; bucket versioning and lifecycle expire what it deletes."""

RUN_ID_PATTERN: Final = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")
"""``20261129T061500Z-1a2b3c4d``: UTC start time, then a random suffix; sorts by start time."""


def join_uri(base: str, *parts: str) -> str:
    """Join a bucket URI or local folder with relative parts, with exactly one slash between."""
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id that sorts by start time."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run_folder(run_id: str) -> str:
    """The folder name of one run below the table and quarantine prefixes."""
    if not RUN_ID_PATTERN.match(run_id):
        raise ValueError(f"run id {run_id!r} does not match {RUN_ID_PATTERN.pattern}")
    return f"run={run_id}"


def run_id_of_folder(name: str) -> str | None:
    """The run id of a ``run=<id>`` folder name (a trailing slash is allowed); None otherwise."""
    name = name.rstrip("/")
    if not name.startswith("run="):
        return None
    run_id = name.removeprefix("run=")
    return run_id if RUN_ID_PATTERN.match(run_id) else None


@dataclass(frozen=True)
class WarehouseLayout:
    """Every location the pipeline uses below one warehouse folder or ``s3://bucket``.

    The only builder of these locations: the job, the program (job arguments, outputs, IAM
    grants, lifecycle rules), the verifier and the local run all ask it. Folder locations end
    with a slash.
    """

    root: str

    def _folder(self, prefix: str, *parts: str) -> str:
        return join_uri(self.root, prefix, *parts) + "/"

    def _summary_file(self, suffix: str) -> str:
        return join_uri(self.root, SUMMARY_PREFIX, f"{TABLE_NAME}{suffix}.json")

    @property
    def table_root(self) -> str:
        """The folder holding every run's table files."""
        return self._folder(TABLE_PREFIX)

    def table_location(self, run_id: str) -> str:
        """One run's table files; the catalog table points here once the run is published."""
        return self._folder(TABLE_PREFIX, run_folder(run_id))

    @property
    def unpublished_location(self) -> str:
        """Where the catalog table points before the first publish: an empty folder, so a
        query returns no rows rather than any run's files."""
        return self._folder(TABLE_PREFIX, "_unpublished")

    @property
    def quarantine_root(self) -> str:
        return self._folder(QUARANTINE_PREFIX)

    def quarantine_location(self, run_id: str) -> str:
        """One run's malformed rows (JSON lines: source, reason, raw)."""
        return self._folder(QUARANTINE_PREFIX, run_folder(run_id))

    @property
    def summary_location(self) -> str:
        """The last run's summary, published or rejected."""
        return self._summary_file("")

    @property
    def rejection_location(self) -> str:
        """The fingerprint and failed rules of the last rejected run, so that a retry of the
        same input, gate and job code fails at once instead of reprocessing."""
        return self._summary_file(".rejected")

    @property
    def published_location(self) -> str:
        """The published run's summary: the pointer to the table's current run folder.
        Written only after the run's files are complete and the gate has passed."""
        return self._summary_file(".published")
