"""Presentation helpers of the staff moderation pages: hit highlighting by offsets, queue ages.

Highlighting is built from the stored hit offsets, never by searching the text again: the offsets are
what screening found (after normalization, mapped back to the original), so a hit hidden by full-width
letters or inserted symbols is marked where it really is. The segments are plain strings; the
template escapes them and wraps the marked ones in ``<mark>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from api.i18n import Translator
from api.moderation_schemas import HitOut
from moderation.screen import ATTACHMENTS, DUPLICATE, LINKS, TEXT, TITLE


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text; ``hits`` (indexes into the review's hit list) non-empty when it is marked."""

    text: str
    hits: tuple[int, ...] = ()

    @property
    def marked(self) -> bool:
        """Whether the run is covered by at least one hit."""
        return bool(self.hits)


def highlight(text: str, hits: Sequence[HitOut], field: str) -> list[Segment]:
    """``text`` cut into plain and marked runs by the hits of ``field``; overlapping hits share a run."""
    spans = sorted(
        (max(0, hit.start), min(len(text), hit.end), index)
        for index, hit in enumerate(hits)
        if hit.field == field
    )
    segments: list[Segment] = []
    position = 0
    group: list[int] = []
    group_start = group_end = 0
    for start, end, index in spans:
        if end <= start:
            continue  # a hit without extent (or clamped away) marks nothing
        if group and start < group_end:
            group.append(index)
            group_end = max(group_end, end)
            continue
        if group:
            segments.append(Segment(text[group_start:group_end], tuple(group)))
            position = group_end
        if start > position:
            segments.append(Segment(text[position:start]))
        group, group_start, group_end = [index], start, end
    if group:
        segments.append(Segment(text[group_start:group_end], tuple(group)))
        position = group_end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments


def hit_labels(hits: Sequence[HitOut], indexes: Iterable[int], t: Translator) -> str:
    """The tooltip of a marked run: category (its label), term and severity of each hit on it."""
    return "; ".join(
        f"{t.label('hitcat', hits[i].category)}: {hits[i].term} ({hits[i].severity})" for i in indexes
    )


def hit_place(hit: HitOut, t: Translator) -> str:
    """Where a hit is, for the hits table: the field's label with the span (characters of the title
    or text, of the joined attachment names) or the link's number; a whole-item finding has no span."""
    field = t.label("hitfield", hit.field)
    if hit.field == LINKS:
        return f"{field} {hit.start + 1}"
    if hit.field in (TITLE, TEXT, ATTACHMENTS):
        return f"{field} {hit.start}–{hit.end}"
    return field


def duplicate_of(hit: HitOut) -> int | None:
    """The stored item a ``quality_duplicate`` hit points at (its term is "item <id>"), else None."""
    if hit.category != DUPLICATE:
        return None
    number = hit.term.removeprefix("item ")
    return int(number) if number.isdigit() else None


def format_age(seconds: float | None, t: Translator) -> str:
    """How long an item has waited, in days and hours (or minutes when under an hour)."""
    if seconds is None:
        return ""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return t("staff_age_days", days=days, hours=hours)
    if hours:
        return t("staff_age_hours", hours=hours, minutes=minutes)
    return t("staff_age_minutes", minutes=minutes)
