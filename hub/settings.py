"""The one settings registry (pydantic-settings).

Every option has a type, a default and a help line (``description``). Layers, lowest first:
defaults < TOML file < ``XINLIAN_*_FILE`` secret files < ``XINLIAN_*`` environment < explicit overrides.
Nested sections use ``__`` in environment names, e.g. ``XINLIAN_STORE__URL``.
This is the only module that reads the process environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hub.settingsfile import config_error

# Marks a URL field whose path and query are a secret (json_schema_extra key; hub/logsetup.secret_values).
CREDENTIAL_URL = "x-credential-url"

ENV_PREFIX = "XINLIAN_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = Path("config/xinlian.toml")
_URL_PASSWORD = re.compile(r"(://[^/:@]+:)[^/@]+@")
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "demo-secret-change-me"})
URL_SHORTENERS = ("t.cn", "url.cn", "dwz.cn", "suo.im", "bit.ly", "tinyurl.com", "t.co", "is.gd")
LEVEL_FACTORS = (("city", 0.8), ("district", 0.9), ("street", 1.0), ("community", 1.0), ("branch", 1.1))


class _Section(BaseModel):
    model_config = {"extra": "forbid"}


class StoreSettings(_Section):
    url: str = Field(
        "sqlite:///var/xinlian.db",
        description="Database URL: sqlite:///path (WAL mode) or postgresql://user@host/db.",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")


class SearchSettings(_Section):
    backend: str = Field(
        "embedded",
        description="'embedded' (tantivy index in a local directory, no server) or an Elasticsearch URL"
        " http(s)://host:9200.",
    )
    embedded_path: str = Field(
        "var/search-index",
        description="Directory of the embedded (tantivy) search index, shared by the web app, the worker"
        " and the CLI; the SQLite FTS5 file of earlier versions is not read: run `xinlian index reindex`.",
    )
    index_prefix: str = Field("xinlian", description="Prefix of Elasticsearch index and alias names.")
    es_username: str = Field("", description="Elasticsearch basic-auth user name (empty: none).")
    es_password: SecretStr = Field(SecretStr(""), description="Elasticsearch basic-auth password.")
    es_api_key: SecretStr = Field(SecretStr(""), description="Elasticsearch API key (wins over a password).")
    es_ca_certs: str = Field("", description="CA bundle for verifying the Elasticsearch TLS certificate.")
    es_timeout_s: float = Field(10.0, description="Elasticsearch request timeout in seconds.")
    es_retry_backoff_s: float = Field(
        0.5,
        ge=0.0,
        description="Base of the Elasticsearch client's jittered, doubling pause before retrying a request"
        " that could not connect or timed out (0: retry at once); a 429/502/503/504 answer is retried"
        " at once by the client, and the outbox's back-off covers what still fails (docs/search.md).",
    )
    es_retry_backoff_max_s: float = Field(
        4.0, ge=0.0, description="Longest pause of the Elasticsearch client between two retries, in seconds."
    )
    templates_dir: str = Field(
        str(PROJECT_ROOT / "config" / "index"), description="Folder of index templates and mappings."
    )
    outbox_batch: int = Field(500, description="Outbox rows applied to the index per batch.")
    outbox_max_attempts: int = Field(20, description="Attempts before an outbox row is reported as stuck.")
    catch_up_quiet_s: float = Field(
        60.0,
        ge=0.0,
        description="After the search backend was found unreachable, a moderation decision skips its"
        " immediate index update for this many seconds and returns at once; the worker's drain applies it.",
    )


class CrawlSettings(_Section):
    user_agent: str = Field(
        "XinlianBot/0.1 (+https://xinlian.example/bot)", description="User-Agent sent to every source."
    )
    download_timeout_s: float = Field(15.0, description="Give up on one request after this many seconds.")
    max_page_bytes: int = Field(5 * 1024 * 1024, description="Responses larger than this are refused.")
    concurrent_requests: int = Field(32, description="Requests in flight per crawl process.")
    processes: int = Field(
        0,
        ge=0,
        description="Long-lived crawl worker processes (0: one per CPU core), sharing each run by host.",
    )
    min_sources_per_process: int = Field(
        25, ge=1, description="A run uses another crawl process only for at least this many more sources."
    )
    concurrent_per_host: int = Field(4, description="Requests in flight per host.")
    fast_feeds: bool = Field(
        True,
        description="Fetch feed and account sources with the lean asyncio path (crawlers/fastfeed/, same"
        " politeness, guard and recording) instead of Scrapy; HTML list and sitemap sources, and the full"
        " text of teaser-only feed entries, stay on Scrapy.",
    )
    retry_times: int = Field(1, description="Retries of a failed request within one crawl.")
    max_redirects: int = Field(5, description="Redirects followed before a redirect loop is declared.")
    list_page_depth: int = Field(2, description="List pages followed per HTML source (pagination depth).")
    max_items_per_source: int = Field(200, description="Items taken from one source in one crawl.")
    revisit_after_s: int = Field(
        86400,
        ge=0,
        description="Crawl a source without its validators (ETag, Last-Modified, body hash) when its answer"
        " was last parsed longer ago than this: an article edited on a list page whose bytes did not"
        " change, or a server whose validators never change, is read again. 0: never.",
    )
    obey_robots_txt: bool = Field(True, description="Honour robots.txt of each site.")
    allow_private_networks: bool = Field(
        False, description="Allow sources on private/loopback addresses (never in production)."
    )
    allowed_private_hosts: list[str] = Field(
        default_factory=list,
        description="Private or loopback hosts that are allowed anyway (the sample network: 127.0.0.1).",
    )
    default_interval_s: int = Field(3600, description="Check interval of a new source, in seconds.")
    download_delay_s: float = Field(0.0, description="Pause between two requests to one host, in seconds.")
    max_crawl_delay_s: float = Field(
        30.0, description="robots.txt Crawl-delay is honoured up to this many seconds per request."
    )
    permanent_redirect_after: int = Field(
        3, ge=1, description="A 301/308 seen this many crawls in a row moves the source to the new URL."
    )
    removed_after_missing: int = Field(
        3,
        description="An item missing from its source's list page/sitemap this many crawls in a row is marked"
        " removed at source (0: only a 404/410 marks it).",
    )
    repost_min_similarity: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Reposts: estimated Jaccard similarity of two bodies' text shingles above which they are"
        " one notice (a repost with a new header line and small edits scores ~0.9; other notices ~0.1).",
    )
    frontier_url: str = Field(
        "",
        description="redis://host:6379/0 (or rediss://): the crawl processes of a run share one Redis-backed"
        " Scrapy request queue for HTML list sources and their article pages (crawlers/frontier/;"
        " docs/deploy.md). Empty: off, each process crawls the sources it was given.",
    )
    frontier_key_prefix: str = Field(
        "xinlian:frontier",
        min_length=1,
        description="Prefix of the frontier's Redis keys (a run's keys are <prefix>:<run id>:...);"
        " installations sharing one Redis need different prefixes.",
    )
    frontier_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Frontier only: a Redis call unanswered for this long fails; the process then leaves the"
        " run as if Redis were gone (a frozen Redis must not hang the crawl).",
    )
    frontier_stall_s: float = Field(
        120.0,
        gt=0,
        description="Frontier only: a crawl process leaves a run whose queue stayed empty and in which no"
        " request finished anywhere for this long (a process died holding requests); their sources are"
        " then recorded as aborted.",
    )

    frontier_remote_processes: int = Field(
        0,
        ge=0,
        description="Frontier only: slots a run keeps for crawl processes of other machines (`xinlian crawl"
        " join`); every host's budget is divided by the run's own processes plus these, whether or not"
        " joiners come (docs/deploy.md).",
    )

    @field_validator("frontier_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"^rediss?://[^/\s]+", value):
            raise ValueError(f"frontier_url must be empty or redis(s)://host:port/db: {value!r}")
        return value


class BridgeSettings(_Section):
    base_url: str = Field(
        "",
        description='RSSHub-compatible bridge for Weibo/WeChat accounts, e.g. http://rsshub:1200 ("": none).',
    )
    access_key: SecretStr = Field(
        SecretStr(""), description="Bridge access key, sent as ?key= (masked, never logged)."
    )


class WorkerSettings(_Section):
    tick_s: float = Field(30.0, description="How often the worker looks for due sources, in seconds.")
    batch: int = Field(200, description="Due sources crawled per tick at most.")
    per_host_cap: int = Field(20, description="Due sources of one host taken per tick at most.")
    lease_s: int = Field(900, description="A picked source is not picked again for this long (crash safety).")
    drain_s: float = Field(5.0, description="How often the worker applies pending index updates, in seconds.")


SCHEDULE_LEVELS = ("city", "district", "street", "community", "branch")
# Per unit level, (shortest, longest) check interval in seconds: a city site is checked at least
# hourly, a branch at least daily, however rarely it publishes.
SCHEDULE_BOUNDS = (
    ("city", (15 * 60, 3600)),
    ("district", (30 * 60, 6 * 3600)),
    ("street", (3600, 12 * 3600)),
    ("community", (3600, 24 * 3600)),
    ("branch", (3600, 24 * 3600)),
)
FAILURE_WEIGHTS = (("hard", 1.0), ("soft", 0.5), ("temporary", 0.25))


class ScheduleSettings(_Section):
    interval_bounds_s: dict[str, tuple[int, int]] = Field(
        default_factory=lambda: dict(SCHEDULE_BOUNDS),
        description="Per unit level, [shortest, longest] check interval in seconds (the interval a source's"
        " publication rate asks for is clamped to it).",
    )
    checks_per_entry: float = Field(
        2.0,
        gt=0,
        description="Checks per expected gap between two new entries: a source publishing once a day is"
        " checked every 12 hours with 2.0 (before clamping).",
    )
    rate_window_days: float = Field(
        28.0,
        gt=0,
        description="Publication rate (entries per week): a moving average over about this many days"
        " (older entries weigh exponentially less).",
    )
    hint_max_s: int = Field(
        24 * 3600,
        ge=0,
        description="A feed's <ttl> and a Cache-Control max-age lengthen the interval, up to this many"
        " seconds.",
    )
    retry_after_max_s: int = Field(
        7 * 24 * 3600,
        ge=0,
        description="A Retry-After (429/503) holds the source's next check back up to this many seconds.",
    )
    jitter: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Each next check moves by a random share of its interval, up to this much either way"
        " (spreads the load of sources that were added together).",
    )
    failure_weights: dict[str, float] = Field(
        default_factory=lambda: dict(FAILURE_WEIGHTS),
        description="Weight added to a source's failure score per failure of each class (hard: DNS, 404/410,"
        " TLS, blocked address, robots; soft: parse errors, empty feeds; temporary: timeouts, 5xx, 429,"
        " refused); the interval is doubled per point of score.",
    )
    backoff_max_s: int = Field(
        24 * 3600,
        ge=60,
        description="A failing source's backed-off interval grows up to this many seconds (or its level's"
        " longest interval, if longer).",
    )
    pause_after_days: float = Field(
        7.0,
        gt=0,
        description="A source failing without a success for this many days is paused and reported; it is"
        " then only probed every probe_interval_s, and resumes on the first success.",
    )
    probe_interval_s: int = Field(
        24 * 3600, ge=60, description="How often a paused source is probed, in seconds."
    )

    @field_validator("interval_bounds_s", "failure_weights", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        # A file or variable naming one level (or class) keeps the defaults of the others.
        defaults = dict(SCHEDULE_BOUNDS) if info.field_name == "interval_bounds_s" else dict(FAILURE_WEIGHTS)
        return {**defaults, **value} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _check_bounds(self) -> ScheduleSettings:
        unknown = set(self.interval_bounds_s) - set(SCHEDULE_LEVELS)
        if unknown:
            raise ValueError(f"schedule.interval_bounds_s: unknown unit level(s) {sorted(unknown)}")
        for level, (low, high) in self.interval_bounds_s.items():
            if not 0 < low <= high:
                raise ValueError(f"schedule.interval_bounds_s.{level}: need 0 < shortest <= longest")
        unknown = set(self.failure_weights) - {name for name, _ in FAILURE_WEIGHTS}
        if unknown:
            raise ValueError(f"schedule.failure_weights: unknown class(es) {sorted(unknown)}")
        return self


class WebSubSettings(_Section):
    enabled: bool = Field(
        True, description="Subscribe at the WebSub hub a feed advertises (rel=hub) and accept its deliveries."
    )
    lease_s: int = Field(
        10 * 24 * 3600, ge=60, description="Lease asked of the hub, in seconds (the hub may grant another)."
    )
    renew_before_s: int = Field(
        24 * 3600, ge=0, description="Renew a subscription this many seconds before its lease ends."
    )
    safety_poll_s: int = Field(
        6 * 3600,
        ge=60,
        description="While a subscription is active its source is still polled, at least this many seconds"
        " apart (a safety net for lost deliveries).",
    )
    retry_pending_s: int = Field(
        3600,
        ge=60,
        description="A subscription request the hub never verified is sent again after this long.",
    )
    renew_s: float = Field(
        300.0, description="How often the worker sends due subscription requests, in seconds."
    )


class WebSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the web app listens on.")
    port: int = Field(8000, description="Port the web app listens on.")
    secret_key: SecretStr = Field(
        SecretStr("demo-secret-change-me"), description="Key signing session cookies and tokens."
    )
    base_url: str = Field("http://127.0.0.1:8000", description="Public URL of the portal (links, feeds).")
    page_size: int = Field(20, description="Results per page on the portal and in the API.")
    language: Literal["zh-CN", "en"] = Field("zh-CN", description="Default language of the portal.")
    session_idle_minutes: int = Field(
        60, ge=1, description="A staff session unused for this many minutes ends (sign in again)."
    )
    session_max_hours: float = Field(
        12.0, gt=0, description="A staff session ends this many hours after sign-in, however busy."
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed sign-ins (form or HTTP Basic) of one user name within login_window_minutes that"
        " lock it for login_lockout_minutes.",
    )
    login_max_failures_per_address: int = Field(
        20,
        ge=1,
        description="Failed sign-ins from one client address within login_window_minutes that lock it"
        " (higher than per name: an office behind one NAT address shares it).",
    )
    login_window_minutes: float = Field(15.0, gt=0, description="Window in which failed sign-ins count.")
    login_lockout_minutes: float = Field(15.0, gt=0, description="How long a locked name or address waits.")
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token /metrics asks for (empty: /metrics answers loopback clients only; behind a"
        " reverse proxy on the same host, set a token).",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Web process logs: 'text' lines or 'json' lines (request id, route, status)."
    )


class FeedSettings(_Section):
    items: int = Field(50, ge=1, le=500, description="Entries in each of our RSS, Atom and JSON feeds.")
    max_age_s: int = Field(
        300, ge=0, description="Cache-Control max-age of feeds and widgets, in seconds (public caching)."
    )
    widget_max_items: int = Field(20, ge=1, le=100, description="Most notices a widget may ask for (limit=).")


class WebSubHubSettings(_Section):
    enabled: bool = Field(
        True, description="Run our own WebSub hub: subscriptions to our feeds and signed deliveries."
    )
    tick_s: float = Field(
        10.0, gt=0, description="How often the worker verifies subscribers and sends deliveries, in seconds."
    )
    lease_s: int = Field(
        10 * 24 * 3600, ge=60, description="Lease granted when a subscriber asks for none, in seconds."
    )
    min_lease_s: int = Field(3600, ge=60, description="Shortest lease granted, in seconds.")
    max_lease_s: int = Field(30 * 24 * 3600, ge=60, description="Longest lease granted, in seconds.")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of a verification or delivery request.")
    max_attempts: int = Field(
        8, ge=1, description="Attempts at a delivery (or verification) before it is given up."
    )
    backoff_base_s: float = Field(
        30.0, gt=0, description="Wait before the second attempt; it doubles with every failure."
    )
    backoff_max_s: float = Field(6 * 3600.0, gt=0, description="Longest wait between two attempts.")
    index_wait_s: int = Field(
        300,
        ge=0,
        description="A publish waits for the search index to take the item (search feeds are read from it),"
        " at most this many seconds.",
    )
    allowed_callback_hosts: list[str] = Field(
        default_factory=list,
        description="Callback host names allowed although private or loopback (as written in the URL).",
    )


class SampleSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the sample network listens on (loopback only).")
    port: int = Field(8700, description="Port of the sample network.")
    districts: int = Field(3, description="District sites in the demo sample network.")
    branches: int = Field(4, description="Branch sites per district in the demo sample network.")
    seed: int = Field(7, description="Seed of the demo sample network.")


class ModerationSettings(_Section):
    lexicon_dir: str = Field(
        str(PROJECT_ROOT / "config" / "lexicons"),
        description="Folder of screening lexicons (*.txt, *.tsv: term<TAB>category<TAB>severity;"
        " a line !text is a whitelist entry).",
    )
    allowed_link_domains: list[str] = Field(
        default_factory=lambda: ["gov.cn"],
        description="Link targets not flagged by screening (a domain covers its subdomains; the unit's own"
        " site is always allowed).",
    )
    url_shorteners: list[str] = Field(
        default_factory=lambda: list(URL_SHORTENERS),
        description="Hosts of URL shorteners; links to them are flagged (they hide where a link goes).",
    )
    min_body_chars: int = Field(
        20, description="Bodies shorter than this (whitespace not counted) are flagged by screening."
    )
    mojibake_share: float = Field(
        0.01, description="Share of U+FFFD characters above which a text is flagged as wrongly decoded."
    )
    level_factors: dict[str, float] = Field(
        default_factory=lambda: dict(LEVEL_FACTORS),
        description="Source trust factor by unit level: risk = severity x factor (less trusted levels"
        " weigh more).",
    )
    account_factor: float = Field(
        1.2, description="Extra risk factor for social-account sources (Weibo/WeChat), multiplied in."
    )
    reasons_file: str = Field(
        str(PROJECT_ROOT / "config" / "moderation" / "reasons.toml"),
        description="Reason codes with editable text templates for reject / needs_changes / withdraw"
        " (read at each decision: edits apply without restart).",
    )
    claim_minutes: int = Field(
        30, ge=1, description="How long a reviewer's claim on an item lasts before it lapses."
    )
    two_step_levels: list[str] = Field(
        default_factory=list,
        description="Unit levels whose items need two approvals by different reviewers (初审 → 终审).",
    )
    two_step_categories: list[str] = Field(
        default_factory=list,
        description="Item categories that need two approvals by different reviewers (初审 → 终审).",
    )
    queue_age_limit_h: float = Field(
        24.0, gt=0, description="Items waiting longer than this many hours are flagged in the queue."
    )
    bulk_max: int = Field(500, ge=1, description="Most items one bulk approve/reject/claim may name.")


HEALTH_STALE_DAYS = (
    ("city", 7.0),
    ("district", 14.0),
    ("street", 30.0),
    ("community", 30.0),
    ("branch", 30.0),
)
HEALTH_DORMANT_DAYS = (
    ("city", 60.0),
    ("district", 120.0),
    ("street", 365.0),
    ("community", 365.0),
    ("branch", 365.0),
)
HEALTH_EXPECTED_PER_WEEK = (
    ("city", 7.0),
    ("district", 3.0),
    ("street", 1.0),
    ("community", 1.0),
    ("branch", 1.0),
)
HEALTH_SCORE_WEIGHTS = (
    ("frequency", 0.25),
    ("timeliness", 0.25),
    ("originality", 0.15),
    ("availability", 0.2),
    ("moderation", 0.15),
)


class HealthSettings(_Section):
    """Site health (docs/health.md): the homepage probe, status thresholds and the activity score.

    Per-unit tables (stale_days, dormant_days, expected_per_week) are keyed by unit level ("branch"),
    unit type ("school") or both ("branch/school"); the most specific key wins, then "*".
    """

    tick_s: float = Field(
        3600.0,
        gt=0,
        description="How often the worker probes due homepages and recomputes health, in seconds.",
    )
    probe_interval_s: int = Field(
        86400,
        ge=60,
        description="A source's homepage is probed again this many seconds after its last probe.",
    )
    probe_timeout_s: float = Field(10.0, gt=0, description="Give up on one homepage probe after this long.")
    probe_concurrency: int = Field(100, ge=1, description="Homepage probes in flight at once.")
    probe_per_host: int = Field(4, ge=1, description="Homepage probes in flight per host.")
    probe_keep_days: int = Field(90, ge=1, description="Probe results older than this many days are deleted.")
    ca_file: str = Field(
        "",
        description="Extra CA certificates (PEM) the probe trusts besides the system's (the sample network's"
        " test CA); empty: the system's only.",
    )
    tls_warn_days: int = Field(
        14, ge=0, description="A TLS certificate with fewer days left than this is flagged as expiring."
    )
    stale_days: dict[str, float] = Field(
        default_factory=lambda: dict(HEALTH_STALE_DAYS),
        description="Days without a new item after which a source is stale, per level / type / level/type.",
    )
    dormant_days: dict[str, float] = Field(
        default_factory=lambda: dict(HEALTH_DORMANT_DAYS),
        description="Days without a new item after which a source is dormant, per level / type / level/type.",
    )
    slowing_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Slowing: items per week over 4 weeks below this fraction of the rate over 12 weeks.",
    )
    slowing_min_per_week: float = Field(
        0.5,
        ge=0,
        description="Slowing is judged only for sources publishing at least this many items a week over 12"
        " weeks (fewer are too few to tell a trend).",
    )
    failures_for_status: int = Field(
        1,
        ge=1,
        description="Consecutive failed crawls after which a source is broken or unreachable (by the kind).",
    )
    expected_per_week: dict[str, float] = Field(
        default_factory=lambda: dict(HEALTH_EXPECTED_PER_WEEK),
        description="Items a week that earn full marks for update frequency, per level / type / level/type.",
    )
    score_weights: dict[str, float] = Field(
        default_factory=lambda: dict(HEALTH_SCORE_WEIGHTS),
        description="Weights of the activity score's indicators: frequency, timeliness, originality,"
        " availability, moderation (an indicator without data is left out and the rest re-weighted).",
    )
    score_window_days: int = Field(
        84, ge=7, description="Window of the score's originality and moderation indicators, in days."
    )
    availability_days: int = Field(
        30, ge=1, description="Window of the availability indicator (crawl and probe successes), in days."
    )

    @field_validator("stale_days", "dormant_days", "expected_per_week", "score_weights", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        # A file or variable naming one level, type or indicator keeps the defaults of the others
        # (a table naming only "school" must not leave city sites on the catch-all threshold).
        defaults = {
            "stale_days": HEALTH_STALE_DAYS,
            "dormant_days": HEALTH_DORMANT_DAYS,
            "expected_per_week": HEALTH_EXPECTED_PER_WEEK,
            "score_weights": HEALTH_SCORE_WEIGHTS,
        }[info.field_name or ""]
        return {**dict(defaults), **value} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _check_tables(self) -> HealthSettings:
        unknown = set(self.score_weights) - {name for name, _ in HEALTH_SCORE_WEIGHTS}
        if unknown:
            raise ValueError(f"health.score_weights: unknown indicator(s) {sorted(unknown)}")
        if any(weight < 0 for weight in self.score_weights.values()) or not any(self.score_weights.values()):
            raise ValueError("health.score_weights: weights must be >= 0 and not all 0")
        for name in ("stale_days", "dormant_days", "expected_per_week"):
            if any(value <= 0 for value in getattr(self, name).values()):
                raise ValueError(f"health.{name}: every value must be > 0")
        return self


class WebhookTarget(_Section):
    """One alert webhook: where to POST, and the key its ``X-Xinlian-Signature`` HMAC is made with."""

    # The path and query are a credential (Slack, WeCom and DingTalk put the token there): logs mask them.
    url: str = Field(
        description="http(s) URL the alert JSON is POSTed to.", json_schema_extra={CREDENTIAL_URL: True}
    )
    secret: SecretStr = Field(
        description="HMAC-SHA256 key of X-Xinlian-Signature (per webhook; XINLIAN_ALERTS__WEBHOOKS__<NAME>"
        "__SECRET_FILE may hold it)."
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value.strip()):
            raise ValueError(f"webhook url must be http(s)://host...: {value!r}")
        return value.strip()

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value().strip() in PLACEHOLDER_SECRETS:
            raise ValueError("a webhook needs a real secret (its deliveries are signed with it)")
        return value


ALERT_DIGEST_STATUSES = ("stale", "dormant", "broken", "unreachable")


class AlertsSettings(_Section):
    """Alerts (docs/health.md "Alerts"): a source's failure after health.failures_for_status failed crawls
    and its recovery, by webhook and e-mail; a weekly digest of stale and broken units to contacts."""

    enabled: bool = Field(True, description="Queue alerts on status changes and send the weekly digest.")
    tick_s: float = Field(
        60.0, gt=0, description="How often the worker sends due alerts and checks the digest, in seconds."
    )
    repeat_s: int = Field(
        6 * 3600,
        ge=0,
        description="One source's failure (or recovery) alert is not sent again within this many seconds:"
        " a later one waits until then, and is dropped if the source flips back meanwhile.",
    )
    webhooks: dict[str, WebhookTarget] = Field(
        default_factory=dict,
        description="Webhooks by name, each {url, secret}: every alert is POSTed to each as JSON, signed"
        " X-Xinlian-Signature: sha256=<hex HMAC of the body>.",
    )
    email_to: list[str] = Field(
        default_factory=list, description="Addresses that get every alert by e-mail (operators)."
    )
    contacts: dict[str, list[str]] = Field(
        default_factory=dict,
        description="E-mail contacts by unit slug: they get the alerts of the unit's subtree, and units of"
        " digest_level get the weekly digest of their subtree.",
    )
    smtp_host: str = Field("", description="SMTP server for alert e-mail (empty: no e-mail is sent).")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 submission, 465 with smtp_ssl).")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS before login.")
    smtp_ssl: bool = Field(
        False, description="Connect with TLS from the start (port 465); smtp_starttls is then moot."
    )
    smtp_user: str = Field("", description="SMTP login name (empty: no login).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password (masked, never logged).")
    smtp_from: str = Field("xinlian@localhost", description="From address of alert e-mail.")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of one webhook POST or SMTP session.")
    max_attempts: int = Field(
        12, ge=1, description="Attempts at one alert before it is given up (kept, marked failed)."
    )
    backoff_base_s: float = Field(
        60.0, gt=0, description="Wait before the second attempt; it doubles with every failure."
    )
    backoff_max_s: float = Field(6 * 3600.0, gt=0, description="Longest wait between two attempts.")
    digest_level: str = Field(
        "district", description="Units of this level whose contacts get the weekly digest of their subtree."
    )
    digest_weekday: int = Field(
        0, ge=0, le=6, description="Day of the weekly digest (0 Monday ... 6 Sunday)."
    )
    digest_hour: int = Field(9, ge=0, le=23, description="Hour of the weekly digest, in the configured zone.")
    digest_statuses: list[str] = Field(
        default_factory=lambda: list(ALERT_DIGEST_STATUSES),
        description="Unit statuses listed in the weekly digest.",
    )
    language: Literal["zh-CN", "en"] = Field("zh-CN", description="Language of alert e-mail.")
    keep_days: int = Field(
        90, ge=1, description="Sent, dropped and given-up alerts older than this many days are deleted."
    )

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [_address(address) for address in value]

    @field_validator("contacts")
    @classmethod
    def _contacts(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {slug: [_address(address) for address in addresses] for slug, addresses in value.items()}

    @model_validator(mode="after")
    def _check(self) -> AlertsSettings:
        if self.keep_days * 86400 < self.repeat_s:
            raise ValueError("alerts.keep_days must cover alerts.repeat_s (the last alert is looked up)")
        return self


def _address(value: str) -> str:
    """An e-mail address, trimmed; ValueError unless it looks like one (local@domain)."""
    address = value.strip()
    if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", address):
        raise ValueError(f"not an e-mail address: {value!r}")
    return address


class Settings(BaseSettings):
    """Effective configuration of one Xinlian process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    demo: bool = Field(False, description="Demo mode: placeholder secrets and the demo login are allowed.")
    timezone: str = Field("Asia/Shanghai", description="Zone in which dates are shown and parsed.")
    log_level: str = Field("INFO", description="Log level of every process.")
    store: StoreSettings = Field(default_factory=StoreSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    websub: WebSubSettings = Field(default_factory=WebSubSettings)
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    websubhub: WebSubHubSettings = Field(default_factory=WebSubHubSettings)
    sample: SampleSettings = Field(default_factory=SampleSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if not self.demo and self.web.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "web.secret_key is a placeholder; set XINLIAN_WEB__SECRET_KEY (or _FILE) or run in demo mode"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            PlainEnvSource(settings_cls),
            SecretFileEnvSource(settings_cls),
            TomlConfigSettingsSource(settings_cls),
        )

    def masked(self) -> dict[str, Any]:
        """Settings as plain data with every secret replaced by ``***``."""
        return _mask(self.model_dump(mode="python"))


class PlainEnvSource(EnvSettingsSource):
    """``XINLIAN_*`` variables, without the ``*_FILE`` twins (SecretFileEnvSource reads those)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in super()._load_env_vars().items() if not k.lower().endswith("_file")}


class SecretFileEnvSource(PydanticBaseSettingsSource):
    """``XINLIAN_X__Y_FILE=/run/secrets/y`` sets option ``x.y`` to the file's content (Docker secrets)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, file_name in os.environ.items():
            upper = key.upper()
            if not (upper.startswith(ENV_PREFIX) and upper.endswith("_FILE")):
                continue
            dotted = upper[len(ENV_PREFIX) : -len("_FILE")].lower().split("__")
            content = Path(file_name).read_text(encoding="utf-8").strip()
            node = values
            for part in dotted[:-1]:
                node = node.setdefault(part, {})
            node[dotted[-1]] = content
        return values


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1***@", value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    return value


def config_file_path(explicit: str | Path | None = None) -> Path | None:
    """The TOML file to read: explicit argument, else ``XINLIAN_CONFIG``, else ``config/xinlian.toml``."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from all layers; a missing explicit config file is an error, and a file that
    cannot be read or holds a bad option a ConfigError naming the file and line."""
    path = config_file_path(config_file)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")

    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    try:
        return FileSettings(**overrides)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValidationError) as exc:
        if path is None:
            raise
        raise config_error(path, exc) from exc
