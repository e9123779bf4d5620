"""A process that runs guarded flips on command, for tests/cli/stackfile/test_lock_concurrent_edits.py.

`python -m tests.cli.stackfile.edit_worker ROOT`: each stdin line `APP COLOR` flips APP of stack stg to COLOR through
`guarded.edit` (the lock, the read, the validation, the rename) and answers one line, `ok ...` or `refused ...`.
The policy pack's offline plan is replaced by a short sleep: it is tested elsewhere, and what matters here is
a window between the read and the rename in which the other process edits too.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from cli.edits import changes, guarded


def _slow_policy_check(root: Path, stack: str, staged: Path, name: str) -> list[Any]:
    time.sleep(0.05)
    return []


def main() -> None:
    guarded._policy_check = _slow_policy_check
    root = Path(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        app, to = line.split()
        try:
            change, _ = guarded.edit(root, "stg", partial(changes.plan_flip, app=app, to=to), say=lambda _line: None)
            print(f"ok {change.sentence}", flush=True)
        except changes.Refused as err:
            print(f"refused {err}", flush=True)


if __name__ == "__main__":
    main()
