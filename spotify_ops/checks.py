"""Verification checks: one definition, run on DuckDB locally and on Athena after deploy.

A check reads the table through a ``QueryEngine`` (the engine owns dialect and transport)
and judges the answer against the schema contract, the gate and the last run summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from spotify_glue.contract import WAREHOUSE_COLUMNS
from spotify_glue.gate import GateThresholds
from spotify_glue.layout import TABLE_NAME
from spotify_glue.run_summary import RunSummary

SQL_DIR: Final = Path(__file__).resolve().parent.parent / "sql"
CHECKS_DIR: Final = SQL_DIR / "checks"
INSIGHTS_DIR: Final = SQL_DIR / "insights"

INSIGHT_PROBE: Final = "top_artists_by_followers"
"""The insight query whose non-empty answer shows the table is usable end to end."""


def load_sql(path: Path) -> str:
    """A query file's text, without a trailing semicolon (Athena named queries and DuckDB
    both take it as one statement)."""
    return path.read_text(encoding="utf-8").strip().rstrip(";").strip()


def sql_files(folder: Path) -> dict[str, Path]:
    """Query name (file stem) to path, sorted, for one folder of the repo's SQL."""
    return {p.stem: p for p in sorted(folder.glob("*.sql"))}


class TableNotFoundError(LookupError):
    """The warehouse table a ``QueryEngine`` reads does not exist: not in the Glue catalog
    (Athena), or no published Parquet files (DuckDB). The message says how to create it."""


class QueryEngine(Protocol):
    """Runs the repo's SQL (written in Athena/Trino dialect) against the warehouse table.
    Either method may raise ``TableNotFoundError``."""

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        ...

    def table_columns(self) -> list[tuple[str, str]]:
        """The table's (name, type) in order, types in the contract's (Glue catalog) spelling."""
        ...


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def check_schema(engine: QueryEngine, _: RunSummary | None, __: GateThresholds) -> CheckResult:
    expected = [(c.name, c.type) for c in WAREHOUSE_COLUMNS]
    actual = engine.table_columns()
    if actual == expected:
        return CheckResult("schema", True, f"{len(expected)} columns match the contract")
    missing = [n for n, _t in expected if n not in dict(actual)]
    extra = [n for n, _t in actual if n not in dict(expected)]
    wrong = [
        f"{n}: {dict(actual)[n]} != {t}"
        for n, t in expected
        if n in dict(actual) and dict(actual)[n] != t
    ]
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"unexpected {extra}")
    if wrong:
        parts.append(f"wrong types {wrong}")
    if not parts:
        parts.append("column order differs from the contract")
    return CheckResult("schema", False, "; ".join(parts))


def check_row_count(
    engine: QueryEngine, summary: RunSummary | None, gate: GateThresholds
) -> CheckResult:
    rows = engine.query(load_sql(CHECKS_DIR / "row_count.sql"))
    count = int(rows[0]["row_count"])
    if count < gate.min_rows:
        return CheckResult("row_count", False, f"{count} rows, fewer than {gate.min_rows}")
    if summary is not None and count != summary.rows_written:
        return CheckResult(
            "row_count",
            False,
            f"{count} rows, but the published run {summary.run_id} wrote {summary.rows_written}",
        )
    written = f", as the published run {summary.run_id} wrote" if summary is not None else ""
    return CheckResult("row_count", True, f"{count} rows{written}")


def check_keys(engine: QueryEngine, _: RunSummary | None, __: GateThresholds) -> CheckResult:
    row = engine.query(load_sql(CHECKS_DIR / "key_integrity.sql"))[0]
    nulls, dupes = int(row["null_keys"]), int(row["duplicate_keys"])
    ok = nulls == 0 and dupes == 0
    return CheckResult("track_id_unique", ok, f"{nulls} null, {dupes} duplicate track_id")


