"""What a release drives and reports to: the stack (Target), its progress, the stop signal; and how they fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from components.app.promotion import Weights
from components.shared.colors import Color


class UpFailed(Exception):
    """`pulumi up` failed (the switch gate refused, the engine failed, or it was cancelled); the message says why."""


class Target(Protocol):
    """The stack a release drives (cli/release/run.py: the Automation API; tests: a fake)."""

    def up(self, say: Callable[[str], None]) -> None:
        """Run `pulumi up` with the stack file as it is now; raise UpFailed."""

    def routing(self, app: str, namespace: str) -> Weights | None:
        """The default-route weights `up` last applied (None: the app was never deployed)."""

    def live_replicas(self, app: str, namespace: str, color: Color) -> int:
        """`color`'s Deployment's spec.replicas now (what its HPA runs); raise UpFailed when it cannot be read."""


class Progress(Protocol):
    def line(self, text: str) -> None:
        """A line that stays (a step applied, the gate's report, pulumi's output)."""

    def status(self, text: str) -> None:
        """The current state, replaced by the next one (waiting for up, time left in a bake)."""


class Interrupted(Exception):
    def __init__(self, signal_name: str):
        super().__init__(f"interrupted ({signal_name})")
        self.signal_name = signal_name


class Stop(Protocol):
    """Set by a signal handler; a release checks it between and during steps."""

    def wait(self, seconds: float) -> str | None:
        """Sleep up to `seconds`; the signal's name as soon as one arrived, else None."""
