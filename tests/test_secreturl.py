"""Secrets in source URLs are masked where URLs are shown or recorded (hub/secreturl.py)."""

from __future__ import annotations

import pytest

from hub.crawlrecord import Outcome
from hub.secreturl import has_secret, masked_text, masked_url, unmasked_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bridge:1200/weibo/user/123?key=s3cr%2Ft", "http://bridge:1200/weibo/user/123?key=***"),
        # Other parameters, their order and encoding stay; names compare case-insensitively, decoded.
        ("https://a.cn/feed?page=2&Token=abc&q=%E5%85%9A", "https://a.cn/feed?page=2&Token=***&q=%E5%85%9A"),
        ("https://a.cn/f?access%5Ftoken=abc&x=1", "https://a.cn/f?access%5Ftoken=***&x=1"),
        ("https://a.cn/f?api_key=1&apikey=2&sig=3", "https://a.cn/f?api_key=***&apikey=***&sig=***"),
        # A password in the userinfo; the user name stays.
        ("https://editor:pa:ss@a.cn/rss?key=k", "https://editor:***@a.cn/rss?key=***"),
        # Not secrets: a fragment that looks like a query, an empty value, a parameter without a value,
        # a name that only contains a secret word, a user without a password.
        ("https://a.cn/list.html#key=abc", "https://a.cn/list.html#key=abc"),
        ("https://a.cn/f?key=&monkey=1&key", "https://a.cn/f?key=&monkey=1&key"),
        ("https://user@a.cn/f", "https://user@a.cn/f"),
        ("bridge://weibo/123", "bridge://weibo/123"),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown
    assert has_secret(url) == (shown != url)
    assert masked_url(shown) == shown  # masking twice changes nothing more


def test_an_edit_sent_back_masked_means_the_stored_url() -> None:
    stored = "http://bridge:1200/weibo/user/123?key=s3cret"
    assert unmasked_url("http://bridge:1200/weibo/user/123?key=***", stored) == stored
    # Anything typed anew is taken as typed: a new key, another route, or the literal mask on a new URL.
    assert unmasked_url("http://bridge:1200/weibo/user/123?key=other", stored).endswith("key=other")
    assert unmasked_url("http://bridge:1200/weibo/user/456?key=***", stored).endswith("456?key=***")
    assert unmasked_url("http://x.cn/?key=***", None) == "http://x.cn/?key=***"


def test_urls_quoted_in_a_failure_message_lose_their_secrets() -> None:
    said = "Getting https://a.cn/feed.xml?token=abc&page=2 took longer than 15.0 seconds; see <http://b.cn/?key=k>."
    assert masked_text(said) == (
        "Getting https://a.cn/feed.xml?token=***&page=2 took longer than 15.0 seconds; see <http://b.cn/?key=***>."
    )
    assert masked_text("no address here") == "no address here"
    # Punctuation ending the sentence stays, after the mask; the secret before it goes.
    assert masked_text("Timed out on http://b.cn/?key=k.") == "Timed out on http://b.cn/?key=***."
    assert masked_text("读取 http://b.cn/?token=t123。") == "读取 http://b.cn/?token=***。"
    assert masked_text("(see http://b.cn/?key=k), then") == "(see http://b.cn/?key=***), then"
    # A crawl outcome keeps the masked message (staff pages, alerts, the health report show it).
    outcome = Outcome(run_id=1, source_id=2, status="failed", error_kind="timeout", message=said)
    assert outcome.message is not None and "abc" not in outcome.message and "token=***" in outcome.message
