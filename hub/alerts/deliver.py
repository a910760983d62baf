"""Send the alerts that are due: claim, send outside any transaction, record the outcome.

A webhook's secret is looked up by its URL in the current settings at send time, so secrets never sit
in the database; an alert for a webhook (or e-mail) no longer configured is given up with that reason.
"""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from hub.alerts import mail, webhook
from hub.alerts.messages import render
from hub.alerts.outbox import Claimed, claim, mark_failed, mark_sent
from hub.alerts.recipients import EMAIL, WEBHOOK, email_enabled
from hub.db import Database
from hub.settings import AlertsSettings

log = logging.getLogger("xinlian.alerts")
CLAIM_MARGIN_S = 60.0  # a claimed batch must be sent within its lease, with room to spare


@dataclass(slots=True)
class DeliveryStats:
    """What one delivery run did."""

    sent: int = 0
    failed: int = 0  # will be tried again
    given_up: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retry: bool
    detail: str


def deliver_due(
    alerts: AlertsSettings,
    zone: str,
    database: Database,
    now: datetime,
    batch: int = 100,
    client: httpx.Client | None = None,
) -> DeliveryStats:
    """Send the alerts due at ``now`` (one batch); returns what happened."""
    lease_s = batch * alerts.timeout_s * 2 + CLAIM_MARGIN_S  # longer than the whole batch can take
    with database.session() as session:
        claimed = claim(session, now, lease_s, batch)
    stats = DeliveryStats()
    if not claimed:
        return stats
    own_client = client is None
    http = client or httpx.Client(timeout=alerts.timeout_s, follow_redirects=False)
    try:
        outcomes = [(alert, _send(alert, alerts, zone, http)) for alert in claimed]
    finally:
        if own_client:
            http.close()
    with database.session() as session:
        for alert, outcome in outcomes:
            stats.by_kind[alert.kind] += 1
            if outcome.ok:
                mark_sent(session, alert.id, now)
                stats.sent += 1
                continue
            given_up = mark_failed(session, alert.id, outcome.detail, now, alerts, retry=outcome.retry)
            if given_up:
                stats.given_up += 1
                log.warning(
                    "alert %d to %s %s given up: %s", alert.id, alert.kind, alert.target, outcome.detail
                )
            else:
                stats.failed += 1
                log.info(
                    "alert %d to %s %s failed, will retry: %s",
                    alert.id,
                    alert.kind,
                    alert.target,
                    outcome.detail,
                )
    return stats


def _send(
    alert: Claimed,
    alerts: AlertsSettings,
    zone: str,
    http: httpx.Client,
) -> Outcome:
    if alert.kind == WEBHOOK:
        hook = next((hook for hook in alerts.webhooks.values() if hook.url == alert.target), None)
        if hook is None:
            return Outcome(False, False, "the webhook is no longer configured")
        body = webhook.body_of(alert.id, alert.payload)
        posted = webhook.post(http, hook.url, hook.secret.get_secret_value(), alert.id, alert.event, body)
        return Outcome(posted.ok, posted.retry, posted.detail)
    if alert.kind == EMAIL:
        if not email_enabled(alerts):
            return Outcome(False, False, "no SMTP server is configured (alerts.smtp_host)")
        subject, text = render(alert.payload, alerts.language, zone)
        message = mail.message(alerts.smtp_from, alert.target, subject, text, alert.id)
        try:
            mail.send(mail.SmtpConfig.from_settings(alerts), message)
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome(False, not mail.permanent(exc), f"{exc.__class__.__name__}: {exc}")
        return Outcome(True, False, "sent")
    return Outcome(False, False, f"unknown alert kind {alert.kind!r}")
