"""How the garbage collector runs while a plan does: its full passes deferred (fewer_collections). No Pulumi SDK
here: the plan command wraps itself in it before the SDK loads."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_collections_deferred = 0  # how many fewer_collections() are open: only the outermost changes the collector


@contextmanager
def fewer_collections() -> Iterator[None]:
    """A plan's heap grows with every app and lives until the plan ends (the recording, the SDK's outputs, the
    manifests), and each of the collector's full passes rescans all of it: about a fifth of a 100-app plan's CPU time.
    The objects from before (imported modules) are frozen out of its scans, the youngest generation is collected less
    often and a full pass waits for ten times as many of the middle one's (a 200-app plan had one of 0.4 s with the
    default ten, none with a hundred); cyclic garbage is still collected by the younger passes. The program runs
    within it (run_program), and so does the whole `plan` command: a full pass as the program ends would rescan
    everything the plan has built."""
    global _collections_deferred
    threshold = gc.get_threshold()
    if not _collections_deferred:
        gc.freeze()
        gc.set_threshold(10_000, 10, 100)
    _collections_deferred += 1
    try:
        yield
    finally:
        _collections_deferred -= 1
        if not _collections_deferred:
            gc.set_threshold(*threshold)
            gc.unfreeze()
