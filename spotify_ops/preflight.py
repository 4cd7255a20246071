"""`spotify-ops preflight`: can this stack turn QuickSight on?

`pulumi up` creates the QuickSight data source last, after the buckets, the workgroup and the
key. When the account has no QuickSight subscription, or QuickSight's role cannot reach what
the data source queries, the update fails there, half applied, with AWS's raw error. Preflight
asks AWS the same questions before the update, from the stack's config, and prints one line
per failure with its fix. The checks are pure functions over boto3 clients; printing is the
command's last step.

Sources (AWS documentation; the docs/preflight.md page has the links):
- QuickSight reaches Athena and S3 as ``service-role/aws-quicksight-s3-consumers-role-v0``, or
  ``service-role/aws-quicksight-service-role-v0`` when that does not exist (QuickSight User
  Guide, "Insufficient permissions when using Athena with Amazon QuickSight");
- Athena reads the table and writes results with the caller's own S3 and Glue permissions
  (Athena User Guide, "Control access to Amazon S3 from Athena", "Configure access to databases
  and tables in the AWS Glue Data Catalog");
- reading or writing SSE-KMS objects needs kms:Decrypt and kms:GenerateDataKey on the key
  (S3 User Guide, "Using server-side encryption with AWS KMS keys").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import boto3
import typer
import yaml
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from spotify_glue.contract import TABLE_NAME

from infra import naming
from infra.config import NAMESPACE, ConfigError, StackConfig, load_stack_config
from infra.outputs import OutputKey
from spotify_ops.aws_runtime import (
    ACCESS_DENIED_CODES,
    ClientFactory,
    Runtime,
    classify_error,
    error_json,
    split_s3_uri,
)
from spotify_ops.exit_codes import ExitCode
from spotify_ops.polling import error_code, error_message
from spotify_ops.stack_outputs import RULES, OutputsError, pulumi_output_args, run_pulumi

QUICKSIGHT_ROLES: Final = (
    "aws-quicksight-s3-consumers-role-v0",
    "aws-quicksight-service-role-v0",
)
"""The roles QuickSight uses for Athena and S3, in its order: the first one that exists."""

ACTIVE_SUBSCRIPTION: Final = frozenset({"ACCOUNT_CREATED", "OK"})
"""AccountSubscriptionStatus values of a usable account. AWS does not document the values;
these are the ones the Terraform AWS provider waits for after creating a subscription."""

AUTONAME_SAMPLE: Final = "0000000"
"""Stands for the random suffix Pulumi appends to a bucket's name (seven hex digits), so a
stack that has not been deployed is checked on a name of the shape it will get."""

SAMPLE_KEY_ID: Final = "00000000-0000-0000-0000-000000000000"
"""Stands for the id of a stack key that does not exist yet."""

SAMPLE_RUN_ID: Final = "20240101T060000Z-0a1b2c3d"
"""Stands for the published run, whose folder the catalog table points at."""
SAMPLE_TABLE_FILE: Final = "part-00000.snappy.parquet"
"""A data file of the table, as Athena reads it."""
SAMPLE_RESULT_OBJECT: Final = f"{naming.RESULTS_PREFIX}11111111-2222-3333-4444-555555555555.csv"
"""A query result, as Athena writes it (named after the query id)."""

# What a QuickSight Athena data source needs, as AWS's examples grant it: the Athena actions
# of the AWSQuicksightAthenaAccess managed policy that run a query, and the S3 actions of the
# QuickSight User Guide's example policy ("Attaching additional policies") for a bucket read
# and for the query-results bucket written.
ATHENA_ACTIONS: Final = (
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
)
GLUE_DATABASE_ACTIONS: Final = ("glue:GetDatabase",)
GLUE_TABLE_ACTIONS: Final = ("glue:GetTable", "glue:GetPartitions")
READ_BUCKET_ACTIONS: Final = ("s3:ListBucket",)
READ_OBJECT_ACTIONS: Final = ("s3:GetObject",)
RESULTS_BUCKET_ACTIONS: Final = (
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:ListBucketMultipartUploads",
)
RESULTS_OBJECT_ACTIONS: Final = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
KEY_ACTIONS: Final = ("kms:Decrypt", "kms:GenerateDataKey")

PASS: Final = "pass"
FAIL: Final = "fail"
SKIP: Final = "skip"
Status = Literal["pass", "fail", "skip"]


class PreflightError(Exception):
    """Bad usage or an unreadable stack config (exit code 2)."""


# --- the stack: config and, once deployed, its outputs ----------------------------------------


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


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a ``Pulumi.<stack>.yaml`` file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise PreflightError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PreflightError(f"cannot read config file {str(path)!r}: {exc}") from None
    config = document.get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping):
        raise PreflightError(f"{str(path)!r} has no 'config:' mapping, as Pulumi.<stack>.yaml has")
    return dict(config)


_STACK_FILE_RE: Final = re.compile(r"^Pulumi\.(?P<stack>[^.]+)\.ya?ml$")


def load_stack_source(stack: str | None, config_file: str | None) -> StackSource:
    """The stack's validated config: from ``--config FILE``, else ``pulumi config --json``."""
    if config_file:
        path = Path(config_file)
        match = _STACK_FILE_RE.match(path.name)
        name = stack or (match.group("stack") if match else None)
        if name is None:
            raise PreflightError(
                f"cannot tell the stack from {path.name!r}; pass --stack NAME with --config"
            )
        config, region = _validated(name, read_config_file(path), repr(str(path)))
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


