"""When QuickSight re-reads the table into SPICE: a refresh schedule that follows the job's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from infra import cron

_DAYS: Final = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
"""QuickSight's day names, in Glue's day-of-week order (1 is Sunday)."""
_CRON_RE: Final = re.compile(r"^cron\(\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*\)$")


@dataclass(frozen=True)
class RefreshTiming:
    """When SPICE re-reads the table: hourly, or daily or weekly on one day at a UTC time."""

    interval: Literal["HOURLY", "DAILY", "WEEKLY"]
    time_of_day: str | None = None
    """``HH:MM``, 24-hour, UTC; none for hourly refreshes."""
    day_of_week: str | None = None


HOURLY: Final = RefreshTiming("HOURLY")
"""For runs that start when the data lands: no schedule to follow, so SPICE re-reads the table
every hour (one Athena scan of the table each time) and trails a run by at most an hour."""


class RefreshScheduleError(ValueError):
    """The job's schedule cannot be followed by a QuickSight refresh schedule."""


def refresh_after(schedule: str, minutes_later: int) -> RefreshTiming:
    """A refresh ``minutes_later`` than each run the Glue cron ``schedule`` starts.

    QuickSight schedules run daily or weekly on one day, so the job's schedule must be one of
    those too: fixed minute and hour, any day of the month and month, and any or one weekday.
    """
    match = _CRON_RE.fullmatch(schedule.strip())
    allowed = (
        "a daily or one-weekday schedule with a fixed time, e.g. cron(0 6 * * ? *) or "
        "cron(0 6 ? * MON *), so the SPICE refresh can follow each run"
    )
    if match is None:
        raise RefreshScheduleError(f"{schedule!r} is not a Glue cron expression; use {allowed}")
    minute, hour, day_of_month, month, weekday, year = match.groups()
    if not (minute.isdigit() and hour.isdigit()):
        raise RefreshScheduleError(f"{schedule!r} has no fixed time of day; use {allowed}")
    if day_of_month not in ("*", "?") or month != "*" or year not in ("*", "?"):
        raise RefreshScheduleError(f"{schedule!r} does not run every week; use {allowed}")
    total = int(hour) * 60 + int(minute) + minutes_later
    days_later, minute_of_day = divmod(total, 24 * 60)
    time_of_day = f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"
    if weekday in ("*", "?"):
        return RefreshTiming("DAILY", time_of_day)
    day = _weekday(weekday)
    if day is None:
        raise RefreshScheduleError(f"{schedule!r} runs on more than one weekday; use {allowed}")
    return RefreshTiming("WEEKLY", time_of_day, _DAYS[(_DAYS.index(day) + days_later) % 7])


def _weekday(field: str) -> str | None:
    """Glue's day-of-week field for one day: 1-7 (1 is Sunday) or SUN-SAT."""
    names = cron.FIELDS[cron.DAY_OF_WEEK].names
    if field.isdigit() and 1 <= int(field) <= len(names):
        return _DAYS[int(field) - 1]
    return _DAYS[names.index(field.upper())] if field.upper() in names else None
