"""Column domains: the set of values a column may hold besides null, and the named domains the
contract's columns use.

The job quarantines a source row with a value outside its column's domain; the verification
checks count such values in the published table. Both read the domains below, rendered as SQL
that Spark, Athena (Trino) and DuckDB evaluate alike; ``contains`` is the same rule in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol


def finite_sql(ref: str) -> str:
    """True for a finite number: ``x - x`` is 0 for one, NaN for NaN and the infinities. The
    same in Spark, Trino and DuckDB, which share no ``isfinite``; and unlike a range test it
    survives DuckDB folding comparisons from Parquet statistics, which leave NaN out."""
    return f"{ref} - {ref} = 0"


class Domain(Protocol):
    def describe(self) -> str:
        """The allowed values in words, as quarantine reasons and check details say them."""
        ...

    def sql(self, ref: str) -> str:
        """A predicate, true when the non-null value ``ref`` (a quoted column or expression)
        is in the domain."""
        ...

    def contains(self, value: Any, today: date | None = None) -> bool: ...


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (either may be open-ended); ``low_open`` excludes low."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{_number(self.low)} to {_number(self.high)}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        return f"<= {_number(self.high)}" if self.high is not None else "any number"

    def sql(self, ref: str) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{ref} {'>' if self.low_open else '>='} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"{ref} <= {_number(self.high)}")
        return " AND ".join(parts) or "TRUE"

    def contains(self, value: Any, today: date | None = None) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high


@dataclass(frozen=True)
class OneOf:
    """Exactly these values."""

    values: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(self.values)

    def sql(self, ref: str) -> str:
        quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in self.values)
        return f"{ref} IN ({quoted})"

    def contains(self, value: Any, today: date | None = None) -> bool:
        return value in self.values


@dataclass(frozen=True)
class DateRange:
    """Dates from ``earliest`` to the end of the year after the current one (a release may be
    announced ahead); with ``as_year`` the column holds the year only."""

    earliest: date
    as_year: bool = False

    def describe(self) -> str:
        if self.as_year:
            return f"{self.earliest.year} to next year"
        return f"{self.earliest.isoformat()} to the end of next year"

    def sql(self, ref: str) -> str:
        if self.as_year:
            return f"{ref} BETWEEN {self.earliest.year} AND year(current_date) + 1"
        return (
            f"{ref} >= DATE '{self.earliest.isoformat()}' AND year({ref}) <= year(current_date) + 1"
        )

    def contains(self, value: Any, today: date | None = None) -> bool:
        last_year = (today or datetime.now(UTC).date()).year + 1
        if self.as_year:
            return bool(self.earliest.year <= value <= last_year)
        return bool(self.earliest <= value and value.year <= last_year)


# Sources for the values: the Spotify Web API reference (its OpenAPI schema gives minimum and
# maximum for popularity, key, time_signature, acousticness and valence, and describes the other
# audio features as measures from 0.0 to 1.0); docs/job.md lists each domain and why.
POPULARITY: Final = Range(0, 100)
POSITIVE: Final = Range(0, low_open=True)
"""Durations: a track has some length."""
COUNT: Final = Range(1)
"""Track numbers and track counts start at 1."""
NON_NEGATIVE: Final = Range(0)
UNIT_INTERVAL: Final = Range(0, 1)
"""Audio features measured from 0.0 to 1.0."""
PITCH_CLASS: Final = Range(-1, 11)
"""0 = C, 1 = C#/Db, ... 11 = B; -1 when no key was detected."""
MODALITY: Final = Range(0, 1)
"""1 major, 0 minor."""
LOUDNESS_DB: Final = Range(-60, 10)
"""dB; the API says values typically range from -60 to 0, and real tracks reach a few dB
above 0."""
TIME_SIGNATURE: Final = Range(0, 7)
"""Beats per bar. The API documents 3 to 7 (3/4 to 7/4), yet returns 0 (no meter found) and
1 too, and the data holds them (about 6% of generated feature rows): quarantining those would
drop every audio feature of those tracks for a value the API itself produces."""
ALBUM_TYPES: Final = OneOf(("album", "single", "compilation"))
FIRST_RECORDING: Final = date(1877, 1, 1)
"""No release predates recorded sound (the phonograph, 1877); an earlier date is a typo such
as ``0216`` for ``2016``, and Parquet cannot even store dates before 1582 without rebasing."""
RELEASE_DATES: Final = DateRange(FIRST_RECORDING)
RELEASE_YEARS: Final = DateRange(FIRST_RECORDING, as_year=True)
