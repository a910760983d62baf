"""The sample network as plain data: sites (one per unit), their items, and the network itself.

Paths here are relative to the server root ("/sites/<slug>/..."); renderers and the export add the
base URL, so one network can be served on any port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Tier = Literal["city", "district", "branch"]
Template = Literal["rss", "atom", "html_feed", "html", "gbk", "gbk_mislabeled", "account", "sitemap"]
Fault = Literal[
    "timeout",
    "http_500",
    "redirect_loop",
    "malformed_xml",
    "rate_limited",
    # The fault mix (generate_network's ``fault_mix``): every other way the issue says real sites break.
    "dns_failure",
    "refused",
    "slow_drip",
    "reset_mid_body",
    "http_404",
    "redirect_private",
    "huge_page",
    "gzip_bomb",
    "truncated_html",
    "wrong_charset",
    "infinite_pagination",
    "robots_disallow",
]
Liveliness = Literal["lively", "slowing", "stale", "dormant"]
# How a site is reached: the plain server, the TLS server (a certificate expiring soon), a loopback
# port where nothing listens (connection refused), a host name that never resolves (``.invalid``), or a
# loopback server that resets the connection in the middle of the body (samplenet/resetserver.py).
Transport = Literal["http", "https", "dead", "unresolvable", "reset"]
# cn_numerals: "发布日期：二〇二三年五月六日"; fullwidth: "发布时间：２０２３－０５－０６"
# (issue 3's date forms).
DateStyle = Literal["full_cn", "dash", "slash", "bracket", "cn_numerals", "fullwidth"]

# Templates every healthy network walks through; the extra sites ("sitemap", a rate-limited account)
# are added on top (generate_network's ``extras``).
TEMPLATES: tuple[Template, ...] = ("rss", "atom", "html_feed", "html", "gbk", "gbk_mislabeled", "account")
FAULTS: tuple[Fault, ...] = ("timeout", "http_500", "redirect_loop", "malformed_xml")
# What a crawler should record for each fault (ground truth).
FAULT_KINDS: dict[Fault, str] = {
    "timeout": "timeout",
    "http_500": "http_5xx",
    "redirect_loop": "redirect_loop",
    "malformed_xml": "parse_error",
    "rate_limited": "rate_limited",
    "dns_failure": "dns",
    "refused": "refused",
    "slow_drip": "timeout",  # a byte now and then: the download timeout ends it
    "reset_mid_body": "connection",
    "http_404": "http_4xx",
    "redirect_private": "blocked_private",  # to a name resolving to loopback that is not allow-listed
    "huge_page": "too_large",
    "gzip_bomb": "too_large",  # small on the wire, far over the page limit once inflated
    "robots_disallow": "robots",
}
# Faults a crawler gets through: the source is read (what can be read of it) and no failure is recorded.
# A truncated list page yields the entries before the cut, a mislabeled charset is detected, and endless
# pagination stops at crawl.list_page_depth.
TOLERATED_FAULTS: frozenset[Fault] = frozenset({"truncated_html", "wrong_charset", "infinite_pagination"})
# The health status (docs/health.md) each site should get under the default [health] thresholds: a fault
# decides, else how the site is reached, else how lively it is. A rate-limited account was never read.
FAULT_HEALTH: dict[Fault, str] = {
    "timeout": "unreachable",
    "http_500": "broken",
    "redirect_loop": "broken",
    "malformed_xml": "broken",
    "rate_limited": "unknown",
    "dns_failure": "unreachable",
    "refused": "unreachable",
    "slow_drip": "unreachable",
    "reset_mid_body": "unreachable",
    "http_404": "broken",
    "redirect_private": "unreachable",
    "huge_page": "broken",
    "gzip_bomb": "broken",
    "robots_disallow": "broken",
}
LIVELINESS_HEALTH: dict[Liveliness, str] = {
    "lively": "active",
    "slowing": "slowing",
    "stale": "stale",
    "dormant": "dormant",
}
RATE_LIMIT_RETRY_AFTER_S = 7200  # the bridge's Retry-After for a rate-limited account
# The fault mix: (fault, template, transport) of one branch each, in this order.
MIX_FAULTS: tuple[tuple[Fault, Template, Transport], ...] = (
    ("dns_failure", "rss", "unresolvable"),
    ("refused", "rss", "dead"),
    ("slow_drip", "rss", "http"),
    ("reset_mid_body", "rss", "reset"),
    ("http_404", "atom", "http"),
    ("redirect_private", "rss", "http"),
    ("huge_page", "rss", "http"),
    ("gzip_bomb", "rss", "http"),
    ("truncated_html", "html", "http"),
    ("wrong_charset", "rss", "http"),
    ("infinite_pagination", "html", "http"),
    ("robots_disallow", "html", "http"),
)
PRIVATE_REDIRECT_HOST = "localhost"  # resolves to loopback, and is not the allow-listed spelling 127.0.0.1
UNRESOLVABLE_HOST = "samplenet.invalid"  # RFC 6761: never resolves
TRUNCATED_ENTRIES = 5  # a truncated list page shows this many entries whole, then stops inside a link
HUGE_PAGE_BYTES = 6 * 1024 * 1024  # above the default crawl.max_page_bytes (5 MiB)
GZIP_BOMB_BYTES = 64 * 1024 * 1024  # inflated size of the gzip bomb (~64 KiB on the wire)
DRIP_STEPS = 10  # a slow-drip site sends one small chunk every timeout_delay_s / DRIP_STEPS
FEED_TEMPLATES: frozenset[Template] = frozenset({"rss", "atom", "html_feed"})
LIST_TEMPLATES: frozenset[Template] = frozenset({"html", "gbk", "gbk_mislabeled", "html_feed"})
FEED_SIZE = 20  # items a feed carries, newest first
LIST_PAGE_SIZE = 10  # items per HTML list page; page n > 1 is list_<n>.html
# What a deleted article's page answers: both happen on real sites.
GoneStatus = Literal[404, 410]
GONE_STATUSES: tuple[GoneStatus, ...] = (404, 410)


@dataclass(frozen=True, slots=True)
class SampleAttachment:
    """A file linked from an article; ``path`` is relative to the site root."""

    name: str
    path: str


@dataclass(frozen=True, slots=True)
class SampleItem:
    """One notice or news item of a site."""

    site_slug: str
    item_id: str  # also the article file name: articles/<item_id>.html
    title: str
    paragraphs: tuple[str, ...]
    published_at: datetime  # aware, Asia/Shanghai
    date_style: DateStyle  # how the article page prints the date
    category: str
    author: str
    origin: str  # 来源 line
    attachments: tuple[SampleAttachment, ...] = ()
    images: tuple[str, ...] = ()  # paths relative to the site root
    modified_at: datetime | None = None  # last edit after publication (sitemap lastmod)
    raw_body: str | None = None  # markup served as the body verbatim (the XSS corpus), else the paragraphs

    @property
    def lastmod(self) -> datetime:
        """When the page last changed: its edit, else its publication."""
        return self.modified_at or self.published_at

    @property
    def article_path(self) -> str:
        """Article page path relative to the site root."""
        return self.page_path(self.item_id)

    @staticmethod
    def page_path(item_id: str) -> str:
        """Path of the article page of ``item_id``, relative to the site root."""
        return f"articles/{item_id}.html"


@dataclass(frozen=True, slots=True)
class Deletion:
    """An item deleted at its source (samplenet/deletion.py): its page answers ``status``.

    ``listed``: the site's list page, feed and sitemap still show it, as on a site whose lists are
    regenerated later than the article was deleted; otherwise it is gone from them too.
    """

    item: SampleItem
    status: GoneStatus
    listed: bool


@dataclass(slots=True)
class SampleSite:
    """One unit and its web presence; items are kept newest first."""

    slug: str
    name: str
    parent: str | None
    tier: Tier
    level: str  # registry level: city | district | street | community | branch
    unit_type: str  # government | party | enterprise | community | school | hospital | other
    region: str
    template: Template
    fault: Fault | None
    trusted: bool
    liveliness: Liveliness
    category: str  # the column the site's list/feed carries, e.g. 通知公告
    platform: str | None = None  # account template: weibo | wechat
    account: str | None = None  # account template: uid / biz id
    feed_encoding: str = "utf-8"  # "gbk" for one benchmark feed in five (declared in header and XML)
    items: list[SampleItem] = field(default_factory=list)
    serial: int = 0  # last item serial used (publishing continues from here)
    transport: Transport = "http"
    # Items that repost another site's notice: item_id -> (that site's slug, its item_id).
    reposts: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Items deleted at the source while the network runs, by item_id (samplenet/deletion.py).
    deleted: dict[str, Deletion] = field(default_factory=dict)

    @property
    def gone_status(self) -> GoneStatus:
        """What a deleted article's page answers unless told otherwise: the city's and the districts'
        content systems say 410 Gone, a branch's site just 404."""
        return 410 if self.tier in ("city", "district") else 404

    @property
    def root_path(self) -> str:
        """Path of the site's home page."""
        return f"/sites/{self.slug}/"

    @property
    def source_path(self) -> str:
        """Path of the one source the registry lists for this site (feed, list page or bridge)."""
        if self.template == "account":
            if self.platform == "weibo":
                return f"/bridge/weibo/user/{self.account}"
            return f"/bridge/wechat/mp/{self.account}"
        if self.template in ("rss", "html_feed"):
            return f"{self.root_path}rss.xml"
        if self.template == "atom":
            return f"{self.root_path}atom.xml"
        if self.template == "sitemap":
            return f"{self.root_path}sitemap_index.xml"
        return f"{self.root_path}list.html"

    @property
    def expected_health(self) -> str:
        """The health status this site should get (FAULT_HEALTH, a dead port, LIVELINESS_HEALTH)."""
        if self.fault is not None and self.fault in FAULT_HEALTH:
            return FAULT_HEALTH[self.fault]
        if self.transport == "dead":
            return "unreachable"
        return LIVELINESS_HEALTH[self.liveliness]

    @property
    def encoding(self) -> str:
        """Encoding of the site's HTML pages."""
        return "gbk" if self.template in ("gbk", "gbk_mislabeled") else "utf-8"


@dataclass(slots=True)
class SampleNetwork:
    """A whole federation: sites in tree order (city, then each district followed by its branches)."""

    seed: int
    today: date
    city_name: str
    access_key: str  # the bridge's ?key=
    timeout_delay_s: float  # how long a `timeout` site keeps a request waiting
    sites: list[SampleSite]
    tls_days_left: float = 5.0  # the TLS server's certificate expires this long after start-up
    published: int = 0  # items added by publish_item since generation
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _by_slug: dict[str, SampleSite] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_slug = {s.slug: s for s in self.sites}

    def site(self, slug: str) -> SampleSite:
        """The site with this slug (KeyError if unknown)."""
        return self._by_slug[slug]

    def children(self, slug: str) -> list[SampleSite]:
        """Sites whose parent is ``slug``."""
        return [s for s in self.sites if s.parent == slug]

    def by_account(self, platform: str, account: str) -> SampleSite | None:
        """The account site for a bridge path, if any."""
        for candidate in self.sites:
            if candidate.platform == platform and candidate.account == account:
                return candidate
        return None

    def items(self) -> list[SampleItem]:
        """Every item of every site."""
        return [item for site in self.sites for item in site.items]
