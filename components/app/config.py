"""Typed config of one BlueGreenApp: `apps.<name>` in `Pulumi.<stack>.yaml`."""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic.alias_generators import to_camel

from ..shared.colors import COLORS, Color, other_color
from ..shared.fields import (
    Boolean,
    Cidr,
    DnsLabel,
    HeaderName,
    Hostname,
    HttpPath,
    ImageRef,
    KeyedProblems,
    Model,
    Number,
    PathPrefix,
    Port,
    Quantity,
    Replicas,
    WholeNumber,
    at_least,
    between,
    matches,
)
from .analysis_checks import Checks
from .cohorts import Cohorts, cohort_problems
from .notify_config import Notify


class ColorSpec(Model):
    """One color's Deployment. Without an image the color is not deployed at all."""

    image: ImageRef | None = None
    replicas: Replicas = 2

    @property
    def serving(self) -> bool:
        """Can this color take traffic: it has an image and at least one replica."""
        return self.image is not None and self.replicas >= 1


# HPA replica bounds (the same cap as a color's replicas; an HPA floor is at least 1: no scale to zero).
HpaReplicas = Annotated[WholeNumber, between(1, 1000)]


class Autoscaling(Model):
    """One autoscaling/v2 HorizontalPodAutoscaler per deployed color (components/app/autoscaling.py): the HPA,
    not Pulumi, owns the Deployment's spec.replicas. A color with `replicas: 0` is scaled down and has no HPA."""

    min_replicas: HpaReplicas = 2
    max_replicas: HpaReplicas
    target_cpu_utilization: Annotated[WholeNumber, between(1, 100), Field(alias="targetCPUUtilization")] = 80
    # Per color, a higher floor than minReplicas while that color takes a share: written by `make release`
    # for a step and removed after the flip (cli/release/), like previousColor is by `make flip`.
    floors: dict[Color, HpaReplicas] = {}

    def floor(self, color: Color) -> int:
        """The HPA's minReplicas for `color`: minReplicas, or the color's raised floor."""
        return max(self.min_replicas, self.floors.get(color, 0))

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        problems = []
        if self.min_replicas > self.max_replicas:
            problems.append(("maxReplicas", f"must be at least minReplicas ({self.min_replicas}), got {self.max_replicas}"))
        for color, floor in sorted(self.floors.items()):
            if floor > self.max_replicas:
                problems.append(
                    (f"floors.{color}", f"must be at most maxReplicas ({self.max_replicas}): the HPA could never run {floor}, got {floor}")
                )
        if problems:
            raise KeyedProblems(problems)
        return self


class ResourceList(Model):
    cpu: Quantity
    memory: Quantity


class Resources(Model):
    requests: ResourceList = ResourceList(cpu="100m", memory="128Mi")
    limits: ResourceList = ResourceList(cpu="500m", memory="256Mi")


class HeaderMatch(Model):
    name: HeaderName = "x-preview"
    value: Annotated[str, Field(min_length=1)] = "true"


class Preview(Model):
    """How testers reach the idle color: a dedicated host (browser apps), a path prefix (rewritten to `/`)
    or a header (APIs). Closed by default: without `allowedSourceRanges` no preview route is rendered."""

    enabled: Boolean = True
    # Served by the Gateway (must be covered by gateway.hosts): every request on it goes to the idle color.
    host: Hostname | None = None
    path_prefix: PathPrefix = "/preview"
    header: HeaderMatch = HeaderMatch()
    # Gateway-side gate: preview requests from other client addresses are denied. No default: a range
    # such as 10.0.0.0/8 would admit every pod and node.
    allowed_source_ranges: Annotated[list[Cidr], Field(min_length=1)] | None = None

    @property
    def active(self) -> bool:
        """Preview is on only when enabled and gated by explicit source ranges."""
        return self.enabled and self.allowed_source_ranges is not None

    @model_validator(mode="after")
    def _gated(self) -> Preview:
        # Any preview key set (enabled: true included) asks for preview: it must not be silently off.
        configured = sorted(to_camel(k) for k in self.model_fields_set & {"enabled", "host", "path_prefix", "header"})
        if self.enabled and configured and self.allowed_source_ranges is None:
            raise KeyedProblems(
                [
                    (
                        "allowedSourceRanges",
                        f"is required when {', '.join(configured)} {'is' if len(configured) == 1 else 'are'} set: the preview "
                        "gate has no default ranges (set enabled: false to turn preview off)",
                    )
                ]
            )
        return self


