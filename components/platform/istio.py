"""IstioMesh: Istio installed by `istioctl install` from the stack's IstioOperator spec, plus addons.

Since Istio 1.24 there is no in-cluster operator to hand an IstioOperator resource to: the spec is
an input of `istioctl install -f`. A pulumi-command Command gets the rendered document on stdin and
saves it to a temporary file for `-f`, so a change of the spec or of istio.version is an update
that re-runs the install, and deleting the stack uninstalls. The offline plan renders that
document (the Command's stdin) like any manifest.
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_command import local

from ..shared import naming
from ..shared.k8s import apply_manifest
from .config import IstioConfig
from .istio_addons import CHARTS, JAEGER_COLLECTOR, NAMESPACE, enabled_addons

INSTALL_API = "install.istio.io/v1alpha1"
TELEMETRY_API = "telemetry.istio.io/v1"
DEFAULT_INGRESS_GATEWAY = "istio-ingressgateway"
KUBECONFIG_ENV = "ISTIO_KUBECONFIG_CONTENT"
ADDRESS_AFTER_UP = "known after pulumi up"


def _with_placement(component: dict[str, Any], placement: dict[str, Any]) -> dict[str, Any]:
    """Put a control-plane or gateway Deployment on the node pool unless the spec places it itself."""
    k8s_settings = component.setdefault("k8s", {})
    for key, value in placement.items():
        k8s_settings.setdefault(key, copy.deepcopy(value))
    return component


def _with_tracing(mesh_config: dict[str, Any]) -> dict[str, Any]:
    """Send spans to the Jaeger addon through a `jaeger` extension provider (sampling: the Telemetry)."""
    mesh_config.setdefault("enableTracing", True)
    # An empty proxy tracing block turns off the legacy per-proxy Zipkin default.
    mesh_config.setdefault("defaultConfig", {}).setdefault("tracing", {})
    providers = mesh_config.setdefault("extensionProviders", [])
    if not any(p["name"] == "jaeger" for p in providers):
        providers.append({"name": "jaeger", "zipkin": dict(JAEGER_COLLECTOR)})
    return mesh_config


def _keeping_client_address(gateway: dict[str, Any]) -> dict[str, Any]:
    """The preview gate matches client addresses, which `externalTrafficPolicy: Cluster` would SNAT away."""
    service = gateway.setdefault("k8s", {}).setdefault("service", {})
    if service.get("type", "LoadBalancer") != "ClusterIP":
        service.setdefault("externalTrafficPolicy", "Local")
    return gateway


GATEWAY_POD_LABELS = {"istio": "ingressgateway"}  # what Istio's gateway chart puts on every ingress gateway pod


def _spread(gateway: dict[str, Any]) -> dict[str, Any]:
    """Gateway pods prefer other nodes, then other zones, so a node drain or a zone outage leaves some
    serving (the PodDisruptionBudget then guards voluntary evictions). A spec's own affinity wins."""
    selector = {"matchLabels": dict(gateway.get("label") or GATEWAY_POD_LABELS)}
    gateway.setdefault("k8s", {}).setdefault(
        "affinity",
        {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}},
                    {"weight": 50, "podAffinityTerm": {"labelSelector": selector, "topologyKey": "topology.kubernetes.io/zone"}},
                ]
            }
        },
    )
    return gateway


def _chart_min_replicas(spec: dict[str, Any]) -> dict[str, Any]:
    """Istio's charts render the gateway's and istiod's PodDisruptionBudget only when `autoscaleMin > 1`;
    `k8s.hpaSpec` and `k8s.podDisruptionBudget` only patch what the charts rendered. So the chart values
    follow each component's hpaSpec.minReplicas, and a PDB exists whenever more than one pod runs."""
    components, values = spec["components"], spec.setdefault("values", {})
    gateway_min = components["ingressGateways"][0].get("k8s", {}).get("hpaSpec", {}).get("minReplicas", 1)
    pilot_min = components.get("pilot", {}).get("k8s", {}).get("hpaSpec", {}).get("minReplicas", 1)
    if gateway_min > 1:
        values.setdefault("gateways", {}).setdefault("istio-ingressgateway", {}).setdefault("autoscaleMin", gateway_min)
    if pilot_min > 1:
        values.setdefault("pilot", {}).setdefault("autoscaleMin", pilot_min)
    return spec


def operator_spec(cfg: IstioConfig, placement: dict[str, Any]) -> dict[str, Any]:
    """The IstioOperator spec as written in stack config, plus this platform's defaults."""
    spec = cfg.operator.dump()
    components = spec["components"]
    if not components.get("ingressGateways"):
        components["ingressGateways"] = [{"name": DEFAULT_INGRESS_GATEWAY, "enabled": True}]
    for component in [components.setdefault("pilot", {}), *components["ingressGateways"], *components.get("egressGateways", [])]:
        _with_placement(component, placement)
    for gateway in components["ingressGateways"]:
        _spread(_keeping_client_address(gateway))
    # Istio CNI (required here) installs its binary where GKE's COS nodes look for CNI plugins.
    spec.setdefault("values", {}).setdefault("global", {}).setdefault("platform", "gke")
    if cfg.addons.jaeger.enabled:
        spec["meshConfig"] = _with_tracing(spec.get("meshConfig", {}))
    return _chart_min_replicas(spec)


def operator_document(cfg: IstioConfig, placement: dict[str, Any]) -> dict[str, Any]:
    revision = cfg.operator.revision
    return {
        "apiVersion": INSTALL_API,
        "kind": "IstioOperator",
        "metadata": {"name": f"istio-{revision}" if revision else "istio", "namespace": NAMESPACE},
        "spec": operator_spec(cfg, placement),
    }


