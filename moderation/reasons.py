"""Reason codes of decisions with editable text templates (docs/architecture.md step 6).

``config/moderation/reasons.toml`` (``moderation.reasons_file``) holds one table per code: ``label``,
an optional ``label_en`` for staff pages read in English, ``template`` and the ``actions`` it serves
(reject, needs_changes, withdraw). The template stays in the organization's language in every case: it
is the text recorded and sent to the source. The file is read when a decision needs it, so an edit
applies at the next decision without a restart. A decision gives a code, free text, or both: the
recorded reason is the template followed by the free text.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from hub.settingsfile import config_error, option_line
from moderation.errors import UnknownReason

REASON_ACTIONS = ("reject", "needs_changes", "withdraw")


class ReasonFileError(ValueError):
    """The reasons file is malformed; the message names the file, the line and the code."""


def reason_label(label: str, label_en: str | None, language: str) -> str:
    """A reason's label for a page in ``language``: the English one where there is one, else ``label``."""
    return label_en if language == "en" and label_en else label


@dataclass(frozen=True, slots=True)
class ReasonCode:
    """One reason: its code, a short label (and its English wording, if given) and the text recorded
    with the decision."""

    code: str
    label: str
    template: str
    actions: tuple[str, ...]
    label_en: str | None = None

    def label_in(self, language: str) -> str:
        """The label for a page in ``language`` (``reason_label``)."""
        return reason_label(self.label, self.label_en, language)


@dataclass(frozen=True, slots=True)
class ReasonCatalog:
    """Every reason code of a reasons file."""

    codes: dict[str, ReasonCode]

    @classmethod
    def load(cls, path: Path | str) -> ReasonCatalog:
        """Read a reasons file; a missing file is an empty catalog, a malformed one a ReasonFileError."""
        path = Path(path)
        if not path.is_file():
            return cls({})
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ReasonFileError(str(config_error(path, exc))) from exc  # "<file>:<line>: ..."

        def bad(code: str, key: str, problem: str) -> ReasonFileError:
            line = option_line(text, (code, key)) or 1
            return ReasonFileError(f"{path}:{line}: [{code}] {problem}")

        codes: dict[str, ReasonCode] = {}
        for code, entry in data.items():
            if not isinstance(entry, dict):
                raise bad(code, "", "must be a table with label, template, actions")
            template = entry.get("template")
            actions = entry.get("actions", list(REASON_ACTIONS))
            if not isinstance(template, str) or not template.strip():
                raise bad(code, "template", "needs a template text")
            if not isinstance(actions, list) or not set(actions) <= set(REASON_ACTIONS):
                raise bad(code, "actions", f"actions must be among {', '.join(REASON_ACTIONS)}")
            label = entry.get("label", code)
            label_en = entry.get("label_en")
            if label_en is not None and (not isinstance(label_en, str) or not label_en.strip()):
                raise bad(code, "label_en", "label_en must be a non-empty text")
            codes[code] = ReasonCode(
                code, str(label), template.strip(), tuple(actions), label_en.strip() if label_en else None
            )
        return cls(codes)

    def for_action(self, action: str) -> list[ReasonCode]:
        """The codes a decision ``action`` may use."""
        return [reason for reason in self.codes.values() if action in reason.actions]

    def resolve(self, action: str, code: str | None, note: str | None) -> str | None:
        """The reason text recorded for ``action``: the code's template, then the free ``note``.

        Raises UnknownReason for a code the file does not define for ``action``.
        """
        note = (note or "").strip() or None
        if not code:
            return note
        reason = self.codes.get(code)
        if reason is None or action not in reason.actions:
            known = ", ".join(r.code for r in self.for_action(action)) or "none"
            raise UnknownReason(f"unknown reason code {code!r} for {action}; known: {known}")
        return f"{reason.template}\n{note}" if note else reason.template
