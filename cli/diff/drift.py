"""Drift in plain words: where the live objects differ from what the stack config and the program ask for.

The verdict is the real engine's: `pulumi preview --refresh` reads every resource live (refresh) and diffs the
program against what it read, without writing the stack's state. Its events (cli/diff/drift_run.py) come here:

- a resource the preview would update, replace, create or delete differs live from the program. Its refresh
  event says why: the live object changed since the last `up` (someone ran `kubectl edit`: drift), or the stack
  config changed and was never applied (`pulumi up` pending);
- each difference is a sentence, routing first: an app's VirtualService as the share each color gets, live and
  in the stack config; a color's Deployment as replicas and image (the key path to look at); anything else as
  `<kind> <name>: <field> live ..., desired ...`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto

from components.app.promotion import default_weights
from components.app.routing import routing_model
from components.config import StackConfig
from components.shared import naming
from components.shared.colors import COLORS

EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
# A value the engine does not know during a preview (an output of a resource not created yet).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# Bookkeeping, not objects: the stack, provider resources, and components (whose children are compared).
NOT_OBJECTS = ("pulumi:pulumi:Stack", "pulumi:providers:", "bluegreen:")
CHANGING_OPS = {"update", "replace", "create", "create-replacement", "delete", "delete-replaced"}
SHOWN = 100  # characters of a value in a sentence


@dataclass(frozen=True)
class FieldDrift:
    path: str
    live: Any
    desired: Any


@dataclass
class Finding:
    """One resource the engine would change: what is live (refreshed) and what the program asks for."""

    urn: str
    type: str
    op: str
    live: Mapping[str, Any] | None  # the refreshed object (outputs); None when it is gone
    desired: Mapping[str, Any] | None  # the program's inputs; None when the program no longer has it
    changed_outside: bool = False  # the refresh saw the live object differ from the last `up`
    keys: list[str] = field(default_factory=list)  # the engine's own changed keys

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def name(self) -> str:
        """`namespace/name` of a Kubernetes object, else the resource's name in the program."""
        for body in (self.desired, self.live):
            meta = (body or {}).get("metadata")
            if isinstance(meta, Mapping) and isinstance(meta.get("name"), str):
                return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        return self.urn.rsplit("::", 1)[-1]

    def fields(self) -> list[FieldDrift]:
        return differences(self.desired or {}, self.live or {})


@dataclass
class Check:
    """What one `preview --refresh` found."""

    findings: list[Finding]
    checked: int  # resources compared (objects, not bookkeeping)


def _is_object(type_: str) -> bool:
    return not type_.startswith(NOT_OBJECTS)


def check(events: Iterable[auto.EngineEvent]) -> Check:
    """The findings of a `preview --refresh` event stream."""
    refreshed_changed: set[str] = set()
    findings: dict[str, Finding] = {}
    checked: set[str] = set()
    for event in events:
        if event.res_outputs_event is not None and event.res_outputs_event.metadata.op.value == "refresh":
            meta = event.res_outputs_event.metadata
            old, new = meta.old, meta.new
            if (new is None) or old is None or (old.inputs or {}) != (new.inputs or {}):
                refreshed_changed.add(meta.urn)
        pre = event.resource_pre_event
        if pre is None or not _is_object(pre.metadata.type) or pre.metadata.op.value in ("refresh", "read"):
            continue
        meta = pre.metadata
        checked.add(meta.urn)
        if meta.op.value not in CHANGING_OPS:
            continue
        findings.setdefault(
            meta.urn,
            Finding(
                urn=meta.urn,
                type=meta.type,
                op=meta.op.value,
                live=meta.old.outputs if meta.old else None,
                desired=meta.new.inputs if meta.new and meta.op.value not in ("delete", "delete-replaced") else None,
                keys=sorted(set(meta.diffs or []) | set(meta.detailed_diff or {})),
            ),
        )
    for urn, finding in findings.items():
        finding.changed_outside = urn in refreshed_changed or finding.live is None
    return Check(list(findings.values()), len(checked))


# --- comparing -----------------------------------------------------------------------------------


def differences(desired: Any, live: Any, path: str = "") -> list[FieldDrift]:
    """Where `desired` is not what is live. Fields only the server sets (status, defaults) are not compared;
    values the preview does not know yet, and secrets (shown as `[secret]` on both sides), never differ."""
    if desired == UNKNOWN or live == UNKNOWN:
        return []
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        return [d for key in sorted(desired) for d in differences(desired[key], live.get(key), f"{path}.{key}" if path else key)]
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [d for i, (want, have) in enumerate(zip(desired, live, strict=True)) for d in differences(want, have, f"{path}[{i}]")]
    if desired == live or (live is not None and _same_scalar(desired, live)):
        return []
    return [FieldDrift(path, live, desired)]


def _same_scalar(desired: Any, live: Any) -> bool:
    """The engine's numbers are floats (2.0 live for 2 desired); quantities may come back as text."""
    if isinstance(desired, (bool, Mapping, list)) or isinstance(live, (bool, Mapping, list)):
        return False
    return str(desired) == str(live) or (_number(desired) is not None and _number(desired) == _number(live))


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def shown(value: Any) -> str:
    """A value in a sentence: JSON (whole numbers without `.0`), at most SHOWN characters."""
    if value is None:
        return "(absent)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


# --- sentences -----------------------------------------------------------------------------------


def _default_route_weights(body: Mapping[str, Any] | None) -> dict[str, int] | None:
    """Each color's share of the default (last) route of a VirtualService object."""
    try:
        route = body["spec"]["http"][-1]["route"]  # type: ignore[index]
        shares = {r["destination"]["subset"]: int(float(r.get("weight", 100))) for r in route}
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return {color: shares.get(color, 0) for color in COLORS}


