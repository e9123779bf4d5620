"""Placeholder answers the mock engine gives where a real cloud would answer: the cluster lookup
and the values only a provider computes. Every value says PLACEHOLDER so no one mistakes it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from components.app.applied import READ_STACK_OUTPUTS

PLACEHOLDER = "PLACEHOLDER"

CA_CERTIFICATE = base64.b64encode(f"{PLACEHOLDER} cluster CA certificate".encode()).decode()
INGRESS_IP = "203.0.113.10"  # TEST-NET-3: documentation-only address


def existing_cluster(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": args["name"],
        "location": args.get("location"),
        "project": args.get("project"),
        "endpoint": f"{PLACEHOLDER}.endpoint.invalid",
        "masterAuths": [{"clusterCaCertificate": CA_CERTIFICATE}],
        # A cluster that fits the stack: Workload Identity on, no node pool yet.
        "workloadIdentityConfigs": [{"workloadPool": f"{args.get('project')}.svc.id.goog"}],
        "nodePools": [],
    }


def created_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"endpoint": f"{PLACEHOLDER}.endpoint.invalid", "masterAuth": {"clusterCaCertificate": CA_CERTIFICATE}}


def service_account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    email = f"{inputs['accountId']}@{inputs['project']}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def autonamed(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # The provider names a resource <logical name>-<random suffix> when the program gives no name.
    return {} if "name" in inputs else {"name": f"{name}-{PLACEHOLDER.lower()}"}


def gateway_service(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # Reads of the istioctl-made gateway Service; app Services registered by the program get nothing extra.
    if name != "ingress-gateway-service":
        return {}
    return {"status": {"loadBalancer": {"ingress": [{"ip": INGRESS_IP}]}}, "metadata": {"annotations": {"note": PLACEHOLDER}}}


NO_PREVIOUS = (
    "no outputs: no switch gate has a previous routing, so flip-after-preview does not judge offline (make diff compares with BASE)"
)


def no_previous_outputs(args: dict[str, Any]) -> dict[str, Any]:
    # The program reads its own stack's outputs (components/app/applied.py): offline there is no last `up`.
    return {"name": args["name"], "outputs": {}, "secretOutputNames": []}


# Placeholder answers for invokes (data source lookups), keyed by invoke token.
INVOKE_ANSWERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "gcp:container/getCluster:getCluster": existing_cluster,
    READ_STACK_OUTPUTS: no_previous_outputs,
}
# Values a real provider would compute, keyed by resource type; returned on top of the inputs.
COMPUTED: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "gcp:container/cluster:Cluster": created_cluster,
    "gcp:serviceaccount/account:Account": service_account,
    "gcp:compute/router:Router": autonamed,
    "kubernetes:core/v1:Service": gateway_service,
}
