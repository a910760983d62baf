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
    "search_bad_cursor": (
        "翻页链接已失效，请从第一页重新开始。",
        "This page link is no longer valid; please start again from the first page.",
    ),
    "also_reposted_by": ("另有 {count} 个单位转载", "also reposted by {count} units"),
    "facets": ("筛选", "Refine"),
    "facet_unit": ("单位", "Unit"),
    "facet_level": ("层级", "Level"),
    "facet_category": ("栏目", "Category"),
    "facet_month": ("月份", "Month"),
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
    "unavailable": ("服务暂时不可用", "Temporarily unavailable"),
    "unavailable_text": (
        "系统正在恢复，请稍后刷新页面。",
        "The service is recovering; please reload the page in a moment.",
    ),
    "back_home": ("返回首页", "Back to the home page"),
    "language": ("语言", "Language"),
    "switch_language": ("English", "中文"),
    "footer": (
        "所有信息均经审核后发布，并链接至原始页面。",
        "Every notice is reviewed before publication and links to its original page.",
    ),
    "date_source_selector": ("页面指定位置", "the page (configured place)"),
    "date_source_list": ("列表页", "the list page"),
    "date_future_clamped": (
        "原网页标注的日期晚于采集时间，此处按采集时间显示。",
        "The page gave a date in the future; the time of the crawl is shown instead.",
    ),
    # Navigation, home page, directory (routes/portal.py).
    "nav_main": ("主导航", "Main"),
    "nav_units": ("单位目录", "Directory"),
    "home_city": ("市级通知公告", "City notices"),
    "home_districts": ("区县动态", "From the districts"),
    "home_grassroots": ("基层动态", "From streets, communities and branches"),
    "home_active_units": ("本月最活跃单位", "Most active units this month"),
    "home_active_count": ("{count} 条", "notices: {count}"),
    "home_no_active": ("本月暂无发布。", "Nothing published this month yet."),
    "see_all": ("查看全部", "See all"),
    "units_title": ("单位目录", "Unit directory"),
    "units_intro": (
        "共 {count} 个单位。数字为本单位及其下级单位已发布的信息条数。",
        "{count} units. Numbers count the published notices of each unit and the units below it.",
    ),
    "units_count": ("{count} 条", "notices: {count}"),
    # Search page additions.
    "search_options": ("搜索选项", "Search options"),
    "apply_filters": ("更新结果", "Update results"),
    "filter_recent": ("近期优先", "Favour recent"),
    "active_filters": ("当前筛选", "Active filters"),
    "remove_filter": ("移除", "Remove"),
    "clear_filters": ("清除全部筛选", "Clear all filters"),
    "filter_date": ("日期", "Dates"),
    "filter_dates": ("{since} 至 {until}", "{since} to {until}"),
    "filter_attachments": ("有附件", "With attachments"),
    "skip_to_facets": ("跳到筛选条件", "Skip to filters"),
    "facet_count": ("{count} 条", "{count}"),
    "suggestions": ("搜索建议", "Suggestions"),
    "suggestions_count": (
        "{count} 条建议，可用上下方向键选择，回车打开。",
        "{count} suggestions; use the up and down arrow keys, Enter opens one.",
    ),
    "suggestions_none": ("没有建议。", "No suggestions."),
    # Item page additions.
    "related": ("相关信息", "Related notices"),
    "reposted_from_unit": ("（{unit}）", " ({unit})"),
    # Unit pages (routes/portal.py, api/unit_health.py).
    "unit_own_only": ("仅本单位", "This unit only"),
    "unit_with_below": ("含下级单位", "With the units below"),
    "unit_notices_own": ("本单位发布", "Notices of this unit"),
    "unit_show": ("显示范围", "Show"),
    "unit_more_in_search": ("在搜索中查看全部", "See them all in search"),
    "unit_family": ("上下级单位", "Units above and below"),
    "unit_activity": ("近 30 天发布 {count} 条", "published in the last 30 days: {count}"),
    "unit_activity_note": (
        "发布条数和最近发布日期均包括各单位的下级单位。",
        "Counts and last publication dates include the units below each unit.",
    ),
    "unit_last_published": ("最近发布 {date}", "last published {date}"),
    "unit_never_published": ("暂无发布", "nothing published yet"),
    "unit_this": ("本单位", "This unit"),
    "health_label": ("采集状态", "Crawl status"),
    "site_status_label": ("站点状态", "Site status"),
    "site_status_active": ("活跃", "Active"),
    "site_status_slowing": ("更新放缓", "Slowing"),
    "site_status_stale": ("久未更新", "Stale"),
    "site_status_dormant": ("长期停更", "Dormant"),
    "site_status_broken": ("采集异常", "Broken"),
    "site_status_unreachable": ("无法访问", "Unreachable"),
    "activity_score": ("活跃度 {score}", "activity score {score}"),
    "score_breakdown": ("活跃度 {score} 的构成", "How the activity score {score} is made"),
    "score_indicator": ("指标", "Indicator"),
    "score_weight": ("权重", "Weight"),
    "score_points": ("得分", "Points"),
    "indicator_frequency": ("更新频率", "Update frequency"),
    "indicator_timeliness": ("及时性", "Timeliness"),
    "indicator_originality": ("原创占比", "Original items"),
    "indicator_availability": ("可访问性", "Availability"),
    "indicator_moderation": ("审核通过率", "Moderation pass rate"),
    "health_ok": ("最近成功采集 {date}", "Last crawled {date}"),
    "health_failing": (
        "{failing}/{sources} 个信息源连续采集失败（最多 {worst} 次）",
        "{failing} of {sources} sources failing ({worst} crawls in a row at most)",
    ),
    "health_never": ("尚未成功采集", "Not crawled successfully yet"),
    "health_no_sources": ("未登记信息源", "No sources registered"),
    "unit_sources": ("信息来源", "Sources"),
    "unit_no_sources": ("本单位尚未登记信息源。", "This unit has no registered sources."),
    "source_kind_feed": ("订阅源", "Feed"),
    "source_kind_html": ("网站栏目", "Web page"),
    "source_kind_sitemap": ("网站地图", "Sitemap"),
    "source_kind_account": ("账号", "Account"),
    "platform_weibo": ("微博", "Weibo"),
    "platform_wechat": ("微信公众号", "WeChat"),
    "unit_feeds": ("订阅本单位", "Follow this unit"),
    "unit_feeds_help": (
        "RSS、Atom 和 JSON Feed 订阅地址，可在阅读器中使用。",
        "RSS, Atom and JSON Feed addresses for your feed reader.",
    ),
    "unit_widget": ("网站挂件代码", "Widget code"),
    "unit_widget_help": (
        "把下面任一段代码粘贴到网站页面中，即可显示本单位及下级单位的最新发布。",
        "Paste either snippet into a web page to show the latest notices of this unit and the units below.",
    ),
    "widget_iframe": ("iframe 方式（无需脚本）", "iframe (no script)"),
    "widget_script": ("脚本方式（融入页面样式）", "Script (fits the page)"),
    "copy": ("复制", "Copy"),
    "copied": ("已复制", "Copied"),
    # Feeds and widgets (api/feeds/, routes/feeds.py, routes/widgets.py).
    "feed_all_title": ("信链 · 最新发布", "Xinlian · latest notices"),
    "feed_unit_title": ("{unit} · 发布", "{unit} · notices"),
    "feed_unit_subtree_title": ("{unit}及下级单位 · 发布", "{unit} and units below · notices"),
    "feed_category_title": ("栏目：{category}", "Category: {category}"),
    "feed_search_title": ("搜索“{q}” · 订阅", "Search “{q}” · feed"),
    "feed_search_filters_title": ("搜索结果订阅", "Search feed"),
    "feed_subscribe": ("订阅本搜索（RSS）", "Follow this search (RSS)"),
    "feed_formats": ("其他格式：", "Other formats:"),
    "widget_latest": ("最新发布", "Latest notices"),
    "widget_more": ("更多", "More"),
    "widget_frame_title": ("{unit} · 最新发布", "{unit} · latest notices"),
    # Staff moderation pages (routes/moderation_ui.py).
    "staff_title": ("审核台", "Moderation"),
    "staff_queue": ("待审队列", "Review queue"),
    "staff_signed_in": ("当前用户：{who}（{role}）", "Signed in as {who} ({role})"),
    "staff_total": ("共 {total} 条", "{total} items"),
    "staff_age_limit": (
        "超过 {hours} 小时未审的标记为超时",
        "Items waiting over {hours} h are flagged overdue",
    ),
    "staff_filters": ("筛选", "Filters"),
    "staff_state": ("状态", "State"),
    "staff_state_pending": ("待审", "Pending"),
    "staff_state_approved": ("已发布", "Approved"),
    "staff_state_rejected": ("已驳回", "Rejected"),
    "staff_state_needs_changes": ("需修改", "Needs changes"),
    "staff_state_withdrawn": ("已撤下", "Withdrawn"),
    "staff_unit": ("单位（含下级）", "Unit (and below)"),
    "staff_category": ("栏目", "Category"),
    "staff_hit_category": ("命中类别", "Hit category"),
    "staff_min_risk": ("最低风险分", "Minimum risk"),
    "staff_older_than": ("等待超过（小时）", "Waiting over (hours)"),
    "staff_overdue_only": ("只看超时", "Overdue only"),
    "staff_claim": ("认领", "Claim"),
    "staff_claim_free": ("未认领", "Unclaimed"),
    "staff_claim_mine": ("我认领的", "Mine"),
    "staff_claim_others": ("他人认领的", "Held by others"),
    "staff_order": ("排序", "Order"),
    "staff_order_risk": ("风险优先", "Riskiest first"),
    "staff_order_age": ("等待最久优先", "Oldest first"),
    "staff_apply": ("筛选", "Apply"),
    "staff_reset": ("清除筛选", "Clear filters"),
    "staff_empty": ("队列为空。", "The queue is empty."),
    "staff_select": ("选择", "Select"),
    "staff_select_all": ("全选", "Select all"),
    "staff_item": ("标题", "Title"),
    "staff_risk": ("风险", "Risk"),
    "staff_hits": ("命中", "Hits"),
    "staff_age": ("等待", "Waiting"),
    "staff_overdue": ("超时", "Overdue"),
    "staff_claimed_by": ("认领人", "Claimed by"),
    "staff_claimed_line": ("{who} 认领至 {until}", "{who} until {until}"),
    "staff_first_reviewed": ("初审：{who}，待终审", "First review by {who}; final review due"),
    "staff_actions": ("操作", "Actions"),
    "staff_age_days": ("{days} 天 {hours} 小时", "{days} d {hours} h"),
    "staff_age_hours": ("{hours} 小时 {minutes} 分", "{hours} h {minutes} min"),
    "staff_age_minutes": ("{minutes} 分钟", "{minutes} min"),
    "staff_approve": ("通过", "Approve"),
    "staff_reject": ("驳回", "Reject"),
    "staff_needs_changes": ("退回修改", "Needs changes"),
    "staff_withdraw": ("撤下", "Withdraw"),
    "staff_claim_action": ("认领", "Claim"),
    "staff_release": ("释放", "Release"),
    "staff_bulk": ("批量操作（已选 {count} 条）", "Bulk actions ({count} selected)"),
    "staff_bulk_approve": ("批量通过（仅无命中）", "Approve selected (clean only)"),
    "staff_bulk_reject": ("批量驳回", "Reject selected"),
    "staff_shortcuts": (
        "快捷键：j/k 上下移动，a 通过，r 驳回，n 退回修改，c 认领，x 选择，o 打开",
        "Keys: j/k move, a approve, r reject, n needs changes, c claim, x select, o open",
    ),
    "staff_shortcuts_review": (
        "快捷键：j/k 在命中间跳转，a 通过，r 驳回，n 退回修改，c 认领",
        "Keys: j/k jump between hits, a approve, r reject, n needs changes, c claim",
    ),
    "staff_reason_title": ("选择理由", "Choose a reason"),
    "staff_reason_code": ("理由", "Reason"),
    "staff_reason_text": ("补充说明（可选）", "Additional text (optional)"),
    "staff_confirm": ("确定", "Confirm"),
    "staff_cancel": ("取消", "Cancel"),
    "staff_back": ("返回队列", "Back to the queue"),
    "staff_open_original": ("原网页", "Original page"),
    "staff_revision": ("第 {number} 版，内容哈希 {hash}", "Revision {number}, content hash {hash}"),
    "staff_step_first": ("两级审核：初审", "Two-step review: first review"),
    "staff_step_final": ("两级审核：终审（须由不同审核人）", "Two-step review: final (by another reviewer)"),
    "staff_text": ("待审内容", "Content under review"),
    "staff_no_revision": ("无修订记录。", "No revision stored."),
    "staff_hit_list": ("筛查命中（{count}）", "Screening hits ({count})"),
    "staff_no_hits": ("无筛查命中。", "No screening hits."),
    "staff_hit_field": ("位置", "Where"),
    "staff_hit_term": ("词条", "Term"),
    "staff_hit_severity": ("严重度", "Severity"),
    "staff_hit_lexicon": ("词库版本", "Lexicon"),
    "staff_diff": ("与在线版本对比", "Changes against the live revision"),
    "staff_diff_live": ("在线版本（第 {number} 版）", "Live (revision {number})"),
    "staff_diff_new": ("待审版本（第 {number} 版）", "Under review (revision {number})"),
    "staff_diff_same": (
        "正文无变化（可能仅标题或附件变化）。",
        "No text changes (title or attachments only).",
    ),
    "staff_audit": ("审核记录", "Audit trail"),
    "staff_event_time": ("时间", "Time"),
    "staff_event_action": ("动作", "Action"),
    "staff_event_actor": ("操作人", "By"),
    "staff_event_states": ("状态变化", "States"),
    "staff_event_reason": ("理由", "Reason"),
    "staff_event_hash": ("内容哈希", "Content hash"),
    "staff_viewer_note": ("您的角色只能查看，不能作出审核决定。", "Your role may view but not decide."),
    "staff_done": ("第 {id} 条：{state}", "Item {id}: {state}"),
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
