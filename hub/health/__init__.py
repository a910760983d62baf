"""Site health (docs/health.md, docs/architecture.md step 9): find the deserted and broken sources.

``netguard`` (the crawl's SSRF rules for aiohttp), ``probe`` (the daily homepage probe: reachable,
status, latency, redirects, TLS expiry, robots.txt), ``probestore`` (which sources are due, results
stored), ``signals`` (per-source signals from crawl outcomes, items and probes), ``status`` (the
status rules and unit roll-up), ``score`` (the unit activity score), ``events`` (status changes and
their listeners), ``sweep`` (recompute everything), ``report`` (rows for tables and exports),
``job`` (the worker's periodic job).
"""
