"""The switch gate: readiness against a fake AppsV1Api, the provider's diff/create/update, cluster access,
its pickled form, and its wiring under the mock engine."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any

import dill
import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import proto, rpc

from cli.engine.mock import dynamic_provider_label
from components.app import switch_gate
from components.app.routing import routing_model
from components.app.switch_gate import (
    SwitchGateProvider,
    SwitchRefused,
    switch_gate_props,
    wait_until_ready,
)
from components.config import ConfigError, parse_stack_config
from components.shared.colors import Color
from tests.conftest import ROOT, find

if TYPE_CHECKING:
    from pulumi.runtime.proto.provider_pb2_grpc import ResourceProviderStub

GATE_TYPE = "pulumi-python:dynamic:SwitchGate"
PROVIDER_LABEL = "<dynamic provider components.app.switch_gate.SwitchGateProvider>"


# --- a fake cluster -------------------------------------------------------------------------------


def deployment(replicas: int = 2, available: int | None = None, generation: int = 1, observed: int | None = None) -> SimpleNamespace:
    """What AppsV1Api.read_namespaced_deployment returns, as far as the gate reads it (None as the API leaves it)."""
    return SimpleNamespace(
        metadata=SimpleNamespace(generation=generation),
        spec=SimpleNamespace(replicas=replicas),
        status=SimpleNamespace(available_replicas=available, observed_generation=generation if observed is None else observed),
    )


class FakeApps:
    """An AppsV1Api: each Deployment is a list of answers, one per read (the last repeats); an exception is raised."""

    def __init__(self, **deployments: Any):
        self.answers = {name.replace("_", "-"): value if isinstance(value, list) else [value] for name, value in deployments.items()}
        self.reads: list[tuple[str, str]] = []

    def read_namespaced_deployment(self, name: str, namespace: str, **kwargs: Any) -> SimpleNamespace:
        self.reads.append((namespace, name))
        answers = self.answers.get(name)
        if answers is None:
            raise ApiException(status=404, reason="Not Found")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def ready(apps: FakeApps, clock: FakeClock, replicas: Mapping[Color, int] | None = None, timeout: int = 300, said: list[str] | None = None):
    return wait_until_ready(
        apps,
        "front",
        "app",
        replicas or {"green": 2},
        timeout,
        clock=clock,
        sleep=clock.sleep,
        say=(said if said is not None else []).append,
    )


def refusal(apps: FakeApps, clock: FakeClock, **kwargs: Any) -> str:
    with pytest.raises(SwitchRefused) as err:
        ready(apps, clock, **kwargs)
    return str(err.value)


# --- readiness ------------------------------------------------------------------------------------


def test_ready_color_passes_at_once(clock):
    said: list[str] = []
    states = ready(FakeApps(front_green=deployment(replicas=2, available=2)), clock, said=said)
    assert [(s.color, s.available, s.required) for s in states] == [("green", 2, 2)]
    assert clock.sleeps == []
    assert said == ["front: green ready: 2 of 2 replicas available"]


def test_more_available_than_configured_is_ready(clock):
    ready(FakeApps(front_green=deployment(replicas=4, available=4)), clock)
    assert clock.sleeps == []


def test_color_scaled_to_zero_by_hand_is_refused_with_counts(clock):
    message = refusal(FakeApps(front_green=deployment(replicas=0, available=None)), clock)
    first, hint = message.splitlines()
    assert first == "front: routing not changed: green has 0 of 2 replicas available (spec.replicas 0) after 300s"
    assert "scaled outside Pulumi" in hint and "pulumi up --refresh" in hint


def test_unready_pods_are_refused(clock):
    message = refusal(FakeApps(front_green=deployment(replicas=2, available=1)), clock, timeout=60)
    assert message == "front: routing not changed: green has 1 of 2 replicas available (spec.replicas 2) after 60s"


def test_stale_observed_generation_is_not_ready_even_with_pods_available(clock):
    message = refusal(FakeApps(front_green=deployment(replicas=2, available=2, generation=4, observed=3)), clock)
    assert message == (
        "front: routing not changed: green has 2 of 2 replicas available, but its latest spec is not observed yet "
        "(observedGeneration 3 < generation 4) after 300s"
    )


def test_missing_deployment_is_refused_at_once(clock):
    message = refusal(FakeApps(), clock)
    assert message == "front: routing not changed: Deployment app/front-green of green does not exist"
    assert clock.sleeps == []


def test_forbidden_read_is_refused_at_once(clock):
    message = refusal(FakeApps(front_green=ApiException(status=403, reason="Forbidden")), clock)
    assert message == "front: routing not changed: cannot read Deployment app/front-green: 403 Forbidden"
    assert clock.sleeps == []


def test_waits_until_ready_within_the_timeout(clock):
    apps = FakeApps(front_green=[deployment(available=None), deployment(available=1), deployment(available=2)])
    said: list[str] = []
    ready(apps, clock, said=said)
    assert clock.sleeps == [2.0, 2.0]
    assert said == [
        "front: waiting up to 300s: green has 0 of 2 replicas available (spec.replicas 2)",
        "front: green ready: 2 of 2 replicas available",
    ]


def test_transient_api_errors_are_retried(clock):
    apps = FakeApps(
        front_green=[ApiException(status=503, reason="Service Unavailable"), ConnectionRefusedError("refused"), deployment(available=2)]
    )
    ready(apps, clock)
    assert len(clock.sleeps) == 2


def test_persistent_api_error_times_out_naming_it(clock):
    message = refusal(FakeApps(front_green=ApiException(status=500, reason="Internal Server Error")), clock, timeout=10)
    assert message == "front: routing not changed: cannot read Deployment app/front-green of green: 500 Internal Server Error after 10s"


def test_times_out_polling_every_two_seconds(clock):
    started = clock.now
    refusal(FakeApps(front_green=deployment(available=1)), clock, timeout=5)
    assert clock.sleeps == [2.0, 2.0, 1.0]  # the last wait ends at the deadline
    assert clock.now - started == 5


def test_every_color_getting_traffic_is_checked_and_named(clock):
    apps = FakeApps(front_blue=deployment(replicas=3, available=3), front_green=deployment(replicas=0, available=None))
    message = refusal(apps, clock, replicas={"blue": 3, "green": 2})
    assert message.splitlines()[0] == "front: routing not changed: green has 0 of 2 replicas available (spec.replicas 0) after 300s"
    assert {name for _, name in apps.reads} == {"front-blue", "front-green"}


# --- the provider ------------------------------------------------------------------------------------


def gate_props(config: dict, cluster: dict | None = None, **app: Any) -> dict[str, Any]:
    """The gate's inputs for this app config, as the provider process receives them (numbers are floats)."""
    config["apps"]["front"].update(app)
    cfg = parse_stack_config(config).apps["front"]
    props = switch_gate_props("front", cfg, routing_model(cfg), cluster or {})
    return {**engine_numbers(props), "__provider": serialize_provider(SwitchGateProvider())}


