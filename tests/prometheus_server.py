"""A real Prometheus (Debian package `prometheus`) on a free loopback port, for tests of the promotion gate.

One place starts and stops it: the unit tier scrapes synthetic Istio series (tests/istio_exporter.py), the
real-traffic tier scrapes the Envoy gateway's own stats.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

PROMETHEUS = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def instant_value(client: httpx.Client, promql: str, at: float | None = None) -> float:
    """The first sample of an instant query (at `at`, unix seconds; None: now), NaN when it has none."""
    params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
    result = client.get("/api/v1/query", params=params).json()["data"]["result"]
    return float(result[0]["value"][1]) if result else math.nan


@contextlib.contextmanager
def running_prometheus_server(
    workdir: Path, scrape_configs: list[dict], ready: Callable[[httpx.Client], bool], limit: float = 30.0
) -> Iterator[str]:
    """Prometheus scraping every second with `scrape_configs`; yields its URL once `ready(client)` holds."""
    if PROMETHEUS is None:
        pytest.skip("the prometheus binary is not installed (apt-get install -y prometheus; .ci/run does)")
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": scrape_configs}))
    port, log_path = free_port(), workdir / "prometheus.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(url, server, log_path, ready, limit)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_ready(url: str, server: subprocess.Popen, log: Path, ready: Callable[[httpx.Client], bool], limit: float) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=2) as client:
        while time.monotonic() - started < limit:
            if server.poll() is not None:
                pytest.fail(f"prometheus exited with {server.returncode}:\n{log.read_text()}")
            try:
                if ready(client):
                    print(f"prometheus had the data it waits for after {time.monotonic() - started:.1f}s")
                    return
            except (httpx.TransportError, ValueError):  # not listening yet, or 503 text while the TSDB starts
                pass
            time.sleep(0.2)
    pytest.fail(f"prometheus did not have the data it waits for within {limit}s:\n{log.read_text()}")
