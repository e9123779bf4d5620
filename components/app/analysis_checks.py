"""Custom analysis checks: `promotion.analysis.checks`, the team's own PromQL beside the three built-in checks.

A check's `query` is PromQL with placeholders the gate fills in per color: `{app}`, `{namespace}`, `{color}`
and `{window}`. Only those four are known (a misspelt one is a config error naming the check); PromQL's own
braces (`metric{label="x"}`) are not placeholders, since a placeholder is a bare name between braces.
The query itself is parsed by the real Prometheus when the gate runs it: a parse error refuses the routing
change naming the check (components/app/promotion_gate.py).

"No data" (an empty result or NaN) is its own outcome, chosen per check with `onNoData`:
`fail` (default: nothing proves the color healthy), `pass` (e.g. an error counter that only exists once
an error happened) or `wait` (re-query until data arrives, for at most one analysis window, then fail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from ..shared.colors import Color
from ..shared.fields import DnsLabel, KeyedProblems, Model

PLACEHOLDERS = ("app", "namespace", "color", "window")
# A placeholder is a bare name between braces; `{le="0.5"}` or `{}` are PromQL and left alone.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The built-in checks' names in the gate's report: a custom check must not pass for one of them.
BUILT_IN = ("requests", "success-rate", "p99")

OnNoData = Literal["fail", "pass", "wait"]


def placeholders_in(query: str) -> list[str]:
    return _PLACEHOLDER.findall(query)


def _known_placeholders(query: str) -> str:
    if not query.strip():
        raise ValueError("must be a PromQL expression, got an empty query")
    unknown = sorted({name for name in placeholders_in(query) if name not in PLACEHOLDERS})
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {', '.join(f'{{{name}}}' for name in unknown)}: the known ones are {known}")
    if "color" not in placeholders_in(query):
        raise ValueError("must use {color}: a check judges the color about to gain traffic, not the whole app")
    return query


def _number(value: object) -> object:
    # pydantic reads `true` as 1.0: a threshold written as a boolean is a mistake.
    if isinstance(value, bool):
        raise ValueError(f"must be a number such as 0.5 or 100, got {value}")
    return value


Threshold = Annotated[float, BeforeValidator(_number)]
Query = Annotated[str, AfterValidator(_known_placeholders)]


class AnalysisCheck(Model):
    """One custom check: the color passes when the query's value is at most `max` (or at least `min`)."""

    name: DnsLabel
    query: Query
    max: Threshold | None = None
    min: Threshold | None = None
    on_no_data: OnNoData = "fail"

    @model_validator(mode="after")
    def _one_bound(self) -> AnalysisCheck:
        if (self.max is None) == (self.min is None):
            raise KeyedProblems([("max", f"check {self.name}: set exactly one of max or min (the bound its value must keep)")])
        return self

    def promql(self, app: str, namespace: str, color: Color, window: str) -> str:
        """The query for one color, placeholders filled in (nothing else in it is touched)."""
        values = {"app": app, "namespace": namespace, "color": color, "window": window}
        return _PLACEHOLDER.sub(lambda found: values[found.group(1)], self.query)

    @property
    def bound_text(self) -> str:
        return f"max {self.max:g}" if self.max is not None else f"min {self.min:g}"

    def missed(self, value: float) -> str | None:
        """Why `value` misses the bound, or None when it keeps it."""
        if self.max is not None and value > self.max:
            return f"{self.name} {value:g} is above max {self.max:g}"
        if self.min is not None and value < self.min:
            return f"{self.name} {value:g} is below min {self.min:g}"
        return None


def _unique_names(checks: list[AnalysisCheck]) -> list[AnalysisCheck]:
    names = [check.name for check in checks]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"check names must be unique, {', '.join(twice)} appears more than once")
    clash = sorted(set(names) & set(BUILT_IN))
    if clash:
        raise ValueError(f"{', '.join(clash)} is a built-in check's name: name the custom check differently")
    return checks


Checks = Annotated[list[AnalysisCheck], Field(default_factory=list), AfterValidator(_unique_names)]


@dataclass(frozen=True)
class CheckResult:
    """A custom check's outcome for one color: its value (None: no data) and the reason it failed, if it did."""

    check: AnalysisCheck
    value: float | None
    failure: str | None

    @property
    def line(self) -> str:
        shown = "no data" if self.value is None else f"{self.value:g}"
        verdict = f"MISSED: {self.failure}" if self.failure else "ok"
        return f"{self.check.name} {shown} ({self.check.bound_text}, onNoData {self.check.on_no_data}) -> {verdict}"


def judge(check: AnalysisCheck, value: float | None, window: str) -> CheckResult:
    """The verdict on a value; `None` (no data) is decided by onNoData (`wait` has already waited when it lands here)."""
    if value is None:
        if check.on_no_data == "pass":
            return CheckResult(check, None, None)
        waited = f" after waiting {window}" if check.on_no_data == "wait" else ""
        return CheckResult(check, None, f"{check.name} has no data{waited} (onNoData {check.on_no_data})")
    return CheckResult(check, value, check.missed(value))
