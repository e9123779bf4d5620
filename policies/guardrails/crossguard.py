"""Adapt the rules to CrossGuard: one ResourceValidationPolicy or StackValidationPolicy per rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .catalog import RULES, Rule
from .model import UNKNOWN, Resource


def _plain(value: Any) -> Any:
    """Copy the SDK's read-only props proxy into plain dicts, lists and ints, unknown values as UNKNOWN."""
    if isinstance(value, Mapping):
        return {key: _get(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_get(value, i) for i in range(len(value))]
    # gRPC carries every number as a float; whole ones are the ints the program wrote.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _get(container: Any, key: Any) -> Any:
    try:
        return _plain(container[key])
    except UnknownValueError:
        return UNKNOWN


def from_args(args: ResourceValidationArgs) -> Resource:
    return Resource(args.resource_type, args.name, args.urn, _plain(args.props), args.opts.parent or "")


def from_policy_resource(resource: PolicyResource) -> Resource:
    return Resource(
        resource.resource_type,
        resource.name,
        resource.urn,
        _plain(resource.props),
        resource.parent.urn if resource.parent else "",
        tuple(d.urn for d in resource.dependencies),
    )


def _config(rule: Rule, given: Mapping[str, Any]) -> dict[str, Any]:
    return {**rule.defaults(), **given}


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(from_args(args), _config(rule, args.get_config())):
            report_violation(message, None)

    return ResourceValidationPolicy(rule.name, rule.description, validate, **_common(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [from_policy_resource(r) for r in args.resources]
        for violation in rule.check(resources, _config(rule, args.get_config())):
            report_violation(violation.message, violation.urn or None)

    return StackValidationPolicy(rule.name, rule.description, validate, **_common(rule))


def _common(rule: Rule) -> dict[str, Any]:
    return {
        "enforcement_level": EnforcementLevel(rule.level),
        "config_schema": PolicyConfigSchema({key: dict(schema) for key, schema in rule.config.items()}) if rule.config else None,
    }


def build_policies() -> list[Policy]:
    return [_resource_policy(r) if r.scope == "resource" else _stack_policy(r) for r in RULES]
