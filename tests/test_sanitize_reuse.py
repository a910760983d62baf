"""hub/sanitize.py: a Sanitizer reused across fragments (as batch ingest does) cleans each as a fresh
one would, and absolute links skip urljoin only where urljoin would return them unchanged."""

from __future__ import annotations

import random
from urllib.parse import urljoin, urlsplit

from hub.sanitize import SAFE_SCHEMES, Sanitizer, _absolute, sanitize_html

BASES = ["http://x.gov.cn/a/b.html", "", "https://y.cn/", "http://x.gov.cn/a/b.html?q#f"]


def _urljoin_rule(base: str, value: str) -> str | None:
    resolved = urljoin(base, value.strip())
    return resolved if urlsplit(resolved).scheme.lower() in SAFE_SCHEMES else None


def test_reused_sanitizer_follows_each_fragments_base() -> None:
    sanitizer = Sanitizer()
    html = '<p onclick="x">通知<a href="../c/1.pdf">附件</a><img src="i.png"><script>bad()</script></p>'
    for base in [*BASES, BASES[0]]:
        cleaned = sanitizer.clean(html, base)
        assert cleaned == sanitize_html(html, base)
        assert "script" not in cleaned and "onclick" not in cleaned
    assert 'href="http://x.gov.cn/c/1.pdf"' in sanitizer.clean(html, BASES[0])
    assert sanitizer.clean("<p>\ud800</p>", BASES[0]) == "<p>\ufffd</p>"  # lone surrogate replaced


def test_absolute_links_as_urljoin_resolves_them() -> None:
    tricky = [
        "http://a/b",
        " https://a/b?x=1#f ",
        "http://a/b?",
        "http://a/b#",
        "http://a/b?#f",
        "http://a/./b",
        "http://a/b/../c",
        "http://a/b;",
        "http://a/b;p?q",
        "HTTP://A/B",
        "http://[::1]/x",
        "http://a[b/",
        "http://a/b\tc",
        "http://a/党",
        "http://a",
        "http:///x",
        "javascript:alert(1)",
    ]
    rng = random.Random(2)
    alphabet = [*"abAZ09/.:?#;[]@%&=+-_~ \t\n\x00", "http://", "https://", "/./", "..", "党", "//", "?", "#"]
    generated = [
        rng.choice(["http://", "https://", ""])
        + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
        for _ in range(20_000)
    ]
    for value in tricky + generated:
        for base in BASES:
            try:
                expected: str | type[Exception] | None = _urljoin_rule(base, value)
            except ValueError:
                expected = ValueError
            try:
                got: str | type[Exception] | None = _absolute(base, value)
            except ValueError:
                got = ValueError
            assert got == expected, (base, value)
