"""BlueGreenApp: blue and green Deployments side by side, with routing that follows `activeColor`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from ..platform.config import GatewayConfig
from ..shared import naming
from ..shared.colors import COLORS, Color
from ..shared.k8s import apply_manifest
from . import autoscaling, callers, dashboard, drain, istio_routing, workload
from .applied import OUTPUT_KEY, applied, images, once_applied
from .config import AppConfig
from .routing import preview_url, routing_model
from .scale_down_delay import ScaleDownDelay
from .switch_gate import SwitchGate, switch_gate_props


@dataclass(frozen=True)
class BlueGreenAppArgs:
    config: AppConfig
    gateway: GatewayConfig
    scheme: str = "http"
    # Pod spec fields (nodeSelector, tolerations) that put both colors on the node pool.
    placement: dict[str, Any] | None = None
    # How the switch gate reaches the cluster from where `pulumi up` runs: {"kubeconfig": <text>}, or
    # {"path": ..., "context": ...} with only the keys that are set; {} = $KUBECONFIG, then ~/.kube/config.
    cluster: Mapping[str, Any] = field(default_factory=dict)
    # Namespaces whose mesh workloads may call the app (StackConfig.allowed_callers); None = its own only.
    callers: tuple[str, ...] | None = None
    # What the app served after the last successful `pulumi up` (applied.previous), for the switch gate's inputs;
    # None: nothing known (the first `up`, the offline plan).
    previous: pulumi.Input[Mapping[str, Any] | None] = None


class BlueGreenApp(pulumi.ComponentResource):
    def __init__(self, name: str, args: BlueGreenAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:bluegreen_app:BlueGreenApp", name, None, opts)
        cfg, model = args.config, routing_model(args.config)
        child = pulumi.ResourceOptions(parent=self)

        deployed = [color for color in COLORS if cfg.color(color).image]
        routed = [color for color in deployed if color in model.routed_colors]
        self.deployments = {color: self._deployment(name, args, color, child) for color in routed}
        # A routed color's HPA (its floor) is applied before the gate counts that color's replicas.
        self.autoscalers = {color: self._autoscaler(name, cfg, color) for color in routed if cfg.hpa_floor(color) is not None}
        self.service = apply_manifest(name, workload.service(name, cfg), child)
        self.destination_rule = apply_manifest(name, istio_routing.destination_rule(name, cfg), child)
        ready = [*self.deployments.values(), *self.autoscalers.values(), self.service, self.destination_rule]
        # Every routing change goes through the gate (readiness always, metrics with promotion.analysis),
        # also when no Deployment changed in this run: a refusal fails `pulumi up` and leaves routing as it was.
        self.gate = SwitchGate(
            naming.switch_gate_name(name),
            switch_gate_props(name, cfg, model, args.cluster, args.previous),
            pulumi.ResourceOptions(parent=self, depends_on=ready),
        )
        self.virtual_service = apply_manifest(
            name,
            istio_routing.virtual_service(name, cfg, args.gateway, model),
            pulumi.ResourceOptions(parent=self, depends_on=[*ready, self.gate]),
        )
        # A color no route reaches changes only after routing has left it (make-before-break), and, when
        # this update took its last route away, only after the scale-down delay: a flip and a scale-down
        # of the old color in one `pulumi up` never strand traffic that proxies still send there.
        self.scale_down_delay = ScaleDownDelay(
            naming.scale_down_delay_name(name),
            {"app": name, "routed": sorted(routed), "seconds": cfg.drain.scale_down_delay_seconds},
            pulumi.ResourceOptions(parent=self, depends_on=[self.virtual_service]),
        )
        after_routing = pulumi.ResourceOptions(parent=self, depends_on=[self.virtual_service, self.scale_down_delay])
        for color in deployed:
            if color not in routed:
                self.deployments[color] = self._deployment(name, args, color, after_routing)
                if cfg.hpa_floor(color) is not None:
                    self.autoscalers[color] = self._autoscaler(name, cfg, color)
        # One per Deployment, the same for active and idle: neither a flip nor a scale to 0 touches them.
        self.disruption_budgets = {
            color: apply_manifest(naming.deployment_name(name, color), drain.pod_disruption_budget(name, cfg, color), child)
            for color in deployed
        }
        if cfg.preview.active:
            apply_manifest(naming.preview_policy_name(name), istio_routing.preview_gate(name, cfg, args.gateway), child)
        # In-mesh callers from the allowed namespaces, by address and by identity (the gateway stays admitted).
        caller_namespaces = list(args.callers) if args.callers is not None else [cfg.namespace]
        policy_name = callers.policy_name(name)
        apply_manifest(policy_name, callers.network_policy(name, cfg.namespace, cfg.port, caller_namespaces), child)
        apply_manifest(
            policy_name, callers.authorization_policy(name, cfg.namespace, caller_namespaces, args.gateway.workload_namespace), child
        )
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
            "images": images(cfg),
            "previewUrl": preview_url(cfg, args.scheme),
            # Only after the Deployments and the state ConfigMap: the next run's `previous` (applied.py).
            OUTPUT_KEY: once_applied(applied(cfg, model), [*self.deployments.values(), self.state]),
        }
        self.register_outputs(self.outputs)

    def _autoscaler(self, name: str, cfg: AppConfig, color: Color) -> pulumi.CustomResource:
        """`color`'s HPA, after its Deployment (it scales that Deployment)."""
        manifest = autoscaling.horizontal_pod_autoscaler(name, cfg, color)
        return apply_manifest(
            naming.deployment_name(name, color), manifest, pulumi.ResourceOptions(parent=self, depends_on=[self.deployments[color]])
        )

    @staticmethod
    def _deployment(name: str, args: BlueGreenAppArgs, color: Color, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        manifest = workload.deployment(name, args.config, color, args.placement)
        return apply_manifest(naming.deployment_name(name, color), manifest, opts)
