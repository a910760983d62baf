"""Typed rows of a registry file (pydantic) and where each came from (docs/architecture.md step 2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.accounturl import ACCOUNT_URL_PREFIX
from hub.fulltextmode import FULL_TEXT_KEY, full_text_mode
from hub.models import SourceKind, UnitLevel, UnitType
from hub.registry.errors import Problem

SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Accounts given as platform + id are stored as bridge://<platform>/<id> (hub/accounturl.py);
# crawlers.bridge builds the bridge route from the settings at crawl time.
ACCOUNT_PLATFORMS = frozenset({"weibo", "wechat"})


def account_url(platform: str, account: str) -> str:
    """The stored URL of an account source written without one."""
    return f"{ACCOUNT_URL_PREFIX}{platform}/{quote(account, safe='')}"


def check_http_url(value: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host, else ValueError."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {value!r}")
    return value.strip()


class _Row(BaseModel):
    # Numbers written without quotes (region: 330100) are still codes, not integers. Lengths are the
    # store's column sizes: PostgreSQL refuses a longer value mid-import, SQLite would keep it.
    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, use_enum_values=True, validate_default=True
    )


class SourceRow(_Row):
    """A source as written in a registry file."""

    name: str = Field(max_length=200)
    kind: SourceKind
    url: str = Field("", max_length=1000)  # may be left out for accounts given as platform + account
    category: str | None = Field(None, max_length=50)
    platform: str | None = Field(None, max_length=16)
    account: str | None = Field(None, max_length=100)
    selectors: dict[str, str] = {}  # pydantic copies mutable defaults
    auto_approve: bool | None = None  # None: the unit's policy (moderation/policy.py)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip() or value.strip().startswith(ACCOUNT_URL_PREFIX):
            return value.strip()
        return check_http_url(value)

    @field_validator("selectors")
    @classmethod
    def _full_text(cls, value: dict[str, str]) -> dict[str, str]:
        # The full-text option lives with the selectors (hub/fulltextmode.py): a typo would fail each crawl.
        if FULL_TEXT_KEY in value:
            return {**value, FULL_TEXT_KEY: full_text_mode(value)}
        return value

    @model_validator(mode="after")
    def _account_url(self) -> SourceRow:
        if self.kind == SourceKind.ACCOUNT.value and self.platform and self.platform not in ACCOUNT_PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(sorted(ACCOUNT_PLATFORMS))}")
        if not self.url:
            if self.kind != SourceKind.ACCOUNT.value or not (self.platform and self.account):
                raise ValueError("url is required (accounts may give platform and account instead)")
            self.url = account_url(self.platform, self.account)
        elif self.url.startswith(ACCOUNT_URL_PREFIX) and self.kind != SourceKind.ACCOUNT.value:
            raise ValueError(f"{ACCOUNT_URL_PREFIX} URLs are for account sources only")
        return self

    def as_dict(self) -> dict[str, Any]:
        """The row as written in a file: required fields first, empty and default fields left out."""
        data = self.model_dump(exclude_none=True, exclude_defaults=True)
        if self.url.startswith(ACCOUNT_URL_PREFIX):  # written back as platform + account
            data.pop("url", None)
            return {"name": self.name, "kind": self.kind} | data
        return {"name": self.name, "kind": self.kind, "url": self.url} | data


class UnitRow(_Row):
    """A unit as written in a registry file (without its sources and children)."""

    slug: str
    name: str = Field(max_length=200)
    level: UnitLevel
    type: UnitType = UnitType.GOVERNMENT
    region: str | None = Field(None, max_length=12)
    website: str | None = Field(None, max_length=500)
    parent: str | None = None
    auto_approve: bool | None = None  # None: the parent unit's policy (moderation/policy.py); off at the root

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError(f"slug must be letters, digits, '-', '_' or '.' (at most 64): {value!r}")
        return value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else check_http_url(value)


@dataclass(slots=True)
class Located:
    """Where a row was written: file, line of the row, and line of each of its keys."""

    file: str
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)

    def problem(self, message: str, key: str | None = None) -> Problem:
        """A problem pointing at ``key`` of this row (or the row itself)."""
        line = self.key_lines.get(key, self.line) if key else self.line
        return Problem(self.file, line, message)


@dataclass(slots=True)
class SourceEntry:
    """A validated source and where it was written."""

    row: SourceRow
    where: Located


@dataclass(slots=True)
class UnitEntry:
    """A validated unit, its sources, and where it was written."""

    row: UnitRow
    where: Located
    sources: list[SourceEntry] = field(default_factory=list)


def _problems(error: ValidationError, where: Located, what: str) -> list[Problem]:
    problems = []
    for detail in error.errors():
        key = str(detail["loc"][0]) if detail["loc"] else None
        if detail["type"] == "extra_forbidden":
            message = f"{what}: unknown field {key!r}"
        elif detail["type"] == "missing":
            message = f"{what}: missing field {key!r}"
        else:
            message = f"{what}: {key}: {detail['msg']}"
        problems.append(where.problem(message, key))
    return problems


def parse_unit(data: dict[str, Any], where: Located, problems: list[Problem]) -> UnitRow:
    """``data`` as a UnitRow; when invalid, its problems are appended and an unchecked row is returned
    so that the whole-file checks (duplicates, parents, cycles) still see it."""
    try:
        return UnitRow.model_validate(data)
    except ValidationError as error:
        problems.extend(_problems(error, where, f"unit {data.get('slug', '?')!s}"))
    parent = data.get("parent")
    unchecked: dict[str, Any] = {
        "slug": str(data.get("slug") or ""),
        "name": str(data.get("name") or ""),
        "level": str(data.get("level") or ""),
        "parent": parent if isinstance(parent, str) else None,
    }
    return UnitRow.model_construct(**unchecked)


def parse_source(data: dict[str, Any], where: Located, problems: list[Problem]) -> SourceRow | None:
    """``data`` as a SourceRow, or None with its problems appended."""
    try:
        return SourceRow.model_validate(data)
    except ValidationError as error:
        problems.extend(_problems(error, where, f"source {data.get('url') or data.get('name') or '?'!s}"))
        return None
