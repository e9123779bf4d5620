"""The promotion gate, pure parts: which colors to check, the PromQL, the verdict, the command line.

Before a color's share of production traffic grows (a flip, a canary increase), Istio's standard
metrics for that color must show enough requests, a high enough success rate and a low enough p99
over the window. `promotion_gate.py` runs this against Prometheus during `pulumi up`.

Which colors are gated: every color whose default-route weight grows compared with the routing the
gate last approved (the previous run's stdout, which pulumi-command hands back in
PULUMI_COMMAND_STDOUT). Without a previous approval (the gate is new) every color that gets traffic
is gated. Colors that keep or lose share are not: rolling traffic back never waits on them.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from .config import COLORS, AppConfig, Color, PromotionAnalysis
from .routing import RoutingModel

REQUESTS = "istio_requests_total"
DURATION_BUCKETS = "istio_request_duration_milliseconds_bucket"
APPROVED_PREFIX = "promotion-gate approved routing: "
GATE_MODULE = "components.promotion_gate"
# pulumi-command runs the gate from the project directory; the program's own venv has httpx and tenacity.
GATE_PYTHON = "venv/bin/python"

Weights = dict[Color, int]


def selector(app: str, namespace: str, color: Color | None = None) -> str:
    """Requests to the app (or one color) as its own sidecars report them (Istio's `app`/`version` labels)."""
    labels = {"reporter": "destination", "destination_workload_namespace": namespace, "destination_app": app}
    if color:
        labels["destination_version"] = color
    return ",".join(f'{key}="{value}"' for key, value in labels.items())


@dataclass(frozen=True)
class Queries:
    requests: str
    errors: str
    p99_ms: str


def queries(app: str, namespace: str, color: Color, window: str) -> Queries:
    match = selector(app, namespace, color)
    return Queries(
        requests=f"sum(increase({REQUESTS}{{{match}}}[{window}]))",
        errors=f'sum(increase({REQUESTS}{{{match},response_code=~"5.."}}[{window}]))',
        p99_ms=f"histogram_quantile(0.99, sum by (le) (rate({DURATION_BUCKETS}{{{match}}}[{window}])))",
    )


@dataclass(frozen=True)
class Measurement:
    """What Prometheus answered; None where it had no series (no traffic in the window)."""

    requests: float | None
    errors: float | None
    p99_ms: float | None

    @property
    def success_rate(self) -> float | None:
        if not self.requests:
            return None
        return 1 - (self.errors or 0) / self.requests


def missed_thresholds(measured: Measurement, analysis: PromotionAnalysis) -> list[str]:
    """Every threshold the measurement misses, worded for the report; empty means the color passes."""
    requests = measured.requests or 0
    if requests < analysis.min_requests:
        return [f"only {requests:.0f} requests in {analysis.window} (minRequests {analysis.min_requests}): send preview or canary traffic first"]
    missed = []
    rate = measured.success_rate
    if rate is not None and rate < analysis.min_success_rate:
        missed.append(f"success rate {rate:.2%} is below minSuccessRate {analysis.min_success_rate:.2%}")
    if measured.p99_ms is None:
        missed.append("no request duration histogram for p99")
    elif measured.p99_ms > analysis.max_p99_ms:
        missed.append(f"p99 latency {measured.p99_ms:.0f} ms is above maxP99Ms {analysis.max_p99_ms:g} ms")
    return missed


# --- routing approvals ----------------------------------------------------------------------------


def default_weights(model: RoutingModel) -> Weights:
    """Each color's share of production (default route) traffic."""
    shares = {d.color: d.weight for d in model.default_route.destinations}
    return {color: shares.get(color, 0) for color in COLORS}


def format_weights(weights: Weights) -> str:
    return ",".join(f"{color}={weights[color]}" for color in COLORS)


def parse_weights(text: str) -> Weights:
    weights = {}
    for part in text.split(","):
        color, _, weight = part.partition("=")
        if color not in COLORS or not weight.isdigit():
            raise ValueError(f"weights must look like blue=90,green=10, got {text!r}")
        weights[color] = int(weight)
    if set(weights) != set(COLORS) or sum(weights.values()) != 100:
        raise ValueError(f"weights must name blue and green and add up to 100, got {text!r}")
    return weights


def approved_weights(previous_stdout: str | None) -> Weights | None:
    """The routing the gate approved last time, read back from its previous output."""
    lines = [line for line in (previous_stdout or "").splitlines() if line.startswith(APPROVED_PREFIX)]
    return parse_weights(lines[-1].removeprefix(APPROVED_PREFIX).strip()) if lines else None


def colors_to_gate(new: Weights, previous: Weights | None) -> list[Color]:
    if previous is None:
        return [color for color in COLORS if new[color] > 0]
    return [color for color in COLORS if new[color] > previous[color]]


# --- the command pulumi-command runs ----------------------------------------------------------------


def gate_command(app: str, cfg: AppConfig, model: RoutingModel, analysis: PromotionAnalysis) -> str:
    """The shell command that gates this routing; any change to it (routing, thresholds) re-runs the gate."""
    args = {
        "--app": app,
        "--namespace": cfg.namespace,
        "--weights": format_weights(default_weights(model)),
        "--prometheus-url": analysis.prometheus_url,
        "--window": analysis.window,
        "--min-success-rate": f"{analysis.min_success_rate:g}",
        "--max-p99-ms": f"{analysis.max_p99_ms:g}",
        "--min-requests": str(analysis.min_requests),
        "--on-unreachable": analysis.on_unreachable,
    }
    return shlex.join([GATE_PYTHON, "-m", GATE_MODULE, *(part for pair in args.items() for part in pair)])
