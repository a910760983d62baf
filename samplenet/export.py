"""Export a sample network as the registry file the hub imports, and as the ground truth tests compare to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from samplenet.model import (
    FAULT_KINDS,
    FEED_SIZE,
    LIST_PAGE_SIZE,
    TRUNCATED_ENTRIES,
    SampleItem,
    SampleNetwork,
    SampleSite,
)

HTML_SELECTORS = {
    "item": "ul.news-list li",
    "link": "a",
    "date": "span.date",
    "body": "div.article-body",
    "next": "a.next",
}


def source_kind(site: SampleSite) -> str:
    """Registry kind of a site's source: feed | html | sitemap | account."""
    if site.template in ("account", "sitemap"):
        return site.template
    if site.template in ("rss", "atom", "html_feed"):
        return "feed"
    return "html"


def site_base(site: SampleSite, base_url: str, bases: Mapping[str, str] | None = None) -> str:
    """The base URL a site is reached at: ``base_url``, or ``bases[transport]`` for TLS and dead sites
    (``RunningNetwork.bases``)."""
    if site.transport == "http":
        return base_url.rstrip("/")
    if bases is None or site.transport not in bases:
        raise ValueError(f"site {site.slug} needs a {site.transport} base URL: pass RunningNetwork.bases")
    return bases[site.transport].rstrip("/")


def source_url(
    network: SampleNetwork, site: SampleSite, base_url: str, bases: Mapping[str, str] | None = None
) -> str:
    """Absolute URL of a site's source as the registry lists it (bridge URLs carry the access key)."""
    url = f"{site_base(site, base_url, bases)}{site.source_path}"
    return f"{url}?key={network.access_key}" if site.template == "account" else url


def _source(
    network: SampleNetwork, site: SampleSite, base_url: str, bases: Mapping[str, str] | None
) -> dict[str, Any]:
    kind = source_kind(site)
    entry: dict[str, Any] = {"name": f"{site.name} {site.category}", "kind": kind}
    if kind == "account":
        platform_name = "微博" if site.platform == "weibo" else "微信公众号"
        entry["name"] = f"{site.name} {platform_name}"
        entry["platform"] = site.platform
        entry["account"] = site.account
    entry["url"] = source_url(network, site, base_url, bases)
    entry["category"] = site.category
    if kind == "html":
        entry["selectors"] = dict(HTML_SELECTORS)
    return entry


