"""Fuzzing canonical URLs (hub/canonical.py): the key items are deduplicated by.

Item URLs come from crawled pages and feeds, so canonical_url sees every string a site can put in an
href. Whatever it returns is stored and compared, so it must be stable.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from hub.canonical import TRACKING_PARAMS, canonical_url, identity_guid
from tests.fuzzing import fuzz

SCHEMES = st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "", "javascript", "mailto"])
HOSTS = st.one_of(
    st.sampled_from(
        [
            "Example.COM", "www.A.gov.cn", "127.0.0.1", "[::1]", "[FE80::1]", "党建.中国", "xn--fiq.cn",
            "user:pa@ss@Host.CN", "a.cn:80", "a.cn:443", "a.cn:8080", "a.cn:", "a.cn:x", "a.cn:99999", "[",
            "]", "[::1", "", "A%41.cn", "ａ.cn",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip
PATH_PIECES = st.sampled_from(
    [
        "/", "a", "B", ".", "..", "index.html", "INDEX.HTM", "default.aspx", "%2e%2e", "%2E", "%2F", "%25",
        "%2541", "%41", "%e5%85%9a", "%E5%85%9A", "党建", "%", "%zz", "%%", " ", "+", ";", "=", "@", ":",
        "~", "\t", "\\", "//",
    ]
)  # fmt: skip
QUERIES = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from([*sorted(TRACKING_PARAMS), "utm_x", "UTM_Source", "id", "a", ""]),
            st.text(max_size=4),
        ),
        st.one_of(
            st.sampled_from(["1", "", "%E5%85%9A", "a+b", "%25", "%2541", "&", "="]), st.text(max_size=4)
        ),
    ),
    max_size=4,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@st.composite
def urls(draw: st.DrawFn) -> str:
    """A URL assembled from tricky parts (ports, IPv6, userinfo, escapes, dot segments, index documents,
    tracking parameters, fragments), or any text at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=60))
    scheme = draw(SCHEMES)
    path = "".join(draw(st.lists(PATH_PIECES, max_size=8)))
    query = draw(QUERIES)
    url = f"{scheme}://{draw(HOSTS)}{'/' if path and not path.startswith('/') else ''}{path}"
    if query or draw(st.booleans()):
        url += "?" + query
    if draw(st.booleans()):
        url += "#" + draw(st.text(max_size=6))
    return draw(st.sampled_from(["", " ", "\n"])) + url


@fuzz(500)
@given(urls())
@example("http://[/")  # urlsplit raised ValueError (fixed)
@example("http://a.cn:x/")  # .port raised ValueError (fixed)
@example("http://a.cn/%2541")  # %25 decoded again on the second pass (fixed)
@example("http://a.cn/%2e%2e/b")  # dot segments appeared after decoding (fixed)
@example("http://a.cn:x?_hsenc= #")  # the fallback for a non-URL kept a space before "#" (fixed)
def test_canonical_url_is_total_idempotent_lowercase_without_fragment(url: str) -> None:
    """canonical_url never raises; applying it twice equals applying it once; the result has no
    fragment, a lower-case scheme and host, no tracking parameter, and no default port."""
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once
    try:
        parts = urlsplit(once)
        port = parts.port
    except ValueError:
        return  # not a URL at all: kept as given (less its fragment)
    assert parts.scheme == parts.scheme.lower()
    assert (parts.hostname or "") == (parts.hostname or "").lower()
    assert not (parts.scheme in ("http", "https") and port in (80, 443) and f":{port}" in parts.netloc and
                {"http": 80, "https": 443}[parts.scheme] == port)  # fmt: skip
    for pair in parts.query.split("&"):
        name = pair.split("=", 1)[0].lower()
        assert name not in TRACKING_PARAMS and not name.startswith("utm_")


@fuzz()
@given(urls(), urls())
def test_same_page_spellings_agree(url: str, other: str) -> None:
    """Spellings of one page canonicalize alike: case of scheme and host, a default port, a fragment,
    a tracking parameter and the order of parameters do not matter."""
    base = canonical_url(url)
    try:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is not None:
            return
    except ValueError:
        return
    default = {"http": 80, "https": 443}[parts.scheme]
    variant = f"{parts.scheme.upper()}://{parts.netloc.upper()}:{default}{parts.path}?utm_source=x"
    if parts.query:
        variant += "&" + "&".join(reversed(parts.query.split("&")))
    variant += "#frag"
    if parts.hostname == parts.hostname.upper().lower() and "@" not in parts.netloc:
        assert canonical_url(variant) == base


@fuzz()
@given(
    st.one_of(st.none(), st.text(max_size=40), urls()),
    urls(),
    urls(),
    st.sampled_from(["auto", "guid", "url"]),
)
@example("http://a.cn/1", "http://a.cn/1", "http://[/", "auto")  # urljoin raised ValueError (fixed)
def test_identity_guid_never_raises(guid: str | None, url: str, source_url: str, policy: str) -> None:
    """The GUID policy reads any GUID and URLs; "url" never keeps a GUID, "guid" keeps any non-blank one."""
    result = identity_guid(guid, url, source_url, policy)  # type: ignore[arg-type]
    if policy == "url":
        assert result is None
    elif policy == "guid":
        assert result == ((guid or "").strip() or None)
