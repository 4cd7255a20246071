"""ETL: the uploaded Glue script and its package, a security configuration, the job's
least-privilege role, and the Glue job itself."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi
import pulumi_aws as aws
from spotify_glue.gate import GateThresholds
from spotify_glue.layout import STAGING_PREFIX

from infra import naming, policies
from infra.roles import glue_service_role

GLUE_SCRIPTS_DIR: Final = Path(__file__).resolve().parent.parent / "glue-scripts"

GLUE_SPECIAL_PARAMETERS: Final = frozenset(
    {
        "--TempDir",
        "--enable-metrics",
        "--enable-spark-ui",
        "--spark-event-logs-path",
        "--extra-py-files",
        "--job-bookmark-option",
    }
)
"""The Glue-consumed arguments the job sets; every other argument is read by the script."""

DROPPED_GLUE_PARAMETERS: Final[dict[str, str]] = {
    "--enable-continuous-cloudwatch-log": "Glue 5.0 logs every job in real time; the flag is"
    " for Glue 4.0 and earlier",
    "--enable-glue-datacatalog": "makes the Data Catalog Spark's Hive metastore (and Spark then"
    " creates a 'default' database); the job reads no catalog table through Spark and"
    " switches its table with boto3",
    "--job-language": "python is the default",
}
"""Parameters the job deliberately does not set on Glue 5.0, with the reason (a test keeps
them out)."""


def source_hash(path: Path) -> str:
    """MD5 of a file's bytes, as S3's ``source_hash`` expects: a content change updates the
    object even when SSE-KMS makes the ETag useless for diffing."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def package_files(package_dir: Path) -> dict[str, Path]:
    """The package's modules by their path inside the zip; caches and build leftovers (an
    egg-info, __pycache__) are never shipped."""
    return {
        f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}": path
        for path in sorted(package_dir.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def package_hash(files: dict[str, Path]) -> str:
    """A digest of every shipped path and its bytes: the same source gives the same key."""
    digest = hashlib.sha256()
    for name, path in sorted(files.items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def script_arguments(
    staging_bucket: str, warehouse_bucket: str, database: str, gate: GateThresholds
) -> dict[str, str]:
    """The ``--NAME`` arguments the script reads through ``getResolvedOptions``."""
    return {
        "--staging_path": naming.s3_uri(staging_bucket, STAGING_PREFIX),
        "--warehouse_location": naming.s3_uri(warehouse_bucket),
        "--catalog_database": database,
        **{f"--{name}": value for name, value in gate.as_arguments().items()},
    }


def glue_arguments(assets_bucket: str, contract_key: str) -> dict[str, str]:
    """Glue's own special parameters: metrics, Spark UI, temp dir, extra modules (Glue 5.0 logs
    to CloudWatch in real time without a flag)."""
    return {
        "--TempDir": naming.s3_uri(assets_bucket, naming.ASSETS_TEMP_PREFIX),
        "--enable-metrics": "true",
        "--enable-spark-ui": "true",
        "--spark-event-logs-path": naming.s3_uri(assets_bucket, naming.ASSETS_SPARK_UI_PREFIX),
        "--extra-py-files": naming.s3_uri(assets_bucket, contract_key),
        # Each run rewrites the whole table, so bookmarks would only skip input.
        "--job-bookmark-option": "job-bookmark-disable",
    }


@dataclass
class EtlArgs:
    environment: str
    """Name suffix of the job, role and security configuration."""
    staging_bucket: pulumi.Input[str]
    """Bucket the job reads the source CSVs from (below the contract's staging prefix)."""
    warehouse_bucket: pulumi.Input[str]
    """Bucket the job writes the table, quarantine and run summary to."""
    assets_bucket: pulumi.Input[str]
    """Bucket holding the scripts, the temp dir and the Spark UI logs."""
    database_name: str
    """The one catalog database the job may read."""
    account: pulumi.Input[policies.AccountContext]
    """Where the stack deploys, for ARNs."""
    kms_key_arn: pulumi.Input[str] | None
    """The stack key, when customer-managed encryption is on."""
    glue_version: str
    """Glue version; the script is proven on Glue 5.0 (Spark 3.5)."""
    worker_type: str
    """G.1X, G.2X, G.4X or G.8X."""
    number_of_workers: int
    """Workers per run (>= 2)."""
    timeout_minutes: int
    """A run is stopped after this many minutes."""
    max_retries: int
    """Retries of a failed run."""
    flex_execution: bool
    """Use the FLEX execution class."""
    gate: GateThresholds
    """Publish gate thresholds passed to the script."""
    scripts_dir: Path = GLUE_SCRIPTS_DIR
    """Folder holding the entry script and the spotify_glue package."""


class Etl(pulumi.ComponentResource):
    job_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    security_configuration_name: pulumi.Output[str]
    script_location: pulumi.Output[str]

    def __init__(
        self, name: str, args: EtlArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spotify:etl:Etl", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        child = pulumi.ResourceOptions(parent=self)

        script_path = args.scripts_dir / naming.JOB_SCRIPT_NAME
        script = aws.s3.BucketObjectv2(
            f"{prefix}-spotify-etl-script",
            bucket=args.assets_bucket,
            key=naming.ASSETS_SCRIPTS_PREFIX + naming.JOB_SCRIPT_NAME,
            source=pulumi.FileAsset(str(script_path)),
            source_hash=source_hash(script_path),
            content_type="text/x-python",
            opts=child,
        )
        files = package_files(args.scripts_dir / naming.GLUE_PACKAGE_NAME)
        package = aws.s3.BucketObjectv2(
            f"{prefix}-glue-package",
            bucket=args.assets_bucket,
            key=naming.glue_package_key(package_hash(files)),
            source=pulumi.AssetArchive(
                {name: pulumi.FileAsset(str(path)) for name, path in files.items()}
            ),
            content_type="application/zip",
            opts=child,
        )

        self.security_configuration = aws.glue.SecurityConfiguration(
            f"{prefix}-security",
            name=f"{prefix}-security",
            encryption_configuration=_encryption_configuration(args.kms_key_arn),
            opts=child,
        )

        access = glue_service_role(
            f"{prefix}-job",
            f"Glue ETL job of the Spotify pipeline ({args.environment})",
            pulumi.Output.all(
                args.account,
                args.staging_bucket,
                args.warehouse_bucket,
                args.assets_bucket,
                args.kms_key_arn,
            ).apply(
                lambda v: json.dumps(
                    policies.glue_job_policy(
                        policies.JobPolicyArgs(
                            ctx=v[0],
                            staging_bucket=v[1],
                            warehouse_bucket=v[2],
                            assets_bucket=v[3],
                            database=args.database_name,
                            kms_key_arn=v[4],
                        )
                    )
                )
            ),
            child,
        )

        self.script_location = pulumi.Output.all(script.bucket, script.key).apply(
            lambda v: naming.s3_uri(v[0], v[1])
        )
        default_arguments = pulumi.Output.all(
            args.staging_bucket, args.warehouse_bucket, package.bucket, package.key
        ).apply(
            lambda v: {
                **glue_arguments(v[2], v[3]),
                **script_arguments(v[0], v[1], args.database_name, args.gate),
            }
        )
        self.job = aws.glue.Job(
            f"{prefix}-etl",
            name=f"{prefix}-etl",
            description="Spotify 2023 CSVs -> typed, de-duplicated, gated Parquet table",
            role_arn=access.role.arn,
            glue_version=args.glue_version,
            command=aws.glue.JobCommandArgs(
                name="glueetl", script_location=self.script_location, python_version="3"
            ),
            worker_type=args.worker_type,
            number_of_workers=args.number_of_workers,
            timeout=args.timeout_minutes,
            max_retries=args.max_retries,
            execution_class="FLEX" if args.flex_execution else "STANDARD",
            execution_property=aws.glue.JobExecutionPropertyArgs(max_concurrent_runs=1),
            security_configuration=self.security_configuration.name,
            default_arguments=default_arguments,
            tags={"component": "etl"},
            # The role must hold its permissions before the first run can start.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access.policy]),
        )

        self.job_name = self.job.name
        self.role_arn = access.role.arn
        self.security_configuration_name = self.security_configuration.name
        self.register_outputs(
            {
                "job_name": self.job_name,
                "role_arn": self.role_arn,
                "script_location": self.script_location,
                "security_configuration_name": self.security_configuration_name,
            }
        )


def _encryption_configuration(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.glue.SecurityConfigurationEncryptionConfigurationArgs:
    """SSE-KMS everywhere with the stack key; otherwise SSE-S3 for data (CloudWatch and
    bookmark encryption need a KMS key, so they stay off)."""
    if kms_key_arn is not None:
        return aws.glue.SecurityConfigurationEncryptionConfigurationArgs(
            s3_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationS3EncryptionArgs(
                s3_encryption_mode="SSE-KMS", kms_key_arn=kms_key_arn
            ),
            cloudwatch_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationCloudwatchEncryptionArgs(
                cloudwatch_encryption_mode="SSE-KMS", kms_key_arn=kms_key_arn
            ),
            job_bookmarks_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationJobBookmarksEncryptionArgs(
                job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=kms_key_arn
            ),
        )
    return aws.glue.SecurityConfigurationEncryptionConfigurationArgs(
        s3_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationS3EncryptionArgs(
            s3_encryption_mode="SSE-S3"
        ),
        cloudwatch_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationCloudwatchEncryptionArgs(
            cloudwatch_encryption_mode="DISABLED"
        ),
        job_bookmarks_encryption=aws.glue.SecurityConfigurationEncryptionConfigurationJobBookmarksEncryptionArgs(
            job_bookmarks_encryption_mode="DISABLED"
        ),
    )
