"""Portal languages: zh-CN by default, English on request (``?lang=en`` or the ``lang`` cookie).

A small message table is enough for the portal's own words; content is shown as published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LANGUAGES = ("zh-CN", "en")
LANG_COOKIE = "lang"

# One row per message: (Chinese, English). Placeholders use str.format names.
_MESSAGES: Mapping[str, tuple[str, str]] = {
    "site_name": ("信链", "Xinlian"),
    "site_tagline": ("各级单位信息一网通查", "One search across every unit's notices"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "nav_home": ("首页", "Home"),
    "nav_search": ("搜索", "Search"),
    "search_label": ("搜索通知公告", "Search notices"),
    "search_placeholder": ("输入关键词，如 党建", "Keywords, e.g. 党建"),
    "search_button": ("搜索", "Search"),
    "latest": ("最新发布", "Latest notices"),
    "no_items": ("暂无已审核发布的信息。", "No approved notices yet."),
    "results_count": ("共找到 {total} 条结果", "{total} results"),
    "results_for": ("“{q}”的搜索结果", "Results for “{q}”"),
    "no_results": ("没有找到相关信息，请换个关键词试试。", "Nothing found; try other keywords."),
    "search_unavailable": (
        "搜索服务暂时不可用，请稍后再试。",
        "Search is temporarily unavailable. Please try again later.",
    ),
    "filter_unit": ("单位", "Unit"),
    "filter_level": ("层级", "Level"),
    "filter_category": ("栏目", "Category"),
    "filter_sort": ("排序", "Sort"),
    "any": ("不限", "Any"),
    "sort_relevance": ("相关度", "Relevance"),
    "sort_date": ("发布时间", "Newest"),
    "level_city": ("市级", "City"),
    "level_district": ("区县", "District"),
    "level_street": ("街道", "Street"),
    "level_community": ("社区", "Community"),
    "level_branch": ("基层", "Branch"),
    "pagination": ("分页", "Pagination"),
    "prev_page": ("上一页", "Previous"),
    "next_page": ("下一页", "Next"),
    "page_of": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "source_page": ("原文", "Original"),
    "view_original": ("查看原文", "View the original page"),
    "published_at": ("发布时间", "Published"),
    "date_unknown": ("日期不详", "Date unknown"),
    "date_source_line": ("（日期来源：{src}）", "(date taken from {src})"),
    "date_source_feed": ("订阅源", "the feed"),
    "date_source_meta": ("网页元数据", "page metadata"),
    "date_source_label": ("页面标注", "the page text"),
    "date_source_url": ("网址", "the URL"),
    "date_source_first_seen": ("首次采集时间", "first crawl"),
    "origin": ("来源", "Source"),
    "author": ("作者", "Author"),
    "repost_of": ("转载自", "Reposted from"),
    "reposted_by": ("转载单位（{count}）", "Reposted by ({count})"),
    "removed_at_source": (
        "原网页已于 {when} 删除，本站保留审核发布时的存档。",
        "The original page was removed on {when}; this is the archived copy as reviewed.",
    ),
    "attachments": ("附件", "Attachments"),
    "reviewed": ("审核", "Reviewed"),
    "reviewed_line": ("责任审核人：{who}，审核时间：{when}", "Reviewed by {who} on {when}"),
    "auto_approved_line": (
        "由自动通过策略 {policy} 发布（筛查无命中），时间：{when}",
        "Auto-approved by policy {policy} (no screening hits) on {when}",
    ),
    "first_reviewed_line": ("初审：{who}", "First review by {who}"),
    "breadcrumb": ("所属单位", "Unit"),
    "unit_parent": ("上级单位", "Parent unit"),
    "unit_children": ("下级单位", "Units below"),
    "unit_notices": ("本单位及下级发布", "Notices of this unit and below"),
    "unit_website": ("单位网站", "Website"),
    "not_found": ("页面不存在", "Page not found"),
    "not_found_text": (
        "您访问的页面不存在或尚未发布。",
        "This page does not exist or has not been published.",
    ),
    "back_home": ("返回首页", "Back to the home page"),
    "language": ("语言", "Language"),
    "switch_language": ("English", "中文"),
    "footer": (
        "所有信息均经审核后发布，并链接至原始页面。",
        "Every notice is reviewed before publication and links to its original page.",
    ),
}


def normalize_language(value: str | None) -> str | None:
    """``value`` as one of LANGUAGES (``en``, ``zh``, ``zh-cn`` accepted) or None."""
    if not value:
        return None
    lowered = value.strip().lower()
    if lowered.startswith("en"):
        return "en"
    if lowered.startswith("zh"):
        return "zh-CN"
    return None


def choose_language(query_value: str | None, cookie_value: str | None, default: str) -> str:
    """The language of one request: query parameter, then cookie, then the configured default."""
    return normalize_language(query_value) or normalize_language(cookie_value) or default


@dataclass(frozen=True, slots=True)
class Translator:
    """Looks up portal messages in one language; callable from templates as ``t("key", name=...)``."""

    language: str

    def __call__(self, key: str, **values: object) -> str:
        """The message ``key`` in this language, with ``values`` filled in."""
        row = _MESSAGES[key]  # a missing key is a bug: fail loudly in tests, not silently in pages
        text = row[1] if self.language == "en" else row[0]
        return text.format(**values) if values else text

    def label(self, prefix: str, value: str) -> str:
        """Message ``prefix_value`` for a stored code (date source, level); the code itself if unknown."""
        row = _MESSAGES.get(f"{prefix}_{value}")
        if row is None:
            return value
        return row[1] if self.language == "en" else row[0]

    @property
    def html_lang(self) -> str:
        """Value of the ``lang`` attribute of ``<html>``."""
        return "en" if self.language == "en" else "zh-CN"

    @property
    def other_language(self) -> str:
        """The language the switch link leads to."""
        return "zh-CN" if self.language == "en" else "en"
