"""cli/edits: guarded flip / rollback / canary edits of the stack file, and the status table."""

from __future__ import annotations

import difflib
import json

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.edits.changes import Change, Refused, plan_canary, plan_flip, plan_rollback, traffic_of
from cli.edits.guarded import edit
from cli.edits.status import status_rows
from cli.stackfile.config import load_stack
from cli.stackfile.yaml_edit import REMOVE
from components.config import ConfigError, parse_stack_config
from tests.conftest import ROOT
from tests.stackfiles import CANARY_COMMENT, HEADER, copy_program, write_stack


def stack(raw, **front):
    raw["apps"]["front"].update(front)
    return parse_stack_config(raw)


@pytest.fixture
def project(tmp_path, config):
    """A project with the program (edits are planned and checked by the policy pack) and a stg stack file."""
    copy_program(tmp_path)
    write_stack(tmp_path, "stg", config)
    return tmp_path


def run(project, *args, stack="stg"):
    return CliRunner().invoke(cli_app, [*args, "--stack", stack, "--root", str(project)])


def refused(root, *args, stack="stg"):
    """Run an edit command that must be refused: exit 1, the stack file byte for byte as it was; the output."""
    path = root / f"Pulumi.{stack}.yaml"
    before = path.read_text()
    result = run(root, *args, stack=stack)
    assert result.exit_code == 1, result.output
    assert path.read_text() == before
    return result.output


# --- guards (pure) -----------------------------------------------------------------------------


def test_flip_sets_active_color_records_the_replaced_one_and_says_the_traffic_change(config):
    change = plan_flip(stack(config), "front", "green")
    assert change.edits == {"apps.front.activeColor": "green", "apps.front.previousColor": "blue"}
    assert change.sentence == "front: blue 100% -> green 100% (preview: green -> blue)"


def test_flip_during_a_canary_also_ends_the_canary(config):
    change = plan_flip(stack(config, canaryWeight=10), "front", "green")
    assert change.edits == {"apps.front.activeColor": "green", "apps.front.previousColor": "blue", "apps.front.canaryWeight": 0}
    assert change.sentence.startswith("front: blue 90% / green 10% -> green 100%")


def test_flip_and_canary_end_a_shadow_mirror(config):
    shadowed = stack(config, mirror={"percent": 10})
    flip = plan_flip(shadowed, "front", "green")
    assert flip.edits["apps.front.mirror"] is REMOVE
    assert flip.sentence.endswith("(mirror: 10% of blue copied to green -> off)")
    canary = plan_canary(shadowed, "front", 10)
    assert canary.edits == {"apps.front.canaryWeight": 10, "apps.front.mirror": REMOVE}
    assert parse_stack_config(config) is not None  # the input config itself stays valid


def test_a_canary_with_a_mirror_is_written_without_the_mirror(project, config):
    config["apps"]["front"]["mirror"] = {"percent": 10}
    write_stack(project, "stg", config)
    result = run(project, "canary", "--app", "front", "--weight", "10")
    assert result.exit_code == 0, result.output
    front = load_stack(project, "stg").apps["front"]
    assert front.canary_weight == 10 and front.mirror is None
    assert "apps.front.mirror removed" in result.output


def test_flip_to_the_active_color_is_a_no_op(config):
    change = plan_flip(stack(config), "front", "blue")
    assert change.edits == {} and "nothing to change" in change.message


def test_flip_to_the_active_color_during_a_canary_ends_it(config):
    change = plan_flip(stack(config, canaryWeight=25), "front", "blue")
    assert change.edits == {"apps.front.canaryWeight": 0}


