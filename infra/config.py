"""Typed per-stack configuration, validated before any resource is declared.

The loader is pure: it takes the raw values (a mapping, or anything with a ``get(key)`` such as
``pulumi.Config``) and returns a frozen :class:`StackConfig`, or raises :class:`ConfigError`
naming the key, the value and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol, TypeVar

from spotify_glue.gate import DEFAULT_GATE, GateError, GateThresholds

from infra import cron, quicksight_refresh
from infra import quicksight_definition as quicksight

NAMESPACE: Final = "spotify-pipeline"
"""The Pulumi project name, used as the config namespace (``spotify-pipeline:<key>``)."""

GLUE_VERSIONS: Final = ("5.0",)
"""The job script is proven on Spark 3.5 (Glue 5.0) only; Glue's own list is in its docs
(https://docs.aws.amazon.com/glue/latest/dg/release-notes.html)."""

WORKER_TYPES: Final = ("G.1X", "G.2X", "G.4X", "G.8X")

MIN_WORKERS: Final = 2
"""A Spark job needs a driver and at least one executor, one per worker."""
MAX_WORKERS: Final[dict[str, int]] = {"G.1X": 299, "G.2X": 149}
"""Glue's documented maximum number of workers per worker type ("Number of workers",
https://docs.aws.amazon.com/glue/latest/dg/add-job.html). G.4X and G.8X have no documented
fixed maximum: the account's DPU quota bounds them."""
FLEX_WORKER_TYPES: Final = ("G.1X", "G.2X")
"""Flexible job runs are supported for Glue 3.0+ Spark jobs on G.1X or G.2X workers
(https://docs.aws.amazon.com/glue/latest/dg/add-job.html, "Job execution class")."""

ON_ARRIVAL: Final = "on-arrival"
"""``schedule`` value: start the workflow when the source files land in the staging folder."""
GLUE_CRON_DOC: Final = (
    "https://docs.aws.amazon.com/glue/latest/dg/monitor-data-warehouse-schedule.html"
)

MIN_BYTES_SCANNED_CUTOFF: Final = 10_000_000
"""Athena's own lower bound for a workgroup's bytes-scanned cutoff: 10 MB, not 10 MiB
(Athena API Reference, ``WorkGroupConfiguration.BytesScannedCutoffPerQuery``)."""

PROD_ENVIRONMENT: Final = "prod"

_ENVIRONMENT_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_MAX_ENVIRONMENT_LENGTH: Final = 20
_REVIEW_STACK_RE: Final = re.compile(r"^pr-[0-9]+$")
_OTHER_ROLES_PREFIXES: Final = ("dev-", f"{PROD_ENVIRONMENT}-")
"""An environment named so would get names under the dev or prod CI role's patterns."""
_QUICKSIGHT_PRINCIPAL_RE: Final = re.compile(
    r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:[0-9]{12}:(user|group)/\S+$"
)
"""Users and groups only: QuickSight grants a data source or data set to a user or group, a
namespace only an analysis, dashboard, template or theme (QuickSight API Reference,
``ResourcePermission.Principal``), and the principals get all three resources."""

GATE_KEYS: Final[dict[str, str]] = {
    "min_rows": "gateMinRows",
    "max_quarantine_rate": "gateMaxQuarantineRate",
    "max_join_loss_rate": "gateMaxJoinLossRate",
}
"""Stack config key of each gate threshold."""

KNOWN_KEYS: Final = frozenset(
    {
        "environment",
        "glueVersion",
        "workerType",
        "numberOfWorkers",
        "timeoutMinutes",
        "maxRetries",
        "flexExecution",
        "schedule",
        "athenaBytesScannedCutoff",
        "athenaResultsRetentionDays",
        "tempRetentionDays",
        "sparkUiLogRetentionDays",
        "noncurrentVersionRetentionDays",
        "customerManagedKey",
        "quicksightEnabled",
        "quicksightPrincipals",
        "quicksightAccess",
        "quicksightImportMode",
        "protectData",
        "forceDestroy",
        "uploadSampleData",
        *GATE_KEYS.values(),
    }
)


class ConfigError(ValueError):
    """A stack config value is missing, malformed or out of range."""


class ConfigGetter(Protocol):
    """Anything that answers ``get(key)`` with the raw value or None, e.g. ``pulumi.Config``."""

    def get(self, key: str, /) -> Any: ...


@dataclass(frozen=True)
class StackConfig:
    """Everything that varies between stacks, validated."""

    stack: str
    """The Pulumi stack name (dev, prod, pr-123, ...)."""
    environment: str
    """Name suffix for every physical name; lowercase letters, digits, hyphens, <= 20 chars."""
    glue_version: str = "5.0"
    worker_type: str = "G.1X"
    number_of_workers: int = 3
    timeout_minutes: int = 30
    max_retries: int = 1
    flex_execution: bool = False
    """Run the job in Glue's FLEX execution class (cheaper, may start later)."""
    schedule: str | None = None
    """Glue cron expression for the workflow's start trigger; None: on demand or on arrival."""
    run_on_arrival: bool = False
    """Start the workflow when the source files land in staging (``schedule: on-arrival``)."""
    athena_bytes_scanned_cutoff: int = 1024 * 1024 * 1024
    athena_results_retention_days: int = 30
    temp_retention_days: int = 7
    spark_ui_log_retention_days: int = 30
    """Days the job's Spark UI event logs are kept (one set per run, written every 30 s)."""
    noncurrent_version_retention_days: int = 30
    customer_managed_key: bool = False
    """Encrypt buckets, Glue and Athena with one KMS key of the stack instead of AWS keys."""
    quicksight_enabled: bool = False
    quicksight_principals: tuple[str, ...] = ()
    """QuickSight user or group ARNs given access to the data source, data set and dashboard."""
    quicksight_access: quicksight.Access = "owner"
    """What the principals may do: what the QuickSight console grants owners, or viewers."""
    quicksight_import_mode: quicksight.ImportMode = "SPICE"
    quicksight_refresh: quicksight_refresh.RefreshTiming | None = None
    """With SPICE on a scheduled or on-arrival stack: when SPICE re-reads the table."""
    protect_data: bool = False
    """Protect data buckets and the database from deletion (default on in prod)."""
    force_destroy: bool = False
    """Let ``pulumi destroy`` empty buckets first (ephemeral stacks)."""
    upload_sample_data: bool = False
    """Upload data/sample/*.csv to the staging prefix."""
    gate: GateThresholds = DEFAULT_GATE

    @property
    def is_prod(self) -> bool:
        return self.environment == PROD_ENVIRONMENT


def is_review_stack(stack: str) -> bool:
    """Pull-request review stacks are named ``pr-<number>`` and are ephemeral."""
    return _REVIEW_STACK_RE.fullmatch(stack) is not None


def _key(key: str) -> str:
    return f"{NAMESPACE}:{key}"


def _reject(key: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{_key(key)} = {value!r} is not allowed; {allowed}")


_T = TypeVar("_T")


class _Reader:
    """Reads one raw value per key and turns it into a typed one, or a ConfigError."""

    def __init__(self, source: Mapping[str, Any] | ConfigGetter) -> None:
        self._source = source

    def raw(self, key: str) -> Any:
        value = self._source.get(key)
        # Pulumi passes unset structured values as None and set ones as strings.
        if isinstance(value, str) and value.strip() == "":
            return None
        return value

    def _parse(self, key: str, default: _T, parse: Callable[[Any], _T]) -> _T:
        value = self.raw(key)
        return default if value is None else parse(value)

    def boolean(self, key: str, default: bool) -> bool:
        def parse(value: Any) -> bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "false"):
                return text == "true"
            raise _reject(key, value, "use true or false")

        return self._parse(key, default, parse)

    def integer(self, key: str, default: int, low: int, high: int | None = None) -> int:
        allowed = f"use a whole number >= {low}" if high is None else f"use {low}..{high}"

        def parse(value: Any) -> int:
            if isinstance(value, bool):
                raise _reject(key, value, allowed)
            if isinstance(value, int):
                number = value
            else:
                text = str(value).strip()
                if not re.fullmatch(r"[+-]?[0-9]+", text):
                    raise _reject(key, value, allowed)
                number = int(text)
            if number < low or (high is not None and number > high):
                raise _reject(key, value, allowed)
            return number

        return self._parse(key, default, parse)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        def parse(value: Any) -> str:
            text = str(value).strip()
            if text not in choices:
                raise _reject(key, value, f"use one of {', '.join(choices)}")
            return text

        return self._parse(key, default, parse)

    def string_list(self, key: str) -> tuple[str, ...]:
        allowed = 'use a list of strings, e.g. ["arn:aws:quicksight:..."]'

        def parse(value: Any) -> tuple[str, ...]:
            items: Any = value
            if isinstance(value, str):
                try:
                    items = json.loads(value)
                except json.JSONDecodeError:
                    raise _reject(key, value, allowed) from None
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise _reject(key, value, allowed)
            return tuple(items)

        return self._parse(key, (), parse)


def _environment(reader: _Reader, stack: str) -> str:
    value = reader.raw("environment")
    environment = stack if value is None else str(value)
    allowed = (
        f"use lowercase letters, digits and inner hyphens, at most {_MAX_ENVIRONMENT_LENGTH}"
        " characters"
    )
    if value is None:
        allowed += f" (it defaults to the stack name {stack!r}; set {_key('environment')})"
    if len(environment) > _MAX_ENVIRONMENT_LENGTH or not _ENVIRONMENT_RE.fullmatch(environment):
        raise _reject("environment", environment, allowed)
    review = _REVIEW_STACK_RE.fullmatch(stack) is not None
    if (
        environment == "pr"
        or environment.startswith(_OTHER_ROLES_PREFIXES)
        or (environment.startswith("pr-") and not review)
    ):
        raise _reject(
            "environment",
            environment,
            "it prefixes every resource name, and spotify-pr-*, spotify-dev-* and"
            " spotify-prod-* names belong to the CI roles of review stacks, dev and prod"
            " (docs/stack-management.md, Names); choose another, e.g. staging",
        )
    return environment


def _schedule(reader: _Reader) -> tuple[str | None, bool]:
    """(Glue cron or None, run on arrival)."""
    value = reader.raw("schedule")
    if value is None:
        return None, False
    text = str(value).strip()
    if text == ON_ARRIVAL:
        return None, True
    problem = cron.problem(text)
    if problem is not None:
        raise _reject(
            "schedule",
            value,
            f"{problem}; use a Glue cron expression, e.g. cron(0 6 * * ? *) (see"
            f" {GLUE_CRON_DOC}), {ON_ARRIVAL!r}, or leave it empty to run on demand",
        )
    return text, False


def _workers(reader: _Reader, worker_type: str, default: int) -> int:
    high = MAX_WORKERS.get(worker_type)
    count = reader.integer("numberOfWorkers", default, MIN_WORKERS)
    if high is not None and count > high:
        raise ConfigError(
            f"{_key('numberOfWorkers')} = {count} is not allowed for"
            f" {_key('workerType')} = {worker_type!r}; use {MIN_WORKERS}..{high} (Glue's"
            " maximum for that worker type), or a larger worker type"
        )
    return count


def _flex(reader: _Reader, worker_type: str, default: bool) -> bool:
    flex = reader.boolean("flexExecution", default)
    if flex and worker_type not in FLEX_WORKER_TYPES:
        raise ConfigError(
            f"{_key('flexExecution')} = true is not allowed with {_key('workerType')} ="
            f" {worker_type!r}; Glue runs FLEX jobs on {' or '.join(FLEX_WORKER_TYPES)} only,"
            " so pick one of those or set flexExecution false"
        )
    return flex


def _principals(reader: _Reader, enabled: bool) -> tuple[str, ...]:
    principals = reader.string_list("quicksightPrincipals")
    for principal in principals:
        if ":namespace/" in principal:
            raise _reject(
                "quicksightPrincipals",
                principal,
                "QuickSight shares a data source or data set with users and groups, not with a"
                " namespace; list a group of that namespace's users instead, e.g."
                " arn:aws:quicksight:us-east-1:123456789012:group/default/analysts",
            )
        if not _QUICKSIGHT_PRINCIPAL_RE.fullmatch(principal):
            raise _reject(
                "quicksightPrincipals",
                principal,
                "use QuickSight user or group ARNs, e.g."
                " arn:aws:quicksight:us-east-1:123456789012:group/default/analysts",
            )
    if enabled and not principals:
        raise ConfigError(
            f"{_key('quicksightEnabled')} is true but {_key('quicksightPrincipals')} is empty;"
            " list at least one QuickSight user or group ARN that may use the data source"
        )
    return principals


def load_stack_config(
    stack: str,
    source: Mapping[str, Any] | ConfigGetter,
    present_keys: Collection[str] | None = None,
) -> StackConfig:
    """Validate every key and build the stack's config.

    ``source`` maps bare key names (``workerType``) to raw values: strings as Pulumi passes
    them, or already-typed values. ``present_keys`` lists the keys that are set (a mapping's
    own keys when omitted), so a misspelt key is an error instead of silently ignored.
    """
    keys = (
        present_keys
        if present_keys is not None
        else (source.keys() if isinstance(source, Mapping) else ())
    )
    unknown = sorted(set(keys) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(_key(k) for k in unknown)}; "
            f"known keys are {', '.join(sorted(KNOWN_KEYS))}"
        )

    reader = _Reader(source)
    environment = _environment(reader, stack)
    review = is_review_stack(stack)
    default = StackConfig(stack=stack, environment=environment)

    protect_data = reader.boolean("protectData", environment == PROD_ENVIRONMENT)
    force_destroy = reader.boolean("forceDestroy", review)
    if protect_data and force_destroy:
        raise ConfigError(
            f"{_key('protectData')} and {_key('forceDestroy')} are both true; a protected"
            " stack keeps its data, so set forceDestroy false (or protectData false for an"
            " ephemeral stack)"
        )
    quicksight_enabled = reader.boolean("quicksightEnabled", default.quicksight_enabled)
    worker_type = reader.choice("workerType", default.worker_type, WORKER_TYPES)
    schedule, run_on_arrival = _schedule(reader)

    config = StackConfig(
        stack=stack,
        environment=environment,
        glue_version=reader.choice("glueVersion", default.glue_version, GLUE_VERSIONS),
        worker_type=worker_type,
        number_of_workers=_workers(reader, worker_type, default.number_of_workers),
        timeout_minutes=reader.integer("timeoutMinutes", default.timeout_minutes, 1, 2880),
        max_retries=reader.integer("maxRetries", default.max_retries, 0, 10),
        flex_execution=_flex(reader, worker_type, default.flex_execution),
        schedule=schedule,
        run_on_arrival=run_on_arrival,
        athena_bytes_scanned_cutoff=reader.integer(
            "athenaBytesScannedCutoff",
            default.athena_bytes_scanned_cutoff,
            MIN_BYTES_SCANNED_CUTOFF,
        ),
        athena_results_retention_days=reader.integer(
            "athenaResultsRetentionDays", default.athena_results_retention_days, 1
        ),
        temp_retention_days=reader.integer("tempRetentionDays", default.temp_retention_days, 1),
        spark_ui_log_retention_days=reader.integer(
            "sparkUiLogRetentionDays", default.spark_ui_log_retention_days, 1
        ),
        noncurrent_version_retention_days=reader.integer(
            "noncurrentVersionRetentionDays", default.noncurrent_version_retention_days, 1
        ),
        customer_managed_key=reader.boolean("customerManagedKey", default.customer_managed_key),
        quicksight_enabled=quicksight_enabled,
        quicksight_principals=_principals(reader, quicksight_enabled),
        protect_data=protect_data,
        force_destroy=force_destroy,
        upload_sample_data=reader.boolean("uploadSampleData", review),
        gate=_gate(reader),
    )
    return _with_quicksight(config, reader)


