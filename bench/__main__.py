"""``python -m bench``: run every benchmark with its default size."""

from __future__ import annotations

from bench import htmlcrawl, ingest, repoll, screen

ingest.main([])
repoll.main([])
htmlcrawl.main([])
screen.main([])
