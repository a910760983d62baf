"""Canonical URLs: one spelling per page, so re-crawls and tracking links dedupe (step 5)."""

from __future__ import annotations

import posixpath
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

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

# Characters left as they are when re-quoting a path: the RFC 3986 reserved and unreserved sets.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _normalize_path(path: str) -> str:
    if not path:
        return "/"
    # Resolve "." and ".." but keep a trailing slash: /a/b/ and /a/b are different pages on many sites.
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):
        resolved = "/" + resolved.lstrip("/")
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    if resolved == ".":
        resolved = "/"
    # Re-quote so that %E5%85%9A and 党 end up the same; existing escapes are kept.
    return quote(unquote(resolved), safe=_PATH_SAFE)


def canonical_url(url: str) -> str:
    """The canonical form of ``url``: lower-case scheme/host, no default port, fragment or tracking params."""
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
