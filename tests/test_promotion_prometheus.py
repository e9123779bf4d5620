"""The promotion gate against a real Prometheus (Debian package `prometheus`, started here on loopback).

Prometheus scrapes `istio_exporter` every second: green is healthy, blue is not. The gate runs exactly
as pulumi-command runs it: the shell command from `promotion.gate_command`, from the project directory,
with the previous run's output in PULUMI_COMMAND_STDOUT.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from components import dashboard, promotion
from components.config import parse_stack_config
from components.routing import routing_model
from tests.conftest import ROOT
from tests.istio_exporter import IstioExporter

PROMETHEUS = shutil.which("prometheus")
APP, NAMESPACE, WINDOW = "front", "app", "30s"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _value(client: httpx.Client, promql: str) -> float:
    result = client.get("/api/v1/query", params={"query": promql}).json()["data"]["result"]
    return float(result[0]["value"][1]) if result else math.nan


def _has_data(client: httpx.Client) -> bool:
    """At least 100 requests and a p99 for both colors: what the tests' minRequests needs."""
    for color in ("blue", "green"):
        q = promotion.queries(APP, NAMESPACE, color, WINDOW)
        if not _value(client, q.requests) >= 100 or math.isnan(_value(client, q.p99_ms)):
            return False
    return True


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    if PROMETHEUS is None:
        pytest.skip("the prometheus binary is not installed (apt-get install -y prometheus; .ci/run does)")
    exporter = IstioExporter(APP, NAMESPACE)
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: istio\n    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n"
    )
    port = _free_port()
    log = (workdir / "prometheus.log").open("w")
    server = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_data(url, server, workdir / "prometheus.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        exporter.stop()


def _wait_for_data(url: str, server: subprocess.Popen, log: Path, limit: float = 30.0) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=2) as client:
        while time.monotonic() - started < limit:
            if server.poll() is not None:
                pytest.fail(f"prometheus exited with {server.returncode}:\n{log.read_text()}")
            try:
                if _has_data(client):
                    print(f"prometheus had data for both colors after {time.monotonic() - started:.1f}s")
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    pytest.fail(f"prometheus had no data for both colors within {limit}s:\n{log.read_text()}")


def _gate(config: dict, url: str, active: str, canary: int = 0, previous: str | None = None, **analysis) -> subprocess.CompletedProcess:
    """Run the gate command the program would hand to pulumi-command for this routing."""
    app = config["apps"][APP]
    app.update({"activeColor": active, "canaryWeight": canary})
    app["promotion"] = {"analysis": {"prometheusUrl": url, "window": WINDOW, "minRequests": 100, **analysis}}
    cfg = parse_stack_config(config).apps[APP]
    command = promotion.gate_command(APP, cfg, routing_model(cfg), cfg.promotion.analysis)
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_COMMAND_STDOUT"}
    if previous is not None:
        env["PULUMI_COMMAND_STDOUT"] = previous
    started = time.monotonic()
    done = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    print(f"$ {command}\n-> exit {done.returncode} in {time.monotonic() - started:.1f}s\n{done.stdout}{done.stderr}")
    return done


def approved(routing: str) -> str:
    return f"some earlier output\n{promotion.APPROVED_PREFIX}{routing}\n"


def test_flip_to_healthy_color_passes(config, prometheus_url):
    done = _gate(config, prometheus_url, active="green", previous=approved("blue=100,green=0"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "green: requests" in done.stdout and "-> ok" in done.stdout
    assert done.stdout.strip().endswith(promotion.APPROVED_PREFIX + "blue=0,green=100")


def test_flip_to_unhealthy_color_fails_naming_both_thresholds(config, prometheus_url):
    done = _gate(config, prometheus_url, active="blue", previous=approved("blue=0,green=100"))
    assert done.returncode == 1
    # About 80% (a fifth are 503) and about 4.2 s, give or take rate() extrapolation.
    assert re.search(r"blue: success rate (79\.9\d|80\.0\d)% is below minSuccessRate 99\.00%", done.stdout)
    assert re.search(r"blue: p99 latency 41\d\d ms is above maxP99Ms 500 ms", done.stdout)
    assert "Routing stays as it was" in done.stderr
    assert promotion.APPROVED_PREFIX not in done.stdout


def test_canary_increase_gates_only_the_idle_color(config, prometheus_url):
    # green is active and healthy; raising blue's canary share is what the gate must refuse.
    done = _gate(config, prometheus_url, active="green", canary=10, previous=approved("blue=0,green=100"))
    assert done.returncode == 1
    assert "checking blue over 30s" in done.stdout
    assert "  green:" not in done.stdout


def test_canary_rollback_checks_the_color_taking_traffic_back(config, prometheus_url):
    done = _gate(config, prometheus_url, active="green", canary=0, previous=approved("blue=10,green=90"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checking green over 30s" in done.stdout


def test_thresholds_are_the_configured_ones(config, prometheus_url):
    # Loose enough for blue: 80% success and a p99 of about 4 s.
    done = _gate(config, prometheus_url, active="blue", previous=approved("blue=0,green=100"), minSuccessRate=0.75, maxP99Ms=5000)
    assert done.returncode == 0, done.stdout + done.stderr


def test_too_few_requests_proves_nothing(config, prometheus_url):
    done = _gate(config, prometheus_url, active="green", previous=approved("blue=100,green=0"), minRequests=10**9)
    assert done.returncode == 1
    assert "minRequests 1000000000): send preview or canary traffic first" in done.stdout


def test_color_of_another_namespace_has_no_traffic_and_fails(config, prometheus_url):
    config["apps"][APP]["namespace"] = "elsewhere"
    done = _gate(config, prometheus_url, active="green", previous=approved("blue=100,green=0"))
    assert done.returncode == 1
    assert "only 0 requests" in done.stdout


@pytest.mark.parametrize("policy, status", [("fail", 2), ("skip", 0)])
def test_unreachable_prometheus_never_passes_silently(config, policy, status):
    closed = f"http://127.0.0.1:{_free_port()}"
    done = _gate(config, closed, active="green", previous=approved("blue=100,green=0"), onUnreachable=policy)
    assert done.returncode == status
    assert "unreachable after 4 attempts" in done.stderr
    if policy == "skip":
        assert "WARNING" in done.stderr and "PROMOTING WITHOUT ANY METRIC CHECK" in done.stderr
        assert promotion.APPROVED_PREFIX + "blue=0,green=100" in done.stdout
    else:
        assert "FAILED" in done.stderr and promotion.APPROVED_PREFIX not in done.stdout



def test_dashboard_queries_run_and_split_by_color(config, prometheus_url):
    # Grafana substitutes $__rate_interval; the queries are otherwise sent as the dashboard holds them.
    panels = dashboard.queries(APP, NAMESPACE)
    with httpx.Client(base_url=prometheus_url, timeout=5) as client:
        for title in ("Request rate by color", "Error rate (5xx) by color", "p99 latency by color"):
            body = client.get("/api/v1/query", params={"query": panels[title].replace("$__rate_interval", WINDOW)}).json()
            assert body["status"] == "success", body
            by_color = {s["metric"]["destination_version"]: float(s["value"][1]) for s in body["data"]["result"]}
            assert set(by_color) == {"blue", "green"}, title
            if title.startswith("Error"):
                assert by_color["green"] == 0 and 0.15 < by_color["blue"] < 0.25
