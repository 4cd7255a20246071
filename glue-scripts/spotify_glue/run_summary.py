"""The run summary: what one run read, dropped and wrote, and how the gate judged it. The job
writes it beside the table; the checks, the verifier and the reports read it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args, get_origin, get_type_hints

from spotify_glue.contract import ALBUMS

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
    """Album rows dropped by the inner join to artists: no artist row for the id, or only
    quarantined ones (a bad value in any of its columns quarantines an artist row)."""
    dropped_no_track: int
    """Album rows dropped by the inner join to tracks: no tracks row for the id, or only
    quarantined ones."""
    rows_without_features: int
    """Output rows with no audio features (kept: the features join is a left join)."""
    rows_written: int
    """Rows in the published table (0 when rejected)."""
    table_location: str = ""
    """This run's table folder (the published table when ``status`` is published)."""
    quarantine_location: str = ""
    """This run's quarantined rows."""
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
        """Parse a summary; a missing or extra field, or a value not of its field's type, is
        an error that names it."""
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("run summary must be a JSON object")
        expected = {f.name for f in fields(cls)}
        missing = sorted(expected - data.keys())
        unknown = sorted(data.keys() - expected)
        if missing or unknown:
            raise ValueError(f"run summary fields: missing {missing}, unknown {unknown}")
        hints = get_type_hints(cls)
        wrong = [name for name in sorted(expected) if not _is_of(data[name], hints[name])]
        if wrong:
            shown = ", ".join(f"{name} = {data[name]!r:.60}" for name in wrong)
            raise ValueError(f"run summary fields of the wrong type: {shown}")
        return cls(**data)


def _is_of(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's type: the str, int, float, Literal, dict and list
    forms the summary's fields use (a bool is not a number here)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return value in args
    if origin is dict:
        return isinstance(value, dict) and all(
            _is_of(k, args[0]) and _is_of(v, args[1]) for k, v in value.items()
        )
    if origin is list:
        return isinstance(value, list) and all(_is_of(item, args[0]) for item in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, hint) and not (hint is int and isinstance(value, bool))
