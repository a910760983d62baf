"""Our own feeds, their WebSub hub and widgets (docs/architecture.md step 8).

One job per module: ``spec`` names a feed and its canonical URL, ``query`` reads its items (the database,
or the search backend for search feeds), ``entries`` turns items into safe feed entries, ``xmlfeed``
(RSS 2.0 and Atom, by feedgen) and ``jsonfeed`` (JSON Feed 1.1) write the documents, ``conditional``
answers If-None-Match / If-Modified-Since, ``render`` puts them together for the routes and the hub.
For the WebSub hub: ``topics`` tells which feeds an item belongs to, ``callbacks`` guards subscriber
URLs, ``hubjob`` is the worker's hub job (state in hub/websubhub.py). For widgets: ``widget`` (what a
widget shows and how it looks) and ``snippets`` (the code unit pages offer).
"""
