"""GraphQL `login`: the same credentials check, throttle and cookie as the login page."""

from models import AuditEvent, LoginSession
from models.enums import Role
from resolvers import account
from resolvers.actor import SYSTEM

PASSWORD = "Tiangong-Kaiwu-1637!"
LOGIN = """mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { me { username roles } errors { field code message } }
}"""


async def _user() -> None:
    await account.create_user(
        SYSTEM, username="bureau1", display_name="职称处", password=PASSWORD, role=Role.BUREAU
    )


async def test_login_sets_a_session_cookie_and_me_follows_it(client):
    await _user()
    response = await client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": "bureau1", "p": PASSWORD}}
    )
    body = response.json()
    assert body["data"]["login"] == {
        "me": {"username": "bureau1", "roles": ["BUREAU"]},
        "errors": [],
    }
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{account.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    me = await client.post("/graphql", json={"query": "{ me { username } }"})
    assert me.json() == {"data": {"me": {"username": "bureau1"}}}
    assert await LoginSession.all().count() == 1


async def test_login_unknown_user_and_wrong_password_answer_identically(client):
    await _user()
    wrong = await client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": "bureau1", "p": "nope" * 4}}
    )
    unknown = await client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": "ghost", "p": "nope" * 4}}
    )
    assert wrong.json() == unknown.json()
    assert wrong.json()["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert "set-cookie" not in wrong.headers
    assert await LoginSession.all().count() == 0


async def test_login_eleventh_failure_in_one_aliased_request_is_throttled(client):
    """Issue 3: the throttle holds even when attempts arrive as aliases of one request."""
    await _user()
    fields = "\n".join(
        f'a{i}: login(input: {{username: "bureau1", password: "wrong-{i}-password"}})'
        " { me { username } errors { code } }"
        for i in range(12)
    )
    response = await client.post("/graphql", json={"query": f"mutation {{ {fields} }}"})
    data = response.json()["data"]
    codes = [data[f"a{i}"]["errors"][0]["code"] for i in range(12)]
    assert codes == ["INVALID_CREDENTIALS"] * 10 + ["THROTTLED"] * 2
    # The right password is refused too while throttled, and no session is created.
    ok = await client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": "bureau1", "p": PASSWORD}}
    )
    assert ok.json()["data"]["login"]["errors"][0]["code"] == "THROTTLED"
    assert await LoginSession.all().count() == 0
    assert await AuditEvent.filter(action="login.success").count() == 0


async def test_logout_ends_the_session(client):
    await _user()
    await client.post(
        "/graphql", json={"query": LOGIN, "variables": {"u": "bureau1", "p": PASSWORD}}
    )
    out = await client.post(
        "/graphql", json={"query": "mutation { logout { ok errors { code } } }"}
    )
    assert out.json()["data"]["logout"] == {"ok": True, "errors": []}
    assert await LoginSession.all().count() == 0
    me = await client.post("/graphql", json={"query": "{ me { username } }"})
    assert me.json() == {"data": {"me": None}}
