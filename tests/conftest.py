"""Shared fixtures: sample stack configs and a runner for the real program under the mock engine."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from importlib import util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cli.engine.mock import run_program
from cli.engine.plan_cache import CACHE_ENV as PLAN_CACHE_ENV
from cli.engine.recording import Recording

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PROJECT = "bluegreen-platform"

# The smallest valid platform block: an existing cluster, the default node pool, Istio with defaults.
PLATFORM_CONFIG: dict[str, Any] = {
    "cluster": {"name": "acme-stg", "location": "europe-west1", "project": "acme-stg"},
    "istio": {"version": "1.30.0"},
}

BASE_CONFIG: dict[str, Any] = {
    **PLATFORM_CONFIG,
    "gateway": {"name": "bluegreen-gateway", "namespace": "app", "hosts": ["front.stg.example.com", "*.apps.example.com"]},
    "apps": {
        "front": {
            "namespace": "app",
            "hosts": ["front.stg.example.com"],
            "port": 8080,
            "healthPath": "/healthcheck.html",
            "activeColor": "blue",
            "blue": {"image": "asia-docker.pkg.dev/acme/web/front:1.4.2", "replicas": 3},
            "green": {"image": "asia-docker.pkg.dev/acme/web/front:1.5.0", "replicas": 3},
            "preview": {"pathPrefix": "/test", "header": {"name": "x-preview", "value": "true"}, "allowedSourceRanges": ["10.0.0.0/8"]},
            "canaryWeight": 0,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        }
    },
}


@pytest.fixture(scope="session", autouse=True)
def plan_cache_of_this_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plans are shared by the tests of one run and its xdist workers (subprocesses inherit the setting), never
    with the user's own cache nor an earlier run's."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "plan-cache"
    os.environ[PLAN_CACHE_ENV] = str(folder)
    return folder


@pytest.fixture
def config() -> dict[str, Any]:
    """A fresh, valid raw stack config (keys without the project prefix) to mutate per test."""
    return copy.deepcopy(BASE_CONFIG)


def engine_config(raw: dict[str, Any]) -> dict[str, str]:
    return {f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


@pytest.fixture
def run_stack() -> Callable[..., Recording]:
    """Run the real __main__.py for a raw config under the recording mock engine."""

    def run(raw: dict[str, Any], stack: str = "test") -> Recording:
        return run_program(stack, engine_config(raw))

    return run


def load_tool(path: Path) -> ModuleType:
    """A script that is not a package module (like ../shared/tools/validate_manifests.py), loaded by path."""
    spec = util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None, f"{path} is not a loadable Python file"
    tool = util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def find(recording: Recording, type_suffix: str, name: str):
    matches = [r for r in recording.resources if r.type.endswith(type_suffix) and r.name == name]
    assert len(matches) == 1, f"expected one {type_suffix} {name}, got {[r.urn for r in matches]}"
    return matches[0]
