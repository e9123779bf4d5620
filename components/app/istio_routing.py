"""Render the routing model to Istio objects (VirtualService, DestinationRule, preview gate)."""

from __future__ import annotations

import re
from typing import Any

from ..platform.config import GatewayConfig
from ..shared import naming
from ..shared.colors import COLORS
from ..shared.istio_api import NETWORKING, SECURITY
from .config import AppConfig
from .routing import Route, RoutingModel, ValueMatch


def _drain_traffic_policy() -> dict[str, Any]:
    """Each subset (color) is its own Envoy cluster. A pod that is stopping or broken answers 5xx or refuses
    connections: it is ejected for a while, never more than half of a color at once. Pending requests queue
    (bounded) instead of failing while a flip opens connections to the new color."""
    return {
        "outlierDetection": {
            "consecutiveGatewayErrors": 3,
            "consecutive5xxErrors": 5,
            "interval": "5s",
            "baseEjectionTime": "30s",
            "maxEjectionPercent": 50,
        },
        "connectionPool": {
            "tcp": {"connectTimeout": "2s", "maxConnections": 1024},
            "http": {"http1MaxPendingRequests": 1024, "idleTimeout": "60s"},
        },
    }


def _metadata(name: str, namespace: str, app: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": naming.app_labels(app)}


def _authority(host: str) -> dict[str, str]:
    """The Host header as clients send it: the name, with or without a port."""
    return {"regex": "^" + host.replace(".", "\\.") + "(:[0-9]+)?$"}


def _matches(route: Route) -> list[dict[str, Any]]:
    if route.host:
        return [{"authority": _authority(route.host)}]
    if route.path_prefix:
        # `/preview` and `/preview/...`, but not `/previewer`.
        return [{"uri": {"exact": route.path_prefix}}, {"uri": {"prefix": route.path_prefix + "/"}}]
    if route.header:
        return [{"headers": {route.header.name: {route.header.kind: route.header.value}}}]
    if route.cookie:
        return [{"headers": {"cookie": {"regex": cookie_regex(route.cookie)}}}]
    return []


def cookie_regex(cookie: ValueMatch) -> str:
    """Istio matches cookies as the `cookie` header: `name=value` anywhere in it (RE2, a whole-value match)."""
    value = {"exact": re.escape(cookie.value), "prefix": re.escape(cookie.value) + "[^;]*", "regex": f"(?:{cookie.value})"}[cookie.kind]
    return rf"^(.*?;\s*)?{re.escape(cookie.name)}=({value})(;.*)?$"


def _http_route(app: str, cfg: AppConfig, route: Route) -> dict[str, Any]:
    host = naming.service_host(app, cfg.namespace)
    rendered: dict[str, Any] = {"name": route.name}
    if matches := _matches(route):
        rendered["match"] = matches
    if route.rewrite_to_root:
        rendered["rewrite"] = {"uri": "/"}
    rendered["route"] = [
        {"destination": {"host": host, "subset": d.color, "port": {"number": cfg.port}}, "weight": d.weight} for d in route.destinations
    ]
    if route.mirror:
        # `mirror` + `mirrorPercentage` (not the list `mirrors`, for several targets; not the deprecated integer
        # `mirrorPercent`). The percentage is always written: without it Istio mirrors 100%.
        rendered["mirror"] = {"host": host, "subset": route.mirror.color, "port": {"number": cfg.port}}
        rendered["mirrorPercentage"] = {"value": route.mirror.percent}
    return rendered


def _preview_hosts(model: RoutingModel) -> list[str]:
    return [route.host for route in model.preview if route.host]


def virtual_service(app: str, cfg: AppConfig, gateway: GatewayConfig, model: RoutingModel) -> dict[str, Any]:
    """Gateway traffic for the app's hosts and in-mesh traffic to its Service follow the model."""
    return {
        "apiVersion": NETWORKING,
        "kind": "VirtualService",
        "metadata": _metadata(app, cfg.namespace, app),
        "spec": {
            "hosts": [*cfg.hosts, *_preview_hosts(model), naming.service_host(app, cfg.namespace)],
            "gateways": [naming.gateway_ref(gateway.namespace, gateway.name), "mesh"],
            "http": [_http_route(app, cfg, route) for route in model.routes],
        },
    }


def destination_rule(app: str, cfg: AppConfig) -> dict[str, Any]:
    """Both color subsets, always: a flip never races a subset that is not there yet."""
    return {
        "apiVersion": NETWORKING,
        "kind": "DestinationRule",
        "metadata": _metadata(app, cfg.namespace, app),
        "spec": {
            "host": naming.service_host(app, cfg.namespace),
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}, **_drain_traffic_policy()},
            "subsets": [{"name": color, "labels": {naming.COLOR_LABEL: color}} for color in COLORS],
        },
    }


def preview_gate(app: str, cfg: AppConfig, gateway: GatewayConfig) -> dict[str, Any]:
    """Deny preview requests (preview host, path prefix or header) at the ingress gateway from outside the
    allowed ranges. Only rendered with `preview.allowedSourceRanges` (no routes without it)."""
    assert cfg.preview.allowed_source_ranges, "the preview gate needs preview.allowedSourceRanges"
    hosts = [h for host in cfg.hosts for h in (host, f"{host}:*")]
    outsiders = [{"source": {"notRemoteIpBlocks": list(cfg.preview.allowed_source_ranges)}}]
    prefix, header = cfg.preview.path_prefix, cfg.preview.header
    by_host = []
    if cfg.preview.host:
        preview_hosts = [cfg.preview.host, f"{cfg.preview.host}:*"]
        by_host = [{"from": outsiders, "to": [{"operation": {"hosts": preview_hosts}}]}]
    return {
        "apiVersion": SECURITY,
        "kind": "AuthorizationPolicy",
        "metadata": _metadata(naming.preview_policy_name(app), gateway.workload_namespace, app),
        "spec": {
            "selector": {"matchLabels": dict(gateway.selector)},
            "action": "DENY",
            "rules": [
                *by_host,
                {"from": outsiders, "to": [{"operation": {"hosts": hosts, "paths": [prefix, prefix + "/*"]}}]},
                {
                    "from": outsiders,
                    "to": [{"operation": {"hosts": hosts}}],
                    "when": [{"key": f"request.headers[{header.name}]", "values": [header.value]}],
                },
            ],
        },
    }
