"""Turn a manifest dict into the matching pulumi-kubernetes resource.

Manifests are camelCase dicts, exactly as the API server receives them; pulumi-kubernetes passes
dict inputs through unchanged, so what the pure builders return is what gets applied, plus one annotation:
`pulumi.com/patchForce: "true"`. Stack config is the only writer of these objects, so a field someone changed by
hand (`kubectl edit`, `kubectl scale`: another field manager) is drift that the next `pulumi up --refresh` takes
back, instead of a server-side apply conflict that fails the `up` (and the dry run of `make drift`).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

_TYPED = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}


PATCH_FORCE = {"pulumi.com/patchForce": "true"}


def owned(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with PATCH_FORCE among its annotations (a copy)."""
    metadata = manifest.get("metadata", {})
    return {**manifest, "metadata": {**metadata, "annotations": {**metadata.get("annotations", {}), **PATCH_FORCE}}}


def apply_manifest(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    body = {key: value for key, value in owned(manifest).items() if key not in ("apiVersion", "kind")}
    typed = _TYPED.get((api_version, kind))
    if typed is not None:
        return typed(name, opts=opts, **body)
    return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind, opts=opts, **body)
