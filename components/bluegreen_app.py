"""BlueGreenApp: blue and green Deployments side by side, with routing that follows `activeColor`."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from . import istio_routing, naming, workload
from .config import COLORS, AppConfig, GatewayConfig
from .k8s import apply_manifest
from .routing import routing_model


@dataclass(frozen=True)
class BlueGreenAppArgs:
    config: AppConfig
    gateway: GatewayConfig
    scheme: str = "http"


def preview_url(cfg: AppConfig, scheme: str) -> str | None:
    return f"{scheme}://{cfg.hosts[0]}{cfg.preview.path_prefix}/" if routing_model(cfg).preview else None


class BlueGreenApp(pulumi.ComponentResource):
    def __init__(self, name: str, args: BlueGreenAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:bluegreen_app:BlueGreenApp", name, None, opts)
        cfg, model = args.config, routing_model(args.config)
        child = pulumi.ResourceOptions(parent=self)

        self.deployments = {
            color: apply_manifest(naming.deployment_name(name, color), workload.deployment(name, cfg, color), child)
            for color in COLORS
            if cfg.color(color).image
        }
        self.service = apply_manifest(name, workload.service(name, cfg), child)
        self.destination_rule = apply_manifest(name, istio_routing.destination_rule(name, cfg), child)
        # Traffic moves only once every color it may reach is Available (the Deployment await).
        self.virtual_service = apply_manifest(
            name,
            istio_routing.virtual_service(name, cfg, args.gateway, model),
            pulumi.ResourceOptions(parent=self, depends_on=[*self.deployments.values(), self.service, self.destination_rule]),
        )
        if cfg.preview.enabled:
            apply_manifest(naming.preview_policy_name(name), istio_routing.preview_gate(name, cfg, args.gateway), child)
        self.state = apply_manifest(
            naming.state_config_map_name(name),
            workload.state_config_map(name, cfg, model),
            pulumi.ResourceOptions(parent=self, depends_on=[self.virtual_service]),
        )
        self.outputs = {
            "activeColor": model.active,
            "idleColor": model.idle,
            "canaryWeight": model.idle_weight,
            "images": {color: cfg.color(color).image for color in COLORS},
            "previewUrl": preview_url(cfg, args.scheme),
        }
        self.register_outputs(self.outputs)
