"""The staff source form (``templates/staff/sources_form.html``) and what it sends, as the service's
fields (``hub/sourceadmin.py``). Only sizes are bounded here: the service checks what a source may be,
so a form and the JSON API are refused for the same reasons."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from hub.fulltextmode import FULL_TEXT_KEY
from hub.models import Source
from hub.secreturl import masked_url
from hub.sourceadmin import GUID_KEY, SELECTOR_KEYS, FieldProblem, InvalidSource, source_fields

_AUTO_APPROVE = {"inherit": None, "on": True, "off": False}
_AUTO_APPROVE_NAMES = {value: name for name, value in _AUTO_APPROVE.items()}
SELECTOR_LENGTH = 1000


class SourceForm(BaseModel):
    """The fields of the add and edit forms, as text (an unchecked box or an empty field is "")."""

    unit: str = Field("", max_length=64)
    name: str = Field("", max_length=200)
    kind: str = Field("", max_length=16)
    url: str = Field("", max_length=1000)
    platform: str = Field("", max_length=16)
    account: str = Field("", max_length=100)
    category: str = Field("", max_length=50)
    auto_approve: str = Field("inherit", max_length=8)
    guid: str = Field("", max_length=8)
    full_text: str = Field("", max_length=8)  # "" is auto (hub/fulltextmode.py)
    interval_min: str = Field("", max_length=12)
    sel_item: str = Field("", max_length=SELECTOR_LENGTH)
    sel_link: str = Field("", max_length=SELECTOR_LENGTH)
    sel_title: str = Field("", max_length=SELECTOR_LENGTH)
    sel_date: str = Field("", max_length=SELECTOR_LENGTH)
    sel_body: str = Field("", max_length=SELECTOR_LENGTH)
    sel_next: str = Field("", max_length=SELECTOR_LENGTH)
    action: str = Field("", max_length=10)

    @classmethod
    def of_source(cls, source: Source) -> SourceForm:
        """The form filled in with ``source`` as stored."""
        fields = source_fields(source)
        selectors: Mapping[str, Any] = fields["selectors"]
        return cls(
            unit=source.unit.slug,
            name=fields["name"],
            kind=fields["kind"],
            url=masked_url(fields["url"]),  # a key in the URL is not shown (hub/secreturl.py)
            platform=fields["platform"] or "",
            account=fields["account"] or "",
            category=fields["category"] or "",
            auto_approve=_AUTO_APPROVE_NAMES[fields["auto_approve"]],
            guid=str(selectors.get(GUID_KEY) or ""),
            full_text=str(selectors.get(FULL_TEXT_KEY) or ""),
            interval_min=str(round(source.check_interval_s / 60)),
            **{f"sel_{key}": str(selectors.get(key) or "") for key in SELECTOR_KEYS},
        )

    def selector(self, key: str) -> str:
        """The submitted selector ``key`` (item, link, ...)."""
        return str(getattr(self, f"sel_{key}"))

    def fields(self, stored: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The service's fields; selectors the form does not show are kept from ``stored``."""
        selectors = {
            key: value
            for key, value in (stored or {}).items()
            if key not in (*SELECTOR_KEYS, GUID_KEY, FULL_TEXT_KEY)
        }
        selectors |= {key: self.selector(key) for key in SELECTOR_KEYS}
        if self.guid:
            selectors[GUID_KEY] = self.guid
        if self.full_text:
            selectors[FULL_TEXT_KEY] = self.full_text
        return {
            "name": self.name,
            "kind": self.kind,
            "url": self.url,  # the masked URL of_source shows means the stored one (hub/sourceadmin.py)
            "platform": self.platform,
            "account": self.account,
            "category": self.category,
            "selectors": selectors,
            # An unknown choice goes through as given, for the registry's row to refuse.
            "auto_approve": _AUTO_APPROVE.get(self.auto_approve, self.auto_approve),
        }

    def interval_s(self) -> int | None:
        """The check interval in seconds, None when left empty; InvalidSource when not a number."""
        text = self.interval_min.strip()
        if not text:
            return None
        try:
            minutes = float(text)
        except ValueError:
            minutes = math.nan
        if not math.isfinite(minutes):
            raise InvalidSource([FieldProblem("check_interval_s", f"not a number of minutes: {text!r}")])
        return round(minutes * 60)