# --- what QuickSight must reach ------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    warehouse_bucket: str
    results_bucket: str
    deployed: bool
    """True: the stack's outputs name the buckets. False: not deployed yet, so the names are
    samples of the shape the first `pulumi up` will create."""


def stack_names(environment: str, outputs: Mapping[str, Any]) -> Names:
    """Bucket names from the outputs when the stack has them, else samples of their shape."""
    keys = (OutputKey.WAREHOUSE_BUCKET, OutputKey.RESULTS_LOCATION)
    if any(outputs.get(key.value) is None for key in keys):
        return Names(
            f"{naming.bucket_logical_name(environment, 'warehouse')}-{AUTONAME_SAMPLE}",
            f"{naming.bucket_logical_name(environment, 'results')}-{AUTONAME_SAMPLE}",
            deployed=False,
        )
    for key in keys:
        value = outputs[key.value]
        problem = RULES[key](value) if isinstance(value, str) else "is not a string"
        if problem is not None:
            raise OutputsError(f"stack output {key.value}: {problem}")
    warehouse = str(outputs[OutputKey.WAREHOUSE_BUCKET.value])
    results, _ = split_s3_uri(str(outputs[OutputKey.RESULTS_LOCATION.value]))
    return Names(warehouse, results, deployed=True)


@dataclass(frozen=True)
class Target:
    """The account and the stack's resources the QuickSight data source depends on."""

    account: str
    partition: str
    region: str
    config: StackConfig
    names: Names
    key_arn: str | None = None
    """The stack key's ARN when it exists; None before the first up or without a key."""

    @property
    def environment(self) -> str:
        return self.config.environment


@dataclass(frozen=True)
class Context:
    """One IAM request context key the real request carries."""

    key: str
    type: str
    values: tuple[str, ...]

    def entry(self) -> dict[str, Any]:
        return {
            "ContextKeyName": self.key,
            "ContextKeyType": self.type,
            "ContextKeyValues": list(self.values),
        }


@dataclass(frozen=True)
class Access:
    """Requests QuickSight's role must be allowed: simulated on ``resources``, granted by a
    policy on ``grant`` (the same ARNs, or patterns before the first up)."""

    check: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    grant: tuple[str, ...]
    context: tuple[Context, ...] = ()
    condition: Mapping[str, Any] | None = None
    """Condition of the printed policy statement (the key alias, before the key exists)."""


CHECK_PURPOSES: Final = {
    "athena-workgroup": "run queries in the stack's Athena workgroup",
    "glue-catalog": "read the table's definition from the Glue Data Catalog",
    "warehouse-read": "read the warehouse table's files",
    "results-read-write": "read and write Athena query results",
    "kms-key": "use the stack's customer-managed key",
}


