"""Run the rules outside the Pulumi engine, with the same pack config `--policy-pack-config` takes.

Config format (as the Pulumi CLI reads it): `{"all": <level>, "<policy>": <level> | {"enforcementLevel":
<level>, <property>: <value>}}`; a policy's own level wins over `all`, which wins over the default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .catalog import DISABLED, LEVELS, MANDATORY, PACK_NAME, PACK_VERSION, RULES, Rule
from .model import Resource


class PackConfigError(ValueError):
    """The pack config is not JSON, names an unknown policy or property, or breaks a property's schema."""


@dataclass(frozen=True)
class Settings:
    level: str
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    policy: str
    description: str
    level: str
    resource: Resource | None
    message: str


def load_config(path: Path | None) -> dict[str, Any]:
    if not (path and path.exists()):
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PackConfigError(f"not valid JSON: {err}") from None


def _check_level(where: str, level: Any) -> str:
    if level not in LEVELS:
        raise PackConfigError(f"{where}: enforcementLevel must be one of {', '.join(LEVELS)}, got {level!r}")
    return level


def _properties(rule: Rule, entry: Mapping[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
    for key, value in props.items():
        schema = rule.config.get(key)
        if schema is None:
            raise PackConfigError(f"{rule.name}.{key}: unknown property (known: {', '.join(rule.config) or 'none'})")
        try:
            # The same JSON Schema the Pulumi CLI checks `--policy-pack-config` against.
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError as err:
            raise PackConfigError(f"{rule.name}.{key}: {err.message}") from None
    return {**rule.defaults(), **props}


def resolve(raw: Mapping[str, Any]) -> dict[str, Settings]:
    """Each policy's effective level and config, validated like the CLI validates against config schemas."""
    names = {r.name for r in RULES}
    unknown = sorted(set(raw) - names - {"all"})
    if unknown:
        raise PackConfigError(f"unknown policies: {', '.join(unknown)}")
    everything = raw.get("all")
    everything = everything.get("enforcementLevel") if isinstance(everything, Mapping) else everything
    settings = {}
    for rule in RULES:
        entry = raw.get(rule.name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else entry
        level = entry.get("enforcementLevel") or everything or rule.level
        settings[rule.name] = Settings(_check_level(rule.name, level), _properties(rule, entry))
    return settings


def evaluate(resources: Sequence[Resource], raw_config: Mapping[str, Any]) -> list[Finding]:
    settings = resolve(raw_config)
    by_urn = {r.urn: r for r in resources}
    findings: list[Finding] = []
    for rule in RULES:
        chosen = settings[rule.name]
        if chosen.level == DISABLED:
            continue
        hits: list[tuple[Resource | None, str]]
        if rule.scope == "resource":
            hits = [(r, m) for r in resources for m in rule.check(r, chosen.config)]
        else:
            hits = [(by_urn.get(v.urn), v.message) for v in rule.check(list(resources), chosen.config)]
        findings += [Finding(rule.name, rule.description, chosen.level, r, m) for r, m in hits]
    return findings


def has_mandatory(findings: Sequence[Finding]) -> bool:
    return any(f.level == MANDATORY for f in findings)


def report(findings: Sequence[Finding], version: str = PACK_VERSION) -> str:
    """Violations laid out like `pulumi preview --policy-pack` prints them."""
    if not findings:
        return f"Policies: {PACK_NAME}@v{version}: {len(RULES)} policies, no violations"
    lines = ["Policy Violations:"]
    for f in sorted(findings, key=lambda f: (f.level != MANDATORY, f.policy)):
        where = f" ({f.resource.type}: {f.resource.name})" if f.resource else ""
        lines += [f"    [{f.level}]  {PACK_NAME} v{version}  {f.policy}{where}", f"    {f.description}", f"    {f.message}"]
    mandatory = sum(f.level == MANDATORY for f in findings)
    lines.append(f"{len(findings)} violations ({mandatory} mandatory, {len(findings) - mandatory} advisory)")
    return "\n".join(lines)
