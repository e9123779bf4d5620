"""Secret stack config stays secret: resource inputs derived from a secret config key are secret Outputs.

The program validates config read whole and plain (components/config.py `raw_pulumi_config`), so the
values it hands to resources are plain Python values. The engine marks a whole top-level key secret
when it is set with `--secret` (or when any leaf under it is, `pulumi config set --secret --path`).
For each such key, every resource under the components built from it gets all its inputs wrapped in
`pulumi.Output.secret`: encrypted in state, masked in previews and logs, and the outputs that echo
those inputs are secret too. Validation is unchanged: it runs on the plain values first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

# Which top-level config keys each root component's resources are built from. A root not listed here
# (a component added later) is treated as built from every key: secrecy errs on the safe side.
DERIVED_FROM: dict[str, frozenset[str]] = {
    "bluegreen:cluster:GkeCluster": frozenset({"cluster"}),
    "pulumi:providers:kubernetes": frozenset({"cluster"}),
    "bluegreen:node_pool:NodePool": frozenset({"cluster", "nodePool", "apps", "istio"}),
    "bluegreen:istio:IstioMesh": frozenset({"cluster", "nodePool", "istio"}),
    "bluegreen:mesh_namespace:MeshNamespace": frozenset({"apps", "gateway", "istio"}),
    "bluegreen:gateway:IngressGateway": frozenset({"gateway", "apps"}),
    "bluegreen:bluegreen_app:BlueGreenApp": frozenset({"cluster", "nodePool", "istio", "gateway", "apps"}),
}
# A dynamic resource's pickled provider is code, not config: it must stay readable by the provider host.
_NEVER_WRAPPED = ("__provider",)


def secret_keys(project: str, keys: Iterable[str]) -> frozenset[str]:
    """The top-level config keys (without the project prefix) the engine holds as secrets."""
    return frozenset(key for key in keys if runtime_config.is_config_secret(f"{project}:{key}"))


def derived_from(root_type: str) -> frozenset[str] | None:
    """The config keys a root component's resources come from; None: all of them."""
    return DERIVED_FROM.get(root_type)


class SecretInputs:
    """A stack transformation: inputs of resources under a component built from a secret key become secret."""

    def __init__(self, secret: frozenset[str]):
        self.secret = secret
        self._root: dict[int, str] = {}  # id(resource) -> type of its top-level component

    def __call__(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        parent = args.opts.parent if args.opts else None
        root = self._root.get(id(parent), args.type_) if parent is not None else args.type_
        self._root[id(args.resource)] = root
        sources = derived_from(root)
        if not self.secret or (sources is not None and not sources & self.secret):
            return None
        props = {key: value if key in _NEVER_WRAPPED or value is None else pulumi.Output.secret(value) for key, value in args.props.items()}
        return pulumi.ResourceTransformationResult(props, args.opts)


def keep_config_secrets(project: str, keys: Iterable[str]) -> frozenset[str]:
    """Register the transformation for this stack's secret keys; returns them (empty: nothing registered)."""
    secret = secret_keys(project, keys)
    if secret:
        pulumi.runtime.register_stack_transformation(SecretInputs(secret))
    return secret


def export(name: str, value: Any, secret: frozenset[str], *sources: str) -> None:
    """pulumi.export, secret when the value is derived from a secret config key."""
    pulumi.export(name, pulumi.Output.secret(value) if secret & set(sources) else value)
