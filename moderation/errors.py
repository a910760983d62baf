"""Errors of the moderation service; the API maps them to 409 / 403 / 422 / 404."""

from __future__ import annotations


class ModerationError(Exception):
    """Base of every moderation error."""


class Conflict(ModerationError):
    """The item changed since the caller read it (stale version): reload and decide again."""


class Forbidden(ModerationError):
    """The actor may not make this decision."""


class InvalidTransition(ModerationError):
    """The action does not apply to the item's current state (or lacks a required reason)."""


class NotFound(ModerationError):
    """No item with that id."""
