"""Placeholder answers the mock engine gives where a real cloud would answer: the cluster lookup
and the values only a provider computes. Every value says PLACEHOLDER so no one mistakes it."""
from __future__ import annotations

import base64
from typing import Any

from .engine import COMPUTED, INVOKE_ANSWERS, PLACEHOLDER

CA_CERTIFICATE = base64.b64encode(f"{PLACEHOLDER} cluster CA certificate".encode()).decode()
INGRESS_IP = "203.0.113.10"  # TEST-NET-3: documentation-only address


def existing_cluster(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": args["name"],
        "location": args.get("location"),
        "project": args.get("project"),
        "endpoint": f"{PLACEHOLDER}.endpoint.invalid",
        "masterAuths": [{"clusterCaCertificate": CA_CERTIFICATE}],
    }


def created_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"endpoint": f"{PLACEHOLDER}.endpoint.invalid", "masterAuth": {"clusterCaCertificate": CA_CERTIFICATE}}


def service_account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"email": f"{inputs['accountId']}@{inputs['project']}.iam.gserviceaccount.com"}


def gateway_service(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # Reads of the istioctl-made gateway Service; app Services registered by the program get nothing extra.
    if name != "ingress-gateway-service":
        return {}
    return {"status": {"loadBalancer": {"ingress": [{"ip": INGRESS_IP}]}}, "metadata": {"annotations": {"note": PLACEHOLDER}}}


INVOKE_ANSWERS["gcp:container/getCluster:getCluster"] = existing_cluster
COMPUTED["gcp:container/cluster:Cluster"] = created_cluster
COMPUTED["gcp:serviceaccount/account:Account"] = service_account
COMPUTED["kubernetes:core/v1:Service"] = gateway_service
