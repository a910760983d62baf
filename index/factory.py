"""Pick the search backend named by the settings (docs/architecture.md step 7)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.settings import SearchSettings, Settings
from index.backend import SearchBackend
from index.embedded import EmbeddedBackend

if TYPE_CHECKING:
    from elastic_transport import BaseNode
    from elasticsearch import Elasticsearch

RETRY_ON_STATUS = (429, 502, 503, 504)


def elastic_client(search: SearchSettings, node_class: type[BaseNode] | None = None) -> Elasticsearch:
    """An Elasticsearch client for ``search.backend`` with auth, CA bundle, timeout and retries."""
    # Imported here: the client costs ~0.3 s to import and embedded deployments never need it.
    from elasticsearch import Elasticsearch

    options: dict[str, Any] = {
        "request_timeout": search.es_timeout_s,
        "retry_on_status": RETRY_ON_STATUS,
        "retry_on_timeout": True,
        "max_retries": 3,
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
