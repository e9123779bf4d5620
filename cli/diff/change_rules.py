"""Rules over a change (BASE -> working tree): both states at once, which the policy pack never has.

`flip-after-preview`: a color that gains production traffic in the same change that gives it a new image
sends users to a version that never served preview, canary or mirror traffic. The rule and its message are
the pack's (policies/guardrails/release.py, which judges it against what the last `pulumi up` applied), and so
is its level: the project's pack config for the stack (policies/config/prod.json makes it mandatory, advisory
elsewhere). Reported by `make diff` with the pack's findings and by the guarded edits against the committed
stack file (a mandatory one refuses the edit).

`autoscaling-while-serving`: a color that gets its HPA in a change while it serves production traffic
loses its replicas for a moment: the Deployment stops carrying `spec.replicas` (the HPA's from now on),
so the API server resets it to 1 until the HPA's first sync (about 15 s). Mandatory on the stacks in
MANDATORY_STACKS (prod), advisory elsewhere, from `make diff`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.diff.tree_plan import TreePlan
from cli.engine.policy_check import project_level
from cli.shared.traffic import Traffic
from policies.guardrails.catalog import ADVISORY, DISABLED, MANDATORY, rule
from policies.guardrails.evaluate import Finding
from policies.guardrails.release import FLIP_AFTER_PREVIEW, untested_flips

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


def _untested(
    stack: str, root: Path, app: str, before: Traffic, after: Traffic, images_before: dict[str, Any], images_after: dict[str, Any]
) -> list[Finding]:
    level = project_level(stack, root, FLIP_AFTER_PREVIEW)
    if level == DISABLED:
        return []
    messages = untested_flips(app, before.split, after.split, images_before, images_after)
    return [Finding(FLIP_AFTER_PREVIEW, rule(FLIP_AFTER_PREVIEW).description, level, None, message) for message in messages]


def untested_targets(base: TreePlan, head: TreePlan, stack: str, root: Path) -> list[Finding]:
    """`make diff`: one finding per app and color that gains weight while its Deployment's image changes (or
    appears). A new app is not judged: there was nothing to preview it against."""
    findings = []
    for app, after in head.traffic.items():
        before = base.traffic.get(app)
        if before is None:
            continue
        colors = [color for color, _ in after.split]
        images_before = {color: _images(base, f"{app}-{color}") for color in colors}
        images_after = {color: _images(head, f"{app}-{color}") for color in colors}
        findings += _untested(stack, root, app, before, after, images_before, images_after)
    return findings


def untested_edit(
    stack: str,
    root: Path,
    app: str,
    before: Traffic,
    after: Traffic,
    images: dict[str, str | None],
    committed: dict[str, Any] | None,
) -> list[Finding]:
    """A guarded edit (a flip, a canary, the last release step): the same finding when a color gaining weight runs
    an image other than the one committed (git HEAD) for it, i.e. the uncommitted change gives it a new one."""
    if committed is None:  # git cannot tell: judged by `make diff` in the merge request
        return []
    was = {color: spec.get("image") if isinstance(spec, dict) else None for color, spec in committed.items()}
    return _untested(stack, root, app, before, after, was, dict(images))


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
