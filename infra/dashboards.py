"""Dashboards: a QuickSight data source of type ATHENA on the pipeline's workgroup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from infra import naming

DATA_SOURCE_OWNER_ACTIONS: Final = (
    "quicksight:DeleteDataSource",
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:UpdateDataSourcePermissions",
)
"""What QuickSight grants a data source's owners in its console."""


class QuickSightConfigError(ValueError):
    """QuickSight is enabled but nobody could use the data source."""


@dataclass
class DashboardsArgs:
    environment: str
    """Name suffix of the data source."""
    account_id: pulumi.Input[str]
    """The QuickSight account (the deployment account)."""
    workgroup_name: pulumi.Input[str]
    """Athena workgroup QuickSight queries through."""
    principals: Sequence[str]
    """QuickSight user or group ARNs that own the data source; at least one."""


class Dashboards(pulumi.ComponentResource):
    data_source_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DashboardsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not args.principals:
            raise QuickSightConfigError(
                "QuickSight is enabled but no principal is configured; set "
                "spotify-pipeline:quicksightPrincipals to QuickSight user or group ARNs"
            )
        super().__init__("spotify:dashboards:Dashboards", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        self.data_source = aws.quicksight.DataSource(
            f"{prefix}-athena-source",
            data_source_id=f"{prefix}-athena",
            name=f"Spotify pipeline ({args.environment})",
            aws_account_id=args.account_id,
            type="ATHENA",
            parameters=aws.quicksight.DataSourceParametersArgs(
                athena=aws.quicksight.DataSourceParametersAthenaArgs(work_group=args.workgroup_name)
            ),
            ssl_properties=aws.quicksight.DataSourceSslPropertiesArgs(disable_ssl=False),
            permissions=[
                aws.quicksight.DataSourcePermissionArgs(
                    principal=principal, actions=list(DATA_SOURCE_OWNER_ACTIONS)
                )
                for principal in args.principals
            ],
            tags={"component": "dashboards"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.data_source_arn = self.data_source.arn
        self.register_outputs({"data_source_arn": self.data_source_arn})
