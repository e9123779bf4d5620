"""Mesh rules: STRICT mTLS where apps run, TLS at a production edge, addons kept off public gateways, preview
gates that admit a few networks, not the internet."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .model import (
    AUTHORIZATION_POLICY,
    DEPLOYMENT,
    GATEWAY,
    NAMESPACE,
    PEER_AUTHENTICATION,
    VIRTUAL_SERVICE,
    Resource,
    Stack,
    Violation,
    as_mapping,
    dig,
    items,
)

_INJECT = "sidecar.istio.io/inject"


def _injected_namespaces(stack: Stack) -> set[str]:
    return {ns.k8s_name for ns in stack.of(NAMESPACE) if ns.labels.get("istio-injection") == "enabled" or ns.labels.get("istio.io/rev")}


def _in_mesh(deployment: Resource, injected: set[str]) -> bool:
    template = as_mapping(dig(deployment.props, "spec", "template", "metadata"))
    wish = as_mapping(template.get("labels")).get(_INJECT) or as_mapping(template.get("annotations")).get(_INJECT)
    if wish is not None:
        return str(wish).lower() == "true"
    return deployment.namespace in injected


def mesh_strict_mtls(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    """Every namespace with a meshed Deployment has a namespace-wide STRICT PeerAuthentication,
    and no PeerAuthentication there relaxes it for some workloads or ports."""
    stack = Stack(resources)
    injected = _injected_namespaces(stack)
    app_namespaces = sorted({d.namespace for d in stack.of(DEPLOYMENT) if _in_mesh(d, injected)})
    found = []
    for namespace in app_namespaces:
        policies = [pa for pa in stack.of(PEER_AUTHENTICATION) if pa.namespace == namespace]
        namespace_wide = [pa for pa in policies if not as_mapping(pa.spec.get("selector")).get("matchLabels")]
        if not any(dig(pa.spec, "mtls", "mode") == "STRICT" for pa in namespace_wide):
            found.append(
                Violation(
                    f"namespace {namespace} runs meshed Deployments but has no namespace-wide PeerAuthentication with mtls.mode STRICT"
                )
            )
        for pa in policies:
            modes = [dig(pa.spec, "mtls", "mode")] + [dig(v, "mode") for v in as_mapping(pa.spec.get("portLevelMtls")).values()]
            relaxed = sorted({m for m in modes if m in ("PERMISSIVE", "DISABLE")})
            if relaxed:
                found.append(Violation(f"{pa.ref} relaxes mTLS to {', '.join(relaxed)} in app namespace {namespace}", pa.urn))
    return found


def gateway_tls(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """In the listed stacks a Gateway serves HTTPS from a certificate Secret and HTTP only redirects."""
    if not resource.is_a(GATEWAY) or resource.stack not in config["stacks"]:
        return []
    servers = [as_mapping(s) for s in items(resource.spec.get("servers"))]
    problems = []
    https = [s for s in servers if str(dig(s, "port", "protocol")).upper() == "HTTPS"]
    if not https:
        problems.append(f"{resource.ref} has no HTTPS server (stack {resource.stack} requires TLS)")
    for s in https:
        tls = as_mapping(s.get("tls"))
        if tls.get("mode") not in ("SIMPLE", "MUTUAL") or not tls.get("credentialName"):
            problems.append(
                f"{resource.ref} HTTPS server {dig(s, 'port', 'name')!r} needs tls.mode SIMPLE or MUTUAL "
                f"with tls.credentialName (a certificate Secret)"
            )
    for s in servers:
        if str(dig(s, "port", "protocol")).upper() == "HTTP" and dig(s, "tls", "httpsRedirect") is not True:
            problems.append(f"{resource.ref} HTTP server {dig(s, 'port', 'name')!r} must set tls.httpsRedirect: true")
    return problems


def _addon(host: str, namespace: str, config: Mapping[str, Any]) -> bool:
    """Whether host names an addon Service: `name`, `name.ns`, `name.ns.svc[.cluster.local]`."""
    parts = host.removesuffix(".cluster.local").removesuffix(".svc").split(".")
    name, ns = parts[0], parts[1] if len(parts) == 2 else (namespace if len(parts) == 1 else None)
    return name in config["addonServices"] and ns in config["addonNamespaces"]


def addons_not_public(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """A VirtualService bound to any gateway other than `mesh` must not send traffic to a mesh addon."""
    if not resource.is_a(VIRTUAL_SERVICE):
        return []
    edge = [g for g in items(resource.spec.get("gateways")) if g != "mesh"]
    if not edge:
        return []
    hosts = []
    for kind in ("http", "tcp", "tls"):
        for route in map(as_mapping, items(resource.spec.get(kind))):
            hosts += [str(dig(d, "destination", "host") or "") for d in items(route.get("route"))]
            if dig(route, "mirror", "host"):
                hosts.append(str(dig(route, "mirror", "host")))
    return [
        f"{resource.ref} exposes addon {host} through gateway {', '.join(edge)}: reach addons with port-forward or an internal route"
        for host in dict.fromkeys(hosts)
        if _addon(host, resource.namespace, config)
    ]


def _admitted_ranges(policy: Resource) -> list[str]:
    """The client ranges an AuthorizationPolicy lets through: a DENY policy's `notRemoteIpBlocks` / `notIpBlocks`
    (everyone else is denied: the preview gate), an ALLOW policy's `remoteIpBlocks` / `ipBlocks`."""
    keys = ("notRemoteIpBlocks", "notIpBlocks") if policy.spec.get("action") == "DENY" else ("remoteIpBlocks", "ipBlocks")
    sources = [as_mapping(dig(f, "source")) for rule in items(policy.spec.get("rules")) for f in items(as_mapping(rule).get("from"))]
    # Each of the gate's rules repeats the same ranges: one finding per range.
    return list(dict.fromkeys(str(block) for source in sources for key in keys for block in items(source.get(key))))


def preview_ranges_narrow(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """No AuthorizationPolicy admits a client range wider than the configured prefix length (0.0.0.0/0 and ::/0
    admit the whole internet) unless the range is listed in allowedRanges."""
    if not resource.is_a(AUTHORIZATION_POLICY):
        return []
    allowed = {str(ipaddress.ip_network(r, strict=False)) for r in config["allowedRanges"]}
    problems = []
    for block in _admitted_ranges(resource):
        try:
            network = ipaddress.ip_network(block, strict=False)
        except ValueError:
            continue  # not a range this rule can judge (the config model refuses such values)
        shortest = config["minPrefixLengthIpv4"] if network.version == 4 else config["minPrefixLengthIpv6"]
        if network.prefixlen < shortest and str(network) not in allowed:
            whole = " (the whole internet)" if network.prefixlen == 0 else ""
            problems.append(
                f"{resource.ref} admits {block}{whole}, wider than /{shortest}: list the testers' own networks in "
                f"preview.allowedSourceRanges, or allow this range explicitly (pack config allowedRanges)"
            )
    return problems
