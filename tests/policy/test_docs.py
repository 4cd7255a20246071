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


def test_the_guardrails_table_lists_exactly_the_rules():
    """Each rule of the pack has a row in the guardrails table, and no row names a rule that
    is gone."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Guardrails", 1)[1].split("\n## ", 1)[0]
    assert _table_first_cells(section) == {rule.name for rule in RULES}


def test_every_config_key_is_in_the_table():
    """Each key the program accepts has a row in the config table."""
    assert set(KNOWN_KEYS) <= _table_first_cells(DOC.read_text(encoding="utf-8"))