def engine_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: engine_numbers(v) for k, v in value.items()}
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class FakeClusterProvider(SwitchGateProvider):
    """The provider against a fake cluster and clock; records what it was handed."""

    def __init__(self, apps: FakeApps, clock: FakeClock):
        super().__init__()
        self.apps, self.fake_clock = apps, clock
        self.clusters: list[dict[str, Any]] = []

    def apps_api(self, cluster):
        self.clusters.append(dict(cluster))
        return self.apps

    def clock(self) -> float:
        return self.fake_clock()

    def sleep(self, seconds: float) -> None:
        self.fake_clock.sleep(seconds)


def outs_of(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in ("cluster", "__provider")}


def test_inputs_carry_weights_replicas_of_colors_with_traffic_and_the_timeout(config):
    props = gate_props(config, activeColor="green", canaryWeight=10, readinessTimeout="90s")
    assert props["weights"] == {"blue": 10, "green": 90}
    assert props["replicas"] == {"blue": 3, "green": 3}
    assert props["readinessTimeoutSeconds"] == 90
    assert props["analysis"] is None and props["cluster"] == {}
    assert gate_props(config, activeColor="blue", canaryWeight=0)["replicas"] == {"blue": 3}


def test_inputs_carry_each_colors_image_and_what_the_app_served_before_for_the_pack(config):
    cfg = parse_stack_config(config).apps["front"]
    before = {"weights": {"blue": 100, "green": 0}, "images": {"blue": "r/front:1.4.2", "green": "r/front:1.5.0"}}
    props = switch_gate_props("front", cfg, routing_model(cfg), {}, before)
    assert props["images"] == {"blue": "asia-docker.pkg.dev/acme/web/front:1.4.2", "green": "asia-docker.pkg.dev/acme/web/front:1.5.0"}
    assert props["previous"] is before
    assert switch_gate_props("front", cfg, routing_model(cfg), {})["previous"] is None  # nothing known: not judged


