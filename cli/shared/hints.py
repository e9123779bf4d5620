"""A command as the user would type it next: through make when they came through make, else the CLI form.

`make rollback STACK=stg APP=front` runs `python -m cli rollback ...` with BLUEGREEN_MAKE=1 (the Makefile sets
it), so a refusal can say `make canary STACK=stg APP=front WEIGHT=0` to one user and
`python -m cli canary --stack stg --app front --weight 0` to another. The stack is the one being edited
(`edits.edit` sets it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

VIA_MAKE = "BLUEGREEN_MAKE"
_stack: ContextVar[str] = ContextVar("stack", default="<stack>")


@contextmanager
def for_stack(stack: str) -> Iterator[None]:
    token = _stack.set(stack)
    try:
        yield
    finally:
        _stack.reset(token)


def command(name: str, **args: object) -> str:
    """`make <name> STACK=.. APP=..` or `python -m cli <name> --stack .. --app ..`, args in the order given."""
    pairs = [("stack", _stack.get()), *args.items()]
    if os.environ.get(VIA_MAKE):
        return " ".join([f"make {name}", *(f"{key.upper()}={value}" for key, value in pairs)])
    return " ".join([f"python -m cli {name}", *(f"--{key} {value}" for key, value in pairs)])
