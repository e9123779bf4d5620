"""One guarded edit of a stack file at a time: an exclusive lock held from the read to the rename.

Two edits that both read the file, change it and rename their result over it would each lose the other's
change while both report success. So every guarded edit (flip, canary, rollback, each release step and its
restore) runs inside `locked`: a second one waits for the first, then reads the file the first one wrote.

The lock is `flock` on the stack file itself (its target, when it is a symlink): no lock file to leave behind
in the project. An edit replaces the file by a rename, so a waiter that finally gets the lock may hold it on
the old inode; it then locks the file now at the path instead. The kernel drops the lock with the process, so
a killed edit never leaves the file locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

WAIT_NOTE_SECONDS = 1.0  # a wait shorter than this is not worth a line
TIMEOUT_SECONDS = 300.0  # a policy check takes seconds; an edit holding the file for minutes is stuck
POLL_SECONDS = 0.05


class LockTimeout(Exception):
    """Another edit held the stack file's lock for longer than the timeout."""


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for_lock(fd: int, name: str, say: Callable[[str], None], started: float, timeout: float, noted: list[bool]) -> None:
    while not _try_lock(fd):
        waited = time.monotonic() - started
        if waited >= timeout:
            raise LockTimeout(
                f"another edit of {name} has held it for {waited:.0f}s (a flip, canary, rollback or release step); "
                "nothing written: try again when it is done"
            )
        if waited >= WAIT_NOTE_SECONDS and not noted[0]:
            say(f"waiting for another edit of {name} to finish (flip, canary, rollback or release step) ...")
            noted[0] = True
        time.sleep(POLL_SECONDS)


@contextmanager
def locked(path: Path, say: Callable[[str], None], timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive edit lock of stack file `path` (its symlink target); `say` gets one "waiting for ..."
    line once the wait passes a second. LockTimeout after `timeout` seconds (default TIMEOUT_SECONDS)."""
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    target = path.resolve()
    started, noted = time.monotonic(), [False]
    while True:
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _wait_for_lock(fd, path.name, say, started, timeout, noted)
            # The previous holder may have renamed a new file over the one locked here.
            if os.path.samestat(os.fstat(fd), os.stat(target)):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
