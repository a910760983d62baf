"""Staff accounts page for admins (docs/architecture.md step 8): list, create, change role and unit
scope, deactivate or activate, reset a password.

Every change is a form POST carrying the session's CSRF token (checked in ``api/auth.py``) and is
refused when the browser says another site sent it. Changes that alter what a user may do end that
user's sessions (``hub.users``). An admin also issues, lists and revokes a user's API tokens
(``hub.apitokens``, as ``xinlian users token``): a new token's value is in the one response to the
create form (``no-store``), never in a later page, a redirect URL or a log line.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.auth import Admin
from api.clock import ClockDep
from api.csrf import from_other_site
from api.deps import SessionDep, get_translator
from api.params import MAX_ROW_ID, RowId
from api.rendering import render
from api.staff_i18n import staff_translator
from hub.apitokens import IssuedToken, create_token, find_user_token, list_tokens, revoke_token, token_state
from hub.models import ApiToken, Role, Unit, User
from hub.users import create_user, list_users, set_active, set_password, set_role
from hub.wholenumber import whole_number

MAX_UNIT_OPTIONS = 1000
MAX_TOKEN_DAYS = 3650  # ten years; longer is "until revoked", which the form says by an empty field
log = logging.getLogger(__name__)
DONE_MESSAGES = {"created", "role", "deactivated", "activated", "password"}


def refuse_other_sites(request: Request) -> None:
    """A 403 for a form another site made the browser post (cached Basic credentials need no token)."""
    if request.method == "POST" and from_other_site(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site requests may not change accounts")


router = APIRouter(
    prefix="/staff/users",
    tags=["staff"],
    default_response_class=HTMLResponse,
    dependencies=[Depends(refuse_other_sites)],
)


def _scope(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    unit_id = whole_number(value)
    if unit_id is None or unit_id > MAX_ROW_ID:  # a bigger id overflows the store's INTEGER
        raise ValueError(f"unit scope {value!r} is not a unit id")
    return unit_id


def _active_tokens(session: Session, now: datetime) -> dict[int, int]:
    query = (
        select(ApiToken.user_id, func.count())
        .where(ApiToken.revoked_at.is_(None))
        .where(or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
        .group_by(ApiToken.user_id)
    )
    return {user_id: count for user_id, count in session.execute(query).all()}


def _page(
    request: Request,
    session: Session,
    admin: User,
    now: datetime,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    t = staff_translator(get_translator(request).language)
    units = list(session.scalars(select(Unit).order_by(Unit.path).limit(MAX_UNIT_OPTIONS)))
    done = request.query_params.get("done")
    done_user = request.query_params.get("user", "")
    done_name = None
    done_id = whole_number(done_user)
    if done in DONE_MESSAGES and done_id is not None and done_id <= MAX_ROW_ID:
        found = session.get(User, done_id)
        done_name = found.username if found is not None else None
    response = render(
        request,
        "staff/users.html",
        {
            "t": t,
            "user": admin,
            "can_decide": True,
            "api_base": "/api/v1/moderation",
            "state_labels": {},
            "users": list_users(session),
            "units": units,
            "unit_names": {unit.id: unit.name for unit in units},
            "roles": [role.value for role in Role],
            "tokens": _active_tokens(session, now),
            "done": t(f"users_done_{done}", who=done_name) if done_name else None,
            "error": error,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _back(request: Request, done: str, user_id: int) -> RedirectResponse:
    url = request.app.url_path_for("staff_users")
    return RedirectResponse(f"{url}?done={done}&user={user_id}", status_code=status.HTTP_303_SEE_OTHER)


def _target(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    return user


@router.get("", name="staff_users")
def users_page(request: Request, session: SessionDep, admin: Admin, clock: ClockDep) -> HTMLResponse:
    """Every account with its role, scope, state and active API tokens; forms to change them."""
    return _page(request, session, admin, clock())


@router.post("", name="staff_users_create")
def create(
    request: Request,
    session: SessionDep,
    admin: Admin,
    clock: ClockDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    role: Annotated[str, Form(max_length=20)],
    display_name: Annotated[str, Form(max_length=200)] = "",
    unit_scope: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create an account."""
    try:
        with session.begin_nested():
            user = create_user(session, username, password, role, display_name.strip(), _scope(unit_scope))
    except ValueError as exc:
        return _page(request, session, admin, clock(), str(exc), status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _back(request, "created", user.id)


@router.post("/{user_id}/role", name="staff_users_role")
def change_role(
    request: Request,
    user_id: RowId,
    session: SessionDep,
    admin: Admin,
    clock: ClockDep,
    role: Annotated[str, Form(max_length=20)],
    unit_scope: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Change a user's role and unit scope (ends their sessions)."""
    target = _target(session, user_id)
    try:
        with session.begin_nested():
            set_role(session, target, role, _scope(unit_scope))
    except ValueError as exc:
        return _page(request, session, admin, clock(), str(exc), status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _back(request, "role", user_id)


@router.post("/{user_id}/active", name="staff_users_active")
def change_active(
    request: Request,
    user_id: RowId,
    session: SessionDep,
    admin: Admin,
    clock: ClockDep,
    active: Annotated[bool, Form()],
) -> Response:
    """Deactivate (ending sessions; tokens stop working) or reactivate a user."""
    target = _target(session, user_id)
    try:
        with session.begin_nested():
            set_active(session, target, active)
    except ValueError as exc:
        return _page(request, session, admin, clock(), str(exc), status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _back(request, "activated" if active else "deactivated", user_id)


@router.post("/{user_id}/password", name="staff_users_password")
def reset_password(
    request: Request,
    user_id: RowId,
    session: SessionDep,
    admin: Admin,
    clock: ClockDep,
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Set a new password (ends the user's sessions)."""
    target = _target(session, user_id)
    try:
        with session.begin_nested():
            set_password(session, target, password)
    except ValueError as exc:
        return _page(request, session, admin, clock(), str(exc), status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _back(request, "password", user_id)


def _token_days(value: str) -> timedelta | None:
    """The form's "valid for days" (empty: until revoked); ValueError for anything but 1..MAX."""
    value = value.strip()
    if not value:
        return None
    days = whole_number(value)
    if days is None or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValueError(value)
    return timedelta(days=days)


def _tokens_page(
    request: Request,
    session: Session,
    admin: User,
    target: User,
    now: datetime,
    issued: IssuedToken | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    t = staff_translator(get_translator(request).language)
    done = None
    if request.query_params.get("done") == "revoked":
        revoked_id = whole_number(request.query_params.get("token", ""))
        if revoked_id is not None and revoked_id <= MAX_ROW_ID:
            done = t("tok_done_revoked", id=revoked_id)
    response = render(
        request,
        "staff/users_tokens.html",
        {
            "t": t,
            "user": admin,
            "can_decide": True,
            "api_base": "/api/v1/moderation",
            "state_labels": {},
            "target": target,
            "tokens": [(token, token_state(token, now)) for token, _owner in list_tokens(session, target)],
            "issued": issued,
            "max_days": MAX_TOKEN_DAYS,
            "done": done,
            "error": error,
        },
        status_code=status_code,
    )
    # The create answer holds the only copy of the secret: no cache, no history snapshot may keep it.
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@router.get("/{user_id}/tokens", name="staff_users_tokens")
def tokens_page(
    request: Request, user_id: RowId, session: SessionDep, admin: Admin, clock: ClockDep
) -> HTMLResponse:
    """A user's API tokens (never their values) with forms to create and revoke."""
    return _tokens_page(request, session, admin, _target(session, user_id), clock())


@router.post("/{user_id}/tokens", name="staff_users_token_create")
def create_user_token(
    request: Request,
    user_id: RowId,
    session: SessionDep,
    admin: Admin,
    clock: ClockDep,
    name: Annotated[str, Form(max_length=100)] = "",
    days: Annotated[str, Form(max_length=20)] = "",
) -> HTMLResponse:
    """Issue a token for the user and show its value, this once (the page is the answer, no redirect)."""
    target = _target(session, user_id)
    now = clock()
    try:
        expires_in = _token_days(days)
    except ValueError:
        t = staff_translator(get_translator(request).language)
        error = t("tok_bad_days", most=MAX_TOKEN_DAYS)
        return _tokens_page(
            request,
            session,
            admin,
            target,
            now,
            error=error,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    issued = create_token(session, target, name, expires_in, now)
    log.info("%s created API token %d for %s", admin.username, issued.token.id, target.username)
    return _tokens_page(request, session, admin, target, now, issued=issued)


@router.post("/{user_id}/tokens/{token_id}/revoke", name="staff_users_token_revoke")
def revoke_user_token(
    request: Request, user_id: RowId, token_id: RowId, session: SessionDep, admin: Admin, clock: ClockDep
) -> Response:
    """Revoke one of the user's tokens (idempotent): requests with it are refused from now on."""
    target = _target(session, user_id)
    token = find_user_token(session, target.id, token_id)
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user {user_id} has no API token {token_id}")
    revoke_token(session, token.id, clock())
    log.info("%s revoked API token %d of %s", admin.username, token.id, target.username)
    url = request.app.url_path_for("staff_users_tokens", user_id=str(target.id))
    return RedirectResponse(f"{url}?done=revoked&token={token.id}", status_code=status.HTTP_303_SEE_OTHER)
