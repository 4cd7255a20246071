"""The repo's SQL is written once, in Athena (Trino) dialect; DuckDB runs it after sqlglot
transpiles it. Errors name the query, so a bad file is easy to find."""

from __future__ import annotations

from typing import Final

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

SOURCE_DIALECT: Final = "athena"
LOCAL_DIALECT: Final = "duckdb"


class SqlTranslationError(ValueError):
    """A query could not be parsed as Athena SQL or has more than one statement."""


def parse_athena(sql: str, name: str = "query") -> exp.Expr:
    """The single statement of ``sql``, parsed strictly as Athena SQL."""
    try:
        statements = sqlglot.parse(sql, read=SOURCE_DIALECT, error_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as error:
        raise SqlTranslationError(f"{name}: not valid Athena SQL: {error}") from error
    found = [s for s in statements if s is not None]
    if len(found) != 1:
        raise SqlTranslationError(
            f"{name}: expected exactly one statement (Athena named queries hold one), "
            f"found {len(found)}"
        )
    return found[0]


def athena_to_duckdb(sql: str, name: str = "query") -> str:
    """``sql`` (Athena dialect) rewritten for DuckDB."""
    return str(parse_athena(sql, name).sql(dialect=LOCAL_DIALECT))
