"""The verdict for people (a rich table) and for machines (JSON), and the progress display.
The functions return renderables and dicts; only the command prints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from spotify_ops.verdict import Verdict


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The machine-readable verdict. Stack outputs hold names and URIs only, no secrets."""
    return {
        "passed": verdict.passed,
        "exit_code": int(verdict.exit_code),
        "checks": [asdict(c) for c in verdict.checks],
        "notes": verdict.notes,
        "runs": [asdict(r) for r in verdict.runs],
        "queries": [asdict(q) for q in verdict.queries],
        "gate": verdict.gate.thresholds.as_dict(),
        "gate_source": verdict.gate.source,
        "gate_fallback": verdict.gate.fallback or None,
        "outputs": verdict.outputs.as_outputs(),
    }


def verdict_summary_line(verdict: Verdict) -> str:
    failed = [c.name for c in verdict.checks if not c.passed]
    if not failed:
        return f"PASSED: all {len(verdict.checks)} checks passed"
    return f"FAILED: {len(failed)} of {len(verdict.checks)} checks failed ({', '.join(failed)})"


def render_verdict(verdict: Verdict) -> Group:
    outputs = verdict.outputs
    title = (
        f"{outputs.database_name}.{outputs.table_name} via workgroup {outputs.workgroup_name} "
        f"({outputs.region})"
    )
    table = Table(title=escape(title), title_justify="left", expand=False)
    table.add_column("Check", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Detail")
    for check in verdict.checks:
        result = Text("PASS", style="bold green") if check.passed else Text("FAIL", "bold red")
        table.add_row(escape(check.name), result, escape(check.detail))
    runs = [
        Text(f"{run.kind} {run.name}: {run.state} {run.detail}".rstrip()) for run in verdict.runs
    ]
    notes = [Text(f"note: {note}", style="yellow") for note in verdict.notes]
    line = Text(verdict_summary_line(verdict), style="bold green" if verdict.passed else "bold red")
    return Group(*runs, table, *notes, line)


@contextmanager
def progress_display(console: Console) -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time on a terminal; elsewhere (CI logs) one line per change."""
    if console.is_terminal:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("starting")
            yield lambda message: bar.update(task, description=escape(message))
        return
    last: list[str] = [""]

    def show(message: str) -> None:
        if message != last[0]:
            console.print(escape(message), soft_wrap=True, highlight=False)
            last[0] = message

    yield show
