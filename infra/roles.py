"""The IAM role shape both Glue principals (job and crawler) use."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import policies


def glue_service_role(
    name: str, description: str, account_id: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> aws.iam.Role:
    """A role only Glue in this account can assume; permissions come from its own inline policy."""
    return aws.iam.Role(
        name,
        description=description,
        assume_role_policy=pulumi.Output.from_input(account_id).apply(
            lambda account: json.dumps(policies.glue_trust_policy(account))
        ),
        opts=opts,
    )
