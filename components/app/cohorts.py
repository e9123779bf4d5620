"""A/B cohorts: `apps.<name>.cohorts`, production requests picked by a header or a cookie, sent to the idle color.

Each cohort is one match, `{header: {name, value | prefix | regex}}` or `{cookie: {name, value | prefix | regex}}`:
`value` is an exact match, `prefix` a prefix, `regex` an RE2 expression matched against the whole value (Envoy's
`safe_regex`). The cohort routes sit ahead of the weighted default route and are not gated like preview: they are
real users. They are rendered only while `cohortsActive` is true (written by `make release`'s `cohort` step and by
`python -m cli cohorts`, removed by a flip: after it the idle color is the old version). Which cohorts are unsafe
(a match every request carries) is the policy pack's `cohorts-are-a-subset` to say, not the config model's.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..shared.fields import HeaderName, KeyedProblems, Model, matches

MatchKind = Literal["exact", "prefix", "regex"]
# RE2 (Envoy's regex engine) has no lookaround and no backreferences; Python's `re` would accept them.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]")
# Headers a cohort cannot name: the cookie header has its own kind; the host is the route's, not a cohort's.
_NOT_A_COHORT_HEADER = {"cookie": "use cookie: {name, value} for a cookie", "host": "the host is routed by hosts, not by a cohort"}

CookieName = Annotated[str, matches(re.compile(r"^[A-Za-z0-9._-]+$"), "a cookie name such as beta (letters, digits, '.', '_', '-')")]


def _regex_problem(regex: str) -> str | None:
    try:
        re.compile(regex)
    except re.error as err:
        return f"is not a valid regular expression ({err}): {regex!r}"
    if _NOT_RE2.search(regex):
        return f"uses lookaround or a backreference, which Envoy's RE2 does not support: {regex!r}"
    return None


class _Match(Model):
    value: Annotated[str, Field(min_length=1)] | None = None
    prefix: Annotated[str, Field(min_length=1)] | None = None
    regex: Annotated[str, Field(min_length=1)] | None = None

    @property
    def kind(self) -> MatchKind:
        return "exact" if self.value is not None else "prefix" if self.prefix is not None else "regex"

    @property
    def pattern(self) -> str:
        return next(v for v in (self.value, self.prefix, self.regex) if v is not None)

    def _problems(self) -> list[tuple[str, str]]:
        given = [key for key in ("value", "prefix", "regex") if getattr(self, key) is not None]
        if len(given) != 1:
            return [("value", f"set exactly one of value (exact), prefix or regex, got {', '.join(given) or 'none'}")]
        problem = _regex_problem(self.regex) if self.regex is not None else None
        return [("regex", problem)] if problem else []


class HeaderCohort(_Match):
    name: HeaderName

    @model_validator(mode="after")
    def _valid(self) -> HeaderCohort:
        problems = self._problems()
        if self.name in _NOT_A_COHORT_HEADER:
            problems.append(("name", f"cannot be {self.name}: {_NOT_A_COHORT_HEADER[self.name]}"))
        if problems:
            raise KeyedProblems(problems)
        return self


class CookieCohort(_Match):
    name: CookieName

    @model_validator(mode="after")
    def _valid(self) -> CookieCohort:
        problems = self._problems()
        if self.regex is not None and not problems and re.search(r"(?<!\\)[$^]", self.regex):
            problems.append(("regex", f"is matched against the whole cookie value already: drop ^ and $, got {self.regex!r}"))
        if problems:
            raise KeyedProblems(problems)
        return self


class Cohort(Model):
    header: HeaderCohort | None = None
    cookie: CookieCohort | None = None

    @model_validator(mode="after")
    def _one(self) -> Cohort:
        if (self.header is None) == (self.cookie is None):
            raise KeyedProblems([("header", "set exactly one of header or cookie in each cohort")])
        return self

    @property
    def text(self) -> str:
        """How status and the routing tables show it: `header x-beta=true`, `cookie beta^=int-`, `header ua~.*Android.*`."""
        match, what = (self.header, "header") if self.header is not None else (self.cookie, "cookie")
        assert match is not None
        return f"{what} {match.name}{ {'exact': '=', 'prefix': '^=', 'regex': '~'}[match.kind] }{match.pattern}"


Cohorts = Annotated[list[Cohort], Field(default_factory=list)]


def cohort_problems(cohorts: list[Cohort], active: bool, idle: str, idle_serving: bool, preview_header: str) -> list[tuple[str, str]]:
    """What AppConfig refuses about its cohorts (keys relative to the app): active cohorts need cohorts and an idle
    color that can serve them; no cohort may use the preview header (preview requests are gated by source range)."""
    problems = [
        (
            f"cohorts.{i}.header.name",
            f"is the preview header {preview_header}: preview requests are gated by source range; use another header",
        )
        for i, cohort in enumerate(cohorts)
        if cohort.header is not None and cohort.header.name == preview_header
    ]
    if active and not cohorts:
        problems.append(("cohortsActive", "is true but no cohorts are listed: add apps.<name>.cohorts or remove cohortsActive"))
    elif active and not idle_serving:
        problems.append(("cohortsActive", f"sends the cohorts to the idle color {idle}, which has no image or no pods"))
    return problems