@pytest.mark.parametrize(
    ("app", "to", "front", "reason"),
    [
        ("web", "green", {}, "unknown app 'web'; apps in this stack: front"),
        ("front", "red", {}, "a color is one of blue, green"),
        ("front", "green", {"green": {"replicas": 3}}, "apps.front.green.image is not set"),
        ("front", "green", {"green": {"image": "r/front:2", "replicas": 0}}, "apps.front.green.replicas is 0"),
    ],
    ids=["unknown-app", "unknown-color", "no-image", "zero-replicas"],
)
def test_unsafe_flips_are_refused_with_the_reason(config, app, to, front, reason):
    with pytest.raises(Refused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        plan_flip(stack(config, **front), app, to)


def test_flip_back_and_forth_records_each_replaced_color(config):
    change = plan_flip(stack(config, activeColor="green", previousColor="blue"), "front", "blue")
    assert change.edits == {"apps.front.activeColor": "blue", "apps.front.previousColor": "green"}


def test_rollback_returns_to_the_previous_color_and_clears_it(config):
    change = plan_rollback(stack(config, activeColor="green", previousColor="blue"), "front")
    assert change.edits == {"apps.front.activeColor": "blue", "apps.front.previousColor": REMOVE}
    assert change.sentence.startswith("front: green 100% -> blue 100%")


def test_rollback_without_a_recorded_flip_has_nothing_to_undo(config):
    """activeColor set by hand (or the flip already rolled back): rollback refuses instead of toggling."""
    with pytest.raises(Refused) as err:
        plan_rollback(stack(config, activeColor="green"), "front")
    assert str(err.value) == (
        "front has nothing to undo: no previousColor recorded (the last flip was already rolled back, "
        "or activeColor was edited by hand); use `python -m cli flip --stack <stack> --app front --to <color>`"
    )


def test_rollback_is_refused_when_the_previous_color_was_scaled_down(config):
    cfg = stack(config, activeColor="green", previousColor="blue", blue={"image": "r/front:1", "replicas": 0})
    with pytest.raises(Refused, match=r"cannot roll front back to blue: apps.front.blue.replicas is 0"):
        plan_rollback(cfg, "front")


def test_rollback_is_refused_when_the_previous_color_has_no_image(config):
    cfg = stack(config, activeColor="green", previousColor="blue", blue={"replicas": 2})
    with pytest.raises(Refused, match=r"apps.front.blue.image is not set"):
        plan_rollback(cfg, "front")


def test_rollback_during_a_canary_is_refused_as_ambiguous(config):
    with pytest.raises(Refused, match="python -m cli canary --stack <stack> --app front --weight 0"):
        plan_rollback(stack(config, activeColor="green", previousColor="blue", canaryWeight=10), "front")


def test_previous_color_equal_to_active_color_is_invalid_config(config):
    with pytest.raises(ConfigError) as err:
        stack(config, activeColor="blue", previousColor="blue")
    assert err.value.problems == [
        (
            "apps.front.previousColor: must differ from activeColor (blue): it names the color a rollback returns to; "
            "remove it (it is recorded by `make flip` and cleared by `make rollback`)"
        )
    ]


def test_canary_gives_the_idle_color_a_share(config):
    change = plan_canary(stack(config), "front", 10)
    assert change.edits == {"apps.front.canaryWeight": 10}
    assert change.sentence == "front: blue 100% -> blue 90% / green 10%"


@pytest.mark.parametrize("weight", [-1, 101, 150])
def test_canary_weight_out_of_range_is_refused(config, weight):
    with pytest.raises(Refused, match=f"canary weight for front: must be between 0 and 99, got {weight}"):
        plan_canary(stack(config), "front", weight)


def test_canary_of_100_is_refused_as_a_flip(config):
    with pytest.raises(Refused) as err:
        plan_canary(stack(config), "front", 100)
    assert str(err.value) == (
        "canary weight for front: 100 is not a canary (a canary is 1-99, 0 = no canary): "
        "to move all traffic to the idle color use flip (`make flip`)"
    )


def test_canary_weight_100_is_invalid_config_with_the_same_advice(config):
    with pytest.raises(ConfigError) as err:
        stack(config, canaryWeight=100)
    assert err.value.problems == [
        (
            "apps.front.canaryWeight: 100 is not a canary (a canary is 1-99, 0 = no canary): "
            "to move all traffic to the idle color use flip (`make flip`)"
        )
    ]


def test_canary_to_an_idle_color_that_cannot_serve_is_refused(config):
    with pytest.raises(Refused, match=r"cannot send 25% of front to green: apps.front.green.replicas is 0"):
        plan_canary(stack(config, green={"image": "r/front:2", "replicas": 0}), "front", 25)


def test_canary_zero_is_allowed_even_when_idle_cannot_serve(config):
    cfg = stack(config, canaryWeight=10)
    assert plan_canary(cfg, "front", 0).sentence == "front: blue 90% / green 10% -> blue 100%"


def test_canary_unknown_app_is_refused(config):
    with pytest.raises(Refused, match="unknown app 'api'"):
        plan_canary(stack(config), "api", 10)


# --- the commands on a real stack file ---------------------------------------------------------


def test_flip_command_edits_one_line_records_previous_color_keeps_comments_and_prints_traffic(project):
    before = (project / "Pulumi.stg.yaml").read_text()
    result = run(project, "flip", "--app", "front", "--to", "green")
    assert result.exit_code == 0, result.output
    after = (project / "Pulumi.stg.yaml").read_text()
    changed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changed == ["-       activeColor: blue", "+       activeColor: green", "+       previousColor: blue"]
    assert after.startswith(HEADER) and CANARY_COMMENT in after
    assert "front: blue 100% -> green 100%" in result.output
    assert load_stack(project, "stg").apps["front"].active_color == "green"
    assert not list(project.glob(".*.edit")), "the staged edit is replaced into place"


def test_canary_command_writes_an_integer(project):
    result = run(project, "canary", "--app", "front", "--weight", "25")
    assert result.exit_code == 0, result.output
    assert f"canaryWeight: 25{CANARY_COMMENT}\n" in (project / "Pulumi.stg.yaml").read_text()
    assert "front: blue 100% -> blue 75% / green 25%" in result.output


def test_refused_command_exits_1_and_leaves_the_file_alone(project, config):
    config["apps"]["front"]["green"] = {"image": "r/front:2", "replicas": 0}
    write_stack(project, "stg", config)
    output = refused(project, "flip", "--app", "front", "--to", "green")
    assert "refused: cannot flip front to green: apps.front.green.replicas is 0" in " ".join(output.split())


def test_no_op_command_exits_0_without_touching_the_file(project):
    before = (project / "Pulumi.stg.yaml").read_text()
    result = run(project, "flip", "--app", "front", "--to", "blue")
    assert result.exit_code == 0 and "nothing to change" in result.output
    assert (project / "Pulumi.stg.yaml").read_text() == before


def test_edits_that_would_make_the_config_invalid_are_not_written(project, config):
    cfg = parse_stack_config(config).apps["front"]
    bad = Change("front", {"apps.front.canaryWeight": 150}, traffic_of(cfg), traffic_of(cfg))
    before = (project / "Pulumi.stg.yaml").read_text()
    with pytest.raises(Refused, match=r"apps.front.canaryWeight: must be between 0 and 99, got 150"):
        edit(project, "stg", lambda _config: bad)
    assert (project / "Pulumi.stg.yaml").read_text() == before
    assert not list(project.glob(".*.edit"))


def test_invalid_stack_file_is_refused_before_any_change(project, config):
    config["apps"]["front"]["canaryWeight"] = 150
    write_stack(project, "stg", config)
    result = run(project, "canary", "--app", "front", "--weight", "10")
    assert result.exit_code == 1 and "Pulumi.stg.yaml is invalid" in result.output


def test_status_shows_colors_images_replicas_and_routing(config):
    config["apps"]["front"].update(canaryWeight=10, green={"image": "r/front:1.5.0", "replicas": 2})
    rows = status_rows(parse_stack_config(config))
    image = "asia-docker.pkg.dev/acme/web/front:1.4.2"
    url = "http://front.stg.example.com/test/"
    assert rows == [("front", "blue", "-", "blue 90% / green 10%", "green", url, "-", f"{image} x3", "r/front:1.5.0 x2")]


def test_status_command_prints_a_table(project):
    result = run(project, "status")
    assert result.exit_code == 0
    assert "front" in result.output and "blue 100%" in result.output and "front:1.5.0 x3" in result.output


def test_edits_are_validated_with_the_stacks_own_rules(tmp_path, config):
    # prod must serve TLS: a prod stack file without gateway.tls is refused, not edited.
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    write_stack(tmp_path, "prod", config)
    assert "gateway.tls: is required for stack prod" in refused(tmp_path, "flip", "--app", "front", "--to", "green", stack="prod")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".edit")] == []


