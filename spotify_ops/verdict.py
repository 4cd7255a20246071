"""The verdict on a deployed stack: run the pipeline if asked, read what the warehouse and
the catalog say, then run every check of ``VERIFY_CHECKS`` on it.

Errors that stop verification (a failed run, an AWS error, a timeout) raise; a check that
fails is part of the verdict. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from spotify_glue.gate import DEFAULT_GATE, GATE_RULES, GateError, GateThresholds
from spotify_glue.layout import WarehouseLayout

from spotify_ops.athena import AthenaEngine, QueryRecord
from spotify_ops.aws_runtime import ClientFactory
from spotify_ops.checks import CheckResult, TableNotFoundError, run_checks
from spotify_ops.exit_codes import ExitCode
from spotify_ops.glue_runner import RunOutcome, run_pipeline
from spotify_ops.polling import Backoff, Clock, Deadline, Poller
from spotify_ops.publication import (
    SummaryRead,
    check_last_run,
    check_published_run,
    check_table_location,
    read_summary,
)
from spotify_ops.quicksight_check import quicksight_checks, refresh_spice
from spotify_ops.stack_outputs import StackOutputs

Progress = Callable[[str], None]

# --- the gate ----------------------------------------------------------------------------------


def option_name(field_name: str) -> str:
    """The command-line option of a gate threshold: ``min_rows`` -> ``--min-rows``."""
    return "--" + field_name.replace("_", "-")


@dataclass(frozen=True)
class GateOverrides:
    """Gate thresholds given on the command line (None: not given)."""

    min_rows: int | None = None
    max_quarantine_rate: float | None = None
    max_join_loss_rate: float | None = None

    def over(self, base: GateThresholds) -> GateThresholds:
        """``base`` with the given thresholds replaced, validated by the contract's one
        parser (a ``GateError`` names the option)."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return GateThresholds.parse(given, spelling=option_name, base=base)

    @property
    def given(self) -> list[str]:
        return [option_name(f.name) for f in fields(self) if getattr(self, f.name) is not None]


@dataclass(frozen=True)
class Gate:
    """The thresholds the checks judge by, and where they came from."""

    thresholds: GateThresholds
    source: str
    fallback: str = ""
    """Why (some of) the contract's defaults apply instead of what the run recorded; empty
    when the run's record was complete."""


def gate_of_run(read: SummaryRead, overrides: GateOverrides) -> Gate:
    """The thresholds the job judged the run by (its summary records them), so a stack's
    gate config needs no repeating here; the command line replaces single ones. Where the
    record is missing, incomplete or invalid the contract's defaults apply, and ``fallback``
    says so."""
    run = read.summary
    recorded: Mapping[str, object] = {}
    if run is not None and isinstance(run.gate, Mapping):
        recorded = run.gate
    where = f"run {run.run_id}" if run is not None else ""
    try:
        base = GateThresholds.parse(recorded, spelling=lambda name: f"{where}'s gate.{name}")
        defaulted = [name for name in GATE_RULES if recorded.get(name) is None]
        reason = f"{where}'s summary records no {', '.join(defaulted)}"
        source = f"recorded by {where}"
        if run is None:
            reason, source = f"{read.problem}, so no gate is recorded", "the contract's defaults"
    except GateError as exc:
        base, defaulted, reason = DEFAULT_GATE, list(GATE_RULES), str(exc)
        source = "the contract's defaults"
    defaulted = [name for name in defaulted if getattr(overrides, name) is None]
    fallback = f"{reason}; judging {', '.join(defaulted)} by the contract's defaults"
    if overrides.given:
        source += f", with {', '.join(overrides.given)} from the command line"
    return Gate(overrides.over(base), source, fallback if defaulted else "")


# --- what the checks read ----------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What verify read from the stack; every check of ``VERIFY_CHECKS`` judges from it."""

    outputs: StackOutputs
    layout: WarehouseLayout
    clients: ClientFactory
    """More AWS clients, for a check that needs another service."""
    engine: AthenaEngine
    """The table through Athena and the Glue catalog (read once, shared by the checks)."""
    last_run: SummaryRead
    published: SummaryRead
    """The published-run pointer: the run the catalog table should serve."""
    gate: Gate


VerifyCheck = Callable[[Evidence], list[CheckResult]]
"""One or more named results from the evidence; a new check is a function and a line below."""


