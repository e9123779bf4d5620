"""Observability addons in istio-system: Prometheus, Grafana, Kiali, Jaeger as pinned Helm releases.

They find each other by in-cluster Service names fixed here (fullnameOverride), serve ClusterIP
only, and are never routed by the public Gateway: reach them with `istioctl dashboard <name>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..shared import naming
from .config import Addons

NAMESPACE = naming.ISTIO_NAMESPACE
((DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE),) = naming.GRAFANA_DASHBOARD_LABEL.items()


@dataclass(frozen=True)
class Chart:
    repo: str
    chart: str
    version: str
    service: str
    port: int

    def url(self) -> str:
        return f"http://{self.service}.{NAMESPACE}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.service}.{NAMESPACE}:{self.port}"


CHARTS = {
    "prometheus": Chart("https://prometheus-community.github.io/helm-charts", "prometheus", "27.37.0", "prometheus", 9090),
    "grafana": Chart("https://grafana.github.io/helm-charts", "grafana", "9.2.1", "grafana", 3000),
    "kiali": Chart("https://kiali.org/helm-charts", "kiali-server", "2.11.0", "kiali", 20001),
    "jaeger": Chart("https://jaegertracing.github.io/helm-charts", "jaeger", "3.4.1", "jaeger-query", 16686),
}
# Where proxies send spans (Zipkin protocol, the Jaeger all-in-one collector).
JAEGER_COLLECTOR = {"service": f"jaeger-collector.{NAMESPACE}.svc.cluster.local", "port": 9411}
# Istio's published Grafana dashboards (grafana.com ids): mesh, service, workload, control plane.
ISTIO_DASHBOARDS = {"istio-mesh": 7639, "istio-service": 7636, "istio-workload": 7630, "istio-control-plane": 7645}


def prometheus_values() -> dict[str, Any]:
    # Only the server: Istio's sidecars and istiod are scraped through their prometheus.io annotations.
    return {
        "alertmanager": {"enabled": False},
        "kube-state-metrics": {"enabled": False},
        "prometheus-node-exporter": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "server": {"fullnameOverride": "prometheus", "service": {"type": "ClusterIP", "servicePort": CHARTS["prometheus"].port}},
    }


def grafana_values(addons: Addons) -> dict[str, Any]:
    sources = []
    if addons.prometheus.enabled:
        sources.append(
            {"name": "Prometheus", "type": "prometheus", "access": "proxy", "isDefault": True, "url": CHARTS["prometheus"].url()}
        )
    if addons.jaeger.enabled:
        sources.append({"name": "Jaeger", "type": "jaeger", "access": "proxy", "url": CHARTS["jaeger"].url()})
    return {
        "fullnameOverride": "grafana",
        "service": {"type": "ClusterIP", "port": CHARTS["grafana"].port},
        "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": sources}},
        "dashboardProviders": {
            "dashboardproviders.yaml": {
                "apiVersion": 1,
                "providers": [
                    {"name": "istio", "folder": "istio", "type": "file", "options": {"path": "/var/lib/grafana/dashboards/istio"}}
                ],
            }
        },
        "dashboards": {"istio": {name: {"gnetId": gnet_id, "datasource": "Prometheus"} for name, gnet_id in ISTIO_DASHBOARDS.items()}},
        # Loads each app's dashboard ConfigMap (components/dashboard.py) from istio-system.
        "sidecar": {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": DASHBOARD_LABEL_VALUE}},
    }


def kiali_values(addons: Addons) -> dict[str, Any]:
    return {
        "auth": {"strategy": "token"},
        "external_services": {
            "prometheus": {"url": CHARTS["prometheus"].url()},
            "grafana": {"enabled": addons.grafana.enabled, "internal_url": CHARTS["grafana"].url()},
            "tracing": {
                "enabled": addons.jaeger.enabled,
                "provider": "jaeger",
                "internal_url": CHARTS["jaeger"].url(),
                "use_grpc": False,
            },
        },
    }


def jaeger_values() -> dict[str, Any]:
    # All-in-one with in-memory storage: traces are for debugging, not kept.
    return {
        "fullnameOverride": "jaeger",
        "provisionDataStore": {"cassandra": False},
        "storage": {"type": "memory"},
        # The all-in-one Deployment already sets COLLECTOR_ZIPKIN_HOST_PORT=:9411 and its `jaeger-collector`
        # Service exposes 9411 (JAEGER_COLLECTOR); collector.* values are read only without all-in-one.
        "allInOne": {"enabled": True},
        "agent": {"enabled": False},
        "collector": {"enabled": False},
        "query": {"enabled": False},
    }


def enabled_addons(addons: Addons) -> dict[str, dict[str, Any]]:
    """Values of each enabled addon's release, by addon name."""
    values = {
        "prometheus": prometheus_values,
        "grafana": lambda: grafana_values(addons),
        "kiali": lambda: kiali_values(addons),
        "jaeger": jaeger_values,
    }
    return {name: build() for name, build in values.items() if getattr(addons, name).enabled}
