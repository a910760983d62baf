"""The words staff.js reports actions in: every refusal the service can give, in both languages, handed
to the page as JSON in its language."""

from __future__ import annotations

import html
import json
import re
import string

from fastapi.testclient import TestClient

from api.staff_i18n import staff_translator
from api.staff_script_i18n import script_messages
from hub.db import Database
from hub.models import Role
from moderation.errors import (
    ERROR_KINDS,
    Claimed,
    Conflict,
    Forbidden,
    HasHits,
    InvalidTransition,
    NotFound,
    UnknownReason,
    error_kind,
)
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import seed_queue


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_error_kind_is_one_of_the_labelled_kinds() -> None:
    errors = [Claimed(1, "bob", "later"), Conflict(), Forbidden(), NotFound(), HasHits(), UnknownReason()]
    kinds = [error_kind(error) for error in [*errors, InvalidTransition()]]
    assert kinds == list(ERROR_KINDS)  # each error class gives its own word, and the list names them all


def test_both_languages_word_every_refusal_and_fill_the_same_fields() -> None:
    chinese, english = script_messages(staff_translator("zh-CN")), script_messages(staff_translator("en"))
    assert chinese.keys() == english.keys()
    for key, template in chinese.items():
        if isinstance(template, str):
            assert _fields(template) == _fields(str(english[key])), key
    for language in (chinese, english):
        refusals = language["refusals"]
        assert isinstance(refusals, dict)
        assert set(refusals) == set(ERROR_KINDS)
        assert all(label and label not in ERROR_KINDS for label in refusals.values())
    assert chinese["refusals"]["has_hits"] == "有筛查命中，请逐条审核"  # type: ignore[index]
    assert english["actions"]["approve"] == "Approved"  # type: ignore[index]
    assert chinese["statuses"]["409"] == chinese["refusals"]["conflict"]  # type: ignore[index]


def test_the_queue_page_hands_the_script_its_words(client: TestClient, database: Database) -> None:
    seed_queue(database)
    add_user(database, "alice", Role.MODERATOR)
    for language, translator in (("zh-CN", staff_translator("zh-CN")), ("en", staff_translator("en"))):
        page = client.get("/staff/queue", params={"lang": language}, auth=("alice", STAFF_PASSWORD))
        found = re.search(r"data-messages='([^']*)'", page.text)
        assert found, "the staff base template lost data-messages"
        assert json.loads(html.unescape(found.group(1))) == script_messages(translator)
