"""Field types and the base model shared by every typed config model.

Each type's message says what is expected and what was given, e.g. `must be between 0 and 100, got 150`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Strict
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


# --- numbers and booleans: strict, in the forms the Pulumi CLI writes ----------------------------
# pydantic's lax mode reads `true` as 1 and 1 as true: `port: true` would serve on port 1. A boolean is never a
# number here, nor a number a boolean. What stays accepted is what `pulumi config set` writes: with `--path`,
# integers as YAML numbers and `true`/`false` as YAML booleans, every other value (0.5 included) as a string;
# with `--type string`, and for top-level keys, everything as a string. So a number may also be its decimal
# text ("8080", "0.5") and a boolean the text "true" or "false".
_WHOLE = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def _shown(value: Any) -> str:
    # As the stack file spells it: `true`, not Python's True.
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


def _whole_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():  # the engine hands JSON numbers over as floats
        return int(value)
    if isinstance(value, str) and _WHOLE.match(value):
        return int(value)
    raise ValueError(f"must be a whole number, got {_shown(value)}")


def _number(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DECIMAL.match(value):
        return float(value)
    raise ValueError(f"must be a number, got {_shown(value)}")


def not_a_boolean(value: Any) -> Any:
    """For a field that takes a number or a string (Kubernetes' IntOrString): anything but a boolean."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number or a string, got {_shown(value)}")
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f"must be true or false, got {_shown(value)}")


WholeNumber = Annotated[int, BeforeValidator(_whole_number), Strict()]
Number = Annotated[float, BeforeValidator(_number)]
Boolean = Annotated[bool, BeforeValidator(_boolean), Strict()]

DnsLabel = Annotated[str, matches(_DNS_LABEL, "a DNS-1123 label (lowercase letters, digits, '-', at most 63)")]
Hostname = Annotated[str, matches(_HOST, "a lowercase DNS hostname such as front.example.com")]
ImageRef = Annotated[str, matches(_IMAGE, "an image reference such as registry/repo/name:1.2.3")]
Quantity = Annotated[str, BeforeValidator(_number_as_string), matches(_QUANTITY, "a Kubernetes quantity such as 100m or 512Mi")]
PathPrefix = Annotated[str, matches(_PATH_PREFIX, "a path prefix such as /preview (leading '/', no trailing '/')")]
HttpPath = Annotated[str, matches(re.compile(r"^/[A-Za-z0-9._~/-]*$"), "an absolute HTTP path such as /healthz")]
HeaderName = Annotated[str, matches(_HEADER_NAME, "a lowercase HTTP header name such as x-preview")]
Port = Annotated[WholeNumber, between(1, 65535)]
Replicas = Annotated[WholeNumber, between(0, 1000)]
Cidr = Annotated[str, AfterValidator(_cidr)]
# A Secret's name: a DNS-1123 subdomain (lowercase, digits, '-' and '.').
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SecretName = Annotated[str, matches(_DNS_SUBDOMAIN, "a Kubernetes Secret name such as front-tls")]

# Kubernetes label keys and values, checked as the API server checks them (apimachinery's IsQualifiedName and
# IsValidLabelValue), so a bad label fails the plan instead of `pulumi up` half-way.
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_KEY = (
    "a Kubernetes label key (an optional DNS subdomain prefix and '/', then a name of at most 63 letters, digits, "
    "'-', '_' or '.' that starts and ends with a letter or digit, e.g. example.com/tier)"
)
_LABEL_VALUE = "a Kubernetes label value (empty, or at most 63 letters, digits, '-', '_' or '.' that start and end with a letter or digit)"


def _label_key(key: str) -> str:
    prefix, slash, name = key.partition("/") if "/" in key else ("", "", key)
    prefix_ok = not slash or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix) is not None)
    if not (prefix_ok and len(name) <= 63 and _LABEL_NAME.match(name)):
        raise ValueError(f"must be {_LABEL_KEY}, got {key!r}")
    return key


def _label_value(value: str) -> str:
    if value and not (len(value) <= 63 and _LABEL_NAME.match(value)):
        raise ValueError(f"must be {_LABEL_VALUE}, got {value!r}")
    return value


LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Labels = dict[LabelKey, LabelValue]  # labels, a node selector, a label selector's matchLabels


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