def _with_quicksight(config: StackConfig, reader: _Reader) -> StackConfig:
    """Access, import mode and, with SPICE, the refresh that follows the runs: after the
    longest a scheduled run can take (every attempt timing out), or hourly for runs that start
    when the data lands."""
    access: quicksight.Access = (
        "viewer"
        if reader.choice("quicksightAccess", "owner", quicksight.ACCESS_LEVELS) == "viewer"
        else "owner"
    )
    mode: quicksight.ImportMode = (
        "DIRECT_QUERY"
        if reader.choice("quicksightImportMode", "SPICE", quicksight.IMPORT_MODES) == "DIRECT_QUERY"
        else "SPICE"
    )
    refresh = None
    if config.quicksight_enabled and mode == "SPICE" and config.run_on_arrival:
        refresh = quicksight_refresh.HOURLY
    if config.quicksight_enabled and mode == "SPICE" and config.schedule is not None:
        minutes = config.timeout_minutes * (1 + config.max_retries)
        try:
            refresh = quicksight_refresh.refresh_after(config.schedule, minutes)
        except quicksight_refresh.RefreshScheduleError as error:
            raise ConfigError(
                f"{_key('schedule')} = {error}; or set {_key('quicksightImportMode')} to"
                " DIRECT_QUERY"
            ) from None
    return replace(
        config,
        quicksight_access=access,
        quicksight_import_mode=mode,
        quicksight_refresh=refresh,
    )


def _gate(reader: _Reader) -> GateThresholds:
    """The gate, validated by the contract's own rules (the job and verify use the same)."""
    try:
        return GateThresholds.parse(
            {name: reader.raw(key) for name, key in GATE_KEYS.items()},
            spelling=lambda name: _key(GATE_KEYS[name]),
        )
    except GateError as error:
        raise ConfigError(str(error)) from None
