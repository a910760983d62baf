"""Who is asking (docs/architecture.md step 8): staff by session cookie, API token or HTTP Basic.

One resolution for every staff route, whichever way the user authenticated:
- ``Authorization: Basic`` (name and password, argon2 in ``hub.users``), throttled like the sign-in
  form (``api/throttle.py``): a locked name or address gets a 429 before its password is checked;
- ``Authorization: Bearer <token>`` (``hub.apitokens``; ``xinlian users token create``);
- the session cookie of ``/staff/login`` (``api/sessions.py``); a state-changing request authenticated
  by the cookie must carry the session's CSRF token (``api/csrf.py``).
Wrong explicit credentials are a 401, never anonymous. A request without (valid) credentials is
anonymous: staff pages then redirect to the sign-in page, the JSON API answers 401. Viewers are
read-only: any state-changing staff request from a viewer is a 403 here, before the route runs
(moderation's own permission checks still apply to everyone else). The resolved ``StaffAuth`` is kept
on ``request.state.staff_auth`` for the staff templates (sign-out form, CSRF token).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from fastapi.security import (
    APIKeyCookie,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.clock import ClockDep
from api.csrf import CSRF_HEADER, SAFE_METHODS, form_token, tokens_match
from api.deps import DatabaseDep
from api.sessions import SESSION_COOKIE, SessionPolicy, resume_session
from api.throttle import LoginThrottle
from hub.apitokens import user_for_token
from hub.db import Database
from hub.models import Role, User
from hub.settings import Settings
from hub.users import authenticate

# auto_error=False: anonymous requests reach the routes, which decide what the public may see.
basic_scheme = HTTPBasic(auto_error=False, realm="xinlian", description="Staff name and password.")
bearer_scheme = HTTPBearer(auto_error=False, description="API token (`xinlian users token create`).")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description=f"Staff browser session (/staff/login); writes need the {CSRF_HEADER} header.",
)
LOGIN_PATH = "/staff/login"
STAFF_PAGES = "/staff"


@dataclass(frozen=True, slots=True)
class StaffAuth:
    """A resolved staff user and how they proved it (``csrf_token``: the session's, for cookie auth)."""

    user: User
    method: Literal["session", "token", "basic"]
    csrf_token: str | None = None


class LoginRequired(Exception):
    """An anonymous request for a staff page: answered by a redirect to the sign-in page."""


def unauthorized(detail: str = "authentication required") -> HTTPException:
    """A 401 inviting HTTP Basic (API clients may also send a bearer token)."""
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": 'Basic realm="xinlian"'},
    )


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else ""


def locked_out(until: datetime, now: datetime) -> HTTPException:
    """A 429 for a locked name or address, saying when to come back."""
    seconds = max(1, int((until - now).total_seconds()) + 1)
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail="too many failed sign-ins; try again later",
        headers={"Retry-After": str(seconds)},
    )


def _basic(
    session: Session, request: Request, settings: Settings, creds: HTTPBasicCredentials, now: datetime
) -> StaffAuth:
    throttle = LoginThrottle.from_settings(settings.web)
    address = client_address(request)
    until = throttle.locked_until(session, creds.username, address, now)
    if until is not None:
        raise locked_out(until, now)
    user = authenticate(session, creds.username, creds.password)
    if user is None:
        throttle.record_failure(session, creds.username, address, now)
        raise unauthorized()
    throttle.record_success(session, creds.username)
    return StaffAuth(user, "basic")


def _session(
    session: Session, request: Request, settings: Settings, cookie: str, form_csrf: str | None, now: datetime
) -> StaffAuth | None:
    policy = SessionPolicy.from_settings(settings.web)
    token = policy.token_of(cookie)
    found = resume_session(session, token, policy, now) if token else None
    if found is None:
        return None  # expired or revoked: anonymous (pages ask to sign in again)
    row, user = found
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER) or form_csrf
        if not tokens_match(row.csrf_token, given):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    return StaffAuth(user, "session", row.csrf_token)


def _resolve(
    database: Database,
    request: Request,
    now: datetime,
    basic: HTTPBasicCredentials | None,
    bearer: HTTPAuthorizationCredentials | None,
    cookie: str | None,
    form_csrf: str | None,
) -> StaffAuth | None:
    settings: Settings = request.app.state.settings
    # Each branch commits what it wrote (throttle rows, last-seen times) even when it refuses: a 401
    # must still count as a failure. HTTPException is raised after the session block closes.
    refusal: HTTPException | None = None
    auth: StaffAuth | None = None
    with database.session() as session:
        try:
            if basic is not None:
                auth = _basic(session, request, settings, basic, now)
            elif bearer is not None:
                user = user_for_token(session, bearer.credentials, now)
                if user is None:
                    raise unauthorized("unknown, expired or revoked API token")
                auth = StaffAuth(user, "token")
            elif cookie:
                auth = _session(session, request, settings, cookie, form_csrf, now)
        except HTTPException as exc:
            refusal = exc
    if refusal is not None:
        raise refusal
    return auth


async def optional_staff_auth(
    request: Request,
    database: DatabaseDep,
    clock: ClockDep,
    basic: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> StaffAuth | None:
    """The staff credentials of this request, or None if anonymous."""
    if basic is None and bearer is None and not cookie:
        return None  # the public: no store access, no thread hop
    form_csrf = await form_token(request) if cookie else None
    # Store lookups and argon2 run in the thread pool, off the event loop.
    auth = await run_in_threadpool(_resolve, database, request, clock(), basic, bearer, cookie, form_csrf)
    request.state.staff_auth = auth
    return auth


def optional_staff(auth: Annotated[StaffAuth | None, Depends(optional_staff_auth)]) -> User | None:
    """The staff user of this request, or None if anonymous; wrong credentials are a 401, not anonymous."""
    return auth.user if auth is not None else None


def _is_page(request: Request) -> bool:
    return request.url.path == STAFF_PAGES or request.url.path.startswith(STAFF_PAGES + "/")


def require_staff_auth(
    request: Request, auth: Annotated[StaffAuth | None, Depends(optional_staff_auth)]
) -> StaffAuth:
    """Any staff user (viewers only for reading): pages redirect anonymous visitors, the API says 401."""
    if auth is None:
        if _is_page(request):
            raise LoginRequired()
        if request.cookies.get(SESSION_COOKIE):
            # The staff pages' own fetch(): no Basic challenge, or the browser would pop up a login box.
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "session ended: sign in again")
        raise unauthorized()
    if request.method not in SAFE_METHODS and auth.user.role == Role.VIEWER.value:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{auth.user.username!r} is a viewer: read-only")
    return auth


def require_staff(auth: Annotated[StaffAuth, Depends(require_staff_auth)]) -> User:
    """Any signed-in staff user (viewers included for reading); 401 / sign-in page otherwise."""
    return auth.user


def require_admin(auth: Annotated[StaffAuth, Depends(require_staff_auth)]) -> User:
    """An admin; other staff get a 403."""
    if auth.user.role != Role.ADMIN.value:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admins only")
    return auth.user


def login_redirect(request: Request, _exc: Exception) -> RedirectResponse:
    """Exception handler for LoginRequired: to the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303)


OptionalStaff = Annotated[User | None, Depends(optional_staff)]
Staff = Annotated[User, Depends(require_staff)]
StaffAuthDep = Annotated[StaffAuth, Depends(require_staff_auth)]
Admin = Annotated[User, Depends(require_admin)]
