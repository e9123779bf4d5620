"""The offline plan: evaluate the program for a stack and render what it would create."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from cli.engine import plan_cache
from cli.engine.recording import Recording, Registration
from cli.shared.paths import ROOT
from cli.shared.traffic import COHORT, MIRROR_OF
from cli.stackfile.read import project_name, read_stack_config, stack_path


class PlanError(Exception):
    """The program refused to run (e.g. invalid stack config); the message says why."""


@dataclass
class Plan:
    stack: str
    recording: Recording
    manifests: list[dict[str, Any]]
    secret_keys: list[str]
    seconds: float
    cached: bool = False  # the same program and stack file were planned before (cli/engine/plan_cache.py)


def manifest_of(resource: Registration) -> dict[str, Any] | None:
    """The Kubernetes object a resource sends to the cluster, if it is one.

    Kubernetes resources carry apiVersion/kind in their inputs; a command that pipes a manifest
    to a tool on stdin (e.g. `istioctl install -f -`) sends that manifest.
    """
    inputs = resource.inputs
    if resource.type.startswith("kubernetes:") and {"apiVersion", "kind", "metadata"} <= inputs.keys():
        return inputs
    stdin = inputs.get("stdin") if resource.type.startswith("command:") else None
    if isinstance(stdin, str):
        document = yaml.safe_load(stdin)
        if isinstance(document, dict) and {"apiVersion", "kind"} <= document.keys():
            return document
    return None


_TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata", "spec", "data")


def _ordered(value: Any, top: bool = False) -> Any:
    """Stable, readable key order: apiVersion/kind/metadata first, the rest alphabetical."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (_TOP_LEVEL_ORDER.index(k) if top and k in _TOP_LEVEL_ORDER else 99, k))
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


if not yaml.__with_libyaml__:  # the pinned wheel has it; a source build without libyaml would write other text
    raise ImportError("PyYAML was built without libyaml: reinstall the pinned wheel (make deps)")


def manifest_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML, keys in the manifest's order, written by libyaml's emitter: PyYAML's pure-Python one
    took most of a plan's writing time (4 ms for each app's dashboard ConfigMap, 0.1 ms here)."""
    return yaml.dump(manifest, Dumper=yaml.CSafeDumper, sort_keys=False)


def manifest_filename(manifest: dict[str, Any]) -> str:
    meta = manifest.get("metadata") or {}
    return f"{manifest['kind'].lower()}-{meta.get('namespace', 'cluster')}-{meta.get('name', 'unnamed')}.yaml"


def _describe_match(route: dict[str, Any]) -> str:
    parts = []
    for match in route.get("match", []):
        for value in (match.get("authority") or {}).values():
            # The preview host's `^name(:[0-9]+)?$` reads back as the name.
            parts.append("host " + value.removeprefix("^").removesuffix("(:[0-9]+)?$").replace("\\.", "."))
        for kind, value in (match.get("uri") or {}).items():
            parts.append(f"path {value}" + (" (exact)" if kind == "exact" else "*"))
        for header, value in (match.get("headers") or {}).items():
            parts.append(_describe_header(header, value))
    rewrite = (route.get("rewrite") or {}).get("uri")
    described = (" | ".join(parts) or "default") + (f" -> rewrite {rewrite}" if rewrite else "")
    name = str(route.get("name", ""))
    return f"{name}: {described}" if name.startswith(COHORT) else described


# components/app/istio_routing.cookie_regex: `^(.*?;\s*)?<name>=(<value>)(;.*)?$` reads back as the cookie.
_COOKIE = re.compile(r"^\^\(\.\*\?;\\s\*\)\?(?P<name>.+?)=\((?P<value>.*)\)\(;\.\*\)\?\$$")
_MATCH_SIGN = {"exact": "=", "prefix": "^=", "regex": "~"}


def _describe_header(header: str, value: dict[str, str]) -> str:
    """`header x-beta=true`, `header x-group^=internal-`, `header user-agent~.*Android.*`; a cohort's cookie as `cookie beta=1`."""
    kind, pattern = next(iter(value.items()))
    cookie = _COOKIE.match(pattern) if header == "cookie" and kind == "regex" else None
    if cookie:
        return f"cookie {_literal(cookie['name'])}{_cookie_value(cookie['value'])}"
    return f"header {header}{_MATCH_SIGN.get(kind, '=')}{pattern}"


def _literal(escaped: str) -> str:
    return re.sub(r"\\(.)", r"\1", escaped)


def _cookie_value(value: str) -> str:
    """The cookie's value match as written in config: `=1` (exact), `^=int-` (prefix) or `~<regex>`."""
    if value.startswith("(?:") and value.endswith(")"):
        return "~" + value[3:-1]
    if value.endswith("[^;]*") and re.escape(_literal(value[:-5])) == value[:-5]:
        return "^=" + _literal(value[:-5])
    return "=" + _literal(value)


def _weight(destination: dict[str, Any], route: dict[str, Any]) -> int:
    # Istio: a lone destination takes 100 when unweighted; among several, an unset weight is 0.
    return destination.get("weight", 100 if len(route["route"]) == 1 else 0)


