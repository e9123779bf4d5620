"""Issue 11: image pull access, ADC kubeconfig, fixed-name replacements, an existing cluster's fit."""

from __future__ import annotations

import json
import os
import stat

import pulumi
import pytest
import yaml
from kubernetes import config as k8s_config

import cli.engine.placeholders as placeholders
import components.platform.cluster as cluster_module
from cli.diff.compare import (
    EXIT_CHANGES,
    EXIT_ERROR,
    compare,
    render_markdown,
    render_text,
)
from cli.diff.tree_plan import TreePlan
from cli.engine.mock import run_program
from cli.engine.recording import Recording
from components.config import parse_stack_config
from components.platform.cluster import AUTH_PLUGIN, kubeconfig, namespace_conflicts
from components.platform.node_pool import image_access
from components.shared.naming import MANAGED_BY
from tests.conftest import engine_config, find

POOL = "gcp:container/nodePool:NodePool"
MEMBER = "gcp:projects/iAMMember:IAMMember"
LOOKUP = "gcp:container/getCluster:getCluster"


# --- 1. nodes can pull the images ---------------------------------------------------------------


def readers(rec):
    return {m.name: m.inputs["project"] for m in rec.of_type(MEMBER) if m.inputs["role"] == "roles/artifactregistry.reader"}


def test_nodes_read_every_artifact_registry_project_the_images_come_from(run_stack, config):
    config["apps"]["front"]["green"]["image"] = "europe-docker.pkg.dev/acme-shared/web/front:1.5.0"
    rec = run_stack(config)
    # The cluster's project keeps its grant (same name, same URN); each image project gets its own.
    assert readers(rec) == {
        "apps-nodes-artifactregistry.reader": "acme-stg",
        "apps-nodes-artifactregistry.reader-acme": "acme",
        "apps-nodes-artifactregistry.reader-acme-shared": "acme-shared",
    }
    assert {m.inputs["member"] for m in rec.of_type(MEMBER)} == {"serviceAccount:apps-nodes@acme-stg.iam.gserviceaccount.com"}
    pool = find(rec, POOL, "apps")
    assert {m.urn for m in rec.of_type(MEMBER)} <= set(pool.dependencies)  # nodes start once they can pull
    assert rec.warnings == []


def test_image_projects_can_be_overridden(run_stack, config):
    config["nodePool"] = {"imageProjects": ["acme-images"]}
    assert readers(run_stack(config)) == {"apps-nodes-artifactregistry.reader-acme-images": "acme-images"}


def test_images_on_registries_the_pool_cannot_be_granted_are_reported_with_their_key_path(run_stack, config):
    config["apps"]["front"]["green"]["image"] = "registry.acme.example/web/front:1.5.0"
    config["istio"]["operator"] = {"hub": "gcr.io/acme-mirror/istio", "components": {"cni": {"enabled": True}}}
    access = image_access(parse_stack_config(config))
    assert access.projects == ["acme-stg", "acme", "acme-mirror"]
    assert len(access.ungranted) == 1 and access.ungranted[0].startswith(
        "apps.front.green.image: registry.acme.example/web/front:1.5.0 is on registry.acme.example, not Artifact Registry"
    )
    rec = run_stack(config)
    assert any("apps.front.green.image" in w and "registry.acme.example" in w for w in rec.warnings)
    # Public registries are not reported: the nodes pull them through the NAT without credentials.
    config["apps"]["front"]["green"]["image"] = "docker.io/library/nginx:1.27"
    assert image_access(parse_stack_config(config)).ungranted == []


# --- 2. CI reaches the cluster with Application Default Credentials ------------------------------


