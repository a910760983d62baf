"""Where a redirect points, computed as Scrapy's redirect middleware does (docs/architecture.md step 4).

Both fetch paths use it, the Scrapy spiders' accounting (crawlers/middlewares/stats.py) and the fast feed
path (crawlers/fastfeed/fetch.py), so a source's recorded redirect chain is the same on either path and
names the URL that was then requested: the Location escaped, made absolute, and escaped again as a new
Scrapy Request escapes its URL (w3lib >= 2.6 also writes an IPv4 host in dotted form there, so a
``Location: http://2130706434/`` is recorded as the ``http://127.0.0.2/`` that was refused).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from w3lib.url import safe_url_string


def redirect_url(base_url: str, location: str) -> str:
    """The absolute URL a ``Location`` header sent with the answer to ``base_url`` leads to."""
    target = safe_url_string(location)
    if location.startswith("//"):  # scheme-relative: Scrapy keeps the request's scheme
        target = urlsplit(base_url).scheme + "://" + target.lstrip("/")
    return safe_url_string(urljoin(base_url, target))
