"""The local query engine: DuckDB over the Parquet warehouse, speaking the repo's Athena SQL.

It plays the Glue catalog's part locally: the table is registered from the Parquet files'
own schema, so the schema check compares what the job really wrote with the contract.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Final

import duckdb
from spotify_glue.contract import DUCKDB_TYPES
from spotify_glue.layout import TABLE_NAME

from spotify_ops.checks import TableNotFoundError
from spotify_ops.sql import athena_to_duckdb

CONTRACT_TYPES: Final[dict[str, str]] = {duck: contract for contract, duck in DUCKDB_TYPES.items()}
"""DuckDB type name back to the contract's (Glue catalog) spelling."""


def contract_type(duckdb_type: str) -> str:
    """The contract spelling of a DuckDB column type; a type outside the contract is returned
    as DuckDB names it, so a schema mismatch shows what was found."""
    return CONTRACT_TYPES.get(duckdb_type.upper(), duckdb_type.lower())


class DuckDBEngine:
    """``spotify_ops.checks.QueryEngine`` over ``<table_location>/*.parquet``."""

    def __init__(self, table_location: Path, table_name: str = TABLE_NAME) -> None:
        self.table_location = table_location
        self.table_name = table_name
        self.connection = duckdb.connect(":memory:")
        self.registered = False
        if any(table_location.glob("*.parquet")):
            pattern = str(table_location / "*.parquet").replace("'", "''")
            # The run folder is named run=<id>, but like the catalog table on Athena the view
            # is not partitioned: no `run` column is inferred from the path.
            self.connection.execute(
                f'CREATE VIEW "{table_name}" AS '
                f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = false)"
            )
            self.registered = True

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def _require_table(self) -> None:
        if not self.registered:
            raise TableNotFoundError(
                f"no Parquet files in {self.table_location}: the table {self.table_name!r} "
                "has not been published there (run the job first)"
            )

    def query(self, sql: str, name: str = "query") -> list[dict[str, Any]]:
        """Run Athena-dialect ``sql`` and return rows as dicts keyed by column name."""
        self._require_table()
        result = self.connection.execute(athena_to_duckdb(sql, name))
        columns = [d[0] for d in result.description or ()]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    def table_columns(self) -> list[tuple[str, str]]:
        """The registered table's columns in file order, types in contract spelling; empty
        when no table is published (the schema check then reports every column missing)."""
        if not self.registered:
            return []
        rows = self.connection.execute(f'DESCRIBE "{self.table_name}"').fetchall()
        return [(str(name), contract_type(str(kind))) for name, kind, *_ in rows]
