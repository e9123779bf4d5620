"""The promotion gate: config validation, PromQL, which colors are gated, the verdict, and its wiring."""
from __future__ import annotations

import shlex

import pytest

from components import promotion
from components.config import ConfigError, PromotionAnalysis, parse_stack_config
from components.promotion import Measurement
from components.routing import routing_model
from tests.conftest import find

GATE_TYPE = "command:local:Command"
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
    assert promotion.missed_thresholds(Measurement(requests=200, errors=0, p99_ms=None), STRICT) == ["no request duration histogram for p99"]


# --- which colors are gated -------------------------------------------------------------------------


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
    before = promotion.parse_weights(previous) if previous else None
    assert promotion.colors_to_gate(promotion.parse_weights(new), before) == gated


def test_previous_approval_is_read_from_the_last_approval_line():
    stdout = f"report\n{promotion.APPROVED_PREFIX}blue=100,green=0\nmore\n{promotion.APPROVED_PREFIX}blue=90,green=10\n"
    assert promotion.approved_weights(stdout) == {"blue": 90, "green": 10}
    assert promotion.approved_weights("FAILED: ...") is None
    assert promotion.approved_weights(None) is None


@pytest.mark.parametrize("text", ["blue=90", "blue=90,green=20", "red=50,green=50", "blue=x,green=100"])
def test_malformed_weights_are_refused(text):
    with pytest.raises(ValueError):
        promotion.parse_weights(text)


def test_gate_command_carries_routing_and_thresholds(config):
    config["apps"]["front"].update({"activeColor": "green", "canaryWeight": 10})
    cfg = parse_stack_config(with_analysis(config, onUnreachable="skip")).apps["front"]
    argv = shlex.split(promotion.gate_command("front", cfg, routing_model(cfg), cfg.promotion.analysis))
    assert argv[:3] == ["venv/bin/python", "-m", "components.promotion_gate"]
    flags = dict(zip(argv[3::2], argv[4::2]))
    assert flags == {
        "--app": "front",
        "--namespace": "app",
        "--weights": "blue=10,green=90",
        "--prometheus-url": "http://prometheus.istio-system:9090",
        "--window": "5m",
        "--min-success-rate": "0.99",
        "--max-p99-ms": "500",
        "--min-requests": "100",
        "--on-unreachable": "skip",
    }


def test_runner_rebuilds_the_same_analysis_from_the_flags(config, monkeypatch):
    from components import promotion_gate

    cfg = parse_stack_config(with_analysis(config, minSuccessRate=0.995, maxP99Ms=250.5)).apps["front"]
    argv = shlex.split(promotion.gate_command("front", cfg, routing_model(cfg), cfg.promotion.analysis))[3:]
    seen = {}
    monkeypatch.setattr(promotion_gate, "run_gate", lambda app, ns, weights, analysis, previous: seen.update(analysis=analysis) or 0)
    assert promotion_gate.main(argv) == 0
    assert seen["analysis"] == cfg.promotion.analysis


# --- wiring under the mock engine ---------------------------------------------------------------------


def test_no_gate_without_analysis(run_stack, config):
    rec = run_stack(config)
    assert [r.name for r in rec.of_type(GATE_TYPE) if r.name.endswith("promotion-gate")] == []


def test_routing_waits_for_the_gate_and_the_gate_for_the_colors(run_stack, config):
    rec = run_stack(with_analysis(config))
    gate = find(rec, GATE_TYPE, "front-promotion-gate")
    assert gate.inputs["create"] == gate.inputs["update"]
    assert gate.inputs["create"].startswith("venv/bin/python -m components.promotion_gate --app front")
    assert "--weights blue=100,green=0" in gate.inputs["create"]
    assert gate.inputs["addPreviousOutputInEnv"] is True
    assert gate.inputs.get("delete") is None  # nothing to undo when the gate goes away
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
    assert changed == ["front", "front-bluegreen", "front-promotion-gate"]
    assert "--weights blue=0,green=100" in find(after, GATE_TYPE, "front-promotion-gate").inputs["update"]
