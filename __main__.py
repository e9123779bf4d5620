"""bluegreen-platform: load and validate stack config, build the components, export outputs."""
import pulumi

from components.bluegreen_app import BlueGreenApp, BlueGreenAppArgs
from components.cluster import GkeCluster, GkeClusterArgs, kubernetes_provider
from components.config import ConfigError, parse_stack_config, raw_pulumi_config
from components.gateway import IngressGateway, IngressGatewayArgs, scheme
from components.istio import IstioMesh, IstioMeshArgs
from components.mesh_namespace import MeshNamespace, MeshNamespaceArgs
from components.naming import PROJECT
from components.node_pool import NodePool, NodePoolArgs, placement

try:
    config = parse_stack_config(raw_pulumi_config(PROJECT), stack=pulumi.get_stack())
except ConfigError as err:
    # RunError ends the program with just this message: no traceback, nothing registered.
    raise pulumi.RunError(f"invalid stack config:\n{err}") from None

# Platform: cluster -> node pool -> Istio; every Kubernetes resource goes through `provider`, which
# waits for the node pool. Then the mesh namespaces, the Gateway, and the apps on top.
cluster = GkeCluster(config.cluster.name, GkeClusterArgs(config=config.cluster))
node_pool = NodePool(
    config.node_pool.name,
    NodePoolArgs(
        config=config.node_pool, cluster=cluster.name, location=cluster.location, project=cluster.project,
        network_tags=[cluster.node_tag],
    ),
    # Beyond the cluster itself (the name), nodes and everything on them wait for its NAT and firewall rule.
    pulumi.ResourceOptions(depends_on=[cluster]),
)
provider = kubernetes_provider(cluster, depends_on=[node_pool])
on_pool = placement(config.node_pool)
istio = IstioMesh(
    "istio",
    IstioMeshArgs(config=config.istio, kubeconfig=cluster.kubeconfig, placement=on_pool),
    pulumi.ResourceOptions(providers=[provider], depends_on=[node_pool]),
)

namespaces = {
    ns: MeshNamespace(
        ns,
        MeshNamespaceArgs(
            name=ns,
            gateway_labels=config.gateway.selector,
            gateway_namespace=config.gateway.workload_namespace,
            prometheus=config.istio.addons.prometheus.enabled,
        ),
        pulumi.ResourceOptions(providers=[provider], depends_on=[istio]),
    )
    for ns in sorted({config.gateway.namespace, *(app.namespace for app in config.apps.values())})
}
gateway = IngressGateway(
    config.gateway.name,
    IngressGatewayArgs(config=config.gateway),
    pulumi.ResourceOptions(providers=[provider], depends_on=[namespaces[config.gateway.namespace], istio]),
)
apps = {
    name: BlueGreenApp(
        name,
        BlueGreenAppArgs(config=app, gateway=config.gateway, scheme=scheme(config.gateway), placement=on_pool),
        pulumi.ResourceOptions(providers=[provider], depends_on=[namespaces[app.namespace], gateway]),
    )
    for name, app in config.apps.items()
}

pulumi.export("nodePool", node_pool.name)
pulumi.export("ingressGatewayAddress", istio.ingress_address)
pulumi.export("addonServices", istio.addon_services)
pulumi.export("gateway", gateway.ref)
pulumi.export("apps", {name: app.outputs for name, app in apps.items()})
