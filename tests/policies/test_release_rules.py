"""Release safety rules over the switch gate's inputs, on records and on the real program's registration."""

from __future__ import annotations

import grpc
import pytest

from cli.engine import placeholders
from cli.engine.policy_check import records
from components.app.applied import READ_STACK_OUTPUTS
from policies.guardrails.catalog import rule
from policies.guardrails.evaluate import evaluate, load_config
from policies.guardrails.model import UNKNOWN, Resource
from policies.guardrails.release import SWITCH_GATE
from tests.conftest import ROOT
from tests.policy_records import urn

QUERY = 'sum(rate(errors_total{version="{color}"}[{window}]))'


def gate(**analysis) -> Resource:
    props = {"app": "front", "namespace": "app", "analysis": {"prometheusUrl": "http://p:9090", **analysis} if analysis else None}
    return Resource(SWITCH_GATE, "front-switch-gate", urn(SWITCH_GATE, "front-switch-gate"), props)


def check(resource: Resource) -> list[str]:
    chosen = rule("analysis-no-data-fails")
    return chosen.check(resource, chosen.defaults())


def test_a_check_that_passes_without_data_is_reported():
    resource = gate(checks=[{"name": "errors", "query": QUERY, "max": 0, "onNoData": "pass"}])
    assert check(resource) == [
        "front: promotion.analysis check 'errors' passes when its query has no data (onNoData pass): "
        "a misspelt label or a dead exporter promotes unchecked; use fail, or wait for data"
    ]
    assert rule("analysis-no-data-fails").level == "advisory"


def test_fail_wait_no_checks_or_no_analysis_pass():
    assert check(gate(checks=[{"name": "a", "query": QUERY, "max": 0, "onNoData": "fail"}, {"name": "b", "query": QUERY, "min": 1}])) == []
    assert check(gate(checks=[{"name": "a", "query": QUERY, "max": 0, "onNoData": "wait"}])) == []
    assert check(gate()) == [] and check(gate(window="5m")) == []


def test_the_rule_reads_the_gate_the_program_registers(config, run_stack):
    config["apps"]["front"]["promotion"] = {
        "analysis": {"prometheusUrl": "http://127.0.0.1:9090", "checks": [{"name": "errors", "query": QUERY, "max": 0, "onNoData": "pass"}]}
    }
    gates = [r for r in records(run_stack(config)) if r.type == SWITCH_GATE]
    assert [len(check(r)) for r in gates] == [1]


# --- cohorts-are-a-subset ----------------------------------------------------------------------


def cohort_vs(*matches) -> Resource:
    from tests.policy_records import virtual_service

    vs = virtual_service()
    dest = {"destination": {"host": "front.app.svc.cluster.local", "subset": "green"}, "weight": 100}
    http = [{"name": f"cohort-{i}", **({"match": [m]} if m else {}), "route": [dest]} for i, m in enumerate(matches, 1)]
    props = {**vs.props, "spec": {**vs.props["spec"], "http": [*http, *vs.props["spec"]["http"]]}}
    return Resource(vs.type, vs.name, vs.urn, props)


def cohort_messages(resource: Resource) -> list[str]:
    chosen = rule("cohorts-are-a-subset")
    return chosen.check(resource, chosen.defaults())


def test_narrow_cohorts_pass():
    resource = cohort_vs(
        {"headers": {"x-beta": {"exact": "true"}}},
        {"headers": {"user-agent": {"regex": ".*Android.*"}}},
        {"headers": {"x-beta": {"regex": ".*"}}},  # everyone who sends x-beta: a subset
    )
    assert cohort_messages(resource) == [] and rule("cohorts-are-a-subset").level == "mandatory"


def test_a_cohort_that_takes_every_request_is_refused():
    found = cohort_messages(cohort_vs({"headers": {"user-agent": {"regex": ".*"}}}, {"headers": {"x-request-id": {"prefix": ""}}}, None))
    assert found == [
        "VirtualService app/front: http[0] (cohort-1) matches any user-agent header (regex '.*'), which every request carries: "
        "it sends all traffic to one color; narrow the match (to move everyone use flip)",
        "VirtualService app/front: http[1] (cohort-2) matches any x-request-id header (prefix ''), which every request carries: "
        "it sends all traffic to one color; narrow the match (to move everyone use flip)",
        "VirtualService app/front: http[2] (cohort-3) has no match: it takes every request; a cohort is a subset (to move everyone use flip)",
    ]


