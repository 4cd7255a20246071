"""Stack outputs for the verifier: read them (a file, stdin or the Pulumi CLI) and validate
them into a typed ``StackOutputs``, naming every bad key and its fix."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from spotify_glue.layout import TABLE_NAME, WarehouseLayout

from infra.outputs import OPTIONAL_KEYS, OutputKey


class OutputsError(Exception):
    """The stack outputs are missing, unreadable or invalid (exit code 2)."""


@dataclass(frozen=True)
class StackOutputs:
    """One field per ``OutputKey``, named after the key's constant in lower case."""

    region: str
    staging_bucket: str
    staging_prefix: str
    warehouse_bucket: str
    table_location: str
    quarantine_location: str
    run_summary_location: str
    assets_bucket: str
    results_location: str
    job_name: str
    crawler_name: str
    workflow_name: str
    database_name: str
    table_name: str
    workgroup_name: str
    quicksight_data_source_arn: str | None = None
    quicksight_data_set_arn: str | None = None
    quicksight_dashboard_id: str | None = None
    quicksight_dashboard_arn: str | None = None
    quicksight_dashboard_url: str | None = None

    @property
    def layout(self) -> WarehouseLayout:
        """The contract's layout in the warehouse bucket: every location verify reads."""
        return warehouse_layout(self.warehouse_bucket)

    def as_outputs(self) -> dict[str, str]:
        """The values keyed by their exported names, as ``pulumi stack output --json`` does.

        None of the program's outputs is secret (it exports names, URIs and an ARN only)."""
        return {
            key.value: value
            for key in OutputKey
            if (value := getattr(self, field_name(key), None)) is not None
        }


def field_name(key: OutputKey) -> str:
    return key.name.lower()


def warehouse_layout(warehouse_bucket: str) -> WarehouseLayout:
    return WarehouseLayout(f"s3://{warehouse_bucket}")


