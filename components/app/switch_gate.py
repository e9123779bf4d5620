"""The switch gate: one per app, a Pulumi dynamic resource that every routing change goes through.

The app's VirtualService depends on it, and its inputs carry the new production weights, so every
flip or canary change is an update of the gate, whether or not a Deployment changed in the same run
(pulumi-kubernetes awaits a Deployment only when it creates or updates it). During `pulumi up` only
(the dynamic provider's create/update; at preview only `diff` runs) it checks, in this order:

1. readiness, always: each color that will get production traffic has a Deployment whose latest
   spec is observed (`status.observedGeneration >= metadata.generation`) with at least the
   configured replicas available, polled every 2 s for up to `apps.<name>.readinessTimeout`;
   With `autoscaling`, the replicas are each color's HPA floor, and a color gaining share must also carry
   its share of the load: at least that share of the active color's live `spec.replicas` (what its HPA
   runs now), rounded up. A color short of that whose floor is lower too is refused at once: its HPA
   cannot scale for traffic it does not get yet (`make release` raises the floor for the step);
2. metrics, with `promotion.analysis`: the colors gaining share against Prometheus (promotion_gate.py),
   compared with the weights the gate passed last time (its state: the provider's olds).

Any refusal raises, so `pulumi up` fails before the VirtualService changes: routing stays as it was.

The provider process (`python -m pulumi.dynamic`, the program's Python from the project directory)
unpickles `SwitchGateProvider` by reference to this module, so the instance holds no state at all:
no closures, no clients. Cluster access comes in the `cluster` input and is never returned in outs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from ..shared import naming
from ..shared.colors import COLORS, Color
from ..shared.fields import whole_numbers
from ..shared.kube_client import api_client
from . import promotion
from .applied import images
from .autoscaling import share_needs
from .config import AppConfig, PromotionAnalysis, duration_seconds
from .promotion_gate import Waiting, check_metrics, to_stderr
from .routing import RoutingModel

POLL_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 10
# A change of any of these is an update that runs the gate again; nothing is ever replaced.
GATED_KEYS = ("namespace", "weights", "replicas", "readinessTimeoutSeconds", "analysis", "cohorts", "followLoad")
# Inputs kept out of the outputs (state): how to reach the cluster.
PRIVATE_KEYS = ("cluster", "__provider")


class SwitchRefused(Exception):
    """A color that would get traffic is not ready (or not readable); the message names app, color and counts."""


# --- inputs -----------------------------------------------------------------------------------------


def switch_gate_props(
    app: str, cfg: AppConfig, model: RoutingModel, cluster: Mapping[str, Any], previous: pulumi.Input[Mapping[str, Any] | None] = None
) -> dict[str, Any]:
    """The gate's inputs for this routing: camelCase, plain values (the analysis as its config dict), and `previous`,
    what the app served after the last successful `pulumi up` (applied.py; None: nothing known)."""
    weights = promotion.default_weights(model)
    analysis = cfg.promotion.analysis
    cohort = promotion.cohort_color(model)  # A/B cohort users are production traffic too
    props = {
        "app": app,
        "namespace": cfg.namespace,
        "weights": weights,
        "replicas": {color: cfg.replica_floor(color) for color in COLORS if weights[color] > 0 or color == cohort},
        "readinessTimeoutSeconds": duration_seconds(cfg.readiness_timeout),
        "analysis": analysis_props(analysis) if analysis else None,
        "cluster": dict(cluster),
        # For the policy pack (flip-after-preview), not gated keys: the images this run gives each color, and what
        # the app served before, as the pack sees only these inputs. `previous` is None when nothing is known.
        "images": images(cfg),
        "previous": previous,
    }
    if cfg.autoscaling is not None:  # only when autoscaled: other stacks keep their inputs
        props["followLoad"] = True
    if cfg.promotion.post_flip:  # for the policy pack (post-flip-bake-covers-window); not a gated key: never re-runs the gate
        props["postFlipBakeSeconds"] = duration_seconds(cfg.promotion.post_flip.bake)
    return {**props, "cohorts": cohort} if cohort else props  # only with cohorts: other stacks keep their inputs


def analysis_props(analysis: PromotionAnalysis) -> dict[str, Any]:
    """The analysis as a gate input: its config dict; `checks` only when there are some (and without unset bounds),
    so stacks without custom checks keep the inputs they had."""
    props = analysis.model_dump(by_alias=True, exclude={"checks"})
    if analysis.checks:
        props["checks"] = [check.model_dump(by_alias=True, exclude_none=True) for check in analysis.checks]
    return props


@dataclass(frozen=True)
class GateInputs:
    app: str
    namespace: str
    weights: promotion.Weights
    replicas: dict[Color, int]
    timeout_seconds: int
    analysis: PromotionAnalysis | None
    cohort: Color | None = None  # where the A/B cohorts go
    follow_load: bool = False  # autoscaled: a color gaining share needs its share of the active's live replicas

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> GateInputs:
        analysis = props.get("analysis")
        replicas = whole_numbers(dict(props.get("replicas") or {}))
        unknown = sorted(set(replicas) - set(COLORS))
        if unknown:
            raise ValueError(f"replicas must name blue and/or green, got {unknown}")
        return cls(
            app=props["app"],
            namespace=props["namespace"],
            weights=promotion.as_weights(props["weights"]),
            replicas=replicas,
            timeout_seconds=int(props["readinessTimeoutSeconds"]),
            analysis=PromotionAnalysis.model_validate(whole_numbers(analysis)) if analysis else None,
            cohort=_cohort(props.get("cohorts")),
            follow_load=bool(props.get("followLoad")),
        )


def _cohort(value: Any) -> Color | None:
    if value is not None and value not in COLORS:
        raise ValueError(f"cohorts must name blue or green, got {value!r}")
    return value


# --- readiness ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColorState:
    """One color's Deployment as the API server reports it, against the replicas it must have available."""

    color: Color
    deployment: str  # namespace/name
    required: int
    exists: bool = True
    spec_replicas: int = 0
    available: int = 0
    generation: int = 0
    observed_generation: int = 0
    error: str | None = None  # the read failed in a way worth retrying (5xx, connection)

    @property
    def ready(self) -> bool:
        return self.exists and self.error is None and self.observed_generation >= self.generation and self.available >= self.required

    @property
    def problem(self) -> str:
        if not self.exists:
            return f"Deployment {self.deployment} of {self.color} does not exist"
        if self.error is not None:
            return f"cannot read Deployment {self.deployment} of {self.color}: {self.error}"
        counts = f"{self.color} has {self.available} of {self.required} replicas available"
        if self.observed_generation < self.generation:
            return f"{counts}, but its latest spec is not observed yet (observedGeneration {self.observed_generation} < generation {self.generation})"
        return f"{counts} (spec.replicas {self.spec_replicas})"