SidecarMode = Literal["native", "classic"]


class Drain(Model):
    """How a stopping pod leaves without dropping requests (see docs/zero-downtime.md).

    `native` (Istio 1.27+ on Kubernetes 1.33+ nodes): the sidecar is a native sidecar; it drains in its own
    preStop and exits after the app has exited. `classic`: the sidecar gets SIGTERM when the pod starts
    terminating, together with the app's preStop, and stops after `proxyDrainSeconds`.
    """

    sidecar_mode: SidecarMode = "native"
    # The app keeps serving while its endpoint's removal reaches every Envoy (config lag).
    pre_stop_seconds: Annotated[WholeNumber, between(1, 120)] = 10
    # After SIGTERM (preStop done), the longest the app takes to finish in-flight requests and exit.
    app_shutdown_seconds: Annotated[WholeNumber, between(0, 300)] = 20
    # classic only: the sidecar serves this long after the pod starts terminating (Istio terminationDrainDuration);
    # default preStopSeconds + appShutdownSeconds.
    proxy_drain_seconds: Annotated[WholeNumber, between(1, 600)] | None = None
    termination_grace_period_seconds: Annotated[WholeNumber, between(1, 3600)] = 45
    # After the VirtualService update took a color's last route away, wait this long before that color's
    # Deployment changes (components/scale_down_delay.py).
    scale_down_delay_seconds: Annotated[WholeNumber, between(0, 3600)] = 30

    @property
    def app_stopped_seconds(self) -> int:
        """Seconds from the pod starting to terminate until the app has stopped serving, at the latest."""
        return self.pre_stop_seconds + self.app_shutdown_seconds

    @property
    def classic_proxy_seconds(self) -> int:
        """How long a classic sidecar serves after the pod starts terminating: proxyDrainSeconds, by default
        preStopSeconds + appShutdownSeconds."""
        return self.proxy_drain_seconds if self.proxy_drain_seconds is not None else self.app_stopped_seconds

    @property
    def proxy_seconds(self) -> int | None:
        """classic: Istio's terminationDrainDuration; native: None (the proxy exits after the app)."""
        if self.sidecar_mode == "native":
            return None
        return self.classic_proxy_seconds

    @model_validator(mode="after")
    def _grace_covers_drain(self) -> Drain:
        problems = []
        app_stopped = f"preStopSeconds + appShutdownSeconds ({self.app_stopped_seconds})"
        if self.sidecar_mode == "native":
            if self.proxy_drain_seconds is not None:
                problems.append(
                    (
                        "proxyDrainSeconds",
                        "applies only when sidecarMode is classic: a native sidecar drains in its own preStop and exits after the app",
                    )
                )
            if self.termination_grace_period_seconds <= self.app_stopped_seconds:
                problems.append(
                    (
                        "terminationGracePeriodSeconds",
                        f"must be greater than {app_stopped}, leaving the native sidecar time to exit, got {self.termination_grace_period_seconds}",
                    )
                )
        else:
            proxy = self.classic_proxy_seconds
            if proxy < self.app_stopped_seconds:
                problems.append(
                    (
                        "proxyDrainSeconds",
                        f"must be at least {app_stopped}: the classic sidecar stops that long after the pod starts "
                        f"terminating and must outlive the app, got {proxy}",
                    )
                )
            if self.termination_grace_period_seconds <= max(proxy, self.app_stopped_seconds):
                problems.append(
                    (
                        "terminationGracePeriodSeconds",
                        f"must be greater than proxyDrainSeconds ({proxy}) and {app_stopped}, got {self.termination_grace_period_seconds}",
                    )
                )
        if problems:
            raise KeyedProblems(problems)
        return self


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"must be a fraction greater than 0 and at most 1 such as 0.99, got {value}")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value}")
    return value


