"""Adapts the Pulumi engine's resources to ``spotify_guardrails`` records, and builds the policies.

``__main__.py`` serves these policies; the tests drive them through the real analyzer servicer.
Stack-scoped rules (S3 joins) run as stack validations. Resource-scoped rules also run per
resource, so ``pulumi up`` stops before creating a violating resource, when every input is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError
from spotify_guardrails import (
    RULES,
    UNKNOWN,
    ResourceRecord,
    Rule,
    Scope,
    StackContext,
)

PACK_NAME: Final = "spotify-pipeline-guardrails"
CONFIG_NAMESPACE: Final = "spotify-pipeline"


def plain(value: Any) -> Any:
    """A deep plain copy of engine props, with the engine's unknowns turned into ``UNKNOWN``.

    The engine's props raise ``UnknownValueError`` on unknown values; reading them key by key
    keeps every known value, so a rule still sees the literal settings of a resource in preview.
    """
    if isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key in value:
            try:
                copied[key] = plain(value[key])
            except UnknownValueError:
                copied[key] = UNKNOWN
        return copied
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def record_from_policy_resource(resource: PolicyResource) -> ResourceRecord:
    parent = resource.parent.urn if resource.parent is not None else resource.opts.parent
    return ResourceRecord(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=plain(resource.props),
        protect=bool(resource.opts.protect),
        # The analyzer protocol does not carry retainOnDelete.
        retain_on_delete=False,
        parent_urn=parent or None,
        dependencies={
            key: tuple(dep.urn for dep in deps)
            for key, deps in resource.property_dependencies.items()
        },
    )


def record_from_validation_args(args: ResourceValidationArgs) -> ResourceRecord:
    return ResourceRecord(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=plain(args.props),
        protect=bool(args.opts.protect),
        retain_on_delete=False,
        parent_urn=args.opts.parent or None,
    )


def context_from_runtime() -> StackContext:
    """The stack name and the pipeline's config, as the engine passes them to the pack."""
    try:
        stack = pulumi.get_stack()
    except Exception:
        stack = ""
    config = pulumi.Config(CONFIG_NAMESPACE)
    environment = config.get("environment") or ""
    protect = config.get_bool("protectData")
    return StackContext(stack=stack, environment=environment, protect_data=protect)


def _report(rule: Rule, context: StackContext, records: list[ResourceRecord], report: Any) -> None:
    for violation in rule(records, context):
        report(violation.message, violation.urn)


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        records = [record_from_policy_resource(r) for r in args.resources]
        _report(rule, context_from_runtime(), records, report)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        _report(rule, context_from_runtime(), [record_from_validation_args(args)], report)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def build_policies() -> list[Policy]:
    """One pack policy per rule, named after the rule."""
    return [
        _stack_policy(rule) if rule.scope is Scope.STACK else _resource_policy(rule)
        for rule in RULES
    ]