def required_access(target: Target) -> list[Access]:
    """Every request QuickSight's role makes when it queries the stack's table, one entry per
    simulation (actions x resources that all must be allowed)."""
    p, region, account, env = target.partition, target.region, target.account, target.environment
    names = target.names
    secure = Context("aws:SecureTransport", "boolean", ("true",))
    # Athena calls S3 and Glue with the caller's credentials, as a service in its name.
    via_athena = Context("aws:CalledVia", "stringList", ("athena.amazonaws.com",))
    database = naming.database_name(env)
    catalog, database_arn = naming.glue_catalog_arns(p, region, account, database)[:2]
    table_arn = f"arn:{p}:glue:{region}:{account}:table/{database}/{TABLE_NAME}"
    workgroup = f"arn:{p}:athena:{region}:{account}:workgroup/{naming.workgroup_name(env)}"

    def bucket(name: str, kind: str) -> tuple[str, str]:
        """(simulated ARN, granted ARN) of a bucket."""
        arn = naming.bucket_arn(p, name)
        pattern = naming.bucket_arn(p, f"{naming.bucket_logical_name(env, kind)}-*")
        return arn, arn if names.deployed else pattern

    warehouse, warehouse_grant = bucket(names.warehouse_bucket, "warehouse")
    layout = naming.layout(names.warehouse_bucket)
    bucket_uri = naming.s3_uri(names.warehouse_bucket) + "/"
    run_folder = layout.table_location(SAMPLE_RUN_ID).removeprefix(bucket_uri)
    table_root = layout.table_root.removeprefix(bucket_uri)
    results, results_grant = bucket(names.results_bucket, "results")
    accesses = [
        Access("athena-workgroup", ATHENA_ACTIONS, (workgroup,), (workgroup,), (secure,)),
        Access(
            "glue-catalog",
            GLUE_DATABASE_ACTIONS,
            (catalog, database_arn),
            (catalog, database_arn),
            (secure, via_athena),
        ),
        Access(
            "glue-catalog",
            GLUE_TABLE_ACTIONS,
            (catalog, database_arn, table_arn),
            (catalog, database_arn, table_arn),
            (secure, via_athena),
        ),
        Access(
            "warehouse-read",
            READ_BUCKET_ACTIONS,
            (warehouse,),
            (warehouse_grant,),
            (secure, via_athena, Context("s3:prefix", "string", (run_folder,))),
        ),
        Access(
            "warehouse-read",
            READ_OBJECT_ACTIONS,
            (f"{warehouse}/{run_folder}{SAMPLE_TABLE_FILE}",),
            (f"{warehouse_grant}/{table_root}*",),
            (secure, via_athena),
        ),
        Access(
            "results-read-write",
            RESULTS_BUCKET_ACTIONS,
            (results,),
            (results_grant,),
            (secure, via_athena, Context("s3:prefix", "string", (naming.RESULTS_PREFIX,))),
        ),
        Access(
            "results-read-write",
            RESULTS_OBJECT_ACTIONS,
            (f"{results}/{SAMPLE_RESULT_OBJECT}",),
            (f"{results_grant}/{naming.RESULTS_PREFIX}*",),
            (secure, via_athena),
        ),
    ]
    if target.config.customer_managed_key:
        alias = naming.key_alias(env)
        key = target.key_arn or f"arn:{p}:kms:{region}:{account}:key/{SAMPLE_KEY_ID}"
        # Before the key exists, a policy can only name it by its alias.
        condition = (
            None if target.key_arn else {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}
        )
        accesses.append(
            Access(
                "kms-key",
                KEY_ACTIONS,
                (key,),
                (key if target.key_arn else f"arn:{p}:kms:{region}:{account}:key/*",),
                (
                    # S3 uses the key for Athena, on the role's behalf.
                    Context("kms:ViaService", "string", (f"s3.{region}.amazonaws.com",)),
                    Context("kms:CallerAccount", "string", (account,)),
                    Context("kms:ResourceAliases", "stringList", (alias,)),
                ),
                condition,
            )
        )
    return accesses


