"""A/B cohort routes are a subset of production, never all of it: a match every request carries is a flip in disguise."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .model import VIRTUAL_SERVICE, Resource, as_mapping, items

# Values a match is tried on: one that takes them all takes any value of its header.
_PROBES = ("", "zz-any-value-9", "Mozilla/5.0 (X11; Linux x86_64)")


def _takes_any_value(kind: str, pattern: Any) -> bool:
    if not isinstance(pattern, str):
        return False  # unknown during preview
    if kind == "prefix":
        return pattern == ""
    if kind == "regex":
        try:
            compiled = re.compile(pattern)
        except re.error:
            return False  # not a Python regex: Istio's own validation refuses a broken one
        return all(compiled.fullmatch(probe) for probe in _PROBES)
    return False


def cohorts_are_a_subset(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """Each http route named `<routePrefix>...` must match something, and not a header every request carries
    (`universalHeaders`) with any value."""
    if not resource.is_a(VIRTUAL_SERVICE):
        return []
    universal = {str(h).lower() for h in config["universalHeaders"]}
    problems = []
    for index, route in enumerate(map(as_mapping, items(resource.spec.get("http")))):
        name = str(route.get("name", ""))
        if not name.startswith(config["routePrefix"]):
            continue
        where = f"{resource.ref}: http[{index}] ({name})"
        matches = [as_mapping(m) for m in items(route.get("match"))]
        if not matches:
            problems.append(f"{where} has no match: it takes every request; a cohort is a subset (to move everyone use flip)")
        for match in matches:
            for header, value in as_mapping(match.get("headers")).items():
                kind, pattern = next(iter(as_mapping(value).items()), ("exact", None))
                if header.lower() in universal and _takes_any_value(kind, pattern):
                    problems.append(
                        f"{where} matches any {header} header ({kind} {pattern!r}), which every request carries: "
                        "it sends all traffic to one color; narrow the match (to move everyone use flip)"
                    )
    return problems
