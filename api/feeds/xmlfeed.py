"""RSS 2.0 and Atom documents, written by feedgen.

feedgen (lkiesow/python-feedgen) builds both formats from one description through lxml, so escaping,
dates and the RSS/Atom differences are its job, not ours. Two gaps of feedgen 1.0 are filled with its
own extension mechanism: Atom entry links lose their ``rel`` (the original page and attachments would
all read as rel="alternate"), and an RSS channel carries only the ``atom:link rel="self"``, not the
hub link WebSub subscribers look for.
"""

from __future__ import annotations

from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from api.feeds.entries import FeedEntry, FeedMeta

ATOM_NS = "http://www.w3.org/2005/Atom"
_EXTENSION = "xinlian"


class _FeedLinks(BaseExtension):
    """Channel-level: ``<atom:link rel="hub">`` in RSS (feedgen writes only rel="self" there)."""

    def __init__(self) -> None:
        self.hub = ""

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        if self.hub:
            xml_elem(f"{{{ATOM_NS}}}link", channel, href=self.hub, rel="hub")
        return feed


class _EntryLinks(BaseEntryExtension):
    """Entry-level Atom links with their rel (related: the original page; enclosure: attachments)."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry: Any) -> Any:
        for link in self.links:
            xml_elem("link", entry, **link)
        return entry


def _generator(meta: FeedMeta) -> FeedGenerator:
    generator = FeedGenerator()
    generator.register_extension(_EXTENSION, _FeedLinks, _EntryLinks, atom=True, rss=True)
    generator.load_extension("dc", atom=False, rss=True)
    getattr(generator, _EXTENSION).hub = meta.hub_url
    generator.id(meta.id)
    generator.title(meta.title)
    generator.subtitle(meta.subtitle)  # Atom subtitle, RSS description
    generator.language(meta.language)
    generator.generator("Xinlian")
    # feedgen uses the last link as the RSS <link>: the HTML page goes last.
    generator.link(href=meta.self_url, rel="self")
    generator.link(href=meta.hub_url, rel="hub")
    generator.link(href=meta.home, rel="alternate", type="text/html")
    if meta.updated is not None:
        generator.updated(meta.updated)
        generator.lastBuildDate(meta.updated)
    for entry in meta.entries:
        _add_entry(generator, entry)
    return generator


def _add_entry(generator: FeedGenerator, entry: FeedEntry) -> None:
    item = generator.add_entry(order="append")
    item.id(entry.id)
    item.guid(entry.id, permalink=True)
    item.title(entry.title)
    item.link(href=entry.link, rel="alternate", type="text/html")
    item.content(entry.content_html, type="html")
    item.description(entry.summary or entry.title, isSummary=True)  # RSS description, Atom summary
    item.published(entry.published)
    item.updated(entry.updated)
    item.author(name=entry.author, uri=entry.author_url)
    item.dc.dc_creator(entry.author)  # RSS <author> must be an e-mail address; a unit has a name
    if entry.category:
        item.category(term=entry.category)
    links = getattr(item, _EXTENSION).links
    if entry.original:
        links.append({"href": entry.original, "rel": "related", "type": "text/html"})
    for attachment in entry.attachments:
        links.append(
            {
                "href": attachment.url,
                "rel": "enclosure",
                "type": attachment.mime_type,
                "title": attachment.name,
            }
        )
    if entry.attachments:  # RSS allows one enclosure per item; its size is not known to us
        first = entry.attachments[0]
        item.enclosure(first.url, "0", first.mime_type)
        # feedgen mirrors the enclosure into the Atom links too, without rel (see module docstring)
        item.link(href=entry.link, rel="alternate", type="text/html", replace=True)


def rss_document(meta: FeedMeta) -> bytes:
    """The feed as RSS 2.0 (UTF-8)."""
    return bytes(_generator(meta).rss_str(pretty=False))


def atom_document(meta: FeedMeta) -> bytes:
    """The feed as Atom 1.0 (UTF-8)."""
    return bytes(_generator(meta).atom_str(pretty=False))
