"""The promotion gate against a real Prometheus (Debian package `prometheus`, started here on loopback).

Prometheus scrapes `istio_exporter` every second: green is healthy, blue is not. The gate runs as the
dynamic provider runs it during `pulumi up`: `SwitchGateProvider.create`/`update` with the inputs the
program registers, the previous routing in the olds (the gate's state). The cluster is a fake whose
Deployments are all ready, so readiness passes and the metrics decide.

Every query is evaluated at one pinned instant, the timestamp of a scrape Prometheus already holds: each
test sees the same samples however late it runs, and the numbers are the exporter's own (blue's success
rate is its 200s over all its requests, its p99 interpolated in its buckets) up to the report's rounding.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from components.app import dashboard, promotion, promotion_gate
from components.app.promotion_gate import (
    GateRefused,
    PrometheusUnusable,
    ThresholdsMissed,
)
from components.app.routing import routing_model
from components.app.switch_gate import (
    SwitchGateProvider,
    SwitchRefused,
    switch_gate_props,
)
from components.config import parse_stack_config
from tests.istio_exporter import BUCKETS, UNHEALTHY, IstioExporter, Traffic
from tests.prometheus_server import free_port, instant_value, running_prometheus_server

APP, NAMESPACE, WINDOW = "front", "app", "30s"


@dataclass(frozen=True)
class Scraped:
    """A Prometheus holding the synthetic series, and the instant (unix seconds) the gate's queries are evaluated at."""

    url: str
    at: float


def _has_data(client: httpx.Client, app: str, namespace: str, at: float) -> bool:
    """At least 100 requests and a p99 for both colors at `at`: what the tests' minRequests needs."""
    for color in ("blue", "green"):
        q = promotion.queries(app, namespace, color, WINDOW)
        if not instant_value(client, q.requests, at) >= 100 or math.isnan(instant_value(client, q.p99_ms, at)):
            return False
    return True


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as scraped:
        yield scraped


@contextlib.contextmanager
def running_prometheus(workdir: Path, app: str = APP, namespace: str = NAMESPACE) -> Iterator[Scraped]:
    """A real Prometheus on loopback scraping synthetic Istio series of `app` in `namespace` (green healthy, blue not).

    The instant is the timestamp of the newest scrape once it holds enough data: a scrape is visible whole or
    not at all, and scrapes of one target land in order, so a query at that instant always sees the same samples.
    """
    exporter = IstioExporter(app, namespace)
    scrape = [{"job_name": "istio", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]}]
    newest: list[float] = []

    def ready(client: httpx.Client) -> bool:
        at = instant_value(client, 'max(timestamp(up{job="istio"}))')
        newest[:] = [] if math.isnan(at) or not _has_data(client, app, namespace, at) else [at]
        return bool(newest)

    try:
        with running_prometheus_server(workdir, scrape, ready) as url:
            yield Scraped(url, newest[0])
    finally:
        exporter.stop()


def p99_ms(traffic: Traffic) -> float:
    """histogram_quantile(0.99) over the exporter's buckets: linear within the bucket holding the 99th percentile."""
    lower, below = 0.0, 0.0
    for le in BUCKETS:
        within = max((share for bound, share in traffic.within.items() if bound <= le), default=0.0)
        if within >= 0.99:
            return lower + (le - lower) * (0.99 - below) / (within - below)
        lower, below = le, within
    raise AssertionError("the 99th percentile is past the last bucket")


def success_rate(traffic: Traffic) -> float:
    return 1 - sum(rps for code, rps in traffic.rps_by_code.items() if code.startswith("5")) / sum(traffic.rps_by_code.values())


class ReadyApps:
    """An AppsV1Api whose Deployments all have their spec observed and every replica available."""

    def read_namespaced_deployment(self, name: str, namespace: str, **kwargs: Any) -> SimpleNamespace:
        return SimpleNamespace(
            metadata=SimpleNamespace(generation=1),
            spec=SimpleNamespace(replicas=3),
            status=SimpleNamespace(available_replicas=3, observed_generation=1),
        )


