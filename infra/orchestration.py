"""Orchestration: a Glue workflow that runs the job, then the crawler when the job succeeds.

The workflow starts on demand, on a Glue cron schedule, or when the source files land in the
staging folder: S3 sends "Object Created" events to EventBridge, a rule matching the staging
bucket and the contract's file keys targets the workflow, and the workflow's EVENT trigger
starts the job once every file has arrived or the batch window has passed
(https://docs.aws.amazon.com/glue/latest/dg/starting-workflow-eventbridge.html).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws
from spotify_glue import contract
from spotify_glue.layout import STAGING_PREFIX

from infra import naming, policies
from infra.roles import service_role

BATCH_WINDOW_SECONDS: Final = 900
"""Glue's maximum batch window: a run starts at most 15 minutes after the first file lands."""
ARRIVAL_BATCH_SIZE: Final = len(contract.JOB_SOURCES)
"""One event per source file: the run starts as soon as all of them have landed."""


def arrival_keys() -> list[str]:
    """The staging keys whose arrival starts a run: the files the job reads."""
    return [f"{STAGING_PREFIX}{source.file_name}" for source in contract.JOB_SOURCES]


def arrival_event_pattern(staging_bucket: str) -> dict[str, Any]:
    """EventBridge pattern of S3 "Object Created" events for the job's source files in the
    staging bucket (S3 event structure:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [staging_bucket]},
            "object": {"key": arrival_keys()},
        },
    }


@dataclass
class OrchestrationArgs:
    environment: str
    """Name suffix of the workflow and its triggers."""
    job_name: pulumi.Input[str]
    """The ETL job the workflow starts."""
    crawler_name: pulumi.Input[str]
    """The crawler started after the job succeeds."""
    schedule: str | None
    """Glue cron expression; None starts the workflow on demand (or on arrival)."""
    run_on_arrival: bool = False
    """Start the workflow when the source files land in ``staging_bucket``."""
    staging_bucket: pulumi.Input[str] | None = None
    """The staging bucket (sending its events to EventBridge) when ``run_on_arrival``."""


class Orchestration(pulumi.ComponentResource):
    workflow_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: OrchestrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spotify:orchestration:Orchestration", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        child = pulumi.ResourceOptions(parent=self)
        if args.run_on_arrival and (args.schedule is not None or args.staging_bucket is None):
            raise ValueError("run_on_arrival needs the staging bucket and no schedule")

        self.workflow = aws.glue.Workflow(
            f"{prefix}-workflow",
            name=f"{prefix}-pipeline",
            description="Run the ETL job, then the crawler",
            max_concurrent_runs=1,
            tags={"component": "orchestration"},
            opts=child,
        )
        start = [aws.glue.TriggerActionArgs(job_name=args.job_name)]
        if args.run_on_arrival:
            aws.glue.Trigger(
                f"{prefix}-start",
                name=f"{prefix}-start",
                workflow_name=self.workflow.name,
                type="EVENT",
                event_batching_conditions=[
                    aws.glue.TriggerEventBatchingConditionArgs(
                        batch_size=ARRIVAL_BATCH_SIZE, batch_window=BATCH_WINDOW_SECONDS
                    )
                ],
                actions=start,
                opts=child,
            )
            self._arrival_rule(prefix, args, child)
        else:
            scheduled = args.schedule is not None
            aws.glue.Trigger(
                f"{prefix}-start",
                name=f"{prefix}-start",
                workflow_name=self.workflow.name,
                type="SCHEDULED" if scheduled else "ON_DEMAND",
                schedule=args.schedule,
                # A schedule must be started on creation. An ON_DEMAND trigger must not be:
                # the provider calls StartTrigger for an enabled one, which would run the
                # pipeline during `pulumi up` (terraform-provider-aws issues 38222, 42498).
                start_on_creation=True if scheduled else None,
                enabled=None if scheduled else False,
                actions=start,
                opts=child,
            )
        aws.glue.Trigger(
            f"{prefix}-crawl-after-job",
            name=f"{prefix}-crawl-after-job",
            workflow_name=self.workflow.name,
            type="CONDITIONAL",
            start_on_creation=True,
            predicate=aws.glue.TriggerPredicateArgs(
                conditions=[
                    aws.glue.TriggerPredicateConditionArgs(
                        job_name=args.job_name, state="SUCCEEDED", logical_operator="EQUALS"
                    )
                ]
            ),
            actions=[aws.glue.TriggerActionArgs(crawler_name=args.crawler_name)],
            opts=child,
        )

        self.workflow_name = self.workflow.name
        self.register_outputs({"workflow_name": self.workflow_name})

    def _arrival_rule(
        self, prefix: str, args: OrchestrationArgs, child: pulumi.ResourceOptions
    ) -> None:
        """The EventBridge rule on the staging bucket's events, and the role it uses to
        notify the workflow (glue:NotifyEvent on this workflow only)."""
        access = service_role(
            f"{prefix}-events",
            f"EventBridge starts the Spotify pipeline workflow ({args.environment})",
            policies.EVENTS_SERVICE,
            self.workflow.arn.apply(lambda arn: json.dumps(policies.notify_workflow_policy(arn))),
            child,
        )
        rule = aws.cloudwatch.EventRule(
            f"{prefix}-staging-arrival",
            name=f"{prefix}-staging-arrival",
            description="Source files landed in the staging folder: start the pipeline",
            event_pattern=pulumi.Output.from_input(args.staging_bucket).apply(
                lambda bucket: json.dumps(arrival_event_pattern(str(bucket)))
            ),
            tags={"component": "orchestration"},
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{prefix}-start-workflow",
            rule=rule.name,
            arn=self.workflow.arn,
            role_arn=access.role.arn,
            # EventBridge must be allowed to notify the workflow before the first event.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access.policy]),
        )
