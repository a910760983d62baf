"""How an account source without a URL is stored: ``bridge://<platform>/<account id>``.

Its own module so that the crawl processes (crawlers/bridge.py) read the prefix without importing the
registry (hub/registry/rows.py writes such URLs, with pydantic and the file formats behind it).
"""

from __future__ import annotations

ACCOUNT_URL_PREFIX = "bridge://"
