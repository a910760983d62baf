"""``python -m bench``: run every benchmark with its default size."""

from __future__ import annotations

from bench import ingest, screen

ingest.main([])
screen.main([])