def _app_of_virtual_service(finding: Finding, config: StackConfig) -> str | None:
    for app, cfg in config.apps.items():
        if finding.name == f"{cfg.namespace}/{app}":
            return app
    return None


def _color_of_deployment(finding: Finding, config: StackConfig) -> tuple[str, str] | None:
    for app, cfg in config.apps.items():
        for color in COLORS:
            if finding.name == f"{cfg.namespace}/{naming.deployment_name(app, color)}":
                return app, color
    return None


def routing_sentences(finding: Finding, app: str, config: StackConfig) -> tuple[list[str], str | None]:
    """`front: live VirtualService sends 30% to green, stack config says 0%`, the color gaining traffic first;
    and the default route's path, whose fields these sentences cover."""
    live = _default_route_weights(finding.live)
    if live is None:
        return [], None
    wanted = default_weights(routing_model(config.apps[app]))
    colors = sorted((c for c in COLORS if live[c] != wanted[c]), key=lambda c: (live[c] <= wanted[c], COLORS.index(c)))
    sentences = [f"{app}: live VirtualService sends {live[c]}% to {c}, stack config says {wanted[c]}%" for c in colors]
    last = len(finding.live["spec"]["http"]) - 1  # type: ignore[index]
    return sentences, f"spec.http[{last}].route"


def deployment_sentences(finding: Finding, app: str, color: str, config: StackConfig) -> tuple[list[str], set[str]]:
    """Replicas and image, live and in the stack config, naming the key to look at."""
    spec = config.apps[app].color(color)  # type: ignore[arg-type]
    name = naming.deployment_name(app, color)  # type: ignore[arg-type]
    live = finding.live or {}
    sentences, covered = [], set()
    replicas = live.get("spec", {}).get("replicas")
    if replicas is not None and _number(replicas) != spec.replicas:
        sentences.append(
            f"{name}: live Deployment runs {shown(replicas)} replicas, stack config says {spec.replicas} (apps.{app}.{color}.replicas)"
        )
        covered.add("spec.replicas")
    containers = live.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    image = containers[0].get("image") if containers else None
    if image is not None and image != spec.image:
        sentences.append(f"{name}: live Deployment runs image {image}, stack config says {spec.image} (apps.{app}.{color}.image)")
        covered.add("spec.template.spec.containers[0].image")
    return sentences, covered


def field_sentences(finding: Finding, skip: Iterable[str] = ()) -> list[str]:
    """`<kind> <name>: <field> live ..., desired ...` for each difference not said already."""
    prefixes = tuple(skip)
    lines = [
        f"{finding.kind} {finding.name}: {d.path} live {shown(d.live)}, desired {shown(d.desired)}"
        for d in finding.fields()
        if not any(d.path == p or d.path.startswith((f"{p}.", f"{p}[")) for p in prefixes)
    ]
    return lines


def sentences(finding: Finding, config: StackConfig) -> list[str]:
    """What is wrong with one resource, in plain words."""
    where = f"{finding.kind} {finding.name}"
    if finding.live is None or finding.op == "create":
        return [f"{where}: not on the cluster (deleted by hand?); pulumi up creates it again"]
    if finding.desired is None:
        return [f"{where}: on the cluster and in the stack's state, no longer in the program; pulumi up deletes it"]
    said: list[str] = []
    covered: set[str] = set()
    if finding.type == VIRTUAL_SERVICE and (app := _app_of_virtual_service(finding, config)):
        said, route = routing_sentences(finding, app, config)
        covered = {route} if said and route else set()
    elif finding.type == DEPLOYMENT and (owner := _color_of_deployment(finding, config)):
        said, covered = deployment_sentences(finding, *owner, config)
    said += field_sentences(finding, covered)
    if not said:  # the engine sees a change the fields do not show (e.g. a replacement trigger)
        keys = ", ".join(finding.keys) or "no field named"
        said = [f"{where}: pulumi up would {finding.op} it ({keys})"]
    elif finding.op.startswith("replace") or finding.op == "create-replacement":
        said[-1] += " (pulumi up replaces it)"
    return said


def _order(finding: Finding) -> tuple[int, str]:
    """Routing first, then the Deployments, then everything else."""
    rank = {VIRTUAL_SERVICE: 0, DEPLOYMENT: 1}.get(finding.type, 2)
    return rank, finding.name


@dataclass(frozen=True)
class Report:
    outside: list[str]  # the live objects changed since the last up
    pending: list[str]  # the stack config changed, never applied
    checked: int

    @property
    def exit_code(self) -> int:
        return EXIT_DRIFT if self.outside or self.pending else EXIT_CLEAN


def report(result: Check, config: StackConfig) -> Report:
    ordered = sorted(result.findings, key=_order)
    outside = [line for f in ordered if f.changed_outside for line in sentences(f, config)]
    pending = [line for f in ordered if not f.changed_outside for line in sentences(f, config)]
    return Report(outside, pending, result.checked)


def render(result: Report, stack: str, up_command: str) -> str:
    """The text `make drift` prints."""
    if result.exit_code == EXIT_CLEAN:
        return f"no drift: the {result.checked} live objects of stack {stack} are what its stack config says\n"
    lines: list[str] = []
    if result.outside:
        lines += ["drift: changed on the cluster since the last pulumi up (kubectl edit, scale, delete):"]
        lines += [f"  {line}" for line in result.outside]
    if result.pending:
        lines += [f"not applied: Pulumi.{stack}.yaml changed since the last pulumi up:"]
        lines += [f"  {line}" for line in result.pending]
    lines.append(f"{up_command} puts the live objects back to what the stack config says")
    return "\n".join(lines) + "\n"
