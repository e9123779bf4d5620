"""The promotion gate: config validation, PromQL, which colors are gated, the verdict, and its wiring."""

from __future__ import annotations

import pytest

from components.app import promotion
from components.app.config import PromotionAnalysis
from components.app.promotion import Measurement
from components.config import ConfigError, parse_stack_config
from tests.conftest import find

GATE_TYPE = "pulumi-python:dynamic:SwitchGate"
ANALYSIS = {"prometheusUrl": "http://prometheus.istio-system:9090", "window": "5m"}


def with_analysis(config, **overrides):
    config["apps"]["front"]["promotion"] = {"analysis": {**ANALYSIS, **overrides}}
    return config


def problems(config) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    return err.value.problems


# --- config ---------------------------------------------------------------------------------------


def test_analysis_defaults(config):
    analysis = parse_stack_config(with_analysis(config)).apps["front"].promotion.analysis
    assert analysis is not None
    assert (analysis.min_success_rate, analysis.max_p99_ms, analysis.min_requests, analysis.on_unreachable) == (0.99, 500, 100, "fail")


def test_no_analysis_by_default(config):
    assert parse_stack_config(config).apps["front"].promotion.analysis is None


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("prometheusUrl", "prometheus:9090", "must be an http(s) URL such as http://prometheus:9090, got 'prometheus:9090'"),
        ("window", "5min", "must be a Prometheus duration such as 30s, 5m or 1h, got '5min'"),
        ("minSuccessRate", 99, "must be a fraction greater than 0 and at most 1 such as 0.99, got 99.0"),
        ("maxP99Ms", -1, "must be greater than 0, got -1.0"),
        ("minRequests", 0, "must be at least 1, got 0"),
        ("onUnreachable", "ignore", "must be 'fail' or 'skip', got 'ignore'"),
        ("thresholds", {}, "unknown key"),
    ],
)
def test_invalid_analysis_names_the_key(config, key, value, message):
    assert problems(with_analysis(config, **{key: value})) == [f"apps.front.promotion.analysis.{key}: {message}"]


def test_prometheus_url_is_required(config):
    config["apps"]["front"]["promotion"] = {"analysis": {"window": "5m"}}
    assert problems(config) == ["apps.front.promotion.analysis.prometheusUrl: is required"]


# --- PromQL ---------------------------------------------------------------------------------------


def test_queries_use_istio_standard_metrics_for_one_color():
    q = promotion.queries("front", "app", "green", "5m")
    match = 'reporter="destination",destination_workload_namespace="app",destination_app="front",destination_version="green"'
    assert q.requests == f"sum(increase(istio_requests_total{{{match}}}[5m]))"
    assert q.errors == f'sum(increase(istio_requests_total{{{match},response_code=~"5.."}}[5m]))'
    assert q.p99_ms == f"histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{match}}}[5m])))"


# --- verdict --------------------------------------------------------------------------------------

STRICT = PromotionAnalysis(prometheusUrl="http://p:9090", minSuccessRate=0.99, maxP99Ms=500, minRequests=100)


def test_healthy_measurement_passes():
    assert promotion.missed_thresholds(Measurement(requests=1000, errors=5, p99_ms=120), STRICT) == []


def test_every_missed_threshold_is_reported():
    missed = promotion.missed_thresholds(Measurement(requests=1000, errors=50, p99_ms=900), STRICT)
    assert missed == ["success rate 95.00% is below minSuccessRate 99.00%", "p99 latency 900 ms is above maxP99Ms 500 ms"]


@pytest.mark.parametrize("requests", [None, 0, 99])
def test_too_little_traffic_fails(requests):
    missed = promotion.missed_thresholds(Measurement(requests=requests, errors=None, p99_ms=None), STRICT)
    assert len(missed) == 1 and missed[0].startswith(f"only {requests or 0} requests in 5m (minRequests 100)")


def test_no_errors_series_means_no_errors():
    assert Measurement(requests=200, errors=None, p99_ms=10).success_rate == 1.0


def test_missing_latency_histogram_fails():
    assert promotion.missed_thresholds(Measurement(requests=200, errors=0, p99_ms=None), STRICT) == [
        "no request duration histogram for p99"
    ]


# --- which colors are gated -------------------------------------------------------------------------


def weights(text: str) -> dict[str, int]:
    return {color: int(weight) for color, _, weight in (part.partition("=") for part in text.split(","))}


