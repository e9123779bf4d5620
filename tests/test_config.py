"""Stack config validation: valid configs parse with documented defaults, every bad one names its key path."""

from __future__ import annotations

import copy

import pulumi
import pytest

from cli.engine.mock import run_program
from cli.engine.recording import Recording
from components.config import ConfigError, parse_stack_config
from tests.conftest import BASE_CONFIG, PLATFORM_CONFIG, engine_config


def front(config):
    return config["apps"]["front"]


def test_sample_config_parses():
    stack = parse_stack_config(copy.deepcopy(BASE_CONFIG))
    app = stack.apps["front"]
    assert (app.active_color, app.idle_color, app.canary_weight) == ("blue", "green", 0)
    assert app.blue.image is not None and app.blue.image.endswith("front:1.4.2") and app.green.replicas == 3


def test_defaults_fill_optional_fields():
    stack = parse_stack_config(
        {
            **PLATFORM_CONFIG,
            "gateway": {"namespace": "app", "hosts": ["a.example.com"]},
            "apps": {"a": {"namespace": "app", "hosts": ["a.example.com"], "blue": {"image": "r/a:1"}}},
        }
    )
    app = stack.apps["a"]
    assert stack.gateway.name == "bluegreen-gateway"
    assert stack.gateway.selector == {"istio": "ingressgateway"}
    assert (app.port, app.health_path, app.active_color, app.canary_weight) == (8080, "/healthz", "blue", 0)
    assert app.blue.replicas == 2 and app.green.image is None
    assert app.preview.path_prefix == "/preview" and app.preview.header.name == "x-preview"
    # Preview is closed by default (no source ranges, so no routes); callers default to the stack's app namespaces.
    assert app.preview.allowed_source_ranges is None and not app.preview.active and app.preview.host is None
    assert app.allowed_callers is None and stack.allowed_callers("a") == ["app"]
    assert (app.drain.sidecar_mode, app.drain.pre_stop_seconds, app.drain.app_shutdown_seconds) == ("native", 10, 20)
    assert app.resources.limits.memory == "256Mi" and app.read_only_root_filesystem


def test_numeric_quantities_become_strings(config):
    front(config)["resources"]["limits"]["cpu"] = 2
    assert parse_stack_config(config).apps["front"].resources.limits.cpu == "2"


def test_wildcard_gateway_host_covers_app_host(config):
    front(config)["hosts"] = ["front.apps.example.com"]
    assert parse_stack_config(config).apps["front"].hosts == ["front.apps.example.com"]


def set_path(config, path, value):
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {}) if not key.isdigit() else node[int(key)]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


INVALID = [
    ("apps.front.canaryWeight", 150, "apps.front.canaryWeight: must be between 0 and 99, got 150"),
    ("apps.front.canaryWeight", -1, "apps.front.canaryWeight: must be between 0 and 99, got -1"),
    (
        "apps.front.canaryWeight",
        100,
        "apps.front.canaryWeight: 100 is not a canary (a canary is 1-99, 0 = no canary): to move all traffic to the idle color use flip (`make flip`)",
    ),
    ("apps.front.previousColor", "blue", "apps.front.previousColor: must differ from activeColor (blue)"),
    ("apps.front.previousColor", "red", "apps.front.previousColor: must be 'blue' or 'green', got 'red'"),
    ("apps.front.activeColor", "red", "apps.front.activeColor: must be 'blue' or 'green', got 'red'"),
    ("apps.front.colour", "blue", "apps.front.colour: unknown key"),
    ("gateway.tlss", {}, "gateway.tlss: unknown key"),
    ("apps.front.port", 0, "apps.front.port: must be between 1 and 65535, got 0"),
    ("apps.front.port", 70000, "apps.front.port: must be between 1 and 65535, got 70000"),
    ("apps.front.namespace", "App_NS", "apps.front.namespace: must be a DNS-1123 label"),
    ("apps.front.blue.image", "Front:LATEST!", "apps.front.blue.image: must be an image reference"),
    ("apps.front.blue.replicas", -2, "apps.front.blue.replicas: must be between 0 and 1000, got -2"),
    ("apps.front.resources.requests.cpu", "lots", "apps.front.resources.requests.cpu: must be a Kubernetes quantity"),
    ("apps.front.resources.limits.memory", "512MB", "apps.front.resources.limits.memory: must be a Kubernetes quantity"),
    ("apps.front.preview.pathPrefix", "test", "apps.front.preview.pathPrefix: must be a path prefix"),
    ("apps.front.preview.pathPrefix", "/test/", "apps.front.preview.pathPrefix: must be a path prefix"),
    ("apps.front.preview.header.name", "X-Preview", "apps.front.preview.header.name: must be a lowercase HTTP header name"),
    ("apps.front.preview.allowedSourceRanges", ["10.1.2.3/8"], "apps.front.preview.allowedSourceRanges.0: must be a CIDR block"),
    ("apps.front.healthPath", "healthz", "apps.front.healthPath: must be an absolute HTTP path"),
    ("apps.front.hosts", ["evil.example.org"], "apps.front.hosts.0: evil.example.org is not served by gateway.hosts"),
    ("apps.front.hosts", [], "apps.front.hosts: List should have at least 1 item"),
    ("gateway.namespace", None, "gateway.namespace: must be a valid string, got None"),
    ("apps.front.blue.image", None, "apps.front.blue.image: is required because blue is the activeColor"),
    ("apps.front.blue.replicas", 0, "apps.front.blue.replicas: must be at least 1 because blue is the activeColor, got 0"),
    (
        "apps.front.preview.allowedSourceRanges",
        None,
        "apps.front.preview.allowedSourceRanges: is required when header, pathPrefix are set: the preview gate has no default ranges",
    ),
    (
        "apps.front.preview.host",
        "front-preview.example.org",
        "apps.front.preview.host: front-preview.example.org is not served by gateway.hosts",
    ),
    ("apps.front.preview.host", "front.stg.example.com", "apps.front.preview.host: front.stg.example.com is already routed by app 'front'"),
    ("apps.front.preview.host", "Front_Preview", "apps.front.preview.host: must be a lowercase DNS hostname"),
    ("apps.front.allowedCallers", ["Not_A_Label"], "apps.front.allowedCallers.0: must be a DNS-1123 label"),
    ("apps.front.canaryWeight", 99, None),  # valid: the largest canary
    ("apps.front.previousColor", "green", None),  # valid: what a rollback returns to
]


