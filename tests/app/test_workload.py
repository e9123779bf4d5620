"""Pure builders for the app's Kubernetes objects."""

from __future__ import annotations

import pytest

from components.app import workload
from components.app.routing import routing_model
from components.config import ConfigError, parse_stack_config


def app_config(config, **changes):
    config["apps"]["front"].update(changes)
    return parse_stack_config(config).apps["front"]


def test_deployment_is_restricted_and_probed(config):
    dep = workload.deployment("front", app_config(config), "green")
    assert dep["metadata"]["name"] == "front-green"
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "front", "version": "green"}
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["template"]["metadata"]["labels"]["version"] == "green"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert "fsGroup" not in pod["securityContext"]
    (container,) = pod["containers"]
    assert container["image"] == "asia-docker.pkg.dev/acme/web/front:1.5.0"
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthcheck.html", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert "hostNetwork" not in pod


def test_run_as_user_and_group_are_set_per_app(config):
    pod = workload.deployment("front", app_config(config, runAsUser=20000, runAsGroup=3000), "blue")["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (20000, 3000)
    assert "runAsUser" not in pod["containers"][0]["securityContext"]  # one place: the pod's


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("runAsUser", 0, "apps.front.runAsUser: must not be 0 (root): Pod Security restricted refuses it"),
        ("runAsGroup", 0, "apps.front.runAsGroup: must not be 0 (root)"),
        ("runAsUser", -5, "apps.front.runAsUser: must be between 1 and 2147483647, got -5"),
        ("runAsGroup", 2147483648, "apps.front.runAsGroup: must be between 1 and 2147483647, got 2147483648"),
        ("runAsUser", True, "apps.front.runAsUser: must be a whole number, got true"),
        ("runAsUser", "nobody", "apps.front.runAsUser: must be a whole number, got 'nobody'"),
    ],
)
def test_run_as_ids_must_be_non_root_ids(config, key, value, expected):
    config["apps"]["front"][key] = value
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert [p for p in err.value.problems if p.startswith(expected)], err.value.problems


def test_writable_root_filesystem_is_opt_in(config):
    dep = workload.deployment("front", app_config(config, readOnlyRootFilesystem=False), "blue")
    pod = dep["spec"]["template"]["spec"]
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False
    assert "volumes" not in pod and "volumeMounts" not in pod["containers"][0]


def test_deployments_do_not_depend_on_the_active_color(config):
    blue_active = app_config(config, activeColor="blue", canaryWeight=30)
    green_active = app_config(config, activeColor="green", canaryWeight=0)
    for color in ("blue", "green"):
        assert workload.deployment("front", blue_active, color) == workload.deployment("front", green_active, color)
    assert workload.service("front", blue_active) == workload.service("front", green_active)


def test_service_selects_both_colors(config):
    svc = workload.service("front", app_config(config))
    assert svc["spec"]["selector"] == {"app": "front"}
    assert svc["spec"]["ports"][0]["port"] == 8080 and svc["spec"]["ports"][0]["targetPort"] == "http"


def test_state_config_map_records_active_color(config):
    app = app_config(config, activeColor="green", canaryWeight=10)
    cm = workload.state_config_map("front", app, routing_model(app))
    assert cm["metadata"]["name"] == "front-bluegreen"
    assert cm["data"]["activeColor"] == "green" and cm["data"]["idleColor"] == "blue"
    assert cm["data"]["canaryWeight"] == "10"


def test_state_config_map_records_the_rollback_target(config):
    never_flipped = app_config(config)
    assert workload.state_config_map("front", never_flipped, routing_model(never_flipped))["data"]["previousColor"] == ""
    flipped = app_config(config, activeColor="green", previousColor="blue")
    assert workload.state_config_map("front", flipped, routing_model(flipped))["data"]["previousColor"] == "blue"