PromDuration = Annotated[str, matches(re.compile(r"^[1-9][0-9]*[smh]$"), "a Prometheus duration such as 30s, 5m or 1h")]
HttpUrl = Annotated[str, matches(re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$"), "an http(s) URL such as http://prometheus:9090")]


class PromotionAnalysis(Model):
    """Gate on live Istio metrics before a color gains traffic (see components/promotion.py)."""

    # Must be reachable from where `pulumi up` runs (port-forward in CI, or an internal load balancer).
    prometheus_url: HttpUrl
    window: PromDuration = "5m"
    min_success_rate: Annotated[Number, AfterValidator(_fraction)] = 0.99
    max_p99_ms: Annotated[Number, AfterValidator(_positive)] = 500
    # Fewer requests than this in the window prove nothing: the gate fails.
    min_requests: Annotated[WholeNumber, at_least(1)] = 100
    on_unreachable: Literal["fail", "skip"] = "fail"
    # The team's own PromQL checks, beside the built-in three (components/app/analysis_checks.py).
    checks: Checks


COHORT_STEP = "cohort"  # a release step: the A/B cohorts go to the idle color (components/app/cohorts.py)


def _step_plan(plan: list[int | str]) -> list[int | str]:
    if COHORT_STEP in plan[1:]:
        raise ValueError(f"may start with {COHORT_STEP} (the A/B cohorts first), nowhere else, got {plan}")
    weights = [step for step in plan if isinstance(step, int)]
    _weight_steps(weights)
    return plan


def _weight_steps(steps: list[int]) -> list[int]:
    if not steps:
        raise ValueError("must list at least one step, ending at 100 (the flip), e.g. [10, 25, 50, 100]")
    outside = [step for step in steps if not 1 <= step <= 100]
    if outside:
        raise ValueError(f"must be the idle color's weights between 1 and 100, got {outside[0]} in {steps}")
    if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
        raise ValueError(f"must be strictly increasing, got {steps}")
    if steps[-1] != 100:
        raise ValueError(f"must end at 100 (the flip), got {steps}")
    return steps


def _bake(value: str) -> str:
    if not 1 <= duration_seconds(value) <= 86400:
        raise ValueError(f"must be between 1s and 24h, got {value}")
    return value


# `make release` walks the idle color through these weights; 100 is the flip (cli/release/).
def _step(value: object) -> object:
    if isinstance(value, bool):  # pydantic would read `true` as 1: a mistake, not 1%
        raise ValueError(f"must be a whole number, got {str(value).lower()}")
    if isinstance(value, str) and value.isdecimal():  # what `pulumi config set --path ...steps[0] 25` may write
        return int(value)
    if value == COHORT_STEP or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"must be a whole percentage such as 10, or {COHORT_STEP} (first), got {value!r}")


Step = Annotated[int | str, BeforeValidator(_step)]
StepPlan = Annotated[list[Step], AfterValidator(_step_plan)]
# How long `make release` holds each step below 100, re-checking the analysis meanwhile.
Bake = Annotated[str, matches(re.compile(r"^[1-9][0-9]*[smh]$"), "a duration such as 30s, 5m or 1h"), AfterValidator(_bake)]


class PostFlip(Model):
    """`make release` keeps watching after the flip: the analysis is re-checked through `bake`; on failure it flips back."""

    bake: Bake


class Promotion(Model):
    analysis: PromotionAnalysis | None = None
    steps: StepPlan | None = None
    bake: Bake = "5m"
    # Webhooks `make release` tells about its progress (cli/release/notify.py); never a gate.
    notify: list[Notify] = []
    post_flip: PostFlip | None = None

    @model_validator(mode="after")
    def _post_flip_watches_metrics(self) -> Promotion:
        if self.post_flip is not None and self.analysis is None:
            raise KeyedProblems([("postFlip", "needs promotion.analysis: without metrics there is nothing to watch after the flip")])
        return self


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def duration_seconds(duration: str) -> int:
    """Seconds of a duration such as 30s, 5m or 1h (already validated)."""
    return int(duration[:-1]) * _DURATION_UNITS[duration[-1]]


def _readiness_timeout(value: str) -> str:
    if not 10 <= duration_seconds(value) <= 1800:
        raise ValueError(f"must be between 10s and 30m, got {value}")
    return value


# How long the switch gate waits for the colors that get traffic to be Available (components/switch_gate.py).
ReadinessTimeout = Annotated[
    str, matches(re.compile(r"^[1-9][0-9]*[smh]$"), "a duration such as 30s, 5m or 1h"), AfterValidator(_readiness_timeout)
]


def _mirror_percent(value: float) -> float:
    if not 0 < value <= 100:
        raise ValueError(f"must be greater than 0 and at most 100, such as 10 or 0.5, got {value:g}")
    # Istio hands Envoy the share in millionths: finer steps than 0.0001% would be silently rounded.
    if round(value, 4) != value:
        raise ValueError(f"must have at most 4 decimal places (Istio mirrors in steps of 0.0001%), got {value}")
    return int(value) if value.is_integer() else value


class Mirror(Model):
    """Shadow testing: Istio copies `percent` of the default route's requests to the idle color and discards
    its answers. A number, not an integer like canaryWeight: Istio's mirrorPercentage is a double, and on a
    busy service even 1% can be more copies than the idle color should take (0.5 or 0.1 then)."""

    percent: Annotated[Number, AfterValidator(_mirror_percent)]


def canary_weight_problem(weight: int) -> str | None:
    """Why `weight` is not a canary share, or None: a canary sends 1-99% to the idle color (0 = no canary);
    100% is a flip, which must say so (activeColor and previousColor), not hide as a canary."""
    if weight == 100:
        return "100 is not a canary (a canary is 1-99, 0 = no canary): to move all traffic to the idle color use flip (`make flip`)"
    if not 0 <= weight <= 99:
        return f"must be between 0 and 99, got {weight}"
    return None


def _canary_weight(weight: int) -> int:
    problem = canary_weight_problem(weight)
    if problem:
        raise ValueError(problem)
    return weight


CanaryWeight = Annotated[WholeNumber, AfterValidator(_canary_weight)]


# Kubernetes takes runAsUser/runAsGroup as int32.
MAX_RUN_AS_ID = 2147483647


def _non_root_id(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0 (root): Pod Security restricted refuses it; the default is 10001")
    if not 1 <= value <= MAX_RUN_AS_ID:
        raise ValueError(f"must be between 1 and {MAX_RUN_AS_ID}, got {value}")
    return value


# A user or group id the app's containers run as. The default 10001 is a high id (Checkov CKV_K8S_40) that no
# host account has, should a container escape; an image whose files need another id sets it per app.
RunAsId = Annotated[WholeNumber, AfterValidator(_non_root_id)]


class AppConfig(Model):
    namespace: DnsLabel
    hosts: Annotated[list[Hostname], Field(min_length=1)]
    port: Port = 8080
    health_path: HttpPath = "/healthz"
    active_color: Color = "blue"
    # The color the last flip replaced: what `rollback` returns to (cli/edits/ records and clears it).
    previous_color: Color | None = None
    blue: ColorSpec = ColorSpec()
    green: ColorSpec = ColorSpec()
    preview: Preview = Preview()
    canary_weight: CanaryWeight = 0
    # Copies of default traffic to the idle color, before any canary; absent = no mirror.
    mirror: Mirror | None = None
    # A/B: requests matching a cohort go to the idle color ahead of the split, while cohortsActive (components/app/cohorts.py).
    cohorts: Cohorts
    cohorts_active: bool = False
    # Absent: each color runs `<color>.replicas` (set by Pulumi). Present: an HPA per color owns the count.
    autoscaling: Autoscaling | None = None
    resources: Resources = Resources()
    read_only_root_filesystem: Boolean = True
    run_as_user: RunAsId = 10001
    run_as_group: RunAsId = 10001
    drain: Drain = Drain()
    promotion: Promotion = Promotion()
    readiness_timeout: ReadinessTimeout = "5m"
    # Namespaces whose mesh workloads may call this app (NetworkPolicy + AuthorizationPolicy), besides its
    # own namespace and the ingress gateway. Default (unset): the namespaces of this stack's apps.
    allowed_callers: list[DnsLabel] | None = None

    @property
    def idle_color(self) -> Color:
        return other_color(self.active_color)

    def color(self, color: Color) -> ColorSpec:
        return self.blue if color == "blue" else self.green

    def hpa_floor(self, color: Color) -> int | None:
        """The minReplicas of `color`'s HPA; None when it has none (no autoscaling, or the color is scaled to 0)."""
        if self.autoscaling is None or self.color(color).replicas == 0:
            return None
        return self.autoscaling.floor(color)

    def replica_floor(self, color: Color) -> int:
        """The replicas `color` runs at least: its HPA's minReplicas when autoscaled, else `<color>.replicas`."""
        floor = self.hpa_floor(color)
        return self.color(color).replicas if floor is None else floor

    @model_validator(mode="after")
    def _serving_colors_are_deployed(self) -> AppConfig:
        problems = []
        for color, reason in ((self.active_color, "is the activeColor"), (self.idle_color, "receives canaryWeight")):
            if reason.startswith("receives") and self.canary_weight == 0:
                continue
            spec = self.color(color)
            if spec.image is None:
                problems.append((f"{color}.image", f"is required because {color} {reason}"))
            elif spec.replicas < 1:
                problems.append((f"{color}.replicas", f"must be at least 1 because {color} {reason}, got {spec.replicas}"))
        problems += self._mirror_problems()
        problems += self._autoscaled_replicas_problems()
        problems += cohort_problems(
            self.cohorts, self.cohorts_active, self.idle_color, self.color(self.idle_color).serving, self.preview.header.name
        )
        if self.promotion.steps and self.promotion.steps[0] == COHORT_STEP and not self.cohorts:
            problems.append(("promotion.steps", f"starts with {COHORT_STEP} but apps.<name>.cohorts lists none: add the cohorts"))
        if self.previous_color == self.active_color:
            problems.append(
                (
                    "previousColor",
                    (
                        f"must differ from activeColor ({self.active_color}): it names the color a rollback returns to; "
                        "remove it (it is recorded by `make flip` and cleared by `make rollback`)"
                    ),
                )
            )
        if problems:
            raise KeyedProblems(problems)
        return self

    def _autoscaled_replicas_problems(self) -> list[tuple[str, str]]:
        """With autoscaling the HPA sets the count: a color's replicas may only say 0 (scaled down, no HPA)."""
        if self.autoscaling is None:
            return []
        return [
            (
                f"{color}.replicas",
                (
                    f"is set by {color}'s HPA while autoscaling is on (between autoscaling.minReplicas and maxReplicas), "
                    f"got {self.color(color).replicas}: remove it, or set 0 to scale {color} down"
                ),
            )
            for color in COLORS
            if "replicas" in self.color(color).model_fields_set and self.color(color).replicas != 0
        ]

    def _mirror_problems(self) -> list[tuple[str, str]]:
        """A mirror needs an idle color that can take the copies, and no canary: Istio mirrors the whole default
        route, so the idle color would also get copies of its own canary requests (each one handled twice)."""
        if self.mirror is None:
            return []
        idle, spec = self.idle_color, self.color(self.idle_color)
        if self.canary_weight:  # a canary's own needs of the idle color are reported above
            return [
                (
                    "mirror",
                    (
                        f"cannot be combined with canaryWeight {self.canary_weight}: Istio mirrors the whole default route, so "
                        f"{idle} would also get copies of its own canary requests; remove mirror before starting the canary"
                    ),
                )
            ]
        if spec.image is None:
            return [("mirror", f"copies traffic to the idle color {idle}, which has no image ({idle}.image is not set)")]
        if spec.replicas < 1:
            return [("mirror", f"copies traffic to the idle color {idle}, which has no pods ({idle}.replicas is 0)")]
        return []
