"""Issue 19.3: strict numbers and booleans (in the forms `pulumi config set` writes), Kubernetes label maps."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from tests.platform.test_config import set_key


def problems(config: dict, path: str, value) -> list[str]:
    if path.startswith("gateway.tls."):
        config["gateway"]["tls"] = {"credentialName": "front-tls"}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(set_key(config, path, value))
    return err.value.problems


def accepted(config: dict, path: str, value):
    return parse_stack_config(set_key(config, path, value))


@pytest.mark.parametrize(
    "path",
    [
        "apps.front.port",
        "apps.front.canaryWeight",
        "apps.front.blue.replicas",
        "apps.front.runAsUser",
        "apps.front.drain.preStopSeconds",
        "nodePool.diskSizeGb",
        "nodePool.autoscaling.maxNodeCount",
    ],
)
@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_never_a_whole_number(config, path, value):
    spelled = "true" if value else "false"
    assert problems(config, path, value) == [f"{path}: must be a whole number, got {spelled}"]


@pytest.mark.parametrize("path", ["apps.front.mirror.percent", "istio.addons.jaeger.samplingPercent"])
def test_a_boolean_is_never_a_number(config, path):
    assert problems(config, path, True) == [f"{path}: must be a number, got true"]


@pytest.mark.parametrize(
    "path", ["apps.front.preview.enabled", "apps.front.readOnlyRootFilesystem", "cluster.manage", "gateway.tls.httpsRedirect"]
)
@pytest.mark.parametrize("value", [1, 0, "yes", "True", "1", 1.0])
def test_a_boolean_is_true_or_false_only(config, path, value):
    assert problems(config, path, value) == [f"{path}: must be true or false, got {value!r}"]


def test_fractions_and_words_are_not_whole_numbers(config):
    assert problems(config, "apps.front.port", 80.5) == ["apps.front.port: must be a whole number, got 80.5"]
    assert problems(config, "apps.front.port", "8080.0") == ["apps.front.port: must be a whole number, got '8080.0'"]
    assert problems(config, "apps.front.port", [8080]) == ["apps.front.port: must be a whole number, got [8080]"]


def test_the_strings_pulumi_config_set_writes_stay_accepted(config):
    # `--type string` (and top-level keys) write every value as a string; `--path` writes 0.5 as a string.
    cfg = accepted(config, "apps.front.port", "8081").apps["front"]
    assert cfg.port == 8081 and isinstance(cfg.port, int)
    assert accepted(config, "apps.front.canaryWeight", "10").apps["front"].canary_weight == 10
    assert accepted(config, "apps.front.blue.replicas", "4").apps["front"].blue.replicas == 4
    del config["apps"]["front"]["canaryWeight"]  # a mirror excludes a canary
    assert accepted(config, "apps.front.mirror", {"percent": "0.5"}).apps["front"].mirror.percent == 0.5
    assert accepted(config, "apps.front.readOnlyRootFilesystem", "false").apps["front"].read_only_root_filesystem is False
    assert accepted(config, "cluster.manage", "true").cluster.manage is True
    # and the YAML numbers and booleans `--path` writes for integers and true/false
    assert accepted(config, "apps.front.preview.enabled", False).apps["front"].preview.enabled is False


def test_the_engine_s_whole_floats_stay_whole_numbers(config):
    assert accepted(config, "apps.front.port", 8081.0).apps["front"].port == 8081


def test_int_or_string_fields_refuse_a_boolean(config):
    config["istio"]["operator"] = {"components": {"cni": {"enabled": True}}}
    path = "istio.operator.components.ingressGateways"
    gateways = [{"name": "istio-ingressgateway", "k8s": {"hpaSpec": {"maxReplicas": 5, "minReplicas": True}}}]
    found = problems(config, path, gateways)
    assert found == [f"{path}.0.k8s.hpaSpec.minReplicas: must be a whole number, got true"]


# --- labels ------------------------------------------------------------------------------------

GOOD_LABELS = {"env": "stg", "example.com/tier": "web", "a.b-c_d": "", "x": "A" * 63, "k8s.io/A_b.c-d": "v1.2_3-x"}


def test_kubernetes_labels_are_accepted_as_kubernetes_accepts_them(config):
    assert accepted(config, "nodePool.labels", GOOD_LABELS).node_pool.labels == GOOD_LABELS


@pytest.mark.parametrize(
    "value",
    ["STG!", "-stg", "stg-", "a" * 64, "with space", "a/b"],
)
def test_a_bad_label_value_is_refused_with_its_key_path(config, value):
    found = problems(config, "nodePool.labels", {"Env": value})
    assert len(found) == 1 and found[0].startswith("nodePool.labels.Env: must be a Kubernetes label value"), found
    assert found[0].endswith(f"got {value!r}")


@pytest.mark.parametrize("key", ["Env!", "-env", "a" * 64, "Example.com/tier", "a/b/c", "/tier", "example.com/", f"{'a' * 254}/x"])
def test_a_bad_label_key_is_refused(config, key):
    found = problems(config, "nodePool.labels", {key: "stg"})
    assert len(found) == 1 and found[0].startswith(f"nodePool.labels.{key}: must be a Kubernetes label key"), found


def test_a_label_value_must_be_text(config):
    assert problems(config, "nodePool.labels", {"env": True}) == ["nodePool.labels.env: must be a valid string, got True"]


def test_other_label_maps_are_checked_too(config):
    assert problems(config, "gateway.selector", {"istio": "ingress gateway"})[0].startswith(
        "gateway.selector.istio: must be a Kubernetes label value"
    )
    config["istio"]["operator"] = {"components": {"cni": {"enabled": True}}}
    path = "istio.operator.components.ingressGateways"
    gateways = [{"name": "istio-ingressgateway", "k8s": {"nodeSelector": {"pool!": "apps"}}}]
    assert problems(config, path, gateways)[0].startswith(f"{path}.0.k8s.nodeSelector.pool!: must be a Kubernetes label key")
