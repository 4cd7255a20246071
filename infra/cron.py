"""Glue's cron syntax, checked the way Glue documents it, so a schedule Glue would refuse fails
at preview instead of in the middle of ``pulumi up``.

Source: "Time-based schedules for jobs and crawlers",
https://docs.aws.amazon.com/glue/latest/dg/monitor-data-warehouse-schedule.html:

- ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``: six required fields;
- values and wildcards per field (table below);
- Day-of-month and Day-of-week cannot both be given: one of them must be ``?``;
- expressions that fire more often than every 5 minutes are not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

_MONTHS: Final = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)
_DAYS: Final = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MIN_INTERVAL_MINUTES: Final = 5


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    wildcards: str
    """Glue's wildcards for the field besides values, ranges and lists."""
    names: tuple[str, ...] = ()
    """Names accepted for 1..n (months, days)."""


FIELDS: Final = (
    Field("Minutes", 0, 59, ",-*/"),
    Field("Hours", 0, 23, ",-*/"),
    Field("Day-of-month", 1, 31, ",-*?/LW"),
    Field("Month", 1, 12, ",-*/", _MONTHS),
    Field("Day-of-week", 1, 7, ",-*?/L", _DAYS),
    Field("Year", 1970, 2199, ",-*/"),
)
DAY_OF_MONTH, DAY_OF_WEEK = 2, 4

_CRON_RE: Final = re.compile(r"^cron\((?P<body>.*)\)$")


class _CronError(ValueError):
    pass


def _value(field: Field, text: str) -> int:
    upper = text.upper()
    if upper in field.names:
        return field.names.index(upper) + 1
    if not text.isdigit():
        raise _CronError(f"{field.name} value {text!r} is not a number in {field.low}-{field.high}")
    number = int(text)
    if not field.low <= number <= field.high:
        raise _CronError(f"{field.name} value {number} is outside {field.low}-{field.high}")
    return number


def _expand(field: Field, element: str) -> set[int]:
    """The values one comma-separated element selects (L and W select no fixed value)."""
    if "/" in element:
        if "/" not in field.wildcards:
            raise _CronError(f"{field.name} does not take '/'")
        start_text, _, step_text = element.partition("/")
        if not step_text.isdigit() or int(step_text) == 0:
            raise _CronError(f"{field.name} step {step_text!r} is not a positive number")
        if start_text == "*":
            low, high = field.low, field.high
        elif "-" in start_text:
            low, high = (_value(field, t) for t in start_text.split("-", 1))
        else:
            low, high = _value(field, start_text), field.high
        return set(range(low, high + 1, int(step_text)))
    if element == "*":
        return set(range(field.low, field.high + 1))
    if field.name == "Day-of-month" and re.fullmatch(r"L|LW|[0-9]{1,2}W", element):
        if element.endswith("W") and element != "LW":
            _value(field, element[:-1])
        return set()
    if field.name == "Day-of-week" and re.fullmatch(r"[0-9A-Za-z]*L", element):
        if element != "L":
            _value(field, element[:-1])
        return set()
    if "-" in element:
        low_text, _, high_text = element.partition("-")
        low, high = _value(field, low_text), _value(field, high_text)
        return set(range(low, high + 1)) if low <= high else set()
    return {_value(field, element)}


def _check_field(field: Field, text: str) -> set[int]:
    if text == "?":
        if "?" not in field.wildcards:
            raise _CronError(
                f"'?' is allowed only in Day-of-month and Day-of-week, not {field.name}"
            )
        return set()
    stray = set(re.sub(r"[0-9A-Za-z]", "", text)) - set(field.wildcards)
    if stray:
        raise _CronError(f"{field.name} {text!r} uses {''.join(sorted(stray))!r}")
    values: set[int] = set()
    for element in text.split(","):
        if not element or element == "?":
            raise _CronError(f"{field.name} {text!r} is not a valid list")
        values |= _expand(field, element)
    return values


def _min_gap(minutes: set[int], hours: set[int]) -> int | None:
    """Smallest gap in minutes between two firings within a day (and over midnight)."""
    times = sorted(h * 60 + m for h in hours for m in minutes)
    if len(times) < 2:
        return None
    gaps = [b - a for a, b in pairwise(times)]
    gaps.append(times[0] + 24 * 60 - times[-1])
    return min(gaps)


def problem(expression: str) -> str | None:
    """Why Glue would refuse ``expression``, or None when it is a valid Glue cron."""
    match = _CRON_RE.fullmatch(expression.strip())
    if match is None:
        return "a Glue schedule is written cron(...)"
    parts = match.group("body").split()
    if len(parts) != len(FIELDS):
        return (
            f"it has {len(parts)} fields; Glue cron has six: Minutes Hours Day-of-month Month"
            " Day-of-week Year"
        )
    try:
        selected = [_check_field(f, text) for f, text in zip(FIELDS, parts, strict=True)]
    except _CronError as bad:
        return str(bad)
    if (parts[DAY_OF_MONTH] == "?") == (parts[DAY_OF_WEEK] == "?"):
        return "exactly one of Day-of-month and Day-of-week must be '?'"
    gap = _min_gap(selected[0], selected[1])
    if gap is not None and gap < MIN_INTERVAL_MINUTES:
        return f"it fires every {gap} minutes; Glue schedules run at most every 5 minutes"
    return None
