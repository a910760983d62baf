"""Words that staff.js shows after an action (status line, refused rows), zh-CN and English.

The script has no translator: the page hands it these as JSON (``data-messages`` on the staff
base template), so a decision made on a Chinese page is reported in Chinese. The service's own
message (English, with details such as which screening hits held an item back) stays available
as the refused row's tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping

from api.i18n import Translator
from moderation.errors import ERROR_KINDS

# Templates with {id}, {what}, {action}, {done}, {total}, {detail} filled in by staff.js.
_TEMPLATES: Mapping[str, tuple[str, str]] = {
    "decided": ("#{id}：{what}", "#{id}: {what}"),
    "claimed": ("#{id}：已认领", "#{id}: claimed"),
    "released": ("#{id}：已释放认领", "#{id}: claim released"),
    "failed": ("#{id}：{what}（{detail}）", "#{id}: {what} ({detail})"),
    "bulk": ("{action}：{done} / {total} 条完成", "{action}: {done} of {total} done"),
    "bulk_failed": ("{action}：{what}（{detail}）", "{action}: {what} ({detail})"),
    "pick_row": ("请先用 j / k 选中一条", "Select a row first (j / k)"),
}

# Why the service refused an item (moderation.errors.error_kind), shown in the row's state cell.
_REFUSALS: Mapping[str, tuple[str, str]] = {
    "claimed": ("已被他人认领", "Claimed by someone else"),
    "conflict": ("内容已变化，请刷新后再审", "Changed meanwhile: reload and decide again"),
    "forbidden": ("无权执行此操作", "Not allowed for your role or scope"),
    "not_found": ("条目不存在", "No such item"),
    "has_hits": ("有筛查命中，请逐条审核", "Has screening hits: review it on its own"),
    "unknown_reason": ("理由代码无效", "Unknown reason code"),
    "invalid": ("当前状态不能执行此操作", "Not possible in the item's current state"),
}

# A failed request by HTTP status (api/routes/moderation_api.py maps the errors above to these).
_STATUSES: Mapping[str, str] = {
    "409": "conflict",
    "403": "forbidden",
    "404": "not_found",
    "422": "invalid",
}
_REQUEST_FAILED = ("请求失败", "Request failed")

# The actions a page can start, by the word staff.js sends (button data-action / data-bulk).
_ACTIONS = ("approve", "reject", "needs_changes", "withdraw")


def _pick(row: tuple[str, str], translator: Translator) -> str:
    return row[1] if translator.language == "en" else row[0]


def script_messages(translator: Translator) -> dict[str, object]:
    """Everything staff.js words, in the translator's language (JSON-ready)."""
    refusals = {kind: _pick(_REFUSALS[kind], translator) for kind in ERROR_KINDS}
    return {
        **{key: _pick(row, translator) for key, row in _TEMPLATES.items()},
        "actions": {action: translator.label("action", action) for action in _ACTIONS},
        "first_approval": translator.label("action", "approve_first"),
        "refusals": refusals,
        "statuses": {status: refusals[kind] for status, kind in _STATUSES.items()},
        "request_failed": _pick(_REQUEST_FAILED, translator),
    }