def role_policy(accesses: Iterable[Access]) -> dict[str, Any]:
    """The IAM policy that grants QuickSight's role every access (attach it to the role)."""
    statements: list[dict[str, Any]] = []
    for number, access in enumerate(accesses, start=1):
        sid = "".join(part.capitalize() for part in access.check.split("-")) + str(number)
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": list(access.actions),
            "Resource": list(access.grant),
        }
        if access.condition:
            statement["Condition"] = dict(access.condition)
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


# --- findings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass(frozen=True)
class Role:
    name: str
    arn: str


@dataclass
class Report:
    stack: str
    target: Target
    role: Role | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.failed for f in self.findings)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.FAILED


# --- the checks --------------------------------------------------------------------------------


def check_subscription(quicksight: Any, account: str, region: str) -> Finding:
    """The account has a QuickSight subscription in a usable state."""
    fix = (
        "sign up for QuickSight in this account (console: https://quicksight.aws.amazon.com, "
        f"Sign up), or `aws quicksight create-account-subscription --aws-account-id {account} "
        "--account-name NAME --notification-email EMAIL --authentication-method "
        f"IAM_AND_QUICKSIGHT --edition ENTERPRISE --region {region}`"
    )
    try:
        info = quicksight.describe_account_subscription(AwsAccountId=account)["AccountInfo"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return Finding(
                "subscription", FAIL, f"account {account} has no QuickSight subscription", fix
            )
        raise
    status = str(info.get("AccountSubscriptionStatus") or "")
    name = info.get("AccountName", "?")
    if status in ACTIVE_SUBSCRIPTION:
        edition = info.get("Edition", "")
        return Finding("subscription", PASS, f"QuickSight {edition} account {name!r} is {status}")
    if status == "SIGNUP_ATTEMPT_IN_PROGRESS":
        return Finding(
            "subscription",
            FAIL,
            f"QuickSight account {name!r} is still being created ({status})",
            "wait a few minutes for the signup to finish, then run preflight again",
        )
    return Finding(
        "subscription",
        FAIL,
        f"QuickSight account {name!r} is {status or 'in an unknown state'}, not active",
        fix,
    )


def find_role(iam: Any, names: Sequence[str]) -> Role | None:
    """The first of ``names`` that exists, as QuickSight picks its role."""
    for name in names:
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                continue
            raise
        return Role(str(role["RoleName"]), str(role["Arn"]))
    return None


@dataclass(frozen=True)
class Denial:
    action: str
    resource: str
    decision: str
    missing_context: tuple[str, ...] = ()


def simulate(iam: Any, role_arn: str, access: Access) -> list[Denial]:
    """Every (action, resource) of ``access`` that IAM does not allow the role.

    A pair IAM gives no answer for counts as denied, so a short answer cannot pass."""
    request: dict[str, Any] = {
        "PolicySourceArn": role_arn,
        "ActionNames": list(access.actions),
        "ResourceArns": list(access.resources),
    }
    if access.context:
        request["ContextEntries"] = [c.entry() for c in access.context]
    allowed: set[tuple[str, str]] = set()
    denials: list[Denial] = []
    for page in iam.get_paginator("simulate_principal_policy").paginate(**request):
        for result in page.get("EvaluationResults", []):
            action = str(result["EvalActionName"])
            per_resource = result.get("ResourceSpecificResults") or [
                {
                    "EvalResourceName": result.get("EvalResourceName", "*"),
                    "EvalResourceDecision": result["EvalDecision"],
                    "MissingContextValues": result.get("MissingContextValues", []),
                }
            ]
            for entry in per_resource:
                resource = str(entry["EvalResourceName"])
                decision = str(entry["EvalResourceDecision"])
                if decision == "allowed":
                    allowed.add((action, resource))
                else:
                    missing = tuple(entry.get("MissingContextValues") or ())
                    denials.append(Denial(action, resource, decision, missing))
    denied = {(d.action, d.resource) for d in denials}
    for action in access.actions:
        for resource in access.resources:
            if (action, resource) not in allowed and (action, resource) not in denied:
                denials.append(Denial(action, resource, "not evaluated"))
    return denials


def describe_denials(role: Role, denials: Sequence[Denial]) -> str:
    """One sentence: which actions on which resources, and why (grouped per resource)."""
    by_resource: dict[str, list[str]] = {}
    for denial in denials:
        by_resource.setdefault(denial.resource, []).append(denial.action)
    parts = [f"{', '.join(actions)} on {resource}" for resource, actions in by_resource.items()]
    decisions = sorted({d.decision for d in denials})
    text = f"role {role.name} may not {'; '.join(parts)} ({', '.join(decisions)}"
    missing = sorted({key for d in denials for key in d.missing_context})
    if missing:
        text += f"; its policies test {', '.join(missing)}, which preflight cannot know"
    if "explicitDeny" in decisions:
        text += "; a Deny statement, permissions boundary or SCP blocks it"
    return text + ")"


def policy_fix(role: Role, source_command: str, environment: str) -> str:
    return (
        f"`aws iam put-role-policy --role-name {role.name} --policy-name "
        f"{naming.resource_prefix(environment)}-quicksight --policy-document "
        f'"$({source_command} --policy)"`'
    )


def access_fix(check: str, role: Role, target: Target, command: str) -> str:
    """How to grant what a check found missing: QuickSight's console where it can, else the
    policy preflight prints."""
    policy = policy_fix(role, command, target.environment)
    names = target.names
    console = "QuickSight > Manage QuickSight > Security & permissions"
    if check in ("athena-workgroup", "glue-catalog"):
        return f"in {console}, tick Amazon Athena and save; or attach the stack's policy: {policy}"
    if check in ("warehouse-read", "results-read-write"):
        if not names.deployed:
            return (
                f"the buckets do not exist yet: attach a policy covering the names the first "
                f"up will create: {policy}; or deploy once with quicksightEnabled false, then "
                f"select the buckets in {console} > Amazon S3"
            )
        bucket = names.warehouse_bucket if check == "warehouse-read" else names.results_bucket
        write = (
            " and tick 'Write permission for Athena Workgroup'" if check != "warehouse-read" else ""
        )
        return f"in {console} > Amazon S3, select bucket {bucket}{write}; or {policy}"
    if target.key_arn:
        return (
            f"`aws kms create-grant --key-id {target.key_arn} --grantee-principal {role.arn} "
            f"--operations Decrypt GenerateDataKey`; or {policy}"
        )
    return f"attach a policy that names the key by its alias: {policy}"


def granted_operations(kms: Any, key_arn: str, role_arn: str) -> set[str]:
    """KMS operations that unconstrained grants on the key give the role (AWS's troubleshooting
    page for QuickSight suggests a grant); constrained grants are not judged."""
    operations: set[str] = set()
    pages = kms.get_paginator("list_grants").paginate(KeyId=key_arn, GranteePrincipal=role_arn)
    for page in pages:
        for grant in page.get("Grants", []):
            if grant.get("GranteePrincipal") == role_arn and not grant.get("Constraints"):
                operations.update(str(op) for op in grant.get("Operations", []))
    return operations


def check_access(iam: Any, kms: Any, role: Role, target: Target, command: str) -> list[Finding]:
    """One finding per check: every access of that check simulated against the role."""
    by_check: dict[str, list[Access]] = {}
    for access in required_access(target):
        by_check.setdefault(access.check, []).append(access)
    findings = []
    for check, accesses in by_check.items():
        denials = [d for access in accesses for d in simulate(iam, role.arn, access)]
        purpose = CHECK_PURPOSES[check]
        if denials and check == "kms-key" and target.key_arn:
            granted = granted_operations(kms, target.key_arn, role.arn)
            if {d.action.removeprefix("kms:") for d in denials} <= granted:
                findings.append(
                    Finding(check, PASS, f"role {role.name} may {purpose} (by a KMS grant)")
                )
                continue
        if denials:
            findings.append(
                Finding(
                    check,
                    FAIL,
                    describe_denials(role, denials),
                    access_fix(check, role, target, command),
                )
            )
        else:
            findings.append(Finding(check, PASS, f"role {role.name} may {purpose}"))
    return findings


@dataclass(frozen=True)
class Principal:
    arn: str
    kind: str
    region: str
    account: str
    namespace: str
    name: str


def parse_principal(arn: str) -> Principal:
    """``arn:<partition>:quicksight:<identity region>:<account>:<kind>/<namespace>[/<name>]``;
    a user name may itself hold a slash (``role/session`` of a federated user)."""
    parts = arn.split(":", 5)
    kind, _, path = parts[5].partition("/")
    if kind == "namespace":
        return Principal(arn, kind, parts[3], parts[4], path, path)
    namespace, _, name = path.partition("/")
    return Principal(arn, kind, parts[3], parts[4], namespace, name)


def principal_fix(principal: Principal, account: str) -> str:
    """How to create a missing principal (in its identity region), or drop it from the config."""
    where = (
        f"--aws-account-id {account} --namespace {principal.namespace} --region {principal.region}"
    )
    or_correct = f"or correct {NAMESPACE}:quicksightPrincipals"
    if principal.kind == "user":
        return (
            f"`aws quicksight register-user {where} --identity-type QUICKSIGHT --user-role AUTHOR "
            f"--email EMAIL --user-name {principal.name}`, {or_correct}"
        )
    if principal.kind == "group":
        return f"`aws quicksight create-group {where} --group-name {principal.name}`, {or_correct}"
    return f"`aws quicksight create-namespace {where} --identity-store QUICKSIGHT`, {or_correct}"


def check_principal(quicksight: Any, account: str, principal: Principal) -> Finding:
    """A configured owner of the data source exists in the account's QuickSight. ``quicksight``
    is a client in the principal's region: QuickSight serves users and groups only from the
    account's identity region, which the ARN names."""
    label = principal.namespace if principal.kind == "namespace" else principal.name
    check = f"principal {principal.kind} {label}"
    if principal.account != account:
        return Finding(
            check,
            FAIL,
            f"{principal.arn} belongs to account {principal.account}, not {account} where the "
            "data source is created",
            f"list a user or group of account {account} in {NAMESPACE}:quicksightPrincipals",
        )
    try:
        if principal.kind == "user":
            quicksight.describe_user(
                UserName=principal.name, AwsAccountId=account, Namespace=principal.namespace
            )
        elif principal.kind == "group":
            quicksight.describe_group(
                GroupName=principal.name, AwsAccountId=account, Namespace=principal.namespace
            )
        else:
            quicksight.describe_namespace(AwsAccountId=account, Namespace=principal.namespace)
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc)
        if code == "ResourceNotFoundException":
            return Finding(
                check,
                FAIL,
                f"{principal.arn} does not exist ({message})",
                principal_fix(principal, account),
            )
        if code in ACCESS_DENIED_CODES and "identity region" in message.lower():
            return Finding(
                check,
                FAIL,
                f"{principal.arn}: {principal.region} is not the account's QuickSight identity "
                f"region ({message})",
                f"write the ARN with the identity region AWS names, in "
                f"{NAMESPACE}:quicksightPrincipals",
            )
        raise
    return Finding(check, PASS, f"{principal.arn} exists")


