"""`make drift`'s sentences from the engine's `preview --refresh` events (cli/diff/drift.py), and its command's answers.

The events are built in the engine's JSON shape (as the Automation API reads them from the event log, parsed by
its own EngineEvent.from_json): the desired side is the real program's inputs under the mock engine, the live
side those objects as the API server returns them (server-set fields added) with a hand edit on top. The real
engine's events are covered by tests/e2e/test_drift.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.diff import drift, drift_run
from cli.diff.drift import Check, check, differences, render, report
from cli.engine.recording import Registration
from cli.stackfile.config import load_stack
from components.config import StackConfig
from tests.conftest import PROJECT, find
from tests.stackfiles import write_stack

VS = "kubernetes:networking.istio.io/v1:VirtualService"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
UP = "pulumi up --refresh -s stg"


def live_object(inputs: dict[str, Any]) -> dict[str, Any]:
    """What the API server returns for an applied object: the inputs, plus fields only the server sets."""
    live = copy.deepcopy(inputs)
    live["metadata"] = {**live["metadata"], "uid": "0b7c", "resourceVersion": "4711", "managedFields": [{"manager": "pulumi-kubernetes"}]}
    live["status"] = {"observedGeneration": 1}
    return live


def pruned(shape: Any, live: Any) -> Any:
    """The live object cut to the fields of the last applied inputs: what pulumi-kubernetes reads back as inputs."""
    if isinstance(shape, dict) and isinstance(live, dict):
        return {key: pruned(value, live.get(key)) for key, value in shape.items()}
    if isinstance(shape, list) and isinstance(live, list) and len(shape) == len(live):
        return [pruned(a, b) for a, b in zip(shape, live, strict=True)]
    return live


def state(type_: str, urn: str, inputs: dict[str, Any] | None, outputs: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": type_, "urn": urn, "id": "x", "parent": "", "provider": "", "custom": True, "inputs": inputs, "outputs": outputs}


def engine_events(
    resources: list[tuple[Registration, dict[str, Any]]], applied: dict[str, dict[str, Any]] | None = None
) -> list[auto.EngineEvent]:
    """`preview --refresh` of these (program registration, live object) pairs: per resource a refresh (the last
    up's inputs, `applied[urn]` or the program's, against the inputs read back live) and the preview's step."""
    events = []
    for registration, live in resources:
        last_up = (applied or {}).get(registration.urn, registration.inputs)
        read_back = pruned(last_up, live) if live else None
        refreshed = state(registration.type, registration.urn, read_back, live) if live else None
        refresh: dict[str, Any] = {"op": "refresh", "urn": registration.urn, "type": registration.type, "provider": ""}
        refresh |= {"old": state(registration.type, registration.urn, last_up, live_object(last_up)), "new": refreshed}
        events.append(auto.EngineEvent.from_json({"sequence": 0, "timestamp": 0, "resOutputsEvent": {"metadata": refresh}}))
        op = "create" if live is None else "same" if not differences(registration.inputs, live) else "update"
        step: dict[str, Any] = {"op": op, "urn": registration.urn, "type": registration.type, "provider": ""}
        step |= {"old": refreshed, "new": state(registration.type, registration.urn, registration.inputs, None)}
        if op == "update":
            step["diffs"] = ["spec"]
        events.append(auto.EngineEvent.from_json({"sequence": 0, "timestamp": 0, "resourcePreEvent": {"metadata": step}}))
    return events