def domain_violations_sql(table: str = TABLE_NAME) -> str:
    """One query counting, per contract column with a domain, the rows whose value lies
    outside it; written from the contract's domains, in Athena SQL (DuckDB runs it too)."""
    counts = [
        f'COUNT_IF(NOT ({predicate})) AS "{c.name}"'
        for c in WAREHOUSE_COLUMNS
        if (predicate := c.domain_sql(f'"{c.name}"')) is not None
    ]
    return f"SELECT {', '.join(counts)} FROM {table}"


def generated_queries() -> dict[str, str]:
    """Queries written from the contract rather than kept in sql/, by the name messages use."""
    return {"checks/domains": domain_violations_sql()}


def check_domains(engine: QueryEngine, _: RunSummary | None, __: GateThresholds) -> CheckResult:
    """No published value lies outside its column's domain (the job quarantines such rows)."""
    rows = engine.query(domain_violations_sql())
    if not rows:
        return CheckResult("domains", False, "the domain query returned no row")
    outside = {name: int(count) for name, count in rows[0].items() if count}
    if not outside:
        return CheckResult("domains", True, f"{len(rows[0])} columns within their domains")
    columns = {c.name: c for c in WAREHOUSE_COLUMNS}
    detail = "; ".join(
        f"{count:,} rows with {name} outside {columns[name].domain_text()}"
        for name, count in outside.items()
    )
    return CheckResult("domains", False, detail)


def _gated_rate(
    name: str,
    summary: RunSummary | None,
    rate: Callable[[RunSummary], float],
    limit: float,
    detail: Callable[[RunSummary], str],
) -> CheckResult:
    """A rate from the published run's summary is within its gate limit; without a summary
    there is nothing to judge, so the check fails."""
    if summary is None:
        return CheckResult(name, False, "no run summary to read it from")
    return CheckResult(name, rate(summary) <= limit, detail(summary))


def check_quarantine_rate(
    _: QueryEngine, summary: RunSummary | None, gate: GateThresholds
) -> CheckResult:
    limit = gate.max_quarantine_rate
    return _gated_rate(
        "quarantine_rate",
        summary,
        lambda s: s.quarantine_rate,
        limit,
        lambda s: f"{s.quarantine_rate:.2%} of {s.total_read} rows quarantined (limit {limit:.2%})",
    )


def check_join_loss(
    _: QueryEngine, summary: RunSummary | None, gate: GateThresholds
) -> CheckResult:
    limit = gate.max_join_loss_rate
    return _gated_rate(
        "join_loss_rate",
        summary,
        lambda s: s.join_loss_rate,
        limit,
        lambda s: (
            f"{s.join_loss_rate:.2%} of album rows lost in joins ({s.dropped_no_artist} no"
            f" artist, {s.dropped_no_track} no track; limit {limit:.2%})"
        ),
    )


def check_insight(engine: QueryEngine, _: RunSummary | None, __: GateThresholds) -> CheckResult:
    rows = engine.query(load_sql(INSIGHTS_DIR / f"{INSIGHT_PROBE}.sql"))
    return CheckResult(f"insight:{INSIGHT_PROBE}", bool(rows), f"{len(rows)} rows")


Check = Callable[[QueryEngine, RunSummary | None, GateThresholds], CheckResult]

CHECKS: Final[Sequence[Check]] = (
    check_schema,
    check_row_count,
    check_keys,
    check_quarantine_rate,
    check_join_loss,
    check_insight,
    check_domains,
)


def run_checks(
    engine: QueryEngine, summary: RunSummary | None, gate: GateThresholds
) -> list[CheckResult]:
    """Every check in order, ``summary`` being the published run's: the one the table
    serves. Only the schema check runs when the schema is wrong or the table is missing,
    since the others would fail for the same reason."""
    results = [check_schema(engine, summary, gate)]
    if results[0].passed:
        results += [check(engine, summary, gate) for check in CHECKS[1:]]
    return results
