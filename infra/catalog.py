"""Catalog: the Glue database, the warehouse table declared from the schema contract, and a
crawler that keeps that one table in step with the data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws
from spotify_glue import contract
from spotify_glue.layout import TABLE_NAME

from infra import naming, policies
from infra.roles import glue_service_role

PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def crawler_configuration() -> str:
    """One table, never one per file: the crawler only syncs the declared table (a catalog
    target), combines compatible schemas, and lets partitions inherit the table's schema."""
    return json.dumps(
        {
            "Version": 1.0,
            "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
            "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        },
        sort_keys=True,
    )


def table_columns() -> list[aws.glue.CatalogTableStorageDescriptorColumnArgs]:
    """The warehouse columns, in contract order, with the contract's comments."""
    return [
        aws.glue.CatalogTableStorageDescriptorColumnArgs(
            name=column.name, type=column.type, comment=column.comment or None
        )
        for column in contract.WAREHOUSE_COLUMNS
    ]


@dataclass
class CatalogArgs:
    environment: str
    """Name suffix of the crawler and its role."""
    database_name: str
    """The catalog database's name."""
    warehouse_bucket: pulumi.Input[str]
    """Bucket holding the table's Parquet files below the contract's table prefix."""
    security_configuration_name: pulumi.Input[str]
    """Glue security configuration the crawler writes its logs with."""
    account: pulumi.Input[policies.AccountContext]
    """Where the stack deploys, for ARNs."""
    kms_key_arn: pulumi.Input[str] | None
    """The stack key, when customer-managed encryption is on."""
    protect_data: bool
    """Protect the database from deletion."""


class Catalog(pulumi.ComponentResource):
    database_name: pulumi.Output[str]
    table_name: pulumi.Output[str]
    crawler_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: CatalogArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spotify:catalog:Catalog", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        child = pulumi.ResourceOptions(parent=self)

        # The job points the table at each published run; until the first, an empty folder.
        table_location = pulumi.Output.from_input(args.warehouse_bucket).apply(
            lambda bucket: naming.layout(bucket).unpublished_location
        )
        self.database = aws.glue.CatalogDatabase(
            f"{prefix}-database",
            name=args.database_name,
            description=f"Spotify 2023 analytics warehouse ({args.environment})",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect_data),
        )
        self.table = aws.glue.CatalogTable(
            f"{prefix}-table",
            name=TABLE_NAME,
            database_name=self.database.name,
            description="One row per track: album, artist, popularity and audio features",
            table_type="EXTERNAL_TABLE",
            parameters={"classification": "parquet", "EXTERNAL": "TRUE"},
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=table_location,
                input_format=PARQUET_INPUT_FORMAT,
                output_format=PARQUET_OUTPUT_FORMAT,
                compressed=True,
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    serialization_library=PARQUET_SERDE,
                    parameters={"serialization.format": "1"},
                ),
                columns=table_columns(),
            ),
            # The job owns the location after the first publish; the refresh Pulumi.yaml
            # makes every operation start with reads it back, and ignoring it keeps an
            # update from pointing the table elsewhere.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["storageDescriptor.location"]),
        )

        access = glue_service_role(
            f"{prefix}-crawler",
            f"Glue crawler of the Spotify pipeline ({args.environment})",
            pulumi.Output.all(args.account, args.warehouse_bucket, args.kms_key_arn).apply(
                lambda v: json.dumps(_crawler_policy(args.database_name, v))
            ),
            child,
        )
        self.crawler = aws.glue.Crawler(
            f"{prefix}-crawler",
            name=f"{prefix}-crawler",
            description=f"Keeps {TABLE_NAME} in step with its Parquet files",
            role=access.role.arn,
            database_name=self.database.name,
            catalog_targets=[
                aws.glue.CrawlerCatalogTargetArgs(
                    database_name=self.database.name, tables=[self.table.name]
                )
            ],
            # The contract owns the schema: drift is logged, never written over the table,
            # and a vanished table is never dropped (catalog targets allow only LOG here).
            schema_change_policy=aws.glue.CrawlerSchemaChangePolicyArgs(
                update_behavior="LOG", delete_behavior="LOG"
            ),
            # Catalog-target crawlers must crawl everything; incremental modes need S3 targets.
            recrawl_policy=aws.glue.CrawlerRecrawlPolicyArgs(recrawl_behavior="CRAWL_EVERYTHING"),
            configuration=crawler_configuration(),
            security_configuration=args.security_configuration_name,
            tags={"component": "catalog"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access.policy]),
        )

        self.database_name = self.database.name
        self.table_name = self.table.name
        self.crawler_name = self.crawler.name
        self.register_outputs(
            {
                "database_name": self.database_name,
                "table_name": self.table_name,
                "crawler_name": self.crawler_name,
            }
        )


def _crawler_policy(database: str, values: list[Any]) -> policies.PolicyDocument:
    ctx, warehouse_bucket, kms_key_arn = values
    return policies.crawler_policy(
        policies.CrawlerPolicyArgs(
            ctx=ctx,
            warehouse_bucket=warehouse_bucket,
            database=database,
            kms_key_arn=kms_key_arn,
        )
    )
