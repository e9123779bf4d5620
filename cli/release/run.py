"""The release command's wiring: the real stack (Pulumi Automation API), signals, progress on the terminal,
the summary table, and `--dry-run` (each step's edit and offline plan diff).

The stack comes from cli/engine/automation.py: the program runs in this process as an inline program, so `up`
reads the same Pulumi.<stack>.yaml the runner edits.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from rich.console import Console
from rich.status import Status
from rich.table import Table

from cli.diff import compare as plan_diff
from cli.edits import changes, guarded
from cli.engine.automation import StackUnavailable, select_stack
from cli.release.hook import run_hook
from cli.release.interfaces import UpFailed
from cli.release.notify import Notifier, webhooks
from cli.release.record import COLUMNS, Outcome
from cli.release.runner import Release
from cli.release.steps import ReleasePlan, plan_release, plan_step
from cli.shared import hints
from cli.shared.paths import ROOT
from cli.stackfile.config import load_stack
from cli.stackfile.history import settings_before_flip
from cli.stackfile.read import app_settings, project_name, read_text, stack_path
from components.app.promotion import Weights
from components.app.promotion_gate import check_metrics
from components.app.switch_gate import ReplicasUnreadable, apps_api, live_replicas
from components.config import StackConfig
from components.shared.colors import COLORS, Color

VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"


# --- signals -----------------------------------------------------------------------------------


class SignalStop:
    """SIGINT and SIGTERM set a flag the release checks; the first signal's name decides the exit code."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.name: str | None = None

    @contextmanager
    def installed(self) -> Iterator[SignalStop]:
        """Catch the signals while the release runs; the previous handlers come back after it."""
        previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.name is None:
            self.name = signal.Signals(signum).name
        self.event.set()

    def wait(self, seconds: float) -> str | None:
        return self.name if self.event.wait(seconds) else None


def _pulumi_children() -> list[int]:
    """This process's `pulumi` children (Linux /proc; elsewhere none are found)."""
    pids = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            comm = Path(f"/proc/{pid}/comm")
            if comm.exists() and comm.read_text().strip() == "pulumi":
                pids.append(int(pid))
    return pids


# --- the stack ---------------------------------------------------------------------------------


def live_weights(deployment: Mapping[str, Any], app: str, namespace: str) -> Weights | None:
    """The default-route weights of the app's VirtualService as the last `up` left it in the stack's state."""
    for resource in deployment.get("resources", []):
        outputs = resource.get("outputs") or {}
        meta = outputs.get("metadata") or {}
        if resource.get("type") == VIRTUAL_SERVICE and (meta.get("name"), meta.get("namespace")) == (app, namespace):
            shares = {route["destination"]["subset"]: int(route.get("weight", 100)) for route in outputs["spec"]["http"][-1]["route"]}
            return {color: shares.get(color, 0) for color in COLORS}
    return None


