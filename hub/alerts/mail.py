"""Alert e-mail over SMTP (stdlib ``smtplib`` and ``email``): STARTTLS or TLS, optional login."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from hub.settings import AlertsSettings


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send (from the [alerts] settings)."""

    host: str
    port: int
    starttls: bool
    use_ssl: bool
    user: str
    password: str
    sender: str
    timeout_s: float

    @classmethod
    def from_settings(cls, alerts: AlertsSettings) -> SmtpConfig:
        return cls(
            alerts.smtp_host,
            alerts.smtp_port,
            alerts.smtp_starttls,
            alerts.smtp_ssl,
            alerts.smtp_user,
            alerts.smtp_password.get_secret_value(),
            alerts.smtp_from,
            alerts.timeout_s,
        )

    def __repr__(self) -> str:  # the password must never reach a log line
        return f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r})"


def message(sender: str, to: str, subject: str, body: str, alert_id: int) -> EmailMessage:
    """A plain-text UTF-8 message (Chinese subjects are encoded by the email package)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    mail["Message-ID"] = make_msgid(idstring=f"alert{alert_id}", domain=domain)
    mail["X-Xinlian-Alert"] = str(alert_id)
    mail.set_content(body)
    return mail


def send(config: SmtpConfig, mail: EmailMessage) -> None:
    """Send one message; raises smtplib.SMTPException or OSError when it does not go."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.use_ssl:
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    with smtp:
        if config.starttls and not config.use_ssl:
            smtp.starttls(context=context)
        if config.user:
            smtp.login(config.user, config.password)
        smtp.send_message(mail)


def permanent(error: Exception) -> bool:
    """Whether trying again cannot help: the server refused every recipient for good (5xx).

    A refused login or sender is the operator's configuration, which may be fixed: retried."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    return False