class UnreadyApps(ReadyApps):
    """Every Deployment scaled to 0 by hand."""

    def read_namespaced_deployment(self, name: str, namespace: str, **kwargs: Any) -> SimpleNamespace:
        found = super().read_namespaced_deployment(name, namespace)
        found.spec.replicas, found.status.available_replicas = 0, None
        return found


class FakeClusterProvider(SwitchGateProvider):
    def __init__(self, apps: ReadyApps, at: float):
        super().__init__()
        self.apps, self.now, self.at = apps, 0.0, at

    def evaluation_time(self) -> float:
        return self.at

    def apps_api(self, cluster):
        return self.apps

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Run:
    refused: Exception | None  # GateRefused (metrics) or SwitchRefused (readiness): `pulumi up` fails
    report: str  # what the provider printed (the engine shows it during `pulumi up`)
    outs: dict[str, Any] | None  # the gate's new state when it passed


def routing(text: str) -> dict[str, int]:
    return {color: int(weight) for color, _, weight in (part.partition("=") for part in text.split(","))}


def _gate(
    config: dict,
    prometheus: Scraped,
    active: str,
    canary: int = 0,
    previous: str | None = None,
    apps: ReadyApps | None = None,
    **analysis,
) -> Run:
    """Run the gate for this routing as `pulumi up` would: update from `previous` (its state), or create."""
    app = config["apps"][APP]
    app.update({"activeColor": active, "canaryWeight": canary})
    app["promotion"] = {"analysis": {"prometheusUrl": prometheus.url, "window": WINDOW, "minRequests": 100, **analysis}}
    cfg = parse_stack_config(config).apps[APP]
    props = switch_gate_props(APP, cfg, routing_model(cfg), {})
    provider = FakeClusterProvider(apps or ReadyApps(), prometheus.at)
    printed, refused, outs = io.StringIO(), None, None
    started = time.monotonic()
    with contextlib.redirect_stderr(printed):
        try:
            if previous is None:
                outs = provider.create(props).outs
            else:
                olds = {**{k: v for k, v in props.items() if k != "cluster"}, "weights": routing(previous)}
                outs = provider.update(f"{NAMESPACE}/{APP}", olds, props).outs
        except (GateRefused, SwitchRefused) as err:
            refused = err
    print(f"gate {props['weights']} from {previous}: {refused!r} in {time.monotonic() - started:.1f}s\n{printed.getvalue()}")
    return Run(refused, printed.getvalue(), outs)


def test_flip_to_healthy_color_passes(config, prometheus):
    run = _gate(config, prometheus, active="green", previous="blue=100,green=0")
    assert run.refused is None and run.outs is not None, run.report
    assert "green: requests" in run.report and "-> ok" in run.report
    assert run.report.strip().endswith("PASSED: every color gaining traffic meets the thresholds")
    # The gate's state now holds this routing: the next change is compared with it.
    assert run.outs["weights"] == {"blue": 0, "green": 100} and "cluster" not in run.outs


def test_flip_to_unhealthy_color_fails_naming_both_thresholds(config, prometheus):
    run = _gate(config, prometheus, active="blue", previous="blue=0,green=100")
    assert isinstance(run.refused, ThresholdsMissed)
    message = str(run.refused)
    # The exporter's numbers (80%: a fifth are 503; p99 about 4.2 s), up to the report's rounding.
    rate = re.search(r"blue: success rate (\d+\.\d\d)% is below minSuccessRate 99\.00%", message)
    p99 = re.search(r"blue: p99 latency (\d+) ms is above maxP99Ms 500 ms", message)
    assert rate and float(rate.group(1)) == pytest.approx(100 * success_rate(UNHEALTHY), abs=0.005), message
    assert p99 and float(p99.group(1)) == pytest.approx(p99_ms(UNHEALTHY), abs=0.5), message
    assert message.startswith("promotion gate for front (namespace app): routing blue=100,green=0, previous blue=0,green=100")
    assert "Routing stays as it was" in message
    assert run.outs is None


