"""A big generated store and its embedded index, built once in a directory and reused by later runs.

The rows are bench/http.py's (bench/search.py's corpus: the unit tree, two sources per unit, notices in
every moderation state, 8 % reposts), inserted with SQLAlchemy Core executemany in chunks and indexed
with the backend's ``bulk`` in the same chunks (``bench.http.build_store``). The layout is bench/http.py's
too (``bench.db``, ``search-index/``, a ``built-<items>-<seed>.json`` marker written last), so a
``--keep`` directory of either serves both. A directory holds one store: asking for another size
there is an error rather than a silent mix of two corpora.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bench.http import BuiltStore, build_store
from bench.search import Corpus
from hub.settings import Settings

Report = Callable[[str, str], None]


def store_settings(workdir: Path) -> Settings:
    """Settings of the store and embedded index in ``workdir`` (bench/http.py's layout)."""
    return Settings(
        demo=True,
        store={"url": f"sqlite:///{workdir / 'bench.db'}"},
        search={"backend": "embedded", "embedded_path": str(workdir / "search-index")},
    )


def ensure_store(workdir: Path, items: int, seed: int, report: Report) -> BuiltStore:
    """The store of ``items`` notices in ``workdir``: reused when a finished build is there, else built."""
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / f"built-{items}-{seed}.json"
    if marker.exists():
        report("build.reused", str(workdir))
        return BuiltStore(Corpus(0, seed).units, json.loads(marker.read_text())["approved"])
    others = sorted(path.name for path in workdir.glob("built-*.json"))
    if others or (workdir / "bench.db").exists():
        raise SystemExit(f"{workdir} holds another or an unfinished store ({others}): use another --keep")
    store = build_store(store_settings(workdir), items, seed, report)
    marker.write_text(json.dumps({"approved": store.approved}))
    return store