def read_color(apps: Any, app: str, namespace: str, color: Color, required: int) -> ColorState:
    """Read `<app>-<color>` with an AppsV1Api; a 404 is a missing Deployment, other client errors refuse at once."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    name = naming.deployment_name(app, color)
    where = f"{namespace}/{name}"
    try:
        deployment = apps.read_namespaced_deployment(name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS)
    except ApiException as err:
        if err.status == 404:
            return ColorState(color, where, required, exists=False)
        if err.status and 400 <= err.status < 500 and err.status != 429:  # 401, 403...: retrying will not help
            raise SwitchRefused(f"{app}: routing not changed: cannot read Deployment {where}: {err.status} {err.reason}") from None
        return ColorState(color, where, required, error=f"{err.status} {err.reason}")
    except (HTTPError, OSError) as err:
        return ColorState(color, where, required, error=f"{type(err).__name__}: {err}")
    status = deployment.status
    spec_replicas = deployment.spec.replicas
    return ColorState(
        color,
        where,
        required,
        spec_replicas=1 if spec_replicas is None else spec_replicas,  # the API server's default
        available=(status and status.available_replicas) or 0,
        generation=deployment.metadata.generation or 0,
        observed_generation=(status and status.observed_generation) or 0,
    )


class ReplicasUnreadable(Exception):
    """A color's live replica count is unknown: its Deployment is missing or could not be read (the message says which)."""


def live_replicas(apps: Any, app: str, namespace: str, color: Color) -> int:
    """`<app>-<color>`'s spec.replicas now (what its HPA runs); ReplicasUnreadable when it cannot be told."""
    state = read_color(apps, app, namespace, color, 0)
    if not state.exists or state.error is not None:
        raise ReplicasUnreadable(state.problem)
    return state.spec_replicas


def wait_until_ready(
    apps: Any,
    app: str,
    namespace: str,
    replicas: Mapping[Color, int],
    timeout_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = to_stderr,
    interval: float = POLL_SECONDS,
) -> list[ColorState]:
    """Poll until every color in `replicas` is ready; raise SwitchRefused when one is missing or the time is up."""
    deadline = clock() + timeout_seconds
    waiting = False
    while True:
        states = [read_color(apps, app, namespace, color, required) for color, required in sorted(replicas.items())]
        missing = [s for s in states if not s.exists]
        if missing:
            raise SwitchRefused(f"{app}: routing not changed: {'; '.join(s.problem for s in missing)}")
        pending = [s for s in states if not s.ready]
        if not pending:
            for s in states:
                say(f"{app}: {s.color} ready: {s.available} of {s.required} replicas available")
            return states
        remaining = deadline - clock()
        if remaining <= 0:
            raise SwitchRefused(_timed_out(app, pending, timeout_seconds))
        if not waiting:
            say(f"{app}: waiting up to {timeout_seconds:g}s: {'; '.join(s.problem for s in pending)}")
            waiting = True
        sleep(min(interval, remaining))


