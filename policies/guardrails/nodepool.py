"""GKE node pool hardening, read from the pulumi-gcp engine property names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import UNKNOWN, Resource, dig

NODE_POOL = "gcp:container/nodePool:NodePool"
# Explicit settings, not provider defaults: the policy reads what the program declares.
_REQUIRED_TRUE = (
    ("management", "autoRepair"),
    ("management", "autoUpgrade"),
    ("nodeConfig", "shieldedInstanceConfig", "enableSecureBoot"),
    ("nodeConfig", "shieldedInstanceConfig", "enableIntegrityMonitoring"),
)


def _default_service_account(account: Any) -> bool:
    if account is UNKNOWN:
        return False  # the email of a service account created in this update
    return not account or account == "default" or str(account).endswith("-compute@developer.gserviceaccount.com")


def node_pool_hardening(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    if resource.type != NODE_POOL:
        return []
    problems = [f"{resource.ref}: {'.'.join(path)} must be true" for path in _REQUIRED_TRUE if dig(resource.props, *path) is not True]
    mode = dig(resource.props, "nodeConfig", "workloadMetadataConfig", "mode")
    if mode != "GKE_METADATA":
        problems.append(f"{resource.ref}: nodeConfig.workloadMetadataConfig.mode must be GKE_METADATA (Workload Identity), got {mode!r}")
    account = dig(resource.props, "nodeConfig", "serviceAccount")
    if _default_service_account(account):
        problems.append(
            f"{resource.ref}: nodeConfig.serviceAccount must be a dedicated service account, not the Compute Engine default ({account!r})"
        )
    return problems
