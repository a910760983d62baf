"""Words of the staff sign-in and user pages, zh-CN and English, on top of ``api/i18n.py``.

``StaffTranslator`` looks its own table up first and falls back to the portal's messages, so staff
templates use one ``t``. ``install`` makes ``staff_t(lang)`` available to every template (the staff
base template is also rendered by pages that pass the portal translator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.templating import Jinja2Templates

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


def staff_translator(language: str) -> StaffTranslator:
    """A staff translator for ``language`` (zh-CN or en)."""
    return StaffTranslator(language)


def install(templates: Jinja2Templates) -> None:
    """Offer ``staff_t(lang)`` to every template of ``templates``."""
    templates.env.globals["staff_t"] = staff_translator
