"""Per-resource rules for the release safety settings an app's switch gate carries (its inputs, as the engine sees them).

`flip-after-preview` is also a rule over a change: `make diff` and the guarded edits (cli/diff/change_rules.py) call
`untested_flips` with BASE and the working tree; the pack calls it with what the app served after the last
successful `pulumi up` (the gate's `previous` input) and what this run gives it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from .model import UNKNOWN, Resource, as_mapping, items

# components/app/switch_gate.py: `pulumi-python:dynamic:SwitchGate`, one per app; its `analysis` input is the
# app's promotion.analysis as config (camelCase keys).
SWITCH_GATE = "pulumi-python:dynamic:SwitchGate"
FLIP_AFTER_PREVIEW = "flip-after-preview"
FLIP_AFTER_PREVIEW_DESCRIPTION = "A color gains production traffic only with an image it already ran before the change (previewed first)."
_NONE = "(none)"

Split = Sequence[tuple[str, int]]  # the default route: (color, weight %) with weight > 0, in the order to print


def _analysis(resource: Resource) -> Mapping[str, Any]:
    return as_mapping(resource.props.get("analysis")) if resource.type == SWITCH_GATE else {}


def analysis_no_data_fails(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """A custom check with onNoData pass lets a color without any data (a broken exporter, a misspelt label) through."""
    app = resource.props.get("app", resource.name)
    return [
        f"{app}: promotion.analysis check {check.get('name')!r} passes when its query has no data (onNoData pass): "
        "a misspelt label or a dead exporter promotes unchecked; use fail, or wait for data"
        for check in map(as_mapping, items(_analysis(resource).get("checks")))
        if check.get("onNoData") == "pass"
    ]


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _seconds(duration: Any) -> int | None:
    text = str(duration)
    return int(text[:-1]) * _UNITS[text[-1]] if text[:-1].isdigit() and text[-1:] in _UNITS else None


def post_flip_bake_covers_window(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """A post-flip watch shorter than the analysis window judges mostly the traffic of before the flip."""
    bake, window = resource.props.get("postFlipBakeSeconds"), _seconds(_analysis(resource).get("window"))
    if not isinstance(bake, (int, float)) or isinstance(bake, bool) or window is None or bake >= window:
        return []
    app = resource.props.get("app", resource.name)
    return [
        f"{app}: promotion.postFlip.bake ({bake:g}s) is shorter than promotion.analysis.window ({window}s): the watch would end "
        "before a window of post-flip traffic exists, judging mostly the traffic before the flip; bake at least one window"
    ]


# --- flip-after-preview --------------------------------------------------------------------------


def _split_text(split: Split) -> str:
    return " / ".join(f"{color} {weight}%" for color, weight in split) or _NONE


def _image_text(image: Any) -> str:
    """A color's image(s): a Deployment's containers' images, or the one configured; (none) when not deployed."""
    images = image if isinstance(image, list) else [] if image is None else [image]
    return ", ".join(map(str, images)) or _NONE


def untested_flips(app: str, before: Split, after: Split, images_before: Mapping[str, Any], images_after: Mapping[str, Any]) -> list[str]:
    """One message per color that gains production share (`before` -> `after`) while its image differs from the one
    it ran before: users would go to a version that never served preview, canary or mirror traffic. Nothing is
    judged without a split before (a new app: there was nothing to preview it against)."""
    if not before:
        return []
    old = dict(before)
    return [
        f"{app}: {color} goes to {weight}% ({_split_text(before)} -> {_split_text(after)}) in the same change that "
        f"gives it the image {_image_text(images_after.get(color))}, which never served preview, canary or mirror traffic; "
        "change the image first (merge and pulumi up), preview it, then move traffic in a change of its own"
        for color, weight in after
        if weight > old.get(color, 0) and images_after.get(color) != images_before.get(color)
    ]


def _by_share(weights: Mapping[str, Any]) -> list[tuple[str, int]]:
    """A gate's weights as a split: the larger share first (the active color), a tie by color name."""
    return sorted(((color, int(weight)) for color, weight in weights.items() if weight), key=lambda cw: (-cw[1], cw[0]))


def _known_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """A mapping with no value unknown during preview."""
    return isinstance(value, Mapping) and all(v is not UNKNOWN for v in value.values())


def flip_after_preview(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    """The gate's weights and images against `previous`, what the app served after the last successful `pulumi up`.
    Without it (the first deploy, the offline plan) or with a value unknown in preview, nothing is judged."""
    if resource.type != SWITCH_GATE:
        return []
    props, previous = resource.props, as_mapping(resource.props.get("previous"))
    weights, images = props.get("weights"), props.get("images")
    old_weights, old_images = previous.get("weights"), previous.get("images")
    if not (_known_map(weights) and _known_map(images) and _known_map(old_weights) and _known_map(old_images)):
        return []
    return untested_flips(props.get("app", resource.name), _by_share(old_weights), _by_share(weights), old_images, images)
