"""A tiny exporter serving synthetic Istio standard metrics for the promotion gate's real-Prometheus test.

Counters grow with wall time as Istio's sidecars' would: green is healthy (all 200, fast), blue is
not (a fifth 503, slow). Source-reporter series say the opposite, so a gate query that forgot
`reporter="destination"` would get the wrong verdict.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A subset of Istio's default duration buckets (ms).
BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


@dataclass(frozen=True)
class Traffic:
    """Requests per second by response code, and the fraction of requests at or under each bucket."""

    rps_by_code: dict[str, float]
    within: dict[float, float]


HEALTHY = Traffic({"200": 50.0}, {5: 0.5, 10: 0.9, 25: 1.0})
UNHEALTHY = Traffic({"200": 40.0, "503": 10.0}, {100: 0.3, 500: 0.6, 1000: 0.9, 2500: 0.97, 5000: 1.0})


def _fraction_within(traffic: Traffic, le: float) -> float:
    reached = [share for bound, share in traffic.within.items() if bound <= le]
    return max(reached, default=0.0)


def _series(app: str, namespace: str, color: str, reporter: str, traffic: Traffic, elapsed: float) -> list[str]:
    base = f'reporter="{reporter}",destination_workload_namespace="{namespace}",destination_app="{app}",destination_version="{color}"'
    lines = [f'istio_requests_total{{{base},response_code="{code}"}} {rps * elapsed:.6f}' for code, rps in traffic.rps_by_code.items()]
    total = sum(traffic.rps_by_code.values()) * elapsed
    for le in BUCKETS:
        lines.append(f'istio_request_duration_milliseconds_bucket{{{base},le="{le}"}} {total * _fraction_within(traffic, le):.6f}')
    lines.append(f'istio_request_duration_milliseconds_bucket{{{base},le="+Inf"}} {total:.6f}')
    lines.append(f"istio_request_duration_milliseconds_count{{{base}}} {total:.6f}")
    return lines


def metrics_text(app: str, namespace: str, elapsed: float) -> str:
    lines = ["# TYPE istio_requests_total counter", "# TYPE istio_request_duration_milliseconds histogram"]
    for color, destination, source in (("green", HEALTHY, UNHEALTHY), ("blue", UNHEALTHY, HEALTHY)):
        lines += _series(app, namespace, color, "destination", destination, elapsed)
        lines += _series(app, namespace, color, "source", source, elapsed)
    return "\n".join(lines) + "\n"


class IstioExporter:
    """Serves /metrics on 127.0.0.1:<port> from a background thread until `stop()`."""

    def __init__(self, app: str, namespace: str):
        started = time.monotonic()
        # Counters start above zero, as on a long-running pod.
        offset = 60.0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = metrics_text(app, namespace, offset + time.monotonic() - started).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
