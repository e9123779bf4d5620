"""The cluster (lookup or creation), the node pool, its service account, the provider and pod placement."""

from __future__ import annotations

import base64

import yaml

from components.config import parse_stack_config
from components.platform.node_pool import (
    INITIAL_NODE_COUNT,
    NODE_ROLES,
    POOL_LABEL,
    node_pool_args,
    placement,
)
from tests.conftest import find
from tests.test_platform_order import waits_for

POOL = "gcp:container/nodePool:NodePool"


def gcp_invokes(rec):
    """The cloud lookups (the program also reads its own stack's outputs, components/app/applied.py)."""
    return [i for i in rec.invokes if i.token.startswith("gcp:")]


def test_existing_cluster_is_looked_up_not_created(run_stack, config):
    rec = run_stack(config)
    assert [(i.token, i.args) for i in gcp_invokes(rec)] == [
        ("gcp:container/getCluster:getCluster", {"name": "acme-stg", "location": "europe-west1", "project": "acme-stg"})
    ]
    assert rec.of_type("gcp:container/cluster:Cluster") == []
    assert find(rec, POOL, "apps").inputs["cluster"] == "acme-stg"  # the lookup's answer
    assert rec.of_type("gcp:compute/router:Router") == rec.of_type("gcp:compute/firewall:Firewall") == []


def test_managed_cluster_is_created_private_with_its_default_pool_removed(run_stack, config):
    config["cluster"].update(manage=True, masterAuthorizedNetworks=["10.0.0.0/8"])
    rec = run_stack(config)
    assert gcp_invokes(rec) == []
    cluster = find(rec, ":Cluster", "acme-stg").inputs
    assert cluster["removeDefaultNodePool"] is True and cluster["initialNodeCount"] == 1
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": False,
        "masterIpv4CidrBlock": "172.16.0.0/28",
    }
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "acme-stg.svc.id.goog"}
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [{"cidrBlock": "10.0.0.0/8"}]}
    firewall = find(rec, ":Firewall", "acme-stg-istio-webhooks").inputs
    assert firewall["sourceRanges"] == ["172.16.0.0/28"] and firewall["allows"] == [{"protocol": "tcp", "ports": ["15017"]}]
    # 15017 is open to the pool's nodes only, not to every VM in the VPC.
    assert firewall["targetTags"] == ["gke-acme-stg-mesh-nodes"]
    assert find(rec, POOL, "apps").inputs["nodeConfig"]["tags"] == ["gke-acme-stg-mesh-nodes"]


def test_managed_cluster_gets_cloud_nat_in_its_region_and_the_pool_waits_for_it(run_stack, config):
    config["cluster"].update(manage=True, location="asia-northeast3-a", network="prod-vpc")
    rec = run_stack(config)
    component = find(rec, "bluegreen:cluster:GkeCluster", "acme-stg")
    router = find(rec, "gcp:compute/router:Router", "acme-stg-nat-router")
    nat = find(rec, "gcp:compute/routerNat:RouterNat", "acme-stg-nat")
    assert router.parent == nat.parent == component.urn
    assert (router.inputs["region"], router.inputs["network"], router.inputs["project"]) == ("asia-northeast3", "prod-vpc", "acme-stg")
    assert router.urn in nat.dependencies and nat.inputs["router"] == "acme-stg-nat-router-placeholder"  # the router's name output
    assert {k: nat.inputs[k] for k in ("region", "natIpAllocateOption", "sourceSubnetworkIpRangesToNat", "logConfig")} == {
        "region": "asia-northeast3",
        "natIpAllocateOption": "AUTO_ONLY",
        "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
        "logConfig": {"enable": True, "filter": "ERRORS_ONLY"},
    }
    pool = find(rec, POOL, "apps")
    # A data dependency: the pool's `cluster` input is the created cluster's name output.
    assert find(rec, ":Cluster", "acme-stg").urn in pool.dependencies
    assert {nat.urn, find(rec, ":Firewall", "acme-stg-istio-webhooks").urn} <= waits_for(rec)(pool)


def test_cloud_nat_can_be_left_to_an_existing_one(run_stack, config):
    config["cluster"].update(manage=True, cloudNat=False)
    rec = run_stack(config)
    assert rec.of_type("gcp:compute/router:Router") == rec.of_type("gcp:compute/routerNat:RouterNat") == []
    assert len(rec.of_type("gcp:compute/firewall:Firewall")) == 1


