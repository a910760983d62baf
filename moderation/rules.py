"""What a deployment configures about reviewing, taken from the ``[moderation]`` settings.

Built by the API and the CLI from their Settings and handed to ``service.transition``; the defaults
(no two-step review, the shipped reasons file) serve callers that pass none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from hub.settings import ModerationSettings
from moderation.reasons import ReasonCatalog


@dataclass(frozen=True, slots=True)
class ReviewRules:
    """Two-step review scope, claim length, queue age limit and where the reason codes live."""

    reasons_file: str = field(default_factory=lambda: ModerationSettings().reasons_file)
    claim_minutes: int = 30
    two_step_levels: frozenset[str] = frozenset()
    two_step_categories: frozenset[str] = frozenset()
    queue_age_limit_h: float = 24.0
    bulk_max: int = 500

    @classmethod
    def from_settings(cls, settings: ModerationSettings) -> ReviewRules:
        """The rules of a configured process."""
        return cls(
            reasons_file=settings.reasons_file,
            claim_minutes=settings.claim_minutes,
            two_step_levels=frozenset(settings.two_step_levels),
            two_step_categories=frozenset(settings.two_step_categories),
            queue_age_limit_h=settings.queue_age_limit_h,
            bulk_max=settings.bulk_max,
        )

    @property
    def claim_length(self) -> timedelta:
        """How long a claim holds."""
        return timedelta(minutes=self.claim_minutes)

    @property
    def age_limit(self) -> timedelta:
        """Queue age above which an item is flagged as overdue."""
        return timedelta(hours=self.queue_age_limit_h)

    def two_steps(self, unit_level: str | None, category: str | None) -> bool:
        """Whether an item of this unit level and category needs 初审 and 终审 by two people."""
        return (unit_level in self.two_step_levels) or (
            category is not None and category in self.two_step_categories
        )

    def reasons(self) -> ReasonCatalog:
        """The reason codes as the file says now (read per decision: edits apply without restart)."""
        return ReasonCatalog.load(self.reasons_file)
