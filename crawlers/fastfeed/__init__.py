"""The lean feed fetch path (docs/architecture.md step 4): feed and account sources without Scrapy.

A re-poll of an unchanged feed is one conditional GET answered 304; through Scrapy's scheduler,
middlewares and Twisted client that cost ~2.5 ms of CPU per source. Here it is an aiohttp request in
the crawl process's event loop (the reactor's asyncio loop), with the same rules: ``fetch.py`` (the
SSRF guard on every hop and at connect time, size and decompression limits, timeouts, redirects,
retries, per-source fetch statistics), ``politeness.py`` (robots.txt and its Crawl-delay, per-host
concurrency and delay) and ``worker.py`` (one run's sources: conditional GET → parse → batch ingest →
outcome, through the same crawl ledger as the spiders). Teaser-only entries are handed to Scrapy for
their article pages (``fulltext.py``). ``crawl.fast_feeds`` chooses this path.
"""
