"""The scale-down delay: one per app, a Pulumi dynamic resource between the VirtualService and the
Deployments no route reaches any more.

When an update takes every route away from a color (a flip plus `replicas: 0` for the old color in
one change, or the idle color scaled to 0), the API server accepts the new VirtualService at once,
but gateways and sidecars keep sending to the old pods until the new routes reach them. Deleting the
pods at that moment gives 503s (argo-rollouts #587, #3681, #4828). The color's Deployment depends on
this resource, whose update waits `drain.scaleDownDelaySeconds` (default 30 s) after the
VirtualService update whenever a color lost all its routes; otherwise, and on create, it does not wait.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

# A change of any of these is an update (never a replacement).
TRACKED_KEYS = ("routed", "seconds")


def colors_losing_routes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The colors some route reached before this update and none reaches after it."""
    return sorted(set(olds.get("routed") or []) - set(news.get("routed") or []))


class ScaleDownDelayProvider(ResourceProvider):
    """Stateless (the provider process unpickles it by reference to this module)."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def create(self, props: dict[str, Any]) -> CreateResult:
        # Nothing was routed through this app's routing before: no pod can still be receiving old routes.
        return CreateResult(id_=f"{props['app']}-scale-down-delay", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in TRACKED_KEYS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if colors_losing_routes(olds, news):
            self.sleep(float(news["seconds"]))
        return UpdateResult(outs=dict(news))


class ScaleDownDelay(Resource, name="ScaleDownDelay"):
    """`pulumi-python:dynamic:ScaleDownDelay`: see the module docstring."""

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(ScaleDownDelayProvider(), name, dict(props), opts)
