"""bluegreen-platform: load and validate stack config, build the components, export outputs."""

import pulumi

from components.app.applied import own_stack_outputs, previous_for
from components.app.bluegreen_app import BlueGreenApp, BlueGreenAppArgs
from components.config import ConfigError, parse_stack_config, raw_pulumi_config
from components.platform.cluster import (
    GkeCluster,
    GkeClusterArgs,
    kubeconfig_provider,
    kubernetes_provider,
)
from components.platform.gateway import IngressGateway, IngressGatewayArgs
from components.platform.istio import IstioMesh, IstioMeshArgs
from components.platform.mesh_namespace import MeshNamespace, MeshNamespaceArgs
from components.platform.node_pool import (
    NodePool,
    NodePoolArgs,
    image_access,
    placement,
)
from components.shared.naming import PROJECT
from components.shared.secrets import export, keep_config_secrets

try:
    raw_config = raw_pulumi_config(PROJECT)
    config = parse_stack_config(raw_config, stack=pulumi.get_stack())
except ConfigError as err:
    # RunError ends the program with just this message: no traceback, nothing registered.
    raise pulumi.RunError(f"invalid stack config:\n{err}") from None
# Validated plain; inputs derived from a secret config key are registered as secrets (components/shared/secrets.py).
secret_config = keep_config_secrets(PROJECT, raw_config)
stack_namespaces = sorted({config.gateway.namespace, *(app.namespace for app in config.apps.values())})

# Platform: cluster -> node pool -> Istio; every Kubernetes resource goes through `provider`, which
# waits for the node pool. On a cluster reached by kubeconfig there is no GCP resource and no pool.
platform: list[pulumi.Resource] = []
if config.cluster.gke:
    images = image_access(config)
    for problem in images.ungranted:
        pulumi.log.warn(f"image pull access not granted by this stack: {problem}")
    cluster = GkeCluster(config.cluster.gke_name, GkeClusterArgs(config=config.cluster, node_pool=config.node_pool))
    # An existing cluster: the namespaces this stack creates must not be someone else's (checked live).
    cluster.check_namespaces(stack_namespaces, config.cluster.adopt_namespaces)
    node_pool = NodePool(
        config.node_pool.name,
        NodePoolArgs(
            config=config.node_pool,
            cluster=cluster.name,
            location=cluster.location,
            project=cluster.project,
            network_tags=[cluster.node_tag],
            image_projects=images.projects,
        ),
        # Beyond the cluster itself (the name), nodes and everything on them wait for its NAT and firewall rule.
        pulumi.ResourceOptions(depends_on=[cluster]),
    )
    platform.append(node_pool)
    provider = kubernetes_provider(cluster, depends_on=[node_pool])
    pulumi.export("nodePool", node_pool.name)
else:
    provider = kubeconfig_provider(config.cluster)
on_pool = placement(config.node_pool) if config.places_pods else {}
if config.istio.installs:
    istio = IstioMesh(
        "istio",
        IstioMeshArgs(config=config.istio, kubeconfig=cluster.kubeconfig, placement=on_pool),
        pulumi.ResourceOptions(providers=[provider], depends_on=list(platform)),
    )
    platform.append(istio)
    pulumi.export("ingressGatewayAddress", istio.ingress_address)
    pulumi.export("addonServices", istio.addon_services)

namespaces = {
    ns: MeshNamespace(
        ns,
        MeshNamespaceArgs(
            name=ns,
            gateway_labels=config.gateway.selector,
            gateway_namespace=config.gateway.workload_namespace,
            prometheus=config.istio.addon_enabled("prometheus"),
        ),
        pulumi.ResourceOptions(providers=[provider], depends_on=platform),
    )
    for ns in stack_namespaces
}
gateway = IngressGateway(
    config.gateway.name,
    IngressGatewayArgs(config=config.gateway),
    pulumi.ResourceOptions(providers=[provider], depends_on=[namespaces[config.gateway.namespace], *platform]),
)
# What each app served after this stack's last successful `pulumi up`, read from its own outputs
# (components/app/applied.py): the policy pack's flip-after-preview compares each switch gate with it.
before = own_stack_outputs()
apps = {
    name: BlueGreenApp(
        name,
        BlueGreenAppArgs(
            config=app,
            gateway=config.gateway,
            scheme=config.gateway.scheme,
            placement=on_pool,
            callers=tuple(config.allowed_callers(name)),
            # How the app's switch gate reads its Deployments from where `pulumi up` runs (not kept in state).
            cluster={"kubeconfig": cluster.kubeconfig} if config.cluster.gke else config.cluster.kubeconfig_access,
            previous=previous_for(before, name),
        ),
        pulumi.ResourceOptions(providers=[provider], depends_on=[namespaces[app.namespace], gateway]),
    )
    for name, app in config.apps.items()
}

export("gateway", gateway.ref, secret_config, "gateway")
export("apps", {name: app.outputs for name, app in apps.items()}, secret_config, "apps", "gateway")
