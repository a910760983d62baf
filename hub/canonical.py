"""Item identity: canonical URLs (one spelling per page) and the GUID policy per source (step 5)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only say how a reader arrived (analytics, app shares), never which page it is.
TRACKING_PARAMS = frozenset(
    {
        "spm",
        "from",
        "isappinstalled",
        "scene",
        "srcid",
        "share_token",
        "sharer_shareid",
        "sharer_sharetime",
        "fbclid",
        "gclid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "wfr",
        "timestamp",
        "clicktime",
        "enterid",
        "vd_source",
    }
)
TRACKING_PREFIXES = ("utm_",)

# Directory index documents: /news/index.html and /news/ are one page.
INDEX_DOCUMENTS = frozenset({"index.html", "index.htm", "index.shtml", "default.aspx", "default.htm"})

# Characters left as they are when re-quoting a path: the RFC 3986 reserved and unreserved sets.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_LITERAL_PERCENT = re.compile("%(?=[0-9A-Fa-f]{2})")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _normalize_path(path: str) -> str:
    if not path:
        return "/"
    # Decoded first, so "%2e%2e" is resolved like ".." (else the second pass would resolve it).
    path = unquote(path)
    # Resolve "." and ".." but keep a trailing slash: /a/b/ and /a/b are different pages on many sites.
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    if resolved == ".":
        resolved = "/"
    head, _, last = resolved.rpartition("/")
    if last.lower() in INDEX_DOCUMENTS:
        resolved = head + "/"
    # Re-quote so that %E5%85%9A and 党 end up the same. A "%" that came from "%25" and now looks
    # like an escape ("%2541" -> "%41") stays "%25", or the next pass would decode it again.
    return quote(_LITERAL_PERCENT.sub("%25", resolved), safe=_PATH_SAFE)


def _canonical(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    query_pairs = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(name)
    ]
    query = urlencode(sorted(query_pairs), doseq=True)
    return urlunsplit((scheme, netloc, _normalize_path(parts.path), query, ""))


def canonical_url(url: str) -> str:
    """The canonical form of ``url``: lower-case scheme/host, no default port, fragment, tracking params
    or trailing index document (index.html, default.aspx ...). A string that is no URL ("http://[",
    a port "x") is kept as given, without its fragment: never an error, since any href reaches here."""
    try:
        return _canonical(url)
    except ValueError:
        return url.split("#", 1)[0].strip()


GuidPolicy = Literal["auto", "guid", "url"]
GUID_POLICIES: tuple[str, ...] = ("auto", "guid", "url")
# GUIDs that change on every fetch carry a clock or a nonce.
_VOLATILE_GUID = re.compile(r"(?:[?&](?:t|ts|_|timestamp|time|rand|random|nonce|r)=)|\d{13}")


def guid_policy(selectors: Mapping[str, Any] | None) -> GuidPolicy:
    """A source's GUID policy from its options (``selectors["guid"]``): auto (default), guid or url."""
    value = str((selectors or {}).get("guid") or "auto").lower()
    if value not in GUID_POLICIES:
        raise ValueError(f"unknown guid policy {value!r}; use one of {', '.join(GUID_POLICIES)}")
    return value  # type: ignore[return-value]


def own_urls(source_url: str) -> tuple[str, str]:
    """The source's own address and its site's root, canonical (what ``identity_guid`` refuses)."""
    own = canonical_url(source_url)
    try:
        return own, canonical_url(urljoin(source_url, "/"))
    except ValueError:  # no URL at all ("http://["): no root either
        return own, own


def identity_guid(
    guid: str | None,
    url: str,
    source_url: str,
    policy: GuidPolicy = "auto",
    *,
    own: tuple[str, str] | None = None,
    canonical: str | None = None,
) -> str | None:
    """The GUID to dedupe by, or None to go by canonical URL only.

    "guid" trusts the feed; "url" ignores it; "auto" trusts it only when it looks stable: not empty,
    not the feed's or the site's own address (some feeds repeat it for every entry), no clock or nonce.
    A batch passes what it already knows: ``own``, ``own_urls(source_url)``, and ``canonical``,
    ``canonical_url(url)`` (feeds often use the item's URL as its GUID).
    """
    guid = (guid or "").strip() or None
    if guid is None or policy == "url":
        return None
    if policy == "guid":
        return guid
    if guid.lower().startswith(("http://", "https://")):
        guid_canonical = canonical if canonical is not None and guid == url else canonical_url(guid)
        if guid_canonical in (own if own is not None else own_urls(source_url)):
            return None
    return None if _VOLATILE_GUID.search(guid) else guid