# --- validation ------------------------------------------------------------------------------

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CATALOG_NAME = re.compile(r"^[a-z0-9_-]{1,255}$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:datasource/.+$")
_QUICKSIGHT_ARN = re.compile(
    r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:(dataset|dashboard)/[\w-]+$"
)
_QUICKSIGHT_ID = re.compile(r"^[\w-]{1,512}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SECRET_MASK: Final = "[secret]"

Rule = Callable[[str], str | None]
"""Returns None for a good value, else what is wrong and how to fix it."""


def _region(value: str) -> str | None:
    if _REGION.match(value):
        return None
    return f"{value!r} is not an AWS region; expected e.g. 'eu-west-1'"


def _bucket(value: str) -> str | None:
    if value.startswith("s3://"):
        return (
            f"{value!r} is a URI; expected the bare bucket name, e.g. {value[5:].split('/')[0]!r}"
        )
    if _BUCKET.match(value) and ".." not in value:
        return None
    return f"{value!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')"


def _s3_uri(value: str) -> str | None:
    if not value.startswith("s3://"):
        return f"{value!r} is not an s3:// URI; expected e.g. 's3://my-bucket/prefix/'"
    bucket = value[5:].split("/", 1)[0]
    if _bucket(bucket) is not None:
        return f"{value!r} does not name a valid S3 bucket after s3://"
    return None


def _prefix(value: str) -> str | None:
    if value.startswith(("s3://", "/")):
        return f"{value!r} must be a key prefix relative to the bucket, e.g. 'spotify-2023/'"
    return None


def _glue_name(value: str) -> str | None:
    if 0 < len(value) <= 255 and not _CONTROL.search(value):
        return None
    return f"{value!r} is not a Glue resource name (1-255 characters, one line)"


def _catalog_name(value: str) -> str | None:
    if _CATALOG_NAME.match(value):
        return None
    return f"{value!r} is not a Glue catalog name (lowercase letters, digits, '_' and '-')"


def _table_name(value: str) -> str | None:
    if value == TABLE_NAME:
        return None
    return f"{value!r} differs from the contract's table {TABLE_NAME!r}, which the check SQL reads"


def _workgroup(value: str) -> str | None:
    if _WORKGROUP.match(value):
        return None
    return f"{value!r} is not an Athena workgroup name (1-128 of A-Z a-z 0-9 . _ -)"


def _quicksight_arn(value: str) -> str | None:
    if _ARN.match(value):
        return None
    return f"{value!r} is not a QuickSight data source ARN"


def _quicksight_resource_arn(kind: str) -> Rule:
    def rule(value: str) -> str | None:
        match = _QUICKSIGHT_ARN.match(value)
        if match and match.group(1) == kind:
            return None
        return f"{value!r} is not a QuickSight {kind} ARN"

    return rule


def _quicksight_id(value: str) -> str | None:
    if _QUICKSIGHT_ID.match(value):
        return None
    return f"{value!r} is not a QuickSight id (letters, digits, '_' and '-')"


def _https_url(value: str) -> str | None:
    if value.startswith("https://") and not _CONTROL.search(value):
        return None
    return f"{value!r} is not an https:// URL"


RULES: Final[Mapping[OutputKey, Rule]] = {
    OutputKey.REGION: _region,
    OutputKey.STAGING_BUCKET: _bucket,
    OutputKey.STAGING_PREFIX: _prefix,
    OutputKey.WAREHOUSE_BUCKET: _bucket,
    OutputKey.TABLE_LOCATION: _s3_uri,
    OutputKey.QUARANTINE_LOCATION: _s3_uri,
    OutputKey.RUN_SUMMARY_LOCATION: _s3_uri,
    OutputKey.ASSETS_BUCKET: _bucket,
    OutputKey.RESULTS_LOCATION: _s3_uri,
    OutputKey.JOB_NAME: _glue_name,
    OutputKey.CRAWLER_NAME: _glue_name,
    OutputKey.WORKFLOW_NAME: _glue_name,
    OutputKey.DATABASE_NAME: _catalog_name,
    OutputKey.TABLE_NAME: _table_name,
    OutputKey.WORKGROUP_NAME: _workgroup,
    OutputKey.QUICKSIGHT_DATA_SOURCE_ARN: _quicksight_arn,
    OutputKey.QUICKSIGHT_DATA_SET_ARN: _quicksight_resource_arn("dataset"),
    OutputKey.QUICKSIGHT_DASHBOARD_ID: _quicksight_id,
    OutputKey.QUICKSIGHT_DASHBOARD_ARN: _quicksight_resource_arn("dashboard"),
    OutputKey.QUICKSIGHT_DASHBOARD_URL: _https_url,
}


def _problem(key: OutputKey, raw: Any) -> str | None:
    if raw is None:
        if key in OPTIONAL_KEYS:
            return None
        return (
            "missing; the Pulumi program exports it, so run `pulumi up` on this stack "
            "(or add it to the outputs file)"
        )
    if not isinstance(raw, str):
        return f"expected a string, got {type(raw).__name__} {json.dumps(raw)[:60]}"
    if raw == _SECRET_MASK:
        return "is a secret and shows as [secret]; export it as a plain output (it holds no secret)"
    rule = RULES.get(key)
    return rule(raw) if rule is not None else None


def _layout_problems(data: Mapping[str, Any], bad: set[OutputKey]) -> dict[OutputKey, str]:
    """The location outputs that differ from where the contract's layout puts them for the
    exported warehouse bucket: verify reads the layout, so a difference must not go unseen."""
    if OutputKey.WAREHOUSE_BUCKET in bad:
        return {}
    layout = warehouse_layout(data[OutputKey.WAREHOUSE_BUCKET.value])
    expected = {
        OutputKey.TABLE_LOCATION: layout.table_root,
        OutputKey.QUARANTINE_LOCATION: layout.quarantine_root,
        OutputKey.RUN_SUMMARY_LOCATION: layout.summary_location,
    }
    return {
        key: (
            f"{data[key.value]!r} is not where the warehouse layout puts it in bucket "
            f"{data[OutputKey.WAREHOUSE_BUCKET.value]!r} ({location!r}); the outputs come "
            "from another version of the program, so run `pulumi up` on this stack"
        )
        for key, location in expected.items()
        if key not in bad and data[key.value] != location
    }


def validate_outputs(data: Mapping[str, Any], source: str) -> StackOutputs:
    """Typed outputs, or one ``OutputsError`` listing every bad key with its fix.

    Keys the verifier does not know are ignored: the program may export more than it reads."""
    found = {
        key: problem
        for key in OutputKey
        if (problem := _problem(key, data.get(key.value))) is not None
    }
    found |= _layout_problems(data, set(found))
    problems = [f"  - {key.value}: {found[key]}" for key in OutputKey if key in found]
    if problems:
        raise OutputsError(f"stack outputs from {source} are not usable:\n" + "\n".join(problems))
    known = {f.name for f in fields(StackOutputs)}
    values: dict[str, Any] = {
        field_name(k): data.get(k.value) for k in OutputKey if field_name(k) in known
    }
    return StackOutputs(**values)


def parse_outputs(text: str, source: str) -> StackOutputs:
    """Outputs from the JSON that ``pulumi stack output --json`` prints."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputsError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "write it with `pulumi stack output --json > outputs.json`"
        ) from None
    if not isinstance(data, dict):
        raise OutputsError(
            f"{source} must hold a JSON object of output names to values, "
            f"as `pulumi stack output --json` writes; got a {type(data).__name__}"
        )
    return validate_outputs(data, source)


def read_outputs_file(path: Path) -> StackOutputs:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutputsError(
            f"outputs file {str(path)!r} does not exist; "
            "write it with `pulumi stack output --json > outputs.json`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputsError(f"cannot read outputs file {str(path)!r}: {exc}") from None
    return parse_outputs(text, f"outputs file {str(path)!r}")


def load_outputs(stack: str | None, outputs_file: str | None) -> StackOutputs:
    """The outputs from exactly one source: ``--stack`` (the Pulumi CLI) or ``--outputs``
    (a file, or ``-`` for standard input)."""
    if stack and outputs_file:
        raise OutputsError("pass either --stack or --outputs, not both")
    if stack:
        return read_stack_outputs(stack)
    if outputs_file == "-":
        return parse_outputs(sys.stdin.read(), "standard input")
    if outputs_file:
        return read_outputs_file(Path(outputs_file))
    raise OutputsError(
        "no stack outputs: pass --stack NAME (needs the pulumi CLI) or --outputs FILE "
        "(from `pulumi stack output --json > outputs.json`; '-' reads standard input)"
    )


# --- the Pulumi CLI --------------------------------------------------------------------------

CommandRunner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]

PULUMI_TIMEOUT_SECONDS: Final = 120


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,  # a passphrase prompt must fail fast, not hang CI
        capture_output=True,
        text=True,
        check=False,
        timeout=PULUMI_TIMEOUT_SECONDS,
    )


def pulumi_output_args(stack: str) -> list[str]:
    """Never ``--show-secrets``: the verifier needs no secret, so none is ever fetched."""
    return ["stack", "output", "--json", "--stack", stack]


def run_pulumi(
    args: Sequence[str],
    instead: str,
    which: Callable[[str], str | None] = shutil.which,
    run: CommandRunner = _run,
) -> str:
    """Standard output of ``pulumi <args>`` (run from the project folder), or an
    ``OutputsError`` naming the command, its error and ``instead``: the way round it."""
    command = " ".join(["pulumi", *args])
    pulumi = which("pulumi")
    if pulumi is None:
        raise OutputsError(
            f"the pulumi CLI is not on PATH, so `{command}` cannot run; install it, or {instead}"
        )
    try:
        done = run([pulumi, *args])
    except subprocess.TimeoutExpired:
        raise OutputsError(
            f"`{command}` did not answer within {PULUMI_TIMEOUT_SECONDS} s; "
            f"check your Pulumi login, or {instead}"
        ) from None
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        raise OutputsError(
            f"`{command}` failed (exit {done.returncode}): {reason}. Run it from the project "
            f"folder with a stack that exists (`pulumi stack ls`), or {instead}"
        )
    return done.stdout


def read_stack_outputs(
    stack: str,
    which: Callable[[str], str | None] = shutil.which,
    run: CommandRunner = _run,
) -> StackOutputs:
    """Outputs of a deployed stack through the Pulumi CLI (run from the project folder)."""
    instead = (
        "pass --outputs FILE written by "
        f"`pulumi stack output --json --stack {stack} > outputs.json`"
    )
    text = run_pulumi(pulumi_output_args(stack), instead, which, run)
    return parse_outputs(text, f"stack {stack!r}")
