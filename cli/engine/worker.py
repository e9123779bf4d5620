"""Plan one source tree and write the result as JSON: `python -P -m cli.engine.worker --root T --stack S --out F`.

`cli.diff` runs this in a fresh interpreter per tree: a program's `components` package can only be
imported once per process, so the working tree and a BASE tree can't share one. Only the engine comes
from this `cli`; nothing here imports `components`, so the tree's own version is the one loaded.
Exit code 0 = planned (or no stack file: `{"missing": true}`), 1 = the program refused (`{"error": ...}`) or the
stack file is unreadable (`{"unreadable": "Pulumi.stg.yaml:69:21: ..."}`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.stackfile.read import StackFileError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cli.engine.worker")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    result: dict[str, Any]
    code: int
    if not (args.root / f"Pulumi.{args.stack}.yaml").exists():
        result, code = {"missing": True}, 0
    else:
        # Imported only here: the engine needs the tree's `components`, which a tree without the stack may lack.
        from cli.engine.plan import PlanError, run_plan

        try:
            plan = run_plan(args.stack, args.root)
            result, code = (
                {
                    "resources": [r.as_json() for r in plan.recording.resources],
                    "manifests": plan.manifests,
                    "outputs": plan.recording.outputs,
                },
                0,
            )
        except PlanError as err:
            result, code = {"error": str(err)}, 1
        except StackFileError as err:
            result, code = {"unreadable": str(err)}, 1
    args.out.write_text(json.dumps(result, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