# --- orchestration -----------------------------------------------------------------------------

ClientsForRegion = Callable[[str], ClientFactory]
"""Region to a ClientFactory: QuickSight users and groups live in the identity region."""


def find_key(kms: Any, alias: str) -> str | None:
    """ARN of the key behind ``alias``; None when it does not exist yet."""
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise


def resolve_target(
    source: StackSource, outputs: Mapping[str, Any], region: str, clients: ClientFactory
) -> Target:
    identity = clients("sts").get_caller_identity()
    account = str(identity["Account"])
    partition = str(identity["Arn"]).split(":")[1]
    config = source.config
    key_arn = (
        find_key(clients("kms"), naming.key_alias(config.environment))
        if config.customer_managed_key
        else None
    )
    names = stack_names(config.environment, outputs)
    return Target(account, partition, region, config, names, key_arn)


def role_missing(target: Target, role_names: Sequence[str], custom: bool) -> Finding:
    listed = ", ".join(f"service-role/{n}" for n in role_names)
    if custom:
        return Finding(
            "service-role",
            FAIL,
            f"role {role_names[0]} does not exist in account {target.account}",
            "pass --quicksight-role with the name of the role the account gave QuickSight",
        )
    return Finding(
        "service-role",
        FAIL,
        f"account {target.account} has no QuickSight role ({listed}); QuickSight reaches "
        "Athena and S3 through it",
        "in QuickSight > Manage QuickSight > Security & permissions, tick Amazon Athena and "
        "Amazon S3 and save (QuickSight creates its role); if the account gave QuickSight a "
        "role of its own, pass --quicksight-role NAME",
    )


