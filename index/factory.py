"""Pick the search backend named by the settings (docs/architecture.md step 7)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.settings import SearchSettings, Settings
from index.backend import SearchBackend
from index.embedded import EmbeddedBackend

if TYPE_CHECKING:
    from elastic_transport import BaseNode
    from elasticsearch import Elasticsearch

RETRY_ON_STATUS = (429, 502, 503, 504)
MAX_RETRIES = 3


def elastic_client(search: SearchSettings, node_class: type[BaseNode] | None = None) -> Elasticsearch:
    """An Elasticsearch client for ``search.backend`` with auth, CA bundle, timeout and retries.

    The installed client (elastic_transport 9.x) pauses before a retry only after a connection error
    or a timeout (jittered, doubling from ``es_retry_backoff_s`` up to ``es_retry_backoff_max_s``); a
    429/502/503/504 answer is retried at once. What still fails waits in the outbox, whose back-off
    (index/outbox.py) is the back-off for those (docs/search.md).
    """
    # Imported here: the client costs ~0.3 s to import and embedded deployments never need it.
    from elasticsearch import Elasticsearch

    options: dict[str, Any] = {
        "request_timeout": search.es_timeout_s,
        "retry_on_status": RETRY_ON_STATUS,
        "retry_on_timeout": True,
        "max_retries": MAX_RETRIES,
        "retry_backoff_base": search.es_retry_backoff_s,  # 0 (either one): retry at once
        "retry_backoff_cap": search.es_retry_backoff_max_s,
    }
    api_key = search.es_api_key.get_secret_value()
    if api_key:
        options["api_key"] = api_key
    elif search.es_username:
        options["basic_auth"] = (search.es_username, search.es_password.get_secret_value())
    if search.es_ca_certs:
        options["ca_certs"] = search.es_ca_certs
    if node_class is not None:
        options["node_class"] = node_class
    return Elasticsearch(search.backend, **options)


def open_backend(settings: Settings, node_class: type[BaseNode] | None = None) -> SearchBackend:
    """The configured backend: ``embedded`` (tantivy directory) or an ``http(s)://`` Elasticsearch URL.

    ``node_class`` replaces the HTTP node of the Elasticsearch client (tests use it for osmem).
    """
    search = settings.search
    if search.backend == "embedded":
        backend = EmbeddedBackend(search.embedded_path)
        backend.ensure_ready()  # creating the directory and an empty generation is cheap and local
        return backend
    if search.backend.startswith(("http://", "https://")):
        from index.elastic import ElasticBackend

        return ElasticBackend(
            elastic_client(search, node_class),
            prefix=search.index_prefix,
            mapping_file=Path(search.templates_dir) / "items.json",
        )
    raise ValueError(f"search.backend must be 'embedded' or an http(s):// URL, not {search.backend!r}")


def one_attempt(backend: SearchBackend, settings: Settings) -> SearchBackend:
    """``backend`` making one attempt per request, for callers that must answer promptly (the
    moderation catch-up, index/catchup.py): an Elasticsearch backend gets a view sharing its
    connections, without client retries or retries of 429 items; the embedded index is local already.
    The view must not be closed (it would close the shared connections): close ``backend``.
    """
    if not settings.search.backend.startswith(("http://", "https://")):
        return backend
    from index.elastic import ElasticBackend

    if not isinstance(backend, ElasticBackend):
        return backend
    view = copy.copy(backend)
    view.client = backend.client.options(max_retries=0)
    view.bulk_options = replace(backend.bulk_options, max_retries=0)
    return view
