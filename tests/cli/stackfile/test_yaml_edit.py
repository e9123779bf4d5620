"""cli/stackfile/yaml_edit: in-place edits of Pulumi.<stack>.yaml equal `pulumi config set --path`, comments and order kept."""

from __future__ import annotations

import difflib

import pytest
import yaml

from cli.stackfile.yaml_edit import REMOVE, UnsafeEdit, edit_text
from tests.conftest import BASE_CONFIG, PROJECT, ROOT
from tests.stackfiles import CANARY_COMMENT, HEADER, stack_text


def changed_lines(old: str, new: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_project_stack_files_survive_a_round_trip_byte_for_byte(stack):
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert edit_text(text, PROJECT, {}) == text


def test_flip_changes_exactly_one_line_and_keeps_comments():
    text = stack_text(BASE_CONFIG)
    new = edit_text(text, PROJECT, {"apps.front.activeColor": "green"})
    assert changed_lines(text, new) == ["-      activeColor: blue", "+      activeColor: green"]
    assert new.startswith(HEADER)


def test_edit_keeps_end_of_line_comment_on_the_edited_key():
    new = edit_text(stack_text(BASE_CONFIG), PROJECT, {"apps.front.canaryWeight": 25})
    assert f"canaryWeight: 25{CANARY_COMMENT}\n" in new


def test_edit_equals_pulumi_config_set_path_semantically():
    # `pulumi config set --path apps.front.canaryWeight 25` stores a number, `... activeColor green` a string.
    text = stack_text(BASE_CONFIG)
    new = edit_text(text, PROJECT, {"apps.front.activeColor": "green", "apps.front.canaryWeight": 25})
    expected = yaml.safe_load(text)
    expected["config"][f"{PROJECT}:apps"]["front"].update(activeColor="green", canaryWeight=25)
    assert yaml.safe_load(new) == expected


def test_quoted_value_stays_quoted_the_same_way():
    text = 'config:\n  bluegreen-platform:apps:\n    front:\n      activeColor: "blue"  # production color\n'
    new = edit_text(text, PROJECT, {"apps.front.activeColor": "green"})
    assert new == 'config:\n  bluegreen-platform:apps:\n    front:\n      activeColor: "green"  # production color\n'


def test_flow_maps_and_key_order_are_kept():
    text = "config:\n  bluegreen-platform:apps:\n    front:\n      green: {image: a/b:1, replicas: 3}\n      activeColor: blue\n"
    new = edit_text(text, PROJECT, {"apps.front.green.replicas": 0})
    assert new == text.replace("replicas: 3", "replicas: 0")


def test_missing_maps_are_created_like_pulumi_does():
    text = "config:\n  bluegreen-platform:gateway:\n    namespace: app\n"
    new = edit_text(text, PROJECT, {"apps.front.canaryWeight": 10})
    assert yaml.safe_load(new)["config"] == {
        f"{PROJECT}:gateway": {"namespace": "app"},
        f"{PROJECT}:apps": {"front": {"canaryWeight": 10}},
    }


def test_a_bare_top_level_key_is_edited_where_it_is():
    text = "config:\n  apps:\n    front:\n      activeColor: blue\n"
    assert edit_text(text, PROJECT, {"apps.front.activeColor": "green"}) == text.replace("blue", "green")


def test_sequence_indentation_is_kept_for_both_styles():
    indented = "config:\n  bluegreen-platform:gateway:\n    hosts:\n      - a.example.com\n    name: gw\n"
    flush = "config:\n  bluegreen-platform:gateway:\n    hosts:\n    - a.example.com\n    name: gw\n"
    for text in (indented, flush):
        assert edit_text(text, PROJECT, {"gateway.name": "gw2"}) == text.replace("gw\n", "gw2\n")


def test_mixed_indentation_is_refused_rather_than_reformatted():
    text = (
        "config:\n"
        "  bluegreen-platform:gateway:\n"
        "    hosts:\n"
        "      - a.example.com\n"
        "  bluegreen-platform:apps:\n"
        "    front:\n"
        "      canaryWeight: 0\n"
        "      preview:\n"
        "        allowedSourceRanges:\n"
        "        - 10.0.0.0/8\n"
    )
    with pytest.raises(UnsafeEdit, match=r"10.0.0.0/8"):
        edit_text(text, PROJECT, {"apps.front.canaryWeight": 10})


APP_TEXT = (
    "config:\n"
    "  bluegreen-platform:apps:\n"
    "    front:\n"
    "      activeColor: blue  # live color\n"
    "      # the blue deployment\n"
    "      blue: {image: r/front:1, replicas: 3}\n"
    "      preview:\n"
    "        pathPrefix: /test\n"
    "        # testers only\n"
    "      canaryWeight: 0\n"
)


def test_a_new_key_goes_right_after_the_key_edited_before_it():
    new = edit_text(APP_TEXT, PROJECT, {"apps.front.activeColor": "green", "apps.front.previousColor": "blue"})
    assert changed_lines(APP_TEXT, new) == [
        "-      activeColor: blue  # live color",
        "+      activeColor: green  # live color",
        "+      previousColor: blue",
    ]
    # The comment line introducing `blue` still sits right above it.
    assert "      previousColor: blue\n      # the blue deployment\n      blue:" in new


def test_a_new_key_without_a_neighbour_edit_goes_last_like_pulumi_config_set():
    new = edit_text(APP_TEXT, PROJECT, {"apps.front.previousColor": "blue"})
    assert new == APP_TEXT + "      previousColor: blue\n"


def test_remove_takes_exactly_the_keys_line_and_keeps_the_comments_below_it():
    flipped = edit_text(APP_TEXT, PROJECT, {"apps.front.activeColor": "green", "apps.front.previousColor": "blue"})
    back = edit_text(flipped, PROJECT, {"apps.front.activeColor": "blue", "apps.front.previousColor": REMOVE})
    assert back == APP_TEXT


def test_remove_after_a_block_map_keeps_that_maps_last_comment():
    new = edit_text(APP_TEXT, PROJECT, {"apps.front.canaryWeight": REMOVE})
    assert changed_lines(APP_TEXT, new) == ["-      canaryWeight: 0"]
    assert new.endswith("        # testers only\n")


def test_removing_a_missing_key_changes_nothing():
    assert edit_text(APP_TEXT, PROJECT, {"apps.front.previousColor": REMOVE}) == APP_TEXT


def test_remove_equals_pulumi_config_rm_path_semantically():
    new = edit_text(APP_TEXT, PROJECT, {"apps.front.canaryWeight": REMOVE})
    expected = yaml.safe_load(APP_TEXT)
    del expected["config"][f"{PROJECT}:apps"]["front"]["canaryWeight"]
    assert yaml.safe_load(new) == expected


def test_removing_a_first_key_that_carries_comment_lines_is_refused():
    # Those lines belong to the next key, and there is no key before to keep them on: refuse, never drop them.
    text = "config:\n  bluegreen-platform:apps:\n    front:\n      previousColor: blue\n      # why blue\n      blue: {}\n"
    with pytest.raises(UnsafeEdit, match="# why blue"):
        edit_text(text, PROJECT, {"apps.front.previousColor": REMOVE})


def test_removing_under_a_missing_map_creates_nothing():
    assert edit_text(APP_TEXT, PROJECT, {"apps.web.previousColor": REMOVE}) == APP_TEXT


@pytest.mark.parametrize("mirror", ["      mirror:\n        percent: 10\n", "      mirror: {percent: 10}\n"], ids=["block", "flow"])
def test_removing_a_map_takes_exactly_its_lines(mirror):
    text = "config:\n  bluegreen-platform:apps:\n    front:\n      activeColor: blue\n" + mirror + "      canaryWeight: 0\n"
    new = edit_text(text, PROJECT, {"apps.front.mirror": REMOVE, "apps.front.canaryWeight": 10})
    assert new == "config:\n  bluegreen-platform:apps:\n    front:\n      activeColor: blue\n      canaryWeight: 10\n"
