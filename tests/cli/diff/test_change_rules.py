"""Issue 19.6: a flip in the same change that gives the target color a new image is flagged by `make diff`:
mandatory on prod (the diff fails), advisory on stg: the levels of the project's pack config."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.diff.change_rules import autoscaled_while_serving, untested_targets
from cli.diff.compare import EXIT_CHANGES, EXIT_ERROR, compare
from cli.diff.tree_plan import TreePlan
from cli.shared import traffic
from tests.conftest import ROOT
from tests.stackfiles import copy_program, git, write_stack

BLUE = traffic.Traffic((("blue", 100),), ("green",))
GREEN = traffic.Traffic((("green", 100),), ("blue",))
CANARY = traffic.Traffic((("blue", 90), ("green", 10)), ("green",))


def deployment(name, image):
    inputs = {"spec": {"template": {"spec": {"containers": [{"image": image}]}}}}
    return {"urn": f"urn:{name}", "type": "kubernetes:apps/v1:Deployment", "name": name, "inputs": inputs, "options": {}}


def plan(routing, green_image):
    resources = [deployment("front-blue", "r/front:1.4.2"), deployment("front-green", green_image)]
    return TreePlan({r["urn"]: r for r in resources}, {"front": routing}, {})


def commit_project(tmp_path, stack, config, message):
    """A git project of the program and its pack configs with Pulumi.<stack>.yaml from `config`, committed."""
    copy_program(tmp_path)
    shutil.copytree(ROOT / "policies" / "config", tmp_path / "policies" / "config")
    write_stack(tmp_path, stack, config)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", message)


def diff_stg_against_head(tmp_path):
    return CliRunner().invoke(cli_app, ["diff", "--stack", "stg", "--base", "HEAD", "--root", str(tmp_path)])


def test_a_flip_to_a_new_image_in_the_same_change_is_flagged_mandatory_on_prod():
    (finding,) = untested_targets(plan(BLUE, "r/front:1.5.0"), plan(GREEN, "r/front:1.6.0"), "prod", ROOT)
    assert (finding.policy, finding.level) == ("flip-after-preview", "mandatory")
    assert finding.message == (
        "front: green goes to 100% (blue 100% -> green 100%) in the same change that gives it the image r/front:1.6.0, "
        "which never served preview, canary or mirror traffic; change the image first (merge and pulumi up), preview it, "
        "then move traffic in a change of its own"
    )
    diff = compare(plan(BLUE, "r/front:1.5.0"), plan(GREEN, "r/front:1.6.0"), "prod", "main")
    diff.policy = [finding]
    assert diff.exit_code == EXIT_ERROR


def test_advisory_on_stg_and_for_a_canary_too():
    (finding,) = untested_targets(plan(BLUE, "r/front:1.5.0"), plan(CANARY, "r/front:1.6.0"), "stg", ROOT)
    assert finding.level == "advisory" and finding.message.startswith("front: green goes to 10% (blue 100% -> blue 90% / green 10%)")


def test_a_flip_to_the_previewed_image_or_an_image_change_alone_passes():
    assert untested_targets(plan(BLUE, "r/front:1.5.0"), plan(GREEN, "r/front:1.5.0"), "prod", ROOT) == []
    assert untested_targets(plan(BLUE, "r/front:1.5.0"), plan(BLUE, "r/front:1.6.0"), "prod", ROOT) == []
    assert untested_targets(plan(GREEN, "r/front:1.5.0"), plan(BLUE, "r/front:1.6.0"), "prod", ROOT) == []  # green loses traffic


def test_the_level_is_the_projects_pack_config(tmp_path):
    flip = (plan(BLUE, "r/front:1.5.0"), plan(GREEN, "r/front:1.6.0"))
    assert [f.level for f in untested_targets(*flip, "prod", tmp_path)] == ["advisory"]  # no pack config: the rule's own
    (tmp_path / "policies" / "config").mkdir(parents=True)
    (tmp_path / "policies" / "config" / "prod.json").write_text('{"flip-after-preview": "disabled"}')
    assert untested_targets(*flip, "prod", tmp_path) == []


def test_make_diff_reports_it_from_the_real_plans(tmp_path, config):
    commit_project(tmp_path, "stg", config, "blue serves")
    config["apps"]["front"].update(activeColor="green", previousColor="blue")
    config["apps"]["front"]["green"]["image"] = "asia-docker.pkg.dev/acme/web/front:1.6.0"
    write_stack(tmp_path, "stg", config)
    result = diff_stg_against_head(tmp_path)
    assert result.exit_code == EXIT_CHANGES, result.output  # advisory on stg
    assert "  [advisory] flip-after-preview: front: green goes to 100% (blue 100% -> green 100%)" in result.output


def committed_project(tmp_path, config, stack):
    """A git project whose committed stack file has green on 1.5.0; the working tree gives green 1.6.0."""
    if stack == "prod":
        config["gateway"]["tls"] = {"credentialName": "front-tls"}
    commit_project(tmp_path, stack, config, "green previewed on 1.5.0")
    config["apps"]["front"]["green"]["image"] = "asia-docker.pkg.dev/acme/web/front:1.6.0"
    return write_stack(tmp_path, stack, config)


def edit(tmp_path, stack, *args):
    return CliRunner().invoke(cli_app, [*args, "--stack", stack, "--root", str(tmp_path)])


def test_a_guarded_flip_to_an_uncommitted_image_is_refused_on_prod(tmp_path, config):
    path = committed_project(tmp_path, config, "prod")
    before = path.read_text()
    result = edit(tmp_path, "prod", "flip", "--app", "front", "--to", "green")
    assert result.exit_code == 1, result.output
    assert result.output.startswith(
        "refused: the edit moves traffic to an image nobody previewed, nothing written:\n[mandatory] flip-after-preview: front: green goes to 100%"
    )
    assert path.read_text() == before


def test_a_guarded_canary_to_an_uncommitted_image_warns_on_stg(tmp_path, config):
    path = committed_project(tmp_path, config, "stg")
    result = edit(tmp_path, "stg", "canary", "--app", "front", "--weight", "10")
    assert result.exit_code == 0, result.output
    assert "warning: [advisory] flip-after-preview: front: green goes to 10% (blue 100% -> blue 90% / green 10%)" in result.output
    assert "canaryWeight: 10" in path.read_text()


def test_a_flip_to_the_committed_image_passes(tmp_path, config):
    committed_project(tmp_path, config, "prod")
    git(tmp_path, "commit", "-qam", "green 1.6.0, previewed")
    result = edit(tmp_path, "prod", "flip", "--app", "front", "--to", "green")
    assert result.exit_code == 0 and "flip-after-preview" not in result.output, result.output


def hpa(name):
    return {
        "urn": f"urn:hpa:{name}",
        "type": "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "name": name,
        "inputs": {},
        "options": {},
    }


def autoscaled_plan(routing, *colors):
    tree = plan(routing, "r/front:1.5.0")
    tree.resources.update({f"urn:hpa:front-{c}": hpa(f"front-{c}") for c in colors})
    return tree


def test_autoscaling_turned_on_for_the_serving_color_is_flagged_mandatory_on_prod():
    (finding,) = autoscaled_while_serving(autoscaled_plan(BLUE), autoscaled_plan(BLUE, "blue", "green"), "prod")
    assert (finding.policy, finding.level) == ("autoscaling-while-serving", "mandatory")
    assert finding.message.startswith("front: blue gets its HPA while it serves 100% -> 100% of production")
    assert "resets it to 1 until the HPA's first sync" in finding.message
    assert autoscaled_while_serving(autoscaled_plan(BLUE), autoscaled_plan(CANARY, "green"), "stg") == []  # green was idle


def test_autoscaling_on_an_idle_color_or_already_on_passes_and_stg_is_advisory():
    assert autoscaled_while_serving(autoscaled_plan(GREEN), autoscaled_plan(GREEN, "blue"), "prod") == []  # blue idle
    assert autoscaled_while_serving(autoscaled_plan(BLUE, "blue"), autoscaled_plan(GREEN, "blue"), "prod") == []  # had it
    (finding,) = autoscaled_while_serving(autoscaled_plan(CANARY), autoscaled_plan(CANARY, "green"), "stg")
    assert finding.level == "advisory" and finding.message.startswith("front: green gets its HPA while it serves 10% -> 10%")


def test_make_diff_flags_autoscaling_the_serving_color_from_the_real_plans(tmp_path, config):
    commit_project(tmp_path, "stg", config, "blue serves")
    config["apps"]["front"]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 6}
    for color in ("blue", "green"):
        config["apps"]["front"][color].pop("replicas", None)
    write_stack(tmp_path, "stg", config)
    result = diff_stg_against_head(tmp_path)
    assert result.exit_code == EXIT_CHANGES, result.output  # advisory on stg
    assert "  [advisory] autoscaling-while-serving: front: blue gets its HPA while it serves 100% -> 100%" in result.output
    assert "autoscaling-while-serving: front: green" not in result.output  # idle: nothing to lose
