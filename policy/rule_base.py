"""How a guardrail is written: a rule is data plus one small check.

As in Checkov's ``BaseResourceValueCheck``, most rules reduce to the resource types they examine,
the keys they inspect and the values they accept (``Expect``); ``values`` and ``configured_by``
are the two skeletons, written once. ``spotify_guardrails.RULES`` is the table built from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from resource_graph import ResourceRecord, StackContext, configs_of, is_unknown, number, values_at


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.urn}: {self.message}"


class Scope(StrEnum):
    RESOURCE = "resource"
    """Each violation depends on one resource alone: the pack checks it before that resource is
    created or updated."""
    STACK = "stack"
    """The rule joins resources: the pack checks it on the whole stack."""


class Enforcement(StrEnum):
    """The pack's enforcement levels (the values are pulumi-policy's)."""

    MANDATORY = "mandatory"
    ADVISORY = "advisory"
    DISABLED = "disabled"


Finding = tuple[ResourceRecord, str]
"""The resource at fault, and what is wrong with it and how to fix it."""
Check = Callable[[ResourceRecord, Sequence[ResourceRecord], StackContext], Iterable[Finding]]
"""Judges one examined resource within its stack graph."""


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    types: frozenset[str]
    """The types of the resources the rule examines."""
    check: Check
    scope: Scope = Scope.RESOURCE
    applies: Callable[[ResourceRecord], bool] = lambda record: True
    """Narrows the examined resources (e.g. data buckets only)."""
    when: Callable[[StackContext], bool] = lambda context: True
    """The stacks the rule holds in (e.g. protected ones only)."""
    enforcement: Enforcement = Enforcement.MANDATORY

    def examined(
        self, resources: Sequence[ResourceRecord], context: StackContext
    ) -> list[ResourceRecord]:
        """The resources this rule judges in this stack."""
        if not self.when(context):
            return []
        return [r for r in resources if r.type in self.types and self.applies(r)]

    def __call__(
        self, resources: Sequence[ResourceRecord], context: StackContext
    ) -> list[Violation]:
        return [
            Violation(self.name, culprit.urn, message)
            for target in self.examined(resources, context)
            for culprit, message in self.check(target, resources, context)
        ]


# --- the value check (Checkov's inspected key and expected values) ------------------------------


@dataclass(frozen=True)
class Expect:
    """One inspected value: its dotted wire path, what it may be, and how to fix it."""

    path: str
    ok: Callable[[Any], bool]
    fix: str


def between(low: float, high: float = float("inf")) -> Callable[[Any], bool]:
    return lambda value: (n := number(value)) is not None and low <= n <= high


def one_of(*allowed: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in allowed


def named(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _unexpected(subject: str, record: ResourceRecord, expects: Iterable[Expect]) -> list[Finding]:
    return [
        (record, f"{subject} {label} is {value!r}; {expect.fix}")
        for expect in expects
        for label, value in values_at(record.props, expect.path)
        if not is_unknown(value) and not expect.ok(value)
    ]


@dataclass(frozen=True)
class Values:
    """The examined resource's own values meet each ``Expect``."""

    expects: tuple[Expect, ...]

    def __call__(self, record: ResourceRecord, *_: object) -> list[Finding]:
        subject = f"{record.type.rsplit(':', 1)[-1]} '{record.name}'"
        return _unexpected(subject, record, self.expects)


def values(*expects: Expect) -> Values:
    return Values(expects)


BucketCheck = Callable[[ResourceRecord, ResourceRecord, Sequence[ResourceRecord]], Iterable[str]]
"""Problems of one bucket's configuration resource: (bucket, config, graph) -> messages."""


@dataclass(frozen=True)
class ConfiguredBy:
    """The bucket has exactly one split resource of ``types`` (S3 keeps one such configuration
    per bucket; each PUT replaces it), and that resource meets ``expects`` and ``then``."""

    types: frozenset[str]
    what: str
    expects: tuple[Expect, ...] = ()
    then: BucketCheck | None = None

    def __call__(
        self, bucket: ResourceRecord, graph: Sequence[ResourceRecord], context: StackContext
    ) -> Iterable[Finding]:
        subject = f"bucket '{bucket.name}' {self.what}"
        configs = configs_of(bucket, graph, self.types)
        if not configs:
            resource_type = min(self.types).rsplit(":", 1)[-1]
            yield (
                bucket,
                (
                    f"bucket '{bucket.name}' has no {self.what}; "
                    f"add a {resource_type} with bucket=<this bucket>.id"
                ),
            )
        elif len(configs) > 1:
            yield bucket, f"{subject}: {len(configs)} resources overwrite each other; keep one"
        for config in configs:
            yield from _unexpected(subject, config, self.expects)
            if self.then is not None:
                yield from ((config, f"{subject} {p}") for p in self.then(bucket, config, graph))


def configured_by(
    types: frozenset[str], what: str, *expects: Expect, then: BucketCheck | None = None
) -> ConfiguredBy:
    return ConfiguredBy(types, what, expects, then)
