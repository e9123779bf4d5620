"""`make e2e-bench`: the real-traffic tier's numbers, printed (never asserted; docs/real-traffic.md).

On the running tier (`make e2e-env`), with the `traffic` stack of tests/e2e/test_traffic.py under the same
steady load (200 req/s): FLIPS flips by `pulumi up` (its wall time, and the convergence from the
VirtualService update to the last answer from the old color), the same number of flips by a raw
`kubectl apply` of the VirtualService with the weights swapped (the floor: no engine, no program), the
failed requests of each, and the memory of istiod, the gateway and the pod servers. A `local` stack
deployed by `make e2e-up` must be destroyed first (its app `front` has the same preview gate).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from components.shared.colors import Color, other_color
from tests.conftest import ROOT
from tests.e2e.harness import e2e_environment, kubectl_json
from tests.e2e.traffic import wait_until
from tests.e2e.traffic_stack import APP, HOST, NAMESPACE, switch_under_load, traffic_stack, up

FLIPS = 10
SECONDS_PER_FLIP = 8
MESH = ROOT / "build" / "e2e" / "cluster" / "mesh"


def flip_by_kubectl(env: dict[str, str], to: str) -> float:
    """The live VirtualService with every weighted route sent to `to`, applied as a user would by hand."""
    vs = kubectl_json(env, "get", "virtualservices.networking.istio.io", APP, "-n", NAMESPACE)
    vs["metadata"] = {"name": APP, "namespace": NAMESPACE}
    vs.pop("status", None)
    for route in vs["spec"]["http"]:
        destinations = route.get("route", [])
        if len(destinations) > 1 or any("weight" in d for d in destinations):
            for destination in destinations:
                destination["weight"] = 100 if destination["destination"]["subset"] == to else 0
    apply = ["kubectl", "apply", "--server-side", "--force-conflicts", "--field-manager", "bench", "-f", "-"]
    subprocess.run(apply, env=env, input=json.dumps(vs), text=True, check=True, capture_output=True)
    return time.time()


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def memory() -> dict[str, int]:
    pids = {
        name: int((MESH / f"{file}.pid").read_text())
        for name, file in (("istiod", "pilot-discovery"), ("pilot-agent", "pilot-agent"), ("pod servers", "python3"))
    }
    envoy = subprocess.run(["pgrep", "-f", f"envoy -c {MESH}/gateway/"], capture_output=True, text=True).stdout.split()
    if envoy:
        pids["envoy"] = int(envoy[0])
    return {name: rss_mb(pid) for name, pid in pids.items()}


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.3f}s, max {max(values):.3f}s"


def flips(env: dict[str, str], flip: Callable[[Color], float]) -> tuple[list[float], list[float], int, int]:
    """FLIPS switches under load with `flip(to) -> (started, routed)`: change times, convergences, failed, sent."""
    changes: list[float] = []
    convergences: list[float] = []
    failed = sent = 0
    color: Color = "blue"
    for _ in range(FLIPS):
        to = other_color(color)
        timing: dict[str, float] = {}

        def change(to: Color = to, timing: dict[str, float] = timing) -> float:
            timing["started"] = time.time()
            timing["routed"], timing["done"] = flip(to), time.time()
            return timing["routed"]

        _, report = switch_under_load(env, change, color, to, seconds=SECONDS_PER_FLIP)
        changes.append(timing["done"] - timing["started"])
        convergences.append(report["convergence_s"])
        failed, sent, color = failed + report["failed"], sent + report["requests"], to
    return changes, convergences, failed, sent


def main() -> int:
    try:
        env = e2e_environment()
    except pytest.fail.Exception as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch, traffic_stack(env, Path(scratch)) as stack:
        up(stack)
        wait_until(env, HOST, "blue")
        by_pulumi = flips(env, lambda to: up(stack, activeColor=to))
        by_kubectl = flips(env, lambda to: flip_by_kubectl(env, to))  # an even count: live ends where the stack says
        rows = [("pulumi up", by_pulumi), ("kubectl apply", by_kubectl)]
        print(f"\n{FLIPS} flips each, under 200 req/s ({SECONDS_PER_FLIP}s of load per flip):")
        for name, (changes, convergences, failed, sent) in rows:
            print(f"  {name:14} change {summary(changes)}; convergence {summary(convergences)}; failed {failed} of {sent}")
        print("  memory (RSS, MB): " + ", ".join(f"{name} {mb}" for name, mb in memory().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
