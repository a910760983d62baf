"""Staff sign-in and sign-out (docs/architecture.md step 8): ``/staff/login`` and ``/staff/logout``.

The form is throttled like HTTP Basic (``api/throttle.py``) and protected by a double-submit token
(``api/csrf.py``); a success starts a store-backed session (``api/sessions.py``) under a new token, so a
cookie planted before sign-in is worth nothing after it. Sign-out is a POST with the session's CSRF
token and deletes the session row.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import client_address
from api.clock import ClockDep
from api.csrf import LOGIN_COOKIE, from_other_site, login_token_ok, new_login_token, tokens_match
from api.deps import DatabaseDep, SettingsDep, get_translator
from api.rendering import render
from api.sessions import SESSION_COOKIE, SessionPolicy, end_session, resume_session, start_session
from api.staff_i18n import staff_translator
from api.throttle import LoginThrottle
from hub.settings import Settings
from hub.users import authenticate

router = APIRouter(prefix="/staff", tags=["staff"], default_response_class=HTMLResponse)

HOME = "/staff"
LOGIN_COOKIE_PATH = "/staff/login"


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else (other hosts, ``//x``, ``/\\x``,
    whitespace or control characters a browser would drop) becomes the staff home."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return HOME
    if any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in value):
        return HOME
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else HOME


def _login_page(
    request: Request, settings: Settings, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The sign-in form with a fresh double-submit token (cookie + hidden field)."""
    cookie, value = new_login_token(settings.web.secret_key.get_secret_value())
    response = render(
        request,
        "staff/login.html",
        {
            "t": staff_translator(get_translator(request).language),
            "next_url": next_url,
            "csrf_token": value,
            "error": error,
            "signed_out": request.query_params.get("signed_out") == "1",
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=3600,
        path=LOGIN_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=SessionPolicy.from_settings(settings.web).secure,
    )
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@router.get("/login", name="staff_login")
def login_page(request: Request, settings: SettingsDep, next: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request, settings, safe_next(next))


@router.post("/login", name="staff_login_submit")
def login(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    clock: ClockDep,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """Check the form; on success start a session and go to ``next``."""
    t = staff_translator(get_translator(request).language)
    next_url = safe_next(next)
    secret = settings.web.secret_key.get_secret_value()
    if from_other_site(request) or not login_token_ok(secret, request.cookies.get(LOGIN_COOKIE), csrf_token):
        return _login_page(request, settings, next_url, t("login_expired_form"), status.HTTP_400_BAD_REQUEST)
    now = clock()
    throttle = LoginThrottle.from_settings(settings.web)
    policy = SessionPolicy.from_settings(settings.web)
    address = client_address(request)
    with database.session() as session:
        until = throttle.locked_until(session, username, address, now)
        if until is not None:
            minutes = max(1, -(-int((until - now).total_seconds()) // 60))
            locked = _login_page(
                request,
                settings,
                next_url,
                t("login_locked", minutes=minutes),
                status.HTTP_429_TOO_MANY_REQUESTS,
            )
            locked.headers["Retry-After"] = str(minutes * 60)
            return locked
        user = authenticate(session, username, password)
        if user is None:
            throttle.record_failure(session, username, address, now)
            failed = True
        else:
            failed = False
            throttle.record_success(session, username)
            old = policy.token_of(request.cookies.get(SESSION_COOKIE, ""))
            if old:
                end_session(session, old)
            token, _row = start_session(
                session, user, policy, now, request.headers.get("user-agent", ""), address
            )
    if failed:
        return _login_page(request, settings, next_url, t("login_failed"), status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(next_url, status_code=status.HTTP_303_SEE_OTHER)
    policy.set_cookie(response, token)
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_COOKIE_PATH)
    return response


@router.post("/logout", name="staff_logout")
def logout(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    clock: ClockDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End this browser's session (with its CSRF token: another site cannot sign staff out)."""
    policy = SessionPolicy.from_settings(settings.web)
    token = policy.token_of(request.cookies.get(SESSION_COOKIE, ""))
    if token:
        with database.session() as session:
            found = resume_session(session, token, policy, clock())
            if found is not None and not tokens_match(found[0].csrf_token, csrf_token):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
            end_session(session, token)
    response = RedirectResponse(f"{LOGIN_COOKIE_PATH}?signed_out=1", status_code=status.HTTP_303_SEE_OTHER)
    policy.clear_cookie(response)
    return response
