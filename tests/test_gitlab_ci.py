""".gitlab-ci.yml: valid against GitLab's CI schema (bundled with check-jsonschema, no network) and wired as documented."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

PIPELINE = ROOT / ".gitlab-ci.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.gitlab-ci", str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return yaml.safe_load(PIPELINE.read_text())


def test_pipeline_validates_against_gitlab_ci_schema():
    result = check(PIPELINE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_an_invalid_pipeline(tmp_path):
    # The check is not vacuous: a misspelt job keyword fails it.
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(PIPELINE.read_text().replace("  stage: test\n", "  stages: test\n", 1))
    result = check(broken)
    assert result.returncode == 1 and "stages" in result.stdout


def test_stages_in_release_order(pipeline):
    assert pipeline["stages"] == ["test", "preview", "deploy", "release"]


def test_merge_requests_get_preview_with_policies_and_plan_diff_per_environment(pipeline):
    for job in ("preview", "plan-diff"):
        assert pipeline[job]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
        assert pipeline[job]["parallel"]["matrix"] == [{"STACK": ["stg", "prod"]}]
    assert any("pulumi preview --diff --policy-pack policies" in line for line in pipeline["preview"]["script"])
    diff_line = pipeline["plan-diff"]["script"][0]
    assert "cli diff" in diff_line and "$CI_MERGE_REQUEST_DIFF_BASE_SHA" in diff_line and "|| test $? -eq 2" in diff_line
    assert "merge_requests/$CI_MERGE_REQUEST_IID/notes" in pipeline["plan-diff"]["script"][1]


def test_default_branch_deploys_stg_then_prod_manually(pipeline):
    stg, prod = pipeline["deploy-stg"], pipeline["deploy-prod"]
    assert (stg["environment"]["name"], prod["environment"]["name"]) == ("stg", "prod")
    assert "when" not in stg["rules"][0] and prod["rules"][0]["when"] == "manual"
    assert prod["needs"] == ["deploy-stg"]
    assert any(line.startswith("pulumi up --yes") for line in pipeline[".deploy"]["script"])


def test_release_jobs_are_manual_and_run_existing_make_targets(pipeline):
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    for job in ("flip", "canary", "rollback"):
        assert pipeline[job]["extends"] == ".release" and pipeline[job]["variables"]["RELEASE_COMMAND"] in targets
    release = pipeline[".release"]
    assert release["rules"][0]["when"] == "manual" and release["environment"]["name"] == "$STACK"
    assert any(line.startswith("git push -o ci.skip") for line in release["script"])
