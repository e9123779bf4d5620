"""Rules over a change (BASE -> working tree) that the policy pack cannot judge: it sees one state, not two.

`flip-after-preview`: a color that gains production traffic in the same change that gives it a new image
sends users to a version that never served preview, canary or mirror traffic. Mandatory on the stacks in
MANDATORY_STACKS (prod), advisory elsewhere, reported by `make diff` with the pack's findings and by the
guarded edits against the committed stack file (a mandatory one refuses the edit).

`autoscaling-while-serving`: a color that gets its HPA in a change while it serves production traffic
loses its replicas for a moment: the Deployment stops carrying `spec.replicas` (the HPA's from now on),
so the API server resets it to 1 until the HPA's first sync (about 15 s). Same levels, from `make diff`.
"""

from __future__ import annotations

from typing import Any

from cli.diff.tree_plan import TreePlan
from cli.shared.traffic import Traffic
from policies.guardrails.catalog import ADVISORY, MANDATORY
from policies.guardrails.evaluate import Finding

FLIP_AFTER_PREVIEW = "flip-after-preview"
DESCRIPTION = "A color gains production traffic only with an image it already ran before the change (previewed first)."
MANDATORY_STACKS = ("prod",)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
AUTOSCALING_WHILE_SERVING = "autoscaling-while-serving"
AUTOSCALING_DESCRIPTION = "A color gets its HorizontalPodAutoscaler only while it serves no production traffic."
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def _level(stack: str) -> str:
    return MANDATORY if stack in MANDATORY_STACKS else ADVISORY


def _resource(plan: TreePlan, type_: str, name: str) -> dict[str, Any] | None:
    return next((r for r in plan.resources.values() if r["type"] == type_ and r["name"] == name), None)


def _images(plan: TreePlan, name: str) -> list[Any] | None:
    resource = _resource(plan, DEPLOYMENT, name)
    if resource is None:
        return None
    containers = resource["inputs"].get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return [container.get("image") for container in containers]


def _finding(stack: str, app: str, color: str, weight: int, before: Traffic, after: Traffic, image: str) -> Finding:
    return Finding(
        FLIP_AFTER_PREVIEW,
        DESCRIPTION,
        _level(stack),
        None,
        f"{app}: {color} goes to {weight}% ({before.split_text()} -> {after.split_text()}) in the same change that "
        f"gives it the image {image}, which never served preview, canary or mirror traffic; change the image "
        f"first (merge and pulumi up), preview it, then move traffic in a change of its own",
    )


def _gains(before: Traffic, after: Traffic) -> list[tuple[str, int]]:
    old = dict(before.split)
    return [(color, weight) for color, weight in after.split if weight > old.get(color, 0)] if before.split else []


def untested_targets(base: TreePlan, head: TreePlan, stack: str) -> list[Finding]:
    """`make diff`: one finding per app and color that gains weight while its Deployment's image changes (or
    appears). A new app is not judged: there was nothing to preview it against."""
    findings = []
    for app, after in head.traffic.items():
        before = base.traffic.get(app)
        if before is None:
            continue
        for color, weight in _gains(before, after):
            old_images, new_images = _images(base, f"{app}-{color}"), _images(head, f"{app}-{color}")
            if old_images != new_images:
                findings.append(_finding(stack, app, color, weight, before, after, ", ".join(map(str, new_images or [])) or "(none)"))
    return findings


def untested_edit(
    stack: str, app: str, before: Traffic, after: Traffic, images: dict[str, str | None], committed: dict[str, Any] | None
) -> list[Finding]:
    """A guarded edit (a flip, a canary, the last release step): the same finding when a color gaining weight runs
    an image other than the one committed (git HEAD) for it, i.e. the uncommitted change gives it a new one."""
    if committed is None:  # git cannot tell: judged by `make diff` in the merge request
        return []
    findings = []
    for color, weight in _gains(before, after):
        was = committed.get(color, {}).get("image") if isinstance(committed.get(color), dict) else None
        if images.get(color) != was:
            findings.append(_finding(stack, app, color, weight, before, after, str(images.get(color))))
    return findings


def autoscaled_while_serving(base: TreePlan, head: TreePlan, stack: str) -> list[Finding]:
    """`make diff`: one finding per app and color that serves production traffic before and after a change that
    gives its running Deployment an HPA."""
    findings = []
    for app, after in head.traffic.items():
        before = base.traffic.get(app)
        if before is None:
            continue
        old = dict(before.split)
        for color, weight in after.split:
            name = f"{app}-{color}"
            serving = weight > 0 and old.get(color, 0) > 0
            gets_hpa = _resource(head, HPA, name) is not None and _resource(base, HPA, name) is None
            if serving and gets_hpa and _resource(base, DEPLOYMENT, name) is not None:
                findings.append(
                    Finding(
                        AUTOSCALING_WHILE_SERVING,
                        AUTOSCALING_DESCRIPTION,
                        _level(stack),
                        None,
                        f"{app}: {color} gets its HPA while it serves {old[color]}% -> {weight}% of production: its Deployment "
                        f"stops carrying replicas, so the API server resets it to 1 until the HPA's first sync (about 15 s); "
                        f"turn autoscaling on while {color} is idle (after a flip away from it), then flip back",
                    )
                )
    return findings
