"""Routing reduced to a small pure model: who is active, who is idle, the weights, the preview match.

Like Flagger's router interface ("set primary and canary weight"), nothing here knows about Istio;
`istio_routing.py` renders this model, and another router (e.g. Gateway API HTTPRoute) could too.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..shared.colors import Color
from .config import AppConfig


@dataclass(frozen=True)
class Destination:
    color: Color
    weight: int


@dataclass(frozen=True)
class Route:
    """One rule: requests matching (host, path prefix and/or header; none = everything) go to destinations."""

    name: str
    destinations: tuple[Destination, ...]
    host: str | None = None
    path_prefix: str | None = None
    header: tuple[str, str] | None = None
    rewrite_to_root: bool = False


@dataclass(frozen=True)
class RoutingModel:
    active: Color
    idle: Color
    idle_weight: int
    preview: tuple[Route, ...]

    @property
    def default_route(self) -> Route:
        weights = ((self.active, 100 - self.idle_weight), (self.idle, self.idle_weight))
        return Route("default", tuple(Destination(c, w) for c, w in weights if w > 0))

    @property
    def routes(self) -> tuple[Route, ...]:
        """Most specific first: preview routes win over the default split."""
        return (*self.preview, self.default_route)

    @property
    def routed_colors(self) -> set[Color]:
        """Colors any route sends traffic to (default share or preview)."""
        return {d.color for route in self.routes for d in route.destinations}


def routing_model(app: AppConfig) -> RoutingModel:
    idle = app.idle_color
    preview: tuple[Route, ...] = ()
    # The preview routes exist only while the idle color can serve them, and only behind an explicit
    # gate (preview.allowedSourceRanges): closed by default.
    if app.preview.active and app.color(idle).serving:
        to_idle = (Destination(idle, 100),)
        header = (app.preview.header.name, app.preview.header.value)
        # The preview host first: on it every request (assets, links, redirects) stays on the idle color.
        by_host = (Route("preview-host", to_idle, host=app.preview.host),) if app.preview.host else ()
        preview = (
            *by_host,
            Route("preview-path", to_idle, path_prefix=app.preview.path_prefix, rewrite_to_root=True),
            Route("preview-header", to_idle, header=header),
        )
    return RoutingModel(active=app.active_color, idle=idle, idle_weight=app.canary_weight, preview=preview)
