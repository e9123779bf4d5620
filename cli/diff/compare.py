"""`python -m cli diff --stack stg --base <git-ref>`: what a change would do, compared with BASE.

Both the working tree and BASE (the stack file and program as of that ref, taken with `git archive`)
are planned offline, each in its own process (`cli.engine.worker`), and compared by URN the way
`pulumi preview` does: resources added, removed, and changed with field-level paths. The traffic
change per app is read back from the rendered VirtualServices. The policy pack runs over the working
tree's plan as `make plan` runs it (the tree's `policies/config/<stack>.json`).

Exit codes, as `terraform plan -detailed-exitcode`: 0 no changes, 1 error (or a mandatory policy
violation: `pulumi up` with the pack would refuse it), 2 changes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.diff import change_rules
from cli.diff.tree_plan import TreePlan
from cli.engine import policy_check
from cli.engine.plan import routing_tables
from cli.engine.recording import Registration
from cli.shared import traffic
from cli.shared.git import GitError, git
from cli.shared.paths import ROOT
from cli.stackfile.read import known_stacks
from policies.guardrails.catalog import MANDATORY
from policies.guardrails.evaluate import Finding, PackConfigError

EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ABSENT = "(absent)"
WORKING_TREE = "working tree"


class DiffError(Exception):
    """The diff could not be made (bad ref, a side failed to plan); the message says why."""


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any  # ABSENT when the field is new
    after: Any  # ABSENT when the field is removed


# Input paths (engine form) whose change makes the provider replace the resource instead of updating it.
# Any other changed input is an in-place update. Kubernetes objects are replaced on a new name or namespace.
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
REPLACE_ON: dict[str, tuple[str, ...]] = {
    CLUSTER: (
        "name",
        "location",
        "project",
        "network",
        "subnetwork",
        "networkingMode",
        "ipAllocationPolicy",
        "datapathProvider",
        "privateClusterConfig.enablePrivateNodes",
        "privateClusterConfig.masterIpv4CidrBlock",
    ),
    NODE_POOL: (
        "name",
        "cluster",
        "location",
        "project",
        "nodeConfig.serviceAccount",
        "nodeConfig.oauthScopes",
        "nodeConfig.shieldedInstanceConfig",
        "nodeConfig.imageType",
    ),
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
    "gcp:projects/iAMMember:IAMMember": ("project", "role", "member"),
    "gcp:compute/firewall:Firewall": ("name", "project", "network", "direction"),
    "gcp:compute/router:Router": ("name", "project", "region", "network"),
    "gcp:compute/routerNat:RouterNat": ("name", "project", "region", "router"),
    DEPLOYMENT: ("spec.selector",),
}
KUBERNETES_REPLACE_ON = ("metadata.name", "metadata.namespace")


def _forces_replacement(type_: str, path: str) -> bool:
    keys = REPLACE_ON.get(type_, ()) + (KUBERNETES_REPLACE_ON if type_.startswith("kubernetes:") else ())
    return any(path == key or path.startswith((f"{key}.", f"{key}[")) for key in keys)


@dataclass(frozen=True)
class Replacement:
    resource: dict[str, Any]
    paths: list[str]  # the changed inputs that force it

    @property
    def refused(self) -> bool:
        """A cluster is never replaced: it is protected, and the replacement would take every workload with it."""
        return self.resource["type"] == CLUSTER

    def sentence(self) -> str:
        what, why = _kind(self.resource), ", ".join(self.paths)
        if self.refused:
            return (
                f"REFUSED: {what} would be REPLACED (changed: {why}); the cluster is protected, so `pulumi up` stops "
                f"before touching it. Revert these keys, or create a new cluster under a new cluster.name and move to it"
            )
        if self.resource["options"].get("deleteBeforeReplace"):
            return (
                f"REPLACE: {what} (changed: {why}) is deleted first, then created: its workloads move to other "
                f"pools or stay Pending until the new one is ready"
            )
        return f"REPLACE: {what} (changed: {why}) is created anew, then the old one is deleted"


@dataclass
class StackDiff:
    stack: str
    base: str  # e.g. `main (1a2b3c4d)`
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], list[FieldChange]]] = field(default_factory=list)
    outputs: list[FieldChange] = field(default_factory=list)
    traffic: list[str] = field(default_factory=list)
    impact: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replacements: list[Replacement] = field(default_factory=list)
    policy: list[Finding] = field(default_factory=list)  # the pack's violations in the working tree's plan
    unchanged: int = 0
    removed_apps: dict[str, str] = field(default_factory=dict)  # app -> what happens to it (all its traffic goes)
    removals_on_purpose: frozenset[str] = frozenset()  # apps named by --remove-app

    @property
    def unintended_removals(self) -> list[str]:
        return [app for app in self.removed_apps if app not in self.removals_on_purpose]

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.outputs)

    @property
    def refused(self) -> list[Replacement]:
        return [r for r in self.replacements if r.refused]

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.policy if f.level == MANDATORY]

    @property
    def exit_code(self) -> int:
        # A change that cannot be applied is an error, not a plan: `pulumi up` would refuse it.
        if self.refused or self.mandatory or self.unintended_removals:
            return EXIT_ERROR
        return EXIT_CHANGES if self.has_changes else EXIT_NO_CHANGES


# --- comparing ---------------------------------------------------------------------------------


def _key_path(path: str, key: str) -> str:
    # Label keys such as `app.kubernetes.io/name` are quoted so the path stays unambiguous.
    part = f'["{key}"]' if any(c in key for c in "./[] ") else key
    return f"{path}{part}" if part.startswith("[") or not path else f"{path}.{part}"


def field_changes(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Leaf-level differences, maps by key and lists by index, e.g. `spec.http[2].route[0].weight`."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            change
            for key in sorted({*before, *after})  # one order for both sides, whatever order each was built in
            for change in field_changes(before.get(key, ABSENT), after.get(key, ABSENT), _key_path(path, key))
        ]
    if isinstance(before, list) and isinstance(after, list):
        padded = max(len(before), len(after))
        olds, news = before + [ABSENT] * (padded - len(before)), after + [ABSENT] * (padded - len(after))
        return [change for i, (old, new) in enumerate(zip(olds, news, strict=False)) for change in field_changes(old, new, f"{path}[{i}]")]
    return [] if before == after else [FieldChange(path or "(value)", before, after)]


def _deployment_impact(resource: dict[str, Any], changes: list[FieldChange] | None, added: bool = False) -> str:
    name = resource["name"]
    if changes is None:
        replicas = resource["inputs"].get("spec", {}).get("replicas")
        return f"{name}: new Deployment, {replicas} pods start" if added else f"{name}: Deployment deleted, its pods stop"
    restarts = [c.path for c in changes if c.path.startswith("spec.template")]
    if restarts:
        more = f" and {len(restarts) - 2} more" if len(restarts) > 2 else ""
        return f"{name}: pods restart (rolling update: {', '.join(restarts[:2])}{more})"
    scaled = [c for c in changes if c.path == "spec.replicas"]
    if scaled:
        return f"{name}: scales {scaled[0].before} -> {scaled[0].after} replicas, no restart"
    return f"{name}: Deployment changes without a pod restart ({', '.join(c.path for c in changes)})"


def compare(base: TreePlan, head: TreePlan, stack: str, base_label: str) -> StackDiff:
    diff = StackDiff(stack, base_label)
    for urn, resource in head.resources.items():
        if urn not in base.resources:
            diff.added.append(resource)
            continue
        old = base.resources[urn]
        changes = field_changes(old["inputs"], resource["inputs"])
        changes += field_changes(old["options"], resource["options"], "(options)")
        if changes:
            diff.changed.append((resource, changes))
            forcing = [c.path for c in changes if _forces_replacement(resource["type"], c.path)]
            if forcing:
                diff.replacements.append(Replacement(resource, forcing))
        else:
            diff.unchanged += 1
    diff.removed = [r for urn, r in base.resources.items() if urn not in head.resources]
    diff.outputs = field_changes(base.outputs, head.outputs)
    diff.traffic = traffic.changes(base.traffic, head.traffic)
    diff.removed_apps = traffic.apps_losing_all_traffic(base.traffic, head.traffic)

    diff.impact = [_deployment_impact(r, None, added=True) for r in diff.added if r["type"] == DEPLOYMENT]
    diff.impact += [_deployment_impact(r, None) for r in diff.removed if r["type"] == DEPLOYMENT]
    diff.impact += [_deployment_impact(r, c) for r, c in diff.changed if r["type"] == DEPLOYMENT]
    if diff.has_changes and not diff.impact:
        diff.impact = ["routing and config only: no Deployment changes, no pod restarts"]
    if base.missing:
        diff.notes.append(f"Pulumi.{stack}.yaml does not exist at BASE: the whole stack is new")
    if head.missing:
        diff.notes.append(f"Pulumi.{stack}.yaml is deleted in the working tree: the whole stack goes")
    return diff


# --- planning both trees -----------------------------------------------------------------------


def _git(root: Path, *args: str) -> bytes:
    try:
        return git(root, *args)
    except GitError as err:
        raise DiffError(str(err)) from None


def materialize(root: Path, ref: str, dest: Path) -> str:
    """Extract the project directory as of `ref` into `dest`; returns the commit id."""
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except DiffError:
        raise DiffError(f"BASE {ref!r} is not a commit in the repository at {root}") from None
    # From the top of the repository: `git archive` run in a subdirectory would only look below it.
    top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip())
    prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
    tree = f"{commit}:{prefix}"
    try:
        listing = git(top, "ls-tree", "--name-only", tree)
    except GitError:  # the commit is known: its tree has no such folder
        listing = b""
    if not listing.strip():
        return commit  # no project at BASE yet (an empty commit's archive is a lone header tarfile cannot read)
    archive = _git(top, "archive", "--format=tar", tree)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return commit


def _tree_plan(label: str, data: dict[str, Any]) -> TreePlan:
    if "error" in data:
        raise DiffError(f"{label}: the program refused to plan:\n{data['error']}")
    if "unreadable" in data:
        # `Pulumi.stg.yaml:69:21: problem` as is; only a broken file at BASE says where it is.
        raise DiffError(data["unreadable"] + ("" if label == WORKING_TREE else f" (at {label})"))
    if data.get("missing"):
        return TreePlan({}, {}, {}, missing=True)
    tables = routing_tables(data["manifests"])
    return TreePlan(
        resources={r["urn"]: r for r in data["resources"]},
        traffic={name: traffic.from_routing_rows(rows) for name, rows in tables.items()},
        outputs=data["outputs"],
    )


def plan_trees(trees: dict[str, Path], stack: str) -> list[TreePlan]:
    """Plan each {label: tree} in parallel, one forked child each (`cli.engine.worker`): `components` from the
    tree, the engine from here."""
    with tempfile.TemporaryDirectory(prefix="bluegreen-diff-") as tmp:
        engine = Path(tmp) / "engine"
        engine.mkdir()
        (engine / "cli").symlink_to(Path(__file__).resolve().parents[1])
        jobs = [(label, Path(tmp) / f"{i}.json", Path(tmp) / f"{i}.stderr") for i, label in enumerate(trees)]
        command = [sys.executable, "-P", "-m", "cli.engine.worker", "--stack", stack]  # -P: PYTHONPATH decides
        for (_, out, err), tree in zip(jobs, trees.values(), strict=True):
            command += ["--job", str(tree.resolve()), str(out), str(err)]  # resolved: the child runs inside it
        env = {**os.environ, "PYTHONPATH": str(engine)}
        with (Path(tmp) / "worker.stderr").open("w") as stderr:
            # Its own session: stopping it stops the children planning each tree too.
            worker = subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        return _collect(worker, jobs, Path(tmp) / "worker.stderr")


PLAN_TIMEOUT_SECONDS = 300


def _collect(worker: subprocess.Popen, jobs: list[tuple[str, Path, Path]], worker_err: Path) -> list[TreePlan]:
    """Results in job order; the first side that fails stops the others (its error is the answer)."""
    plans: dict[int, TreePlan] = {}
    deadline = time.monotonic() + PLAN_TIMEOUT_SECONDS
    try:
        while len(plans) < len(jobs):
            if time.monotonic() > deadline:
                raise DiffError(f"planning took longer than {PLAN_TIMEOUT_SECONDS}s: stopped")
            ended = worker.poll() is not None  # before reading: a job without OUT after this is a crash
            for i, (label, out, err) in enumerate(jobs):
                if i in plans:
                    continue
                data = json.loads(out.read_text()) if out.exists() else None
                if (data is None and ended) or (data is not None and "crashed" in data):
                    why = (err.read_text() if err.exists() else "") or worker_err.read_text()
                    raise DiffError(f"{label}: planning crashed:\n{why.strip()[-3000:]}")
                if data is not None:
                    plans[i] = _tree_plan(label, data)
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    return [plans[i] for i in range(len(jobs))]


def diff_stack(stack: str, base_ref: str, root: Path = ROOT, remove_apps: frozenset[str] = frozenset()) -> StackDiff:
    """Plan `stack` at `base_ref` and in the working tree at `root`, and compare. `remove_apps`: the apps this
    change removes on purpose (any other app losing all its traffic makes the diff an error)."""
    with tempfile.TemporaryDirectory(prefix="bluegreen-base-") as tmp:
        commit = materialize(root, base_ref, Path(tmp))
        label = commit[:8] if commit.startswith(base_ref) else f"{base_ref} ({commit[:8]})"
        base, head = plan_trees({f"BASE {label}": Path(tmp), WORKING_TREE: root}, stack)
    if base.missing and head.missing:
        stacks = ", ".join(known_stacks(root)) or "none"
        raise DiffError(f"no stack file Pulumi.{stack}.yaml at BASE {label} nor in the working tree; stacks here: {stacks}")
    result = compare(base, head, stack, label)
    result.removals_on_purpose = remove_apps
    if not head.missing:
        result.policy = (
            _policy_findings(stack, head, root)
            + change_rules.untested_targets(base, head, stack, root)
            + change_rules.autoscaled_while_serving(base, head, stack)
        )
    return result


def _policy_findings(stack: str, head: TreePlan, root: Path) -> list[Finding]:
    registrations = [Registration(**resource) for resource in head.resources.values()]
    try:
        return policy_check.check_project(stack, registrations, root)
    except PackConfigError as err:
        raise DiffError(f"invalid policy pack config for stack {stack}: {err}") from None


# --- rendering ---------------------------------------------------------------------------------


def _value(value: Any) -> str:
    text = value if value is ABSENT else json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _kind(resource: dict[str, Any]) -> str:
    return f"{resource['type'].rsplit(':', 1)[-1]} {resource['name']}"


def _summary(diff: StackDiff) -> str:
    counts = (len(diff.added), len(diff.removed), len(diff.changed), diff.unchanged)
    return "{} to add, {} to delete, {} to change, {} unchanged".format(*counts)


def _violations(count: int, kind: str = "") -> str:
    return f"{count} {kind}{' ' if kind else ''}violation{'' if count == 1 else 's'}"


def _policy_summary(diff: StackDiff) -> str:
    if not diff.policy:
        return "policies: no violations"
    mandatory = len(diff.mandatory)
    return f"policies: {_violations(len(diff.policy))} ({mandatory} mandatory, {len(diff.policy) - mandatory} advisory)"


def _mandatory_sentence(diff: StackDiff) -> str:
    return f"REFUSED: {_violations(len(diff.mandatory), 'mandatory policy')}: `pulumi up` with the policy pack would refuse this"


def removal_sentences(diff: StackDiff) -> list[str]:
    """`REMOVES APP front: blue 100% -> (none): ...`, and how to say it is on purpose (or that it was said)."""
    lines = []
    for app, what in diff.removed_apps.items():
        if app in diff.removals_on_purpose:
            lines.append(f"REMOVES APP {app}: {what} (on purpose: --remove-app {app})")
        else:
            lines.append(
                f"REMOVES APP {app}: {what}. If that is a typo, fix the stack file; to remove {app} on purpose say so: "
                f"make diff STACK={diff.stack} REMOVE_APP={app} (python -m cli diff ... --remove-app {app})"
            )
    return lines


def render_text(diff: StackDiff) -> str:
    lines = [f"plan diff for stack {diff.stack}: BASE {diff.base} -> {WORKING_TREE}", *diff.notes]
    lines += [f"!! {sentence}" for sentence in removal_sentences(diff)]
    lines += [f"!! {_mandatory_sentence(diff)}"] if diff.mandatory else []
    lines += [_policy_summary(diff), *(f"  {policy_check.finding_line(f)}" for f in _by_level(diff.policy))]
    if not diff.has_changes:
        return "\n".join([*lines, f"no changes ({diff.unchanged} resources unchanged)"]) + "\n"
    lines += [f"!! {r.sentence()}" for r in diff.replacements]
    lines += ["traffic:", *(f"  {t}" for t in diff.traffic or ["no routing change"])]
    lines += ["impact:", *(f"  {i}" for i in diff.impact)]
    lines.append(f"resources: {_summary(diff)}")
    lines += [f"  + {_kind(r)}" for r in diff.added]
    lines += [f"  - {_kind(r)}" for r in diff.removed]
    replaced = {id(r.resource) for r in diff.replacements}
    for resource, changes in diff.changed:
        lines.append(f"  {'+-' if id(resource) in replaced else '~'} {_kind(resource)}{' (REPLACE)' if id(resource) in replaced else ''}")
        lines += [f"      {c.path}: {_value(c.before)} -> {_value(c.after)}" for c in changes]
    if diff.outputs:
        lines += ["outputs:", *(f"  ~ {c.path}: {_value(c.before)} -> {_value(c.after)}" for c in diff.outputs)]
    return "\n".join(lines) + "\n"


def _by_level(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.level != MANDATORY, f.policy, f.message))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _policy_markdown(diff: StackDiff) -> list[str]:
    lines = [f"> [!CAUTION]\n> **{_mandatory_sentence(diff)}**", ""] if diff.mandatory else []
    lines += [f"**Policies**: {_policy_summary(diff).removeprefix('policies: ')}", ""]
    if diff.policy:
        lines += ["| level | policy | resource | message |", "|---|---|---|---|"]
        for f in _by_level(diff.policy):
            resource = f"`{policy_check.finding_resource(f)}`" if f.resource else "-"
            level = f"**{f.level}**" if f.level == MANDATORY else f.level
            lines.append(f"| {level} | `{f.policy}` | {resource} | {_cell(f.message)} |")
        lines.append("")
    return lines


def render_markdown(diff: StackDiff) -> str:
    """The MR comment: policy violations and traffic first, then a resource table and the field changes folded."""
    lines = [f"### Plan diff: stack `{diff.stack}`", "", f"BASE `{diff.base}` → this merge request", ""]
    lines += [f"> {note}" for note in diff.notes]
    removals = removal_sentences(diff)
    lines += ["> [!CAUTION]", *(f"> **{sentence}**  " for sentence in removals), ""] if removals else []
    lines += _policy_markdown(diff)
    if not diff.has_changes:
        return "\n".join([*lines, f"**No changes** ({diff.unchanged} resources unchanged)."]) + "\n"
    if diff.replacements:
        lines += ["> [!CAUTION]", *(f"> **{r.sentence()}**  " for r in diff.replacements), ""]
    lines += ["**Traffic**", "", *(f"- `{t}`" for t in diff.traffic or ["no routing change"]), ""]
    lines += ["**Impact**", "", *(f"- {i}" for i in diff.impact), ""]
    lines += [f"**Resources**: {_summary(diff)}", "", "| | resource | type |", "|---|---|---|"]
    replaced = {id(r.resource) for r in diff.replacements}
    rows = [("+", r) for r in diff.added] + [("-", r) for r in diff.removed]
    rows += [("**+-** replace" if id(r) in replaced else "~", r) for r, _ in diff.changed]
    lines += [f"| {sign} | `{r['name']}` | `{r['type']}` |" for sign, r in rows]
    changes = [(f"~ {_kind(r)}", c) for r, c in diff.changed]
    changes += [("~ stack outputs", diff.outputs)] if diff.outputs else []
    if changes:
        count = sum(len(c) for _, c in changes)
        lines += ["", f"<details><summary>Field changes ({count})</summary>", "", "```diff"]
        for title, fields in changes:
            lines.append(title)
            for c in fields:
                sides = (("-", c.before), ("+", c.after))
                lines += [f"{sign}   {c.path}: {_value(v)}" for sign, v in sides if v is not ABSENT]
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"
