"""What a plan records: every registration as the engine would see it, the invokes, outputs and warnings. Plain
data, so reading a plan never loads the Pulumi SDK."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    dependencies: list[str]
    provider: str
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The fields by name, for json.dumps: `dataclasses.asdict` without its deep copy of every input."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Invoke:
    token: str
    args: dict[str, Any]
    answer: dict[str, Any]


@dataclass
class Recording:
    resources: list[Registration] = field(default_factory=list)
    invokes: list[Invoke] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Resources the program reads (`Resource.get`), as (type, name, id).
    reads: list[tuple[str, str, str]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}

    def settle(self) -> None:
        """Put everything in a canonical order. The SDK sends each registration once its inputs and dependencies
        have resolved, so they arrive in an order that varies between runs; the same program must record the same plan."""
        self.resources = tree_order(self.resources)
        self.invokes.sort(key=lambda i: (i.token, json.dumps(i.args, sort_keys=True, default=str)))
        self.warnings.sort()
        self.reads.sort()


def tree_order(resources: list[Registration]) -> list[Registration]:
    """Resources as `pulumi preview` draws them: each one followed by its children, siblings by type then name."""
    urns = {r.urn for r in resources}
    children: dict[str, list[Registration]] = {}
    for resource in resources:
        # Children of the stack (never recorded) are the roots.
        children.setdefault(resource.parent if resource.parent in urns else "", []).append(resource)
    ordered: list[Registration] = []

    def visit(parent: str) -> None:
        for child in sorted(children.get(parent, []), key=lambda r: (r.type, r.name, r.urn)):
            ordered.append(child)
            visit(child.urn)

    visit("")
    return ordered
