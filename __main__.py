"""bluegreen-platform: load and validate stack config, build the components, export outputs."""
import pulumi

from components.bluegreen_app import BlueGreenApp, BlueGreenAppArgs
from components.config import ConfigError, parse_stack_config, raw_pulumi_config
from components.gateway import IngressGateway, IngressGatewayArgs
from components.mesh_namespace import MeshNamespace, MeshNamespaceArgs
from components.naming import PROJECT

try:
    config = parse_stack_config(raw_pulumi_config(PROJECT))
except ConfigError as err:
    # RunError ends the program with just this message: no traceback, nothing registered.
    raise pulumi.RunError(f"invalid stack config:\n{err}") from None

namespaces = {
    ns: MeshNamespace(ns, MeshNamespaceArgs(name=ns))
    for ns in sorted({config.gateway.namespace, *(app.namespace for app in config.apps.values())})
}
gateway = IngressGateway(
    config.gateway.name,
    IngressGatewayArgs(config=config.gateway),
    pulumi.ResourceOptions(depends_on=[namespaces[config.gateway.namespace]]),
)
apps = {
    name: BlueGreenApp(
        name,
        BlueGreenAppArgs(config=app, gateway=config.gateway),
        pulumi.ResourceOptions(depends_on=[namespaces[app.namespace], gateway]),
    )
    for name, app in config.apps.items()
}

pulumi.export("gateway", gateway.ref)
pulumi.export("apps", {name: app.outputs for name, app in apps.items()})