def test_the_guarded_edit_refuses_a_catch_all_cohort(tmp_path, config):
    from cli.edits.changes import Refused, plan_cohorts
    from cli.edits.guarded import edit
    from tests.stackfiles import copy_program, write_stack

    copy_program(tmp_path)
    config["apps"]["front"]["cohorts"] = [{"header": {"name": "user-agent", "regex": ".+|"}}]
    write_stack(tmp_path, "stg", config)
    before = (tmp_path / "Pulumi.stg.yaml").read_text()
    try:
        edit(tmp_path, "stg", lambda current: plan_cohorts(current, "front", True))
    except Refused as err:
        assert "[mandatory] cohorts-are-a-subset (VirtualService front)" in str(err) and "matches any user-agent header" in str(err)
    else:
        raise AssertionError("a catch-all cohort was written")
    assert (tmp_path / "Pulumi.stg.yaml").read_text() == before


def test_a_post_flip_bake_shorter_than_the_window_is_refused():
    chosen = rule("post-flip-bake-covers-window")
    short = gate(window="5m")
    short.props["postFlipBakeSeconds"] = 120  # type: ignore[index]
    assert chosen.check(short, {}) == [
        "front: promotion.postFlip.bake (120s) is shorter than promotion.analysis.window (300s): the watch would end before a "
        "window of post-flip traffic exists, judging mostly the traffic before the flip; bake at least one window"
    ]
    assert chosen.level == "mandatory"
    long = gate(window="5m")
    long.props["postFlipBakeSeconds"] = 600  # type: ignore[index]
    assert chosen.check(long, {}) == [] and chosen.check(gate(window="5m"), {}) == []


def test_the_post_flip_rule_reads_the_gate_the_program_registers(config, run_stack):
    config["apps"]["front"]["promotion"] = {
        "analysis": {"prometheusUrl": "http://127.0.0.1:9090", "window": "10m"},
        "postFlip": {"bake": "5m"},
    }
    chosen = rule("post-flip-bake-covers-window")
    gates = [r for r in records(run_stack(config)) if r.type == SWITCH_GATE]
    assert [len(chosen.check(r, {})) for r in gates] == [1]


# --- flip-after-preview --------------------------------------------------------------------------

OLD, NEW = "r/front:1.5.0", "r/front:1.6.0"
BLUE, GREEN, CANARY = {"blue": 100, "green": 0}, {"blue": 0, "green": 100}, {"blue": 90, "green": 10}


def flip_gate(weights, green, previous=None) -> Resource:
    """A switch gate routing `weights` with green on `green`, after an `up` that applied `previous` (None: unknown)."""
    props = {"app": "front", "namespace": "app", "weights": weights, "images": {"blue": "r/front:1.4.2", "green": green}}
    if previous is not None:
        props["previous"] = previous
    return Resource(SWITCH_GATE, "front-switch-gate", urn(SWITCH_GATE, "front-switch-gate"), props)


def served(weights, green) -> dict:
    return {"weights": weights, "images": {"blue": "r/front:1.4.2", "green": green}}


def flip_messages(resource: Resource) -> list[str]:
    chosen = rule("flip-after-preview")
    return chosen.check(resource, chosen.defaults())


def test_a_flip_to_an_image_the_color_never_ran_is_flagged_with_what_to_do_instead():
    assert flip_messages(flip_gate(GREEN, NEW, served(BLUE, OLD))) == [
        "front: green goes to 100% (blue 100% -> green 100%) in the same change that gives it the image r/front:1.6.0, "
        "which never served preview, canary or mirror traffic; change the image first (merge and pulumi up), preview it, "
        "then move traffic in a change of its own"
    ]
    (canary,) = flip_messages(flip_gate(CANARY, NEW, served(BLUE, OLD)))
    assert canary.startswith("front: green goes to 10% (blue 100% -> blue 90% / green 10%) in the same change")


def test_the_image_served_first_a_change_of_image_alone_or_a_color_losing_share_passes():
    assert flip_messages(flip_gate(GREEN, NEW, served(BLUE, NEW))) == []  # the image went out (and was previewed) first
    assert flip_messages(flip_gate(BLUE, NEW, served(BLUE, OLD))) == []  # green stays idle
    assert flip_messages(flip_gate(BLUE, NEW, served(GREEN, OLD))) == []  # green loses its share: a rollback


