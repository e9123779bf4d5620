"""The promotion gate, pure parts: which colors to check, the PromQL, the verdict.

Before a color's share of production traffic grows (a flip, a canary increase), Istio's standard
metrics for that color must show enough requests, a high enough success rate and a low enough p99
over the window. The app's switch gate (`switch_gate.py`) runs this against Prometheus during
`pulumi up`, through `promotion_gate.py`.

Which colors are gated: every color whose default-route weight grows compared with the routing the
gate passed last time (the weights in its state, the dynamic provider's olds). Without a previous
routing (the gate is new) every color that gets traffic is gated. Colors that keep or lose share are
not: rolling traffic back never waits on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..shared.colors import COLORS, Color
from .config import PromotionAnalysis
from .routing import RoutingModel

REQUESTS = "istio_requests_total"
DURATION_BUCKETS = "istio_request_duration_milliseconds_bucket"

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
        return [
            f"only {requests:.0f} requests in {analysis.window} (minRequests {analysis.min_requests}): send preview or canary traffic first"
        ]
    missed = []
    rate = measured.success_rate
    if rate is not None and rate < analysis.min_success_rate:
        missed.append(f"success rate {rate:.2%} is below minSuccessRate {analysis.min_success_rate:.2%}")
    if measured.p99_ms is None:
        missed.append("no request duration histogram for p99")
    elif measured.p99_ms > analysis.max_p99_ms:
        missed.append(f"p99 latency {measured.p99_ms:.0f} ms is above maxP99Ms {analysis.max_p99_ms:g} ms")
    return missed


# --- routing ---------------------------------------------------------------------------------------


def default_weights(model: RoutingModel) -> Weights:
    """Each color's share of production (default route) traffic."""
    shares = {d.color: d.weight for d in model.default_route.destinations}
    return {color: shares.get(color, 0) for color in COLORS}


def format_weights(weights: Weights) -> str:
    return ",".join(f"{color}={weights[color]}" for color in COLORS)


def as_weights(value: Mapping[str, Any]) -> Weights:
    """Weights as the gate's inputs or state hold them (the engine's numbers are floats), checked."""
    weights = {}
    for color, weight in value.items():
        whole = isinstance(weight, (int, float)) and not isinstance(weight, bool) and float(weight).is_integer()
        if color not in COLORS or not whole or not 0 <= weight <= 100:
            raise ValueError(f"weights must map blue and green to whole percentages, got {dict(value)!r}")
        weights[color] = int(weight)
    if set(weights) != set(COLORS) or sum(weights.values()) != 100:
        raise ValueError(f"weights must name blue and green and add up to 100, got {dict(value)!r}")
    return {color: weights[color] for color in COLORS}


def colors_to_gate(
    new: Weights, previous: Weights | None, cohort: Color | None = None, previous_cohort: Color | None = None
) -> list[Color]:
    """Colors whose default share grows, and the color A/B cohorts start going to (`cohort`, from `previous_cohort`)."""
    if previous is None:
        grows = {color for color in COLORS if new[color] > 0}
    else:
        grows = {color for color in COLORS if new[color] > previous[color]}
    if cohort is not None and (previous is None or cohort != previous_cohort):
        grows.add(cohort)
    return [color for color in COLORS if color in grows]


def cohort_color(model: RoutingModel) -> Color | None:
    """The color the A/B cohorts send their users to, or None without active cohorts."""
    return model.idle if model.cohorts else None