def test_diff_what_served_before_or_an_image_alone_runs_nothing(config):
    olds = outs_of(gate_props(config))
    news = {**gate_props(config, green={"image": "r/front:2", "replicas": 3}), "previous": {"weights": {"blue": 0, "green": 100}}}
    assert news["images"]["green"] == "r/front:2"
    assert SwitchGateProvider().diff("app/front", olds, news).changes is False


def test_diff_a_routing_change_is_an_update_never_a_replacement(config):
    olds = outs_of(gate_props(config))
    news = gate_props(config, activeColor="green")
    result = SwitchGateProvider().diff("app/front", olds, news)
    assert result.changes is True and result.replaces == [] and result.delete_before_replace is False


@pytest.mark.parametrize(
    "change",
    [
        {"canaryWeight": 20},
        {"blue": {"image": "r/front:1", "replicas": 5}},
        {"readinessTimeout": "10m"},
        {"promotion": {"analysis": {"prometheusUrl": "http://p:9090"}}},
    ],
)
def test_diff_changes_with_replicas_timeout_or_analysis(config, change):
    olds = outs_of(gate_props(config))
    assert SwitchGateProvider().diff("app/front", olds, gate_props(config, **change)).changes is True


def test_diff_same_routing_is_no_change(config):
    # The olds are the outputs (no cluster access); new cluster access or an image change alone runs nothing.
    olds = outs_of(gate_props(config))
    news = gate_props(config, cluster={"kubeconfig": "apiVersion: v1\n"}, green={"image": "r/front:2", "replicas": 3})
    result = SwitchGateProvider().diff("app/front", olds, news)
    assert result.changes is False and result.replaces == []


def test_create_checks_readiness_and_returns_the_inputs_without_cluster_access(config, clock):
    apps = FakeApps(front_blue=deployment(replicas=3, available=3))
    provider = FakeClusterProvider(apps, clock)
    props = gate_props(config, cluster={"path": "/etc/kube/config", "context": "stg"})
    result = provider.create(props)
    assert result.id == "app/front"
    assert result.outs == outs_of(props) and "cluster" not in result.outs
    assert provider.clusters == [{"path": "/etc/kube/config", "context": "stg"}]
    assert apps.reads == [("app", "front-blue")]


def test_update_refuses_a_flip_to_a_color_scaled_to_zero(config, clock):
    olds = outs_of(gate_props(config))
    news = gate_props(config, activeColor="green")
    provider = FakeClusterProvider(FakeApps(front_blue=deployment(3, 3), front_green=deployment(replicas=0, available=None)), clock)
    with pytest.raises(SwitchRefused) as err:
        provider.update("app/front", olds, news)
    assert str(err.value).splitlines()[0] == "front: routing not changed: green has 0 of 3 replicas available (spec.replicas 0) after 300s"


def test_create_refuses_when_the_cluster_cannot_be_reached(config, tmp_path):
    props = gate_props(config, cluster={"path": str(tmp_path / "absent")})
    with pytest.raises(SwitchRefused) as err:
        SwitchGateProvider().create(props)
    assert str(err.value).startswith("front: routing not changed: cannot reach the cluster: ")


