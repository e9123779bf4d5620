"""promotion.analysis.checks: custom PromQL checks, validated at config time (placeholders, bounds, names)."""

from __future__ import annotations

import pytest

from components.app.analysis_checks import AnalysisCheck, judge
from components.app.routing import routing_model
from components.app.switch_gate import switch_gate_props
from components.config import ConfigError, parse_stack_config

QUERY = 'sum(rate(http_errors_total{app="{app}",namespace="{namespace}",version="{color}"}[{window}]))'


def analysis(config, *checks):
    config["apps"]["front"]["promotion"] = {"analysis": {"prometheusUrl": "http://127.0.0.1:9090", "checks": list(checks)}}
    return parse_stack_config(config).apps["front"].promotion.analysis


def problems(config, *checks):
    with pytest.raises(ConfigError) as err:
        analysis(config, *checks)
    return err.value.problems


def test_a_check_fills_in_its_placeholders_and_leaves_promql_braces_alone(config):
    (check,) = analysis(config, {"name": "errors", "query": QUERY, "max": 0.5}).checks
    assert check.on_no_data == "fail" and check.bound_text == "max 0.5"
    assert check.promql("front", "app", "green", "5m") == 'sum(rate(http_errors_total{app="front",namespace="app",version="green"}[5m]))'


def test_no_checks_by_default_and_the_gate_inputs_stay_as_they_were(config):
    parsed = analysis(config)
    assert parsed.checks == []
    cfg = parse_stack_config(config).apps["front"]
    assert "checks" not in switch_gate_props("front", cfg, routing_model(cfg), {})["analysis"]


def test_checks_are_gate_inputs_so_a_changed_check_reruns_the_gate(config):
    analysis(config, {"name": "apdex", "query": "avg(apdex{color='{color}'})", "min": 0.9, "onNoData": "wait"})
    cfg = parse_stack_config(config).apps["front"]
    props = switch_gate_props("front", cfg, routing_model(cfg), {})["analysis"]
    assert props["checks"] == [{"name": "apdex", "query": "avg(apdex{color='{color}'})", "min": 0.9, "onNoData": "wait"}]


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            {"name": "errors", "query": 'sum(rate(x{version="{colour}"}[{window}]))', "max": 1},
            "checks.0.query: unknown placeholder {colour}: the known ones are {app}, {namespace}, {color}, {window}",
        ),
        (
            {"name": "errors", "query": 'sum(rate(x{app="{app}"}[5m]))', "max": 1},
            "checks.0.query: must use {color}: a check judges the color about to gain traffic, not the whole app",
        ),
        ({"name": "errors", "query": "  ", "max": 1}, "checks.0.query: must be a PromQL expression, got an empty query"),
        ({"name": "errors", "query": QUERY}, "checks.0.max: check errors: set exactly one of max or min (the bound its value must keep)"),
        (
            {"name": "errors", "query": QUERY, "max": 1, "min": 0},
            "checks.0.max: check errors: set exactly one of max or min (the bound its value must keep)",
        ),
        ({"name": "errors", "query": QUERY, "max": True}, "checks.0.max: must be a number such as 0.5 or 100, got True"),
        (
            {"name": "errors", "query": QUERY, "max": 1, "onNoData": "skip"},
            "checks.0.onNoData: must be 'fail', 'pass' or 'wait', got 'skip'",
        ),
        ({"name": "Errors", "query": QUERY, "max": 1}, "checks.0.name: must be a DNS-1123 label"),
        ({"name": "errors", "query": QUERY, "max": 1, "treshold": 2}, "checks.0.treshold: unknown key"),
    ],
    ids=["unknown-placeholder", "no-color", "empty", "no-bound", "two-bounds", "boolean", "on-no-data", "name", "unknown-key"],
)
def test_invalid_checks_name_the_key_path(config, check, message):
    (problem,) = problems(config, check)
    assert problem.startswith(f"apps.front.promotion.analysis.{message}"), problem


def test_check_names_are_unique_and_not_a_built_in_one(config):
    check = {"name": "errors", "query": QUERY, "max": 1}
    assert problems(config, check, check) == [
        "apps.front.promotion.analysis.checks: check names must be unique, errors appears more than once"
    ]
    assert problems(config, {**check, "name": "p99"}) == [
        "apps.front.promotion.analysis.checks: p99 is a built-in check's name: name the custom check differently"
    ]


@pytest.mark.parametrize(
    ("bound", "value", "failure"),
    [
        ({"max": 0.5}, 0.5, None),
        ({"max": 0.5}, 0.7, "errors 0.7 is above max 0.5"),
        ({"min": 10}, 10, None),
        ({"min": 10}, 3, "errors 3 is below min 10"),
    ],
)
def test_a_value_is_judged_against_its_bound(bound, value, failure):
    check = AnalysisCheck.model_validate({"name": "errors", "query": QUERY, **bound})
    assert judge(check, value, "5m").failure == failure


@pytest.mark.parametrize(
    ("on_no_data", "failure"),
    [("fail", "errors has no data (onNoData fail)"), ("pass", None), ("wait", "errors has no data after waiting 5m (onNoData wait)")],
)
def test_no_data_is_its_own_outcome_never_a_silent_pass(on_no_data, failure):
    check = AnalysisCheck.model_validate({"name": "errors", "query": QUERY, "max": 0, "onNoData": on_no_data})
    result = judge(check, None, "5m")
    assert result.failure == failure
    assert result.line.startswith(f"errors no data (max 0, onNoData {on_no_data}) -> ")
