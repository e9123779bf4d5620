"""`make status`: one row per app, from the stack config alone."""

from __future__ import annotations

from cli.edits.changes import traffic_of
from components.app.config import AppConfig, ColorSpec
from components.app.routing import preview_url
from components.config import (
    StackConfig,
)
from components.shared.colors import COLORS

STATUS_COLUMNS = ("app", "active", "rollback to", "traffic", "preview", "preview URL", "cohorts", "blue", "green")


def _color_cell(spec: ColorSpec) -> str:
    # The whole reference: two colors from different registries (a mirror, a vendor) must be told apart.
    return f"{spec.image} x{spec.replicas}" if spec.image else "not deployed"


def status_rows(config: StackConfig) -> list[tuple[str, ...]]:
    """One row per app: active color, the rollback target (previousColor), default split (and mirror), preview
    target and URL, each color's full image reference and replicas."""
    rows = []
    for name, cfg in config.apps.items():
        now = traffic_of(cfg)
        colors = (_color_cell(cfg.color(c)) for c in COLORS)
        url = preview_url(cfg, config.gateway.scheme) or "-"
        rows.append(
            (
                name,
                cfg.active_color,
                cfg.previous_color or "-",
                now.split_and_mirror_text(),
                now.preview_text(),
                url,
                cohorts_cell(cfg),
                *colors,
            )
        )
    return rows


def cohorts_cell(cfg: AppConfig) -> str:
    """`green: header x-beta=true; cookie beta=1`, `off (2 listed)`, or `-` without cohorts."""
    if not cfg.cohorts:
        return "-"
    listed = "; ".join(cohort.text for cohort in cfg.cohorts)
    return f"{cfg.idle_color}: {listed}" if cfg.cohorts_active else f"off ({len(cfg.cohorts)} listed)"
