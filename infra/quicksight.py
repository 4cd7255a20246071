"""QuickSight: the Athena data source, the data set over the catalog table, and the dashboard
rendered from the visual spec (``infra/dashboard_spec.py``).

The dashboard comes from ``pulumi-aws-native`` (AWS Cloud Control), because ``pulumi-aws``
omits the ``definition`` argument of its QuickSight dashboards, analyses and templates
(pulumi/pulumi-terraform-bridge#1118). The data source, the data set and the SPICE refresh
schedule come from ``pulumi-aws``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native
from spotify_glue.contract import QUICKSIGHT_TYPES
from spotify_glue.layout import TABLE_NAME

from infra import dashboard_spec, naming
from infra import quicksight_definition as qs
from infra.quicksight_refresh import RefreshTiming


class QuickSightConfigError(ValueError):
    """QuickSight is enabled but nobody could use what it builds."""


@dataclass
class QuickSightArgs:
    environment: str
    """Name suffix of every QuickSight id."""
    account_id: pulumi.Input[str]
    """The QuickSight account (the deployment account)."""
    region: pulumi.Input[str]
    """The stack's region; the dashboard's provider and its console URL use it."""
    workgroup_name: pulumi.Input[str]
    """Athena workgroup QuickSight queries through."""
    database_name: pulumi.Input[str]
    """Catalog database of the table the data set reads."""
    table_name: pulumi.Input[str]
    """The catalog table the data set reads; the table's own output, so that the data set (and
    a SPICE data set's first ingestion) comes after the table."""
    principals: Sequence[str]
    """QuickSight user or group ARNs given access; at least one."""
    access: qs.Access = "owner"
    """What the principals may do: what the console grants owners, or viewers."""
    import_mode: qs.ImportMode = "SPICE"
    """SPICE copies the table into QuickSight; DIRECT_QUERY queries Athena on every view."""
    refresh: RefreshTiming | None = None
    """With SPICE: when to re-read the table (after the job's scheduled runs, or hourly for
    runs on arrival); None for an on-demand stack, which ``verify --run`` refreshes."""


def _description(column: str, text: str) -> aws.quicksight.DataSetLogicalTableMapDataTransformArgs:
    """The contract's comment on a column, as the description QuickSight shows beside it."""
    op = aws.quicksight.DataSetLogicalTableMapDataTransformTagColumnOperationArgs
    tag = aws.quicksight.DataSetLogicalTableMapDataTransformTagColumnOperationTagArgs
    text_args = (
        aws.quicksight.DataSetLogicalTableMapDataTransformTagColumnOperationTagColumnDescriptionArgs
    )
    return aws.quicksight.DataSetLogicalTableMapDataTransformArgs(
        tag_column_operation=op(
            column_name=column, tags=[tag(column_description=text_args(text=text))]
        )
    )


def _refresh_schedule(timing: RefreshTiming) -> aws.quicksight.RefreshScheduleScheduleArgs:
    frequency = aws.quicksight.RefreshScheduleScheduleScheduleFrequencyArgs
    on_day = aws.quicksight.RefreshScheduleScheduleScheduleFrequencyRefreshOnDayArgs
    return aws.quicksight.RefreshScheduleScheduleArgs(
        refresh_type="FULL_REFRESH",
        schedule_frequency=frequency(
            interval=timing.interval,
            time_of_the_day=timing.time_of_day,
            timezone="UTC" if timing.time_of_day else None,
            refresh_on_day=on_day(day_of_week=timing.day_of_week) if timing.day_of_week else None,
        ),
    )


