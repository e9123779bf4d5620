"""Plan source trees and write each result as JSON:
`python -P -m cli.engine.worker --stack S --job ROOT OUT ERR [--job ROOT OUT ERR ...]`.

`cli.diff` runs this once per diff with only the engine on PYTHONPATH: a program's `components` package can
only be imported once per process, so each tree is planned in its own child, forked after this process has
imported the third-party modules every plan needs (PRELOAD, about two thirds of a plan's cost). They come from
the same virtualenv whichever tree imports them, so sharing them changes no result. The child puts its tree
first after the engine on sys.path, as `PYTHONPATH=engine:tree` would, then imports the tree's `components`;
nothing here imports project code, so a preload that tried would fail here rather than load the wrong tree.

Per job: OUT appears (atomically) when the plan ends, ERR holds the child's stderr. Exit code per child 0 =
planned (or no stack file: `{"missing": true}`), 1 = the program refused (`{"error": ...}`) or the stack file is
unreadable (`{"unreadable": "Pulumi.stg.yaml:69:21: ..."}`). For a child that died without writing OUT, this
process writes `{"crashed": <exit code or -signal>}` as soon as it ends (ERR says why), and exits 0 once every
child has ended.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

# What the mock engine and the program import from the virtualenv, heaviest first (`python -X importtime`).
PRELOAD = (
    "pulumi_kubernetes.core.v1",
    "pulumi_kubernetes.apps.v1",
    "pulumi_kubernetes.networking.v1",
    "pulumi_kubernetes.autoscaling.v2",
    "pulumi_kubernetes.policy.v1",
    "pulumi_kubernetes.helm.v3",
    "pulumi_kubernetes.yaml",
    "pulumi_gcp.container",
    "pulumi_gcp.projects",
    "pulumi_gcp.serviceaccount",
    "pulumi.dynamic",
    "pulumi.runtime.mocks",
    "pulumi.runtime.stack",
    "google.protobuf.json_format",
    "grafana_foundation_sdk.builders.dashboard",
    "pydantic",
    "yaml",
)


def plan_tree(root: Path, stack: str) -> tuple[dict[str, Any], int]:
    from cli.stackfile.read import StackFileError

    if not (root / f"Pulumi.{stack}.yaml").exists():
        return {"missing": True}, 0
    # Imported only here: the engine needs the tree's `components`, which a tree without the stack may lack.
    from cli.engine.plan import PlanError, run_plan

    try:
        plan = run_plan(stack, root)
    except PlanError as err:
        return {"error": str(err)}, 1
    except StackFileError as err:
        return {"unreadable": str(err)}, 1
    resources = [r.as_json() for r in plan.recording.resources]
    return {"resources": resources, "manifests": plan.manifests, "outputs": plan.recording.outputs}, 0


def _child(root: Path, stack: str, out: Path, err: Path) -> int:
    """In the forked child: become a process planning `root` alone."""
    with err.open("w") as stderr:
        os.dup2(stderr.fileno(), 2)
    sys.path.insert(1, str(root))
    os.chdir(root)
    result, code = plan_tree(root, stack)
    _write_atomically(out, result)
    return code


def _write_atomically(out: Path, result: dict[str, Any]) -> None:
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(result, default=str))
    partial.replace(out)  # the parent polls for OUT: it must never see half of it


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cli.engine.worker")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--job", nargs=3, type=Path, action="append", required=True, metavar=("ROOT", "OUT", "ERR"))
    args = parser.parse_args(argv)
    for module in PRELOAD:
        importlib.import_module(module)
    children: dict[int, Path] = {}
    for root, out, err in args.job:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(root.resolve(), args.stack, out, err)
            except BaseException:
                traceback.print_exc()  # into ERR once _child redirected it: the parent shows it as the crash
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)  # never return into the parent's loop, whatever happened
        children[pid] = out
    while children:
        pid, status = os.wait()
        out = children.pop(pid)
        if not out.exists():  # it died before writing: say so now, the parent stops waiting for the others
            _write_atomically(out, {"crashed": os.waitstatus_to_exitcode(status)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