@pytest.mark.parametrize("path,value,expected", INVALID, ids=[f"{p}={v!r}" for p, v, _ in INVALID])
def test_invalid_values_name_the_key_path(config, path, value, expected):
    set_path(config, path, value)
    if expected is None:
        parse_stack_config(config)
        return
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert any(line.startswith(expected) for line in err.value.problems), err.value.problems


def test_canary_to_idle_color_needs_a_serving_idle(config):
    front(config)["green"] = {"replicas": 0, "image": "r/front:2"}
    front(config)["canaryWeight"] = 10
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == ["apps.front.green.replicas: must be at least 1 because green receives canaryWeight, got 0"]


def test_idle_color_may_be_absent_or_scaled_down(config):
    front(config)["green"] = {"replicas": 0, "image": "r/front:2"}
    assert not parse_stack_config(config).apps["front"].green.serving
    del front(config)["green"]
    assert parse_stack_config(config).apps["front"].green.image is None


def test_two_apps_cannot_claim_one_host(config):
    config["apps"]["copy"] = copy.deepcopy(front(config))
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == ["apps.copy.hosts.0: front.stg.example.com is already routed by app 'front'"]


def test_app_names_are_dns_labels(config):
    config["apps"]["Front_2"] = config["apps"].pop("front")
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems[0].startswith("apps.Front_2: must be a DNS-1123 label")


def test_all_problems_are_reported_at_once(config):
    front(config)["canaryWeight"] = 150
    front(config)["port"] = 0
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert len(err.value.problems) == 2
    assert str(err.value) == "\n".join(err.value.problems)


def test_program_rejects_bad_config_before_registering_anything(config):
    front(config)["canaryWeight"] = 150
    recording = Recording()
    with pytest.raises(pulumi.RunError) as err:
        run_program("test", engine_config(config), recording=recording)
    assert "apps.front.canaryWeight: must be between 0 and 99, got 150" in str(err.value)
    assert "Traceback" not in str(err.value)
    assert recording.resources == []


def test_allowed_callers_default_to_the_stacks_app_namespaces(config):
    config["apps"]["api"] = {"namespace": "api", "hosts": ["api.apps.example.com"], "blue": {"image": "r/api:1"}}
    stack = parse_stack_config(config)
    assert stack.allowed_callers("api") == stack.allowed_callers("front") == ["api", "app"]
    config["apps"]["api"]["allowedCallers"] = ["batch"]
    assert parse_stack_config(config).allowed_callers("api") == ["api", "batch"]  # its own namespace always


def test_preview_enabled_explicitly_needs_ranges(config):
    front(config)["preview"] = {"enabled": True}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == [
        "apps.front.preview.allowedSourceRanges: is required when enabled is set: the preview gate has no default ranges "
        "(set enabled: false to turn preview off)"
    ]


def test_preview_off_needs_no_ranges(config):
    front(config)["preview"] = {"enabled": False, "pathPrefix": "/test"}
    assert not parse_stack_config(config).apps["front"].preview.active
