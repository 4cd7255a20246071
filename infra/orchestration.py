"""Orchestration: a Glue workflow that runs the job, then the crawler when the job succeeds."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming


@dataclass
class OrchestrationArgs:
    environment: str
    """Name suffix of the workflow and its triggers."""
    job_name: pulumi.Input[str]
    """The ETL job the workflow starts."""
    crawler_name: pulumi.Input[str]
    """The crawler started after the job succeeds."""
    schedule: str | None
    """Glue cron expression; the workflow starts on demand only when None."""


class Orchestration(pulumi.ComponentResource):
    workflow_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: OrchestrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("spotify:orchestration:Orchestration", name, None, opts)
        prefix = naming.resource_prefix(args.environment)
        child = pulumi.ResourceOptions(parent=self)

        self.workflow = aws.glue.Workflow(
            f"{prefix}-workflow",
            name=f"{prefix}-pipeline",
            description="Run the ETL job, then the crawler",
            max_concurrent_runs=1,
            tags={"component": "orchestration"},
            opts=child,
        )
        scheduled = args.schedule is not None
        aws.glue.Trigger(
            f"{prefix}-start",
            name=f"{prefix}-start",
            workflow_name=self.workflow.name,
            type="SCHEDULED" if scheduled else "ON_DEMAND",
            schedule=args.schedule,
            # ON_DEMAND triggers cannot be started on creation; a schedule must be.
            start_on_creation=True if scheduled else None,
            actions=[aws.glue.TriggerActionArgs(job_name=args.job_name)],
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
