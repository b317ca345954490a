"""Login, logout, the home page and the identity middleware over real HTTP (issue 3):
session cookies, CSRF, bearer tokens and security headers."""

import datetime as dt
import re

import httpx
import pytest
from starlette.routing import Route

from models import ApiToken, LoginSession, User
from models.enums import Role
from resolvers import account
from resolvers.actor import SYSTEM
from views.middleware import CONTENT_SECURITY_POLICY, CSRF_EXEMPT_PATHS, SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
OTHER_PASSWORD = "Granite-willow-93-Kp?"
ORIGIN = "https://testserver"


async def _user(username: str = "zhangsan", role: Role = Role.BUREAU) -> User:
    return await account.create_user(
        SYSTEM, username=username, display_name="张三", password=PASSWORD, role=role
    )


async def _login(
    client: httpx.AsyncClient, username: str = "zhangsan", password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        "/login", data={"username": username, "password": password}, headers={"Origin": ORIGIN}
    )


def _cookie(response: httpx.Response) -> str | None:
    return response.cookies.get(SESSION_COOKIE)


async def _csrf(client: httpx.AsyncClient) -> str:
    """The CSRF token of the client's current login session."""
    cookie = client.cookies.get(SESSION_COOKIE)
    resolved = await account.resolve_login_session(cookie or "")
    assert resolved is not None
    return resolved[1].csrf_token


async def _whoami(client: httpx.AsyncClient) -> str | None:
    """The username the home page shows as logged in, or None for anonymous."""
    page = (await client.get("/")).text
    marker = '<span class="account-name">'
    if marker not in page:
        return None
    return page.split(marker, 1)[1].split("<", 1)[0]


# --- pages -------------------------------------------------------------------------------


async def test_login_page_is_a_zh_cn_form_with_security_headers(client):
    response = await client.get("/login")
    page = response.text
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in page
    assert '<a class="skip-link" href="#main">' in page
    assert '<label for="login-username">用户名</label>' in page
    assert '<label for="login-password">密码</label>' in page
    assert '<input type="hidden" name="csrf_token" value="">' in page
    assert '<link rel="stylesheet" href="/static/css/app.css">' in page
    assert '<script src="/static/js/htmx.min.js" defer></script>' in page
    assert "<style" not in page and "style=" not in page and "<script>" not in page
    assert response.headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-hashes' "
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
    assert CONTENT_SECURITY_POLICY == response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "no-store" not in response.headers.get("cache-control", "")


