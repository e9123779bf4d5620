"""`make bench` (`python -m cli.engine.bench`): what the offline plan costs per app.

Stack files with 1, 50 and 100 copies of a stack's `front` app (distinct names and hosts, the same namespace)
are planned by `python -m cli plan`, each in a fresh interpreter as `make plan` runs it, several times; the
median wall time per app count is printed beside the import floor (a fresh interpreter that only imports the
modules a plan loads) and the milliseconds each extra app adds. The plans run in a copy of this project in a
temporary folder, so the generated stack files never sit beside the real ones.
Prints numbers only: timings depend on the machine and its load (printed with them), nothing is asserted.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cli.engine.plan_cache import CACHE_ENV
from cli.shared.paths import ROOT
from cli.stackfile.read import project_name

BENCH_STACK = "bench"
TEMPLATE_APP = "front"
# What a plan needs of the project: the program, its components, the CLI and the policy pack's rules and config.
PROJECT_FILES = ("Pulumi.yaml", "__main__.py")
PROJECT_DIRS = ("cli", "components", "policies")
_PLANNED_IN = re.compile(r"planned in (?P<seconds>[0-9.]+)s")


def app_hosts(template: dict[str, Any], source: str, name: str) -> dict[str, Any]:
    """The template app renamed `name`: each host that starts with the template's name starts with `name` instead
    (`front.stg.example.com` -> `front-7.stg.example.com`), any other host gets `name.` in front."""

    def renamed(host: str) -> str:
        return name + host[len(source) :] if host.startswith(source) else f"{name}.{host}"

    app = {**template, "hosts": [renamed(h) for h in template.get("hosts", [])]}
    preview = template.get("preview")
    if isinstance(preview, dict) and preview.get("host"):
        app["preview"] = {**preview, "host": renamed(preview["host"])}
    return app


def served_hosts(app: dict[str, Any]) -> list[str]:
    preview = app.get("preview")
    return [*app.get("hosts", []), *([preview["host"]] if isinstance(preview, dict) and preview.get("host") else [])]


def stack_with_apps(document: dict[str, Any], project: str, count: int, template: str = TEMPLATE_APP) -> dict[str, Any]:
    """A stack file's document whose apps are `count` copies of its app `template` (`front-1` ... `front-<count>`),
    and whose gateway serves exactly their hosts."""
    config = dict(document["config"])
    apps_key, gateway_key = f"{project}:apps", f"{project}:gateway"
    source = config[apps_key][template]
    apps = {f"{template}-{i}": app_hosts(source, template, f"{template}-{i}") for i in range(1, count + 1)}
    config[apps_key] = apps
    if apps:
        config[gateway_key] = {**config[gateway_key], "hosts": [h for app in apps.values() for h in served_hosts(app)]}
    return {**document, "config": config}


def copy_project(root: Path, into: Path) -> Path:
    """The files a plan reads, copied (a copy, not links: `cli` finds its project from where its files are)."""
    project = into / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(root / name, project / name)
    ignored = shutil.ignore_patterns("__pycache__", "venv", "*.pyc")
    for name in PROJECT_DIRS:
        shutil.copytree(root / name, project / name, ignore=ignored)
    return project


def write_bench_stack(project: Path, source_stack: str, count: int) -> None:
    """Pulumi.bench.yaml with `count` apps, and the source stack's policy pack config as bench's."""
    document = yaml.safe_load((project / f"Pulumi.{source_stack}.yaml").read_text())
    generated = stack_with_apps(document, project_name(project), count)
    (project / f"Pulumi.{BENCH_STACK}.yaml").write_text(yaml.safe_dump(generated, sort_keys=False))


def program_modules(program: Path) -> list[str]:
    """The modules `program` imports at its top level, as `import` statements would name them."""
    found = []
    for node in ast.parse(program.read_text()).body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
    return list(dict.fromkeys(found))


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the interpreter: steadier than wall time when other work shares the cores
    stderr: str


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(python: str, args: Sequence[str], cwd: Path) -> Run:
    """One fresh interpreter, timed; a failure stops the bench with what it printed."""
    cpu, started = _cpu_of_children(), time.perf_counter()
    # Every run plans for real: the same stack file read back from the plan cache would time a file read.
    env = {**os.environ, CACHE_ENV: "off"}
    result = subprocess.run([python, *args], cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bench: `python {' '.join(args)}` failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return Run(wall, _cpu_of_children() - cpu, result.stderr)


def import_floor_args(project: Path) -> list[str]:
    modules = ["cli.__main__", *program_modules(project / "__main__.py")]
    return ["-c", "; ".join(f"import {m}" for m in modules)]


PLAN_ARGS = ["-m", "cli", "plan", "--stack", BENCH_STACK]


@dataclass
class Timing:
    """Medians in milliseconds; `program` is the plan's own `planned in` (the program under the mock engine:
    no interpreter start, imports, policy check, writing or printing)."""

    wall: float
    cpu: float
    program: float | None = None


def _median(runs: list[Run]) -> Timing:
    planned = [_PLANNED_IN.search(r.stderr) for r in runs]
    programs = [float(m["seconds"]) * 1000 for m in planned if m]
    return Timing(
        statistics.median(r.wall for r in runs) * 1000,
        statistics.median(r.cpu for r in runs) * 1000,
        statistics.median(programs) if programs else None,
    )


def measure(project: Path, python: str, source_stack: str, counts: Sequence[int], repeat: int) -> tuple[Timing, dict[int, Timing]]:
    """The import floor and a plan per app count, each the median of `repeat` fresh interpreters."""
    config_dir = project / "policies" / "config"
    if (config_dir / f"{source_stack}.json").exists():
        shutil.copy2(config_dir / f"{source_stack}.json", config_dir / f"{BENCH_STACK}.json")
    floor_args = import_floor_args(project)
    _run(python, floor_args, project)  # compiles the copy's bytecode: no run below pays for it
    floor = _median([_run(python, floor_args, project) for _ in range(repeat)])
    plans = {}
    for count in counts:
        write_bench_stack(project, source_stack, count)
        plans[count] = _median([_run(python, PLAN_ARGS, project) for _ in range(repeat)])
    return floor, plans


def per_app(plans: dict[int, Timing]) -> list[tuple[int, int, float, float]]:
    """(from, to, wall ms, cpu ms per extra app) between consecutive app counts, and from the first to the last:
    a cost that grows with the square of the apps shows as a larger step further up."""
    counts = sorted(plans)
    pairs = list(itertools.pairwise(counts))
    if len(counts) > 2:
        pairs.append((counts[0], counts[-1]))
    return [(a, b, (plans[b].wall - plans[a].wall) / (b - a), (plans[b].cpu - plans[a].cpu) / (b - a)) for a, b in pairs]


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


def report(tree: Path, source_stack: str, repeat: int, floor: Timing, plans: dict[int, Timing], machines: tuple[str, str]) -> str:
    lines = [
        f"offline plan bench of {tree}: copies of stack {source_stack}'s {TEMPLATE_APP} app, median of {repeat} runs each",
        f"machine: {machines[0]} (start), {machines[1]} (end)",
        f"{'':>14}  {'wall ms':>8}  {'cpu ms':>8}  {'program ms':>10}",
        f"{'import floor':>14}  {floor.wall:>8.0f}  {floor.cpu:>8.0f}  {'':>10}",
    ]
    for count, timing in sorted(plans.items()):
        program = f"{timing.program:.0f}" if timing.program is not None else "-"
        lines.append(f"{f'{count} apps':>14}  {timing.wall:>8.0f}  {timing.cpu:>8.0f}  {program:>10}")
    for a, b, wall, cpu in per_app(plans):
        lines.append(f"per extra app, {a} -> {b} apps: {wall:.1f} ms wall, {cpu:.1f} ms cpu")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli.engine.bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--from", dest="source", default="stg", help="the stack whose front app is copied (default stg)")
    parser.add_argument("--apps", type=int, nargs="+", default=[1, 50, 100], help="app counts to plan (default 1 50 100)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per app count; the median is shown (default 5)")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="the project to plan (default this checkout), e.g. an export of a base commit"
    )
    parser.add_argument("--profile", type=Path, help="also write a cProfile of one plan of the largest app count to this file")
    args = parser.parse_args(argv)
    if len(set(args.apps)) < 2 or min(args.apps) < 0 or args.repeat < 1:
        parser.error("--apps takes two or more different counts of 0 or more, --repeat 1 or more")
    counts = sorted(set(args.apps))
    tree = args.tree.resolve()
    with tempfile.TemporaryDirectory(prefix="bluegreen-bench-") as tmp:
        project = copy_project(tree, Path(tmp))
        shutil.copy2(tree / f"Pulumi.{args.source}.yaml", project / f"Pulumi.{args.source}.yaml")
        start = machine()
        floor, plans = measure(project, sys.executable, args.source, counts, args.repeat)
        print(report(tree, args.source, args.repeat, floor, plans, (start, machine())), flush=True)
        if args.profile:
            _run(sys.executable, ["-m", "cProfile", "-o", str(args.profile.resolve()), *PLAN_ARGS], project)
            print(f"profile of a {counts[-1]}-app plan: {args.profile} (python -m pstats {args.profile})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
