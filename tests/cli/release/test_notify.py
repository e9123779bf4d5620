"""promotion.notify: payloads, delivery to a local HTTP server (retries, timeouts, failures as warnings)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cli.release.notify import Event, Notifier, Webhook, payload, webhooks
from components.app.notify_config import Notify
from components.config import ConfigError, parse_stack_config

STEP = Event("step", "stg", "front", "green", "step 1/3: green 10%: applied, live blue 90% / green 10%", "1/3", 10, "blue 90% / green 10%")


class Server:
    """A local webhook: records each POSTed JSON body; answers `codes` in turn (then 200), or sleeps `delay` first."""

    def __init__(self, codes=(), delay=0.0):
        self.bodies: list[dict] = []
        self.codes, self.delay, self.calls = list(codes), delay, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                server.calls += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(server.delay)
                code = server.codes.pop(0) if server.codes else 200
                if code == 200:
                    server.bodies.append(body)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


def deliver(hooks, *events, timeout=2.0):
    warnings: list[str] = []
    notifier = Notifier(hooks, warnings.append, timeout=timeout)
    for event in events:
        notifier(event)
    notifier.close()
    return warnings


def test_payloads():
    assert payload(STEP, "json") == {
        "event": "step",
        "stack": "stg",
        "app": "front",
        "color": "green",
        "message": "step 1/3: green 10%: applied, live blue 90% / green 10%",
        "step": "1/3",
        "weight": 10,
        "live": "blue 90% / green 10%",
    }
    assert payload(STEP, "slack") == {"text": ":arrow_right: *front* on *stg*: step 1/3: green 10%: applied, live blue 90% / green 10%"}


def test_json_and_slack_reach_a_local_webhook(server):
    warnings = deliver([Webhook("HOOK", server.url, "json"), Webhook("SLACK", server.url, "slack")], STEP)
    assert warnings == [] and server.bodies == [payload(STEP, "json"), payload(STEP, "slack")]


def test_5xx_and_429_are_retried(server):
    server.codes = [500, 429]
    assert deliver([Webhook("HOOK", server.url, "json")], STEP) == []
    assert server.calls == 3 and server.bodies == [payload(STEP, "json")]


def test_an_undeliverable_message_is_a_warning_never_an_error(server):
    server.codes = [404]
    closed = Server()
    closed.stop()  # nothing listens there any more
    warnings = deliver([Webhook("HOOK", server.url, "json"), Webhook("DEAD", closed.url, "json")], STEP)
    assert warnings[0].startswith("warning: notify HOOK: step not delivered after 3 attempts (HTTPStatusError: HTTP 404)")
    assert warnings[1].startswith("warning: notify DEAD: step not delivered after 3 attempts (ConnectError: ")
    assert server.calls == 1  # a 4xx is not retried
    assert all(closed.url not in w for w in warnings)  # the URL is a credential: the variable's name only


def test_a_slow_webhook_never_holds_the_caller():
    slow = Server(delay=1.5)
    try:
        warnings: list[str] = []
        notifier = Notifier([Webhook("SLOW", slow.url, "json")], warnings.append, timeout=0.2)
        started = time.monotonic()
        for _ in range(3):
            notifier(STEP)
        assert time.monotonic() - started < 0.1  # queued: the release goes on at once
        notifier.close()
        assert warnings and "ReadTimeout" in warnings[0]
    finally:
        slow.stop()


def test_the_url_comes_from_the_named_environment_variable():
    hooks = webhooks([Notify(webhookEnv="HOOK", format="slack"), Notify(webhookEnv="MISSING")], {"HOOK": "https://hooks.example/x"})
    assert hooks == [Webhook("HOOK", "https://hooks.example/x", "slack"), Webhook("MISSING", None, "json")]
    warnings = deliver(hooks[1:], STEP)
    assert warnings == ["warning: notify MISSING: the environment variable is not set; this release sends it nothing"]


def test_config_is_validated_by_key_path(config):
    config["apps"]["front"]["promotion"] = {"notify": [{"webhookEnv": "RELEASE_SLACK_WEBHOOK", "format": "slack"}]}
    assert parse_stack_config(config).apps["front"].promotion.notify == [Notify(webhookEnv="RELEASE_SLACK_WEBHOOK", format="slack")]
    config["apps"]["front"]["promotion"] = {"notify": [{"webhookEnv": "https://hooks.slack.com/x", "format": "teams"}]}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(config)
    assert err.value.problems == [
        "apps.front.promotion.notify.0.webhookEnv: must be an environment variable name such as RELEASE_SLACK_WEBHOOK, got 'https://hooks.slack.com/x'",
        "apps.front.promotion.notify.0.format: must be 'slack' or 'json', got 'teams'",
    ]
