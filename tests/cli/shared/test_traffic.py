"""The mirror in words: routing tables, `make status`, and `make diff`'s traffic lines."""

from __future__ import annotations

import pytest

from cli.diff.compare import EXIT_CHANGES, diff_stack
from cli.edits.status import status_rows
from cli.engine.plan import routing_tables
from cli.shared import traffic
from cli.stackfile.yaml_edit import edit_text
from components.app import istio_routing
from components.app.routing import routing_model
from components.config import parse_stack_config
from tests.cli.engine.test_plan import copy_project, plan_cli
from tests.conftest import BASE_CONFIG, PROJECT
from tests.stackfiles import copy_program, git, write_stack

BLUE = traffic.Traffic((("blue", 100),), ("green",))
MIRRORED = traffic.Traffic((("blue", 100),), ("green",), ("green", 10))


def rendered_rows(config, **front):
    config["apps"]["front"].update(front)
    stack = parse_stack_config(config)
    app = stack.apps["front"]
    return routing_tables([istio_routing.virtual_service("front", app, stack.gateway, routing_model(app))])["front"]


def test_routing_table_shows_the_mirror_after_its_route(config):
    assert rendered_rows(config, mirror={"percent": 0.5})[-2:] == [("default", "blue", 100), ("mirror of default", "green", 0.5)]
    assert not any(match.startswith("mirror") for match, _, _ in rendered_rows(config, mirror=None))


def test_a_mirror_without_a_percentage_reads_as_100(config):
    """Istio's default when mirrorPercentage is absent, for a VirtualService written by another program version."""
    vs = {
        "kind": "VirtualService",
        "metadata": {"name": "front"},
        "spec": {
            "http": [
                {"route": [{"destination": {"host": "front", "subset": "blue"}}], "mirror": {"host": "front", "subset": "green"}},
            ]
        },
    }
    assert routing_tables([vs])["front"] == [("default", "blue", 100), ("mirror of default", "green", 100)]


def test_traffic_from_rows_keeps_the_mirror_apart_from_split_and_preview(config):
    assert traffic.from_routing_rows(rendered_rows(config, mirror={"percent": 10})) == MIRRORED
    assert traffic.from_routing_rows(rendered_rows(config, mirror=None)) == BLUE


@pytest.mark.parametrize(
    "before,after,lines",
    [
        (BLUE, MIRRORED, ["front mirror: off -> 10% of blue copied to green"]),
        (MIRRORED, BLUE, ["front mirror: 10% of blue copied to green -> off"]),
        (
            MIRRORED,
            traffic.Traffic((("blue", 100),), ("green",), ("green", 0.5)),
            ["front mirror: 10% of blue copied to green -> 0.5% of blue copied to green"],
        ),
        # A flip that keeps the mirror turns it around: the old color now gets the copies.
        (
            MIRRORED,
            traffic.Traffic((("green", 100),), ("blue",), ("blue", 10)),
            [
                "front: blue 100% -> green 100%",
                "front preview: green -> blue",
                "front mirror: 10% of blue copied to green -> 10% of green copied to blue",
            ],
        ),
    ],
    ids=["on", "off", "percent", "flip"],
)
def test_mirror_changes_read_as_traffic_changes(before, after, lines):
    assert traffic.changes({"front": before}, {"front": after}) == lines


def test_an_app_that_appears_with_a_mirror_says_so():
    assert traffic.changes({}, {"api": MIRRORED}) == ["api: (none) -> blue 100%", "api mirror: off -> 10% of blue copied to green"]


def test_status_traffic_column_shows_the_mirror(config):
    config["apps"]["front"]["mirror"] = {"percent": 10}
    assert status_rows(parse_stack_config(config))[0][3] == "blue 100% (10% copied to green)"
    del config["apps"]["front"]["mirror"]
    assert status_rows(parse_stack_config(config))[0][3] == "blue 100%"


def test_plan_prints_the_mirror_row(tmp_path):
    root = copy_project(tmp_path)
    path = root / "Pulumi.stg.yaml"
    path.write_text(edit_text(path.read_text(), PROJECT, {"apps.front.mirror.percent": 10}))
    result = plan_cli(root, "stg")
    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout[result.stdout.index("routing: front") :]
    [row] = [line for line in table.splitlines() if "mirror of default" in line]
    assert [cell.strip() for cell in row.split("│")[1:4]] == ["mirror of default", "green", "10"]


def test_diff_says_a_mirror_in_words_and_touches_only_the_virtual_service(tmp_path):
    copy_program(tmp_path)
    path = write_stack(tmp_path, "stg", BASE_CONFIG)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "no mirror")
    path.write_text(edit_text(path.read_text(), PROJECT, {"apps.front.mirror.percent": 10}))
    diff = diff_stack("stg", "HEAD", tmp_path)
    assert diff.exit_code == EXIT_CHANGES
    assert diff.traffic == ["front mirror: off -> 10% of blue copied to green"]
    assert diff.impact == ["routing and config only: no Deployment changes, no pod restarts"]
    [(resource, fields)] = diff.changed
    assert (resource["type"], resource["name"]) == ("kubernetes:networking.istio.io/v1:VirtualService", "front")
    assert sorted(f.path for f in fields) == ["spec.http[2].mirror", "spec.http[2].mirrorPercentage"]