def test_node_pool_is_hardened_and_autoscaled(run_stack, config):
    config["nodePool"] = {
        "machineType": "n2-standard-8",
        "diskSizeGb": 200,
        "autoscaling": {"minNodeCount": 2, "maxNodeCount": 6},
        "labels": {"env": "stg"},
        "taints": [{"key": "dedicated", "value": "apps"}],
    }
    rec = run_stack(config)
    registration = find(rec, POOL, "apps")
    pool = registration.inputs
    # Totals for the whole pool, never per-zone limits (which a regional cluster multiplies by 3).
    assert pool["autoscaling"] == {"totalMinNodeCount": 2, "totalMaxNodeCount": 6, "locationPolicy": "BALANCED"}
    assert pool["initialNodeCount"] == INITIAL_NODE_COUNT
    assert registration.options["ignoreChanges"] == ["initialNodeCount"]
    assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}
    node = pool["nodeConfig"]
    assert (node["machineType"], node["diskSizeGb"], node["diskType"], node["imageType"]) == (
        "n2-standard-8",
        200,
        "pd-balanced",
        "COS_CONTAINERD",
    )
    assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert node["labels"] == {"env": "stg"}
    assert node["taints"] == [{"key": "dedicated", "value": "apps", "effect": "NO_SCHEDULE"}]
    # A dedicated account, not the Compute Engine default one.
    assert node["serviceAccount"] == "apps-nodes@acme-stg.iam.gserviceaccount.com"
    assert find(rec, ":Account", "apps-nodes").inputs["accountId"] == "apps-nodes"
    members = rec.of_type("gcp:projects/iAMMember:IAMMember")
    # GKE's node role on the cluster's project; image reads there and on the images' project (acme).
    assert sorted((m.inputs["role"], m.inputs["project"]) for m in members) == [
        ("roles/artifactregistry.reader", "acme"),
        ("roles/artifactregistry.reader", "acme-stg"),
        ("roles/container.defaultNodeServiceAccount", "acme-stg"),
    ]
    assert set(NODE_ROLES) == {m.inputs["role"] for m in members}
    assert {m.inputs["member"] for m in members} == {"serviceAccount:apps-nodes@acme-stg.iam.gserviceaccount.com"}


def test_apps_and_gateways_run_on_the_pool(run_stack, config):
    rec = run_stack(config)
    for deployment in rec.of_type("kubernetes:apps/v1:Deployment"):
        assert deployment.inputs["spec"]["template"]["spec"]["nodeSelector"] == {POOL_LABEL: "apps"}
    operator = yaml.safe_load(find(rec, "command:local:Command", "istioctl-install").inputs["stdin"])
    for gateway in operator["spec"]["components"]["ingressGateways"]:
        assert gateway["k8s"]["nodeSelector"] == {POOL_LABEL: "apps"}
    assert rec.outputs["nodePool"] == "apps"


def test_taints_become_tolerations(config):
    config["nodePool"] = {"name": "web", "taints": [{"key": "dedicated", "value": "web", "effect": "NO_EXECUTE"}]}
    assert placement(parse_stack_config(config).node_pool) == {
        "nodeSelector": {POOL_LABEL: "web"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoExecute"}],
    }


def test_provider_uses_the_cluster_with_the_gke_auth_plugin(run_stack, config):
    rec = run_stack(config)
    provider = find(rec, "pulumi:providers:kubernetes", "gke").inputs
    assert provider["enableConfigMapMutable"] == "true"  # provider config travels as text
    assert "kubeconfig" in find(rec, "pulumi:providers:kubernetes", "gke").options["secretInputs"]  # kept secret in state
    kubeconfig = yaml.safe_load(provider["kubeconfig"])
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == "https://PLACEHOLDER.endpoint.invalid"
    assert "PLACEHOLDER" in base64.b64decode(cluster["certificate-authority-data"]).decode()
    exec_auth = kubeconfig["users"][0]["user"]["exec"]
    assert exec_auth["command"] == "gke-gcloud-auth-plugin" and exec_auth["provideClusterInfo"] is True


def test_changing_min_node_count_never_changes_the_initial_count(config):
    """initialNodeCount forces a replacement of the fixed-name pool: it must not follow the autoscaling keys."""

    def args(minimum: int, maximum: int):
        config["nodePool"] = {"autoscaling": {"minNodeCount": minimum, "maxNodeCount": maximum}}
        return node_pool_args(parse_stack_config(config).node_pool, "c", "europe-west1", "p", [], "sa@p.iam.gserviceaccount.com")

    small, large = args(1, 3), args(3, 12)
    assert small["initial_node_count"] == large["initial_node_count"] == INITIAL_NODE_COUNT
    assert small["autoscaling"]["total_min_node_count"] == 1 and large["autoscaling"]["total_min_node_count"] == 3
    assert {k: v for k, v in small.items() if k != "autoscaling"} == {k: v for k, v in large.items() if k != "autoscaling"}
