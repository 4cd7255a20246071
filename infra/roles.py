"""The IAM role shape every service principal of the pipeline uses (Glue job, Glue crawler,
EventBridge): a role only that service can assume, holding one inline policy."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import policies


@dataclass(frozen=True)
class ServiceRole:
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    """The role's permissions; whatever uses the role depends on it, so it never runs
    without them."""


def service_role(
    name: str,
    description: str,
    service: str,
    policy: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> ServiceRole:
    """``{name}-role``, which only the AWS service ``service`` can assume, and
    ``{name}-policy``, its inline policy document ``policy``."""
    role = aws.iam.Role(
        f"{name}-role",
        description=description,
        assume_role_policy=json.dumps(policies.service_trust_policy(service)),
        opts=opts,
    )
    role_policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=opts)
    return ServiceRole(role, role_policy)


def glue_service_role(
    name: str, description: str, policy: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> ServiceRole:
    """A role only Glue can assume (the job's and the crawler's)."""
    return service_role(name, description, policies.GLUE_SERVICE, policy, opts)
