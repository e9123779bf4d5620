"""`promotion.notify`: the webhooks `make release` tells about its progress (sent by cli/release/notify.py)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from ..shared.fields import Model, matches

# An environment variable's name: the URL is a credential and stays out of the stack file and git.
EnvName = Annotated[str, matches(re.compile(r"^[A-Z_][A-Z0-9_]*$"), "an environment variable name such as RELEASE_SLACK_WEBHOOK")]


class Notify(Model):
    webhook_env: EnvName  # holds the webhook URL (a masked CI/CD variable, a Secret mounted as env)
    format: Literal["slack", "json"] = "json"
