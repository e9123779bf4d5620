"""Per-resource rules for anything that runs pods: pinned images, probes, resources, restricted security."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .model import LONG_RUNNING, Resource, as_mapping, containers, items, pod_spec

_DIGEST = re.compile(r"@sha256:[a-f0-9]{64}$")


def _tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def image_pinned(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    immutable = re.compile(config["immutableTagPattern"])
    problems = []
    for c in containers(spec):
        image = c.get("image")
        if not isinstance(image, str):
            continue  # unknown during preview: judged at update
        digest, tag = bool(_DIGEST.search(image)), _tag(image)
        where = f"{resource.ref} container {c.get('name')!r} image {image!r}"
        if not digest and tag is None:
            problems.append(f"{where} has no tag: pin a version or a digest")
        elif not digest and tag == "latest":
            problems.append(f"{where} uses 'latest': pin a version or a digest")
        elif config["requireImmutableTag"] and not digest and not immutable.match(tag or ""):
            problems.append(f"{where} needs a digest or an immutable version tag matching {immutable.pattern}")
    return problems


def pod_probes(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    spec = pod_spec(resource)
    if spec is None or resource.group_kind not in LONG_RUNNING:
        return []
    return [
        f"{resource.ref} container {c.get('name')!r} has no {probe}"
        for c in containers(spec, include_init=False)
        for probe in ("readinessProbe", "livenessProbe")
        if not c.get(probe)
    ]


def pod_resources(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    problems = []
    for c in containers(spec):
        res = as_mapping(c.get("resources"))
        missing = [
            f"{kind}.{name}" for kind in ("requests", "limits") for name in ("cpu", "memory") if not as_mapping(res.get(kind)).get(name)
        ]
        if missing:
            problems.append(f"{resource.ref} container {c.get('name')!r} has no resources {', '.join(missing)}")
    return problems


def _effective(pod: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A container securityContext field, falling back to the pod's as Kubernetes does."""
    own = as_mapping(container.get("securityContext"))
    return own[key] if key in own else as_mapping(pod.get("securityContext")).get(key)


def pod_security_context(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    problems = []
    for c in containers(spec):
        ctx = as_mapping(c.get("securityContext"))
        where = f"{resource.ref} container {c.get('name')!r}"
        if _effective(spec, c, "runAsNonRoot") is not True:
            problems.append(f"{where}: runAsNonRoot must be true")
        if _effective(spec, c, "runAsUser") == 0:
            problems.append(f"{where}: runAsUser must not be 0 (root)")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation must be false")
        if ctx.get("privileged") is True:
            problems.append(f"{where}: must not be privileged")
        caps = as_mapping(ctx.get("capabilities"))
        if "ALL" not in items(caps.get("drop")):
            problems.append(f"{where}: capabilities.drop must include ALL")
        if [cap for cap in items(caps.get("add")) if cap != "NET_BIND_SERVICE"]:
            problems.append(f"{where}: capabilities.add may only hold NET_BIND_SERVICE, got {items(caps.get('add'))}")
        if as_mapping(_effective(spec, c, "seccompProfile")).get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile.type must be RuntimeDefault")
    return problems


def pod_high_uid(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """Checkov CKV_K8S_40 (and its group counterpart): ids below minId may be host accounts, which an escaped
    process would act as. Unset counts as low: the image then decides, often root or a low id."""
    spec = pod_spec(resource)
    if spec is None:
        return []
    low = config["minId"]
    problems = []
    for c in containers(spec):
        for key in ("runAsUser", "runAsGroup"):
            value = _effective(spec, c, key)
            where = f"{resource.ref} container {c.get('name')!r}: {key}"
            if value is None:
                problems.append(f"{where} is not set, so the image decides: set it to {low} or more")
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value < low:
                shown = int(value) if float(value).is_integer() else value  # the engine may hand 1000 over as 1000.0
                problems.append(f"{where} {shown} is below {low} (Checkov CKV_K8S_40): use a high id such as 10001")
    return problems


def pod_read_only_root_filesystem(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    spec = pod_spec(resource)
    if spec is None or f"{resource.namespace}/{resource.k8s_name}" in config["exemptWorkloads"]:
        return []
    return [
        f"{resource.ref} container {c.get('name')!r}: readOnlyRootFilesystem should be true "
        f"(or list the workload in exemptWorkloads if the app must write outside its volumes)"
        for c in containers(spec)
        if as_mapping(c.get("securityContext")).get("readOnlyRootFilesystem") is not True
    ]


def pod_host_isolation(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    problems = [f"{resource.ref}: {field} must not be true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    problems += [
        f"{resource.ref}: volume {as_mapping(v).get('name')!r} is a hostPath"
        for v in items(spec.get("volumes"))
        if as_mapping(v).get("hostPath") is not None
    ]
    problems += [
        f"{resource.ref} container {c.get('name')!r}: hostPort {as_mapping(p).get('hostPort')} binds the node's network"
        for c in containers(spec)
        for p in items(c.get("ports"))
        if as_mapping(p).get("hostPort")
    ]
    return problems
