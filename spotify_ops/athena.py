"""The Athena ``QueryEngine``: the repo's check SQL on the deployed table, in the stack's
workgroup, with the schema read from the Glue catalog."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError

from spotify_ops.checks import (
    CHECKS_DIR,
    INSIGHTS_DIR,
    TableNotFoundError,
    generated_queries,
    load_sql,
    sql_files,
)
from spotify_ops.polling import (
    Backoff,
    Clock,
    Deadline,
    Poller,
    SystemClock,
    WaitTimeoutError,
    call_with_throttle_retry,
    error_code,
    error_message,
)

RUNNING_STATES: Final = frozenset({"QUEUED", "RUNNING"})
FAILED_STATES: Final = frozenset({"FAILED", "CANCELLED"})
SYSTEM_ERROR_CATEGORY: Final = 1
"""AthenaError.ErrorCategory: 1 system, 2 user, 3 other."""

_INT_TYPES: Final = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_FLOAT_TYPES: Final = frozenset({"double", "float", "real"})


class QueryFailedError(Exception):
    """Athena ran the query and it ended FAILED or CANCELLED."""

    def __init__(self, name: str, query_id: str, state: str, reason: str, system: bool) -> None:
        super().__init__(f"Athena query {name} ({query_id}) {state}: {reason}")
        self.name = name
        self.query_id = query_id
        self.state = state
        self.reason = reason
        self.system = system
        """True when Athena blames itself (ErrorCategory 1): retrying later may pass."""


class QueryTimeoutError(WaitTimeoutError):
    """A query was still QUEUED or RUNNING at its deadline; it has been asked to stop."""


def query_name(sql: str) -> str:
    """The SQL file a query came from (``checks/row_count``), for messages; else its start."""
    for name, generated in generated_queries().items():
        if generated == sql:
            return name
    for folder in (CHECKS_DIR, INSIGHTS_DIR):
        for stem, path in sql_files(folder).items():
            if load_sql(path) == sql:
                return f"{folder.name}/{stem}"
    first = " ".join(sql.split())
    return repr(first[:60] + ("..." if len(first) > 60 else ""))


def _convert(value: str | None, athena_type: str) -> Any:
    if value is None:
        return None
    base = athena_type.lower().split("(")[0]
    if base in _INT_TYPES:
        return int(value)
    if base in _FLOAT_TYPES:
        return float(value)
    if base == "boolean":
        return value.lower() == "true"
    return value


def rows_from_pages(pages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows as dicts from ``get_query_results`` pages of a SELECT.

    The first row of the first page is Athena's header row (column names). Values come as
    VarCharValue strings (absent for NULL) and are converted by the column's Athena type, so
    the checks see the same Python types as from DuckDB."""
    names: list[str] | None = None
    types: list[str] = []
    rows: list[dict[str, Any]] = []
    for page in pages:
        result_set = page.get("ResultSet", {})
        data_rows = result_set.get("Rows", [])
        if names is None:
            if not data_rows:
                return []
            names = [cell.get("VarCharValue", "") for cell in data_rows[0]["Data"]]
            info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            types = [str(c.get("Type", "varchar")) for c in info] or ["varchar"] * len(names)
            data_rows = data_rows[1:]
        for row in data_rows:
            cells = [cell.get("VarCharValue") for cell in row["Data"]]
            rows.append({n: _convert(v, t) for n, v, t in zip(names, cells, types, strict=True)})
    return rows


@dataclass
class QueryRecord:
    """What the report shows about each query run."""

    name: str
    query_id: str
    state: str
    polls: int
    bytes_scanned: int | None = None


