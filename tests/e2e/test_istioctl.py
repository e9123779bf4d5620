"""The real istioctl (the stack files' release) accepts what the offline plan renders for stg and prod."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

# The preview gates are DENY rules on the ingress gateway that match HTTP attributes only; istioctl notes
# they would also deny plain TCP on the gateway's ports. The gateway serves only HTTP(S), so that is intended.
ACCEPTED_WARNINGS = {"IST0133"}


def plan(stack: str):
    subprocess.run(
        [str(ROOT / "venv" / "bin" / "python"), "-m", "cli", "plan", "--stack", stack], cwd=ROOT, check=True, capture_output=True
    )
    return ROOT / "build" / stack / "manifests"


@pytest.mark.parametrize(("stack", "budgets"), [("stg", {"istio-ingressgateway"}), ("prod", {"istio-ingressgateway", "istiod"})])
def test_manifest_generate_accepts_the_rendered_istio_operator_and_renders_the_budgets(stack, budgets, env):
    """More than one gateway (stg, prod) or istiod (prod) pod: the charts render their PodDisruptionBudgets."""
    manifests = plan(stack)
    done = subprocess.run(
        ["istioctl", "manifest", "generate", "-f", str(manifests / "istiooperator-istio-system-istio.yaml")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    documents = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert {"Deployment", "Service", "MutatingWebhookConfiguration"} <= {d["kind"] for d in documents}
    assert {d["metadata"]["name"] for d in documents if d["kind"] == "PodDisruptionBudget"} == budgets
    gateway = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "istio-ingressgateway")
    assert gateway["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]  # spread over nodes and zones


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_analyze_finds_no_error_and_only_the_accepted_warnings(stack, env):
    manifests = plan(stack)
    files = [str(p) for p in sorted(manifests.glob("*.yaml")) if not p.name.startswith("istiooperator-")]
    done = subprocess.run(["istioctl", "analyze", "--use-kube=false", "-A", *files], env=env, capture_output=True, text=True)
    report = done.stdout + done.stderr
    codes = set(re.findall(r"^(?:Error|Warning) \[(IST\d+)\]", report, re.M))
    assert "Error [" not in report and codes <= ACCEPTED_WARNINGS, report
