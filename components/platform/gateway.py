"""IngressGateway: the Istio Gateway that admits the apps' hosts at the mesh edge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from ..shared import naming
from ..shared.istio_api import NETWORKING
from ..shared.k8s import apply_manifest
from .config import GatewayConfig


def servers(cfg: GatewayConfig) -> list[dict[str, Any]]:
    """HTTP only without TLS; with TLS, HTTPS with the configured certificate and HTTP redirecting to it."""
    http: dict[str, Any] = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": list(cfg.hosts)}
    if cfg.tls is None:
        return [http]
    https = {
        "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
        "hosts": list(cfg.hosts),
        "tls": {"mode": "SIMPLE", "credentialName": cfg.tls.credential_name},
    }
    if cfg.tls.https_redirect:
        http["tls"] = {"httpsRedirect": True}
    return [https, http]


def gateway_manifest(cfg: GatewayConfig) -> dict[str, Any]:
    return {
        "apiVersion": NETWORKING,
        "kind": "Gateway",
        "metadata": {"name": cfg.name, "namespace": cfg.namespace, "labels": dict(naming.MANAGED_BY)},
        "spec": {
            "selector": dict(cfg.selector),
            "servers": servers(cfg),
        },
    }


@dataclass(frozen=True)
class IngressGatewayArgs:
    config: GatewayConfig


class IngressGateway(pulumi.ComponentResource):
    def __init__(self, name: str, args: IngressGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:gateway:IngressGateway", name, None, opts)
        self.gateway = apply_manifest(args.config.name, gateway_manifest(args.config), pulumi.ResourceOptions(parent=self))
        self.ref = naming.gateway_ref(args.config.namespace, args.config.name)
        self.register_outputs({"ref": self.ref})
