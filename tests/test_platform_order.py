"""Order and provider: node pool -> Istio -> Gateway -> apps, every Kubernetes resource on the GKE provider."""

from __future__ import annotations

from functools import cache

import pytest

from cli.engine.recording import Recording
from tests.conftest import find


def _provider_urn(ref: str) -> str:
    return ref.rsplit("::", 1)[0] if ref else ""


def waits_for(rec: Recording):
    """reg -> every URN it waits for: its dependencies, its parent's (transitively) and its provider's."""
    by_urn = rec.by_urn()

    @cache
    def closure(urn: str) -> frozenset[str]:
        reg = by_urn.get(urn)
        if reg is None:
            return frozenset()
        direct = {*reg.dependencies, reg.parent, _provider_urn(reg.provider)} - {""}
        found = set(direct)
        for dep in direct:
            found |= closure(dep)
        return frozenset(found)

    return lambda reg: closure(reg.urn)


@pytest.fixture
def recording(run_stack, config) -> Recording:
    return run_stack(config)


def test_node_pool_then_istio_then_gateway_then_apps(recording):
    after = waits_for(recording)
    pool = find(recording, "gcp:container/nodePool:NodePool", "apps").urn
    install = find(recording, "command:local:Command", "istioctl-install").urn
    gateway = find(recording, ":Gateway", "bluegreen-gateway").urn
    assert pool in after(find(recording, "command:local:Command", "istioctl-install"))
    for release in recording.of_type("kubernetes:helm.sh/v3:Release"):
        assert install in after(release)
    assert install in after(find(recording, ":Gateway", "bluegreen-gateway"))
    assert install in after(find(recording, ":PeerAuthentication", "app"))
    for deployment in recording.of_type("kubernetes:apps/v1:Deployment"):
        assert {pool, install, gateway} <= after(deployment)
    assert gateway in after(find(recording, ":VirtualService", "front"))
    # and never the other way round
    assert install not in after(find(recording, "gcp:container/nodePool:NodePool", "apps"))


def test_every_kubernetes_resource_uses_the_gke_provider_which_waits_for_the_pool(recording):
    provider = find(recording, "pulumi:providers:kubernetes", "gke")
    kubernetes = [r for r in recording.resources if r.type.startswith("kubernetes:")]
    assert len(kubernetes) > 10
    assert {_provider_urn(r.provider) for r in kubernetes} == {provider.urn}
    pool = find(recording, "gcp:container/nodePool:NodePool", "apps").urn
    assert pool in waits_for(recording)(provider)