def ingress_gateway(cfg: IstioConfig) -> tuple[str, str]:
    """(namespace, name) of the Service in front of the first enabled ingress gateway."""
    gateways = [g for g in cfg.operator.components.ingress_gateways or [] if g.enabled is not False]
    if not gateways:
        return NAMESPACE, DEFAULT_INGRESS_GATEWAY
    return gateways[0].namespace or NAMESPACE, gateways[0].name


_WITH_KUBECONFIG = f"""work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kubeconfig="$work/kubeconfig"
printf '%s' "${KUBECONFIG_ENV}" > "$kubeconfig"
"""


def install_script(version: str) -> str:
    """Refuse a mismatched istioctl, then apply the IstioOperator document the Command passes on stdin."""
    want = shlex.quote(version)
    return f"""set -eu
line=$(istioctl version --remote=false 2>/dev/null | head -n 1) || line=""
have=${{line##* }}
if [ "$have" != {want} ]; then
  echo "istioctl on PATH is ${{have:-missing}} but istio.version is {version}: install istioctl {version} first" >&2
  exit 1
fi
{_WITH_KUBECONFIG}cat > "$work/istio-operator.yaml"
istioctl install --kubeconfig "$kubeconfig" -y -f "$work/istio-operator.yaml"
"""


def uninstall_script(revision: str | None) -> str:
    # A revision removes only its own control plane (the canary path); otherwise remove all of Istio.
    scope = f"--revision {shlex.quote(revision)}" if revision else "--purge"
    return f'set -eu\n{_WITH_KUBECONFIG}istioctl uninstall --kubeconfig "$kubeconfig" -y {scope}\n'


def tracing_telemetry(sampling_percent: float) -> dict[str, Any]:
    """Mesh-wide tracing to the Jaeger provider at the configured sampling rate."""
    return {
        "apiVersion": TELEMETRY_API,
        "kind": "Telemetry",
        "metadata": {"name": "mesh-default", "namespace": NAMESPACE, "labels": dict(naming.MANAGED_BY)},
        "spec": {"tracing": [{"providers": [{"name": "jaeger"}], "randomSamplingPercentage": sampling_percent}]},
    }


@dataclass(frozen=True)
class IstioMeshArgs:
    config: IstioConfig
    kubeconfig: pulumi.Input[str]
    # Pod spec fields (nodeSelector, tolerations) that put istiod and the gateways on the node pool.
    placement: dict[str, Any]


# The install Command's logical name. Its URN must never change silently: an old URN is a delete of the
# old resource. Renaming it (or its parent) needs the old name added here as an alias.
INSTALL_NAME = "istioctl-install"
INSTALL_ALIASES: list[pulumi.Alias] = []


class IstioMesh(pulumi.ComponentResource):
    def __init__(self, name: str, args: IstioMeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("bluegreen:istio:IstioMesh", name, None, opts)
        cfg = args.config
        assert cfg.version is not None, "validated: install mode names its release"
        document = operator_document(cfg, args.placement)
        # `update` is set, so changed inputs re-run the install in place (never a replacement); without
        # istio.uninstallOnDestroy there is no delete command at all: deleting the resource leaves the mesh.
        self.install = local.Command(
            INSTALL_NAME,
            create=install_script(cfg.version),
            update=install_script(cfg.version),
            stdin=yaml.safe_dump(document, sort_keys=False),
            environment={KUBECONFIG_ENV: args.kubeconfig},
            delete=uninstall_script(cfg.operator.revision) if cfg.uninstall_on_destroy else None,
            opts=pulumi.ResourceOptions(parent=self, aliases=list(INSTALL_ALIASES)),
        )
        after_install = pulumi.ResourceOptions(parent=self, depends_on=[self.install])
        self.addons = {
            addon: k8s.helm.v3.Release(
                addon,
                name=addon,
                chart=CHARTS[addon].chart,
                version=CHARTS[addon].version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHARTS[addon].repo),
                namespace=NAMESPACE,
                values=values,
                opts=after_install,
            )
            for addon, values in enabled_addons(cfg.addons).items()
        }
        if cfg.addons.jaeger.enabled:
            apply_manifest("mesh-default", tracing_telemetry(cfg.addons.jaeger.sampling_percent), after_install)
        self.addon_services = {addon: CHARTS[addon].address for addon in self.addons}
        self.ingress_address = self._ingress_address(cfg, after_install)
        self.register_outputs({"ingressAddress": self.ingress_address, "addonServices": self.addon_services})

    def _ingress_address(self, cfg: IstioConfig, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """The load balancer address of the gateway Service that istioctl created.

        Read only during an update, after the install: at preview the install may not have run yet
        (pulumi-command reports an ID even then), and reading a Service that does not exist fails the
        preview. A read that a preview skips is not a change for `--expect-no-changes`.
        """
        if pulumi.runtime.is_dry_run():
            return pulumi.Output.from_input(ADDRESS_AFTER_UP)
        namespace, service = ingress_gateway(cfg)
        service_id = self.install.id.apply(lambda _: f"{namespace}/{service}")
        read = k8s.core.v1.Service.get("ingress-gateway-service", service_id, opts=opts)
        return read.status.apply(_load_balancer_address)


def _load_balancer_address(status: Any) -> str:
    ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
    return (ingress[0].ip or ingress[0].hostname) if ingress else "pending: no load balancer address yet"
