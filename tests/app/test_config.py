"""`apps.<name>` config (components/app/config.py): the mirror, validated before anything registers."""

from __future__ import annotations

import pulumi
import pytest

from cli.engine.mock import run_program
from cli.engine.recording import Recording
from components.config import ConfigError, parse_stack_config
from tests.conftest import engine_config


def problems(config, **front) -> list[str]:
    config["apps"]["front"].update(front)
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    return err.value.problems


@pytest.mark.parametrize("percent,parsed", [(10, 10), (100, 100), (0.5, 0.5), (0.0001, 0.0001), ("2.5", 2.5), (10.0, 10)])
def test_percent_is_a_number_above_0_up_to_100(config, percent, parsed):
    config["apps"]["front"]["mirror"] = {"percent": percent}
    mirror = parse_stack_config(config).apps["front"].mirror
    assert mirror is not None and mirror.percent == parsed
    # Whole numbers stay integers, so the manifest reads `value: 10`, not `10.0`.
    assert isinstance(mirror.percent, int) == float(parsed).is_integer()


def test_no_mirror_by_default(config):
    assert parse_stack_config(config).apps["front"].mirror is None


@pytest.mark.parametrize(
    "mirror,expected",
    [
        ({"percent": 0}, "apps.front.mirror.percent: must be greater than 0 and at most 100, such as 10 or 0.5, got 0"),
        ({"percent": -5}, "apps.front.mirror.percent: must be greater than 0 and at most 100, such as 10 or 0.5, got -5"),
        ({"percent": 150}, "apps.front.mirror.percent: must be greater than 0 and at most 100, such as 10 or 0.5, got 150"),
        (
            {"percent": 0.00005},
            "apps.front.mirror.percent: must have at most 4 decimal places (Istio mirrors in steps of 0.0001%), got 5e-05",
        ),
        ({"percent": True}, "apps.front.mirror.percent: must be a number, got true"),
        ({"percent": "10%"}, "apps.front.mirror.percent: must be a number, got '10%'"),
        ({}, "apps.front.mirror.percent: is required"),
        ({"percent": 10, "to": "green"}, "apps.front.mirror.to: unknown key"),
    ],
    ids=["zero", "negative", "over-100", "too-fine", "bool", "text", "missing", "unknown-key"],
)
def test_bad_percent_names_the_key_path(config, mirror, expected):
    found = problems(config, mirror=mirror)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_mirror_needs_an_idle_color_with_an_image(config):
    assert problems(config, green={}, mirror={"percent": 10}) == [
        "apps.front.mirror: copies traffic to the idle color green, which has no image (green.image is not set)"
    ]


def test_mirror_needs_an_idle_color_with_pods(config):
    assert problems(config, activeColor="green", blue={"image": "r/front:1", "replicas": 0}, mirror={"percent": 10}) == [
        "apps.front.mirror: copies traffic to the idle color blue, which has no pods (blue.replicas is 0)"
    ]


def test_mirror_is_refused_during_a_canary(config):
    assert problems(config, canaryWeight=10, mirror={"percent": 5}) == [
        (
            "apps.front.mirror: cannot be combined with canaryWeight 10: Istio mirrors the whole default route, so green "
            "would also get copies of its own canary requests; remove mirror before starting the canary"
        )
    ]


def test_canary_and_mirror_to_an_idle_color_without_pods_are_two_problems_reported_at_once(config):
    found = problems(config, canaryWeight=10, green={"image": "r/front:2", "replicas": 0}, mirror={"percent": 5})
    assert [line.split(":")[0] for line in found] == ["apps.front.green.replicas", "apps.front.mirror"]


def test_program_rejects_a_bad_mirror_before_registering_anything(config):
    config["apps"]["front"].update(green={}, mirror={"percent": 10})
    recording = Recording()
    with pytest.raises(pulumi.RunError) as err:
        run_program("test", engine_config(config), recording=recording)
    assert "apps.front.mirror: copies traffic to the idle color green, which has no image" in str(err.value)
    assert "Traceback" not in str(err.value) and recording.resources == []
