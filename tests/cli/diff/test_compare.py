"""cli/diff/compare: plan BASE (a git ref) and the working tree, compare by URN, say the traffic change in words."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.diff.compare import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_NO_CHANGES,
    DiffError,
    FieldChange,
    compare,
    diff_stack,
    field_changes,
    render_markdown,
    render_text,
)
from cli.diff.tree_plan import TreePlan
from cli.shared import traffic
from cli.stackfile.yaml_edit import edit_text
from policies.guardrails.evaluate import Finding
from policies.guardrails.model import Resource
from tests.conftest import BASE_CONFIG, PROJECT
from tests.stackfiles import copy_program, git, write_stack

# --- pure parts --------------------------------------------------------------------------------


def test_field_changes_name_leaf_paths():
    before = {"metadata": {"labels": {"app.kubernetes.io/name": "a"}}, "spec": {"http": [{"w": 100}], "x": 1}}
    after = {"metadata": {"labels": {"app.kubernetes.io/name": "b"}}, "spec": {"http": [{"w": 90}, {"w": 10}], "y": 2}}
    assert field_changes(before, after) == [
        FieldChange('metadata.labels["app.kubernetes.io/name"]', "a", "b"),
        FieldChange("spec.http[0].w", 100, 90),
        FieldChange("spec.http[1]", "(absent)", {"w": 10}),
        FieldChange("spec.x", 1, "(absent)"),
        FieldChange("spec.y", "(absent)", 2),
    ]


def test_traffic_sentences():
    blue = traffic.Traffic((("blue", 100),), ("green",))
    canary = traffic.Traffic((("blue", 90), ("green", 10)), ("green",))
    green = traffic.Traffic((("green", 100),), ("blue",))
    assert traffic.changes({"front": blue}, {"front": canary}) == ["front: blue 100% -> blue 90% / green 10%"]
    assert traffic.changes({"front": blue}, {"front": green}) == ["front: blue 100% -> green 100%", "front preview: green -> blue"]
    assert traffic.changes({}, {"api": green}) == ["api: (none) -> green 100%"]
    assert traffic.changes({"front": blue}, {"front": blue}) == []


def test_traffic_from_rendered_routing_rows():
    rows: list[tuple[str, str, float]] = [
        ("path /test (exact)", "green", 100),
        ("header x-preview=true", "green", 100),
        ("default", "blue", 90),
        ("default", "green", 10),
    ]
    assert traffic.from_routing_rows(rows) == traffic.Traffic((("blue", 90), ("green", 10)), ("green",))


def deployment(name, replicas=3, image="r/a:1"):
    inputs = {"spec": {"replicas": replicas, "template": {"spec": {"containers": [{"image": image}]}}}}
    return {"urn": f"urn:{name}", "type": "kubernetes:apps/v1:Deployment", "name": name, "inputs": inputs, "options": {}}


def plan_of(*resources):
    return TreePlan({r["urn"]: r for r in resources}, {}, {})


def test_impact_tells_pod_restarts_from_scaling_and_new_deployments():
    base = plan_of(deployment("front-blue"), deployment("front-green"), deployment("old-blue"))
    head = plan_of(deployment("front-blue", replicas=0), deployment("front-green", image="r/a:2"), deployment("api-blue", replicas=2))
    diff = compare(base, head, "stg", "main")
    assert diff.impact == [
        "api-blue: new Deployment, 2 pods start",
        "old-blue: Deployment deleted, its pods stop",
        "front-blue: scales 3 -> 0 replicas, no restart",
        "front-green: pods restart (rolling update: spec.template.spec.containers[0].image)",
    ]
    assert diff.exit_code == EXIT_CHANGES


def test_identical_plans_are_no_changes():
    diff = compare(plan_of(deployment("a")), plan_of(deployment("a")), "stg", "main")
    assert not diff.has_changes and diff.exit_code == EXIT_NO_CHANGES and diff.unchanged == 1


# --- real git history --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A repo whose project lives in `infra/`, with three commits: valid, invalid config, flipped (and valid).

    The commits carry a `cli/` package that fails on import: the diff must use this checkout's engine,
    never the one in the tree it plans.
    """
    repo = tmp_path_factory.mktemp("history")
    project = repo / "infra"
    copy_program(project)
    (project / "cli").mkdir()
    (project / "cli" / "__init__.py").write_text("raise ImportError('the planned tree must not provide the engine')\n")
    path = write_stack(project, "stg", BASE_CONFIG)
    valid = path.read_text()
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "valid")
    path.write_text(edit_text(valid, PROJECT, {"apps.front.canaryWeight": 150}))
    git(repo, "commit", "-qam", "invalid canary weight")
    path.write_text(edit_text(valid, PROJECT, {"apps.front.activeColor": "green"}))
    git(repo, "commit", "-qam", "flip front to green")
    return project