async def test_security_headers_on_not_found_and_static(client):
    for path in ("/no-such-page", "/static/css/app.css"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path


async def test_login_sets_httponly_secure_lax_cookie_and_redirects_home(client):
    await _user()
    response = await _login(client)
    set_cookie = response.headers["set-cookie"]
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert set_cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in set_cookie and "Secure" in set_cookie and "SameSite=lax" in set_cookie
    assert "Path=/" in set_cookie and "Max-Age=43200" in set_cookie
    assert await _whoami(client) == "zhangsan"


async def test_home_shows_user_roles_csrf_header_and_no_store(client):
    await _user()
    await _login(client)
    response = await client.get("/")
    token = await _csrf(client)
    assert response.headers["cache-control"] == "no-store"
    assert '<p class="lead">张三 · 市人力资源社会保障局</p>' in response.text
    assert f"""<body hx-headers:inherited='{{"X-CSRF-Token": "{token}"}}'>""" in response.text
    assert f'<input type="hidden" name="csrf_token" value="{token}">' in response.text
    assert '<a href="/bureau/filings">备案审核</a>' in response.text


async def test_home_anonymous_shows_login_link_and_public_nav_only(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert '<a href="/login">登录</a>' in response.text
    assert '<a href="/directory">评审机构</a>' in response.text
    assert "/bureau/filings" not in response.text and '/institution"' not in response.text


async def test_login_page_redirects_when_logged_in(client):
    await _user()
    await _login(client)
    response = await client.get("/login")
    assert (response.status_code, response.headers["location"]) == (303, "/")


async def test_login_empty_fields_show_errors_next_to_fields(client):
    response = await client.post("/login", data={"username": "", "password": ""})
    assert response.status_code == 422
    assert '<p class="field-error" id="login-username-error">请填写用户名</p>' in response.text
    assert '<p class="field-error" id="login-password-error">请填写密码</p>' in response.text


async def test_login_unknown_user_and_wrong_password_pages_identical(client):
    await _user()
    unknown = await _login(client, "nobody__", PASSWORD)
    wrong = await _login(client, "zhangsan", OTHER_PASSWORD)
    assert (unknown.status_code, wrong.status_code) == (422, 422)
    assert '<p class="field-error" id="login-password-error">用户名或密码不正确</p>' in wrong.text
    assert unknown.text.replace("nobody__", "zhangsan") == wrong.text
    assert (_cookie(unknown), _cookie(wrong)) == (None, None)


async def test_login_eleventh_failure_throttled(client):
    await _user()
    statuses = [(await _login(client, "zhangsan", OTHER_PASSWORD)).status_code for _ in range(10)]
    eleventh = await _login(client)
    assert statuses == [422] * 10
    assert eleventh.status_code == 429
    assert '<p class="form-error" role="alert">登录失败次数过多,请15分钟后再试</p>' in eleventh.text
    assert _cookie(eleventh) is None


# --- session lifecycle -------------------------------------------------------------------


async def test_login_issues_a_new_session_id_over_a_planted_cookie(client):
    await _user()
    response = await client.post(
        "/login",
        data={"username": "zhangsan", "password": PASSWORD},
        headers={"Origin": ORIGIN, "Cookie": f"{SESSION_COOKIE}=planted-by-an-attacker"},
    )
    new = _cookie(response)
    assert new is not None and new != "planted-by-an-attacker"
    assert await _whoami(client) == "zhangsan"


async def test_login_again_replaces_the_previous_session(client):
    await _user()
    await _user("lisi")
    first = _cookie(await _login(client))
    token = await _csrf(client)
    response = await client.post(
        "/login",
        data={"username": "lisi", "password": PASSWORD, "csrf_token": token},
        headers={"Origin": ORIGIN},
    )
    second = _cookie(response)
    assert response.status_code == 303
    assert second is not None and second != first
    assert await account.resolve_login_session(first or "") is None
    assert await LoginSession.all().count() == 1
    assert await _whoami(client) == "lisi"


async def test_logout_then_replayed_cookie_rejected(client, asgi_app):
    await _user()
    cookie = _cookie(await _login(client))
    response = await client.post(
        "/logout", headers={"X-CSRF-Token": await _csrf(client), "Origin": ORIGIN}
    )
    assert (response.status_code, response.headers["location"]) == (303, "/login?flash=logged_out")
    assert await LoginSession.all().count() == 0
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(
        transport=transport, base_url=ORIGIN, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
    ) as replay:
        page = await replay.get("/")
        assert '<a href="/login">登录</a>' in page.text
        assert "zhangsan" not in page.text
        assert page.headers["set-cookie"].startswith(f'{SESSION_COOKIE}=""')
        assert "no-store" not in page.headers.get("cache-control", "")


async def test_idle_session_over_http_is_logged_out(client):
    user = await _user()
    await _login(client)
    await LoginSession.filter(user_id=user.id).update(
        last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
    )
    assert await _whoami(client) is None


async def test_absolute_timeout_over_http_is_logged_out(client):
    user = await _user()
    await _login(client)
    await LoginSession.filter(user_id=user.id).update(
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    assert await _whoami(client) is None


async def test_password_change_logs_out_every_browser(client):
    user = await _user()
    await _login(client)
    await account.change_password(SYSTEM, user.id, new_password=OTHER_PASSWORD)
    assert await _whoami(client) is None


async def test_role_change_logs_out_every_browser(client):
    user = await _user(role=Role.SUPERVISOR)
    await _login(client)
    await account.grant_role(SYSTEM, user.id, role=Role.BUREAU)
    assert await _whoami(client) is None


# --- CSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "data"),
    [
        ({"Origin": ORIGIN}, {}),  # no token
        ({"Origin": ORIGIN, "X-CSRF-Token": "wrong"}, {}),
        ({"Origin": ORIGIN}, {"csrf_token": "wrong"}),
        ({"Origin": "https://evil.example", "X-CSRF-Token": "<right>"}, {}),
        ({"Referer": "https://evil.example/page"}, {"csrf_token": "<right>"}),
        ({"Origin": "null"}, {"csrf_token": "<right>"}),
    ],
    ids=["missing", "wrong-header", "wrong-field", "foreign-origin", "foreign-referer", "null"],
)
async def test_logout_refused_without_valid_csrf(client, headers, data):
    await _user()
    await _login(client)
    token = await _csrf(client)
    headers = {k: v.replace("<right>", token) for k, v in headers.items()}
    data = {k: v.replace("<right>", token) for k, v in data.items()}
    sessions = await LoginSession.all().values("id", "last_seen_at")
    response = await client.post("/logout", headers=headers, data=data)
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert await LoginSession.all().values("id", "last_seen_at") == sessions
    assert await _whoami(client) == "zhangsan"


@pytest.mark.parametrize("via", ["header", "field", "multipart"])
async def test_logout_accepted_with_csrf_token(client, via):
    await _user()
    await _login(client)
    token = await _csrf(client)
    if via == "header":
        response = await client.post("/logout", headers={"X-CSRF-Token": token})
    elif via == "field":
        response = await client.post("/logout", data={"csrf_token": token})
    else:
        response = await client.post(
            "/logout", data={"csrf_token": token}, files={"evidence": ("a.txt", b"x" * 5000)}
        )
    assert response.status_code == 303
    assert await LoginSession.all().count() == 0


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_login_form_while_logged_in_refused_without_csrf(client, token):
    """Switching accounts is a state change of a logged-in browser: token required."""
    await _user()
    await _user("lisi")
    await _login(client)
    sessions = await LoginSession.all().values("id", "key_hash")
    data = {"username": "lisi", "password": PASSWORD}
    if token:
        data["csrf_token"] = token
    response = await client.post("/login", data=data, headers={"Origin": ORIGIN})
    assert response.status_code == 403
    assert await LoginSession.all().values("id", "key_hash") == sessions
    assert await _whoami(client) == "zhangsan"


def _unsafe_html_endpoints(app) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not isinstance(route, Route) or route.path in CSRF_EXEMPT_PATHS:
            continue
        for method in sorted((route.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            found.append((method, re.sub(r"\{[^}]+\}", "1", route.path)))
    return found


async def test_every_state_changing_html_endpoint_refuses_missing_csrf(client, asgi_app):
    """Every POST/PUT/PATCH/DELETE route of the app, including later ones."""
    await _user()
    await _login(client)
    endpoints = _unsafe_html_endpoints(asgi_app)
    sessions = await LoginSession.all().values("id", "key_hash")
    statuses = {
        (method, path): (await client.request(method, path, data={"x": "1"})).status_code
        for method, path in endpoints
    }
    assert ("POST", "/logout") in statuses and ("POST", "/login") in statuses
    assert statuses == dict.fromkeys(statuses, 403)
    assert await LoginSession.all().values("id", "key_hash") == sessions


async def test_anonymous_login_from_foreign_origin_refused(client):
    await _user()
    response = await client.post(
        "/login",
        data={"username": "zhangsan", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert (await LoginSession.all().count(), _cookie(response)) == (0, None)


# --- bearer tokens -----------------------------------------------------------------------


async def _token(**kw) -> tuple[str, ApiToken]:
    bureau = await account.load_actor(await _user("bureau"))
    args = {
        "name": "人才网",
        "scopes": ["public:read"],
        "expires_at": dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        **kw,
    }
    return await account.create_api_token(bureau, **args)


async def test_valid_bearer_token_is_accepted(client):
    plaintext, _ = await _token()
    response = await client.get("/", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("case", ["unknown", "revoked", "expired", "not-bearer"])
async def test_bad_bearer_token_gets_401_json(client, case):
    plaintext, token = await _token()
    header = f"Bearer {plaintext}"
    if case == "unknown":
        header = "Bearer psk_0000000000000000"
    elif case == "revoked":
        await ApiToken.filter(id=token.id).update(revoked_at=dt.datetime.now(dt.UTC))
    elif case == "expired":
        await ApiToken.filter(id=token.id).update(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
    else:
        header = f"Basic {plaintext}"
    response = await client.get("/", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "message": "API 令牌无效、已过期或已吊销"}
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_bearer_token_over_rate_gets_429_with_retry_after(client):
    plaintext, _ = await _token(requests_per_minute=2)
    headers = {"Authorization": f"Bearer {plaintext}"}
    statuses = [(await client.get("/", headers=headers)).status_code for _ in range(2)]
    limited = await client.get("/", headers=headers)
    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"] == "rate_limited"


async def test_logout_lands_on_login_page_with_fixed_flash_message(client):
    """The flash is looked up by key: unknown keys (or text in the URL) show nothing."""
    await _user()
    await _login(client)
    await client.post("/logout", headers={"X-CSRF-Token": await _csrf(client), "Origin": ORIGIN})

    page = (await client.get("/login?flash=logged_out")).text
    forged = (await client.get("/login?flash=%3Cb%3E%E4%BD%A0%E5%A5%BD")).text

    assert '<p class="notice flash" role="status">您已安全退出登录。</p>' in page
    assert 'class="notice flash"' not in forged and "<b>" not in forged


async def test_pages_link_the_svg_favicon(client):
    page = (await client.get("/login")).text
    icon = await client.get("/static/favicon.svg")

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")