def test_canary_increase_gates_only_the_idle_color(config, prometheus):
    # green is active and healthy; raising blue's canary share is what the gate must refuse.
    run = _gate(config, prometheus, active="green", canary=10, previous="blue=0,green=100")
    assert isinstance(run.refused, ThresholdsMissed)
    assert "checking blue over 30s" in str(run.refused)
    assert "  green:" not in str(run.refused)


def test_canary_rollback_checks_the_color_taking_traffic_back(config, prometheus):
    run = _gate(config, prometheus, active="green", canary=0, previous="blue=10,green=90")
    assert run.refused is None, run.report
    assert "checking green over 30s" in run.report


def test_a_new_gate_checks_every_color_with_traffic(config, prometheus):
    run = _gate(config, prometheus, active="green", canary=10)
    assert isinstance(run.refused, ThresholdsMissed)
    assert "previous none" in str(run.refused) and "checking blue, green over 30s" in str(run.refused)


def test_thresholds_are_the_configured_ones(config, prometheus):
    # Loose enough for blue: 80% success and a p99 of about 4 s.
    run = _gate(config, prometheus, active="blue", previous="blue=0,green=100", minSuccessRate=0.75, maxP99Ms=5000)
    assert run.refused is None, run.report


def test_too_few_requests_proves_nothing(config, prometheus):
    run = _gate(config, prometheus, active="green", previous="blue=100,green=0", minRequests=10**9)
    assert isinstance(run.refused, ThresholdsMissed)
    assert "minRequests 1000000000): send preview or canary traffic first" in str(run.refused)


def test_color_of_another_namespace_has_no_traffic_and_fails(config, prometheus):
    config["apps"][APP]["namespace"] = "elsewhere"
    run = _gate(config, prometheus, active="green", previous="blue=100,green=0")
    assert isinstance(run.refused, ThresholdsMissed)
    assert "only 0 requests" in str(run.refused)


def test_readiness_is_checked_before_the_metrics(config, prometheus):
    # green is healthy in Prometheus, but scaled to 0 by hand: routing must not move, and Prometheus is not asked.
    run = _gate(config, prometheus, active="green", previous="blue=100,green=0", apps=UnreadyApps())
    assert isinstance(run.refused, SwitchRefused)
    assert (
        str(run.refused).splitlines()[0] == "front: routing not changed: green has 0 of 3 replicas available (spec.replicas 0) after 300s"
    )
    assert "promotion gate for" not in run.report


@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_unreachable_prometheus_never_passes_silently(config, policy, monkeypatch):
    closed = Scraped(f"http://127.0.0.1:{free_port()}", at=time.time())
    backoff: list[float] = []
    monkeypatch.setattr(promotion_gate._get.retry, "sleep", backoff.append)  # tenacity's sleep between attempts
    run = _gate(config, closed, active="green", previous="blue=100,green=0", onUnreachable=policy)
    assert "unreachable after 4 attempts" in run.report
    assert backoff == [0.5, 1.0, 2.0]
    if policy == "skip":
        assert run.refused is None and run.outs is not None
        assert "WARNING" in run.report and "PROMOTING WITHOUT ANY METRIC CHECK" in run.report
        assert run.outs["weights"] == {"blue": 0, "green": 100}
    else:
        assert isinstance(run.refused, PrometheusUnusable)
        assert "FAILED" in str(run.refused) and "unreachable after 4 attempts" in str(run.refused)
        assert run.outs is None


