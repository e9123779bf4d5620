"""The pack started the way the Pulumi CLI starts it, driven over the analyzer gRPC protocol."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.guardrails.catalog import PACK_NAME, RULES
from tests.conftest import ROOT
from tests.policy_records import deployment, edited, good_stack, node_pool

PACK = ROOT / "policies"


@pytest.fixture
def analyzer():
    # `pulumi preview --policy-pack policies` runs `python -u -m pulumi.policy <engine> <pack dir>`; the pack prints its port.
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(PACK)],
        cwd=PACK,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None  # both piped
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def struct(props: Any) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(props)
    return value


def diagnostics(response) -> list[tuple[str, int, str, str]]:
    return [(d.policyName, d.enforcementLevel, d.urn, d.message.splitlines()[-1]) for d in response.diagnostics]


def test_pack_describes_every_policy(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME and info.supportsConfig
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert levels == {r.name: analyzer_pb2.MANDATORY if r.level == "mandatory" else analyzer_pb2.ADVISORY for r in RULES}
    flip = next(p for p in info.policies if p.name == "flip-target-provisioned")
    assert flip.configSchema.properties["minActiveReplicaRatio"]["default"] == 1.0


def test_resource_policies_report_over_grpc(analyzer):
    pool = node_pool()
    props = edited([pool], "NodePool", lambda p: p["management"].update(autoRepair=False))[0].props
    response = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(type=pool.type, properties=struct(props), urn=pool.urn, name=pool.name))
    assert diagnostics(response) == [
        ("node-pool-hardening", analyzer_pb2.MANDATORY, "", "NodePool apps: management.autoRepair must be true")
    ]


def test_pack_config_raises_a_level_over_grpc(analyzer):
    blue = deployment("blue", stack="prod")
    props = edited([blue], "Deployment", lambda p: p["spec"]["template"]["spec"]["containers"][0].update(image="r/front:main"))[0].props
    request = analyzer_pb2.AnalyzeRequest(type=blue.type, properties=struct(props), urn=blue.urn, name=blue.name)
    assert diagnostics(analyzer.Analyze(request)) == []  # a `main` tag is pinned enough by default
    analyzer.Configure(
        analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                "image-pinned": analyzer_pb2.PolicyConfig(
                    enforcementLevel=analyzer_pb2.MANDATORY, properties=struct({"requireImmutableTag": True})
                ),
            }
        )
    )
    [(name, level, _, message)] = diagnostics(analyzer.Analyze(request))
    assert (name, level) == ("image-pinned", analyzer_pb2.MANDATORY) and "needs a digest or an immutable version tag" in message


def _stack_request(resources) -> analyzer_pb2.AnalyzeStackRequest:
    return analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r.type, properties=struct(dict(r.props)), urn=r.urn, name=r.name, dependencies=list(r.dependencies)
            )
            for r in resources
        ]
    )


def test_stack_policies_report_over_grpc(analyzer):
    assert diagnostics(analyzer.AnalyzeStack(_stack_request(good_stack(idle_weight=10)))) == []
    flipped = edited(good_stack(active="green"), "Deployment", lambda p: p["spec"].update(replicas=1), name="front-green")
    vs = next(r for r in flipped if r.type.endswith("VirtualService"))
    assert diagnostics(analyzer.AnalyzeStack(_stack_request(flipped))) == [
        (
            "flip-target-provisioned",
            analyzer_pb2.MANDATORY,
            vs.urn,
            "VirtualService app/front: the active color green has 1 replicas while blue still runs 3; it needs at least 1 x 3 "
            "(scale green up first, scale blue down after the flip)",
        )
    ]