@dataclass
class AthenaEngine:
    """Runs the repo's SQL on Athena and reads the schema from the Glue catalog."""

    athena: Any
    glue: Any
    database: str
    table: str
    workgroup: str
    output_location: str | None = None
    """Used only when the workgroup does not enforce its own result location."""
    clock: Clock = field(default_factory=SystemClock)
    query_timeout: float = 600.0
    first_poll: float = 0.25
    max_poll: float = 5.0
    on_progress: Callable[[str], None] = lambda _message: None
    records: list[QueryRecord] = field(default_factory=list)
    _catalog_table: dict[str, Any] | TableNotFoundError | None = field(
        default=None, init=False, repr=False
    )

    def query(self, sql: str) -> list[dict[str, Any]]:
        name = query_name(sql)
        self.on_progress(f"Athena: running {name}")
        query_id = self._start(sql)
        record = QueryRecord(name=name, query_id=query_id, state="QUEUED", polls=0)
        self.records.append(record)
        execution = self._wait(record)
        if record.state in FAILED_STATES:
            status = execution["Status"]
            error = status.get("AthenaError", {})
            reason = status.get("StateChangeReason") or error.get("ErrorMessage") or "no reason"
            system = error.get("ErrorCategory") == SYSTEM_ERROR_CATEGORY
            raise QueryFailedError(name, query_id, record.state, reason, system)
        stats = execution.get("Statistics", {})
        record.bytes_scanned = stats.get("DataScannedInBytes")
        return self._results(query_id)

    def catalog_table(self) -> dict[str, Any]:
        """The table's Glue catalog definition, read once (glue:GetTable), so the schema and
        the location are judged on the same definition; a missing table is remembered too."""
        if self._catalog_table is None:
            try:
                self._catalog_table = call_with_throttle_retry(
                    lambda: self.glue.get_table(DatabaseName=self.database, Name=self.table),
                    self.clock,
                )["Table"]
            except ClientError as exc:
                if error_code(exc) != "EntityNotFoundException":
                    raise
                self._catalog_table = TableNotFoundError(
                    f"table {self.database}.{self.table} is not in the Glue catalog "
                    f"({error_message(exc)}); run the job and crawler (verify --run) "
                    "or check the stack's database_name and table_name outputs"
                )
        if isinstance(self._catalog_table, TableNotFoundError):
            raise self._catalog_table
        return self._catalog_table

    def table_columns(self) -> list[tuple[str, str]]:
        table = self.catalog_table()
        storage = table.get("StorageDescriptor", {})
        columns = [*storage.get("Columns", []), *table.get("PartitionKeys", [])]
        return [(str(c["Name"]), str(c["Type"])) for c in columns]

    def table_location(self) -> str:
        """Where the catalog table reads its files (its StorageDescriptor's Location)."""
        return str(self.catalog_table().get("StorageDescriptor", {}).get("Location", ""))

    def _start(self, sql: str) -> str:
        # One token for every retry of this start, so a retried call cannot run it twice.
        request: dict[str, Any] = {
            "ClientRequestToken": str(uuid.uuid4()),
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        response = call_with_throttle_retry(
            lambda: self.athena.start_query_execution(**request), self.clock
        )
        return str(response["QueryExecutionId"])

    def _wait(self, record: QueryRecord) -> dict[str, Any]:
        poller = Poller(
            clock=self.clock,
            deadline=Deadline(self.clock, self.query_timeout),
            backoff=Backoff(initial=self.first_poll, maximum=self.max_poll),
        )

        def probe() -> dict[str, Any] | None:
            record.polls += 1
            response = self.athena.get_query_execution(QueryExecutionId=record.query_id)
            execution: dict[str, Any] = response["QueryExecution"]
            record.state = str(execution["Status"]["State"])
            return None if record.state in RUNNING_STATES else execution

        try:
            return poller.wait(
                probe,
                lambda: f"Athena query {record.name} ({record.query_id}) still {record.state}",
            )
        except WaitTimeoutError as exc:
            self._stop(record.query_id)
            raise QueryTimeoutError(f"{exc}; it was asked to stop. Raise --query-timeout") from None

    def _stop(self, query_id: str) -> None:
        # Best effort: the timeout is what gets reported.
        with contextlib.suppress(ClientError):
            self.athena.stop_query_execution(QueryExecutionId=query_id)

    def _results(self, query_id: str) -> list[dict[str, Any]]:
        paginator = self.athena.get_paginator("get_query_results")
        return rows_from_pages(paginator.paginate(QueryExecutionId=query_id))
