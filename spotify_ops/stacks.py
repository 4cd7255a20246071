"""`spotify-ops stack-config`: the config file of a new environment or pull-request review stack.

A new stack starts from the config of a stack named with ``--from`` (``Pulumi.<from>.yaml``;
there is no default, so the source is always explicit) and changes only the keys its kind
requires, so environments differ by config alone:

- review stacks ``pr-<number>`` are ephemeral: force-destroy, sample data, short retention,
  the smallest job, no customer-managed key (its deletion waits 7-30 days), no QuickSight,
  no schedule;
- ``prod`` keeps its data: protectData on, forceDestroy and sample data off;
- any other environment (``staging``, ``perf``...) is a long-lived copy of the base without
  sample data.

The result is validated by the program's own config loader before it is printed or written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final

import typer
import yaml

from infra.config import NAMESPACE, ConfigError, load_stack_config
from spotify_ops.exit_codes import ExitCode
from spotify_ops.preflight_stack import (
    PreflightError,
    read_config_file,
    stack_file_name,
    stack_file_path,
    stack_of_file,
)

MAX_STACK_NAME_LENGTH: Final = 20
"""The stack name is the default environment, which prefixes every physical resource name."""

_STACK_NAME_RE: Final = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
_REVIEW_RE: Final = re.compile(r"^pr-([1-9][0-9]*)$")

NAMING_RULES: Final = (
    "stack names start with a lowercase letter, then lowercase letters, digits and inner "
    f"hyphens, at most {MAX_STACK_NAME_LENGTH} characters; names starting with 'pr-' are "
    "review stacks and must be pr-<pull request number>, e.g. pr-42"
)


class StackNameError(ValueError):
    """A stack name breaks the naming rules."""


class StackConfigError(ValueError):
    """The base config cannot be read or the new config is not valid."""


class StackKind(StrEnum):
    REVIEW = "review"
    PROD = "prod"
    ENVIRONMENT = "environment"


def stack_kind(name: str) -> StackKind:
    """Validate ``name`` against the naming rules and say what kind of stack it is."""
    if len(name) > MAX_STACK_NAME_LENGTH:
        raise StackNameError(
            f"stack name {name!r} is {len(name)} characters; the limit is "
            f"{MAX_STACK_NAME_LENGTH} because the name prefixes every AWS resource name "
            f"({NAMING_RULES})"
        )
    if name.startswith("pr-"):
        if not _REVIEW_RE.fullmatch(name):
            raise StackNameError(
                f"stack name {name!r} starts with 'pr-', which is reserved for review stacks: "
                "use pr-<pull request number> with no leading zeros, e.g. pr-42"
            )
        return StackKind.REVIEW
    if not _STACK_NAME_RE.fullmatch(name):
        raise StackNameError(f"stack name {name!r} is not allowed: {NAMING_RULES}")
    if name == "prod":
        return StackKind.PROD
    return StackKind.ENVIRONMENT


def review_stack_name(pull_request: int) -> str:
    if pull_request < 1:
        raise StackNameError(f"pull request number {pull_request} must be 1 or more")
    return f"pr-{pull_request}"


REVIEW_SETTINGS: Final[Mapping[str, Any]] = {
    "forceDestroy": True,
    "uploadSampleData": True,
    "protectData": False,
    "customerManagedKey": False,
    "quicksightEnabled": False,
    "workerType": "G.1X",
    "numberOfWorkers": 2,
    "athenaResultsRetentionDays": 1,
    "tempRetentionDays": 1,
    "sparkUiLogRetentionDays": 1,
    "noncurrentVersionRetentionDays": 1,
}
REVIEW_REMOVED: Final = ("schedule", "quicksightPrincipals")
"""Review stacks run on demand (verify --run) and have no dashboards."""

PROD_SETTINGS: Final[Mapping[str, Any]] = {
    "protectData": True,
    "forceDestroy": False,
    "uploadSampleData": False,
}
ENVIRONMENT_SETTINGS: Final[Mapping[str, Any]] = {
    "forceDestroy": False,
    "uploadSampleData": False,
}


@dataclass(frozen=True)
class StackConfigFile:
    stack: str
    kind: StackKind
    base: str
    config: dict[str, Any]
    """Fully qualified keys (``aws:region``, ``spotify-pipeline:forceDestroy``) to values."""
    changed: tuple[str, ...]
    """Qualified keys whose value differs from the base (added, changed or removed)."""
    secrets: dict[str, list[str]]
    """Keys of the base that hold secrets and so are not copied (each stack encrypts its
    own), each with its secrets as ``pulumi config set --path`` names them."""

    @property
    def skipped_secrets(self) -> tuple[str, ...]:
        return tuple(self.secrets)

    def secret_hints(self) -> list[str]:
        return [f"{key}: {secret_hint(key, paths)}" for key, paths in self.secrets.items()]

    def render(self) -> str:
        header = (
            f"# {self.kind} stack {self.stack}: made by "
            f"`spotify-ops stack-config {self.stack} --from {self.base}`\n"
        )
        if self.skipped_secrets:
            header += "# not copied, they hold secrets; set them for this stack:\n"
            header += "".join(f"#   {hint}\n" for hint in self.secret_hints())
        body: str = yaml.safe_dump({"config": self.config}, sort_keys=False)
        return header + body


def _qualified(key: str) -> str:
    return f"{NAMESPACE}:{key}"


def stack_files(project_dir: Path) -> list[str]:
    """The stacks that have a ``Pulumi.<stack>.yaml`` in ``project_dir``, sorted."""
    names = (stack_of_file(path.name) for path in project_dir.glob("Pulumi.*.y*ml"))
    return sorted(name for name in names if name is not None)


def _choices(project_dir: Path) -> str:
    stacks = stack_files(project_dir)
    if not stacks:
        return f"there is no Pulumi.<stack>.yaml in {project_dir}; pass --project-dir"
    return "one of: " + ", ".join(stacks)


def read_base_config(project_dir: Path, base: str) -> dict[str, Any]:
    """The config of the source stack ``base`` (``--from``), from its stack file."""
    path = stack_file_path(project_dir, base)
    if "/" in base or "\\" in base or not path.is_file():
        raise StackConfigError(
            f"--from {base}: no stack file {stack_file_name(base)} in {project_dir}; "
            f"--from takes an existing stack, {_choices(project_dir)}"
        )
    try:
        return read_config_file(path)
    except PreflightError as error:  # preflight --config reads the same files
        raise StackConfigError(f"--from {base}: {error}") from None


def build_stack_config(
    stack: str,
    base_config: Mapping[str, Any],
    base: str,
    protect: bool | None = None,
) -> StackConfigFile:
    """The config of ``stack``: ``base_config`` (stack ``base``'s) with the settings its kind
    requires.

    ``protect`` turns protectData on or off for a plain environment (review stacks are never
    protected and prod always is).
    """
    kind = stack_kind(stack)
    if stack == base:
        raise StackConfigError(
            f"stack {stack!r} cannot be made from itself; pass another stack with --from"
        )
    if protect is not None and kind is not StackKind.ENVIRONMENT:
        raise StackConfigError(
            f"--protect/--no-protect only applies to plain environments; {kind} stacks are "
            + ("always protected" if kind is StackKind.PROD else "never protected")
        )

    secrets = {
        key: paths for key, value in base_config.items() if (paths := secret_paths(key, value))
    }
    config = {k: v for k, v in base_config.items() if k not in secrets}

    settings: dict[str, Any] = {"environment": stack}
    removed: tuple[str, ...] = ()
    if kind is StackKind.REVIEW:
        settings |= REVIEW_SETTINGS
        removed = REVIEW_REMOVED
    elif kind is StackKind.PROD:
        settings |= PROD_SETTINGS
    else:
        settings |= ENVIRONMENT_SETTINGS
        if protect is not None:
            settings["protectData"] = protect

    for key in removed:
        config.pop(_qualified(key), None)
    for key, value in settings.items():
        config[_qualified(key)] = value

    changed = tuple(
        key
        for key in dict.fromkeys([*base_config, *config])
        if key not in secrets and base_config.get(key) != config.get(key)
    )
    _validate(stack, config)
    return StackConfigFile(stack, kind, base, config, changed, secrets)


def secret_paths(key: str, value: object) -> list[str]:
    """Where a config value holds ``secure:`` values (ciphertext of the source stack's key,
    which the new stack cannot decrypt), as ``pulumi config set --path`` names them: the key
    itself, or paths inside a structured value such as ``aws:assumeRoles[0].externalId``."""
    if isinstance(value, Mapping):
        if "secure" in value:
            return [key]
        return [p for k, v in value.items() for p in secret_paths(f"{key}.{k}", v)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in secret_paths(f"{key}[{i}]", v)]
    return []


def secret_hint(key: str, paths: list[str]) -> str:
    """How to set a secret-holding key for the new stack."""
    if paths == [key]:
        return f"`pulumi config set --secret {key} ...`"
    secrets = ", ".join(f"`pulumi config set --path --secret '{p}' ...`" for p in paths)
    return f"`pulumi config set --path` for each of its values, with {secrets}"


def _validate(stack: str, config: Mapping[str, Any]) -> None:
    prefix = f"{NAMESPACE}:"
    values = {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}
    try:
        load_stack_config(stack, values)
    except ConfigError as error:
        raise StackConfigError(f"the config for {stack} would not deploy: {error}") from None


def find_project_dir(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise StackConfigError(
        f"no Pulumi.yaml in {start} or above; run from the project or pass --project-dir"
    )


def write_stack_config(project_dir: Path, file: StackConfigFile, force: bool = False) -> Path:
    path = stack_file_path(project_dir, file.stack)
    if path.exists() and not force:
        raise StackConfigError(
            f"{path.name} already exists; edit it with `pulumi config set`, or pass --force "
            "to replace it"
        )
    try:
        path.write_text(file.render(), encoding="utf-8")
    except OSError as error:
        raise StackConfigError(
            f"cannot write {path}: {error.strerror or error}; run it in a project folder you "
            "can write to, or leave out --write to print the config"
        ) from None
    return path


def stack_config_command(
    stack: Annotated[str, typer.Argument(help="New stack: an environment name or pr-<number>.")],
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Required: the stack whose Pulumi.<stack>.yaml the new config starts from, "
            "e.g. dev.",
        ),
    ] = None,
    protect: Annotated[
        bool | None,
        typer.Option(
            "--protect/--no-protect",
            help="Plain environments only: protect the data buckets and database.",
        ),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Write Pulumi.<stack>.yaml instead of printing it.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --write: replace an existing file.")
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option(help="Folder holding Pulumi.yaml (default: found from the current one)."),
    ] = None,
) -> None:
    """Print or write the config of a new environment or review stack, made from --from's.

    The new stack's name says which: an environment name, or pr-<number> for a pull request."""
    try:
        stack_kind(stack)
        folder = project_dir if project_dir is not None else find_project_dir(Path.cwd())
        if source is None:
            raise StackConfigError(
                f"say which stack's config {stack} starts from with --from <stack>, "
                f"{_choices(folder)}"
            )
        file = build_stack_config(stack, read_base_config(folder, source), source, protect)
        if write:
            path = write_stack_config(folder, file, force)
    except (StackNameError, StackConfigError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    if not write:
        typer.echo(file.render(), nl=False)
        return
    typer.echo(
        f"wrote {path.name} ({file.kind} stack, from {stack_file_path(folder, source).name})"
    )
    typer.echo(f"differs from {source} in: {', '.join(file.changed) or 'nothing'}")
    for hint in file.secret_hints():
        typer.echo(f"not copied (holds a secret): {hint}")
