"""Release notifications: `promotion.notify`, webhooks told when a release starts, at each step, on abort, on revert
and when done.

The URL is a credential (anyone holding a Slack webhook URL can post to the channel), so it never sits in the
stack file or in git: `webhookEnv` names the environment variable that holds it (a masked CI/CD variable, a
Kubernetes Secret mounted as env). Each message is POSTed from a background thread, with a short timeout and a
few retries (httpx + tenacity: connection errors, timeouts, 429 and 5xx), so a slow or dead webhook never holds
up or fails a routing change; a message that cannot be delivered is a `warning: notify ...` line in the run log.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from components.app.notify_config import Notify

TIMEOUT_SECONDS = 2.0
ATTEMPTS = 3
FLUSH_SECONDS = 10.0  # at the end of a release, how long undelivered messages may still take


@dataclass(frozen=True)
class Event:
    """One notification: `started`, `step`, `abort`, `revert` or `done`."""

    event: str
    stack: str
    app: str
    color: str  # the color being released
    message: str  # the run log's own line for it
    step: str | None = None  # "2/4"
    weight: int | str | None = None  # the step's share, or "cohorts"
    live: str | None = None  # the live split after it
    reason: str | None = None  # why it aborted


_ICONS = {
    "started": ":rocket:",
    "step": ":arrow_right:",
    "abort": ":x:",
    "revert": ":leftwards_arrow_with_hook:",
    "done": ":white_check_mark:",
}


def payload(event: Event, format_: str) -> dict[str, Any]:
    """`json`: the event's fields (unset ones left out); `slack`: an incoming-webhook message (`text`)."""
    if format_ == "slack":
        return {"text": f"{_ICONS[event.event]} *{event.app}* on *{event.stack}*: {event.message}"}
    return {key: value for key, value in asdict(event).items() if value is not None}


class _Retry(Exception):
    pass


@retry(
    retry=retry_if_exception_type((httpx.TransportError, _Retry)),
    stop=stop_after_attempt(ATTEMPTS),
    wait=wait_exponential(multiplier=0.2, max=1),
    reraise=True,
)
def _post(client: httpx.Client, url: str, body: Mapping[str, Any]) -> None:
    response = client.post(url, json=body)
    if response.status_code == 429 or response.status_code >= 500:
        raise _Retry(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request, response=response)


@dataclass(frozen=True)
class Webhook:
    name: str  # the environment variable: how warnings name the webhook (never the URL)
    url: str | None
    format: str


def webhooks(notify: list[Notify], environ: Mapping[str, str] = os.environ) -> list[Webhook]:
    return [Webhook(n.webhook_env, environ.get(n.webhook_env) or None, n.format) for n in notify]


class Notifier:
    """Queue events and deliver them from one background thread; `close` waits at most `flush_seconds`."""

    def __init__(
        self, hooks: list[Webhook], warn: Callable[[str], None], timeout: float = TIMEOUT_SECONDS, flush_seconds: float = FLUSH_SECONDS
    ):
        self.hooks, self.warn, self.timeout, self.flush_seconds = hooks, warn, timeout, flush_seconds
        self.queue: queue.Queue[Event | None] = queue.Queue()
        self.thread = threading.Thread(target=self._deliver, name="notify", daemon=True)
        for hook in hooks:
            if hook.url is None:
                warn(f"warning: notify {hook.name}: the environment variable is not set; this release sends it nothing")
        self.thread.start()

    def __call__(self, event: Event) -> None:
        self.queue.put(event)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(self.flush_seconds)
        if self.thread.is_alive():
            self.warn(f"warning: notify: messages still undelivered after {self.flush_seconds:g}s were dropped")

    def _deliver(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while (event := self.queue.get()) is not None:
                for hook in self.hooks:
                    if hook.url is None:
                        continue
                    try:
                        _post(client, hook.url, payload(event, hook.format))
                    except Exception as err:  # a webhook never fails a release: say so and go on
                        self.warn(
                            f"warning: notify {hook.name}: {event.event} not delivered after {ATTEMPTS} attempts ({type(err).__name__}: {err})"
                        )