class PulumiTarget:
    """`pulumi up` on an existing stack of the project in `root`, with the program of this checkout."""

    def __init__(
        self,
        root: Path,
        stack_name: str,
        stop: SignalStop,
        policy_packs: list[str],
        policy_pack_configs: list[str],
        cluster: Mapping[str, Any] | None = None,  # kube_client.api_client's access, for live_replicas
    ):
        try:
            self.stack = select_stack(root, stack_name)
        except StackUnavailable as err:
            raise changes.Refused(str(err)) from None
        self.stop, self.policy_packs, self.policy_pack_configs = stop, policy_packs, policy_pack_configs
        self.cancel_sent = False  # once per release: the restore's own up must not be cancelled
        self.cluster = dict(cluster or {})

    def up(self, say: Callable[[str], None]) -> None:
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self.stack.up(
                    on_output=say,
                    color="never",
                    policy_packs=self.policy_packs or None,
                    policy_pack_configs=self.policy_pack_configs or None,
                )
            except BaseException as err:  # handed to the main thread
                failure.append(err)

        worker = threading.Thread(target=run, name="pulumi-up")
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
            # Ctrl-C reaches pulumi with the whole process group; a SIGTERM (CI cancelling the job) only us, so
            # pulumi is asked once to cancel gracefully (a second SIGINT would make it stop mid-operation).
            if self.stop.name == "SIGTERM" and not self.cancel_sent:
                pids = _pulumi_children()  # none yet while the Automation API starts it: asked again next round
                for pid in pids:
                    os.kill(pid, signal.SIGINT)
                self.cancel_sent = bool(pids)
        if failure:
            raise UpFailed(_up_failure(failure[0]))

    def routing(self, app: str, namespace: str) -> Weights | None:
        try:
            state = self.stack.export_stack().deployment or {}
        except auto.CommandError:  # the backend did not answer: the split is shown as unknown
            return None
        return live_weights(state, app, namespace)

    def live_replicas(self, app: str, namespace: str, color: Color) -> int:
        try:
            return live_replicas(apps_api(self.cluster), app, namespace, color)
        except ReplicasUnreadable as err:
            raise UpFailed(f"{app}: cannot count {color}'s live replicas: {err}") from None
        except Exception as err:  # kubeconfig missing or unusable, or the read refused (401, 403)
            raise UpFailed(f"{app}: cannot count {color}'s live replicas: {type(err).__name__}: {err}") from None


def _up_failure(err: BaseException) -> str:
    if not isinstance(err, auto.CommandError):
        return f"pulumi up failed: {type(err).__name__}: {err}"
    killed = re.search(r"^\s*code: -(\d+)$", str(err), flags=re.M)
    if killed:
        return f"pulumi up was ended by {signal.Signals(int(killed.group(1))).name}\n{err}"
    return f"pulumi up failed: {err}"


# --- terminal ----------------------------------------------------------------------------------


class ConsoleProgress:
    """Lines stay; the status is a spinner line rich redraws in a terminal (CI logs get each status once)."""

    def __init__(self, console: Console):
        self.console, self.last = console, ""
        self.spinner: Status | None = None

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def status(self, text: str) -> None:
        if self.console.is_terminal:
            if self.spinner is None:
                self.spinner = self.console.status(text)
                self.spinner.start()
            self.spinner.update(text)
        elif text.split(",")[0] != self.last:  # a log gets one line per phase, not one per second
            self.last = text.split(",")[0]
            self.line(text)

    def close(self) -> None:
        if self.spinner is not None:
            self.spinner.stop()


def summary_table(outcome: Outcome, stack: str) -> Table:
    plan = outcome.plan
    table = Table(title=f"release {plan.app} on {stack}: {plan.released} from {plan.split(0)}")
    for column in COLUMNS:
        table.add_column(column)
    for record in outcome.records:
        table.add_row(*record.row())
    return table


def load_release(root: Path, stack: str, app: str) -> tuple[StackConfig, ReleasePlan]:
    """The stack's config and the release still to walk, checked against the stack file's git history."""
    config = load_stack(root, stack)
    path, project = stack_path(root, stack), project_name(root)
    now = app_settings(read_text(path), path.name, project, app) or {}
    with hints.for_stack(stack):  # a refusal names the stack in the command it suggests
        return config, plan_release(config, app, settings_before_flip(root, stack, project, app, now))


