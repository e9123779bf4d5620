"""One source tree's offline plan, as the diff compares it (and the change rules read it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.shared import traffic


@dataclass
class TreePlan:
    resources: dict[str, dict[str, Any]]  # by URN, in registration order
    traffic: dict[str, traffic.Traffic]  # by VirtualService (app) name
    outputs: dict[str, Any]
    missing: bool = False  # no Pulumi.<stack>.yaml in this tree