def test_metrics_run_after_readiness_with_the_previous_weights_from_state(config, clock, monkeypatch):
    calls = []
    monkeypatch.setattr(switch_gate, "check_metrics", lambda *args, **kwargs: calls.append(args))
    analysis = {"promotion": {"analysis": {"prometheusUrl": "http://p:9090", "minRequests": 50}}}
    olds = outs_of(gate_props(config, **analysis))
    news = gate_props(config, activeColor="green")
    apps = FakeApps(front_green=deployment(3, 3))
    FakeClusterProvider(apps, clock).update("app/front", olds, news)
    [(app, namespace, weights, previous, checked)] = calls
    assert (app, namespace, weights, previous) == ("front", "app", {"blue": 0, "green": 100}, {"blue": 100, "green": 0})
    assert checked.min_requests == 50 and isinstance(checked.min_requests, int)
    # A new gate has no previous routing: every color with traffic is checked.
    FakeClusterProvider(apps, clock).create(news)
    assert calls[1][3] is None


def test_metrics_are_not_checked_when_readiness_refuses(config, clock, monkeypatch):
    calls = []
    monkeypatch.setattr(switch_gate, "check_metrics", lambda *args, **kwargs: calls.append(args))
    props = gate_props(config, activeColor="green", promotion={"analysis": {"prometheusUrl": "http://p:9090"}})
    with pytest.raises(SwitchRefused):
        FakeClusterProvider(FakeApps(), clock).create(props)
    assert calls == []


def test_no_metrics_without_analysis(config, clock, monkeypatch):
    monkeypatch.setattr(switch_gate, "check_metrics", lambda *args, **kwargs: pytest.fail("no analysis configured"))
    FakeClusterProvider(FakeApps(front_blue=deployment(3, 3)), clock).create(gate_props(config))


# --- cluster access ----------------------------------------------------------------------------------

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {"name": "a", "cluster": {"server": "https://a.invalid:6443"}},
        {"name": "b", "cluster": {"server": "https://b.invalid:6443"}},
    ],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "a", "context": {"cluster": "a", "user": "u"}}, {"name": "b", "context": {"cluster": "b", "user": "u"}}],
    "current-context": "a",
}


def host(apps) -> str:
    return apps.api_client.configuration.host


