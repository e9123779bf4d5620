"""The offline plan as a user runs it: `python -m cli plan --stack <stack>`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli.engine.plan import (
    POLICY_FAILED,
    PlanError,
    discard_plan,
    manifest_of,
    manifest_yaml,
    routing_tables,
    run_plan,
    write_plan,
)
from cli.engine.recording import Registration
from cli.stackfile.read import SECRET_PLACEHOLDER, read_stack_config
from tests.conftest import ROOT, SHARED


def copy_project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.stg.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for package in ("components", "cli", "policies"):
        if (ROOT / package).exists():
            shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    return tmp_path


def plan_cli(root: Path, stack: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", "plan", "--stack", stack, *args], cwd=root, capture_output=True, text=True, timeout=120
    )


def previous_build(root: Path, stack: str) -> Path:
    """What an earlier successful plan left in build/<stack>."""
    out = root / "build" / stack
    (out / "manifests").mkdir(parents=True)
    (out / "resources.json").write_text("[]\n")
    (out / "manifests" / "deployment-app-old.yaml").write_text("kind: Deployment\n")
    return out


@pytest.fixture(scope="module")
def stg_plan():
    return run_plan("stg")


def test_plan_writes_manifests_and_resources(stg_plan, tmp_path):
    out = tmp_path / "stg"
    write_plan(stg_plan, out)
    files = sorted(p.name for p in (out / "manifests").iterdir())
    assert "virtualservice-app-front.yaml" in files and "deployment-app-front-green.yaml" in files
    assert len(files) == len(stg_plan.manifests)
    vs = yaml.safe_load((out / "manifests" / "virtualservice-app-front.yaml").read_text())
    assert list(vs)[:3] == ["apiVersion", "kind", "metadata"]
    resources = json.loads((out / "resources.json").read_text())
    assert len(resources) == len(stg_plan.recording.resources)
    for entry in resources:
        assert {"type", "name", "parent", "dependencies", "inputs", "urn"} <= entry.keys()


def test_plan_replaces_an_old_build(stg_plan, tmp_path):
    out = tmp_path / "stg"
    (out / "manifests").mkdir(parents=True)
    (out / "manifests" / "stale.yaml").write_text("old: true\n")
    write_plan(stg_plan, out)
    assert not (out / "manifests" / "stale.yaml").exists()


def test_routing_table_reads_back_the_virtual_services(stg_plan):
    tables = routing_tables(stg_plan.manifests)
    assert tables["front"][-1] == ("default", "blue", 100)
    assert ("default", "green", 90) in tables["api"] and ("default", "blue", 10) in tables["api"]
    # stg's front is previewed on its own host first, then by path and header.
    assert [row[0] for row in tables["front"][:3]] == [
        "host front-preview.stg.example.com",
        "path /test (exact) | path /test/* -> rewrite /",
        "header x-preview=true",
    ]
    assert {row[1:] for row in tables["front"][:3]} == {("green", 100)}


def test_cli_plan_prints_summary_and_writes_build(tmp_path):
    root = copy_project(tmp_path)
    result = plan_cli(root, "stg")
    assert result.returncode == 0, result.stderr
    assert "routing: front" in result.stdout and "kubernetes:apps/v1:Deployment" in result.stdout
    assert (root / "build" / "stg" / "resources.json").exists()


def test_cli_plan_rejects_invalid_config_and_removes_the_previous_build(tmp_path):
    root = copy_project(tmp_path)
    stack = yaml.safe_load((root / "Pulumi.stg.yaml").read_text())
    stack["config"]["bluegreen-platform:apps"]["front"]["activeColor"] = "purple"
    (root / "Pulumi.bad.yaml").write_text(yaml.safe_dump(stack))
    previous_build(root, "bad")
    result = plan_cli(root, "bad")
    assert result.returncode == 1
    assert "apps.front.activeColor: must be 'blue' or 'green', got 'purple'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (root / "build" / "bad").exists()
    assert list((root / "build").iterdir()) == []  # no staging folder left either


def test_cli_plan_program_error_removes_the_previous_build(tmp_path):
    root = copy_project(tmp_path)
    (root / "__main__.py").write_text("raise RuntimeError('a bug in the program')\n")
    previous_build(root, "stg")
    result = plan_cli(root, "stg")
    assert result.returncode == 1 and "a bug in the program" in result.stderr
    assert not (root / "build" / "stg").exists()


def test_cli_plan_policy_failure_keeps_the_manifests_marked_policy_failed(tmp_path):
    root = copy_project(tmp_path)
    previous_build(root, "stg")
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"pod-high-uid": {"enforcementLevel": "mandatory", "minId": 20000}}))
    result = plan_cli(root, "stg", "--policy-config", str(strict))
    assert result.returncode == 1
    out = root / "build" / "stg"
    marker = (out / POLICY_FAILED).read_text()
    assert "[mandatory]" in marker and "pod-high-uid (kubernetes:apps/v1:Deployment: front-blue)" in marker
    assert f"wrote {len(list((out / 'manifests').iterdir()))} manifests to build/stg, marked POLICY-FAILED" in result.stdout
    assert "policy check failed" in result.stdout and "build/stg/POLICY-FAILED" in result.stdout
    assert not (out / "manifests" / "deployment-app-old.yaml").exists()  # this plan's manifests, not the old ones


def test_a_passing_plan_replaces_a_policy_failed_one(stg_plan, tmp_path):
    out = tmp_path / "stg"
    write_plan(stg_plan, out, policy_failure="1 violation\n")
    assert (out / POLICY_FAILED).read_text() == "1 violation\n"
    write_plan(stg_plan, out)
    assert not (out / POLICY_FAILED).exists() and (out / "resources.json").exists()


def test_a_crash_while_writing_leaves_the_previous_plan_whole(stg_plan, tmp_path, monkeypatch):
    out = previous_build(tmp_path, "stg")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    written = []

    def crash_on_the_third(manifest):
        written.append(manifest)
        if len(written) == 3:
            raise OSError("disk full")
        return f"m{len(written)}.yaml"

    monkeypatch.setattr("cli.engine.plan.manifest_filename", crash_on_the_third)
    with pytest.raises(OSError, match="disk full"):
        write_plan(stg_plan, out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["stg"]  # the staging folder is gone


def test_plan_never_replaces_or_removes_a_folder_it_did_not_write(stg_plan, tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(PlanError, match=r"refusing to replace .*: it is not the output of a plan"):
        write_plan(stg_plan, tmp_path)
    discard_plan(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_secure_values_become_placeholders(tmp_path):
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  gcp:project: acme\n  bluegreen-platform:token:\n    secure: v1:abc\n"
        "  bluegreen-platform:nested:\n    list: [{secure: v1:def}, plain]\n"
    )
    config, secret_keys = read_stack_config(tmp_path / "Pulumi.s.yaml", "bluegreen-platform")
    assert config["bluegreen-platform:token"] == SECRET_PLACEHOLDER
    assert json.loads(config["bluegreen-platform:nested"]) == {"list": [SECRET_PLACEHOLDER, "plain"]}
    assert sorted(secret_keys) == ["bluegreen-platform:nested", "bluegreen-platform:token"]
    assert config["gcp:project"] == "acme"


def test_manifest_of_reads_a_manifest_piped_to_a_command():
    io = {"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator", "metadata": {"name": "x"}}
    command = Registration("urn", "command:local:Command", "istio", "", [], "", True, {"stdin": yaml.safe_dump(io)})
    assert manifest_of(command) == io
    plain = Registration("urn", "command:local:Command", "other", "", [], "", True, {"create": "echo hi"})
    assert manifest_of(plain) is None


@pytest.mark.skipif(not (SHARED / "tools" / "validate_manifests.py").exists(), reason="../shared not present")
@pytest.mark.parametrize("stack", ["stg", "prod"])
def test_rendered_manifests_pass_strict_schema_validation(stack, tmp_path):
    write_plan(run_plan(stack), tmp_path / stack)
    result = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "validate_manifests.py"), str(tmp_path / stack / "manifests")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout
    assert " 0 invalid, 0 unknown" in result.stdout


def test_cli_prints_messages_verbatim_not_as_markup(tmp_path):
    root = copy_project(tmp_path)
    text = (root / "Pulumi.stg.yaml").read_text()
    (root / "Pulumi.sec.yaml").write_text(
        text.replace("blue: {image: asia-docker.pkg.dev/acme/web/front:1.4.2, replicas: 3}", "blue: {image: {secure: v1:abc}, replicas: 3}")
    )
    result = plan_cli(root, "sec")
    assert result.returncode == 1
    assert (
        f"apps.front.blue.image: must be an image reference such as registry/repo/name:1.2.3, got '{SECRET_PLACEHOLDER}'" in result.stdout
    )


@pytest.fixture(scope="module")
def every_stack_manifest(stg_plan) -> list[dict]:
    return [m for stack in ("prod", "local") for m in run_plan(stack).manifests] + stg_plan.manifests


ODD_MANIFESTS = [
    # Folded at 80 columns, escaped, odd scalars and keys.
    {"kind": "ConfigMap", "data": {"long": "word " * 40}},
    {"kind": "ConfigMap", "data": {"json": '{\n "a": ' + '"word word", ' * 12 + "\n}"}},
    {"kind": "ConfigMap", "data": {"unicode": "café " * 30, "short": "café ☕", "tab": "a\tb"}},
    {"kind": "ConfigMap", "metadata": {"name": "x" * 200}, "data": {"k" * 130: "v", "nested": [[["y " * 30]]]}},
    {"kind": "X", "spec": {"values": ["true", "null", "~", "1.0", "0o17", "2026-01-01", "- a", "a: b", "#c", "'", '"', "", " "]}},
    {"kind": "X", "spec": {"numbers": [0, -1, 1.5, 1e300, float("inf"), True, None], 1: "an int key"}},
    {"kind": "X", "spec": {"edge": "z" * 60 + " " + "z" * 30, "deep": {"a": {"b": {"c": {"d": {"e": "w " * 25}}}}}}},
]


def test_manifest_yaml_reads_back_as_the_manifest_in_its_key_order(every_stack_manifest):
    """cli.engine.plan.manifest_yaml (libyaml's emitter): every object of the stg, prod and local plans, and odd
    values, read back equal, keys in the order the plan put them."""
    for manifest in [*every_stack_manifest, *ODD_MANIFESTS]:
        text = manifest_yaml(manifest)
        assert yaml.safe_load(text) == manifest
        assert list(yaml.safe_load(text)) == list(manifest)
