"""Field types and the base model shared by every typed config model.

Each type's message says what is expected and what was given, e.g. `must be between 0 and 100, got 150`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|[KMGTPE]i?|[eE][0-9]+)?$")
_PATH_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_HEADER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def matches(pattern: re.Pattern, what: str):
    def validate(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"must be {what}, got {value!r}")
        return value

    return AfterValidator(validate)


def between(low: int, high: int):
    def validate(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return AfterValidator(validate)


def at_least(low: int):
    def validate(value: int) -> int:
        if value < low:
            raise ValueError(f"must be at least {low}, got {value}")
        return value

    return AfterValidator(validate)


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"must be a CIDR block such as 10.0.0.0/8, got {value!r}") from None
    return value


def _number_as_string(value: Any) -> Any:
    # YAML reads `cpu: 1` as a number; Kubernetes quantities are strings.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


DnsLabel = Annotated[str, matches(_DNS_LABEL, "a DNS-1123 label (lowercase letters, digits, '-', at most 63)")]
Hostname = Annotated[str, matches(_HOST, "a lowercase DNS hostname such as front.example.com")]
ImageRef = Annotated[str, matches(_IMAGE, "an image reference such as registry/repo/name:1.2.3")]
Quantity = Annotated[str, BeforeValidator(_number_as_string), matches(_QUANTITY, "a Kubernetes quantity such as 100m or 512Mi")]
PathPrefix = Annotated[str, matches(_PATH_PREFIX, "a path prefix such as /preview (leading '/', no trailing '/')")]
HttpPath = Annotated[str, matches(re.compile(r"^/[A-Za-z0-9._~/-]*$"), "an absolute HTTP path such as /healthz")]
HeaderName = Annotated[str, matches(_HEADER_NAME, "a lowercase HTTP header name such as x-preview")]
Port = Annotated[int, between(1, 65535)]
Replicas = Annotated[int, between(0, 1000)]
Cidr = Annotated[str, AfterValidator(_cidr)]
# A Secret's name: a DNS-1123 subdomain (lowercase, digits, '-' and '.').
SecretName = Annotated[
    str,
    matches(re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"), "a Kubernetes Secret name such as front-tls"),
]


class KeyedProblems(ValueError):
    """Problems found by a model validator, each keyed relative to the model being validated."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{k}: {m}" for k, m in problems))
        self.problems = problems


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True, strict=False)


def whole_numbers(value: Any) -> Any:
    """The engine hands numbers over as floats; whole ones become ints again, as the manifests wrote them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value
