"""Traffic per app in plain words: `front: blue 100% -> blue 90% / green 10%`.

Read from rendered VirtualServices (what the cluster would get), so a plan of any program version can be
described; `cli.edits` builds the same shape from the routing model.
"""
from __future__ import annotations

from dataclasses import dataclass

NONE = "(none)"


@dataclass(frozen=True)
class Traffic:
    split: tuple[tuple[str, int], ...]  # default route: (color, weight %), in routing order
    preview: tuple[str, ...] = ()  # colors the preview routes send testers to

    def split_text(self) -> str:
        return " / ".join(f"{color} {weight}%" for color, weight in self.split) or NONE

    def preview_text(self) -> str:
        return ", ".join(self.preview) or "off"


def from_routing_rows(rows: list[tuple[str, str, int]]) -> Traffic:
    """From `cli.plan.routing_tables` rows: the `default` match is the split, every other match a preview route."""
    split = tuple((color, weight) for match, color, weight in rows if match == "default" and weight > 0)
    preview = tuple(sorted({color for match, color, _ in rows if match != "default"}))
    return Traffic(split, preview)


def changes(before: dict[str, Traffic], after: dict[str, Traffic]) -> list[str]:
    """One sentence per app whose split or preview target changes; apps in order of appearance."""
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
    return lines
