"""What each app served after the last successful `pulumi up`, carried into the next run for the policy pack.

A policy sees only the new inputs of each resource, never the state before, so `flip-after-preview` (a color
gaining production share with an image it never ran) needs the program to bring "before" along:

- each app exports `applied`: its default-route weights and each color's image, as a stack output that
  resolves only once the app's Deployments and its state ConfigMap (applied after the VirtualService, so
  after the switch gate passed) are. The SDK registers the stack's outputs in one call once all resolve, so
  an `up` that fails anywhere leaves the outputs of the last one that succeeded (checked on the real engine);
- the next run reads them from its own stack (`own_stack_outputs`, in `preview` too) and hands each app's to
  its switch gate as `previous`. No outputs yet (the first `up`), or the offline plan (the mock engine answers
  no outputs): `previous` is None and the rule does not judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from ..shared.colors import COLORS
from . import promotion
from .config import AppConfig
from .routing import RoutingModel

OUTPUT_KEY = "applied"  # under the stack output apps.<name>
READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs"  # the engine's builtin provider (pkg/resource/deploy/builtins.go)


def images(cfg: AppConfig) -> dict[str, str | None]:
    """Each color's image (None: not deployed)."""
    return {color: cfg.color(color).image for color in COLORS}


def applied(cfg: AppConfig, model: RoutingModel) -> dict[str, Any]:
    """What this run gives the app: production weights and each color's image."""
    return {"weights": promotion.default_weights(model), "images": images(cfg)}


def once_applied(value: Mapping[str, Any], resources: Sequence[pulumi.CustomResource]) -> pulumi.Output[Any]:
    """`value`, resolved only once every one of `resources` is created or updated (an id comes back after its
    step), never when one fails."""
    return pulumi.Output.all(*(resource.id for resource in resources)).apply(lambda _: dict(value))


def own_stack_outputs() -> pulumi.Output[Any]:
    """This stack's outputs as the last successful `up` left them ({} before the first one, or when they cannot be
    read: that run is not judged, with a warning saying so).

    Read with the engine's builtin invoke, which answers what a `pulumi.StackReference` would read, but keeps
    nothing in the state: a StackReference is a read resource, refreshed as changed after every `up` that
    changes the outputs, so `pulumi refresh --expect-no-changes` would fail. The diy backend names every
    organization `organization`, so its stacks are `organization/<project>/<stack>`.
    """
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    return pulumi.Output.from_input(_read_outputs(name))


async def _read_outputs(name: str) -> dict[str, Any]:
    try:
        read = await pulumi.runtime.invoke_async(READ_STACK_OUTPUTS, {"name": name})
    except Exception as err:  # the engine's answer, e.g. the diy backend writing a new stack's first checkpoint
        pulumi.log.warn(
            f"cannot read stack {name}'s last outputs ({err}): flip-after-preview does not judge this run "
            "(make diff still compares the change with BASE)"
        )
        return {}
    return dict((read or {}).get("outputs") or {})


def previous(outputs: Mapping[str, Any] | None, app: str) -> dict[str, Any] | None:
    """`apps.<app>.applied` of the stack's outputs, or None when there is none."""
    apps = (outputs or {}).get("apps")
    entry = apps.get(app) if isinstance(apps, Mapping) else None
    value = entry.get(OUTPUT_KEY) if isinstance(entry, Mapping) else None
    return dict(value) if isinstance(value, Mapping) else None


def previous_for(outputs: pulumi.Output[Any], app: str) -> pulumi.Output[dict[str, Any] | None]:
    """`previous` of `app` once the stack's outputs are read."""
    return outputs.apply(lambda read: previous(read, app))
