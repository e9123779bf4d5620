"""The metrics half of the switch gate: check the colors gaining traffic against Prometheus.

`switch_gate.SwitchGateProvider` calls `check_metrics` during `pulumi up` (never at preview) when the
app has `promotion.analysis`. It prints its report as it goes and raises `GateRefused` (the report is
the message) when routing must not change: `ThresholdsMissed` when a color misses a threshold,
`PrometheusUnusable` when Prometheus cannot answer and onUnreachable is fail.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ..shared.colors import Color
from .analysis_checks import AnalysisCheck, CheckResult, judge
from .config import PromotionAnalysis, duration_seconds
from .promotion import (
    Measurement,
    Weights,
    colors_to_gate,
    format_weights,
    missed_thresholds,
    queries,
)

ATTEMPTS = 4
TIMEOUT_SECONDS = 10.0
NO_DATA_POLL_SECONDS = 5.0  # onNoData wait: how often a check without data is asked again


class GateRefused(Exception):
    """The metrics refuse the routing change; the message is the gate's whole report."""


class ThresholdsMissed(GateRefused):
    """A color gaining traffic missed a threshold (or had too little traffic to judge)."""


class PrometheusUnusable(GateRefused):
    """Prometheus was unreachable (onUnreachable fail) or refused a query."""


class PrometheusUnreachable(Exception):
    """No answer after every retry: connection refused, timeouts, 5xx."""


class PrometheusQueryError(Exception):
    """Prometheus answered but refused the query (4xx or status error): retrying will not help."""


class CheckQueryRefused(Exception):
    """Prometheus refused a custom check's query (a PromQL parse error, usually); the message names the check."""


class _Transient(Exception):
    pass


@retry(
    retry=retry_if_exception_type((httpx.TransportError, _Transient)),
    stop=stop_after_attempt(ATTEMPTS),
    wait=wait_exponential(multiplier=0.5, max=4),
    reraise=True,
)
def _get(client: httpx.Client, promql: str, at: float | None) -> httpx.Response:
    response = client.get("/api/v1/query", params={"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"})
    if response.status_code >= 500:
        raise _Transient(f"HTTP {response.status_code}")
    return response


