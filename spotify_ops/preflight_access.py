"""What QuickSight's role must be allowed, as IAM requests to simulate and as a policy to grant.

Sources (AWS documentation; the docs/preflight.md page has the links):
- Athena reads the table and writes results with the caller's own S3 and Glue permissions
  (Athena User Guide, "Control access to Amazon S3 from Athena", "Configure access to databases
  and tables in the AWS Glue Data Catalog");
- reading or writing SSE-KMS objects needs kms:Decrypt and kms:GenerateDataKey on the key
  (S3 User Guide, "Using server-side encryption with AWS KMS keys").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from spotify_glue.layout import TABLE_NAME

from infra import naming
from infra.config import StackConfig
from infra.outputs import OutputKey
from spotify_ops.aws_runtime import (
    split_s3_uri,
)
from spotify_ops.stack_outputs import RULES, OutputsError

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
