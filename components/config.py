"""Typed stack configuration: the user-facing contract of `Pulumi.<stack>.yaml`.

Every model forbids unknown keys and uses the camelCase key names users write. `parse_stack_config`
turns raw config into a `StackConfig` or raises `ConfigError` whose lines each name a key path,
e.g. `apps.front.canaryWeight: must be between 0 and 99, got 150`.
"""

from __future__ import annotations

import difflib
import json
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from .app.config import AppConfig
from .platform.config import (
    PLACEMENT_KEYS,
    ClusterConfig,
    GatewayConfig,
    IstioConfig,
    NodePoolConfig,
)
from .shared.fields import DnsLabel, KeyedProblems, Model

# Stacks whose gateway must serve HTTPS.
TLS_REQUIRED_STACKS = ("prod",)


# A file with thousands of mistakes gets the first ones and a count: nobody reads past a screenful.
MAX_SHOWN_PROBLEMS = 20
# Config namespaces besides the project's: the providers this program uses read theirs, `pulumi:` is the CLI's.
OTHER_NAMESPACES = ("command", "gcp", "kubernetes", "pulumi")


class ConfigError(Exception):
    """Invalid stack config; each problem is one `key.path: message` line (the message shows the first 20)."""

    def __init__(self, problems: list[str]):
        shown, more = problems[:MAX_SHOWN_PROBLEMS], len(problems) - MAX_SHOWN_PROBLEMS
        super().__init__("\n".join([*shown, *([f"... and {more} more problems ({len(problems)} in all)"] if more > 0 else [])]))
        self.problems = problems


# --- stack -------------------------------------------------------------------------------------


class StackConfig(Model):
    cluster: ClusterConfig
    node_pool: NodePoolConfig = NodePoolConfig()
    istio: IstioConfig
    gateway: GatewayConfig
    apps: dict[DnsLabel, AppConfig] = {}

    @model_validator(mode="after")
    def _prod_serves_https(self, info: ValidationInfo) -> StackConfig:
        stack = (info.context or {}).get("stack")
        if stack in TLS_REQUIRED_STACKS and self.gateway.tls is None:
            raise KeyedProblems([("gateway.tls", f"is required for stack {stack}: production serves HTTPS only")])
        return self

    @model_validator(mode="after")
    def _managed_cluster_pool_is_untainted(self) -> StackConfig:
        if self.cluster.manage and self.node_pool.taints:
            raise KeyedProblems(
                [
                    (
                        "nodePool.taints",
                        "must be empty when cluster.manage is true: the cluster's default pool is removed, so this pool is "
                        "the only one and kube-system pods and the addons would have nowhere to schedule",
                    )
                ]
            )
        return self

    @model_validator(mode="after")
    def _node_pool_fits_the_cluster(self) -> StackConfig:
        if self.cluster.gke or "node_pool" not in self.model_fields_set:
            return self
        extra = sorted(self.node_pool.model_fields_set - set(PLACEMENT_KEYS))
        if extra:
            raise KeyedProblems(
                [
                    (
                        f"nodePool.{to_camel(key)}",
                        "applies only when cluster.mode is gke: with mode kubeconfig, nodePool only places pods (name, taints)",
                    )
                    for key in extra
                ]
            )
        return self

    @property
    def places_pods(self) -> bool:
        """Whether pods are pinned to the node pool: always on GKE, and on another cluster only if nodePool is set."""
        return self.cluster.gke or "node_pool" in self.model_fields_set

    def allowed_callers(self, app: str) -> list[str]:
        """Namespaces admitted to call `app` in the mesh (its own namespace always is)."""
        cfg = self.apps[app]
        callers = cfg.allowed_callers if cfg.allowed_callers is not None else [a.namespace for a in self.apps.values()]
        return sorted({cfg.namespace, *callers})

    @model_validator(mode="after")
    def _hosts_are_served_once(self) -> StackConfig:
        problems: list[tuple[str, str]] = []
        owner: dict[str, str] = {}
        hosts = [(name, f"apps.{name}.hosts.{i}", host) for name, app in self.apps.items() for i, host in enumerate(app.hosts)]
        hosts += [(name, f"apps.{name}.preview.host", app.preview.host) for name, app in self.apps.items() if app.preview.host]
        for name, where, host in hosts:
            if not self.gateway.serves(host):
                problems.append((where, f"{host} is not served by gateway.hosts {self.gateway.hosts}"))
            elif host in owner:
                problems.append((where, f"{host} is already routed by app {owner[host]!r}"))
            owner.setdefault(host, name)
        if problems:
            raise KeyedProblems(problems)
        return self


