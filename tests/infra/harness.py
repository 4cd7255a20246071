"""Run the whole Pulumi program under ``pulumi.runtime.set_mocks`` and record what it declares.

``run_program(stack, config, preview)`` returns one :class:`RecordedResource` per registered
resource (components included), with the wire-format (camelCase) inputs the engine would
receive and the ``protect`` / ``retain_on_delete`` options as sent in the registration
request. ``run_stack`` also returns the resolved stack outputs.

Every run happens in a copied ``contextvars`` context, so Pulumi's settings, config and root
stack of the caller are untouched afterwards.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import threading
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
import yaml

with warnings.catch_warnings():
    # pulumi_aws warns at import about its own deprecated classes (e.g. BucketV2 aliases);
    # import the modules the program uses once, quietly, so pytest's error filter stays strict.
    warnings.filterwarnings("ignore", ".* has been deprecated in favor of ", DeprecationWarning)
    import pulumi_aws

    # Submodules load lazily, on first attribute access: touch one class in each.
    _ = (
        pulumi_aws.athena.Workgroup,
        pulumi_aws.glue.Job,
        pulumi_aws.iam.Role,
        pulumi_aws.kms.Key,
        pulumi_aws.quicksight.DataSource,
        pulumi_aws.s3.Bucket,
    )
    import pulumi_aws_native

    _native = (pulumi_aws_native.Provider, pulumi_aws_native.quicksight.Dashboard)
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import CONFIG

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
PROJECT: Final = "spotify-pipeline"
ACCOUNT_ID: Final = "123456789012"
DEFAULT_REGION: Final = "eu-west-1"
PARTITION: Final = "aws"


@dataclass(frozen=True)
class RecordedResource:
    type: str
    """Resource type token, e.g. ``aws:s3/bucket:Bucket`` or ``spotify:storage:Storage``."""
    name: str
    """Logical name."""
    urn: str
    inputs: dict[str, Any]
    """Wire-format (camelCase) input properties; unknowns in preview are ``Unknown``."""
    protect: bool
    retain_on_delete: bool
    parent_urn: str | None
    ignore_changes: tuple[str, ...] = ()
    """Property paths Pulumi keeps from state on update, as sent at registration."""
    dependencies: tuple[str, ...] = ()
    """URNs Pulumi creates before this resource: ``depends_on`` and the resources whose
    outputs its inputs hold."""


@dataclass(frozen=True)
class ProgramRun:
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    """Exported stack outputs, resolved; unknown ones are ``UNKNOWN_OUTPUT`` in preview."""
    calls: list[str] = field(default_factory=list)
    """Provider function tokens the program invoked."""
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What the mocks returned per URN: inputs plus computed ids, ARNs and autonames."""

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]


UNKNOWN_OUTPUT: Final = "<unknown in preview>"


def is_unknown(value: Any) -> bool:
    """True for a value that preview leaves unknown, at any depth."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


def stack_config(stack: str) -> dict[str, str]:
    """The stack file's config (``Pulumi.<stack>.yaml``) as Pulumi passes it: strings, with
    structured values JSON-encoded."""
    path = REPO_ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    values: dict[str, Any] = document.get("config", {}) or {}
    return {key: _config_string(value) for key, value in values.items()}


def _config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _qualify(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


# --- Mocks -----------------------------------------------------------------------------------


def _suffix(name: str) -> str:
    """Deterministic stand-in for Pulumi's random autoname suffix."""
    return hashlib.sha256(name.encode()).hexdigest()[:7]


_AUTONAMED_PROPERTY: Final = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:glue/securityConfiguration:SecurityConfiguration": "name",
    "aws:glue/job:Job": "name",
    "aws:glue/crawler:Crawler": "name",
    "aws:glue/workflow:Workflow": "name",
    "aws:glue/trigger:Trigger": "name",
    "aws:glue/catalogDatabase:CatalogDatabase": "name",
    "aws:glue/catalogTable:CatalogTable": "name",
    "aws:athena/workgroup:Workgroup": "name",
    "aws:athena/namedQuery:NamedQuery": "name",
    "aws:quicksight/dataSource:DataSource": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
}


