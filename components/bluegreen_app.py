"""BlueGreenApp: blue and green Deployments side by side, with routing that follows `activeColor`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_command import local

from . import dashboard, drain, istio_routing, naming, promotion, workload
from .config import COLORS, AppConfig, Color, GatewayConfig
from .k8s import apply_manifest
from .routing import RoutingModel, routing_model


@dataclass(frozen=True)
class BlueGreenAppArgs:
    config: AppConfig
    gateway: GatewayConfig
    scheme: str = "http"
    # Pod spec fields (nodeSelector, tolerations) that put both colors on the node pool.
    placement: dict[str, Any] | None = None


def preview_url(cfg: AppConfig, scheme: str) -> str | None:
    return f"{scheme}://{cfg.hosts[0]}{cfg.preview.path_prefix}/" if routing_model(cfg).preview else None


def promotion_gate(name: str, cfg: AppConfig, model: RoutingModel, opts: pulumi.ResourceOptions) -> local.Command | None:
    """Checks Prometheus before a color gains traffic; runs on create/update (never at preview), when routing changes."""
    analysis = cfg.promotion.analysis
    if analysis is None:
        return None
    command = promotion.gate_command(name, cfg, model, analysis)
    return local.Command(
        naming.promotion_gate_name(name),
        create=command,
        update=command,
        # The gate reads the routing it approved last time from its previous output; the routing is
        # part of the command line, so a flip or canary change is an update that re-runs it.
        add_previous_output_in_env=True,
        opts=opts,
    )


class BlueGreenApp(pulumi.ComponentResource):
    def __init__(self, name: str, args: BlueGreenAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:bluegreen_app:BlueGreenApp", name, None, opts)
        cfg, model = args.config, routing_model(args.config)
        child = pulumi.ResourceOptions(parent=self)

        deployed = [color for color in COLORS if cfg.color(color).image]
        routed = [color for color in deployed if color in model.routed_colors]
        self.deployments = {color: self._deployment(name, args, color, child) for color in routed}
        self.service = apply_manifest(name, workload.service(name, cfg), child)
        self.destination_rule = apply_manifest(name, istio_routing.destination_rule(name, cfg), child)
        ready = [*self.deployments.values(), self.service, self.destination_rule]
        self.gate = promotion_gate(name, cfg, model, pulumi.ResourceOptions(parent=self, depends_on=ready))
        # Traffic moves only once every color it may reach is Available (the Deployment await)
        # and, with promotion analysis, once the gate passed: a failed gate leaves routing as it was.
        self.virtual_service = apply_manifest(
            name,
            istio_routing.virtual_service(name, cfg, args.gateway, model),
            pulumi.ResourceOptions(parent=self, depends_on=[*ready, *([self.gate] if self.gate else [])]),
        )
        # A color no route reaches changes only after routing has left it (make-before-break):
        # a flip and a scale-down of the old color in one `pulumi up` never strand traffic.
        after_routing = pulumi.ResourceOptions(parent=self, depends_on=[self.virtual_service])
        for color in deployed:
            if color not in routed:
                self.deployments[color] = self._deployment(name, args, color, after_routing)
        # One per Deployment, the same for active and idle: neither a flip nor a scale to 0 touches them.
        self.disruption_budgets = {
            color: apply_manifest(naming.deployment_name(name, color), drain.pod_disruption_budget(name, cfg, color), child)
            for color in deployed
        }
        if cfg.preview.enabled:
            apply_manifest(naming.preview_policy_name(name), istio_routing.preview_gate(name, cfg, args.gateway), child)
        self.dashboard = apply_manifest(f"{name}-dashboard", dashboard.config_map(name, cfg), child)
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

    @staticmethod
    def _deployment(name: str, args: BlueGreenAppArgs, color: Color, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        manifest = workload.deployment(name, args.config, color, args.placement)
        return apply_manifest(naming.deployment_name(name, color), manifest, opts)
