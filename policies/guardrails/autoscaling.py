"""Rules for autoscaled colors: each color's HorizontalPodAutoscaler (components/app/autoscaling.py) has sane
bounds, and a color taking a share runs at least that share of what the color it shares with runs at least."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import HORIZONTAL_POD_AUTOSCALER, VIRTUAL_SERVICE, Resource, Stack, Violation, autoscaler_of, replica_floor
from .routing import Routes, destinations


def _count(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def hpa_replica_bounds(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """An HPA whose floor is 0 or above its ceiling: the API server rejects it at `up`, after the plan looked fine."""
    if not resource.is_a(HORIZONTAL_POD_AUTOSCALER):
        return []
    low, high = _count(resource.spec.get("minReplicas", 1)), _count(resource.spec.get("maxReplicas"))
    problems = []
    if low is not None and low < 1:
        problems.append(f"{resource.ref}: minReplicas is {low:g}: an HPA floor is at least 1 (scale a color down with replicas 0)")
    if low is not None and high is not None and low > high:
        problems.append(f"{resource.ref}: minReplicas ({low:g}) is above maxReplicas ({high:g})")
    return problems


def _share_needs(share: float, replicas: float) -> int:
    return -(-int(share) * int(replicas) // 100)  # components/app/autoscaling.share_needs, on the engine's floats


def hpa_floor_carries_share(resources: list[Resource], config: Mapping[str, Any]) -> list[Violation]:
    """An autoscaled color taking w% from the active color runs at least w% (rounded up) of the active's floor, and
    an active color that a flip gave 100% at least every other running color's floor: its HPA cannot scale for
    traffic it does not get yet. (The active's live load is the switch gate's to count; here only floors are known.)"""
    stack = Stack(resources)
    routes = Routes(stack)
    found = []
    for vs in stack.of(VIRTUAL_SERVICE):
        active = routes.active_color(vs)
        service = next((s for d in destinations(vs) if d.subset and (s := routes.service(d.host, vs.namespace))), None)
        if service is None or active is None:
            continue
        deployments = {name: routes.deployments(service, labels) for name, labels in routes.subsets(service).items()}
        floors = {name: sum(replica_floor(stack, d) or 0 for d in listed) for name, listed in deployments.items()}
        for dest in destinations(vs):
            if dest.route_kind != "http" or dest.route.get("match"):  # production's default route only, not preview or cohorts
                continue
            share, color = _count(dest.weight), dest.subset
            if not color or share is None or share <= 0 or not any(autoscaler_of(stack, d) for d in deployments.get(color, [])):
                continue
            if color != active:
                carried = [active]
            elif share >= 100:  # where a flip lands: the color it left may still run its load
                carried = [other for other in floors if other != color]
            else:
                continue
            for other in carried:
                need = _share_needs(share, floors.get(other, 0))
                if floors.get(color, 0) < need:
                    found.append(
                        Violation(
                            f"{vs.ref}: {dest.where} gives {share:g}% to {color}, whose HPA floor is {floors.get(color, 0):g}, while "
                            f"{other} runs at least {floors.get(other, 0):g}: the share needs {need} ({share:g}% of "
                            f"{floors.get(other, 0):g}, rounded up); raise apps.<app>.autoscaling.floors.{color} for the step "
                            "(`make release` does)",
                            vs.urn,
                        )
                    )
    return found
