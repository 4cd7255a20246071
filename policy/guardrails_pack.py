"""Serves ``spotify_guardrails.RULES`` as pulumi-policy policies, one per rule.

``__main__.py`` serves these policies; the tests drive them through the real analyzer servicer.
Stack-scoped rules (S3 joins) run as stack validations. Resource-scoped rules run per resource,
so ``pulumi up`` stops before creating a violating resource, when every input is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError
from resource_graph import CONFIG_NAMESPACE, UNKNOWN, ResourceRecord, StackContext
from rule_base import Rule, Scope
from spotify_guardrails import RULES

PACK_NAME: Final = "spotify-pipeline-guardrails"


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


def to_record(resource: PolicyResource | ResourceValidationArgs) -> ResourceRecord:
    """The engine's view of one resource as the rules read it. The analyzer protocol carries no
    ``retainOnDelete``; only the stack view carries parents and property dependencies."""
    opts: PolicyResourceOptions = resource.opts
    parent, deps = None, {}
    if isinstance(resource, PolicyResource):
        parent, deps = resource.parent, resource.property_dependencies
    return ResourceRecord(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=plain(resource.props),
        protect=bool(opts.protect),
        parent_urn=(parent.urn if parent is not None else opts.parent) or None,
        dependencies={key: tuple(dep.urn for dep in found) for key, found in deps.items()},
    )


def context_from_runtime() -> StackContext:
    """The stack name and the pipeline's config, as the engine passes them to the pack."""
    try:
        stack = pulumi.get_stack()
    except Exception:
        stack = ""
    config = pulumi.Config(CONFIG_NAMESPACE)
    return StackContext.from_config(
        stack, {k: config.get(k) for k in ("environment", "protectData")}
    )


def _report(rule: Rule, records: list[ResourceRecord], report: ReportViolation) -> None:
    for violation in rule(records, context_from_runtime()):
        report(violation.message, violation.urn)


def policy_for(rule: Rule) -> Policy:
    """The pack policy that enforces ``rule``, named after it, at the table's level."""
    level = EnforcementLevel(rule.enforcement.value)
    if rule.scope is Scope.STACK:

        def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
            _report(rule, [to_record(r) for r in args.resources], report)

        return StackValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=validate_stack,
            enforcement_level=level,
        )

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        _report(rule, [to_record(args)], report)

    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, enforcement_level=level
    )


def build_policies() -> list[Policy]:
    """One pack policy per rule of the table."""
    return [policy_for(rule) for rule in RULES]