@pytest.mark.parametrize(
    "previous, new, gated",
    [
        (None, "blue=100,green=0", ["blue"]),  # first run: whoever gets traffic
        (None, "blue=90,green=10", ["blue", "green"]),
        ("blue=100,green=0", "blue=0,green=100", ["green"]),  # flip: the new active
        ("blue=100,green=0", "blue=90,green=10", ["green"]),  # canary increase: the idle
        ("blue=90,green=10", "blue=75,green=25", ["green"]),
        ("blue=75,green=25", "blue=100,green=0", ["blue"]),  # canary rollback: the color taking traffic back
        ("blue=100,green=0", "blue=100,green=0", []),  # thresholds changed only: nothing moves
    ],
)
def test_colors_gaining_share_are_gated(previous, new, gated):
    before = promotion.as_weights(weights(previous)) if previous else None
    assert promotion.colors_to_gate(promotion.as_weights(weights(new)), before) == gated


def test_weights_from_state_are_whole_numbers_again():
    # The engine hands numbers to the dynamic provider as floats; the previous routing comes from its state.
    assert promotion.as_weights({"green": 10.0, "blue": 90.0}) == {"blue": 90, "green": 10}
    assert promotion.format_weights(promotion.as_weights({"blue": 90.0, "green": 10.0})) == "blue=90,green=10"


@pytest.mark.parametrize(
    "value",
    [
        {"blue": 90},
        {"blue": 90, "green": 20},
        {"red": 50, "green": 50},
        {"blue": "x", "green": 100},
        {"blue": 150, "green": -50},
        {"blue": 99.5, "green": 0.5},
        {"blue": True, "green": 99},
    ],
)
def test_malformed_weights_are_refused(value):
    with pytest.raises(ValueError):
        promotion.as_weights(value)


# --- wiring under the mock engine ---------------------------------------------------------------------


def test_analysis_is_a_gate_input_only_when_configured(run_stack, config):
    # Without analysis the gate checks readiness only; the metrics half has nothing to read.
    assert "analysis" not in find(run_stack(config), GATE_TYPE, "front-switch-gate").inputs


def test_gate_carries_routing_and_thresholds(run_stack, config):
    config["apps"]["front"].update({"activeColor": "green", "canaryWeight": 10})
    rec = run_stack(with_analysis(config, onUnreachable="skip", minSuccessRate=0.995, maxP99Ms=250.5))
    gate = find(rec, GATE_TYPE, "front-switch-gate")
    assert (gate.inputs["app"], gate.inputs["namespace"]) == ("front", "app")
    assert gate.inputs["weights"] == {"blue": 10, "green": 90}
    assert gate.inputs["analysis"] == {
        "prometheusUrl": "http://prometheus.istio-system:9090",
        "window": "5m",
        "minSuccessRate": 0.995,
        "maxP99Ms": 250.5,
        "minRequests": 100,
        "onUnreachable": "skip",
    }


def test_provider_rebuilds_the_same_analysis_from_the_gate_inputs(run_stack, config):
    from components.app.switch_gate import GateInputs

    raw = with_analysis(config, minSuccessRate=0.995, maxP99Ms=250.5)
    cfg = parse_stack_config(raw).apps["front"]
    gate = find(run_stack(raw), GATE_TYPE, "front-switch-gate")
    # As the provider process receives them: every number a float.
    engine_inputs = {**gate.inputs, "analysis": {k: float(v) if isinstance(v, int) else v for k, v in gate.inputs["analysis"].items()}}
    assert GateInputs.of(engine_inputs).analysis == cfg.promotion.analysis


def test_routing_waits_for_the_gate_and_the_gate_for_the_colors(run_stack, config):
    rec = run_stack(with_analysis(config))
    gate = find(rec, GATE_TYPE, "front-switch-gate")
    assert gate.inputs["weights"] == {"blue": 100, "green": 0}
    assert gate.urn in find(rec, ":VirtualService", "front").dependencies
    for color in ("blue", "green"):
        assert find(rec, ":Deployment", f"front-{color}").urn in gate.dependencies
    assert gate.parent == find(rec, "bluegreen:bluegreen_app:BlueGreenApp", "front").urn


def test_a_flip_reruns_the_gate_and_touches_routing_only(run_stack, config):
    before = run_stack(with_analysis(config))
    config["apps"]["front"]["activeColor"] = "green"
    after = run_stack(config)
    b = before.by_urn()
    changed = sorted(r.name for r in after.resources if b[r.urn].inputs != r.inputs)
    # The gate, the VirtualService (and the state ConfigMap that records the active color).
    assert changed == ["front", "front-bluegreen", "front-switch-gate"]
    assert find(after, GATE_TYPE, "front-switch-gate").inputs["weights"] == {"blue": 0, "green": 100}


def test_a_threshold_change_reruns_the_gate_only(run_stack, config):
    before = run_stack(with_analysis(config))
    after = run_stack(with_analysis(config, minRequests=500))
    b = before.by_urn()
    assert sorted(r.name for r in after.resources if b[r.urn].inputs != r.inputs) == ["front-switch-gate"]