def test_dashboard_queries_run_and_split_by_color(config, prometheus):
    # Grafana substitutes $__rate_interval; the queries are otherwise sent as the dashboard holds them.
    panels = dashboard.queries(APP, NAMESPACE)
    with httpx.Client(base_url=prometheus.url, timeout=5) as client:
        for title in ("Request rate by color", "Error rate (5xx) by color", "p99 latency by color"):
            query = panels[title].replace("$__rate_interval", WINDOW)
            body = client.get("/api/v1/query", params={"query": query, "time": f"{prometheus.at:.3f}"}).json()
            assert body["status"] == "success", body
            by_color = {s["metric"]["destination_version"]: float(s["value"][1]) for s in body["data"]["result"]}
            assert set(by_color) == {"blue", "green"}, title
            if title.startswith("Error"):
                assert by_color["green"] == 0 and by_color["blue"] == pytest.approx(1 - success_rate(UNHEALTHY), abs=1e-3)


# --- custom checks (promotion.analysis.checks) -------------------------------------------------------

SELECTOR = 'reporter="destination",destination_app="{app}",destination_workload_namespace="{namespace}",destination_version="{color}"'
RATE_503 = f'sum(rate(istio_requests_total{{{SELECTOR},response_code="503"}}[{{window}}]))'


def _check(**keys) -> dict:
    return {"name": "rate-503", "query": RATE_503, "max": 0.5, **keys}


def test_a_custom_check_is_run_per_color_and_names_itself_when_missed(config, prometheus):
    # blue answers about 20 requests/s with 503: far above max 0.5.
    run = _gate(config, prometheus, active="blue", previous="blue=0,green=100", minSuccessRate=0.5, maxP99Ms=10**5, checks=[_check()])
    assert isinstance(run.refused, ThresholdsMissed), run.report
    assert re.search(
        r"blue: rate-503 \d+(\.\d+)? \(max 0\.5, onNoData fail\) -> MISSED: rate-503 \d+(\.\d+)? is above max 0\.5", run.report
    )
    assert "checking blue over 30s at" in run.report and ", rate-503 max 0.5" in run.report


@pytest.mark.parametrize("on_no_data", ["fail", "pass"])
def test_no_data_is_decided_by_on_no_data(config, prometheus, on_no_data):
    # green never answers 503: the query has no series at all.
    run = _gate(config, prometheus, active="green", previous="blue=100,green=0", checks=[_check(onNoData=on_no_data)])
    assert f"green: rate-503 no data (max 0.5, onNoData {on_no_data})" in run.report
    if on_no_data == "pass":
        assert run.refused is None, run.report
    else:
        assert isinstance(run.refused, ThresholdsMissed)
        assert "green: rate-503 has no data (onNoData fail)" in str(run.refused)


def test_on_no_data_wait_asks_again_for_one_window_then_fails(config, prometheus):
    # The provider's clock is a fake one that its sleep advances: the 30 s window passes at once.
    run = _gate(config, prometheus, active="green", previous="blue=100,green=0", checks=[_check(onNoData="wait")])
    assert isinstance(run.refused, ThresholdsMissed)
    assert "green: rate-503 has no data after waiting 30s (onNoData wait)" in str(run.refused)


def test_on_no_data_wait_passes_as_soon_as_data_is_there(config, prometheus):
    requests = f"sum(increase(istio_requests_total{{{SELECTOR}}}[{{window}}]))"
    run = _gate(
        config, prometheus, active="green", previous="blue=100,green=0", checks=[_check(query=requests, max=10**9, onNoData="wait")]
    )
    assert run.refused is None, run.report


def test_a_query_prometheus_cannot_parse_is_a_clean_refusal_naming_the_check(config, prometheus):
    broken = 'sum(rate(istio_requests_total{destination_version="{color}"}[{window}])'  # one ')' short
    run = _gate(config, prometheus, active="green", previous="blue=100,green=0", checks=[_check(name="broken", query=broken)])
    assert isinstance(run.refused, PrometheusUnusable)
    last = str(run.refused).splitlines()[-1]
    assert last.startswith("FAILED: check broken: Prometheus refused its query: HTTP 400: ")
    assert "parse error" in last and last.endswith("Fix the query in promotion.analysis.checks; routing stays as it was.")
    assert "Traceback" not in run.report
