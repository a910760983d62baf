"""URLs shown or recorded without the secrets some of them carry.

A registry may list a source with a credential in its URL: an RSSHub bridge route with ``?key=``
(the sample network's account sources are such), a feed behind ``?token=``, ``user:password@``.
The source keeps its URL (the crawl needs it, an admin edits it); what staff pages, recorded redirect
hops and logs show is ``masked_url(url)``. Only the value is replaced, so a reader still sees which
parameter was there.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# Query parameter names (compared case-insensitively, after percent-decoding) whose value is a secret.
SECRET_PARAMETERS = frozenset(
    {
        "key",  # RSSHub ACCESS_KEY, Google-style API keys
        "access_key",
        "accesskey",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "auth",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "sig",
        "signature",
    }
)


def _masked_query(query: str) -> str:
    pieces = []
    for piece in query.split("&"):
        name, equals, value = piece.partition("=")
        if equals and value and unquote(name).strip().lower() in SECRET_PARAMETERS:
            piece = f"{name}={MASK}"
        pieces.append(piece)
    return "&".join(pieces)


def _masked_authority(rest: str) -> str:
    """``rest`` (what follows ``scheme://``) with the password of its userinfo masked."""
    end = min((rest.find(mark) for mark in "/?#" if mark in rest), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return rest
    user = userinfo.partition(":")[0]
    return f"{user}:{MASK}@{host}{tail}"


def masked_url(url: str) -> str:
    """``url`` with the values of secret query parameters and a userinfo password replaced by ``***``;
    anything else (other parameters, their order and encoding, the fragment) kept as it was."""
    scheme, sep, rest = url.partition("://")
    if sep:
        url = f"{scheme}{sep}{_masked_authority(rest)}"
    before, hash_mark, fragment = url.partition("#")
    path, question, query = before.partition("?")
    if question:
        before = f"{path}?{_masked_query(query)}"
    return f"{before}{hash_mark}{fragment}"


# A URL inside a message (an exception's text, a log line): up to whitespace, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
# Punctuation that ends the sentence around a URL rather than the URL ("... took too long: http://x/?key=k.").
_SENTENCE_END = ".,;:!?)]}，。；：！？）】"


def _masked_in_text(found: re.Match[str]) -> str:
    url = found.group(0)
    kept = url.rstrip(_SENTENCE_END)
    return masked_url(kept) + url[len(kept) :]


def masked_text(text: str) -> str:
    """``text`` with every http(s) URL in it masked (``masked_url``): failure messages quote the URL
    they failed on ("Getting http://...?token=... took longer than 15.0 seconds")."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(_masked_in_text, text)


def has_secret(url: str) -> bool:
    """True when ``masked_url`` would hide something of ``url``."""
    return masked_url(url) != url


def unmasked_url(given: str, stored: str | None) -> str:
    """The URL an edit means: ``stored`` when ``given`` is its masked form sent back unchanged (a form or
    a client that read the source and wrote it back), else ``given`` as typed."""
    if stored is not None and given != stored and given == masked_url(stored):
        return stored
    return given