@pytest.fixture(scope="module")
def flip_diff(history):
    return diff_stack("stg", "HEAD~2", history)


def test_flip_against_the_commit_before_it(flip_diff):
    assert flip_diff.exit_code == EXIT_CHANGES
    assert flip_diff.policy == [], "the working tree passes the policy pack"
    assert flip_diff.traffic == ["front: blue 100% -> green 100%", "front preview: green -> blue"]
    assert flip_diff.impact == ["routing and config only: no Deployment changes, no pod restarts"]
    assert not flip_diff.added and not flip_diff.removed
    vs_fields = next(c for r, c in flip_diff.changed if r["type"].endswith(":VirtualService") and r["name"] == "front")
    assert any(f.path.endswith("destination.subset") and (f.before, f.after) == ("blue", "green") for f in vs_fields)


def test_markdown_leads_with_traffic_and_folds_field_changes(flip_diff):
    text = render_markdown(flip_diff)
    assert text.index("- `front: blue 100% -> green 100%`") < text.index(
        "| ~ | `front` | `kubernetes:networking.istio.io/v1:VirtualService` |"
    )
    assert "<details><summary>Field changes" in text and "```diff" in text
    assert '-   data.activeColor: "blue"\n+   data.activeColor: "green"' in text
    assert "**Policies**: no violations" in text


def test_cli_no_changes_exits_0_and_writes_markdown(history, tmp_path):
    markdown = tmp_path / "diff.md"
    result = CliRunner().invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(history), "--markdown", str(markdown)])
    assert result.exit_code == EXIT_NO_CHANGES, result.output
    assert "no changes" in result.output and "**No changes**" in markdown.read_text()


def test_invalid_config_at_base_is_an_error(history):
    with pytest.raises(DiffError, match=r"apps.front.canaryWeight: must be between 0 and 99, got 150"):
        diff_stack("stg", "HEAD~1", history)


def test_unknown_ref_is_an_error(history):
    with pytest.raises(DiffError, match="'no-such-branch' is not a commit"):
        diff_stack("stg", "no-such-branch", history)


@pytest.mark.parametrize("first_commit", ["empty", "other files only"])
def test_a_base_before_the_project_existed_makes_the_whole_stack_new(tmp_path, first_commit):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    if first_commit == "empty":
        git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
    else:
        (repo / "README.md").write_text("hello\n")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", "readme")
    project = repo / "infra"
    copy_program(project)
    write_stack(project, "stg", BASE_CONFIG)
    result = diff_stack("stg", "HEAD", project)
    assert result.exit_code == EXIT_CHANGES
    assert "Pulumi.stg.yaml does not exist at BASE: the whole stack is new" in result.notes
    assert result.removed == [] and any(r["name"] == "front-blue" for r in result.added)


def test_cli_invalid_working_tree_exits_1(history):
    path = history / "Pulumi.stg.yaml"
    flipped = path.read_text()
    try:
        path.write_text(flipped.replace("activeColor: green", "activeColor: purple"))
        result = CliRunner().invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(history)])
    finally:
        path.write_text(flipped)
    assert result.exit_code == EXIT_ERROR
    assert "working tree: the program refused to plan" in result.output and "apps.front.activeColor" in result.output


def test_cli_refuses_a_cluster_replacement_and_flags_a_pool_replacement(tmp_path):
    """`make diff` on a replace-forcing change: a pool replacement is shown loudly (exit 2), a cluster one fails (exit 1)."""
    import copy

    project = tmp_path / "project"
    copy_program(project)
    managed = copy.deepcopy(BASE_CONFIG)
    managed["cluster"]["manage"] = True
    path = write_stack(project, "stg", managed)
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "managed cluster")
    runner = CliRunner()

    path.write_text(edit_text(path.read_text(), PROJECT, {"nodePool.serviceAccountId": "apps-nodes-v2"}))
    pool = runner.invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(project)])
    assert pool.exit_code == EXIT_CHANGES, pool.output
    assert "!! REPLACE: NodePool apps (changed: nodeConfig.serviceAccount) is deleted first" in pool.output

    git(project, "checkout", "-q", "Pulumi.stg.yaml")
    path.write_text(edit_text(path.read_text(), PROJECT, {"cluster.network": "other-vpc"}))
    cluster = runner.invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(project)])
    assert cluster.exit_code == EXIT_ERROR, cluster.output
    assert "!! REFUSED: Cluster acme-stg would be REPLACED (changed: network)" in cluster.output