# --- the policy pack guards every edit ---------------------------------------------------------


def under_provisioned(project, config):
    """green has 1 replica while blue runs 3: the config model accepts a flip, the policy pack does not."""
    config["apps"]["front"]["green"]["replicas"] = 1
    return write_stack(project, "stg", config)


def test_flip_to_an_under_provisioned_color_is_refused_with_the_policys_message(project, config):
    under_provisioned(project, config)
    output = refused(project, "flip", "--app", "front", "--to", "green")
    assert output.startswith("refused: the edited Pulumi.stg.yaml fails the policy pack, nothing written:\n")
    assert (
        "[mandatory] flip-target-provisioned (VirtualService front): VirtualService app/front: the active color green "
        "has 1 replicas while blue still runs 3; it needs at least 1 x 3 (scale green up first, scale blue down "
        "after the flip)"
    ) in output
    assert not list(project.glob(".*.edit"))


def test_the_same_flip_passes_with_the_stacks_pack_config(project, config):
    """The project's policies/config/<stack>.json is what the guard applies, as `make plan` and CI do."""
    under_provisioned(project, config)
    (project / "policies" / "config").mkdir(parents=True)
    (project / "policies" / "config" / "stg.json").write_text(json.dumps({"flip-target-provisioned": {"minActiveReplicaRatio": 0.3}}))
    result = run(project, "flip", "--app", "front", "--to", "green")
    assert result.exit_code == 0, result.output
    assert load_stack(project, "stg").apps["front"].active_color == "green"


