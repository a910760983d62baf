"""Snippets of the embedded backend's hits: ``index.snippet.make_snippet``, the same as Elasticsearch's.

(An earlier version computed it on a slice of the text; ``make_snippet`` itself now reads only as far
as the window reaches, and the slice could pick another normalization than the whole text.)
"""

from __future__ import annotations

from index.analysis import ParsedQuery
from index.snippet import make_snippet


def page_snippet(text: str, query: ParsedQuery) -> str:
    """The snippet of a hit: ``make_snippet(text, query)``."""
    return make_snippet(text, query)
