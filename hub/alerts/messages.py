"""Subject and plain text of alert e-mail, in zh-CN or English, made from an alert's payload."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.alerts.payload import DIGEST, FAILING, PAUSED, RECOVERED
from hub.timeutil import to_zone

STATUS_NAMES: Mapping[str, tuple[str, str]] = {
    "active": ("活跃", "active"),
    "slowing": ("更新放缓", "slowing"),
    "stale": ("停更", "stale"),
    "dormant": ("长期停更", "dormant"),
    "broken": ("故障", "broken"),
    "unreachable": ("无法访问", "unreachable"),
    "unknown": ("未知", "unknown"),
    "scheduled": ("按计划抓取", "crawled on schedule"),
    "paused": ("已暂停抓取", "crawling paused"),
}
TEXT: Mapping[str, tuple[str, str]] = {
    "prefix": ("[信链]", "[Xinlian]"),
    "failing": ("信息源故障：{source}（{unit}）", "Source failing: {source} ({unit})"),
    "recovered": ("信息源已恢复：{source}（{unit}）", "Source recovered: {source} ({unit})"),
    "paused": ("信息源已暂停抓取：{source}（{unit}）", "Source paused: {source} ({unit})"),
    "digest": (
        "每周健康摘要：{unit}，{count} 个单位需关注",
        "Weekly health digest: {unit}, units needing attention: {count}",
    ),
    "digest_paused_count": ("，{count} 个信息源已暂停抓取", ", paused sources: {count}"),
    "digest_paused": ("以下信息源已暂停抓取：", "Crawling is paused for these sources:"),
    "test": ("测试告警", "Test alert"),
    "test_body": (
        "这是一条测试告警：告警邮件可以送达。",
        "This is a test alert: alert e-mail reaches you.",
    ),
    "unit": ("单位", "Unit"),
    "source": ("信息源", "Source"),
    "url": ("地址", "URL"),
    "status": ("状态", "Status"),
    "reason": ("原因", "Reason"),
    "at": ("时间", "At"),
    "failures": ("连续失败次数", "Failed crawls in a row"),
    "dashboard": ("详情", "Details"),
    "digest_intro": (
        "以下单位处于停更或故障状态（截至 {at}）：",
        "These units are stale or broken (as of {at}):",
    ),
    "since": ("自", "since"),
}


def _lang(language: str) -> int:
    return 1 if language == "en" else 0


def _t(key: str, language: str, **values: object) -> str:
    text = TEXT[key][_lang(language)]
    return text.format(**values) if values else text


def status_name(status: str | None, language: str) -> str:
    """A status in words."""
    if status is None:
        return "-"
    return STATUS_NAMES.get(status, (status, status))[_lang(language)]


def _when(value: str | None, zone: str) -> str:
    if not value:
        return "-"
    return to_zone(datetime.fromisoformat(value), zone).strftime("%Y-%m-%d %H:%M")


def render(payload: Mapping[str, Any], language: str, zone: str) -> tuple[str, str]:
    """(subject, body) of the e-mail for ``payload``."""
    event = payload.get("event")
    prefix = _t("prefix", language)
    if event in (FAILING, RECOVERED, PAUSED):
        return _source_mail(payload, str(event), language, zone, prefix)
    if event == DIGEST:
        return _digest_mail(payload, language, zone, prefix)
    lines = [_t("test_body", language), "", f"{_t('at', language)}: {_when(payload.get('at'), zone)}"]
    if payload.get("dashboard_url"):
        lines.append(f"{_t('dashboard', language)}: {payload['dashboard_url']}")
    return f"{prefix} {_t('test', language)}", "\n".join(lines) + "\n"


def _source_mail(
    payload: Mapping[str, Any], event: str, language: str, zone: str, prefix: str
) -> tuple[str, str]:
    source, unit = payload["source"], payload["unit"]
    subject = f"{prefix} {_t(event, language, source=source['name'], unit=unit['name'])}"
    change = (
        f"{status_name(payload.get('from_status'), language)} → {status_name(payload['status'], language)}"
    )
    lines = [
        f"{_t('unit', language)}: {unit['name']} ({unit['slug']})",
        f"{_t('source', language)}: {source['name']} (#{source['id']}, {source['kind']})",
        f"{_t('url', language)}: {source['url']}",
        f"{_t('status', language)}: {change}",
        f"{_t('reason', language)}: {payload.get('reason') or '-'}",
        f"{_t('at', language)}: {_when(payload.get('at'), zone)}",
    ]
    if event in (FAILING, PAUSED):
        lines.append(f"{_t('failures', language)}: {payload.get('consecutive_failures')}")
    lines.append(f"{_t('dashboard', language)}: {payload['dashboard_url']}")
    return subject, "\n".join(lines) + "\n"


def _digest_mail(payload: Mapping[str, Any], language: str, zone: str, prefix: str) -> tuple[str, str]:
    unit, rows, paused = payload["unit"], payload["rows"], payload.get("paused") or []
    subject = f"{prefix} {_t('digest', language, unit=unit['name'], count=len(rows))}"
    if paused:
        subject += _t("digest_paused_count", language, count=len(paused))
    lines = [_t("digest_intro", language, at=_when(payload.get("at"), zone)), ""]
    for row in rows:
        since = f"（{_t('since', language)} {row['status_since']}）" if row.get("status_since") else ""
        if language == "en" and since:
            since = f" ({_t('since', language)} {row['status_since']})"
        lines.append(f"- {row['unit_name']} ({row['unit']}): {status_name(row['status'], language)}{since}")
        lines.append(f"  {row.get('reason') or ''}")
    if paused:
        lines += ["", _t("digest_paused", language), ""]
    for row in paused:  # paused_at is already local time (report.paused_report)
        since = f"{_t('since', language)} {row['paused_at']}"
        lines.append(f"- {row['source']} (#{row['source_id']}, {row['unit_name']}): {since}")
        lines.append(f"  {row.get('pause_reason') or ''}")
    lines += ["", f"{_t('dashboard', language)}: {payload['dashboard_url']}"]
    return subject, "\n".join(lines) + "\n"