# --- the policy pack over the working tree -----------------------------------------------------


def finding(level, policy, name, message):
    resource = Resource(f"kubernetes:apps/v1:{name.split()[0]}", name.split()[1], f"urn:{name}", {})
    return Finding(policy, "description", level, resource, message)


def test_markdown_lists_violations_in_a_table_mandatory_first():
    diff = compare(plan_of(deployment("a")), plan_of(deployment("a", replicas=2)), "stg", "main")
    diff.policy = [
        finding("advisory", "image-pinned", "Deployment a", "image r/a:1 | not pinned"),
        finding("mandatory", "pod-probes", "Deployment a", "no readinessProbe"),
    ]
    assert diff.exit_code == EXIT_ERROR
    text = render_markdown(diff)
    assert "> [!CAUTION]\n> **REFUSED: 1 mandatory policy violation: `pulumi up` with the policy pack would refuse this**" in text
    assert (
        "**Policies**: 2 violations (1 mandatory, 1 advisory)\n\n"
        "| level | policy | resource | message |\n|---|---|---|---|\n"
        "| **mandatory** | `pod-probes` | `Deployment a` | no readinessProbe |\n"
        "| advisory | `image-pinned` | `Deployment a` | image r/a:1 \\| not pinned |\n"
    ) in text
    assert text.index("**Policies**") < text.index("**Traffic**")


def test_an_advisory_violation_alone_keeps_the_changes_exit_code():
    diff = compare(plan_of(deployment("a")), plan_of(deployment("a", replicas=2)), "stg", "main")
    diff.policy = [finding("advisory", "image-pinned", "Deployment a", "not pinned")]
    assert diff.exit_code == EXIT_CHANGES
    assert "policies: 1 violation (0 mandatory, 1 advisory)\n  [advisory] image-pinned (Deployment a): not pinned\n" in render_text(diff)


@pytest.fixture
def committed_project(tmp_path):
    project = tmp_path / "project"
    copy_program(project)
    path = write_stack(project, "stg", BASE_CONFIG)
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "valid")
    return project, path


def test_cli_reports_a_mandatory_violation_and_exits_1(committed_project, tmp_path):
    """A flip to a color with 1 replica while the other runs 3: valid config, refused by flip-target-provisioned."""
    project, path = committed_project
    path.write_text(edit_text(path.read_text(), PROJECT, {"apps.front.green.replicas": 1, "apps.front.activeColor": "green"}))
    markdown = tmp_path / "diff.md"
    result = CliRunner().invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(project), "--markdown", str(markdown)])
    assert result.exit_code == EXIT_ERROR, result.output
    violation = (
        "VirtualService app/front: the active color green has 1 replicas while blue still runs 3; it needs at least "
        "1 x 3 (scale green up first, scale blue down after the flip)"
    )
    assert "!! REFUSED: 1 mandatory policy violation: `pulumi up` with the policy pack would refuse this" in result.output
    assert (
        f"policies: 1 violation (1 mandatory, 0 advisory)\n  [mandatory] flip-target-provisioned (VirtualService front): {violation}\n"
        in result.output
    )
    assert "traffic:\n  front: blue 100% -> green 100%" in result.output, "the diff itself is still shown"
    assert f"| **mandatory** | `flip-target-provisioned` | `VirtualService front` | {violation} |" in markdown.read_text()


def test_cli_uses_the_working_trees_pack_config(committed_project, plan_trees_once):
    project, path = committed_project
    path.write_text(edit_text(path.read_text(), PROJECT, {"apps.front.readOnlyRootFilesystem": False}))
    runner = CliRunner()
    advisory = runner.invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(project)])
    assert advisory.exit_code == EXIT_CHANGES, advisory.output
    assert "[advisory] pod-read-only-root-filesystem (Deployment front-blue)" in advisory.output
    assert len(plan_trees_once) == 1  # the same plans: only the pack config changes
    (project / "policies" / "config").mkdir(parents=True)
    (project / "policies" / "config" / "stg.json").write_text('{"pod-read-only-root-filesystem": "mandatory"}')
    mandatory = runner.invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(project)])
    assert mandatory.exit_code == EXIT_ERROR, mandatory.output
    assert "[mandatory] pod-read-only-root-filesystem (Deployment front-blue)" in mandatory.output