@pytest.mark.parametrize(
    "previous",
    [None, {}, {"weights": UNKNOWN, "images": {"blue": "r/front:1.4.2", "green": OLD}}, {"weights": BLUE, "images": {"green": UNKNOWN}}],
)
def test_nothing_known_about_before_is_not_judged(previous):
    assert flip_messages(flip_gate(GREEN, NEW, previous)) == []


def test_advisory_by_default_and_mandatory_with_the_prod_pack_config():
    resources = [flip_gate(GREEN, NEW, served(BLUE, OLD))]
    levels = {
        stack: [f.level for f in evaluate(resources, load_config(ROOT / "policies" / "config" / f"{stack}.json"))]
        for stack in ("stg", "prod")
    }
    assert levels == {"stg": ["advisory"], "prod": ["mandatory"]}


def test_the_offline_plan_has_no_previous_and_says_so(config, run_stack):
    recording = run_stack(config)
    (gate,) = [r for r in records(recording) if r.type == SWITCH_GATE and r.name == "front-switch-gate"]
    assert "previous" not in gate.props and gate.props["images"]["green"] == "asia-docker.pkg.dev/acme/web/front:1.5.0"
    assert [(i.args, i.answer["outputs"]) for i in recording.invokes if i.token == READ_STACK_OUTPUTS] == [
        ({"name": "organization/bluegreen-platform/test"}, {})
    ]
    config["apps"]["front"].update(activeColor="green", green={"image": "asia-docker.pkg.dev/acme/web/front:1.6.0"})
    assert [f for f in evaluate(records(run_stack(config)), {}) if f.policy == "flip-after-preview"] == []


def test_the_stacks_own_outputs_reach_the_gate_and_the_pack_flags_the_flip(config, run_stack, monkeypatch):
    """What the real engine answers after an `up` with blue serving and green on 1.5.0."""
    before = served(BLUE, "asia-docker.pkg.dev/acme/web/front:1.5.0")
    outputs = {"apps": {"front": {"activeColor": "blue", "applied": before}}}
    monkeypatch.setitem(placeholders.INVOKE_ANSWERS, READ_STACK_OUTPUTS, lambda args: {**args, "outputs": outputs})
    config["apps"]["front"].update(activeColor="green")
    config["apps"]["front"]["green"]["image"] = "asia-docker.pkg.dev/acme/web/front:1.6.0"
    recording = run_stack(config)
    (gate,) = [r for r in records(recording) if r.name == "front-switch-gate"]
    assert gate.props["previous"] == before
    (finding,) = [f for f in evaluate(records(recording), {}) if f.policy == "flip-after-preview"]
    assert finding.message.startswith(
        "front: green goes to 100% (blue 100% -> green 100%) in the same change that gives it the image asia-docker.pkg.dev/acme/web/front:1.6.0"
    )


def test_outputs_that_cannot_be_read_leave_the_run_unjudged_with_a_warning(config, run_stack, monkeypatch):
    """The real engine's first up of a stack on the diy backend once failed this read ("failed to load checkpoint: EOF")."""

    class EngineError(grpc.RpcError):  # how the engine answers a failed invoke: a gRPC status with details
        def code(self):
            return grpc.StatusCode.UNKNOWN

        def details(self):
            return "invocation of pulumi:pulumi:readStackOutputs returned an error: failed to load checkpoint: EOF"

    def unreadable(args):
        raise EngineError()

    monkeypatch.setitem(placeholders.INVOKE_ANSWERS, READ_STACK_OUTPUTS, unreadable)
    config["apps"]["front"].update(activeColor="green")
    config["apps"]["front"]["green"]["image"] = "asia-docker.pkg.dev/acme/web/front:1.6.0"
    recording = run_stack(config)
    (gate,) = [r for r in records(recording) if r.name == "front-switch-gate"]
    assert "previous" not in gate.props
    assert [f for f in evaluate(records(recording), {}) if f.policy == "flip-after-preview"] == []
    assert any("cannot read stack organization/bluegreen-platform/test's last outputs" in w for w in recording.warnings), recording.warnings
