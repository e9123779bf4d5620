"""The cluster (lookup or creation), the node pool, its service account, the provider and pod placement."""
from __future__ import annotations

import base64

import yaml
from pulumi.runtime import rpc

from components.config import parse_stack_config
from components.node_pool import NODE_ROLES, POOL_LABEL, placement
from tests.conftest import find

POOL = "gcp:container/nodePool:NodePool"
# How the engine sees a secret input: {sig key: secret sig, "value": ...}.
SECRET_SIG, SECRET_MARK = rpc._special_sig_key, rpc._special_secret_sig


def test_existing_cluster_is_looked_up_not_created(run_stack, config):
    rec = run_stack(config)
    assert [(i.token, i.args) for i in rec.invokes] == [
        ("gcp:container/getCluster:getCluster", {"name": "acme-stg", "location": "europe-west1", "project": "acme-stg"})
    ]
    assert rec.of_type("gcp:container/cluster:Cluster") == []
    assert find(rec, POOL, "apps").inputs["cluster"] == "acme-stg"


def test_managed_cluster_is_created_private_with_its_default_pool_removed(run_stack, config):
    config["cluster"].update(manage=True, masterAuthorizedNetworks=["10.0.0.0/8"])
    rec = run_stack(config)
    assert rec.invokes == []
    cluster = find(rec, ":Cluster", "acme-stg").inputs
    assert cluster["removeDefaultNodePool"] is True and cluster["initialNodeCount"] == 1
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": True, "enablePrivateEndpoint": False, "masterIpv4CidrBlock": "172.16.0.0/28"
    }
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "acme-stg.svc.id.goog"}
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [{"cidrBlock": "10.0.0.0/8"}]}
    firewall = find(rec, ":Firewall", "acme-stg-istio-webhooks").inputs
    assert firewall["sourceRanges"] == ["172.16.0.0/28"] and firewall["allows"] == [{"protocol": "tcp", "ports": ["15017"]}]


def test_node_pool_is_hardened_and_autoscaled(run_stack, config):
    config["nodePool"] = {
        "machineType": "n2-standard-8",
        "diskSizeGb": 200,
        "autoscaling": {"minNodeCount": 2, "maxNodeCount": 6},
        "labels": {"env": "stg"},
        "taints": [{"key": "dedicated", "value": "apps"}],
    }
    rec = run_stack(config)
    pool = find(rec, POOL, "apps").inputs
    assert pool["autoscaling"] == {"minNodeCount": 2, "maxNodeCount": 6}
    assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}
    node = pool["nodeConfig"]
    assert (node["machineType"], node["diskSizeGb"], node["diskType"], node["imageType"]) == (
        "n2-standard-8", 200, "pd-balanced", "COS_CONTAINERD"
    )
    assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert node["labels"] == {"env": "stg"}
    assert node["taints"] == [{"key": "dedicated", "value": "apps", "effect": "NO_SCHEDULE"}]
    # A dedicated account, not the Compute Engine default one.
    assert node["serviceAccount"] == "apps-nodes@acme-stg.iam.gserviceaccount.com"
    assert find(rec, ":Account", "apps-nodes").inputs["accountId"] == "apps-nodes"
    members = rec.of_type("gcp:projects/iAMMember:IAMMember")
    assert sorted(m.inputs["role"] for m in members) == sorted(NODE_ROLES)
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
    assert provider["kubeconfig"][SECRET_SIG] == SECRET_MARK  # kept secret in state
    kubeconfig = yaml.safe_load(provider["kubeconfig"]["value"])
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == "https://PLACEHOLDER.endpoint.invalid"
    assert "PLACEHOLDER" in base64.b64decode(cluster["certificate-authority-data"]).decode()
    exec_auth = kubeconfig["users"][0]["user"]["exec"]
    assert exec_auth["command"] == "gke-gcloud-auth-plugin" and exec_auth["provideClusterInfo"] is True