def _route_rows(route: dict[str, Any]) -> list[tuple[str, str, float]]:
    match = _describe_match(route)
    rows: list[tuple[str, str, float]] = [
        (match, dest["destination"].get("subset", "-"), _weight(dest, route)) for dest in route.get("route", [])
    ]
    if mirror := route.get("mirror"):
        # Istio mirrors 100% when mirrorPercentage is not set.
        percent = (route.get("mirrorPercentage") or {}).get("value", 100)
        rows.append((MIRROR_OF + match, mirror.get("subset", "-"), percent))
    return rows


def routing_tables(manifests: list[dict[str, Any]]) -> dict[str, list[tuple[str, str, float]]]:
    """Per VirtualService: (match, color, weight %) rows, read back from the rendered objects; a mirrored route
    adds a `mirror of <match>` row with the % of its requests copied."""
    tables = {}
    for manifest in manifests:
        if manifest["kind"] != "VirtualService":
            continue
        tables[manifest["metadata"]["name"]] = [row for route in manifest["spec"].get("http", []) for row in _route_rows(route)]
    return tables


def run_plan(stack: str, root: Path = ROOT, stack_file: Path | None = None) -> Plan:
    """Plan `stack` with root's program, from `stack_file` (default: root's Pulumi.<stack>.yaml; a guarded
    edit passes its staged copy)."""
    stack_file = stack_file or stack_path(root, stack)
    project = project_name(root)
    config, secret_keys = read_stack_config(stack_file, project)
    program = root / "__main__.py"
    if not program.exists():
        raise PlanError(f"no program {program.name} in {root}")
    started = time.perf_counter()
    key = plan_cache.plan_key(stack, root, stack_file)
    recording = plan_cache.load(key)
    cached = recording is not None
    if recording is None:
        # The Pulumi SDK loads only for a stack file that reads (and is not planned already): a broken one is
        # refused in a tenth of the time.
        import pulumi

        from cli.engine.mock import run_program

        try:
            recording = run_program(stack, config, secret_keys, program=program, project=project)
        except pulumi.RunError as err:
            raise PlanError(str(err)) from None
        plan_cache.store(key, recording)
    manifests = [_ordered(m, top=True) for m in map(manifest_of, recording.resources) if m is not None]
    return Plan(stack, recording, manifests, secret_keys, time.perf_counter() - started, cached)


POLICY_FAILED = "POLICY-FAILED"


def _is_plan_output(path: Path) -> bool:
    """A folder a plan wrote (or an empty one): the only kind write_plan replaces and discard_plan removes."""
    if not path.is_dir():
        return not path.exists()
    return (path / "resources.json").exists() or (path / "manifests").is_dir() or not any(path.iterdir())


def _check_replaceable(out_dir: Path) -> None:
    if not _is_plan_output(out_dir):  # e.g. `--out .`
        raise PlanError(f"refusing to replace {out_dir}: it is not the output of a plan (no resources.json, no manifests/)")


def write_plan(plan: Plan, out_dir: Path, policy_failure: str | None = None) -> None:
    """Write manifests/, resources.json and outputs.json, and swap them in for out_dir only once all is written.

    With `policy_failure` (the policy report), a POLICY-FAILED file holding it is written too: the manifests stay
    for inspection, and nobody mistakes them for a plan that passed.
    """
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{plan.stack}-", dir=out_dir.parent))
    try:
        (staging / "manifests").mkdir()
        for manifest in plan.manifests:
            (staging / "manifests" / manifest_filename(manifest)).write_text(manifest_yaml(manifest))
        resources = [r.as_json() for r in plan.recording.resources]
        (staging / "resources.json").write_text(json.dumps(resources, indent=2) + "\n")
        extras = {"outputs": plan.recording.outputs, "invokes": [asdict(i) for i in plan.recording.invokes]}
        (staging / "outputs.json").write_text(json.dumps(extras, indent=2, default=str) + "\n")
        if policy_failure is not None:
            (staging / POLICY_FAILED).write_text(policy_failure.rstrip("\n") + "\n")
        _swap_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already unless something failed


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Renames only, so out_dir never holds a mix of the old plan and the new one (at worst, between the two
    renames, it is briefly absent)."""
    old = staging.with_name(staging.name + ".old")
    if out_dir.exists():
        os.rename(out_dir, old)
    # A rename, not a move: if another plan recreated out_dir meanwhile this fails instead of nesting.
    os.rename(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def discard_plan(out_dir: Path) -> None:
    """A failed plan removes the previous one, so nobody reviews manifests that are not this config's."""
    if _is_plan_output(out_dir):
        shutil.rmtree(out_dir, ignore_errors=True)


def type_counts(recording: Recording) -> Counter:
    return Counter(r.type for r in recording.resources)


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def unrendered_releases(recording: Recording) -> list[str]:
    """Helm releases in the plan whose chart templates the offline plan cannot render (no chart download)."""
    return [
        f"{r.inputs.get('namespace', 'default')}/{r.inputs.get('name', r.name)}: chart {r.inputs['chart']} {r.inputs.get('version', '(unpinned)')}"
        for r in recording.of_type(HELM_RELEASE)
    ]
