"""The real-engine toolchain's pins (e2e/tools/*/go.mod, build.sh) agree with the Python SDKs and stack files."""

from __future__ import annotations

import re
import subprocess

import yaml
from packaging.version import Version

from tests.conftest import PROJECT, ROOT

TOOLS = ROOT / "e2e" / "tools"


def first_group(pattern: str, text: str, where: str) -> str:
    found = re.search(pattern, text, re.M)
    assert found is not None, f"{where}: no line matches {pattern!r}"
    return found.group(1)


def requirement(name: str) -> str:
    return first_group(rf"^{re.escape(name)}==(\S+)$", (ROOT / "requirements.txt").read_text(), "requirements.txt")


def go_pin(group: str, module: str) -> str:
    return first_group(rf"^(?:require)?\s*{re.escape(module)} (v\S+)", (TOOLS / group / "go.mod").read_text(), f"e2e/tools/{group}/go.mod")


def stamped(group: str) -> str:
    return first_group(r"^version=(\S+)$", (TOOLS / group / "build.sh").read_text(), f"e2e/tools/{group}/build.sh")


def semver(pep440: str) -> str:
    """How the Python SDK names its plugin version (4.25.0a1768448096 -> 4.25.0-alpha.1768448096)."""
    v = Version(pep440)
    base = ".".join(map(str, v.release))
    if not v.pre:
        return base
    label = {"a": "alpha", "b": "beta", "rc": "rc"}[v.pre[0]]
    return f"{base}-{label}.{v.pre[1]}"


def test_kubernetes_plugin_is_the_python_sdk_version():
    assert stamped("pulumi-kubernetes") == semver(requirement("pulumi-kubernetes"))


def test_pulumi_cli_is_not_older_than_the_python_sdk():
    # The exact SDK release is not on the module proxy; the CLI is the nearest newer one (the supported direction).
    cli = go_pin("pulumi", "github.com/pulumi/pulumi/pkg/v3")
    assert Version(cli.lstrip("v")) >= Version(requirement("pulumi")) and cli.startswith("v3.")


def test_istioctl_is_the_release_the_stack_files_name():
    for stack in ("stg", "prod"):
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert config[f"{PROJECT}:istio"]["version"] == stamped("istioctl"), stack


def test_control_plane_is_kubernetes_1_33():
    assert re.fullmatch(r"v1\.33\.\d+", go_pin("kubernetes", "k8s.io/kubernetes"))
    assert go_pin("etcd", "go.etcd.io/etcd/server/v3").startswith("v3.5.")


def test_toolchain_cache_dir_is_keyed_by_the_pins():
    out = subprocess.run(["bash", str(TOOLS / "build.sh"), "--print-dir"], capture_output=True, text=True, check=True).stdout
    assert re.fullmatch(r".*/bluegreen-platform/e2e/[0-9a-f]{16}/bin\n", out)