def instant_value(client: httpx.Client, promql: str, at: float | None = None) -> float | None:
    """The single value of an instant query evaluated at `at` (unix seconds; None: Prometheus's now), or None
    when it has no series (or NaN: nothing to divide)."""
    try:
        response = _get(client, promql, at)
    except (httpx.TransportError, _Transient) as err:
        raise PrometheusUnreachable(f"{type(err).__name__}: {err}") from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200 or body.get("status") != "success":
        raise PrometheusQueryError(f"HTTP {response.status_code}: {body.get('error', response.text[:200])} (query: {promql})")
    result = body["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def measure(client: httpx.Client, app: str, namespace: str, color: Color, window: str, at: float | None = None) -> Measurement:
    q = queries(app, namespace, color, window)
    return Measurement(instant_value(client, q.requests, at), instant_value(client, q.errors, at), instant_value(client, q.p99_ms, at))


@dataclass(frozen=True)
class Waiting:
    """How onNoData wait waits: re-query every `interval` seconds until one analysis window has passed."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    interval: float = NO_DATA_POLL_SECONDS


def run_check(
    client: httpx.Client,
    check: AnalysisCheck,
    app: str,
    namespace: str,
    color: Color,
    window: str,
    waiting: Waiting,
    at: float | None = None,
) -> CheckResult:
    """One custom check for one color. onNoData wait asks again until data arrives or `window` has passed."""
    promql = check.promql(app, namespace, color, window)
    deadline = waiting.clock() + duration_seconds(window)
    while True:
        try:
            value = instant_value(client, promql, at)
        except PrometheusQueryError as err:
            raise CheckQueryRefused(f"check {check.name}: Prometheus refused its query: {err}") from None
        if value is not None or check.on_no_data != "wait" or waiting.clock() >= deadline:
            return judge(check, value, window)
        waiting.sleep(min(waiting.interval, max(deadline - waiting.clock(), 0.0)))


def _describe(measured: Measurement) -> str:
    rate = measured.success_rate
    p99 = measured.p99_ms
    return (
        f"requests {measured.requests or 0:.0f}, "
        f"success rate {'n/a' if rate is None else f'{rate:.2%}'}, "
        f"p99 {'n/a' if p99 is None else f'{p99:.0f} ms'}"
    )


def to_stderr(line: str) -> None:
    """Where a dynamic provider's report goes: the engine shows the provider's output during `pulumi up`."""
    print(line, file=sys.stderr, flush=True)


class _Report:
    """The report lines, printed as they come and kept for the refusal's message."""

    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.say(line)

    def refuse(self, kind: type[GateRefused], line: str) -> GateRefused:
        self(line)
        return kind("\n".join(self.lines))


def check_metrics(
    app: str,
    namespace: str,
    weights: Weights,
    previous: Weights | None,
    analysis: PromotionAnalysis,
    say: Callable[[str], None] = to_stderr,
    waiting: Waiting | None = None,
    cohort: Color | None = None,
    previous_cohort: Color | None = None,
    at: float | None = None,
) -> list[str]:
    """Check every color whose share grows from `previous` (None: the gate is new) to `weights`. Prometheus
    evaluates the queries at its own now, or at `at` (unix seconds): tests pin it to one scrape's timestamp,
    so every query sees the same samples and the numbers are exact.

    Returns the report when routing may change; raises GateRefused with the report when it may not.
    """
    report = _Report(say)
    waiting = waiting or Waiting()
    gated = colors_to_gate(weights, previous, cohort, previous_cohort)
    report(
        f"promotion gate for {app} (namespace {namespace}): routing {format_weights(weights)}, "
        f"previous {format_weights(previous) if previous else 'none'}"
    )
    if gated:
        report(
            f"checking {', '.join(gated)} over {analysis.window} at {analysis.prometheus_url}: "
            f"minRequests {analysis.min_requests}, minSuccessRate {analysis.min_success_rate:.2%}, maxP99Ms {analysis.max_p99_ms:g}"
            + "".join(f", {check.name} {check.bound_text}" for check in analysis.checks)
        )
    else:
        report("no color gains traffic: nothing to check")
    failures = []
    try:
        with httpx.Client(base_url=analysis.prometheus_url, timeout=TIMEOUT_SECONDS) as client:
            for color in gated:
                measured = measure(client, app, namespace, color, analysis.window, at)
                missed = missed_thresholds(measured, analysis)
                report(f"  {color}: {_describe(measured)} -> {'MISSED: ' + '; '.join(missed) if missed else 'ok'}")
                failures += [f"{color}: {reason}" for reason in missed]
                for check in analysis.checks:
                    result = run_check(client, check, app, namespace, color, analysis.window, waiting, at)
                    report(f"  {color}: {result.line}")
                    failures += [f"{color}: {result.failure}"] if result.failure else []
    except PrometheusUnreachable as err:
        where = f"Prometheus at {analysis.prometheus_url} unreachable after {ATTEMPTS} attempts ({err})"
        if analysis.on_unreachable == "fail":
            raise report.refuse(PrometheusUnusable, f"FAILED: {where}. onUnreachable=fail: routing stays as it was.") from None
        report(f"WARNING: {where}. onUnreachable=skip: PROMOTING WITHOUT ANY METRIC CHECK.")
        return report.lines
    except CheckQueryRefused as err:
        raise report.refuse(
            PrometheusUnusable, f"FAILED: {err}. Fix the query in promotion.analysis.checks; routing stays as it was."
        ) from None
    except PrometheusQueryError as err:
        raise report.refuse(PrometheusUnusable, f"FAILED: Prometheus refused a gate query: {err}. Routing stays as it was.") from None
    if failures:
        raise report.refuse(ThresholdsMissed, f"FAILED: promotion gate missed thresholds ({'; '.join(failures)}). Routing stays as it was.")
    if gated:
        report("PASSED: every color gaining traffic meets the thresholds")
    return report.lines
