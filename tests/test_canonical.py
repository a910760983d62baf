"""Canonical URLs: one spelling per page, and canonicalizing twice changes nothing."""

from __future__ import annotations

import pytest

from hub.canonical import canonical_url, guid_policy, identity_guid

CASES = [
    ("HTTP://Example.COM:80/News/A.html", "http://example.com/News/A.html"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("http://example.com/a.html#comments", "http://example.com/a.html"),
    ("http://example.com/a?utm_source=wx&utm_medium=x&id=3", "http://example.com/a?id=3"),
    ("http://example.com/a?from=timeline&isappinstalled=0&spm=a.b", "http://example.com/a"),
    ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
    ("http://example.com/x/./y/../z.html", "http://example.com/x/z.html"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com/list/", "http://example.com/list/"),
    ("http://example.com/党建/1.html", "http://example.com/%E5%85%9A%E5%BB%BA/1.html"),
    ("http://example.com/%e5%85%9a", "http://example.com/%E5%85%9A"),
    ("http://example.com/a?q=%E5%85%9A%E5%BB%BA", "http://example.com/a?q=%E5%85%9A%E5%BB%BA"),
    ("http://example.com/news/index.html", "http://example.com/news/"),
    ("http://example.com/news/INDEX.HTM", "http://example.com/news/"),
    ("http://example.com/index.shtml", "http://example.com/"),
    ("http://example.com/xxgk/Default.aspx?id=3", "http://example.com/xxgk/?id=3"),
    ("http://example.com/news/index.html#top", "http://example.com/news/"),
    ("http://example.com/news/index_1.html", "http://example.com/news/index_1.html"),
    ("http://example.com/news/myindex.html", "http://example.com/news/myindex.html"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize("raw", [raw for raw, _ in CASES] + ["http://h/a%20b?x=a+b&y=", "http://h/a/../../b"])
def test_canonical_url_is_idempotent(raw: str) -> None:
    once = canonical_url(raw)
    assert canonical_url(once) == once


def test_tracking_variants_share_one_canonical_form() -> None:
    plain = canonical_url("http://127.0.0.1:8700/sites/city/a/1.html")
    shared = canonical_url("http://127.0.0.1:8700/sites/city/a/1.html?utm_campaign=x&from=groupmessage#p2")
    assert plain == shared


def test_index_documents_and_their_directory_are_one_page() -> None:
    assert (
        canonical_url("http://h/a/index.html")
        == canonical_url("http://h/a/")
        == canonical_url("http://h/a/index.htm")
    )


FEED = "http://127.0.0.1:8700/sites/city/rss.xml"


@pytest.mark.parametrize(
    ("guid", "policy", "expected"),
    [
        ("tag:city,2024:notice-17", "auto", "tag:city,2024:notice-17"),
        ("http://127.0.0.1:8700/sites/city/a/17.html", "auto", "http://127.0.0.1:8700/sites/city/a/17.html"),
        (FEED, "auto", None),  # the feed's own address repeated for every entry
        ("http://127.0.0.1:8700/", "auto", None),  # the site root
        ("http://h/a/17.html?t=1717200000", "auto", None),  # a clock in the GUID
        ("1717200000123", "auto", None),  # a millisecond timestamp
        ("  ", "auto", None),
        (None, "guid", None),
        (FEED, "guid", FEED),  # the operator said to trust it
        ("tag:city,2024:notice-17", "url", None),
    ],
)
def test_identity_guid_policy(guid: str | None, policy: str, expected: str | None) -> None:
    assert identity_guid(guid, "http://h/a/17.html", FEED, guid_policy({"guid": policy})) == expected


def test_guid_policy_defaults_to_auto_and_refuses_unknown_values() -> None:
    assert guid_policy(None) == guid_policy({}) == "auto"
    assert guid_policy({"guid": "URL"}) == "url"
    with pytest.raises(ValueError, match="guid policy"):
        guid_policy({"guid": "sometimes"})
