"""What a release did, step by step: the rows of its summary table, its exit code and summary line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cli.release.steps import ReleasePlan

EXIT_ABORTED = 1
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}
COLUMNS = ("step", "weight", "live", "result", "seconds", "reason")


@dataclass
class StepRecord:
    label: str
    weight: int | str  # "restore" for the abort's own step
    live: str = "?"
    result: str = "pending"
    reason: str = ""
    up_seconds: float = 0.0  # the edit, the --on-change hook and `pulumi up`: what the step costs beyond its bake
    bake_seconds: float = 0.0

    def row(self) -> tuple[str, ...]:
        seconds = f"{self.up_seconds:.1f} up" + (f" + {self.bake_seconds:.0f} bake" if self.bake_seconds else "")
        weight = f"{self.weight}%" if isinstance(self.weight, int) else self.weight
        return (self.label, weight, self.live, self.result, seconds, self.reason)


@dataclass
class Outcome:
    plan: ReleasePlan
    records: list[StepRecord] = field(default_factory=list)
    exit_code: int = 0
    summary: str = ""


def first_line(text: str) -> str:
    """The line that says why: the gate's refusal or the engine's error, not pulumi's banner or progress prefix."""
    for reason in (r"\S+: routing not changed: .*", r"FAILED: .*", r"error: .*"):
        found = re.search(reason, text)
        if found:
            return found.group(0).strip()[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else text)[:300]
