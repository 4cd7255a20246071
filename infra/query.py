"""Query: the Athena workgroup and the repository's SQL files as named queries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi
import pulumi_aws as aws

from infra import naming

SQL_DIR: Final = Path(__file__).resolve().parent.parent / "sql"
ENGINE_VERSION: Final = "Athena engine version 3"


@dataclass(frozen=True)
class SqlFile:
    """One deployable query: ``checks/row_count`` from ``sql/checks/row_count.sql``."""

    name: str
    description: str
    query: str


def sql_files(sql_dir: Path = SQL_DIR) -> list[SqlFile]:
    """Every ``*.sql`` below ``sql_dir``, sorted; the leading ``--`` comment describes it."""
    found: list[SqlFile] = []
    for path in sorted(sql_dir.rglob("*.sql")):
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise ValueError(f"{path} is empty; delete it or give it a query")
        first = text.splitlines()[0]
        description = first.removeprefix("--").strip() if first.startswith("--") else ""
        name = path.relative_to(sql_dir).with_suffix("").as_posix()
        # Athena limits a named query's description to 1024 characters.
        found.append(SqlFile(name=name, description=description[:1024], query=text))
    return found


@dataclass
class QueryArgs:
    environment: str
    """Name suffix of the workgroup."""
    database_name: pulumi.Input[str]
    """Database the named queries run against."""
    results_bucket: pulumi.Input[str]
    """Bucket for query results (below the results prefix)."""
    kms_key_arn: pulumi.Input[str] | None
    """Encrypt results with the stack key (SSE_KMS); SSE_S3 otherwise."""
    bytes_scanned_cutoff: int
    """Per-query scan limit in bytes."""
    force_destroy: bool
    """Let destroy delete the workgroup with its saved queries and history."""
    sql_dir: Path = SQL_DIR
    """Folder whose ``**/*.sql`` become named queries."""


class Query(pulumi.ComponentResource):
    workgroup_name: pulumi.Output[str]
    results_location: pulumi.Output[str]

    def __init__(
        self, name: str, args: QueryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spotify:query:Query", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        child = pulumi.ResourceOptions(parent=self)

        self.results_location = pulumi.Output.from_input(args.results_bucket).apply(
            lambda bucket: naming.s3_uri(bucket, naming.RESULTS_PREFIX)
        )
        encryption = (
            aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                encryption_option="SSE_KMS", kms_key_arn=args.kms_key_arn
            )
            if args.kms_key_arn is not None
            else aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                encryption_option="SSE_S3"
            )
        )
        self.workgroup = aws.athena.Workgroup(
            f"{prefix}-workgroup",
            name=naming.workgroup_name(args.environment),
            description=f"Spotify pipeline queries ({args.environment})",
            state="ENABLED",
            force_destroy=args.force_destroy,
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=args.bytes_scanned_cutoff,
                engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                    selected_engine_version=ENGINE_VERSION
                ),
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=self.results_location,
                    encryption_configuration=encryption,
                ),
            ),
            tags={"component": "query"},
            opts=child,
        )

        for sql in sql_files(args.sql_dir):
            aws.athena.NamedQuery(
                f"{prefix}-query-{sql.name.replace('/', '-').replace('_', '-')}",
                name=sql.name,
                description=sql.description or None,
                database=args.database_name,
                workgroup=self.workgroup.name,
                query=sql.query,
                opts=child,
            )

        self.workgroup_name = self.workgroup.name
        self.register_outputs(
            {"workgroup_name": self.workgroup_name, "results_location": self.results_location}
        )
