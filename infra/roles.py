"""The IAM role shape every service principal of the pipeline uses (Glue job, Glue crawler,
EventBridge)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import policies


def service_role(
    name: str, description: str, service: str, opts: pulumi.ResourceOptions
) -> aws.iam.Role:
    """A role only the AWS service ``service`` can assume; permissions come from its own
    inline policy."""
    return aws.iam.Role(
        name,
        description=description,
        assume_role_policy=json.dumps(policies.service_trust_policy(service)),
        opts=opts,
    )


def glue_service_role(name: str, description: str, opts: pulumi.ResourceOptions) -> aws.iam.Role:
    """A role only Glue can assume (the job's and the crawler's)."""
    return service_role(name, description, policies.GLUE_SERVICE, opts)