def registry_document(
    network: SampleNetwork, base_url: str, bases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The unit tree with one source per unit, in the registry's YAML shape."""
    base = base_url.rstrip("/")

    def unit(site: SampleSite) -> dict[str, Any]:
        node: dict[str, Any] = {
            "slug": site.slug,
            "name": site.name,
            "level": site.level,
            "type": site.unit_type,
            "region": site.region,
            "website": f"{site_base(site, base, bases)}{site.root_path}",
            "sources": [_source(network, site, base, bases)],
        }
        children = network.children(site.slug)
        if children:
            node["children"] = [unit(child) for child in children]
        return node

    return {"units": [unit(site) for site in network.sites if site.parent is None]}


def _expected_item(site: SampleSite, item: SampleItem, base: str, index: int, kind: str) -> dict[str, Any]:
    home = f"{base}{site.root_path}"
    # Feeds carry the minute; list and article pages show only the day unless they print the time.
    exact = kind in ("feed", "account") or item.date_style == "full_cn"
    return {
        "url": home + item.article_path,
        "item_id": item.item_id,
        "repost_of": None,  # the URL of the notice this one reposts (set by ground_truth)
        "title": item.title,
        "published_at": item.published_at.isoformat(),
        "published_date": item.published_at.date().isoformat(),
        "date_precision": "minute" if exact else "day",
        "date_style": item.date_style,  # how the article page prints it (samplenet/texts.py format_date)
        "attachments": [home + a.path for a in item.attachments],
        "attachment_names": [a.name for a in item.attachments],
        "images": [home + path for path in item.images],
        "category": item.category,
        "trusted": site.trusted,
        "list_page": index // LIST_PAGE_SIZE + 1 if kind == "html" else None,
    }


def _failure(site: SampleSite) -> str | None:
    if site.fault in FAULT_KINDS:
        return FAULT_KINDS[site.fault]
    return "refused" if site.transport == "dead" else None  # tolerated faults fail nothing


def _readable(site: SampleSite, kind: str) -> list[tuple[int, SampleItem]]:
    """The items a crawler can read, with their place in the listing: a feed's newest FEED_SIZE, every
    item of a list (the crawl's depth applies on top), the entries before the cut of a truncated list
    page. A deleted item its lists still show is read from a feed, but its page answers 404/410."""
    if site.fault == "truncated_html":
        listed = site.items[:TRUNCATED_ENTRIES]
    else:
        listed = site.items if kind == "html" else site.items[:FEED_SIZE]
    pages_read = kind in ("html", "sitemap")
    return [(n, item) for n, item in enumerate(listed) if not (pages_read and item.item_id in site.deleted)]


def _removed(site: SampleSite, base: str) -> list[dict[str, Any]]:
    """Items deleted at the source (samplenet/deletion.py), which a crawler that stored them before
    marks removed: at once if its lists still show them (the page answers 404/410), else once they
    have been missing from the listing for crawl.removed_after_missing crawls."""
    home = f"{base}{site.root_path}"
    return [
        {
            "url": home + deletion.item.article_path,
            "item_id": item_id,
            "status": deletion.status,
            "listed": deletion.listed,
        }
        for item_id, deletion in site.deleted.items()
    ]


def ground_truth(
    network: SampleNetwork, base_url: str, bases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Per source URL: the site, whether it is trusted, the failure a crawler should record, the items,
    and the health status (docs/health.md) the hub should give it under the default thresholds."""
    base = base_url.rstrip("/")
    sources: dict[str, Any] = {}
    with network.lock:
        for site in network.sites:
            kind = source_kind(site)
            items = _readable(site, kind)
            site_root = site_base(site, base, bases)
            sources[source_url(network, site, base, bases)] = {
                "site": site.slug,
                "unit_name": site.name,
                "kind": kind,
                "template": site.template,
                "trusted": site.trusted,
                "liveliness": site.liveliness,
                "failure": _failure(site),
                "fault": site.fault,
                "health": site.expected_health,
                "transport": site.transport,
                "tls_expiring": site.transport == "https",
                "items": []
                if _failure(site)
                else [_expected_item(site, item, site_root, n, kind) for n, item in items],
                "removed": [] if _failure(site) else _removed(site, site_root),
            }
        for site in network.sites:  # a repost names the page of the notice it copies
            for entry in sources[source_url(network, site, base, bases)]["items"]:
                copied = site.reposts.get(entry["item_id"])
                if copied is not None:
                    origin = network.site(copied[0])  # the copied notice may be deleted at its source
                    page = SampleItem.page_path(copied[1])
                    entry["repost_of"] = site_base(origin, base, bases) + origin.root_path + page
    return {"base_url": base, "today": network.today.isoformat(), "seed": network.seed, "sources": sources}


def write_registry(
    path: str | Path, network: SampleNetwork, base_url: str, bases: Mapping[str, str] | None = None
) -> Path:
    """Write the registry YAML file and return its path."""
    target = Path(path)
    document = registry_document(network, base_url, bases)
    target.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def write_ground_truth(
    path: str | Path, network: SampleNetwork, base_url: str, bases: Mapping[str, str] | None = None
) -> Path:
    """Write the ground truth as JSON and return its path."""
    target = Path(path)
    text = json.dumps(ground_truth(network, base_url, bases), ensure_ascii=False, indent=2)
    target.write_text(text, encoding="utf-8")
    return target
