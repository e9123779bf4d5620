"""apps.<name>.promotion.steps and promotion.bake: the step plan `make release` walks (cli/release/)."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config


def promotion(config, **keys):
    config["apps"]["front"]["promotion"] = keys
    return parse_stack_config(config).apps["front"].promotion


def test_steps_are_optional_and_bake_defaults_to_five_minutes(config):
    parsed = promotion(config)
    assert parsed.steps is None and parsed.bake == "5m"


def test_a_valid_plan_is_kept_as_written(config):
    parsed = promotion(config, steps=[10, 25, 50, 100], bake="30s")
    assert parsed.steps == [10, 25, 50, 100] and parsed.bake == "30s"


def test_a_single_step_is_a_plain_flip(config):
    assert promotion(config, steps=[100]).steps == [100]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"steps": []}, "steps: must list at least one step, ending at 100 (the flip), e.g. [10, 25, 50, 100]"),
        ({"steps": [0, 50, 100]}, "steps: must be the idle color's weights between 1 and 100, got 0 in [0, 50, 100]"),
        ({"steps": [10, 150]}, "steps: must be the idle color's weights between 1 and 100, got 150 in [10, 150]"),
        ({"steps": [10, 50, 50, 100]}, "steps: must be strictly increasing, got [10, 50, 50, 100]"),
        ({"steps": [50, 25, 100]}, "steps: must be strictly increasing, got [50, 25, 100]"),
        ({"steps": [10, 25, 50]}, "steps: must end at 100 (the flip), got [10, 25, 50]"),
        ({"steps": [True, 100]}, "steps.0: must be a whole number, got true"),
        ({"bake": "0s"}, "bake: must be a duration such as 30s, 5m or 1h, got '0s'"),
        ({"bake": "5 minutes"}, "bake: must be a duration such as 30s, 5m or 1h, got '5 minutes'"),
        ({"bake": "25h"}, "bake: must be between 1s and 24h, got 25h"),
    ],
    ids=["empty", "zero", "above-100", "repeated", "decreasing", "no-flip", "boolean", "zero-bake", "words", "too-long"],
)
def test_invalid_plans_name_the_key_path(config, keys, message):
    with pytest.raises(ConfigError) as err:
        promotion(config, **keys)
    assert err.value.problems == [f"apps.front.promotion.{message}"]


def test_a_fractional_step_is_refused(config):
    with pytest.raises(ConfigError) as err:
        promotion(config, steps=[12.5, 100])
    assert err.value.problems[0].startswith("apps.front.promotion.steps.0: ")
