"""The pure ASGI middlewares (api/middleware.py) answer as the BaseHTTPMiddleware functions they replaced:
security headers on every kind of response, the language chosen from ?lang=, the cookie, the default,
and the cookie written only when ?lang= changes it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.middleware import CONTENT_SECURITY_POLICY


def test_security_headers_on_pages_api_errors_and_static(client: TestClient) -> None:
    for path in ("/", "/api/v1/search", "/items/999999", "/api/v1/items/999999", "/static/portal.css"):
        answer = client.get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert len(answer.headers.get_list("content-security-policy")) == 1, path
        assert answer.headers["x-request-id"], path  # the observer outside them still adds its header


def test_language_from_query_then_cookie_then_default(client: TestClient) -> None:
    assert '<html lang="zh-CN">' in client.get("/").text  # the configured default
    first = client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in first.text
    written = first.headers["set-cookie"]
    assert written.startswith("lang=en;")
    assert "HttpOnly" in written and "Max-Age=31536000" in written and "SameSite=lax" in written
    assert "Path=/" in written
    again = client.get("/")  # the cookie remembers
    assert '<html lang="en">' in again.text and "set-cookie" not in again.headers
    same = client.get("/", params={"lang": "en"})  # asked what the cookie already says: not rewritten
    assert "set-cookie" not in same.headers
    back = client.get("/", params={"lang": "zh-CN"})
    assert '<html lang="zh-CN">' in back.text and back.headers["set-cookie"].startswith("lang=zh-CN;")


def test_unknown_language_is_ignored(client: TestClient) -> None:
    answer = client.get("/", params={"lang": "xx"})
    assert '<html lang="zh-CN">' in answer.text
    assert "set-cookie" not in answer.headers


def test_a_nul_character_in_the_url_is_refused_before_any_route(client: TestClient) -> None:
    """PostgreSQL text cannot hold NUL: such a parameter reaching a query was a 500 (schemathesis found
    /widgets/latest?unit=%00). Every route, public or staff, gets a 400 in the API's shape instead."""
    for url in (
        "/widgets/latest?unit=%00",
        "/search?q=a%00b",
        "/api/v1/search?q=%00",
        "/api/v1/units/%00",
        "/api/v1/units/city/items?cursor=%00",
        "/units/%00",
        "/feed.rss?q=x&unit=%00",
        "/staff/sources?q=%00",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert response.json() == {"detail": "the URL holds a NUL character"}, url
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert client.get("/search?q=a%2500b").status_code == 200  # a percent sign followed by 00 is fine
