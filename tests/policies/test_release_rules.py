"""Release safety rules over the switch gate's inputs, on records and on the real program's registration."""

from __future__ import annotations

from cli.policy_check import records
from policies.guardrails.catalog import rule
from policies.guardrails.model import Resource
from policies.guardrails.release import SWITCH_GATE
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
