"""The pack as CrossGuard loads it: policy objects, config handling, the adapter over SDK proxies."""

from __future__ import annotations

import json
import runpy
import sys
from typing import TypeVar

import pulumi_policy
import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.shared import naming
from policies.guardrails import routing
from policies.guardrails.catalog import PACK_NAME, PACK_VERSION, RULES
from policies.guardrails.crossguard import build_policies
from policies.guardrails.evaluate import (
    PackConfigError,
    evaluate,
    has_mandatory,
    load_config,
    report,
    resolve,
)
from tests.conftest import ROOT
from tests.policy_records import edited, good_stack, node_pool

PACK = ROOT / "policies"
P = TypeVar("P", bound=Policy)


def test_pack_project_file_matches_the_code():
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["version"] == PACK_VERSION
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    lines = (PACK / "requirements.txt").read_text().splitlines()
    assert "pulumi-policy==1.21.0" in lines and "-c constraints.txt" in lines  # every pin: tests/test_python_pins.py


def test_main_builds_the_pack_with_every_rule(monkeypatch):
    built = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    modules = set(sys.modules)
    try:
        runpy.run_path(str(PACK), run_name="__main__")  # as `pulumi` runs the pack: the folder is on sys.path
    finally:
        for name in set(sys.modules) - modules:
            if name.startswith("guardrails"):
                del sys.modules[name]
    assert built["name"] == PACK_NAME
    assert [p.name for p in built["policies"]] == [r.name for r in RULES]


def test_policies_carry_levels_scopes_and_config_schemas():
    policies = {p.name: p for p in build_policies()}
    for rule in RULES:
        policy = policies[rule.name]
        expected_class = ResourceValidationPolicy if rule.scope == "resource" else StackValidationPolicy
        assert isinstance(policy, expected_class) and policy.enforcement_level == EnforcementLevel(rule.level)
        assert (policy.config_schema.properties if policy.config_schema else {}) == dict(rule.config)
    assert policies["image-pinned"].enforcement_level == EnforcementLevel.ADVISORY
    assert policies["routing-safety"].enforcement_level == EnforcementLevel.MANDATORY


def built_policy(kind: type[P], name: str) -> P:
    policy = next(p for p in build_policies() if p.name == name)
    assert isinstance(policy, kind), f"{name} is a {type(policy).__name__}, not a {kind.__name__}"
    return policy


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def test_resource_policy_reads_sdk_props_and_tolerates_unknowns():
    pool = node_pool()
    props = json.loads(json.dumps(pool.props))
    props["nodeConfig"]["serviceAccount"] = UNKNOWN_STRING_VALUE  # an account created in the same update
    props["management"]["autoUpgrade"] = False
    policy = built_policy(ResourceValidationPolicy, "node-pool-hardening")
    reported: list[str] = []
    args = ResourceValidationArgs(pool.type, unknown_checking_proxy(props), pool.urn, pool.name, _options(), None, {})
    policy.validate(args, lambda message, urn: reported.append(message))
    assert reported == ["NodePool apps: management.autoUpgrade must be true"]


def test_stack_policy_reports_against_the_resource_urn_with_pack_config():
    stack = edited(good_stack(active="green"), "Deployment", lambda p: p["spec"].update(replicas=2), name="front-green")
    resources = [
        PolicyResource(r.type, unknown_checking_proxy(dict(r.props)), r.urn, r.name, _options(), None, None, [], {}) for r in stack
    ]
    policy = built_policy(StackValidationPolicy, "flip-target-provisioned")
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(resources, {}), lambda message, urn: reported.append((message, urn)))
    assert reported == [
        (
            "VirtualService app/front: the active color green has 2 replicas while blue still runs 3; it needs at least 1 x 3 "
            "(scale green up first, scale blue down after the flip)",
            next(r.urn for r in stack if r.type.endswith("VirtualService")),
        )
    ]
    reported.clear()
    policy.validate(StackValidationArgs(resources, {"minActiveReplicaRatio": 0.5}), lambda message, urn: reported.append((message, urn)))
    assert reported == []


def test_prod_config_raises_image_pinning_to_mandatory():
    prod = json.loads((PACK / "config" / "prod.json").read_text())
    assert resolve({})["image-pinned"].level == "advisory"
    pinned = resolve(prod)["image-pinned"]
    assert pinned.level == "mandatory" and pinned.config["requireImmutableTag"] is True
    stack = edited(good_stack("prod"), "Deployment", lambda p: p["spec"]["template"]["spec"]["containers"][0].update(image="r/front:main"))
    findings = evaluate(stack, prod)
    assert {(f.policy, f.level) for f in findings} == {("image-pinned", "mandatory")} and has_mandatory(findings)
    assert not has_mandatory(evaluate(stack, {}))


def test_config_levels_all_and_per_policy():
    settings = resolve({"all": "advisory", "routing-safety": {"enforcementLevel": "mandatory"}, "gateway-tls": "disabled"})
    assert settings["routing-safety"].level == "mandatory"
    assert settings["pod-probes"].level == "advisory"
    assert settings["gateway-tls"].level == "disabled"
    tls_broken = edited(good_stack("prod"), "Gateway", lambda p: p["spec"].update(servers=[]))
    assert evaluate(tls_broken, {"gateway-tls": "disabled"}) == []


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"no-such-policy": "mandatory"}, "unknown policies: no-such-policy"),
        ({"image-pinned": {"requireDigest": True}}, "image-pinned.requireDigest: unknown property"),
        (
            {"flip-target-provisioned": {"minActiveReplicaRatio": "1"}},
            "flip-target-provisioned.minActiveReplicaRatio: '1' is not of type 'number'",
        ),
        (
            {"flip-target-provisioned": {"minActiveReplicaRatio": -5}},
            "flip-target-provisioned.minActiveReplicaRatio: -5 is less than the minimum of 0",
        ),
        ({"pod-probes": "blocking"}, "pod-probes: enforcementLevel must be one of advisory, mandatory, disabled, got 'blocking'"),
    ],
)
def test_bad_pack_config_is_refused(raw, message):
    with pytest.raises(PackConfigError, match=message):
        resolve(raw)


def test_pack_config_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{mandatory")
    with pytest.raises(PackConfigError, match="not valid JSON"):
        load_config(path)


def test_report_reads_like_pulumi_preview():
    stack = edited(good_stack(), "NodePool", lambda p: p["management"].update(autoRepair=False))
    text = report(evaluate(stack, {}))
    assert text.splitlines() == [
        "Policy Violations:",
        f"    [mandatory]  {PACK_NAME} v{PACK_VERSION}  node-pool-hardening (gcp:container/nodePool:NodePool: apps)",
        "    GKE node pools auto-repair, auto-upgrade, use shielded nodes, GKE_METADATA and a dedicated service account.",
        "    NodePool apps: management.autoRepair must be true",
        "1 violations (1 mandatory, 0 advisory)",
    ]


def test_conventions_match_the_program():
    assert naming.state_config_map_name("front") == "front" + routing.STATE_CONFIG_MAP_SUFFIX
