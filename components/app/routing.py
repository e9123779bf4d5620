"""Routing reduced to a small pure model: who is active, who is idle, the weights, the preview match, the mirror.

Like Flagger's router interface ("set primary and canary weight"), nothing here knows about Istio;
`istio_routing.py` renders this model, and another router (e.g. Gateway API HTTPRoute) could too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..shared.colors import Color
from .cohorts import Cohort, MatchKind
from .config import AppConfig


@dataclass(frozen=True)
class Destination:
    color: Color
    weight: int


@dataclass(frozen=True)
class RouteMirror:
    """Copies of `percent` % of a route's requests also go to `color`; its answers are discarded."""

    color: Color
    percent: float


@dataclass(frozen=True)
class ValueMatch:
    """A header's or a cookie's value: `exact`, `prefix` or `regex` (RE2, matched against the whole value)."""

    name: str
    value: str
    kind: MatchKind = "exact"


@dataclass(frozen=True)
class Route:
    """One rule: requests matching (host, path prefix, header and/or cookie; none = everything) go to destinations."""

    name: str
    destinations: tuple[Destination, ...]
    host: str | None = None
    path_prefix: str | None = None
    header: ValueMatch | None = None
    cookie: ValueMatch | None = None
    rewrite_to_root: bool = False
    mirror: RouteMirror | None = None


@dataclass(frozen=True)
class RoutingModel:
    active: Color
    idle: Color
    idle_weight: int
    preview: tuple[Route, ...]
    mirror_percent: float | None = None  # share of default traffic copied to the idle color (shadow testing)
    cohorts: tuple[Route, ...] = ()  # A/B: production requests matching a cohort go to the idle color

    @property
    def default_route(self) -> Route:
        weights = ((self.active, 100 - self.idle_weight), (self.idle, self.idle_weight))
        mirror = RouteMirror(self.idle, self.mirror_percent) if self.mirror_percent else None
        return Route("default", tuple(Destination(c, w) for c, w in weights if w > 0), mirror=mirror)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Most specific first: preview routes, then the cohorts, win over the default split."""
        return (*self.preview, *self.cohorts, self.default_route)

    @property
    def routed_colors(self) -> set[Color]:
        """Colors any route sends traffic to (default share, preview or mirrored copies)."""
        mirrored = {route.mirror.color for route in self.routes if route.mirror}
        return {d.color for route in self.routes for d in route.destinations} | mirrored


def routing_model(app: AppConfig) -> RoutingModel:
    idle = app.idle_color
    preview: tuple[Route, ...] = ()
    # The preview routes exist only while the idle color can serve them, and only behind an explicit
    # gate (preview.allowedSourceRanges): closed by default.
    if app.preview.active and app.color(idle).serving:
        to_idle = (Destination(idle, 100),)
        header = ValueMatch(app.preview.header.name, app.preview.header.value)
        # The preview host first: on it every request (assets, links, redirects) stays on the idle color.
        by_host = (Route("preview-host", to_idle, host=app.preview.host),) if app.preview.host else ()
        preview = (
            *by_host,
            Route("preview-path", to_idle, path_prefix=app.preview.path_prefix, rewrite_to_root=True),
            Route("preview-header", to_idle, header=header),
        )
    # The config model refuses a mirror to an idle color that cannot serve, and a mirror during a canary.
    mirror_percent = app.mirror.percent if app.mirror else None
    # The config model refuses active cohorts without an idle color that can serve them.
    cohorts = tuple(_cohort_route(i, cohort, idle) for i, cohort in enumerate(app.cohorts, 1)) if app.cohorts_active else ()
    return RoutingModel(
        active=app.active_color, idle=idle, idle_weight=app.canary_weight, preview=preview, mirror_percent=mirror_percent, cohorts=cohorts
    )


def _cohort_route(number: int, cohort: Cohort, idle: Color) -> Route:
    to_idle = (Destination(idle, 100),)
    if cohort.header is not None:
        return Route(f"cohort-{number}", to_idle, header=ValueMatch(cohort.header.name, cohort.header.pattern, cohort.header.kind))
    assert cohort.cookie is not None
    return Route(f"cohort-{number}", to_idle, cookie=ValueMatch(cohort.cookie.name, cohort.cookie.pattern, cohort.cookie.kind))


def preview_url(cfg: AppConfig, scheme: str) -> str | None:
    """The preview host when set (the choice for browser apps), else the path prefix on the first host."""
    if not routing_model(cfg).preview:
        return None
    return f"{scheme}://{cfg.preview.host}/" if cfg.preview.host else f"{scheme}://{cfg.hosts[0]}{cfg.preview.path_prefix}/"
