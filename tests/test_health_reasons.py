"""Health reasons: every key is worded in English (stored) and in Chinese (staff pages)."""

from __future__ import annotations

from typing import Any

import pytest

from api.health_reason_i18n import chinese_reason
from api.staff_i18n import staff_translator
from hub.health import reasons
from hub.health.reasons import Reason

EXAMPLES: dict[str, dict[str, Any]] = {
    reasons.FAILED: {"runs": 3, "kind": "timeout", "http": None},
    reasons.NO_ITEMS_ANY_MORE: {},
    reasons.NEVER_READ_UNREACHABLE: {"kind": "dns"},
    reasons.NOT_READ: {"kind": None},
    reasons.DORMANT: {"days": 400.2, "limit": 365.0, "registered": False},
    reasons.STALE: {"days": 45.0, "limit": 30.0, "registered": True},
    reasons.SLOWING: {"rate_4w": 0.25, "rate_12w": 1.5},
    reasons.ACTIVE: {"days": 2.4, "rate_12w": 3.0},
    reasons.BEST_OF: {"total": 3, "status": "stale", "failing": 1},
    reasons.NO_READABLE: {"total": 2, "failing": 2},
    reasons.NO_SOURCES: {},
    reasons.NONE_READ: {},
    reasons.PAUSED: {
        "days": 3.2,
        "since": "2026-12-01 08:00",
        "kind": "timeout",
        "http": None,
        "message": None,
    },
    reasons.RESUMED_AFTER_CRAWL: {"status": "not_modified"},
    reasons.RESUMED_ON_REQUEST: {"actor": "张三"},
    reasons.INDICATOR_RATE: {"rate": 1.0, "expected": 3.0},
    reasons.NO_ITEM_YET: {},
    reasons.LAST_NEW_ITEM: {"days": 4.3, "stale": 14.0},
    reasons.SHARE: {"part": 12, "whole": 12, "what": "originals"},
    reasons.NO_DATA: {"what": "approvals"},
}


def test_every_key_has_an_example() -> None:
    assert set(EXAMPLES) == reasons.KEYS


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_every_key_is_worded_in_both_languages(key: str) -> None:
    reason = Reason(key, EXAMPLES[key])
    english = reason.english()
    chinese = staff_translator("zh-CN").health_reason(reason.data(), english)
    assert english and chinese != english
    assert not any("a" <= char <= "z" for char in chinese.replace("HTTP", "")), chinese
    assert staff_translator("en").health_reason(reason.data(), english) == english


def test_the_english_sentences_read_as_before() -> None:
    assert Reason(reasons.FAILED, {"runs": 1, "kind": "http_5xx", "http": 500}).english() == (
        "last 1 crawl failed: http_5xx, HTTP 500"
    )
    assert Reason(reasons.FAILED, {"runs": 2, "kind": "timeout", "http": None}).english() == (
        "last 2 crawls failed: timeout"
    )
    assert Reason(reasons.STALE, EXAMPLES[reasons.STALE]).english() == (
        "no item since registration for 45 days (stale after 30)"
    )
    assert Reason(reasons.BEST_OF, EXAMPLES[reasons.BEST_OF]).english() == (
        "best of 3 sources: stale; 1 of 3 sources failing"
    )


def test_pauses_read_as_before_and_in_chinese_quote_the_failure() -> None:
    args = {
        "days": 3.2,
        "since": "2026-12-01 08:00",
        "kind": "http_5xx",
        "http": 503,
        "message": "Service down",
    }
    paused = Reason(reasons.PAUSED, args)
    assert paused.english() == (
        "failing for 3.2 days since 2026-12-01 08:00 UTC; last: http_5xx (HTTP 503): Service down"
    )
    assert staff_translator("zh-CN").health_reason(paused.data(), paused.english()) == (
        "自 2026-12-01 08:00（UTC）起连续失败 3.2 天，已暂停抓取；最近：HTTP 5xx 错误，HTTP 503：Service down"
    )
    assert Reason(reasons.RESUMED_ON_REQUEST, {"actor": "alice"}).english() == "crawl now requested by alice"


@pytest.mark.parametrize("what", sorted(reasons.SHARES))
def test_every_share_of_the_score_is_worded_in_both_languages(what: str) -> None:
    for key, args in (
        (reasons.SHARE, {"part": 2, "whole": 3, "what": what}),
        (reasons.NO_DATA, {"what": what}),
    ):
        reason = Reason(key, args)
        chinese = staff_translator("zh-CN").health_reason(reason.data(), reason.english())
        assert chinese != reason.english() and not any("a" <= char <= "z" for char in chinese), chinese
    assert Reason(reasons.SHARE, {"part": 2, "whole": 3, "what": "availability"}).english() == (
        "2 of 3 crawls and probes succeeded"
    )


def test_chinese_wording_uses_the_labels_of_codes() -> None:
    label = staff_translator("zh-CN").label
    data = Reason(reasons.FAILED, EXAMPLES[reasons.FAILED]).data()
    assert chinese_reason(data, "stored", label) == "最近 3 次抓取失败：超时"
    best = Reason(reasons.BEST_OF, EXAMPLES[reasons.BEST_OF]).data()
    assert chinese_reason(best, "stored", label) == (
        "3 个信息源中最好的为停更；3 个信息源中 1 个故障或无法访问"
    )


@pytest.mark.parametrize(
    "data",
    [None, {}, {"key": "renamed", "args": {}}, {"key": "failed"}, {"key": "failed", "args": {"runs": 1}}],
)
def test_what_cannot_be_worded_shows_the_stored_sentence(data: Any) -> None:
    assert staff_translator("zh-CN").health_reason(data, "stored sentence") == "stored sentence"