def make_release(
    root: Path,
    stack: str,
    app: str,
    progress: ConsoleProgress,
    stop: SignalStop,
    pulumi_stack: str | None = None,
    policy_packs: list[str] | None = None,
    policy_pack_configs: list[str] | None = None,
    on_change: str | None = None,
) -> Release:
    """The runner for `stack`'s Pulumi.<stack>.yaml and its backend stack; changes.Refused when it cannot start."""
    config, plan = load_release(root, stack, app)
    # GKE mode: the release counts live replicas through the current kubeconfig context (`gcloud container clusters
    # get-credentials`); the program's own access there is the cluster's kubeconfig output.
    access = {} if config.cluster.gke else config.cluster.kubeconfig_access
    target = PulumiTarget(root, pulumi_stack or stack, stop, policy_packs or [], policy_pack_configs or [], access)
    cfg = config.apps[app]
    analysis = cfg.promotion.analysis
    progress.line(
        f"release {app} on {stack}: {plan.released} ({cfg.color(plan.released).image}) from {plan.split(0)}, "
        f"steps {', '.join(s.what for s in plan.steps)}, bake {cfg.promotion.bake}"
        + (f", analysis at {analysis.prometheus_url}" if analysis else ", no analysis (readiness only)")
    )
    stack_file = root / f"Pulumi.{stack}.yaml"
    notifier = Notifier(webhooks(cfg.promotion.notify), progress.line) if cfg.promotion.notify else None
    return Release(
        root,
        stack,
        plan,
        target,
        progress,
        stop,
        check=(
            lambda weights, previous, cohort: check_metrics(
                app, plan.namespace, weights, previous, analysis, say=progress.line, cohort=cohort
            )
        )
        if analysis
        else None,
        on_change=(lambda message: run_hook(on_change, message, stack_file)) if on_change else None,
        notify=notifier,
    )


def release(root: Path, stack: str, app: str, console: Console, **options: Any) -> int:
    """Run the release as `python -m cli release` does; the exit code (0 released, 1 aborted, 130/143 signal).
    changes.Refused or StackFileError when it cannot start."""
    progress = ConsoleProgress(console)
    with SignalStop().installed() as stop:
        runner = make_release(root, stack, app, progress, stop, **options)
        try:
            outcome = runner.run()
        finally:
            if isinstance(runner.session.notify, Notifier):  # what is still queued gets a few seconds, then is dropped
                runner.session.notify.close()
            progress.close()
    console.print(summary_table(outcome, stack))
    console.print(outcome.summary, markup=False, soft_wrap=True)
    return outcome.exit_code


# --- dry run -----------------------------------------------------------------------------------


def _tree(root: Path, stack_file: Path, dest: Path) -> Path:
    """A project tree to plan: this checkout's program, `root`'s project file and one version of the stack file."""
    dest.mkdir()
    for name in ("__main__.py", "components"):
        (dest / name).symlink_to(ROOT / name)
    shutil.copy2(root / "Pulumi.yaml", dest / "Pulumi.yaml")
    shutil.copy2(stack_file, dest / stack_file.name)
    return dest


def dry_run(root: Path, stack: str, app: str, console: Console) -> None:
    """Print each step's edit and its offline plan diff against the step before; nothing written, nothing applied.
    changes.Refused, StackFileError or diff.DiffError when a step cannot be planned."""
    plan = load_release(root, stack, app)[1]
    with tempfile.TemporaryDirectory(prefix="bluegreen-release-") as tmp:
        trees = {"now": _tree(root, root / f"Pulumi.{stack}.yaml", Path(tmp) / "0")}
        planned = []
        for i, step in enumerate(plan.steps, 1):
            previous = trees[list(trees)[-1]]
            tree = _tree(root, previous / f"Pulumi.{stack}.yaml", Path(tmp) / str(i))
            change, _ = guarded.edit(tree, stack, partial(plan_step, plan=plan, step=step))
            trees[f"step {step.label}"] = tree
            planned.append(change)
        plans = plan_diff.plan_trees(trees, stack)
    labels = list(trees)
    console.print(
        f"dry run: release {app} on {stack}, {len(plan.steps)} steps from {plan.split(0)}; nothing is written or applied", markup=False
    )
    for i, (step, change) in enumerate(zip(plan.steps, planned, strict=False), 1):
        console.rule(f"step {step.label}: {plan.released} {step.what}" + (" (flip)" if step.flip else ""))
        for key, value in change.edits.items():
            console.print(f"Pulumi.{stack}.yaml: {key} = {value}", markup=False)
        body = plan_diff.render_text(plan_diff.compare(plans[i - 1], plans[i], stack, labels[i - 1]))
        console.print(body.split("\n", 1)[1], markup=False, end="")  # the header names BASE/working tree: not steps
