"""flip-after-preview in the policy pack, through the real engine: the program reads what its own stack applied
last (its own outputs, components/app/applied.py) into the switch gate, and the pack compares.

The stack is `flipimage`, one app `front` in its own namespace (nothing shared with the other e2e stacks). In
order: the first `up` (nothing before: not judged) records blue serving and green on 1.5.0; a flip to green
that also gives green 1.6.0 fails `preview` with the pack mandatory (as policies/config/prod.json sets it) and
is a warning with it advisory (the default, stg and local); the image first, on its own `up`, then the same flip
passes; an `up` the switch gate refuses keeps what the last good one applied.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from pulumi import automation as auto

from tests.conftest import ROOT
from tests.e2e.harness import LocalStack, live_weights, one_app_stack_file, own_stack

PROJECT = "bluegreen-platform"
STACK, APP, NAMESPACE = "flipimage", "front", "flipimage"
POLICY_PACK = [str(ROOT / "tests" / "e2e" / "policy_pack.sh")]
ADVISORY = [str(ROOT / "policies" / "config" / "local.json")]  # {}: the rule's own level
OLD, NEW = "registry.local.example.com/web/front:1.5.0", "registry.local.example.com/web/front:1.6.0"
MESSAGE = (
    "front: green goes to 100% (blue 100% -> green 100%) in the same change that gives it the image "
    f"{NEW}, which never served preview, canary or mirror traffic; change the image first (merge and pulumi up), "
    "preview it, then move traffic in a change of its own"
)


@pytest.fixture(scope="module")
def flip_stack(env, tmp_path_factory):
    yield from own_stack(env, tmp_path_factory, STACK, lambda path: one_app_stack_file(path, APP, NAMESPACE))


@pytest.fixture(scope="module")
def mandatory(tmp_path_factory) -> list[str]:
    """A prod-like pack config: flip-after-preview mandatory, as policies/config/prod.json has it."""
    path = tmp_path_factory.mktemp("pack") / "prod-like.json"
    path.write_text(json.dumps({"flip-after-preview": "mandatory"}))
    assert json.loads((ROOT / "policies" / "config" / "prod.json").read_text())["flip-after-preview"] == "mandatory"
    return [str(path)]


def applied(stack: LocalStack) -> dict:
    return stack.stack.outputs()["apps"].value[APP]["applied"]


def test_the_first_up_is_not_judged_and_records_what_it_applied(flip_stack: LocalStack, mandatory, env):
    flip_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=mandatory)  # no outputs yet: nothing before
    flip_stack.up()
    assert applied(flip_stack) == {"weights": {"blue": 100, "green": 0}, "images": {"blue": OLD.replace("1.5.0", "1.4.2"), "green": OLD}}
    assert live_weights(env, NAMESPACE, APP) == {"blue": 100}
    # Reading the outputs this `up` wrote is no change: an invoke, nothing in the state to refresh.
    flip_stack.stack.preview(expect_no_changes=True)
    flip_stack.stack.refresh(expect_no_changes=True)


def test_a_flip_that_changes_the_targets_image_fails_preview_when_mandatory(flip_stack: LocalStack, mandatory):
    flip_stack.set_path(f"apps.{APP}.activeColor", "green")
    flip_stack.set_path(f"apps.{APP}.green.image", NEW)
    with pytest.raises(auto.CommandError) as refused:
        flip_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=mandatory)
    assert "flip-after-preview" in str(refused.value) and MESSAGE in str(refused.value).replace("\n", " ")


def test_the_same_change_is_a_warning_when_advisory(flip_stack: LocalStack):
    result, _ = flip_stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=ADVISORY)
    assert "flip-after-preview" in result.stdout and "advisory" in result.stdout
    assert MESSAGE in result.stdout.replace("\n", " ")


def test_the_image_first_then_the_same_flip_passes(flip_stack: LocalStack, mandatory, env):
    flip_stack.set_path(f"apps.{APP}.activeColor", "blue")  # the image alone, on its own up (preview it here)
    flip_stack.stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=mandatory)
    flip_stack.up()
    assert applied(flip_stack)["images"]["green"] == NEW
    flip_stack.set_path(f"apps.{APP}.activeColor", "green")
    result, steps = flip_stack.preview(policy_packs=POLICY_PACK, policy_pack_configs=mandatory)
    assert "flip-after-preview" not in result.stdout
    # The gate's new inputs (images, previous) are not gated keys: a flip still updates just these three.
    updated = {t: ops["update"] for t, ops in steps.by_type.items() if ops["update"]}
    assert updated == {
        "kubernetes:networking.istio.io/v1:VirtualService": 1,
        "kubernetes:core/v1:ConfigMap": 1,  # the state ConfigMap
        "pulumi-python:dynamic:SwitchGate": 1,
    }
    assert set(steps.ops) == {"same", "update"}
    flip_stack.up(policy_packs=POLICY_PACK, policy_pack_configs=mandatory)
    assert live_weights(env, NAMESPACE, APP) == {"green": 100}
    assert applied(flip_stack)["weights"] == {"blue": 0, "green": 100}


def test_a_failed_up_keeps_what_the_last_good_one_applied(flip_stack: LocalStack, env):
    """A flip back to blue that the switch gate refuses (blue scaled to 0 by hand) leaves the outputs: the next run
    still compares with what served last, green 100%."""
    flip_stack.set_path(f"apps.{APP}.readinessTimeout", "10s")
    flip_stack.up()
    subprocess.run(["kubectl", "scale", "deployment", f"{APP}-blue", "-n", NAMESPACE, "--replicas", "0"], env=env, check=True)
    flip_stack.set_path(f"apps.{APP}.activeColor", "blue")
    with pytest.raises(auto.CommandError) as refused:
        flip_stack.up()
    assert f"{APP}: routing not changed: blue has 0 of 2 replicas available" in str(refused.value)
    assert applied(flip_stack)["weights"] == {"blue": 0, "green": 100}
    assert live_weights(env, NAMESPACE, APP) == {"green": 100}
