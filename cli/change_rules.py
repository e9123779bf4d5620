"""Rules over a change (BASE -> working tree) that the policy pack cannot judge: it sees one state, not two.

`flip-after-preview`: a color that gains production traffic in the same change that gives it a new image
sends users to a version that never served preview, canary or mirror traffic. Mandatory on the stacks in
MANDATORY_STACKS (prod), advisory elsewhere, reported by `make diff` with the pack's findings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from policies.guardrails.catalog import ADVISORY, MANDATORY
from policies.guardrails.evaluate import Finding

if TYPE_CHECKING:
    from .diff import TreePlan

FLIP_AFTER_PREVIEW = "flip-after-preview"
DESCRIPTION = "A color gains production traffic only with an image it already ran before the change (previewed first)."
MANDATORY_STACKS = ("prod",)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _images(plan: TreePlan, name: str) -> list[Any] | None:
    for resource in plan.resources.values():
        if resource["type"] == DEPLOYMENT and resource["name"] == name:
            containers = resource["inputs"].get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            return [container.get("image") for container in containers]
    return None


def untested_targets(base: TreePlan, head: TreePlan, stack: str) -> list[Finding]:
    """One finding per app and color that gains weight while its Deployment's image changes (or appears)."""
    level = MANDATORY if stack in MANDATORY_STACKS else ADVISORY
    findings = []
    for app, after in head.traffic.items():
        before = base.traffic.get(app)
        if before is None or not before.split:  # a new app: there was nothing to preview it against
            continue
        old_weights = dict(before.split)
        for color, weight in after.split:
            old_images, new_images = _images(base, f"{app}-{color}"), _images(head, f"{app}-{color}")
            if weight <= old_weights.get(color, 0) or old_images == new_images:
                continue
            now = ", ".join(map(str, new_images or [])) or "(none)"
            findings.append(
                Finding(
                    FLIP_AFTER_PREVIEW,
                    DESCRIPTION,
                    level,
                    None,
                    f"{app}: {color} goes to {weight}% ({before.split_text()} -> {after.split_text()}) in the same change that "
                    f"gives it the image {now}, which never served preview, canary or mirror traffic; change the image "
                    f"first (merge and pulumi up), preview it, then move traffic in a change of its own",
                )
            )
    return findings