def last_run(evidence: Evidence) -> list[CheckResult]:
    return [check_last_run(evidence.last_run, evidence.published)]


def published_run(evidence: Evidence) -> list[CheckResult]:
    return [check_published_run(evidence.published, evidence.layout)]


def table_location(evidence: Evidence) -> list[CheckResult]:
    try:
        location = evidence.engine.table_location()
    except TableNotFoundError:
        name = f"{evidence.outputs.database_name}.{evidence.outputs.table_name}"
        return [CheckResult("table_location", False, f"no catalog table {name} (see schema)")]
    return [check_table_location(location, evidence.published, evidence.last_run, evidence.layout)]


def table_contents(evidence: Evidence) -> list[CheckResult]:
    """The checks shared with the local run, judged against the published run's summary."""
    try:
        return run_checks(evidence.engine, evidence.published.summary, evidence.gate.thresholds)
    except TableNotFoundError as exc:
        return [CheckResult("schema", False, str(exc))]


def quicksight(evidence: Evidence) -> list[CheckResult]:
    """Dashboard, data set and SPICE, for stacks with QuickSight on."""
    return quicksight_checks(evidence.outputs, evidence.clients)


VERIFY_CHECKS: Final[tuple[VerifyCheck, ...]] = (
    last_run,
    published_run,
    table_location,
    table_contents,
    quicksight,
)


# --- the verdict -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyOptions:
    run: bool = False
    use_workflow: bool = True
    timeout: float = 1800.0
    """Seconds for the whole --run phase (workflow, or job plus crawler)."""
    poll_interval: float = 15.0
    query_timeout: float = 600.0
    """Seconds per Athena query."""
    gate: GateOverrides = field(default_factory=GateOverrides)
    """Thresholds given on the command line; the rest come from the published run."""


@dataclass
class Verdict:
    outputs: StackOutputs
    gate: Gate
    checks: list[CheckResult]
    runs: list[RunOutcome] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.FAILED

    @property
    def notes(self) -> list[str]:
        """Lines a reader must see beside the checks."""
        return [f"gate: {self.gate.fallback}"] if self.gate.fallback else []


def run_the_pipeline(
    outputs: StackOutputs, options: VerifyOptions, glue: Any, clock: Clock, progress: Progress
) -> list[RunOutcome]:
    """The workflow (or job, then crawler) once; every wait shares one --timeout."""
    poller = Poller(
        clock=clock,
        deadline=Deadline(clock, options.timeout),
        backoff=Backoff(initial=options.poll_interval, maximum=options.poll_interval),
    )
    return run_pipeline(
        glue,
        job_name=outputs.job_name,
        crawler_name=outputs.crawler_name,
        workflow_name=outputs.workflow_name,
        use_workflow=options.use_workflow,
        poller=poller,
        progress=progress,
    )


def verify_stack(
    outputs: StackOutputs,
    options: VerifyOptions,
    clients: ClientFactory,
    clock: Clock,
    progress: Progress = lambda _message: None,
) -> Verdict:
    """Run the pipeline if asked, read the evidence, then run every check."""
    glue = clients("glue")
    runs = run_the_pipeline(outputs, options, glue, clock, progress) if options.run else []
    if options.run:  # SPICE copies the table; refresh it so the dashboard shows this run
        wait = Deadline(clock, options.timeout)
        backoff = Backoff(initial=options.poll_interval, maximum=options.poll_interval)
        refresh_spice(outputs, clients, Poller(clock, wait, backoff), progress)
    layout = outputs.layout
    s3 = clients("s3")
    progress("reading the last run summary and the published-run pointer")
    last = read_summary(s3, layout.summary_location)
    published = read_summary(s3, layout.published_location)
    engine = AthenaEngine(
        athena=clients("athena"),
        glue=glue,
        database=outputs.database_name,
        table=outputs.table_name,
        workgroup=outputs.workgroup_name,
        output_location=outputs.results_location,
        clock=clock,
        query_timeout=options.query_timeout,
        on_progress=progress,
    )
    # The table serves the published run, so its recorded gate is the one its data passed.
    gate = gate_of_run(published if published.summary is not None else last, options.gate)
    evidence = Evidence(outputs, layout, clients, engine, last, published, gate)
    checks = [result for check in VERIFY_CHECKS for result in check(evidence)]
    return Verdict(outputs=outputs, gate=gate, checks=checks, runs=runs, queries=engine.records)