class QuickSight(pulumi.ComponentResource):
    data_source_arn: pulumi.Output[str]
    data_set_arn: pulumi.Output[str]
    dashboard_id: pulumi.Output[str]
    dashboard_arn: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: QuickSightArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not args.principals:
            raise QuickSightConfigError(
                "QuickSight is enabled but no principal is configured; set "
                "spotify-pipeline:quicksightPrincipals to QuickSight user or group ARNs"
            )
        prefix = naming.resource_prefix(args.environment)
        # Stacks deployed before the rename keep their data source instead of replacing it.
        renamed = pulumi.Alias(type_="spotify:dashboards:Dashboards", name=f"{prefix}-dashboards")
        super().__init__(
            "spotify:quicksight:QuickSight",
            name,
            None,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[renamed])),
        )
        child = pulumi.ResourceOptions(parent=self)
        principals = list(args.principals)

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
            permissions=qs.permissions(
                aws.quicksight.DataSourcePermissionArgs,
                principals,
                qs.DATA_SOURCE_ACTIONS[args.access],
            ),
            tags={"component": "quicksight"},
            opts=child,
        )

        data_set_id = dashboard_spec.data_set_id(args.environment)
        self.data_set = aws.quicksight.DataSet(
            f"{prefix}-data-set",
            data_set_id=data_set_id,
            name=f"Spotify tracks ({args.environment})",
            aws_account_id=args.account_id,
            import_mode=args.import_mode,
            physical_table_maps=[
                aws.quicksight.DataSetPhysicalTableMapArgs(
                    physical_table_map_id=qs.TABLE_ID,
                    relational_table=aws.quicksight.DataSetPhysicalTableMapRelationalTableArgs(
                        data_source_arn=self.data_source.arn,
                        catalog="AwsDataCatalog",
                        schema=args.database_name,
                        name=args.table_name,
                        input_columns=[
                            aws.quicksight.DataSetPhysicalTableMapRelationalTableInputColumnArgs(
                                name=c.name, type=QUICKSIGHT_TYPES[c.type]
                            )
                            for c in qs.data_set_columns()
                        ],
                    ),
                )
            ],
            logical_table_maps=[
                aws.quicksight.DataSetLogicalTableMapArgs(
                    logical_table_map_id=qs.TABLE_ID,
                    alias=TABLE_NAME,
                    source=aws.quicksight.DataSetLogicalTableMapSourceArgs(
                        physical_table_id=qs.TABLE_ID
                    ),
                    data_transforms=[
                        _description(c.name, c.comment) for c in qs.described_columns()
                    ],
                )
            ],
            permissions=qs.permissions(
                aws.quicksight.DataSetPermissionArgs, principals, qs.DATA_SET_ACTIONS[args.access]
            ),
            tags={"component": "quicksight"},
            opts=child,
        )

        if args.import_mode == "SPICE" and args.refresh is not None:
            aws.quicksight.RefreshSchedule(
                f"{prefix}-spice-refresh",
                aws_account_id=args.account_id,
                data_set_id=self.data_set.data_set_id,
                schedule_id="after-the-runs",
                schedule=_refresh_schedule(args.refresh),
                opts=child,
            )

        # Cloud Control needs the region; the stack's own keeps both providers in one region.
        native = aws_native.Provider(f"{prefix}-aws-native", region=args.region, opts=child)
        dashboard_id = dashboard_spec.dashboard_id(args.environment)
        self.dashboard = aws_native.quicksight.Dashboard(
            f"{prefix}-dashboard",
            aws_account_id=args.account_id,
            dashboard_id=dashboard_id,
            name=dashboard_spec.dashboard_name(args.environment),
            definition=qs.dashboard_definition(dashboard_spec.DASHBOARD, self.data_set.arn),
            dashboard_publish_options=qs.PUBLISH_OPTIONS,
            permissions=qs.permissions(
                aws_native.quicksight.DashboardResourcePermissionArgs,
                principals,
                qs.DASHBOARD_ACTIONS[args.access],
            ),
            validation_strategy={"mode": "STRICT"},
            version_description="Rendered from infra/dashboard_spec.py",
            tags=[{"key": "component", "value": "quicksight"}],
            opts=pulumi.ResourceOptions(parent=self, provider=native),
        )

        self.data_source_arn = self.data_source.arn
        self.data_set_arn = self.data_set.arn
        self.dashboard_id = pulumi.Output.from_input(dashboard_id)
        self.dashboard_arn = self.dashboard.arn
        self.dashboard_url = pulumi.Output.from_input(args.region).apply(
            lambda region: qs.console_url(region, dashboard_id)
        )
        self.register_outputs(
            {
                "data_source_arn": self.data_source_arn,
                "data_set_arn": self.data_set_arn,
                "dashboard_arn": self.dashboard_arn,
                "dashboard_url": self.dashboard_url,
            }
        )