def load(root, raw) -> StackConfig:
    """The StackConfig `make drift` reads: raw written as Pulumi.stg.yaml, loaded like the command loads it."""
    write_stack(root, "stg", raw)
    (root / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    return load_stack(root, "stg")


@pytest.fixture
def stack_config(tmp_path, config) -> StackConfig:
    return load(tmp_path, config)


@pytest.fixture
def recording(config, run_stack):
    return run_stack(config)


def edited_vs(vs: Registration, weights: dict[str, int]) -> dict[str, Any]:
    live = live_object(vs.inputs)
    default = live["spec"]["http"][-1]
    target = default["route"][0]["destination"]
    default["route"] = [{"destination": {**target, "subset": color}, "weight": weight} for color, weight in weights.items()]
    return live


def objects(recording) -> list[Registration]:
    """The program's Kubernetes objects (not Helm releases, GCP resources or the switch gate)."""
    return [r for r in recording.resources if r.custom and r.type.startswith("kubernetes:") and "metadata" in r.inputs]


def all_clean(recording) -> list[tuple[Registration, dict[str, Any]]]:
    return [(r, live_object(r.inputs)) for r in objects(recording)]


def replaced(pairs, name: str, type_: str, live: dict[str, Any] | None):
    return [(r, live if (r.name, r.type) == (name, type_) else obj) for r, obj in pairs]


def test_no_differences_is_no_drift(recording, stack_config):
    result = report(check(engine_events(all_clean(recording))), stack_config)
    assert result.exit_code == drift.EXIT_CLEAN and result.outside == result.pending == []
    assert result.checked == len(all_clean(recording))
    assert render(result, "stg", UP) == f"no drift: the {result.checked} live objects of stack stg are what its stack config says\n"


def test_hand_edited_weights_and_replicas_are_said_routing_first(recording, stack_config):
    vs = find(recording, "VirtualService", "front")
    green = find(recording, "Deployment", "front-green")
    scaled = live_object(green.inputs)
    scaled["spec"]["replicas"] = 5
    pairs = replaced(
        replaced(all_clean(recording), "front", VS, edited_vs(vs, {"blue": 70, "green": 30})), "front-green", DEPLOYMENT, scaled
    )
    result = report(check(engine_events(pairs)), stack_config)
    assert result.exit_code == drift.EXIT_DRIFT and result.pending == []
    assert result.outside == [
        "front: live VirtualService sends 30% to green, stack config says 0%",
        "front: live VirtualService sends 70% to blue, stack config says 100%",
        "front-green: live Deployment runs 5 replicas, stack config says 3 (apps.front.green.replicas)",
    ]
    assert render(result, "stg", UP).splitlines() == [
        "drift: changed on the cluster since the last pulumi up (kubectl edit, scale, delete):",
        *(f"  {line}" for line in result.outside),
        f"{UP} puts the live objects back to what the stack config says",
    ]


def test_a_changed_image_and_other_fields_name_the_field(recording, stack_config):
    blue = find(recording, "Deployment", "front-blue")
    state_map = find(recording, "ConfigMap", "front-bluegreen")
    edited = live_object(blue.inputs)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "evil.example.com/front:latest"
    edited["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1
    data = live_object(state_map.inputs)
    data["data"]["activeColor"] = "green"
    pairs = replaced(replaced(all_clean(recording), "front-blue", DEPLOYMENT, edited), "front-bluegreen", CONFIG_MAP, data)
    result = report(check(engine_events(pairs)), stack_config)
    grace = blue.inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert result.outside == [
        "front-blue: live Deployment runs image evil.example.com/front:latest, stack config says "
        "asia-docker.pkg.dev/acme/web/front:1.4.2 (apps.front.blue.image)",
        f"Deployment app/front-blue: spec.template.spec.terminationGracePeriodSeconds live 1, desired {grace}",
        'ConfigMap app/front-bluegreen: data.activeColor live "green", desired "blue"',
    ]


def test_an_object_deleted_by_hand_is_said_to_be_created_again(recording, stack_config):
    pairs = replaced(all_clean(recording), "front-bluegreen", CONFIG_MAP, None)
    result = report(check(engine_events(pairs)), stack_config)
    assert result.outside == ["ConfigMap app/front-bluegreen: not on the cluster (deleted by hand?); pulumi up creates it again"]


def test_a_stack_config_change_not_yet_applied_is_said_apart(recording, config, run_stack, tmp_path):
    """Live is what the last up applied (canary 0), and the refresh sees no change; the stack file now says 10."""
    config["apps"]["front"]["canaryWeight"] = 10
    wanted = run_stack(config)
    applied = {r.urn: r.inputs for r in recording.resources}
    pairs = [(r, live_object(applied[r.urn])) for r in objects(wanted)]
    result = report(check(engine_events(pairs, applied)), load(tmp_path, config))
    assert result.outside == [] and result.exit_code == drift.EXIT_DRIFT
    assert result.pending[:2] == [
        "front: live VirtualService sends 100% to blue, stack config says 90%",
        "front: live VirtualService sends 0% to green, stack config says 10%",
    ]
    assert 'ConfigMap app/front-bluegreen: data.canaryWeight live "0", desired "10"' in result.pending
    assert render(result, "stg", UP).splitlines()[0] == "not applied: Pulumi.stg.yaml changed since the last pulumi up:"


# --- the command's answers without an engine verdict: exit 2, one message, no traceback -------------------------


def run_cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli_app, ["drift", *args], env=env)


def test_an_unknown_stack_is_an_error_exit_2(tmp_path, config):
    load(tmp_path, config)
    result = run_cli("--stack", "qa", "--root", str(tmp_path))
    assert result.exit_code == drift.EXIT_ERROR
    assert result.output == "error: no stack file Pulumi.qa.yaml; stacks here: stg\n"


def test_an_invalid_stack_file_stops_before_the_engine_with_the_key_path(tmp_path, config, monkeypatch):
    config["apps"]["front"]["canaryWeight"] = 150
    write_stack(tmp_path, "stg", config)
    (tmp_path / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    monkeypatch.setattr(drift_run, "select_stack", lambda *a: pytest.fail("the engine must not start"))
    result = run_cli("--stack", "stg", "--root", str(tmp_path))
    assert result.exit_code == drift.EXIT_ERROR and "Traceback" not in result.output
    assert result.output.startswith("error: Pulumi.stg.yaml is invalid, fix it first:\n")
    assert "apps.front.canaryWeight: must be between 0 and 99, got 150" in result.output


def test_without_the_pulumi_cli_it_cannot_check_exit_2(tmp_path, config, monkeypatch):
    load(tmp_path, config)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run_cli("--stack", "stg", "--root", str(tmp_path))
    assert result.exit_code == drift.EXIT_ERROR
    assert result.output == 'error: the pulumi CLI is not on PATH (README "Deploy for real")\n'


class Preview:
    """A stack whose preview answers with these events (or fails like the engine), recording how it was asked."""

    def __init__(self, events=(), failure: str | None = None):
        self.events, self.failure = list(events), failure
        self.asked: dict[str, Any] = {}

    def preview(self, **options):
        self.asked = options
        for event in self.events:
            options["on_event"](event)
        if self.failure:
            raise auto.CommandError(auto.CommandResult(stdout="", stderr=self.failure, code=255))


def test_the_command_asks_for_a_refreshing_preview_and_exits_1_on_drift(tmp_path, config, recording, monkeypatch):
    load(tmp_path, config)
    vs = find(recording, "VirtualService", "front")
    stack = Preview(engine_events(replaced(all_clean(recording), "front", VS, edited_vs(vs, {"blue": 0, "green": 100}))))
    monkeypatch.setattr(drift_run, "select_stack", lambda root, name: stack if name == "acme/stg" else pytest.fail(name))
    result = run_cli("--stack", "stg", "--root", str(tmp_path), "--pulumi-stack", "acme/stg")
    assert stack.asked["refresh"] is True and "expect_no_changes" not in stack.asked  # preview --refresh: no state written
    assert result.exit_code == drift.EXIT_DRIFT, result.output
    assert result.output.splitlines()[1:3] == [
        "  front: live VirtualService sends 100% to green, stack config says 0%",
        "  front: live VirtualService sends 0% to blue, stack config says 100%",
    ]
    assert result.output.splitlines()[-1] == "pulumi up --refresh -s acme/stg puts the live objects back to what the stack config says"


def test_a_failed_preview_is_an_error_with_the_engines_reason(tmp_path, config, monkeypatch):
    load(tmp_path, config)
    failure = (
        "Previewing update (stg):\n\n"
        "error: Preview failed: 1 error occurred:\n"
        '\t* the Kubernetes API server reported that "app/front" failed to fully initialize or become live: Server-Side Apply field conflict\n'
        "error: preview failed\n"
    )
    monkeypatch.setattr(drift_run, "select_stack", lambda root, name: Preview(failure=failure))
    result = run_cli("--stack", "stg", "--root", str(tmp_path))
    assert result.exit_code == drift.EXIT_ERROR
    assert result.output.splitlines() == [
        "error: pulumi preview --refresh of stack stg failed:",
        "error: Preview failed: 1 error occurred:",
        '* the Kubernetes API server reported that "app/front" failed to fully initialize or become live: Server-Side Apply field conflict',
    ]


def test_values_are_compared_as_the_engine_sends_them():
    assert differences({"replicas": 2, "port": 8080}, {"replicas": 2.0, "port": "8080", "status": {}}) == []
    assert differences({"a": drift.UNKNOWN, "b": "[secret]"}, {"a": 1, "b": "[secret]"}) == []
    assert differences({"x": [1, 2]}, {"x": [1]}) == [drift.FieldDrift("x", [1], [1, 2])]
    assert differences({"on": True}, {"on": "true"}) == [drift.FieldDrift("on", "true", True)]
    assert Check([], 0).checked == 0


def test_the_real_engines_events_after_hand_edits(tmp_path):
    """Recorded from `preview --refresh` on the e2e cluster (stack `drift`, tests/e2e/test_drift.py's stack file)
    after `kubectl edit` of the weights, `kubectl scale --replicas 5` and `kubectl delete` of the state ConfigMap:
    the events of those objects and of one untouched Service, as the event log had them (managedFields cut)."""
    from tests.e2e.harness import one_app_stack_file

    one_app_stack_file(tmp_path / "Pulumi.drift.yaml", "front", "drift", preview=None)
    (tmp_path / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    recorded = json.loads((Path(__file__).parent / "data" / "drift_preview_refresh.json").read_text())
    result = report(check(auto.EngineEvent.from_json(event) for event in recorded), load_stack(tmp_path, "drift"))
    assert result.checked == 4 and result.pending == []
    assert result.outside == [
        "front: live VirtualService sends 30% to green, stack config says 0%",
        "front: live VirtualService sends 70% to blue, stack config says 100%",
        "front-green: live Deployment runs 5 replicas, stack config says 2 (apps.front.green.replicas)",
        "ConfigMap drift/front-bluegreen: not on the cluster (deleted by hand?); pulumi up creates it again",
    ]