class PipelineMocks(pulumi_mocks.Mocks):
    """Realistic mocks: physical names, ids and ARNs as AWS shapes them."""

    def __init__(self, region: str, preview: bool) -> None:
        self.region = region
        self.preview = preview
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def _arn(self, type_token: str, physical: str, state: dict[str, Any]) -> str:
        service = type_token.split(":")[1].split("/")[0]
        base = f"arn:{PARTITION}:{service}:{self.region}:{ACCOUNT_ID}"
        match type_token:
            case "aws:s3/bucket:Bucket":
                return f"arn:{PARTITION}:s3:::{physical}"
            case "aws:iam/role:Role":
                return f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{physical}"
            case "aws:kms/key:Key":
                return f"{base}:key/{state['keyId']}"
            case "aws:kms/alias:Alias":
                return f"{base}:{physical}"
            case "aws:glue/catalogDatabase:CatalogDatabase":
                return f"{base}:database/{physical}"
            case "aws:glue/catalogTable:CatalogTable":
                return f"{base}:table/{state.get('databaseName')}/{physical}"
            case "aws:quicksight/dataSource:DataSource":
                return f"{base}:datasource/{state.get('dataSourceId')}"
            case "aws:quicksight/dataSet:DataSet":
                return f"{base}:dataset/{state.get('dataSetId')}"
            case "aws-native:quicksight:Dashboard":
                return f"{base}:dashboard/{state.get('dashboardId')}"
            case "aws:cloudwatch/eventRule:EventRule":
                return f"arn:{PARTITION}:events:{self.region}:{ACCOUNT_ID}:rule/{physical}"
        resource = type_token.rsplit(":", 1)[1].lower()
        return f"{base}:{resource}/{physical}"

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        _record_inputs(args)
        if not args.custom:
            return "", {}
        state = {k: v for k, v in args.inputs.items() if not is_unknown(v)}
        name_property = _AUTONAMED_PROPERTY.get(args.typ)
        physical = args.name
        if name_property is not None:
            # The provider's check step fills autonames, so they are known in preview too.
            physical = state.get(name_property) or f"{args.name}-{_suffix(args.name)}"
            state[name_property] = physical
        if self.preview:
            return "", state
        if args.typ == "aws:kms/key:Key":
            state["keyId"] = str(uuid.UUID(hashlib.md5(args.name.encode()).hexdigest()))
            physical = state["keyId"]
        if args.typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            physical = str(state.get("key"))
            state["versionId"] = _suffix(physical)
        state.setdefault("arn", self._arn(args.typ, physical, state))
        state["id"] = physical
        return physical, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        with self._lock:
            self.calls.append(args.token)
        match args.token:
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    "accountId": ACCOUNT_ID,
                    "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/deployer",
                    "userId": "AIDAEXAMPLEDEPLOYER",
                    "id": ACCOUNT_ID,
                }, []
            case "aws:index/getRegion:getRegion":
                return {
                    "name": self.region,
                    "region": self.region,
                    "id": self.region,
                    "endpoint": f"ec2.{self.region}.amazonaws.com",
                    "description": self.region,
                }, []
            case "aws:index/getPartition:getPartition":
                return {
                    "partition": PARTITION,
                    "id": PARTITION,
                    "dnsSuffix": "amazonaws.com",
                    "reverseDnsPrefix": "com.amazonaws",
                }, []
        raise NotImplementedError(f"the mocks do not answer {args.token}; add it to PipelineMocks")


# --- Recording the registration requests -------------------------------------------------------

_pending = threading.local()


def _record_inputs(args: pulumi_mocks.MockResourceArgs) -> None:
    _pending.inputs = dict(args.inputs)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps each registration's options (protect, retainOnDelete, parent) with its inputs."""

    def __init__(self, mocks: PipelineMocks) -> None:
        super().__init__(mocks)
        self.records: list[RecordedResource] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        _pending.inputs = None
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        record = RecordedResource(
            type=request.type,
            name=request.name,
            urn=response.urn,
            inputs=_pending.inputs or {},
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            parent_urn=request.parent or None,
            ignore_changes=tuple(request.ignoreChanges),
            dependencies=tuple(request.dependencies),
        )
        with self._lock:
            self.records.append(record)
        return response


# --- Running ---------------------------------------------------------------------------------


def _default_program() -> None:
    from infra.program import main

    main()


async def _settle(exported: Mapping[str, Any], into: dict[str, Any]) -> None:
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        into[key] = await output.future() if await output.is_known() else UNKNOWN_OUTPUT


def _run(
    stack: str,
    config: Mapping[str, str] | None,
    preview: bool,
    program: Callable[[], None],
) -> ProgramRun:
    values = {_qualify(k): v for k, v in {**stack_config(stack), **(config or {})}.items()}
    region = values.get("aws:region", DEFAULT_REGION)
    mocks = PipelineMocks(region=region, preview=preview)
    monitor = RecordingMonitor(mocks)

    pulumi_settings.ROOT.set(None)
    CONFIG.set({})
    for key, value in values.items():
        pulumi.runtime.set_config(key, value)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)

    outputs: dict[str, Any] = {}

    def body() -> Any:
        program()
        root = pulumi_settings.get_root_resource()
        return asyncio.ensure_future(_settle(getattr(root, "outputs", {}), outputs))

    pulumi_mocks.test(body)()  # type: ignore[no-untyped-call]
    return ProgramRun(
        resources=sorted(monitor.records, key=lambda r: r.urn),
        outputs=outputs,
        calls=list(mocks.calls),
        states={urn: dict(reg.state) for urn, reg in monitor.get_registered_resources().items()},
    )


def run_stack(
    stack: str = "dev",
    config: Mapping[str, str] | None = None,
    preview: bool = False,
    program: Callable[[], None] | None = None,
) -> ProgramRun:
    """Run ``program`` (the real ``infra.program.main`` by default) for ``stack``.

    Config is the stack file's ``config:`` overlaid with ``config``; bare keys belong to the
    ``spotify-pipeline`` namespace, qualified ones (``aws:region``) are passed as given.
    """
    context = contextvars.copy_context()
    return context.run(_run, stack, config, preview, program or _default_program)


def run_program(
    stack: str = "dev",
    config: Mapping[str, str] | None = None,
    preview: bool = False,
) -> list[RecordedResource]:
    """Every resource the program declares for ``stack``, as the mocks received it."""
    return run_stack(stack, config, preview).resources
