"""Who gets an alert: every configured webhook, the operators' addresses and the contacts of the units
on the source's path (its unit and every ancestor named in ``alerts.contacts``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Unit
from hub.settings import AlertsSettings

WEBHOOK, EMAIL = "webhook", "email"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One place an alert goes: a webhook URL or an e-mail address."""

    kind: str  # WEBHOOK or EMAIL
    target: str


def path_slugs(session: Session, unit: Unit) -> list[str]:
    """Slugs of ``unit``'s ancestors and itself, root first."""
    ids = unit.ancestor_ids
    slugs = {row.id: row.slug for row in session.execute(select(Unit.id, Unit.slug).where(Unit.id.in_(ids)))}
    return [slugs[unit_id] for unit_id in ids if unit_id in slugs]


def email_enabled(alerts: AlertsSettings) -> bool:
    """E-mail is sent only with an SMTP server configured."""
    return bool(alerts.smtp_host.strip())


def contact_addresses(alerts: AlertsSettings, slugs: Iterable[str]) -> list[str]:
    """The contacts of the named units, in order, each once."""
    found: dict[str, None] = {}
    for slug in slugs:
        for address in alerts.contacts.get(slug, []):
            found.setdefault(address, None)
    return list(found)


def alert_recipients(alerts: AlertsSettings, slugs: Iterable[str]) -> list[Recipient]:
    """Recipients of a source's alert, given the slugs of its unit's path."""
    recipients = [Recipient(WEBHOOK, hook.url) for hook in alerts.webhooks.values()]
    if email_enabled(alerts):
        addresses = dict.fromkeys([*alerts.email_to, *contact_addresses(alerts, slugs)])
        recipients += [Recipient(EMAIL, address) for address in addresses]
    return list(dict.fromkeys(recipients))  # a URL configured twice gets one row
