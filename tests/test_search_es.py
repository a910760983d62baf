"""Elasticsearch-only behaviour on osmem: versioned index behind aliases, strict mapping, the factory."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

from hub.settings import Settings
from index.backend import SearchBackendError, SearchQuery
from index.elastic import ElasticBackend
from index.embedded import EmbeddedBackend
from index.factory import open_backend
from tests.fixtures.search import PlainJsonNode, closed_port, make_document

pytestmark = pytest.mark.elasticsearch


def test_index_version_sits_behind_read_and_write_aliases(es_backend: ElasticBackend) -> None:
    aliases = es_backend.client.indices.get_alias(name="test-items,test-items-write").body
    assert aliases == {
        "test-items-v1": {"aliases": {"test-items": {}, "test-items-write": {"is_write_index": True}}}
    }
    es_backend.ensure_ready()  # idempotent
    assert list(es_backend.client.indices.get_alias(name="test-items").body) == ["test-items-v1"]


def test_rebuild_swaps_aliases_to_a_new_version_and_drops_the_old(es_backend: ElasticBackend) -> None:
    es_backend.upsert([make_document(1, title="旧索引")])
    assert es_backend.rebuild([make_document(2, title="新索引")]) == 1
    aliases = es_backend.client.indices.get_alias(name="test-items,test-items-write").body
    assert list(aliases) == ["test-items-v2"]
    assert not es_backend.client.indices.exists(index="test-items-v1")
    assert [hit.item_id for hit in es_backend.search(SearchQuery(text="索引")).hits] == [2]
    es_backend.rebuild([])
    assert list(es_backend.client.indices.get_alias(name="test-items").body) == ["test-items-v3"]


def test_mapping_is_strict(es_backend: ElasticBackend) -> None:
    with pytest.raises(BadRequestError):
        es_backend.client.index(index="test-items-write", id="1", document={"surprise": 1})


def test_builtin_cjk_analyzer_without_ik(es_backend: ElasticBackend) -> None:
    assert not es_backend.has_ik()
    body = es_backend.template().body["template"]
    assert body["settings"]["analysis"]["analyzer"]["xl_text"] == {"type": "cjk"}
    tokens = es_backend.client.indices.analyze(
        index="test-items-v1", field="title.bigram", text="党建Ｗｉｆｉ"
    )
    assert [token["token"] for token in tokens.body["tokens"]] == ["党建", "wifi"]


def test_open_backend_from_settings(osmem_es_url: str, settings: Settings) -> None:
    es_settings = settings.model_copy(
        update={"search": settings.search.model_copy(update={"backend": osmem_es_url, "index_prefix": "cfg"})}
    )
    backend = open_backend(es_settings, node_class=PlainJsonNode)
    assert isinstance(backend, ElasticBackend)
    backend.upsert([make_document(5, title="配置 后端")])
    assert backend.search(SearchQuery(text="配置")).total == 1
    assert backend.client.indices.exists_alias(name="cfg-items")
    backend.close()

    embedded = open_backend(settings)
    assert isinstance(embedded, EmbeddedBackend) and embedded.count() == 0
    embedded.close()


def test_unreachable_cluster_is_a_backend_error(settings: Settings) -> None:
    down = settings.model_copy(
        update={"search": settings.search.model_copy(update={"backend": f"http://127.0.0.1:{closed_port()}"})}
    )
    backend = open_backend(down)
    with pytest.raises(SearchBackendError):
        backend.upsert([make_document(1)])
    backend.close()


def test_unknown_backend_is_refused(settings: Settings) -> None:
    bad = settings.model_copy(update={"search": settings.search.model_copy(update={"backend": "solr"})})
    with pytest.raises(ValueError, match="embedded"):
        open_backend(bad)
