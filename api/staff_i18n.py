"""Words of the staff sign-in and user pages, zh-CN and English, on top of ``api/i18n.py``.

``StaffTranslator`` looks its own table up first and falls back to the portal's messages, so staff
templates use one ``t``. ``install`` makes ``staff_t(lang)`` available to every template (the staff
base template is also rendered by pages that pass the portal translator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.templating import Jinja2Templates

from api.health_reason_i18n import chinese_reason
from api.i18n import Translator

_MESSAGES: Mapping[str, tuple[str, str]] = {
    "login_title": ("工作人员登录", "Staff sign-in"),
    "login_username": ("用户名", "User name"),
    "login_password": ("密码", "Password"),
    "login_submit": ("登录", "Sign in"),
    "login_failed": ("用户名或密码错误。", "Wrong user name or password."),
    "login_locked": (
        "登录失败次数过多，请 {minutes} 分钟后再试。",
        "Too many failed sign-ins; try again in {minutes} minutes.",
    ),
    "login_expired_form": (
        "登录页面已过期，请重新输入。",
        "This sign-in form has expired; please enter your details again.",
    ),
    "login_signed_out": ("您已退出登录。", "You have signed out."),
    "logout": ("退出登录", "Sign out"),
    "nav_queue": ("审核队列", "Review queue"),
    "nav_users": ("用户管理", "Users"),
    "users_title": ("用户管理", "Users"),
    "users_name": ("用户名", "User name"),
    "users_display_name": ("显示名称（责任审核人）", "Display name (responsible reviewer)"),
    "users_role": ("角色", "Role"),
    "users_scope": ("单位范围", "Unit scope"),
    "users_scope_all": ("全部单位", "Every unit"),
    "users_status": ("状态", "Status"),
    "users_active": ("启用", "Active"),
    "users_inactive": ("已停用", "Deactivated"),
    "users_created_at": ("创建时间", "Created"),
    "users_actions": ("操作", "Actions"),
    "users_save_role": ("保存角色", "Save role"),
    "users_deactivate": ("停用", "Deactivate"),
    "users_activate": ("启用", "Activate"),
    "users_new_password": ("新密码", "New password"),
    "users_reset_password": ("重置密码", "Reset password"),
    "users_create": ("新建用户", "New user"),
    "users_create_submit": ("创建", "Create"),
    "users_you": ("（当前用户）", "(you)"),
    "users_done_created": ("已创建用户 {who}。", "Created {who}."),
    "users_done_role": (
        "已更新 {who} 的角色，其登录会话已结束。",
        "Changed the role of {who}; their sessions ended.",
    ),
    "users_done_deactivated": (
        "已停用 {who}，其登录会话已结束。",
        "Deactivated {who}; their sessions ended.",
    ),
    "users_done_activated": ("已启用 {who}。", "Activated {who}."),
    "users_done_password": (
        "已重置 {who} 的密码，其登录会话已结束。",
        "Reset the password of {who}; their sessions ended.",
    ),
    "users_tokens": ("API 令牌：{count} 个有效", "API tokens: {count} active"),
    # API tokens of one account (routes/staff_users.py, templates/staff/users_tokens.html).
    "users_manage_tokens": ("管理 API 令牌", "Manage API tokens"),
    "tok_title": ("{who} 的 API 令牌", "API tokens of {who}"),
    "tok_back": ("返回用户列表", "Back to users"),
    "tok_none": ("还没有 API 令牌。", "No API tokens yet."),
    "tok_id": ("编号", "Id"),
    "tok_name": ("用途", "Name"),
    "tok_created": ("创建时间", "Created"),
    "tok_expires": ("过期时间", "Expires"),
    "tok_last_used": ("最近使用", "Last used"),
    "tok_state": ("状态", "State"),
    "tok_never": ("从未", "Never"),
    "tok_no_expiry": ("不过期（直到吊销）", "Never (until revoked)"),
    "tok_state_active": ("有效", "Active"),
    "tok_state_expired": ("已过期", "Expired"),
    "tok_state_revoked": ("已吊销", "Revoked"),
    "tok_revoked_at": ("吊销于 {when}", "revoked {when}"),
    "tok_revoke": ("吊销", "Revoke"),
    "tok_create": ("新建令牌", "New token"),
    "tok_days": ("有效天数（留空则直到吊销）", "Valid for days (empty: until revoked)"),
    "tok_create_submit": ("创建令牌", "Create token"),
    "tok_created_for": ("已为 {who} 创建令牌 {id}。", "Created token {id} for {who}."),
    "tok_secret_once": (
        "请现在复制此令牌：它只显示这一次，之后无法再查看，只能吊销后重新创建。",
        "Copy this token now: it is shown this once and never again; if lost, revoke it and create another.",
    ),
    "tok_usage": ("在 JSON API 请求中发送：", "Send it with JSON API requests:"),
    "tok_done_revoked": ("已吊销令牌 {id}。", "Revoked token {id}."),
    "tok_bad_days": (
        "有效天数须为 1 到 {most} 之间的整数，或留空。",
        "Days must be a whole number from 1 to {most}, or empty.",
    ),
    # The health dashboard (routes/staff_health.py, templates/staff/health*.html).
    "nav_health": ("站点健康", "Site health"),
    "hd_title": ("站点健康", "Site health"),
    "hd_view": ("按信息源或单位查看", "By source or by unit"),
    "hd_sources": ("信息源", "Sources"),
    "hd_units": ("单位", "Units"),
    "hd_counts": ("各状态数量", "How many of each status"),
    "hd_status": ("状态", "Status"),
    "hd_level": ("层级", "Level"),
    "hd_kind": ("类型", "Kind"),
    "hd_q": ("名称或网址包含", "Name or URL contains"),
    "hd_paused_only": ("仅已暂停抓取", "Paused only"),
    "hd_unknown_unit": ("没有单位 “{slug}”。", "There is no unit “{slug}”."),
    "hd_rows": ("共 {total} 条", "{total} rows"),
    "hd_none": ("没有符合条件的记录。", "Nothing matches."),
    "hd_export_csv": ("导出 CSV", "Export CSV"),
    "hd_export_xlsx": ("导出 Excel (XLSX)", "Export Excel (XLSX)"),
    "hd_rollup": ("各区县下级单位状态", "Units under each district, by status"),
    "hd_district": ("区县", "District"),
    "hd_total": ("合计", "Total"),
    "hd_yes": ("是", "yes"),
    "hd_no": ("否", "no"),
    "hd_first": ("首次评估", "first assessment"),
    "hd_since": ("自 {date} 起", "since {date}"),
    "hd_not_assessed": (
        "尚未评估：等待下一次健康检查。",
        "Not assessed yet: waiting for the next health sweep.",
    ),
    "hd_disabled": ("已停用", "disabled"),
    "hd_signals": ("采集信号", "Signals"),
    "hd_probe": ("首页探测", "Homepage probe"),
    "hd_probe_error": ("探测错误", "Probe error"),
    "hd_redirects": ("重定向链", "Redirect chain"),
    "hd_tls_expiring": ("证书将在 {days} 天内过期", "certificate expires within {days} days"),
    "hd_items_per_week": ("每周新增条目", "New items per week"),
    "hd_items_per_week_of": ("{name}：每周新增条目", "{name}: new items per week"),
    "hd_chart_desc": (
        "最近 {weeks} 周共 {total} 条，单周最多 {max} 条。",
        "{total} items over the last {weeks} weeks; at most {max} in one week.",
    ),
    "hd_chart_table": ("以表格查看数据", "The data as a table"),
    "hd_week": ("周（起始日）", "Week of"),
    "hd_count": ("条目数", "Items"),
    "hd_timeline": ("状态变化记录", "Status changes"),
    "hd_no_events": ("暂无状态变化。", "No status changes yet."),
    "hd_crawl_now": ("立即采集", "Crawl now"),
    "hd_crawl_queued": (
        "已安排：工作进程下一次调度时采集。",
        "Queued: the worker crawls it at its next tick.",
    ),
    "hd_crawl_being_crawled": (
        "正在采集中，结束后会立即再采集一次。",
        "Being crawled now; it is crawled again right after.",
    ),
    "hd_crawl_refused": ("您无权立即采集该信息源。", "You may not crawl this source."),
    "hd_crawl_disabled": ("该信息源已停用，无法采集。", "The source is disabled."),
    "hd_paused": ("自 {date} 暂停", "paused since {date}"),
    "hd_next_check": ("下次检查 {date}", "next check {date}"),
    "hd_public_page": ("公开页面", "Public page"),
    "hd_score_is": ("活跃度得分：{score}", "Activity score: {score}"),
    "hd_rank": ("{level}中排名第 {rank} / {of}", "Rank {rank} of {of} among {level} units"),
    "hd_breakdown": ("得分构成", "Score breakdown"),
    "hd_indicator": ("指标", "Indicator"),
    "hd_value": ("取值", "Value"),
    "hd_weight": ("权重", "Weight"),
    "hd_points": ("得分", "Points"),
    "hd_detail": ("说明", "What it is made of"),
    "hd_trend": ("月度得分趋势", "Monthly score"),
    "hd_trend_of": ("{name}：月度活跃度得分", "{name}: monthly activity score"),
    "hd_trend_desc": (
        "{first} 至 {last} 共 {months} 个月的得分（满分 100）。",
        "Scores of {months} months, {first} to {last} (out of 100).",
    ),
    "hd_no_trend": ("暂无月度得分。", "No monthly score yet."),
    "hd_month": ("月份", "Month"),
    "hd_score": ("得分", "Score"),
    "hd_unit_sources": ("本单位信息源", "Sources of this unit"),
    "hd_below": ("下级单位状态", "Units below, by status"),
    "hstatus_active": ("活跃", "Active"),
    "hstatus_slowing": ("更新放缓", "Slowing"),
    "hstatus_stale": ("停更", "Stale"),
    "hstatus_dormant": ("长期停更", "Dormant"),
    "hstatus_broken": ("故障", "Broken"),
    "hstatus_unreachable": ("无法访问", "Unreachable"),
    "hstatus_unknown": ("未知", "Unknown"),
    # Crawl failure kinds (crawlers/errors.py), in health reasons and the failures column.
    "error_kind_timeout": ("超时", "timeout"),
    "error_kind_dns": ("域名解析失败", "DNS failure"),
    "error_kind_refused": ("连接被拒绝", "connection refused"),
    "error_kind_connection": ("连接失败", "connection failed"),
    "error_kind_tls": ("TLS/证书错误", "TLS or certificate error"),
    "error_kind_blocked_private": ("指向内网地址，已拦截", "private address, blocked"),
    "error_kind_http_4xx": ("HTTP 4xx 错误", "HTTP 4xx"),
    "error_kind_http_5xx": ("HTTP 5xx 错误", "HTTP 5xx"),
    "error_kind_rate_limited": ("被限流", "rate limited"),
    "error_kind_redirect_loop": ("重定向循环", "redirect loop"),
    "error_kind_robots": ("robots.txt 禁止抓取", "refused by robots.txt"),
    "error_kind_parse_error": ("无法解析", "could not be parsed"),
    "error_kind_encoding": ("编码无法识别", "unreadable encoding"),
    "error_kind_too_large": ("响应过大", "answer too large"),
    "error_kind_aborted": ("抓取中止", "crawl aborted"),
    "error_kind_error": ("错误", "error"),
    "hcol_source": ("信息源", "Source"),
    "hcol_unit": ("单位代码", "Unit slug"),
    "hcol_unit_name": ("单位", "Unit"),
    "hcol_level": ("层级", "Level"),
    "hcol_status": ("状态", "Status"),
    "hcol_last_new_item": ("最新条目", "Last new item"),
    "hcol_items_4w": ("近 4 周条目", "Items, 4 weeks"),
    "hcol_items_12w": ("近 12 周条目", "Items, 12 weeks"),
    "hcol_rate_4w": ("周均（4 周）", "Per week (4 wk)"),
    "hcol_rate_12w": ("周均（12 周）", "Per week (12 wk)"),
    "hcol_trend": ("趋势（4 周/12 周）", "Trend (4 wk / 12 wk)"),
    "hcol_removed_12w": ("近 12 周被删除", "Removed at source, 12 weeks"),
    "hcol_parse_ok": ("解析正常", "Parsed fine"),
    "hcol_extraction_failing": ("提取失败", "Extraction failing"),
    "hcol_consecutive_failures": ("连续失败", "Failures"),
    "hcol_last_error": ("最近错误", "Last error"),
    "hcol_paused_at": ("暂停抓取于", "Paused at"),
    "hcol_pause_reason": ("暂停原因", "Why paused"),
    # The probe columns are the homepage's (hub/health/probe.py), not the source's last fetch: a broken
    # feed on a live site shows HTTP 200 here beside its 5xx failure, so the titles say whose they are.
    "hcol_probed_at": ("首页探测时间", "Homepage probed at"),
    "hcol_reachable": ("首页可访问", "Homepage reachable"),
    "hcol_http_status": ("首页 HTTP 状态", "Homepage HTTP status"),
    "hcol_latency_ms": ("首页延迟（毫秒）", "Homepage latency (ms)"),
    "hcol_tls_days_left": ("证书剩余天数", "TLS days left"),
    "hcol_robots_blocked": ("robots.txt 禁止", "Blocked by robots.txt"),
    "hcol_score": ("得分", "Score"),
    "hcol_rank_in_level": ("同级排名", "Rank in level"),
    "hcol_frequency": ("更新频率", "Frequency"),
    "hcol_timeliness": ("及时性", "Timeliness"),
    "hcol_originality": ("原创比例", "Originality"),
    "hcol_availability": ("可用性", "Availability"),
    "hcol_moderation": ("审核通过率", "Moderation"),
    "hcol_sources": ("信息源数", "Sources"),
    "role_admin": ("管理员", "Admin"),
    "role_moderator": ("审核员", "Moderator"),
    "role_viewer": ("查看员", "Viewer"),
}


@dataclass(frozen=True, slots=True)
class StaffTranslator(Translator):
    """The portal translator plus the staff account pages' words."""

    def __call__(self, key: str, **values: object) -> str:
        row = _MESSAGES.get(key)
        if row is None:
            return Translator.__call__(self, key, **values)
        text = row[1] if self.language == "en" else row[0]
        return text.format(**values) if values else text

    def label(self, prefix: str, value: str) -> str:
        row = _MESSAGES.get(f"{prefix}_{value}")
        if row is None:
            return Translator.label(self, prefix, value)
        return row[1] if self.language == "en" else row[0]

    def health_reason(self, data: Mapping[str, Any] | None, stored: str) -> str:
        """A health reason (hub/health/reasons.py) in this language: ``stored`` (the English sentence
        the sweep wrote) on English pages, else worded from its key and values."""
        if self.language == "en":
            return stored
        return chinese_reason(data, stored, self.label)


def staff_translator(language: str) -> StaffTranslator:
    """A staff translator for ``language`` (zh-CN or en)."""
    return StaffTranslator(language)


def install(templates: Jinja2Templates) -> None:
    """Offer ``staff_t(lang)`` to every template of ``templates``."""
    templates.env.globals["staff_t"] = staff_translator