def test_kubeconfig_text_builds_the_client(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    assert host(switch_gate.apps_api({"kubeconfig": yaml.safe_dump(KUBECONFIG)})) == "https://a.invalid:6443"


def test_path_and_context_pick_the_cluster(tmp_path, monkeypatch):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    assert host(switch_gate.apps_api({"path": str(path), "context": "b"})) == "https://b.invalid:6443"
    assert host(switch_gate.apps_api({"path": str(path)})) == "https://a.invalid:6443"


def test_no_settings_means_kubeconfig_env_then_home(tmp_path, monkeypatch):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert host(switch_gate.apps_api({"context": "b"})) == "https://b.invalid:6443"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(yaml.safe_dump(KUBECONFIG))
    assert host(switch_gate.apps_api({})) == "https://a.invalid:6443"


# --- what Pulumi stores -------------------------------------------------------------------------------


def test_provider_pickles_by_reference_small_and_deterministic():
    serialized = serialize_provider(SwitchGateProvider())
    assert serialized == serialize_provider(SwitchGateProvider())
    assert len(serialized) < 200  # a reference to the class, no captured state
    restored = dill.loads(base64.b64decode(serialized))
    assert type(restored) is SwitchGateProvider and vars(restored) == {}
    assert dynamic_provider_label(serialized) == PROVIDER_LABEL


def test_label_of_an_unreadable_provider_says_so():
    assert dynamic_provider_label("not base64!").startswith("<dynamic provider pickled by value")


# --- config -------------------------------------------------------------------------------------------


def test_readiness_timeout_defaults_to_five_minutes(config):
    assert parse_stack_config(config).apps["front"].readiness_timeout == "5m"


@pytest.mark.parametrize(
    "value, message",
    [
        ("5min", "must be a duration such as 30s, 5m or 1h, got '5min'"),
        ("5s", "must be between 10s and 30m, got 5s"),
        ("1h", "must be between 10s and 30m, got 1h"),
    ],
)
def test_invalid_readiness_timeout_names_the_key(config, value, message):
    config["apps"]["front"]["readinessTimeout"] = value
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == [f"apps.front.readinessTimeout: {message}"]


# --- wiring under the mock engine ----------------------------------------------------------------------


def with_second_app(config: dict) -> dict:
    config["apps"]["back"] = {
        "namespace": "back",
        "hosts": ["back.apps.example.com"],
        "activeColor": "green",
        "blue": {"image": "r/back:1"},
        "green": {"image": "r/back:2"},
        "preview": {"allowedSourceRanges": ["10.0.0.0/8"]},  # preview (so the idle color is routed) needs ranges
    }
    return config


def test_every_app_gets_a_gate_that_routing_waits_for(run_stack, config):
    rec = run_stack(with_second_app(config))
    assert sorted(r.name for r in rec.of_type(GATE_TYPE)) == ["back-switch-gate", "front-switch-gate"]
    for app, namespace in (("front", "app"), ("back", "back")):
        gate = find(rec, GATE_TYPE, f"{app}-switch-gate")
        assert gate.parent == find(rec, "bluegreen:bluegreen_app:BlueGreenApp", app).urn
        assert gate.urn in find(rec, ":VirtualService", app).dependencies
        for kind in (f":Deployment::{app}-blue", f":Deployment::{app}-green", f":Service::{app}", f":DestinationRule::{app}"):
            assert any(dep.endswith(kind) for dep in gate.dependencies), kind
        assert (gate.inputs["app"], gate.inputs["namespace"], gate.inputs["__provider"]) == (app, namespace, PROVIDER_LABEL)
    assert find(rec, GATE_TYPE, "back-switch-gate").inputs["replicas"] == {"green": 2}


def test_gate_reaches_the_cluster_the_stack_uses(run_stack, config):
    gate = find(run_stack(config), GATE_TYPE, "front-switch-gate")
    assert "cluster" in gate.options["secretInputs"]  # the GKE cluster's kubeconfig, a secret
    kubeconfig = gate.inputs["cluster"]["kubeconfig"]
    assert "gke-gcloud-auth-plugin" in kubeconfig and "token" not in yaml.safe_load(kubeconfig)["users"][0]["user"]
    local = {**config, "cluster": {"mode": "kubeconfig", "context": "kind-kind"}, "istio": {"mode": "existing"}}
    assert find(run_stack(local), GATE_TYPE, "front-switch-gate").inputs["cluster"] == {"context": "kind-kind"}
    local["cluster"] = {"mode": "kubeconfig"}
    assert find(run_stack(local), GATE_TYPE, "front-switch-gate").inputs["cluster"] == {}


def test_gate_does_not_wait_for_a_color_routing_is_leaving(run_stack, config):
    # Flip and scale the old color down in one `pulumi up`: the gate checks green only, blue shrinks after routing moved.
    config["apps"]["front"].update(activeColor="green", blue={"image": "r/front:1", "replicas": 0})
    rec = run_stack(config)
    gate, blue = find(rec, GATE_TYPE, "front-switch-gate"), find(rec, ":Deployment", "front-blue")
    assert blue.urn not in gate.dependencies and gate.inputs["replicas"] == {"green": 3}
    assert find(rec, ":VirtualService", "front").urn in blue.dependencies


# --- the provider process, against a fake API server ----------------------------------------------------
#
# What `pulumi up` does with the gate, short of the engine: the engine starts `python -m pulumi.dynamic`
# in the project directory and calls it over gRPC with the inputs serialized; the process unpickles the
# provider from `__provider`, and the real kubernetes client reads Deployments from an HTTP server on loopback.


class ApiServer:
    """Serves GET /apis/apps/v1/namespaces/<ns>/deployments/<name> from `deployments` (404 Status otherwise)."""

    def __init__(self):
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = self.path.split("?")[0].strip("/").split("/")
                found = (
                    server.deployments.get((parts[4], parts[6]))
                    if parts[:4] == ["apis", "apps", "v1", "namespaces"] and len(parts) == 7
                    else None
                )
                body = found or {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
                data = json.dumps(body).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.kubeconfig = yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.httpd.server_port}"}}],
                "users": [{"name": "fake", "user": {}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            }
        )

    def put(self, namespace: str, name: str, replicas: int, available: int | None, generation: int = 1) -> None:
        status = {"observedGeneration": generation, "replicas": replicas}
        if available:
            status["availableReplicas"] = available
        self.deployments[(namespace, name)] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "generation": generation},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "r/app:1"}]}},
            },
            "status": status,
        }


