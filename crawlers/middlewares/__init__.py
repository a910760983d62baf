"""Scrapy downloader middlewares and the DNS resolver of the crawl (docs/architecture.md step 4)."""