def preflight(
    source: StackSource,
    target: Target,
    clients_for: ClientsForRegion,
    role_names: Sequence[str] = QUICKSIGHT_ROLES,
    custom_role: bool = False,
) -> Report:
    """Every check, in the order `pulumi up` would meet the problems."""
    clients = clients_for(target.region)
    report = Report(source.stack, target, None)
    subscription = check_subscription(clients("quicksight"), target.account, target.region)
    report.findings.append(subscription)
    iam = clients("iam")
    role = find_role(iam, role_names)
    report.role = role
    if role is None:
        report.findings.append(role_missing(target, role_names, custom_role))
        checks = dict.fromkeys(a.check for a in required_access(target))
        report.findings += [Finding(c, SKIP, "not checked: no QuickSight role") for c in checks]
    else:
        report.findings.append(
            Finding("service-role", PASS, f"QuickSight reaches Athena and S3 as {role.arn}")
        )
        report.findings += check_access(iam, clients("kms"), role, target, source.command)
    for arn in target.config.quicksight_principals:
        principal = parse_principal(arn)
        if subscription.failed:
            label = principal.namespace if principal.kind == "namespace" else principal.name
            report.findings.append(
                Finding(
                    f"principal {principal.kind} {label}",
                    SKIP,
                    "not checked: no active QuickSight subscription",
                )
            )
            continue
        quicksight = clients_for(principal.region)("quicksight")
        report.findings.append(check_principal(quicksight, target.account, principal))
    return report


