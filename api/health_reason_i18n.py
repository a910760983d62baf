"""Health reasons (hub/health/reasons.py) worded in Chinese for the staff pages.

English pages show the sentence the sweep stored; Chinese pages word the stored key and values here.
A row written before reasons had keys, or a key this version does not know, shows its stored sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.health import reasons

Label = Callable[[str, str], str]  # (prefix, code) -> the code's label, as Translator.label


def _failed(label: Label, runs: int, kind: str, http: int | None) -> str:
    code = f"，HTTP {http}" if http else ""
    return f"最近 {runs} 次抓取失败：{label('error_kind', kind)}{code}"


def _quiet(status: str) -> Callable[..., str]:
    def word(label: Label, days: float, limit: float, registered: bool) -> str:
        what = "登记后一直没有条目" if registered else "没有新条目"
        return f"已 {days:.0f} 天{what}（超过 {limit:g} 天即为{label('hstatus', status)}）"

    return word


def _failing_note(total: int, failing: int) -> str:
    return f"；{total} 个信息源中 {failing} 个故障或无法访问" if failing else ""


def _paused(
    label: Label, days: float, since: str, kind: str | None, http: int | None, message: str | None
) -> str:
    what = label("error_kind", kind) if kind else "抓取失败"
    what += f"，HTTP {http}" if http else ""
    detail = f"：{message}" if message else ""
    return f"自 {since}（UTC）起连续失败 {days:.1f} 天，已暂停抓取；最近：{what}{detail}"


# The score's shares (reasons.SHARES): a sentence, and what it counts for "no data".
_SHARES = {
    "originals": "{whole} 条中 {part} 条为原创",
    "availability": "{whole} 次抓取和探测中 {part} 次成功",
    "approvals": "{whole} 条已审核条目中 {part} 条通过",
}
_SHARE_NAMES = {"originals": "原创条目", "availability": "抓取和探测", "approvals": "审核结果"}


def _not_read(label: Label, kind: str | None) -> str:
    return f"尚未读取（{label('error_kind', kind)}）" if kind else "尚未读取"


_CHINESE: Mapping[str, Callable[..., str]] = {
    reasons.FAILED: _failed,
    reasons.NO_ITEMS_ANY_MORE: lambda label: "最近一次抓取没有找到条目（此前能找到）",
    reasons.NEVER_READ_UNREACHABLE: lambda label, kind: (
        f"从未读取；首页无法访问：{label('error_kind', kind)}"
    ),
    reasons.NOT_READ: _not_read,
    reasons.DORMANT: _quiet("dormant"),
    reasons.STALE: _quiet("stale"),
    reasons.SLOWING: lambda label, rate_4w, rate_12w: (
        f"近 4 周平均每周 {rate_4w:.2f} 条，近 12 周平均每周 {rate_12w:.2f} 条"
    ),
    reasons.ACTIVE: lambda label, days, rate_12w: (
        f"最新条目在 {days:.0f} 天前，近 12 周平均每周 {rate_12w:.2f} 条"
    ),
    reasons.BEST_OF: lambda label, total, status, failing: (
        f"{total} 个信息源中最好的为{label('hstatus', status)}{_failing_note(total, failing)}"
    ),
    reasons.NO_READABLE: lambda label, total, failing: f"没有可读取的信息源{_failing_note(total, failing)}",
    reasons.NO_SOURCES: lambda label: "没有信息源",
    reasons.NONE_READ: lambda label: "信息源都还没有读取",
    reasons.PAUSED: _paused,
    reasons.RESUMED_AFTER_CRAWL: lambda label, status: (
        "抓取成功，恢复调度" if status == "ok" else "抓取成功（内容未变化），恢复调度"
    ),
    reasons.RESUMED_ON_REQUEST: lambda label, actor: f"{actor} 要求立即抓取，恢复调度",
    reasons.INDICATOR_RATE: lambda label, rate, expected: (
        f"近 12 周平均每周 {rate:.2f} 条，期望每周 {expected:g} 条"
    ),
    reasons.NO_ITEM_YET: lambda label: "还没有条目",
    reasons.LAST_NEW_ITEM: lambda label, days, stale: (
        f"最新条目在 {days:.1f} 天前，超过 {stale:g} 天即为停更"
    ),
    reasons.SHARE: lambda label, part, whole, what: _SHARES[what].format(part=part, whole=whole),
    reasons.NO_DATA: lambda label, what: f"暂无数据（{_SHARE_NAMES[what]}）",
}


def chinese_reason(data: Mapping[str, Any] | None, stored: str, label: Label) -> str:
    """The reason of ``data`` (``{"key", "args"}``) in Chinese; ``stored`` when it cannot be worded."""
    if not isinstance(data, Mapping):
        return stored
    word = _CHINESE.get(str(data.get("key")))
    args = data.get("args")
    if word is None or not isinstance(args, Mapping):
        return stored
    try:
        return word(label, **args)
    except (TypeError, ValueError):  # values of another shape than this version writes
        return stored
