"""The publish gate's thresholds: one frozen, typed object with one validation, which stack
config, job arguments, run summaries and the CLI all parse the same way."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final


class GateError(ValueError):
    """A gate threshold is missing its kind or out of range; the message names the key."""


GATE_RULES: Final[dict[str, str]] = {
    "min_rows": "a whole number >= 1 (a published table is never empty)",
    "max_quarantine_rate": "a rate from 0 to 1, e.g. 0.05",
    "max_join_loss_rate": "a rate from 0 to 1, e.g. 0.10",
}
"""Each threshold's allowed values, as error messages say them."""


def _gate_value(name: str, value: object, spelled: str) -> int | float:
    problem = GateError(f"{spelled} = {value!r} is not allowed; use {GATE_RULES[name]}")
    if isinstance(value, bool):
        raise problem
    text = str(value).strip()
    if name == "min_rows":
        if isinstance(value, float) or not re.fullmatch(r"[+-]?[0-9]+", text):
            raise problem
        number: int | float = int(text)
        if number < 1:
            raise problem
        return number
    try:
        rate = float(text)
    except ValueError:
        raise problem from None
    if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise problem
    return rate


@dataclass(frozen=True)
class GateThresholds:
    """The publish gate; the job enforces it and the verifier re-checks it after a run.

    One validation for every way in: stack config, job arguments, a run summary and the CLI
    all go through :meth:`parse` (or the constructor, which checks the same rules)."""

    min_rows: int = 1
    """Rows the table must have."""
    max_quarantine_rate: float = 0.05
    """Quarantined rows over rows read, all sources."""
    max_join_loss_rate: float = 0.10
    """Album rows dropped by the inner joins over album rows after de-duplication."""

    def __post_init__(self) -> None:
        for name in GATE_RULES:
            _gate_value(name, getattr(self, name), name)

    @classmethod
    def parse(
        cls,
        values: Mapping[str, object],
        spelling: Callable[[str], str] = str,
        base: GateThresholds | None = None,
    ) -> GateThresholds:
        """Thresholds from raw values (strings or numbers) keyed by field name; a missing or
        None value keeps ``base`` (the defaults). ``spelling`` turns a field name into the
        key the user wrote (``--min_rows``, ``spotify-pipeline:gateMinRows``) for errors."""
        start = base or cls()
        parsed: dict[str, Any] = {
            name: _gate_value(name, values[name], spelling(name))
            for name in GATE_RULES
            if values.get(name) is not None
        }
        return replace(start, **parsed)

    def as_arguments(self) -> dict[str, str]:
        """The thresholds as job-argument strings, keyed by field name."""
        return {name: str(value) for name, value in self.as_dict().items()}

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in GATE_RULES}


DEFAULT_GATE: Final = GateThresholds()