# --- errors to exit codes ------------------------------------------------------------------------

NO_CREDENTIALS: Final = (
    "no usable AWS credentials were found; set AWS_PROFILE (or --profile), run "
    "`aws sso login`, or give the CI job a role (e.g. OIDC) before running preflight"
)


def classify_preflight_error(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and one line for an error that stops preflight; None for a bug."""
    if isinstance(exc, PreflightError | ConfigError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, NoRegionError):
        return ExitCode.USAGE, (
            "no AWS region: set aws:region in the stack config "
            "(`pulumi config set aws:region eu-west-1`) or AWS_REGION"
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return ExitCode.ENVIRONMENT, NO_CREDENTIALS
    if isinstance(exc, ClientError) and error_code(exc) in ACCESS_DENIED_CODES:
        code, message = error_code(exc), error_message(exc)
        text = (
            f"access denied ({exc.operation_name} returned {code}: {message}); preflight's own "
            "IAM permissions are listed in docs/preflight.md"
        )
        if exc.operation_name == "DescribeAccountSubscription":
            text += "; QuickSight also answers so when the account has no subscription"
        return ExitCode.ENVIRONMENT, text
    return classify_error(exc)


# --- formatting (pure) ---------------------------------------------------------------------------


def render_lines(report: Report) -> list[str]:
    target = report.target
    role = report.role.name if report.role else "none"
    lines = [
        f"QuickSight preflight for stack {report.stack}: account {target.account}, "
        f"region {target.region}, QuickSight role {role}"
    ]
    if not target.names.deployed:
        env = target.environment
        lines.append(
            "not deployed yet: buckets checked by the names the first up will create "
            f"({naming.bucket_logical_name(env, 'warehouse')}-*, "
            f"{naming.bucket_logical_name(env, 'results')}-*)"
        )
    for finding in report.findings:
        line = f"{finding.status.upper()} {finding.check}: {finding.detail}"
        if finding.failed and finding.fix:
            line += f". Fix: {finding.fix}"
        lines.append(line)
    failed = [f.check for f in report.findings if f.failed]
    checked = [f for f in report.findings if f.status != SKIP]
    if failed:
        lines.append(f"FAILED: {len(failed)} of {len(checked)} checks failed ({', '.join(failed)})")
    else:
        lines.append(f"PASSED: all {len(checked)} checks passed")
    return lines


def report_json(report: Report) -> dict[str, Any]:
    target = report.target
    return {
        "passed": report.passed,
        "exit_code": int(report.exit_code),
        "stack": report.stack,
        "quicksight_enabled": True,
        "account": target.account,
        "region": target.region,
        "role": report.role.arn if report.role else None,
        "names": asdict(target.names) | {"key_arn": target.key_arn},
        "checks": [asdict(f) for f in report.findings],
    }


# --- the command ---------------------------------------------------------------------------------


def default_region(profile: str | None) -> str:
    """The AWS environment's region, as the program's provider falls back to it."""
    region = boto3.session.Session(profile_name=profile).region_name
    if not region:
        raise NoRegionError()
    return str(region)


def preflight_command(
    ctx: typer.Context,
    stack: Annotated[
        str | None,
        typer.Option(help="Stack to check; its config comes from `pulumi config --json`."),
    ] = None,
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read the config from Pulumi.<stack>.yaml instead (no pulumi CLI needed).",
        ),
    ] = None,
    outputs_file: Annotated[
        str | None,
        typer.Option(
            "--outputs",
            metavar="FILE",
            help="Outputs of a deployed stack (`pulumi stack output --json`), for bucket names.",
        ),
    ] = None,
    quicksight_role: Annotated[
        str | None,
        typer.Option(help="Role the account gave QuickSight, if not QuickSight's own."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="AWS profile (else the usual AWS environment).")
    ] = None,
    policy: Annotated[
        bool,
        typer.Option("--policy", help="Print the IAM policy QuickSight's role needs, and exit."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on standard output.")
    ] = False,
) -> None:
    """Check, before `pulumi up`, that QuickSight can be turned on for a stack.

    Exit codes: 0 passed or QuickSight off; 1 a check failed; 2 usage or config error;
    3 AWS error."""
    runtime = ctx.find_object(Runtime) or Runtime()
    role_names = (quicksight_role.rsplit("/", 1)[-1],) if quicksight_role else QUICKSIGHT_ROLES
    factories: dict[str, ClientFactory] = {}

    def clients_for(region: str) -> ClientFactory:
        if region not in factories:
            factories[region] = runtime.clients(region, profile)
        return factories[region]

    report: Report | None = None
    printed_policy: dict[str, Any] | None = None
    try:
        source = load_stack_source(stack, config_file)
        if source.config.quicksight_enabled or policy:
            outputs = read_outputs(stack, config_file, outputs_file)
            region = source.region or default_region(profile)
            target = resolve_target(source, outputs, region, clients_for(region))
            if policy:
                printed_policy = role_policy(required_access(target))
            else:
                report = preflight(source, target, clients_for, role_names, bool(quicksight_role))
    except Exception as exc:
        classified = classify_preflight_error(exc)
        if classified is None:
            raise
        code, message = classified
        typer.echo(f"preflight: {message}", err=True)
        if json_output:
            typer.echo(json.dumps(error_json(code, message), indent=2))
        raise typer.Exit(int(code)) from None
    if printed_policy is not None:
        typer.echo(json.dumps(printed_policy, indent=2))
        return
    if report is None:
        message = (
            f"QuickSight is off for stack {source.stack} ({NAMESPACE}:quicksightEnabled is "
            "false): nothing to check"
        )
        if json_output:
            off = {"passed": True, "exit_code": 0, "stack": source.stack}
            typer.echo(json.dumps(off | {"quicksight_enabled": False, "checks": []}, indent=2))
        else:
            typer.echo(f"preflight: {message}")
        return
    if json_output:
        typer.echo(json.dumps(report_json(report), indent=2))
    else:
        for line in render_lines(report):
            typer.echo(line)
    raise typer.Exit(int(report.exit_code))
