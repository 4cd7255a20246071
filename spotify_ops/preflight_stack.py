"""Preflight's input: the stack's config (a ``Pulumi.<stack>.yaml`` file or ``pulumi config
--json``) and, once deployed, its outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from infra.config import NAMESPACE, StackConfig, load_stack_config
from spotify_ops.stack_outputs import OutputsError, pulumi_output_args, run_pulumi


class PreflightError(Exception):
    """Bad usage or an unreadable stack config (exit code 2)."""


@dataclass(frozen=True)
class StackSource:
    """Where the stack's settings come from, and how to run preflight on it again."""

    stack: str
    config: StackConfig
    region: str | None
    """``aws:region`` of the stack; None leaves it to the AWS environment, as the program does."""
    command: str
    """This preflight invocation, for fix lines that run it again."""


def _validated(
    stack: str, qualified: Mapping[str, Any], source: str
) -> tuple[StackConfig, str | None]:
    """The stack's config, validated by the program's own loader, and its ``aws:region``."""
    prefix = f"{NAMESPACE}:"
    values: dict[str, Any] = {}
    for key, value in qualified.items():
        if key.startswith(prefix) or key == "aws:region":
            if isinstance(value, Mapping) and "secure" in value:
                raise PreflightError(
                    f"{key} in {source} is a secret; preflight reads no secrets, and the "
                    "program expects this key in plain text"
                )
            values[key] = value
    region = values.pop("aws:region", None)
    config = load_stack_config(stack, {k.removeprefix(prefix): v for k, v in values.items()})
    return config, str(region) if region else None


def parse_pulumi_config(text: str, source: str) -> dict[str, Any]:
    """``pulumi config --json``: qualified key -> {"value", "objectValue", "secret"}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PreflightError(f"{source} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise PreflightError(f"{source} is not a JSON object of config keys")
    values: dict[str, Any] = {}
    for key, entry in data.items():
        if not isinstance(entry, dict):
            raise PreflightError(f"{source}: {key} is not a config entry")
        if "value" in entry:
            values[key] = entry["value"]
        elif "objectValue" in entry:
            values[key] = entry["objectValue"]
        elif entry.get("secret"):
            values[key] = {"secure": None}
    return values


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's error on one line: the problem and where (its own text spans lines)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem and error.problem_mark:
        mark = error.problem_mark
        return f"{error.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(error).split())


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a ``Pulumi.<stack>.yaml`` file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise PreflightError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PreflightError(f"cannot read config file {str(path)!r}: {exc}") from None
    except yaml.YAMLError as exc:
        raise PreflightError(
            f"config file {str(path)!r} is not YAML: {_yaml_problem(exc)}"
        ) from None
    config = document.get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping):
        raise PreflightError(f"{str(path)!r} has no 'config:' mapping, as Pulumi.<stack>.yaml has")
    return dict(config)


STACK_FILE_RE: Final = re.compile(r"^Pulumi\.(?P<stack>.+)\.ya?ml$")
"""A stack's config file, ``Pulumi.<stack>.yaml`` (Pulumi also reads ``.yml``)."""


def stack_file_name(stack: str) -> str:
    """The config file Pulumi reads for ``stack``."""
    return f"Pulumi.{stack}.yaml"


def stack_file_path(project_dir: Path, stack: str) -> Path:
    """The config file of ``stack`` in ``project_dir``: ``Pulumi.<stack>.yaml``, or the
    ``.yml`` one Pulumi also reads when only that exists."""
    path = project_dir / stack_file_name(stack)
    other = path.with_suffix(".yml")
    return other if other.is_file() and not path.exists() else path


def stack_of_file(name: str) -> str | None:
    """The stack a config file's name is for; None when it names none."""
    match = STACK_FILE_RE.fullmatch(name)
    return match.group("stack") if match else None


def load_stack_source(stack: str | None, config_file: str | None) -> StackSource:
    """The stack's validated config: from ``--config FILE``, else ``pulumi config --json``."""
    if config_file:
        path = Path(config_file)
        raw = read_config_file(path)  # a missing file is named before the stack is asked for
        name = stack or stack_of_file(path.name)
        if name is None:
            raise PreflightError(
                f"cannot tell the stack from {path.name!r}; pass --stack NAME with --config"
            )
        config, region = _validated(name, raw, repr(str(path)))
        command = f"spotify-ops preflight --config {config_file}"
        if stack:
            command += f" --stack {stack}"
        return StackSource(name, config, region, command)
    if not stack:
        raise PreflightError(
            "no stack: pass --stack NAME (needs the pulumi CLI) or --config Pulumi.<stack>.yaml"
        )
    values = parse_pulumi_config(_pulumi_config(stack), f"stack {stack!r} config")
    config, region = _validated(stack, values, f"stack {stack!r}")
    return StackSource(stack, config, region, f"spotify-ops preflight --stack {stack}")


def _pulumi_config(stack: str) -> str:
    """Never ``--show-secrets``: preflight needs no secret."""
    instead = f"pass --config Pulumi.{stack}.yaml"
    return run_pulumi(["config", "--json", "--stack", stack], instead)


def _pulumi_outputs(stack: str) -> str:
    instead = (
        f"pass --outputs FILE written by `pulumi stack output --json --stack {stack} > o.json`"
    )
    return run_pulumi(pulumi_output_args(stack), instead)


def read_outputs(
    stack: str | None, config_file: str | None, outputs_file: str | None
) -> dict[str, Any]:
    """The stack's outputs as exported, or {} when it has none yet (before the first up).

    With ``--config`` preflight works offline: outputs come from ``--outputs FILE`` only."""
    if outputs_file:
        try:
            text = Path(outputs_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise OutputsError(f"cannot read outputs file {outputs_file!r}: {exc}") from None
        source = f"outputs file {outputs_file!r}"
    elif stack and not config_file:
        text, source = _pulumi_outputs(stack), f"stack {stack!r} outputs"
    else:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise OutputsError(f"{source} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise OutputsError(
            f"{source} must be a JSON object, as `pulumi stack output --json` writes"
        )
    return data
