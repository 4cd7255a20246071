"""One exit-code convention for every command: docs/exit-codes.md lists exactly the codes of
`ExitCode` with their meanings, every registered command with each code it can return, and a
test that drives the command there; Ctrl-C in any command is one line and exit 130."""

from __future__ import annotations

import ast
import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from spotify_ops import local_run as local_run_module
from spotify_ops import stacks
from spotify_ops.aws_runtime import Runtime
from spotify_ops.cli import app
from spotify_ops.exit_codes import ExitCode
from tests.cli.conftest import copy_sample
from tests.cli.test_preflight import write_config
from tests.cli.verify_support import write_outputs
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "exit-codes.md"
TESTS = Path(__file__).resolve().parent


def table(heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table below ``## heading`` in the doc."""
    section = DOC.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def names(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def registered_commands() -> set[str]:
    group: Any = typer.main.get_command(app)
    return set(group.commands)


def member_docstrings() -> dict[str, str]:
    """Each ExitCode member's docstring, whitespace folded, read from the module's source."""
    from spotify_ops import exit_codes

    body = ast.parse(inspect.getsource(exit_codes)).body
    (enum,) = (n for n in body if isinstance(n, ast.ClassDef) and n.name == "ExitCode")
    docs = {}
    for assign, doc in zip(enum.body, enum.body[1:], strict=False):
        if isinstance(assign, ast.Assign) and isinstance(doc, ast.Expr):
            name = assign.targets[0]
            assert isinstance(name, ast.Name)
            docs[name.id] = " ".join(str(ast.literal_eval(doc.value)).split())
    return docs


def test_the_table_lists_exactly_the_exit_codes_with_their_meanings():
    """The codes table has one row per ExitCode member: its value, its name, and its
    docstring as the meaning."""
    rows = table("The codes")
    assert [(int(r[0]), r[1].strip("`")) for r in rows] == [(c.value, c.name) for c in ExitCode]
    docstrings = member_docstrings()
    for row in rows:
        assert row[2] == docstrings[row[1].strip("`")], row[1]


def test_every_registered_command_is_documented_and_no_other():
    """The per-command table names exactly the commands the CLI registers, and the codes
    table says which commands return each code as the per-command rows do."""
    per_command = table("When each command returns each code")
    assert {r[0].strip("`") for r in per_command} == registered_commands()
    for row in table("The codes"):
        returning = {r[0].strip("`") for r in per_command if int(r[1]) == int(row[0])}
        assert names(row[3]) == returning, row[1]


def _test_sources() -> dict[str, str]:
    sources = {}
    for path in TESTS.glob("test_*.py"):
        text = path.read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                sources[node.name] = ast.get_source_segment(text, node) or ""
    return sources


def test_each_documented_code_is_proven_by_the_test_it_names():
    """Every per-command row names a test that exists in tests/cli and asserts that code
    (as ExitCode.NAME, or the number compared with an exit code)."""
    sources = _test_sources()
    for command, code, _, test_cell in table("When each command returns each code"):
        test = test_cell.strip("`")
        assert test in sources, f"{command} {code}: no test {test}"
        member = ExitCode(int(code))
        number = rf"(exit_code|returncode) == {int(code)}\b"
        proves = f"ExitCode.{member.name}" in sources[test] or re.search(number, sources[test])
        assert proves, f"{test} does not assert exit code {code} ({member.name})"


# --- Ctrl-C in every command ---------------------------------------------------------------------


def _interrupt(*_args: Any, **_kwargs: Any) -> Any:
    raise KeyboardInterrupt


def _local_run(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Any]:
    monkeypatch.setattr(local_run_module, "stage_inputs", _interrupt)
    return ["local-run", "--input", str(copy_sample(tmp / "in")), "--out", str(tmp / "o")], None


def _generate(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Any]:
    from rich.progress import Progress

    monkeypatch.setattr(Progress, "update", _interrupt)
    return ["generate", "--out", str(tmp / "gen"), "--album-rows", "20"], None


def _verify(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Any]:
    return ["verify", "--outputs", write_outputs(tmp / "outputs.json")], Runtime(_interrupt)


def _stack_config(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Any]:
    monkeypatch.setattr(stacks, "read_base_config", _interrupt)
    return ["stack-config", "pr-7", "--from", "dev", "--project-dir", str(REPO_ROOT)], None


def _preflight(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Any]:
    return ["preflight", "--config", write_config(tmp)], Runtime(_interrupt)


INTERRUPTS: dict[str, Callable[[Path, pytest.MonkeyPatch], tuple[list[str], Any]]] = {
    "local-run": _local_run,
    "generate": _generate,
    "verify": _verify,
    "stack-config": _stack_config,
    "preflight": _preflight,
}


def test_every_command_has_an_interrupt_case():
    """The Ctrl-C test below covers every registered command."""
    assert set(INTERRUPTS) == registered_commands()


@pytest.mark.parametrize("command", sorted(INTERRUPTS))
def test_ctrl_c_in_every_command_exits_130_in_one_line(command, tmp_path, monkeypatch):
    """Ctrl-C inside any command ends it with exit 130 and one line on standard error that
    says it was interrupted (after any progress lines of stages that finished); no
    traceback, nothing on standard output."""
    args, runtime = INTERRUPTS[command](tmp_path, monkeypatch)
    result = CliRunner().invoke(app, args, obj=runtime)
    assert result.exit_code == ExitCode.INTERRUPTED, result.output
    assert result.stdout.strip() == ""
    *progress, last = result.stderr.strip().splitlines()
    assert all(line.startswith("✓ ") for line in progress), result.stderr
    assert "interrupted" in last
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["verify", "preflight"])
def test_ctrl_c_with_json_still_prints_the_error_object(command, tmp_path, monkeypatch):
    """With --json, Ctrl-C prints the error object on standard output (passed false, exit
    code 130), as after any other error, and the one interrupted line on standard error."""
    args, runtime = INTERRUPTS[command](tmp_path, monkeypatch)
    result = CliRunner().invoke(app, [*args, "--json"], obj=runtime)
    assert result.exit_code == ExitCode.INTERRUPTED, result.output
    assert json.loads(result.stdout) == {
        "passed": False,
        "exit_code": int(ExitCode.INTERRUPTED),
        "error": "interrupted",
    }
    assert result.stderr.strip().splitlines()[-1].endswith("interrupted")
    assert "Traceback" not in result.output


def test_stack_config_that_cannot_write_its_file_exits_2(tmp_path):
    """stack-config --write where the stack file cannot be written (here a folder has its
    name) exits 2 with one line naming the file and the way round, not a traceback."""
    (tmp_path / "Pulumi.yaml").write_text("name: spotify-pipeline\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_bytes((REPO_ROOT / "Pulumi.dev.yaml").read_bytes())
    (tmp_path / "Pulumi.pr-7.yaml").mkdir()
    args = ["stack-config", "pr-7", "--from", "dev", "--project-dir", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--write", "--force"])
    assert result.exit_code == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.output
    assert f"cannot write {tmp_path / 'Pulumi.pr-7.yaml'}: Is a directory" in lines[0]


def test_usage_errors_typer_finds_are_exit_2_for_every_command():
    """An unknown option is exit 2 for every command, as the convention says."""
    for command in registered_commands():
        result = CliRunner().invoke(app, [command, "--no-such-option"])
        assert result.exit_code == ExitCode.USAGE, command
