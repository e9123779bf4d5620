"""`make bench` (cli/engine/bench.py): the generated stacks are valid and the script prints its fields. Timings are never asserted."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from cli.engine.bench import stack_with_apps
from cli.stackfile.read import read_stack_config
from components.config import parse_stack_config, project_config
from tests.conftest import PROJECT, ROOT


def test_the_copies_of_front_are_a_valid_stack_with_distinct_names_and_hosts(tmp_path):
    document = yaml.safe_load((ROOT / "Pulumi.stg.yaml").read_text())
    path = tmp_path / "Pulumi.bench.yaml"
    path.write_text(yaml.safe_dump(stack_with_apps(document, PROJECT, 3), sort_keys=False))
    engine_config, _ = read_stack_config(path, PROJECT)
    config = parse_stack_config(project_config(engine_config, PROJECT), stack="bench")
    assert list(config.apps) == ["front-1", "front-2", "front-3"]
    hosts = [host for app in config.apps.values() for host in [*app.hosts, app.preview.host]]
    assert hosts == [
        "front-1.stg.example.com",
        "front-1-preview.stg.example.com",
        "front-2.stg.example.com",
        "front-2-preview.stg.example.com",
        "front-3.stg.example.com",
        "front-3-preview.stg.example.com",
    ]
    assert config.gateway.hosts == hosts
    front = document["config"][f"{PROJECT}:apps"]["front"]
    copy = stack_with_apps(document, PROJECT, 1)["config"][f"{PROJECT}:apps"]["front-1"]
    assert {**copy, "hosts": front["hosts"], "preview": front["preview"]} == front  # only the hosts differ
    assert copy["preview"] == {**front["preview"], "host": "front-1-preview.stg.example.com"}
    assert front["hosts"] == ["front.stg.example.com"]  # the source document is left as it was


def test_bench_runs_and_prints_the_floor_each_app_count_and_the_cost_per_extra_app():
    command = [sys.executable, "-m", "cli.engine.bench", "--apps", "1", "2", "--repeat", "1"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.match(r"machine: \d+ CPUs, load average [\d. ]+ \(start\)", lines[1])
    number = r"\s+(\d+)"
    assert re.fullmatch(rf"\s*import floor{number}{number}\s*", lines[3])
    assert re.fullmatch(rf"\s*1 apps{number}{number}{number}", lines[4])
    assert re.fullmatch(rf"\s*2 apps{number}{number}{number}", lines[5])
    assert re.fullmatch(r"per extra app, 1 -> 2 apps: -?[\d.]+ ms wall, -?[\d.]+ ms cpu", lines[6])
    assert len(lines) == 7