def test_an_advisory_violation_warns_and_does_not_refuse(project, config):
    config["apps"]["front"]["readOnlyRootFilesystem"] = False
    write_stack(project, "stg", config)
    result = run(project, "canary", "--app", "front", "--weight", "10")
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "warning: [advisory] pod-read-only-root-filesystem (Deployment front-blue): " in output
    assert load_stack(project, "stg").apps["front"].canary_weight == 10


def test_an_advisory_policy_made_mandatory_by_the_pack_config_refuses(project, config):
    config["apps"]["front"]["readOnlyRootFilesystem"] = False
    write_stack(project, "stg", config)
    (project / "policies" / "config").mkdir(parents=True)
    (project / "policies" / "config" / "stg.json").write_text(json.dumps({"pod-read-only-root-filesystem": "mandatory"}))
    output = refused(project, "canary", "--app", "front", "--weight", "10")
    assert "[mandatory] pod-read-only-root-filesystem (Deployment front-green)" in output


def test_an_invalid_pack_config_refuses(project):
    (project / "policies" / "config").mkdir(parents=True)
    (project / "policies" / "config" / "stg.json").write_text(json.dumps({"no-such-policy": "mandatory"}))
    result = run(project, "flip", "--app", "front", "--to", "green")
    assert result.exit_code == 1
    assert "invalid policy pack config for stack stg: unknown policies: no-such-policy" in result.output


def test_an_edit_without_the_program_to_plan_it_is_refused(tmp_path, config):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    write_stack(tmp_path, "stg", config)
    output = refused(tmp_path, "flip", "--app", "front", "--to", "green")
    assert "the edited Pulumi.stg.yaml does not plan, nothing written: no program __main__.py in" in " ".join(output.split())


# --- a canary is a canary; rollback undoes -----------------------------------------------------


def test_canary_command_refuses_100_before_touching_the_file(project):
    output = refused(project, "canary", "--app", "front", "--weight", "100")
    assert (
        "refused: canary weight for front: 100 is not a canary (a canary is 1-99, 0 = no canary): to move all "
        "traffic to the idle color use flip (`make flip`)" in " ".join(output.split())
    )


def test_flip_then_rollback_restores_the_file_and_a_second_rollback_is_refused(project):
    path = project / "Pulumi.stg.yaml"
    original = path.read_text()
    assert run(project, "flip", "--app", "front", "--to", "green").exit_code == 0
    rolled = run(project, "rollback", "--app", "front")
    assert rolled.exit_code == 0, rolled.output
    assert "apps.front.previousColor removed  (same as: pulumi config rm --path apps.front.previousColor -s stg)" in rolled.output
    assert "traffic: front: green 100% -> blue 100%" in rolled.output
    assert path.read_text() == original, "rollback undoes the flip's edit exactly"
    again = refused(project, "rollback", "--app", "front")
    assert "refused: front has nothing to undo: no previousColor recorded" in " ".join(again.split())


def test_rollback_after_activecolor_was_edited_by_hand_is_refused(project, config):
    config["apps"]["front"]["activeColor"] = "green"
    write_stack(project, "stg", config)
    assert "front has nothing to undo" in refused(project, "rollback", "--app", "front")


def test_a_hand_edit_back_to_the_previous_color_makes_the_file_invalid_until_previous_color_goes(project):
    assert run(project, "flip", "--app", "front", "--to", "green").exit_code == 0
    path = project / "Pulumi.stg.yaml"
    path.write_text(path.read_text().replace("activeColor: green", "activeColor: blue"))
    result = run(project, "rollback", "--app", "front")
    assert result.exit_code == 1
    assert "apps.front.previousColor: must differ from activeColor (blue)" in " ".join(result.output.split())