@pytest.fixture
def api_server():
    server = ApiServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@dataclass
class ProviderProcess:
    stub: ResourceProviderStub
    stderr: IO[str]  # what the provider printed


@pytest.fixture
def provider_process(tmp_path) -> Iterator[ProviderProcess]:
    """`python -m pulumi.dynamic` as the engine starts it (from the project directory), and a gRPC stub to it."""
    import grpc
    from pulumi.runtime.proto import provider_pb2_grpc

    stderr = (tmp_path / "provider.stderr").open("w+")
    process = subprocess.Popen([sys.executable, "-m", "pulumi.dynamic"], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None  # stdout=PIPE
    try:
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield ProviderProcess(provider_pb2_grpc.ResourceProviderStub(channel), stderr)
    finally:
        process.terminate()
        process.wait(timeout=10)
        stderr.close()


def engine_struct(props: dict[str, Any]):
    # A private loop: asyncio.run() would leave the thread without one, and the mock engine needs it later.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def test_real_client_reads_deployments(api_server, clock):
    api_server.put("app", "front-green", replicas=2, available=2)
    apps = switch_gate.apps_api({"kubeconfig": api_server.kubeconfig})
    assert [s.available for s in ready(apps, clock)] == [2]
    api_server.put("app", "front-green", replicas=0, available=None)
    assert refusal(apps, clock, timeout=4).startswith(
        "front: routing not changed: green has 0 of 2 replicas available (spec.replicas 0) after 4s"
    )
    del api_server.deployments[("app", "front-green")]
    assert refusal(apps, clock) == "front: routing not changed: Deployment app/front-green of green does not exist"


def test_provider_process_creates_and_refuses_a_flip_to_an_unready_color(config, api_server, provider_process):
    import grpc

    api_server.put("app", "front-blue", replicas=3, available=3)
    api_server.put("app", "front-green", replicas=0, available=None)
    props = gate_props(config, cluster={"kubeconfig": api_server.kubeconfig})
    props["readinessTimeoutSeconds"] = 1  # below what config allows, to keep the test short
    created = provider_process.stub.Create(proto.CreateRequest(urn="urn:gate", properties=engine_struct(props)))
    outs = rpc.deserialize_properties(created.properties)
    assert created.id == "app/front"
    assert "cluster" not in outs and outs["weights"] == {"blue": 100, "green": 0} and outs["__provider"] == props["__provider"]

    flip = {**props, "weights": {"blue": 0, "green": 100}, "replicas": {"green": 3}}
    diff = provider_process.stub.Diff(proto.DiffRequest(id="app/front", urn="urn:gate", olds=created.properties, news=engine_struct(flip)))
    assert diff.changes == proto.DiffResponse.DIFF_SOME and list(diff.replaces) == []
    same = provider_process.stub.Diff(proto.DiffRequest(id="app/front", urn="urn:gate", olds=created.properties, news=engine_struct(props)))
    assert same.changes == proto.DiffResponse.DIFF_NONE

    update = proto.UpdateRequest(id="app/front", urn="urn:gate", olds=created.properties, news=engine_struct(flip))
    with pytest.raises(grpc.RpcError) as err:
        provider_process.stub.Update(update)
    details = err.value.details()
    assert (
        details is not None
        and "SwitchRefused: front: routing not changed: green has 0 of 3 replicas available (spec.replicas 0) after 1s" in details
    )
    api_server.put("app", "front-green", replicas=3, available=3)
    updated = provider_process.stub.Update(update)
    assert rpc.deserialize_properties(updated.properties)["weights"] == {"blue": 0, "green": 100}
    provider_process.stderr.seek(0)
    printed = provider_process.stderr.read()
    assert "front: blue ready: 3 of 3 replicas available" in printed and "front: green ready: 3 of 3 replicas available" in printed
