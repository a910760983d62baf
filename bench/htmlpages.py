"""Sample HTML pages for the extraction benchmark, built in process from a sample network.

``sample_articles`` gives the article pages the sample sites serve (about 1–2 KB each, in the site's
encoding). ``portal_article`` wraps one of them in the chrome of a real government portal — a
header menu, a sidebar of dated related links, scripts, a long footer — to about 30 KB, the page
size the issue's BeautifulSoup warning is about: the list heuristic, the date search and link
handling all see many more links and dates there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape

from samplenet.export import HTML_SELECTORS, source_kind
from samplenet.model import LIST_TEMPLATES, SampleItem, SampleNetwork, SampleSite
from samplenet.render_html import article_page, list_page


@dataclass(frozen=True, slots=True)
class SamplePage:
    """A page as served: body bytes, its URL, the site's name and the source's selectors (as the
    registry export gives them: HTML-list sources carry selectors, feed sites' pages none)."""

    body: bytes
    url: str
    site_name: str
    selectors: Mapping[str, str] = field(default_factory=dict)


def selectors_of(site: SampleSite) -> Mapping[str, str]:
    """The selectors the registry export gives the site's source."""
    return HTML_SELECTORS if source_kind(site) == "html" else {}


def article_url(base: str, site: SampleSite, item: SampleItem) -> str:
    """Absolute URL of an item's article page."""
    return f"{base}{site.root_path}{item.article_path}"


def sample_articles(network: SampleNetwork, base: str = "http://127.0.0.1:8000") -> list[SamplePage]:
    """Every article page of the network's HTML-list sites."""
    return [
        SamplePage(article_page(site, item), article_url(base, site, item), site.name, selectors_of(site))
        for site in network.sites
        if site.template in LIST_TEMPLATES
        for item in site.items
    ]


def sample_lists(network: SampleNetwork, base: str = "http://127.0.0.1:8000") -> list[SamplePage]:
    """Every list page of the network's HTML-list sites."""
    pages = []
    for site in network.sites:
        if site.template not in LIST_TEMPLATES:
            continue
        number = 1
        while (body := list_page(site, site.items, number)) is not None:
            name = "list.html" if number == 1 else f"list_{number}.html"
            pages.append(SamplePage(body, f"{base}{site.root_path}{name}", site.name, selectors_of(site)))
            number += 1
    return pages


def _chrome(network: SampleNetwork, site: SampleSite, base: str) -> tuple[str, str]:
    """Header and footer/sidebar markup of a busy portal page (no <p> blocks: not article text)."""
    others = [(s, i) for s in network.sites for i in s.items[:3]][:90]
    menu = "".join(f'<li><a href="/col/{n}/">栏目{n}</a></li>' for n in range(120))
    related = "".join(
        f'<li><a href="{escape(article_url(base, s, i))}" title="{escape(i.title)}">{escape(i.title)}</a>'
        f"<span>{i.published_at:%Y-%m-%d}</span></li>"
        for s, i in others
    )
    links = "".join(f'<a href="http://www.example{n}.gov.cn/">友情链接单位{n}</a> ' for n in range(60))
    script = "<script>var _hmt=_hmt||[];(function(){var hm=document.createElement('script');})();</script>"
    header = (
        f'<div class="top">{script}<span>今天是 {network.today:%Y年%m月%d日}</span>'
        f'<form action="/search"><input name="q"></form></div><ul class="menu">{menu}</ul>'
    )
    footer = (
        f'<div class="sidebar"><h3>相关新闻</h3><ul>{related}</ul></div>'
        f'<div class="links">{links}</div><div class="copy">版权所有 {escape(site.name)}</div>'
        f"<style>.menu li{{float:left}}</style>{script}"
    )
    return header, footer


def portal_article(
    network: SampleNetwork, page: SamplePage, base: str = "http://127.0.0.1:8000"
) -> SamplePage:
    """``page`` with a portal's chrome around the article (about 30 KB in UTF-8)."""
    site = next(s for s in network.sites if s.name == page.site_name)
    header, footer = _chrome(network, site, base)
    text = page.body.decode(site.encoding)
    text = text.replace("<body>\n", f"<body>\n{header}", 1).replace("</body>", f"{footer}</body>", 1)
    body = text.encode(site.encoding, errors="xmlcharrefreplace")
    return SamplePage(body, page.url, page.site_name, page.selectors)
