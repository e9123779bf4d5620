"""Drives the real Pulumi CLI, providers and a live cluster for the e2e tier (`make e2e`).

The CLI runs the program through the Python SDK's own language runtime (Automation API, inline
program: `pulumi ... --client`), because the `pulumi-language-python` host is not published as a Go
module and so cannot be built here; everything else (engine, state backend, providers, policy-pack
host) is the real thing.
"""

from __future__ import annotations

import copy
import json
import runpy
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from tests.conftest import ROOT

ENV_FILE = ROOT / "build" / "e2e" / "env.sh"


def e2e_environment() -> dict[str, str]:
    """The environment `. build/e2e/env.sh` gives a shell; fails (never skips) when the cluster is not up."""
    if not ENV_FILE.exists():
        pytest.fail(f"{ENV_FILE.relative_to(ROOT)} not found: run `make e2e-env` first", pytrace=False)
    dumped = subprocess.run(["bash", "-c", f'. "{ENV_FILE}" && env -0'], capture_output=True, check=True).stdout
    env = dict(entry.split("=", 1) for entry in dumped.decode().split("\0") if "=" in entry)
    # The dynamic-provider and policy shims run Python from here when no virtualenv is named, and the
    # switch gate's provider process imports `components` from the project.
    env["PULUMI_PYTHON_CMD"] = sys.executable
    env["PYTHONPATH"] = str(ROOT)
    return env


def one_app_stack_file(path: Path, app: str, namespace: str, **settings: Any) -> None:
    """Pulumi.local.yaml's cluster and mesh with its front app alone, as `app` in its own `namespace` behind its own
    Gateway (nothing shared with the other e2e stacks), `settings` replacing or (None) removing the app's keys."""
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    config = document["config"]
    host = f"{app}.{namespace}.example.com"
    chosen = copy.deepcopy(config["bluegreen-platform:apps"]["front"])
    chosen.update(namespace=namespace, hosts=[host], **settings)
    config["bluegreen-platform:gateway"] = {"name": f"{namespace}-gateway", "namespace": namespace, "hosts": [host]}
    config["bluegreen-platform:apps"] = {app: {key: value for key, value in chosen.items() if value is not None}}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def run_project_program() -> None:
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def workspace(work_dir: Path, env: dict[str, str]) -> auto.LocalWorkspace:
    """The project's program in `work_dir` (its Pulumi.yaml and stack files), run by the pinned `pulumi`."""
    pulumi_root = str(Path(shutil.which("pulumi", path=env["PATH"]) or "pulumi").parent.parent)
    return auto.LocalWorkspace(
        work_dir=str(work_dir), program=run_project_program, env_vars=env, pulumi_command=auto.PulumiCommand(root=pulumi_root)
    )


@dataclass
class Steps:
    """What the engine reported per resource, from the real event stream: op counts and ops by type.

    Components (`bluegreen:*`) and provider resources are left out, as in the engine's change summary:
    the event stream shows components whose registered outputs change, and the dynamic provider's
    default provider, as updates."""

    ops: Counter = field(default_factory=Counter)
    by_type: dict[str, Counter] = field(default_factory=dict)

    def record(self, event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is None or pre.metadata.type == "pulumi:pulumi:Stack" or pre.metadata.type.startswith(("bluegreen:", "pulumi:providers:")):
            return
        op = pre.metadata.op.value
        self.ops[op] += 1
        self.by_type.setdefault(pre.metadata.type, Counter())[op] += 1


class LocalStack:
    """A stack of this project in a scratch work dir (its own Pulumi.<stack>.yaml), on the e2e cluster."""

    def __init__(self, work_dir: Path, name: str, env: dict[str, str], stack_file: Path):
        self.work_dir, self.name, self.env = work_dir, name, env
        work_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "Pulumi.yaml", work_dir / "Pulumi.yaml")
        shutil.copy2(stack_file, work_dir / f"Pulumi.{name}.yaml")
        # A stack left by an interrupted earlier run is destroyed first: every run starts from an empty cluster.
        leftover = "already exists" in self.cli("stack", "init", name, check=False).stderr
        self.stack = auto.Stack.select(name, workspace(work_dir, env))
        if leftover:
            self.stack.destroy()

    @property
    def stack_file(self) -> Path:
        return self.work_dir / f"Pulumi.{self.name}.yaml"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The real `pulumi` binary, as a user types it."""
        result = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=self.work_dir, env=self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            pytest.fail(f"pulumi {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    def set_path(self, path: str, value: str) -> None:
        self.cli("config", "set", "--path", f"bluegreen-platform:{path}", value, "--stack", self.name)

    def preview(self, **kwargs: Any) -> tuple[auto.PreviewResult, Steps]:
        steps = Steps()
        return self.stack.preview(on_event=steps.record, **kwargs), steps

    def up(self, **kwargs: Any) -> tuple[auto.UpResult, Steps]:
        steps = Steps()
        return self.stack.up(on_event=steps.record, **kwargs), steps


def own_stack(env: dict[str, str], tmp_path_factory: Any, name: str, write_stack_file: Callable[[Path], None]) -> Iterator[LocalStack]:
    """A module's own stack `name` on the e2e cluster, in a scratch copy of the program (the release runner's guarded
    edits plan the edited file with it), its stack file written by `write_stack_file`; destroyed and removed after."""
    from tests.stackfiles import copy_program

    subprocess.run(["kubectl", "create", "namespace", "istio-system"], env=env, capture_output=True, check=False)  # istio.mode existing
    work_dir = tmp_path_factory.mktemp("project")
    copy_program(work_dir)
    stack_file = tmp_path_factory.mktemp("stackfile") / f"Pulumi.{name}.yaml"
    write_stack_file(stack_file)
    stack = LocalStack(work_dir, name, env, stack_file)
    yield stack
    stack.stack.destroy()
    stack.cli("stack", "rm", "--yes", name, check=False)


def kubectl_json(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(["kubectl", *args, "-o", "json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def live_weights(env: dict[str, str], namespace: str, app: str) -> dict[str, int]:
    """The default (last) route of the live VirtualService: color -> weight."""
    vs = kubectl_json(env, "get", "virtualservices.networking.istio.io", app, "-n", namespace)
    default = vs["spec"]["http"][-1]["route"]
    return {r["destination"]["subset"]: r.get("weight", 100) for r in default if r.get("weight", 100)}


def last_applied(env: dict[str, str], kind: str, name: str, namespace: str) -> datetime:
    """When Pulumi last wrote the object's spec (its field manager's time; status writes left out)."""
    fields = kubectl_json(env, "get", kind, name, "-n", namespace, "--show-managed-fields")["metadata"]["managedFields"]
    times = [f["time"] for f in fields if f["manager"].startswith("pulumi") and not f.get("subresource")]
    return max(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times)


def is_subset(planned: Any, live: Any, path: str = "") -> list[str]:
    """Where `planned` is not contained in `live` (fields the server adds are fine)."""
    if isinstance(planned, dict):
        if not isinstance(live, dict):
            return [f"{path}: planned a map, live has {live!r}"]
        return [d for key, value in planned.items() for d in is_subset(value, live.get(key), f"{path}.{key}")]
    if isinstance(planned, list):
        if not isinstance(live, list) or len(live) != len(planned):
            return [f"{path}: planned {planned!r}, live {live!r}"]
        return [
            d
            for i, (planned_item, live_item) in enumerate(zip(planned, live, strict=False))
            for d in is_subset(planned_item, live_item, f"{path}[{i}]")
        ]
    return [] if planned == live or str(planned) == str(live) else [f"{path}: planned {planned!r}, live {live!r}"]
