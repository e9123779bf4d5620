"""Real requests through the e2e tier's ingress gateway (e2e/mesh/up.sh): single requests, samples and a
steady background load that records every answer, for the routing claims and the zero-failure switches."""

from __future__ import annotations

import http.client
import json
import math
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Answer:
    sent: float  # wall clock (time.time()) when the request was sent
    latency: float  # seconds
    status: int  # 0: no HTTP answer (connection refused, reset, timeout)
    color: str | None
    image: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return not 200 <= self.status < 300


def address(env: dict[str, str], key: str = "E2E_GATEWAY_HTTP") -> tuple[str, int]:
    host, port = env[key].rsplit(":", 1)
    return host, int(port)


def request(connection: http.client.HTTPConnection, host: str, path: str = "/", headers: dict[str, str] | None = None) -> Answer:
    sent, start = time.time(), time.perf_counter()
    try:
        connection.request("GET", path, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        connection.close()  # reconnects on the next request
        return Answer(sent, time.perf_counter() - start, 0, None, error=f"{type(error).__name__}: {error}")
    latency = time.perf_counter() - start
    try:
        served = json.loads(body)
    except ValueError:
        served = {}
    served = served if isinstance(served, dict) else {}
    # Envoy's reason for a local reply (e.g. "no healthy upstream"), so a failure in a report says why.
    reason = None if 200 <= response.status < 300 else body[:200].decode(errors="replace")
    return Answer(sent, latency, response.status, served.get("color"), served.get("image"), reason)


def connect(env: dict[str, str], source: str | None = None, target: tuple[str, int] | None = None) -> http.client.HTTPConnection:
    host, port = target or address(env)
    return http.client.HTTPConnection(host, port, timeout=5, source_address=(source, 0) if source else None)


def sample(
    env: dict[str, str], host: str, count: int, path: str = "/", headers: dict[str, str] | None = None, **connect_args: Any
) -> list[Answer]:
    connection = connect(env, **connect_args)
    try:
        return [request(connection, host, path, headers) for _ in range(count)]
    finally:
        connection.close()


def colors(answers: list[Answer]) -> Counter:
    return Counter(a.color if not a.failed else f"HTTP {a.status}" if a.status else "no answer" for a in answers)


def wait_until(env: dict[str, str], host: str, color: str, timeout: float = 30, **kwargs: Any) -> float:
    """Seconds until 20 answers in a row come from `color` (istiod has pushed the routes the API server holds)."""
    start = time.monotonic()
    while True:
        answers = sample(env, host, 20, **kwargs)
        if all(a.color == color and not a.failed for a in answers):
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{host} not served by {color} after {timeout}s: {colors(answers)}")
        time.sleep(0.2)


def binomial_tolerance(share: float, count: int, sigmas: float = 4.0) -> float:
    """How far an observed share may stray from `share` over `count` independent requests (4 sigma: a
    false failure about once in 16,000 runs)."""
    return sigmas * math.sqrt(share * (1 - share) / count)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


@dataclass
class Load:
    """A steady load of `rate` requests per second through the gateway, on `workers` keep-alive connections,
    each request on a fixed schedule (so a slow answer never lowers the rate), until stopped."""

    env: dict[str, str]
    host: str
    rate: float = 200
    workers: int = 8
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._next = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Load:
        self._start = time.monotonic()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.answers.sort(key=lambda a: a.sent)

    def _work(self) -> None:
        connection = connect(self.env)
        while not self._stop.is_set():
            with self._lock:
                due = self._start + self._next / self.rate
                self._next += 1
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            answer = request(connection, self.host)
            with self._lock:
                self.answers.append(answer)
        connection.close()

    def run_for(self, seconds: float) -> None:
        time.sleep(seconds)

    # --- What the answers show.
    @property
    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.failed]

    def last_served_by(self, color: str) -> float | None:
        times = [a.sent + a.latency for a in self.answers if a.color == color and not a.failed]
        return max(times) if times else None

    def first_served_by(self, color: str, after: float = 0) -> float | None:
        times = [a.sent for a in self.answers if a.color == color and not a.failed and a.sent >= after]
        return min(times) if times else None

    def latency_ms(self, start: float = 0, end: float = math.inf) -> dict[str, float]:
        window = [a.latency * 1000 for a in self.answers if start <= a.sent < end and not a.failed]
        return {"n": len(window), "p50": round(percentile(window, 50), 2), "p99": round(percentile(window, 99), 2)}

    def summary(self, switched_at: float, settled_at: float) -> dict[str, Any]:
        """Failed requests, and latency before / during / after a switch (wall-clock times)."""
        return {
            "requests": len(self.answers),
            "failed": len(self.failed),
            "errors": Counter(a.error or f"HTTP {a.status}" for a in self.failed).most_common(5),
            "colors": dict(colors(self.answers)),
            "before": self.latency_ms(end=switched_at),
            "during": self.latency_ms(switched_at, settled_at),
            "after": self.latency_ms(settled_at),
        }


def pod_servers(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every pod server the e2e tier ran (stopped ones included), with the requests it answered."""
    connection = connect(env, target=address(env, "E2E_POD_SERVERS"))
    try:
        connection.request("GET", "/pods")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def answer_with(env: dict[str, str], namespace: str, app: str, color: str, status: int, pre_stop: bool = True) -> None:
    """Make a color's servers answer `/` with `status` (200 restores them); `pre_stop=False`: they stop at once
    when their pod is deleted, ignoring preStop and the grace period (an app that exits on SIGTERM)."""
    connection = connect(env, target=address(env, "E2E_POD_SERVERS"))
    try:
        body = json.dumps({"namespace": namespace, "app": app, "color": color, "status": status, "preStop": pre_stop})
        connection.request("POST", "/answer", body=body, headers={"Content-Type": "application/json"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def stats_summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 3), "max": round(max(values), 3)} if values else {}