def _timed_out(app: str, pending: list[ColorState], timeout_seconds: float) -> str:
    lines = [f"{app}: routing not changed: {'; '.join(s.problem for s in pending)} after {timeout_seconds:g}s"]
    for s in pending:
        if s.exists and s.error is None and s.spec_replicas < s.required:
            lines.append(
                f"{s.color}'s spec.replicas is {s.spec_replicas}, configured {s.required}: it was scaled outside Pulumi; "
                "`pulumi up --refresh` restores the configured replicas"
            )
    return "\n".join(lines)


def active_before(weights: promotion.Weights, previous: promotion.Weights) -> Color:
    """The color that carried the most of the default route before this change (on a tie, the one losing share)."""
    return max(COLORS, key=lambda color: (previous[color], previous[color] - weights[color]))


def load_requirements(apps: Any, gate: GateInputs, previous: promotion.Weights | None) -> dict[Color, int]:
    """gate.replicas (the HPA floors), raised for each color gaining share to its share of the load the active
    color carries on its live replicas; SwitchRefused when such a color runs fewer and its floor is lower too."""
    required = dict(gate.replicas)
    if not gate.follow_load or previous is None:
        return required
    active = active_before(gate.weights, previous)
    gaining = [color for color in COLORS if color != active and gate.weights[color] > previous[color]]
    if not gaining:
        return required
    try:
        carried = live_replicas(apps, gate.app, gate.namespace, active)
    except ReplicasUnreadable as err:
        raise SwitchRefused(f"{gate.app}: routing not changed: cannot count the load {active} carries: {err}") from None
    for color in gaining:
        share, floor = gate.weights[color], gate.replicas.get(color, 0)
        need = share_needs(share, carried)
        if need <= floor:
            continue
        state = read_color(apps, gate.app, gate.namespace, color, need)
        if state.exists and state.error is None and state.spec_replicas < need:
            raise SwitchRefused(
                f"{gate.app}: routing not changed: {color} would take {share}% of the load {active} carries on "
                f"{carried} live replicas, which needs {need} replicas ({share}% of {carried}, rounded up), "
                f"but {color} runs {state.spec_replicas} and its HPA floor is {floor}: its HPA cannot scale for traffic it "
                f"does not get yet; raise apps.{gate.app}.autoscaling.floors.{color} to {need} for this step (`make release` does)"
            )
        required[color] = need
    return required


def apps_api(cluster: Mapping[str, Any]) -> Any:
    """An AppsV1Api for `cluster` (see kube_client.api_client)."""
    from kubernetes import client

    return client.AppsV1Api(api_client(cluster))


# --- the dynamic provider and resource ----------------------------------------------------------------


class SwitchGateProvider(ResourceProvider):
    """Create and update run the gate; diff decides when (any routing change); delete has nothing to undo.

    `apps_api`, `clock`, `sleep` and `evaluation_time` are methods so tests can subclass the provider; an
    instance has no attributes, so what is pickled into the state is just a reference to this class.
    """

    # Nothing secret is captured (the instance is empty): keep the state's __provider readable.
    serialize_as_secret_always = False

    def apps_api(self, cluster: Mapping[str, Any]) -> Any:
        return apps_api(cluster)

    def clock(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def evaluation_time(self) -> float | None:
        """The instant (unix seconds) Prometheus evaluates the gate's queries at; None: its own now."""
        return None

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in GATED_KEYS if whole_numbers(olds.get(key)) != whole_numbers(news.get(key))]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._run(props, previous=None)
        return CreateResult(f"{props['namespace']}/{props['app']}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        previous = promotion.as_weights(olds["weights"]) if olds.get("weights") else None
        return UpdateResult(self._run(news, previous, _cohort(olds.get("cohorts"))))

    def _run(self, props: Mapping[str, Any], previous: promotion.Weights | None, previous_cohort: Color | None = None) -> dict[str, Any]:
        gate = GateInputs.of(props)
        to_stderr(
            f"{gate.app}: switch gate: routing {promotion.format_weights(gate.weights)}, "
            f"previous {promotion.format_weights(previous) if previous else 'none'}"
        )
        try:
            apps = self.apps_api(props.get("cluster") or {})
        except Exception as err:  # kubeconfig missing or unusable: say so, naming the app
            raise SwitchRefused(f"{gate.app}: routing not changed: cannot reach the cluster: {type(err).__name__}: {err}") from None
        required = load_requirements(apps, gate, previous)
        wait_until_ready(apps, gate.app, gate.namespace, required, gate.timeout_seconds, clock=self.clock, sleep=self.sleep)
        if gate.analysis is not None:
            waiting = Waiting(self.sleep, self.clock)
            check_metrics(
                gate.app,
                gate.namespace,
                gate.weights,
                previous,
                gate.analysis,
                waiting=waiting,
                cohort=gate.cohort,
                previous_cohort=previous_cohort,
                at=self.evaluation_time(),
            )
        return {key: value for key, value in props.items() if key not in PRIVATE_KEYS}


class SwitchGate(Resource, name="SwitchGate"):
    """`pulumi-python:dynamic:SwitchGate`: see the module docstring."""

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(SwitchGateProvider(), name, dict(props), opts)
