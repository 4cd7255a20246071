"""docs/stack-management.md stays in step with the rules and the config keys."""

from __future__ import annotations

from pathlib import Path

from spotify_guardrails import RULES

from infra.config import KNOWN_KEYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "stack-management.md"


def _table_first_cells(text: str) -> set[str]:
    cells: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            cells.update(part.strip(" `") for part in line.split("|")[1].split(","))
    return cells


def test_every_rule_is_listed_with_where_it_is_enforced():
    """Each rule of the pack has a row in the guardrails table."""
    assert {rule.name for rule in RULES} <= _table_first_cells(DOC.read_text(encoding="utf-8"))


def test_every_config_key_is_in_the_table():
    """Each key the program accepts has a row in the config table."""
    assert set(KNOWN_KEYS) <= _table_first_cells(DOC.read_text(encoding="utf-8"))
