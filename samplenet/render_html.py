"""HTML pages of the sample sites: home, paginated list pages and article pages, in the site's encoding."""

from __future__ import annotations

from html import escape

from samplenet.model import LIST_PAGE_SIZE, TRUNCATED_ENTRIES, SampleItem, SampleNetwork, SampleSite
from samplenet.texts import format_date


def site_url(base: str, site: SampleSite) -> str:
    """Absolute URL of a site's home (ends with a slash)."""
    return f"{base}{site.root_path}"


def body_html(item: SampleItem, prefix: str = "") -> str:
    """The article body: paragraphs, images and attachment links.

    Links are relative to the article page when ``prefix`` is empty (as on the site), absolute when
    ``prefix`` is the site URL (as feeds carry them). An item with a ``raw_body`` (the XSS corpus) has
    that markup as it is, as a hostile site would serve it.
    """
    if item.raw_body is not None:
        return item.raw_body

    def link(path: str) -> str:
        return f"{prefix}{path}" if prefix else path.removeprefix("articles/")

    parts = [f"<p>{escape(text)}</p>" for text in item.paragraphs]
    for n, image in enumerate(item.images, start=1):
        parts.insert(
            min(n, len(parts)), f'<p><img src="{escape(link(image))}" alt="{escape(item.title)}"></p>'
        )
    if item.attachments:
        links = "".join(
            f'<li><a href="{escape(link(a.path))}">{escape(a.name)}</a></li>' for a in item.attachments
        )
        parts.append(f'<div class="attachments"><p>附件：</p><ul>{links}</ul></div>')
    return "\n".join(parts)


def _head(site: SampleSite, title: str, extra: str = "") -> str:
    if site.template == "gbk":
        meta = '<meta charset="gbk">'
    elif site.template == "gbk_mislabeled":
        meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    else:
        meta = '<meta charset="utf-8">'
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n{meta}\n<title>{escape(title)}</title>\n{extra}'
        "</head>\n<body>\n"
        f'<div class="header"><a href="{escape(site.root_path)}">{escape(site.name)}</a></div>\n'
    )


def _foot(site: SampleSite) -> str:
    return (
        f'<div class="footer">主办：{escape(site.name)} 地区代码：{escape(site.region)}</div>\n'
        "</body>\n</html>\n"
    )


def _encode(site: SampleSite, text: str) -> bytes:
    return text.encode(site.encoding, errors="xmlcharrefreplace")


def home_page(network: SampleNetwork, site: SampleSite, base: str) -> bytes:
    """A site's home: its column, feed links, and links up and down the unit tree."""
    links = []
    if site.template not in ("account", "sitemap"):
        links.append('<li><a href="list.html">' + escape(site.category) + "</a></li>")
    if site.template in ("rss", "html_feed"):
        links.append('<li><a href="rss.xml">RSS</a></li>')
    if site.template == "atom":
        links.append('<li><a href="atom.xml">Atom</a></li>')
    related = []
    if site.parent is not None:
        parent = network.site(site.parent)
        related.append(
            f'<li class="parent"><a href="{site_url(base, parent)}">{escape(parent.name)}</a></li>'
        )
    for child in network.children(site.slug):
        related.append(f'<li class="child"><a href="{site_url(base, child)}">{escape(child.name)}</a></li>')
    body = (
        f'<h1>{escape(site.name)}</h1>\n<ul class="columns">{"".join(links)}</ul>\n'
        f'<ul class="units">{"".join(related)}</ul>\n'
    )
    return _encode(site, _head(site, site.name, _feed_links(site)) + body + _foot(site))


def _feed_links(site: SampleSite) -> str:
    """<link rel=alternate> of the site's feed, as sites with feeds advertise them."""
    feeds = {"rss": "rss.xml", "html_feed": "rss.xml", "atom": "atom.xml"}
    if site.template not in feeds:
        return ""
    kind = "application/atom+xml" if site.template == "atom" else "application/rss+xml"
    return f'<link rel="alternate" type="{kind}" title="{escape(site.name)}" href="{feeds[site.template]}">\n'