def test_kubeconfig_runs_the_auth_plugin_on_application_default_credentials(tmp_path, monkeypatch):
    rendered = yaml.safe_load(kubeconfig("203.0.113.1", placeholders.CA_CERTIFICATE))
    exec_auth = rendered["users"][0]["user"]["exec"]
    assert exec_auth["command"] == AUTH_PLUGIN and exec_auth["args"] == ["--use_application_default_credentials"]
    assert exec_auth["interactiveMode"] == "Never" and "token" not in json.dumps(rendered)
    # The switch gate's client (the official Python client) runs the plugin with those args: a fake plugin
    # that answers only when asked for ADC, as the real one does with no gcloud login in CI.
    plugin = tmp_path / AUTH_PLUGIN
    plugin.write_text(
        "#!/bin/sh\n"
        '[ "$1" = --use_application_default_credentials ] || { echo "no gcloud login" >&2; exit 1; }\n'
        'echo \'{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", '
        '"status": {"token": "adc-token"}}\'\n'
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    client = k8s_config.new_client_from_config_dict(rendered, persist_config=False)
    assert client.configuration.api_key["BearerToken"] == "Bearer adc-token"
    assert client.configuration.host == "https://203.0.113.1"


def test_ci_gives_the_cluster_jobs_application_default_credentials():
    from tests.conftest import ROOT

    pipeline = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    setup = "\n".join(pipeline[".pulumi"]["before_script"])
    assert "google-cloud-cli-gke-gcloud-auth-plugin" in setup and "GOOGLE_APPLICATION_CREDENTIALS" in setup
    assert setup.index("GOOGLE_APPLICATION_CREDENTIALS") > setup.index("gke-gcloud-auth-plugin")
    for job in ("preview", ".deploy", ".release"):
        assert pipeline[job]["extends"] == ".pulumi"


# --- 4. fixed-name replacements ----------------------------------------------------------------


def test_node_pool_is_replaced_delete_first_and_the_cluster_is_protected(run_stack, config):
    config["cluster"]["manage"] = True
    rec = run_stack(config)
    assert find(rec, POOL, "apps").options["deleteBeforeReplace"] is True
    cluster = find(rec, "gcp:container/cluster:Cluster", "acme-stg")
    assert cluster.options["protect"] is True and cluster.options["retainOnDelete"] is True


def tree(rec: Recording) -> TreePlan:
    return TreePlan(
        {r.urn: {"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs, "options": r.options} for r in rec.resources}, {}, {}
    )


def test_diff_refuses_a_cluster_replacement_and_shows_a_pool_replacement_loudly(run_stack, config):
    config["cluster"]["manage"] = True
    base = tree(run_stack(config))
    config["nodePool"] = {"serviceAccountId": "apps-nodes-v2"}
    pool_diff = compare(base, tree(run_stack(config)), "prod", "main")
    assert [r.resource["name"] for r in pool_diff.replacements] == ["apps"] and pool_diff.exit_code == EXIT_CHANGES
    text = render_text(pool_diff)
    assert "!! REPLACE: NodePool apps (changed: nodeConfig.serviceAccount) is deleted first" in text
    assert "+- NodePool apps (REPLACE)" in text and "**+-** replace" in render_markdown(pool_diff)

    config["cluster"]["masterIpv4CidrBlock"] = "172.16.0.32/28"
    cluster_diff = compare(base, tree(run_stack(config)), "prod", "main")
    assert cluster_diff.exit_code == EXIT_ERROR
    assert "!! REFUSED: Cluster acme-stg would be REPLACED (changed: privateClusterConfig.masterIpv4CidrBlock" in render_text(cluster_diff)


def test_in_place_changes_are_not_replacements(run_stack, config):
    config["cluster"]["manage"] = True
    base = tree(run_stack(config))
    config["nodePool"] = {"machineType": "e2-standard-8", "labels": {"env": "stg"}}
    config["cluster"]["masterAuthorizedNetworks"] = ["10.0.0.0/8"]
    diff = compare(base, tree(run_stack(config)), "prod", "main")
    assert diff.changed and diff.replacements == [] and "!!" not in render_text(diff)


# --- 5. an existing cluster is not assumed empty -------------------------------------------------


def run_against(monkeypatch, config, **answer):
    monkeypatch.setitem(placeholders.INVOKE_ANSWERS, LOOKUP, lambda args: {**placeholders.existing_cluster(args), **answer})
    rec = Recording()
    with pytest.raises(pulumi.RunError) as err:
        run_program("test", engine_config(config), recording=rec)
    # Stopped before the node pool or anything on the cluster was registered.
    assert rec.of_type(POOL) == [] and not [r for r in rec.resources if r.type.startswith("kubernetes:")]
    return str(err.value)


def test_existing_cluster_without_workload_identity_is_refused(monkeypatch, config):
    message = run_against(monkeypatch, config, workloadIdentityConfigs=[])
    assert "cluster acme-stg (europe-west1, project acme-stg) has Workload Identity off" in message
    assert "--workload-pool=acme-stg.svc.id.goog" in message


def test_existing_cluster_with_a_foreign_pool_of_our_name_is_refused(monkeypatch, config):
    foreign = [{"name": "apps", "nodeConfigs": [{"serviceAccount": "someone@acme-stg.iam.gserviceaccount.com"}]}]
    message = run_against(monkeypatch, config, nodePools=foreign)
    assert "already has a node pool named 'apps' that this stack did not create" in message and "nodePool.name" in message


def test_our_own_pool_in_the_cluster_is_fine(monkeypatch, run_stack, config):
    ours = [{"name": "apps", "nodeConfigs": [{"serviceAccount": "apps-nodes@acme-stg.iam.gserviceaccount.com"}]}]
    monkeypatch.setitem(placeholders.INVOKE_ANSWERS, LOOKUP, lambda args: {**placeholders.existing_cluster(args), "nodePools": ours})
    assert find(run_stack(config), POOL, "apps")


def test_namespace_conflicts():
    existing = {"app": {}, "api": dict(MANAGED_BY), "legacy": {"team": "x"}}
    assert namespace_conflicts(["api", "new"], existing, []) == []  # ours (created by this stack) or absent
    problems = namespace_conflicts(["app", "legacy"], existing, ["legacy"])
    assert len(problems) == 1 and problems[0].startswith("namespace app already exists in the cluster and was not created by this stack")


def test_foreign_namespaces_are_refused_before_anything_is_registered(monkeypatch, config):
    monkeypatch.setattr(cluster_module, "under_mock_engine", lambda: False)
    seen = []

    def live_namespaces(kubeconfig_text: str) -> dict[str, dict[str, str]]:
        seen.append(yaml.safe_load(kubeconfig_text))
        return {"app": {"team": "x"}}

    monkeypatch.setattr(cluster_module, "live_namespaces", live_namespaces)
    message = run_against(monkeypatch, config)
    assert "namespace app already exists" in message and "cluster.adoptNamespaces" in message
    assert seen[0]["clusters"][0]["cluster"]["server"] == "https://PLACEHOLDER.endpoint.invalid"


def test_adopted_namespaces_pass_the_check(monkeypatch, run_stack, config):
    monkeypatch.setattr(cluster_module, "under_mock_engine", lambda: False)
    monkeypatch.setattr(cluster_module, "live_namespaces", lambda text: {"app": {"team": "x"}})
    config["cluster"]["adoptNamespaces"] = ["app"]
    assert find(run_stack(config), ":Namespace", "app")


def test_the_offline_plan_never_reads_the_cluster_live(monkeypatch, run_stack, config):
    def no_cluster(text):
        raise AssertionError("the mock engine must not reach a cluster")

    monkeypatch.setattr(cluster_module, "live_namespaces", no_cluster)
    assert find(run_stack(config), ":Namespace", "app")
