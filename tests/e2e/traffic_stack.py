"""The `traffic` stack of the real-traffic tier (tests/e2e/test_traffic.py and tests/e2e/bench_traffic.py):
one app `front` in its own namespace `traffic` (nothing shared with the other e2e stacks), a preview host,
path and header, and short drain timings so a switch fits a test; `up` of a config change and a switch
under the steady load, with the convergence it took."""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.e2e.harness import LocalStack
from tests.e2e.traffic import Load
from tests.stackfiles import copy_program

PROJECT = "bluegreen-platform"
STACK, APP, NAMESPACE = "traffic", "front", "traffic"
HOST, PREVIEW_HOST = "front.traffic.example.com", "front-preview.traffic.example.com"
BLUE_IMAGE, GREEN_IMAGE = "registry.local.example.com/web/front:1.4.2", "registry.local.example.com/web/front:1.5.0"
LOAD_RATE, LOAD_SECONDS = 200, 30
DELAY = 5  # drain.scaleDownDelaySeconds
ISTIOD_PID = ROOT / "build" / "e2e" / "cluster" / "mesh" / "pilot-discovery.pid"  # e2e/mesh/up.sh


def traffic_stack_file(path: Path) -> None:
    """Pulumi.local.yaml's cluster and mesh, its front app alone in namespace `traffic`."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    front = copy.deepcopy(config[f"{PROJECT}:apps"]["front"])
    front.update(namespace=NAMESPACE, hosts=[HOST], readinessTimeout="10s")
    front["preview"] = {**front["preview"], "host": PREVIEW_HOST}
    front["drain"] = {"preStopSeconds": 2, "appShutdownSeconds": 2, "terminationGracePeriodSeconds": 10, "scaleDownDelaySeconds": DELAY}
    config[f"{PROJECT}:gateway"] = {"name": "traffic-gateway", "namespace": NAMESPACE, "hosts": [HOST, PREVIEW_HOST]}
    config[f"{PROJECT}:apps"] = {APP: front}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@contextmanager
def traffic_stack(env: dict[str, str], scratch: Path) -> Iterator[LocalStack]:
    """The stack in a scratch project (the release runner's guarded edits plan the edited file with the
    project's program); destroyed and removed afterwards."""
    work_dir, stack_file = scratch / "project", scratch / f"Pulumi.{STACK}.yaml"
    work_dir.mkdir()
    copy_program(work_dir)
    traffic_stack_file(stack_file)
    stack = LocalStack(work_dir, STACK, env, stack_file)
    try:
        yield stack
    finally:
        stack.stack.destroy()
        stack.cli("stack", "rm", "--yes", STACK, check=False)


def up(stack: LocalStack, on_routed: Callable[[], None] | None = None, /, **paths: str) -> float:
    """Sets config paths (apps.front.<path>), runs `pulumi up`, returns when the VirtualService's update ended
    (wall clock, from the engine's event stream); `on_routed` is called at that moment."""
    for path, value in paths.items():
        stack.set_path(f"apps.{APP}.{path}", value)
    updated: list[float] = []

    def record(event) -> None:
        outputs = event.res_outputs_event
        if outputs is not None and outputs.metadata.type.endswith("VirtualService") and outputs.metadata.op.value != "same":
            updated.append(time.time())
            if on_routed:
                on_routed()

    result = stack.stack.up(on_event=record)
    assert result.summary.result == "succeeded"
    return updated[-1] if updated else time.time()


@contextmanager
def late_push(seconds: float) -> Iterator[Callable[[], None]]:
    """istiod frozen (SIGSTOP) from now until `seconds` after the callback it yields is called (pass it as
    `up(on_routed=...)`): the gateway keeps the old route and endpoints that long after the VirtualService
    changed, as a loaded istiod or a far gateway replica would. Leaving the block waits for the thaw."""
    pid = int(ISTIOD_PID.read_text())
    thaw = threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    os.kill(pid, signal.SIGSTOP)
    try:
        yield thaw.start
    finally:
        if thaw.is_alive():
            thaw.join()
        os.kill(pid, signal.SIGCONT)  # also when the VirtualService never changed


def switch_under_load(
    env: dict[str, str], change: Callable[[], float], old: str, new: str, seconds: float = LOAD_SECONDS
) -> tuple[Load, dict]:
    """Runs `change()` (returns the VirtualService update time) under the steady load, then keeps the load
    for the rest of `seconds`. Reports convergence (VirtualService update -> last answer from `old`)."""
    with Load(env, HOST, rate=LOAD_RATE) as load:
        time.sleep(3)  # a baseline before the switch
        started = time.monotonic()
        switched_at = change()
        time.sleep(max(0.0, seconds - 3 - (time.monotonic() - started)))
    last_old = load.last_served_by(old) if old != new else None
    converged = round(last_old - switched_at, 3) if last_old and last_old > switched_at else 0.0
    report = {**load.summary(switched_at, switched_at + max(converged, 0.5)), "convergence_s": converged}
    print(f"\n{old} -> {new}: {report}")
    return load, report
