"""Run the promotion gate against Prometheus: `python -m components.promotion_gate --app ... --weights ...`.

pulumi-command runs this on create and update of an app's gate (never at preview); the app's
VirtualService depends on the gate, so a non-zero exit leaves routing as it was.
Exit status: 0 passed (or skipped with a warning), 1 a threshold was missed, 2 Prometheus unusable.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Sequence

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from .config import Color, PromotionAnalysis
from .promotion import (
    APPROVED_PREFIX,
    Measurement,
    approved_weights,
    colors_to_gate,
    format_weights,
    missed_thresholds,
    parse_weights,
    queries,
)

PASSED, MISSED, UNUSABLE = 0, 1, 2
ATTEMPTS = 4
TIMEOUT_SECONDS = 10.0


class PrometheusUnreachable(Exception):
    """No answer after every retry: connection refused, timeouts, 5xx."""


class PrometheusQueryError(Exception):
    """Prometheus answered but refused the query (4xx or status error): retrying will not help."""


class _Transient(Exception):
    pass


@retry(
    retry=retry_if_exception_type((httpx.TransportError, _Transient)),
    stop=stop_after_attempt(ATTEMPTS),
    wait=wait_exponential(multiplier=0.5, max=4),
    reraise=True,
)
def _get(client: httpx.Client, promql: str) -> httpx.Response:
    response = client.get("/api/v1/query", params={"query": promql})
    if response.status_code >= 500:
        raise _Transient(f"HTTP {response.status_code}")
    return response


def instant_value(client: httpx.Client, promql: str) -> float | None:
    """The single value of an instant query, or None when it has no series (or NaN: nothing to divide)."""
    try:
        response = _get(client, promql)
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


def measure(client: httpx.Client, app: str, namespace: str, color: Color, window: str) -> Measurement:
    q = queries(app, namespace, color, window)
    return Measurement(instant_value(client, q.requests), instant_value(client, q.errors), instant_value(client, q.p99_ms))


def _describe(measured: Measurement) -> str:
    rate = measured.success_rate
    p99 = measured.p99_ms
    return (
        f"requests {measured.requests or 0:.0f}, "
        f"success rate {'n/a' if rate is None else f'{rate:.2%}'}, "
        f"p99 {'n/a' if p99 is None else f'{p99:.0f} ms'}"
    )


def _say(line: str, loud: bool = False) -> None:
    print(line, flush=True)
    if loud:
        print(line, file=sys.stderr, flush=True)


def run_gate(app: str, namespace: str, weights: dict[Color, int], analysis: PromotionAnalysis, previous_stdout: str | None) -> int:
    previous = approved_weights(previous_stdout)
    gated = colors_to_gate(weights, previous)
    _say(f"promotion gate for {app} (namespace {namespace}): routing {format_weights(weights)}, "
         f"last approved {format_weights(previous) if previous else 'none'}")
    if gated:
        _say(f"checking {', '.join(gated)} over {analysis.window} at {analysis.prometheus_url}: "
             f"minRequests {analysis.min_requests}, minSuccessRate {analysis.min_success_rate:.2%}, maxP99Ms {analysis.max_p99_ms:g}")
    else:
        _say("no color gains traffic: nothing to check")
    status = _check_colors(app, namespace, gated, analysis)
    if status == PASSED:
        _say(APPROVED_PREFIX + format_weights(weights))
    return status


def _check_colors(app: str, namespace: str, gated: list[Color], analysis: PromotionAnalysis) -> int:
    failures = []
    try:
        with httpx.Client(base_url=analysis.prometheus_url, timeout=TIMEOUT_SECONDS) as client:
            for color in gated:
                measured = measure(client, app, namespace, color, analysis.window)
                missed = missed_thresholds(measured, analysis)
                _say(f"  {color}: {_describe(measured)} -> {'MISSED: ' + '; '.join(missed) if missed else 'ok'}")
                failures += [f"{color}: {reason}" for reason in missed]
    except PrometheusUnreachable as err:
        return _unreachable(analysis, str(err))
    except PrometheusQueryError as err:
        _say(f"FAILED: Prometheus refused a gate query: {err}. Routing stays as it was.", loud=True)
        return UNUSABLE
    if failures:
        _say(f"FAILED: promotion gate missed thresholds ({'; '.join(failures)}). Routing stays as it was.", loud=True)
        return MISSED
    if gated:
        _say("PASSED: every color gaining traffic meets the thresholds")
    return PASSED


def _unreachable(analysis: PromotionAnalysis, reason: str) -> int:
    where = f"Prometheus at {analysis.prometheus_url} unreachable after {ATTEMPTS} attempts ({reason})"
    if analysis.on_unreachable == "skip":
        _say(f"WARNING: {where}. onUnreachable=skip: PROMOTING WITHOUT ANY METRIC CHECK.", loud=True)
        return PASSED
    _say(f"FAILED: {where}. onUnreachable=fail: routing stays as it was.", loud=True)
    return UNUSABLE


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m components.promotion_gate", description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--weights", required=True, type=parse_weights, help="new routing, e.g. blue=90,green=10")
    parser.add_argument("--prometheus-url", required=True)
    # No defaults here: `promotion.gate_command` passes every threshold, and PromotionAnalysis owns the defaults.
    parser.add_argument("--window", required=True)
    parser.add_argument("--min-success-rate", type=float, required=True)
    parser.add_argument("--max-p99-ms", type=float, required=True)
    parser.add_argument("--min-requests", type=int, required=True)
    parser.add_argument("--on-unreachable", choices=("fail", "skip"), required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    analysis = PromotionAnalysis.model_validate({
        "prometheusUrl": args.prometheus_url,
        "window": args.window,
        "minSuccessRate": args.min_success_rate,
        "maxP99Ms": args.max_p99_ms,
        "minRequests": args.min_requests,
        "onUnreachable": args.on_unreachable,
    })
    # pulumi-command hands the previous create/update output back to the next update.
    return run_gate(args.app, args.namespace, args.weights, analysis, os.environ.get("PULUMI_COMMAND_STDOUT"))


if __name__ == "__main__":
    sys.exit(main())