# --- parsing -----------------------------------------------------------------------------------


def _models_at(annotation: Any, path: list[str]) -> list[type[BaseModel]]:
    """The config models that can sit at `path` (a validation error's location) below `annotation`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_at(get_args(annotation)[0], path)
    if origin in (Union, UnionType):
        return [model for arg in get_args(annotation) for model in _models_at(arg, path)]
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    if not path:
        return [annotation] if is_model else []
    if origin in (dict, list):  # a map key or a list index, then the value's type
        return _models_at(get_args(annotation)[-1], path[1:])
    if not is_model:
        return []
    fields = [field for name, field in annotation.model_fields.items() if (field.alias or name) == path[0]]
    return [model for field in fields for model in _models_at(field.annotation, path[1:])]


def _unknown_key(loc: list[str]) -> str:
    """`unknown key`, with the closest key the stack file may have there (`activeColour` -> `activeColor`)."""
    models = _models_at(StackConfig, loc[:-1])
    known = sorted({field.alias or name for model in models for name, field in model.model_fields.items()})
    close = difflib.get_close_matches(loc[-1], known, n=1)
    return f"unknown key (did you mean {close[0]}?)" if close else "unknown key"


def _message(error: ErrorDetails, loc: list[str]) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in ("model_type", "dict_type"):  # "a valid dictionary or instance of AppConfig": the user writes a mapping
        return f"must be a mapping of keys to values, got {error['input']!r}"
    if msg.startswith("Input should be"):
        return f"must be {msg.removeprefix('Input should be ')}, got {error['input']!r}"
    return msg


def _problems(err: ValidationError) -> list[str]:
    lines = []
    for error in err.errors():
        loc = [str(part) for part in error["loc"] if part != "[key]"]
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, KeyedProblems):
            lines += [".".join([*loc, key]) + f": {msg}" for key, msg in cause.problems]
        else:
            lines.append(f"{'.'.join(loc) or '(stack config)'}: {_message(error, loc)}")
    return lines


def parse_stack_config(raw: dict[str, Any], stack: str | None = None) -> StackConfig:
    """Validate raw config (keys without the project prefix) or raise ConfigError.

    `stack` enables per-stack rules: stacks in TLS_REQUIRED_STACKS must configure gateway.tls.
    """
    try:
        return StackConfig.model_validate(raw, context={"stack": stack})
    except ValidationError as err:
        raise ConfigError(_problems(err)) from None


def _decode(value: Any) -> Any:
    # The engine hands structured config over as JSON text; plain strings stay strings.
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _unknown_namespaces(keys: list[str], project: str) -> list[str]:
    """A key under a namespace nothing reads (`bluegreen-platfrom:apps`) would be dropped in silence, and with it
    every app: one problem per such key, naming the closest namespace there is."""
    known = [project, *OTHER_NAMESPACES]
    problems = []
    for key in keys:
        namespace, _, name = key.partition(":")
        if namespace in known:
            continue
        close = difflib.get_close_matches(namespace, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}:{name}?" if close else f"this program reads {', '.join(f'{n}:' for n in known)}"
        problems.append(f"{key}: unknown config namespace {namespace!r}, nothing would read this key ({hint})")
    return problems


def project_config(engine_config: dict[str, Any], project: str) -> dict[str, Any]:
    """The `<project>:<key>` values of engine-form config, decoded and keyed without the prefix; ConfigError for
    a key under a namespace neither the project nor a provider it uses reads."""
    problems = _unknown_namespaces(sorted(engine_config), project)
    if problems:
        raise ConfigError(problems)
    prefix = f"{project}:"
    return {key[len(prefix) :]: _decode(value) for key, value in engine_config.items() if key.startswith(prefix)}


def raw_pulumi_config(project: str) -> dict[str, Any]:
    """The project's config as the engine passed it to this program.

    Read whole, not key by key through `pulumi.Config`, so that a misspelt top-level key is reported
    instead of silently ignored; the SDK exposes no listing of config keys.
    """
    from pulumi.runtime import config as runtime_config

    return project_config({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}, project)
