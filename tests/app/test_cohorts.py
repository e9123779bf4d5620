"""apps.<name>.cohorts: A/B routes by header or cookie to the idle color, ahead of the weighted default route."""

from __future__ import annotations

import re

import pytest

from cli.edits.changes import Refused, plan_cohorts, plan_flip, traffic_of
from cli.edits.status import cohorts_cell
from cli.engine.plan import routing_tables
from cli.shared.traffic import changes, from_routing_rows
from components.app.istio_routing import virtual_service
from components.app.routing import ValueMatch, routing_model
from components.app.switch_gate import switch_gate_props
from components.config import ConfigError, parse_stack_config

COHORTS = [
    {"header": {"name": "x-beta", "value": "true"}},
    {"cookie": {"name": "beta", "prefix": "int-"}},
    {"header": {"name": "user-agent", "regex": ".*Android.*"}},
]


def stack(config, active=True, **front):
    config["apps"]["front"].update(cohorts=COHORTS, cohortsActive=active, **front)
    return parse_stack_config(config)


def rendered(config, **keys):
    parsed = stack(config, **keys)
    cfg = parsed.apps["front"]
    return virtual_service("front", cfg, parsed.gateway, routing_model(cfg))


def test_the_model_puts_the_cohorts_after_preview_and_before_the_split(config):
    model = routing_model(stack(config).apps["front"])
    names = [route.name for route in model.routes]
    assert names[-4:] == ["cohort-1", "cohort-2", "cohort-3", "default"] and names[0].startswith("preview")
    assert model.cohorts[1].cookie == ValueMatch("beta", "int-", "prefix")
    assert all(route.destinations[0].color == "green" for route in model.cohorts)


def test_listed_but_not_active_cohorts_route_nothing(config):
    assert routing_model(stack(config, active=False).apps["front"]).cohorts == ()


def test_istio_gets_header_and_cookie_matches(config):
    http = rendered(config)["spec"]["http"]
    by_name = {route["name"]: route for route in http}
    assert by_name["cohort-1"]["match"] == [{"headers": {"x-beta": {"exact": "true"}}}]
    assert by_name["cohort-3"]["match"] == [{"headers": {"user-agent": {"regex": ".*Android.*"}}}]
    cookie = by_name["cohort-2"]["match"][0]["headers"]["cookie"]["regex"]
    # Envoy matches the whole header value (RE2); Python's fullmatch has the same semantics for this pattern.
    assert re.fullmatch(cookie, "a=1; beta=int-42; c=2") and re.fullmatch(cookie, "beta=int-x")
    assert not re.fullmatch(cookie, "notbeta=int-42") and not re.fullmatch(cookie, "beta=ext-1")


def test_routing_tables_status_and_diff_show_the_cohorts(config):
    tables = routing_tables([rendered(config)])["front"]
    assert ("cohort-1: header x-beta=true", "green", 100) in tables
    assert ("cohort-2: cookie beta^=int-", "green", 100) in tables
    assert ("cohort-3: header user-agent~.*Android.*", "green", 100) in tables
    now = from_routing_rows(tables)
    assert now.cohorts == ("green",) and now.preview == ("green",)
    before = from_routing_rows(routing_tables([rendered(config, active=False)])["front"])
    assert changes({"front": before}, {"front": now}) == ["front cohorts: off -> green"]
    cfg = stack(config).apps["front"]
    assert cohorts_cell(cfg) == "green: header x-beta=true; cookie beta^=int-; header user-agent~.*Android.*"
    assert cohorts_cell(stack(config, active=False).apps["front"]) == "off (3 listed)"


def test_the_switch_gate_checks_the_color_the_cohorts_go_to(config):
    cfg = stack(config).apps["front"]
    props = switch_gate_props("front", cfg, routing_model(cfg), {})
    assert props["cohorts"] == "green" and props["replicas"] == {"blue": 3, "green": 3}
    off = stack(config, active=False).apps["front"]
    assert "cohorts" not in switch_gate_props("front", off, routing_model(off), {})


def test_the_guarded_edits_start_and_the_flip_ends_the_cohorts(config):
    parsed = stack(config, active=False)
    change = plan_cohorts(parsed, "front", True)
    assert change.edits == {"apps.front.cohortsActive": True} and change.after.cohorts == ("green",)
    assert plan_cohorts(parsed, "front", False).message == "front's cohorts are already off: nothing to change"
    flipped = plan_flip(stack(config), "front", "green")
    assert "apps.front.cohortsActive" in flipped.edits and flipped.after.cohorts == ()
    assert traffic_of(stack(config).apps["front"]).cohorts == ("green",)


def test_no_cohorts_or_no_idle_pods_are_refused(config):
    config["apps"]["front"]["green"]["replicas"] = 0
    with pytest.raises(Refused, match=re.escape("cannot send front's cohorts to green: apps.front.green.replicas is 0")):
        plan_cohorts(stack(config, active=False), "front", True)
    with pytest.raises(ConfigError) as err:
        stack(config)
    assert err.value.problems == ["apps.front.cohortsActive: sends the cohorts to the idle color green, which has no image or no pods"]


@pytest.mark.parametrize(
    ("cohort", "message"),
    [
        ({"header": {"name": "x-beta"}}, "cohorts.0.header.value: set exactly one of value (exact), prefix or regex, got none"),
        (
            {"header": {"name": "x-beta", "value": "1", "regex": "a"}},
            "cohorts.0.header.value: set exactly one of value (exact), prefix or regex, got value, regex",
        ),
        ({"header": {"name": "x-beta", "regex": "(?=a)b"}}, "cohorts.0.header.regex: uses lookaround or a backreference"),
        ({"header": {"name": "x-beta", "regex": "("}}, "cohorts.0.header.regex: is not a valid regular expression"),
        ({"cookie": {"name": "beta", "regex": "^1$"}}, "cohorts.0.cookie.regex: is matched against the whole cookie value already"),
        ({"header": {"name": "cookie", "value": "1"}}, "cohorts.0.header.name: cannot be cookie: use cookie: {name, value} for a cookie"),
        ({"header": {"name": "x-preview", "value": "1"}}, "cohorts.0.header.name: is the preview header x-preview"),
        ({"cookie": {"name": "be ta", "value": "1"}}, "cohorts.0.cookie.name: must be a cookie name"),
        ({"header": {"name": "x-beta", "value": ""}}, "cohorts.0.header.value: String should have at least 1 character"),
        ({}, "cohorts.0.header: set exactly one of header or cookie in each cohort"),
    ],
    ids=[
        "no-value",
        "two-kinds",
        "lookaround",
        "broken-regex",
        "anchored-cookie",
        "cookie-header",
        "preview-header",
        "cookie-name",
        "empty",
        "none",
    ],
)
def test_invalid_cohorts_name_the_key_path(config, cohort, message):
    config["apps"]["front"]["cohorts"] = [cohort]
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(f"apps.front.{message}"), err.value.problems


def test_active_without_cohorts_and_a_cohort_step_without_cohorts_are_refused(config):
    config["apps"]["front"].update(cohortsActive=True, promotion={"steps": ["cohort", 100]})
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == [
        "apps.front.cohortsActive: is true but no cohorts are listed: add apps.<name>.cohorts or remove cohortsActive",
        "apps.front.promotion.steps: starts with cohort but apps.<name>.cohorts lists none: add the cohorts",
    ]