def list_page(site: SampleSite, items: list[SampleItem], page: int, endless: bool = False) -> bytes | None:
    """List page ``page`` (1-based) of a site, or None past the last page.

    ``endless``: every page links to a next one, and pages past the last repeat the last page's entries
    (what some content systems do with ?page=N out of range): pagination that never ends.
    """
    pages = max(1, -(-len(items) // LIST_PAGE_SIZE))
    if page < 1 or (page > pages and not endless):
        return None
    shown = min(page, pages)
    chunk = items[(shown - 1) * LIST_PAGE_SIZE : shown * LIST_PAGE_SIZE]
    extra = ""
    if site.template == "html_feed":
        extra = (
            f'<link rel="alternate" type="application/rss+xml" title="{escape(site.name)}" href="rss.xml">\n'
        )
    rows = "\n".join(
        f'<li><a href="{escape(item.article_path)}" title="{escape(item.title)}">{escape(item.title)}</a>'
        f'<span class="date">{item.published_at:%Y-%m-%d}</span></li>'
        for item in chunk
    )
    nav = []
    if page > 1:
        nav.append(f'<a class="prev" href="{_list_name(page - 1)}">上一页</a>')
    nav.append(f'<span class="current">第{page}页 共{pages}页</span>')
    if page < pages or endless:
        nav.append(f'<a class="next" href="{_list_name(page + 1)}">下一页</a>')
    body = (
        f'<h2>{escape(site.category)}</h2>\n<ul class="news-list">\n{rows}\n</ul>\n'
        f'<div class="pager">{" ".join(nav)}</div>\n'
    )
    return _encode(site, _head(site, f"{site.category} - {site.name}", extra) + body + _foot(site))


def truncated_list_page(site: SampleSite, items: list[SampleItem]) -> bytes:
    """List page 1 cut off inside the link of entry TRUNCATED_ENTRIES + 1, as a dropped upload leaves it:
    no end of the list, no pager, no end of the document."""
    whole = list_page(site, items, 1)
    assert whole is not None  # page 1 always exists
    text = whole.decode(site.encoding)
    if len(items) <= TRUNCATED_ENTRIES:
        return _encode(site, text[: text.index("</ul>")])
    link = text.index(f'href="{items[TRUNCATED_ENTRIES].article_path}"')
    return _encode(site, text[: link + len('href="articles/t')])


def _list_name(page: int) -> str:
    return "list.html" if page == 1 else f"list_{page}.html"


def article_page(site: SampleSite, item: SampleItem) -> bytes:
    """An article page with title, date line in the site's format, 来源 and 作者 lines, and the body."""
    printed = format_date(item.published_at, item.date_style)
    meta = (
        f'<div class="article-meta"><span class="pubdate">{escape(printed)}'
        f"</span> <span>来源：{escape(item.origin)}</span> <span>作者：{escape(item.author)}</span></div>\n"
    )
    body = (
        f'<div class="article">\n<h1 class="article-title">{escape(item.title)}</h1>\n{meta}'
        f'<div class="article-body">\n{body_html(item)}\n</div>\n</div>\n'
        '<div class="back"><a href="../list.html">返回列表</a></div>\n'
    )
    return _encode(site, _head(site, f"{item.title} - {site.name}") + body + _foot(site))


def network_index(network: SampleNetwork, base: str) -> bytes:
    """The server root: every site of the network."""
    rows = "\n".join(
        f'<li><a href="{site_url(base, s)}">{escape(s.name)}</a> ({s.template})</li>' for s in network.sites
    )
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(network.city_name)}'
        f"样例网络</title></head>\n<body><h1>{escape(network.city_name)}样例网络</h1><ul>\n{rows}\n</ul>"
        "</body></html>\n"
    ).encode()
