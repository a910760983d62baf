"""The benchmark shape of the sample network: 500 feeds x 20 items, about 25 MB, one feed in five GBK
(labelled in the header and the XML declaration); and notices that do not look like reposts."""

from __future__ import annotations

import itertools
import random
import re
import unicodedata

import httpx

from crawlers.feeds import parse_feed
from samplenet import render_feeds
from samplenet.generate import generate_network
from samplenet.model import SampleItem
from samplenet.server import running_network
from tests.fixtures.sample import make_sample_network

BASE = "http://127.0.0.1:8000"


def test_benchmark_feeds_are_about_25_mb_and_one_in_five_gbk() -> None:
    network = generate_network(0, 0, seed=1, items_per_site=20, feed_sources=500)
    encodings = [site.feed_encoding for site in network.sites]
    assert encodings.count("gbk") == 100 and set(encodings) == {"utf-8", "gbk"}
    bodies = [render_feeds.rss_feed(site, site.items, BASE) for site in network.sites]
    assert 22e6 <= sum(map(len, bodies)) <= 28e6
    gbk = next(n for n, site in enumerate(network.sites) if site.feed_encoding == "gbk")
    assert bodies[gbk].startswith(b'<?xml version="1.0" encoding="gbk"?>')
    assert network.sites[gbk].items[0].title.encode("gbk") in bodies[gbk]
    assert generate_network(3, 3, seed=1).sites[0].feed_encoding == "utf-8"  # other shapes: UTF-8 only


def test_gbk_feed_is_served_labelled_and_parses() -> None:
    network = generate_network(0, 0, seed=2, items_per_site=5, feed_sources=6)
    site = next(s for s in network.sites if s.feed_encoding == "gbk")
    with running_network(network) as server, httpx.Client() as http:
        response = http.get(server.url(site.source_path))
    assert response.headers["content-type"] == "application/rss+xml; charset=GBK"
    feed = parse_feed(response.content, 1, server.url(site.source_path), response.headers["content-type"])
    assert [entry.item.title for entry in feed.entries] == [item.title for item in site.items]
    assert site.items[0].paragraphs[1] in feed.entries[0].item.text


def _shingles(item: SampleItem) -> set[str]:
    text = re.sub(r"[^\w]|_", "", unicodedata.normalize("NFKC", "".join(item.paragraphs)).lower())
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _worst_similarity(items: list[SampleItem]) -> float:
    sets = [_shingles(item) for item in items]
    return max(len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2))


def test_notices_of_different_items_are_not_near_duplicates() -> None:
    # A repost detector links bodies at Jaccard >= ~0.8 of 3-grams; unrelated notices stay far below,
    # and only the intended reposts of one city notice (samplenet/generate.py) look alike.
    network = make_sample_network()
    reposts = {(site.slug, item_id) for site in network.sites for item_id in site.reposts}
    copied = {original for site in network.sites for original in site.reposts.values()}
    assert len(reposts) == 3 and len(copied) == 1
    group = [item for item in network.items() if (item.site_slug, item.item_id) in reposts | copied]
    assert len(group) == 4 and _worst_similarity(group) > 0.9
    others = [item for item in network.items() if (item.site_slug, item.item_id) not in reposts]
    assert _worst_similarity(others) < 0.6
    big = generate_network(0, 0, seed=1, items_per_site=20, feed_sources=500).items()
    assert _worst_similarity(random.Random(3).sample(big, 400)) < 0.6
    lengths = sorted(len("".join(item.paragraphs)) for item in big)
    assert lengths[0] < 300 and lengths[-1] > 900  # short notices and long reports alike
