"""Delete an article at its source while the network runs, and bring it back (issue 3: a page that
disappears from its source is marked removed-at-source and kept; one that answers again is not).

A deleted article's page answers 404 or 410 (``SampleSite.gone_status`` unless told); it leaves the
site's list pages, feed and sitemap, unless ``listed`` keeps it there (a list regenerated later than
the article was deleted), which is the case a crawler sees as a 404/410 on re-fetch.
"""

from __future__ import annotations

from samplenet.model import Deletion, GoneStatus, SampleItem, SampleNetwork, SampleSite


def delete_item(
    network: SampleNetwork,
    site_slug: str,
    item_id: str | None = None,
    status: GoneStatus | None = None,
    listed: bool = False,
) -> Deletion:
    """Delete an item of a site (by default its newest) at the source; thread-safe.

    Deleting an item already deleted changes how: its status, and whether the lists still show it.
    KeyError for an unknown site or item.
    """
    with network.lock:
        site = network.site(site_slug)
        earlier = site.deleted.get(item_id) if item_id is not None else None
        item = earlier.item if earlier is not None else _find(site, item_id)
        if listed and item not in site.items:
            _insert(site, item)
        elif not listed and item in site.items:
            site.items.remove(item)
        deletion = Deletion(item, status or site.gone_status, listed)
        site.deleted[item.item_id] = deletion
        return deletion


def restore_item(network: SampleNetwork, site_slug: str, item_id: str) -> SampleItem:
    """Put a deleted item back, page and list entries as before; thread-safe. KeyError if it is not
    a deleted item of the site."""
    with network.lock:
        site = network.site(site_slug)
        item = site.deleted.pop(item_id).item
        if item not in site.items:
            _insert(site, item)
        return item


def _find(site: SampleSite, item_id: str | None) -> SampleItem:
    if item_id is None:
        if not site.items:
            raise KeyError(f"site {site.slug} has no items")
        return site.items[0]
    for item in site.items:
        if item.item_id == item_id:
            return item
    raise KeyError(f"no item {item_id} on site {site.slug}")


def _insert(site: SampleSite, item: SampleItem) -> None:
    """Put ``item`` back in its place: items are kept newest first."""
    place = next((n for n, other in enumerate(site.items) if other.published_at < item.published_at), None)
    site.items.insert(len(site.items) if place is None else place, item)
