"""Traffic per app in plain words: `front: blue 100% -> blue 90% / green 10%`.

Read from rendered VirtualServices (what the cluster would get), so a plan of any program version can be
described; `cli.edits` builds the same shape from the routing model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NONE = "(none)"
# `cli.engine.plan.routing_tables` names a route's mirror row after the route's match: `mirror of default`.
MIRROR_OF = "mirror of "
# The cohort routes' names (components/app/routing.py: cohort-1, cohort-2, ...) lead their match in those rows.
COHORT = "cohort"


@dataclass(frozen=True)
class Traffic:
    split: tuple[tuple[str, int], ...]  # default route: (color, weight %), in routing order
    preview: tuple[str, ...] = ()  # colors the preview routes send testers to
    mirror: tuple[str, float] | None = None  # default route's copies: (color, % of requests), answers discarded
    cohorts: tuple[str, ...] = ()  # colors the A/B cohort routes send their users to

    def split_text(self) -> str:
        return " / ".join(f"{color} {weight}%" for color, weight in self.split) or NONE

    def preview_text(self) -> str:
        return ", ".join(self.preview) or "off"

    def cohorts_text(self) -> str:
        return ", ".join(self.cohorts) or "off"

    def mirror_text(self) -> str:
        if self.mirror is None:
            return "off"
        color, percent = self.mirror
        sources = " / ".join(source for source, _ in self.split) or NONE
        return f"{percent:g}% of {sources} copied to {color}"

    def split_and_mirror_text(self) -> str:
        """The split, and the mirror when there is one: `blue 100% (10% copied to green)`."""
        if self.mirror is None:
            return self.split_text()
        color, percent = self.mirror
        return f"{self.split_text()} ({percent:g}% copied to {color})"


def from_routing_rows(rows: Sequence[tuple[str, str, float]]) -> Traffic:
    """From `cli.engine.plan.routing_tables` rows: the `default` match is the split, `mirror of default` the mirror,
    every other match a preview route."""
    split = tuple((color, int(weight)) for match, color, weight in rows if match == "default" and weight > 0)
    mirrors = [(color, percent) for match, color, percent in rows if match == f"{MIRROR_OF}default"]
    cohorts = tuple(sorted({color for match, color, _ in rows if match.startswith(COHORT)}))
    others = {color for match, color, _ in rows if match != "default" and not match.startswith((MIRROR_OF, COHORT))}
    return Traffic(split, tuple(sorted(others)), mirrors[0] if mirrors else None, cohorts)


def changes(before: dict[str, Traffic], after: dict[str, Traffic]) -> list[str]:
    """One sentence per app whose split, preview target or mirror changes; apps in order of appearance."""
    lines = []
    for app in dict.fromkeys([*before, *after]):
        old, new = before.get(app), after.get(app)
        if old == new:
            continue
        old_split = old.split_text() if old else NONE
        new_split = new.split_text() if new else NONE
        if old_split != new_split:
            lines.append(f"{app}: {old_split} -> {new_split}")
        old_preview = old.preview_text() if old else NONE
        new_preview = new.preview_text() if new else NONE
        if old_preview != new_preview and old and new:
            lines.append(f"{app} preview: {old_preview} -> {new_preview}")
        # An app that appears or goes with a mirror says so too: copies are load on the idle color.
        old_mirror = old.mirror_text() if old else "off"
        new_mirror = new.mirror_text() if new else "off"
        if old_mirror != new_mirror:
            lines.append(f"{app} mirror: {old_mirror} -> {new_mirror}")
        old_cohorts = old.cohorts_text() if old else "off"
        new_cohorts = new.cohorts_text() if new else "off"
        if old_cohorts != new_cohorts:
            lines.append(f"{app} cohorts: {old_cohorts} -> {new_cohorts}")
    return lines


def apps_losing_all_traffic(before: dict[str, Traffic], after: dict[str, Traffic]) -> dict[str, str]:
    """{app: what happens} for each app that served production traffic before and serves none after: the app is
    gone from the config (a typo in `apps:` drops them all), or no route sends it anything any more."""
    lost = {}
    for app, old in before.items():
        new = after.get(app)
        if old.split and not (new and new.split):
            gone = "its VirtualService, Deployments and Service are deleted" if new is None else "no route sends it traffic any more"
            lost[app] = f"{old.split_text()} -> {NONE}: {gone}"
    return lost
