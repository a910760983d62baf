"""The opt-in Redis frontier (``crawl.frontier_url``): the crawl processes of one run share a Scrapy request
queue for HTML list sources and their article pages (docs/deploy.md, docs/architecture.md step 4).

``keys.py`` names a run's Redis keys, ``runs.py`` opens and deletes them around a run (the runner),
``scheduler.py`` is the Scrapy scheduler on that queue, ``ledger.py`` keeps per-source bookkeeping right
when a source's requests are fetched by several processes (``merge.py`` joins their parts), and
``settings.py`` builds the Scrapy settings of the frontier crawler. Redis is imported only here, and this
package only when the setting is on.
"""
