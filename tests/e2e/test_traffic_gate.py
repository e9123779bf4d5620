"""The promotion gate on real traffic: `make release` bakes on the requests the real Envoy gateway served,
scraped by a real Prometheus, and refuses a color whose servers answer 503, while production fails nothing.

The pods here have no sidecars, so no Istio request metrics exist; the gateway's own per-cluster upstream
stats (one Envoy cluster per color: `outbound|<port>|<color>|<service host>`) are relabelled at scrape time
into the series the gate queries (`istio_requests_total`, `istio_request_duration_milliseconds_bucket` with
`destination_app`, `destination_version`, `destination_workload_namespace`, `reporter="destination"`), so the
gate's queries are the product's, unchanged. Preview traffic gives the idle color its requests, as a team
would preview it before a release.
"""

from __future__ import annotations

import time

import pytest
from rich.console import Console

from cli.release.record import Outcome
from cli.release.run import ConsoleProgress, SignalStop, make_release
from components.app import promotion
from tests.e2e.harness import LocalStack, live_weights
from tests.e2e.traffic import Load, answer_with, sample, wait_until
from tests.e2e.traffic_stack import APP, HOST, LOAD_RATE, NAMESPACE, PREVIEW_HOST, STACK, traffic_stack, up
from tests.prometheus_server import instant_value, running_prometheus_server

WINDOW, MIN_REQUESTS, PREVIEW_RATE = "10s", 20, 50
# Envoy's cluster of one color of one app: outbound|<port>|<subset>|<service>.<namespace>.svc.cluster.local
COLOR_CLUSTER = r"outbound\|\d+\|([^|]+)\|([^.]+)\.([^.]+)\.svc\.cluster\.local"


def gateway_scrape(target: str) -> dict:
    """The gateway's Envoy stats, as Istio's destination-reported request metrics of each color."""
    label = [("destination_version", "$1"), ("destination_app", "$2"), ("destination_workload_namespace", "$3")]
    return {
        "job_name": "gateway",
        "metrics_path": "/stats/prometheus",
        "static_configs": [{"targets": [target]}],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": "envoy_cluster_upstream_rq|envoy_cluster_upstream_rq_time_bucket", "action": "keep"},
            {"source_labels": ["cluster_name"], "regex": COLOR_CLUSTER, "action": "keep"},
            # upstream_rq_<code> and upstream_rq_<class> share the name: keep one count per request.
            {"source_labels": ["response_code_class"], "regex": ".+", "action": "drop"},
            *(
                {"source_labels": ["cluster_name"], "regex": COLOR_CLUSTER, "target_label": name, "replacement": value}
                for name, value in label
            ),
            {"target_label": "reporter", "replacement": "destination"},
            *(
                {"source_labels": ["__name__"], "regex": envoy, "target_label": "__name__", "replacement": istio}
                for envoy, istio in (
                    ("envoy_cluster_upstream_rq", promotion.REQUESTS),
                    ("envoy_cluster_upstream_rq_time_bucket", promotion.DURATION_BUCKETS),
                )
            ),
            {"regex": "cluster_name", "action": "labeldrop"},
        ],
    }


@pytest.fixture(scope="module")
def stack(env, tmp_path_factory):
    with traffic_stack(env, tmp_path_factory.mktemp("traffic-gate")) as stack:
        yield stack


@pytest.fixture(scope="module")
def prometheus_url(env, stack, tmp_path_factory):
    up(stack)  # the routes exist before Prometheus waits for a color's requests
    wait_until(env, HOST, "blue")

    def blue_counted(client) -> bool:
        sample(env, HOST, 5)
        return instant_value(client, promotion.queries(APP, NAMESPACE, "blue", "1m").requests) > 0

    scrape = [gateway_scrape(env["E2E_GATEWAY_STATS"])]
    with running_prometheus_server(tmp_path_factory.mktemp("prometheus"), scrape, blue_counted) as url:
        yield url


def configure_gate(stack: LocalStack, prometheus_url: str) -> None:
    analysis = {"prometheusUrl": prometheus_url, "window": WINDOW, "minRequests": str(MIN_REQUESTS)}
    for key, value in analysis.items():
        stack.set_path(f"apps.{APP}.promotion.analysis.{key}", value)
    stack.set_path(f"apps.{APP}.promotion.steps[0]", "25")
    stack.set_path(f"apps.{APP}.promotion.steps[1]", "100")
    stack.set_path(f"apps.{APP}.promotion.bake", "3s")
    up(stack)


def release_under_load(stack: LocalStack, monkeypatch, preview_first: float) -> tuple[Outcome, Load, Load]:
    """`make release` of the idle color under production load, after `preview_first` seconds of preview
    traffic (the idle color's) that goes on through the release."""
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    with Load(stack.env, PREVIEW_HOST, rate=PREVIEW_RATE, workers=2) as preview:
        time.sleep(preview_first)
        with Load(stack.env, HOST, rate=LOAD_RATE) as production:
            time.sleep(2)
            outcome = make_release(stack.work_dir, STACK, APP, ConsoleProgress(Console()), SignalStop()).run()
            time.sleep(2)
    return outcome, production, preview


def test_a_release_bakes_on_real_traffic_and_flips_to_the_healthy_color(stack: LocalStack, env, monkeypatch, prometheus_url):
    configure_gate(stack, prometheus_url)
    outcome, production, preview = release_under_load(stack, monkeypatch, preview_first=3)
    print(f"\nrelease to green on real metrics: {outcome.summary}; production {production.summary(0, 0)}")
    assert outcome.exit_code == 0, outcome.summary
    assert [record.result for record in outcome.records] == ["done", "done"]
    assert not production.failed, production.summary(0, 0)
    assert not preview.failed, preview.summary(0, 0)
    assert live_weights(env, NAMESPACE, APP) == {"green": 100}


def test_a_release_to_a_color_answering_503_is_refused_by_the_gate(stack: LocalStack, env, monkeypatch, prometheus_url):
    answer_with(env, NAMESPACE, APP, "blue", 503)
    try:
        # A whole window of blue's 503s first: its earlier 200s (when it was active) are out of it.
        outcome, production, preview = release_under_load(stack, monkeypatch, preview_first=12)
    finally:
        answer_with(env, NAMESPACE, APP, "blue", 200)
    print(f"\nrelease to blue answering 503: {outcome.summary}; production {production.summary(0, 0)}")
    assert outcome.exit_code == 1, outcome.summary
    failed = outcome.records[0]
    assert failed.result == "failed" and "below minSuccessRate" in failed.reason, outcome.summary
    assert not production.failed, production.summary(0, 0)
    assert {a.status for a in preview.answers} == {503}, "every preview request reached blue's servers"
    assert live_weights(env, NAMESPACE, APP) == {"green": 100}
