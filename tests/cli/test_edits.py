"""cli/edits: guarded flip / rollback / canary edits of the stack file, and the status table."""
from __future__ import annotations

import difflib

import pytest
from typer.testing import CliRunner

from cli.__main__ import app as cli_app
from cli.edits import (
    Change,
    Refused,
    apply,
    load_stack,
    plan_canary,
    plan_flip,
    plan_rollback,
    status_rows,
    traffic_of,
)
from components.config import parse_stack_config
from tests.conftest import ROOT
from tests.stackfiles import CANARY_COMMENT, HEADER, write_stack


def stack(raw, **front):
    raw["apps"]["front"].update(front)
    return parse_stack_config(raw)


@pytest.fixture
def project(tmp_path, config):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    write_stack(tmp_path, "stg", config)
    return tmp_path


def run(project, *args):
    return CliRunner().invoke(cli_app, [*args, "--stack", "stg", "--root", str(project)])


# --- guards (pure) -----------------------------------------------------------------------------


def test_flip_sets_active_color_and_says_the_traffic_change(config):
    change = plan_flip(stack(config), "front", "green")
    assert change.edits == {"apps.front.activeColor": "green"}
    assert change.sentence == "front: blue 100% -> green 100% (preview: green -> blue)"


def test_flip_during_a_canary_also_ends_the_canary(config):
    change = plan_flip(stack(config, canaryWeight=10), "front", "green")
    assert change.edits == {"apps.front.activeColor": "green", "apps.front.canaryWeight": 0}
    assert change.sentence.startswith("front: blue 90% / green 10% -> green 100%")


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


def test_rollback_sends_traffic_back_to_the_idle_color(config):
    change = plan_rollback(stack(config, activeColor="green"), "front")
    assert change.edits == {"apps.front.activeColor": "blue"}
    assert change.sentence.startswith("front: green 100% -> blue 100%")


def test_rollback_is_refused_when_the_idle_color_was_scaled_down(config):
    cfg = stack(config, activeColor="green", blue={"image": "r/front:1", "replicas": 0})
    with pytest.raises(Refused, match="cannot roll front back to blue: apps.front.blue.replicas is 0"):
        plan_rollback(cfg, "front")


def test_rollback_is_refused_when_the_idle_color_has_no_image(config):
    cfg = stack(config, activeColor="green", blue={"replicas": 2})
    with pytest.raises(Refused, match="apps.front.blue.image is not set"):
        plan_rollback(cfg, "front")


def test_rollback_during_a_canary_is_refused_as_ambiguous(config):
    with pytest.raises(Refused, match="canary --weight 0"):
        plan_rollback(stack(config, canaryWeight=10), "front")


def test_canary_gives_the_idle_color_a_share(config):
    change = plan_canary(stack(config), "front", 10)
    assert change.edits == {"apps.front.canaryWeight": 10}
    assert change.sentence == "front: blue 100% -> blue 90% / green 10%"


@pytest.mark.parametrize("weight", [-1, 101, 150])
def test_canary_weight_out_of_range_is_refused(config, weight):
    with pytest.raises(Refused, match=f"between 0 and 100, got {weight}"):
        plan_canary(stack(config), "front", weight)


def test_canary_to_an_idle_color_that_cannot_serve_is_refused(config):
    with pytest.raises(Refused, match="cannot send 25% of front to green: apps.front.green.replicas is 0"):
        plan_canary(stack(config, green={"image": "r/front:2", "replicas": 0}), "front", 25)


def test_canary_zero_is_allowed_even_when_idle_cannot_serve(config):
    cfg = stack(config, canaryWeight=10)
    assert plan_canary(cfg, "front", 0).sentence == "front: blue 90% / green 10% -> blue 100%"


def test_canary_unknown_app_is_refused(config):
    with pytest.raises(Refused, match="unknown app 'api'"):
        plan_canary(stack(config), "api", 10)


# --- the commands on a real stack file ---------------------------------------------------------


def test_flip_command_edits_one_line_keeps_comments_and_prints_traffic(project):
    before = (project / "Pulumi.stg.yaml").read_text()
    result = run(project, "flip", "--app", "front", "--to", "green")
    assert result.exit_code == 0, result.output
    after = (project / "Pulumi.stg.yaml").read_text()
    changed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changed == ["-       activeColor: blue", "+       activeColor: green"]
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
    path = write_stack(project, "stg", config)
    before = path.read_text()
    result = run(project, "flip", "--app", "front", "--to", "green")
    assert result.exit_code == 1
    assert "refused: cannot flip front to green: apps.front.green.replicas is 0" in " ".join(result.output.split())
    assert path.read_text() == before


def test_no_op_command_exits_0_without_touching_the_file(project):
    before = (project / "Pulumi.stg.yaml").read_text()
    result = run(project, "flip", "--app", "front", "--to", "blue")
    assert result.exit_code == 0 and "nothing to change" in result.output
    assert (project / "Pulumi.stg.yaml").read_text() == before


def test_edits_that_would_make_the_config_invalid_are_not_written(project, config):
    cfg = parse_stack_config(config).apps["front"]
    bad = Change("front", {"apps.front.canaryWeight": 150}, traffic_of(cfg), traffic_of(cfg))
    before = (project / "Pulumi.stg.yaml").read_text()
    with pytest.raises(Refused, match="apps.front.canaryWeight: must be between 0 and 100, got 150"):
        apply(project, "stg", bad)
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
    assert rows == [("front", "blue", "blue 90% / green 10%", "green", "front:1.4.2 x3", "front:1.5.0 x2")]


def test_status_command_prints_a_table(project):
    result = run(project, "status")
    assert result.exit_code == 0
    assert "front" in result.output and "blue 100%" in result.output and "front:1.5.0 x3" in result.output


def test_edits_are_validated_with_the_stacks_own_rules(tmp_path, config):
    # prod must serve TLS: a prod stack file without gateway.tls is refused, not edited.
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    write_stack(tmp_path, "prod", config)
    before = (tmp_path / "Pulumi.prod.yaml").read_text()
    result = CliRunner().invoke(cli_app, ["flip", "--app", "front", "--to", "green", "--stack", "prod", "--root", str(tmp_path)])
    assert result.exit_code != 0
    assert "gateway.tls: is required for stack prod" in result.output
    assert (tmp_path / "Pulumi.prod.yaml").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".edit")] == []
