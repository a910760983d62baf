"""Our own feeds (docs/architecture.md step 8): RSS 2.0, Atom and JSON Feed 1.1 of approved notices.

One job per module: ``spec`` names a feed and its canonical URL, ``query`` reads its items (the database,
or the search backend for search feeds), ``entries`` turns items into safe feed entries, ``xmlfeed`` and
``jsonfeed`` write the documents, ``conditional`` answers If-None-Match / If-Modified-Since, ``render``
puts them together for the routes and the WebSub hub, ``topics`` tells which feeds an item belongs to,
``hubjob`` is the worker's WebSub hub job and ``snippets`` the widget code shown on unit pages.
"""
