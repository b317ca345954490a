"""Accounts (issue 3): users and scoped roles, password policy, authentication with
throttling, login sessions, API tokens and audited personal-data reads."""

import asyncio
import datetime as dt
import hashlib
import json
import statistics
import time

import pytest
from argon2 import PasswordHasher
from tortoise import connections

from models import (
    ApiToken,
    AuditEvent,
    Committee,
    EvaluationSession,
    LoginSession,
    RateCounter,
    RoleAssignment,
    SupervisorAssignment,
    User,
)
from models.enums import Level, Role
from resolvers import account, throttle
from resolvers.actor import ANONYMOUS, SYSTEM, Actor, Grant
from resolvers.config import Config, configure
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.passwords import needs_rehash, verify_password
from tests import factories
from tests.conftest import TEST_SECRET

PASSWORD = "Lantern-orchid-7-Qx!"
OTHER_PASSWORD = "Granite-willow-93-Kp?"


async def _user(
    username: str = "zhangsan",
    role: Role = Role.BUREAU,
    scope_id: int | None = None,
    password: str = PASSWORD,
) -> User:
    return await account.create_user(
        SYSTEM,
        username=username,
        display_name="张三",
        password=password,
        role=role,
        scope_id=scope_id,
    )


async def _counts() -> tuple[int, int, int, int]:
    return (
        await User.all().count(),
        await RoleAssignment.all().count(),
        await LoginSession.all().count(),
        await AuditEvent.all().count(),
    )


async def _actions() -> list[str]:
    return [e.action for e in await AuditEvent.all().order_by("seq")]


@pytest.fixture
async def bureau() -> Actor:
    """A real bureau user (API tokens and audit events reference it)."""
    user = await account.create_user(
        SYSTEM,
        username="bureau",
        display_name="市人社局",
        password=OTHER_PASSWORD,
        role=Role.BUREAU,
    )
    return await account.load_actor(user)


def _days(n: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=n)


# --- users and roles -------------------------------------------------------------------


async def test_create_user_by_system_creates_user_role_and_audit_event():
    inst = await factories.institution()
    user = await _user("li.si", Role.INSTITUTION, inst.id)
    roles = await RoleAssignment.filter(user_id=user.id).values("role", "institution_id")
    assert (user.username, user.display_name) == ("li.si", "张三")
    assert roles == [{"role": Role.INSTITUTION, "institution_id": inst.id}]
    assert await _actions() == ["user.create"]
    assert PASSWORD not in json.dumps([e.after for e in await AuditEvent.all()], default=str)


async def test_create_user_by_bureau_allowed(bureau):
    user = await account.create_user(
        bureau, username="wangwu", display_name="王五", password=PASSWORD, role=Role.SUPERVISOR
    )
    assert await User.filter(id=user.id).values_list("username", flat=True) == ["wangwu"]


@pytest.mark.parametrize(
    "grant",
    [
        Grant(Role.INSTITUTION, institution_id=1),
        Grant(Role.EXPERT, expert_id=1),
        Grant(Role.RECOMMENDER, authority_id=1),
        Grant(Role.SUPERVISOR),
    ],
)
async def test_create_user_without_user_manage_denied_changes_nothing(grant: Grant):
    actor = Actor(user_id=5, username="x", grants=(grant,))
    with pytest.raises(PermissionDenied):
        await account.create_user(
            actor, username="wangwu", display_name="王五", password=PASSWORD, role=Role.BUREAU
        )
    assert await _counts() == (0, 0, 0, 0)


async def test_create_user_anonymous_unauthenticated_changes_nothing():
    with pytest.raises(Unauthenticated):
        await account.create_user(
            ANONYMOUS, username="wangwu", display_name="王五", password=PASSWORD, role=Role.BUREAU
        )
    assert await _counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("role", "scope", "code", "field"),
    [
        (Role.INSTITUTION, None, ErrorCode.REQUIRED, "scopeId"),
        (Role.INSTITUTION, 424242, ErrorCode.INVALID, "scopeId"),
        (Role.EXPERT, None, ErrorCode.REQUIRED, "scopeId"),
        (Role.EMPLOYER, 424242, ErrorCode.INVALID, "scopeId"),
        (Role.RECOMMENDER, 424242, ErrorCode.INVALID, "scopeId"),
        (Role.APPLICANT, 424242, ErrorCode.INVALID, "scopeId"),
        (Role.BUREAU, 1, ErrorCode.INVALID, "scopeId"),
        (Role.SUPERVISOR, 1, ErrorCode.INVALID, "scopeId"),
        (Role.PARTNER, None, ErrorCode.INVALID, "role"),
    ],
)
async def test_create_user_bad_scope_refused(role, scope, code, field):
    with pytest.raises(DomainError) as err:
        await _user("wangwu", role, scope)
    assert (err.value.code, err.value.field) == (code, field)
    assert await _counts() == (0, 0, 0, 0)


async def test_create_user_scope_of_each_role_is_stored_in_its_column():
    auth = await factories.authority()
    unit = await factories.unit(authority=auth)
    expert = await factories.expert(unit=unit)
    await _user("rec", Role.RECOMMENDER, auth.id)
    await _user("emp", Role.EMPLOYER, unit.id)
    await _user("exp", Role.EXPERT, expert.id)
    rows = (
        await RoleAssignment.all()
        .order_by("id")
        .values("role", "authority_id", "unit_id", "expert_id", "institution_id", "applicant_id")
    )
    assert rows == [
        {
            "role": Role.RECOMMENDER,
            "authority_id": auth.id,
            "unit_id": None,
            "expert_id": None,
            "institution_id": None,
            "applicant_id": None,
        },
        {
            "role": Role.EMPLOYER,
            "authority_id": None,
            "unit_id": unit.id,
            "expert_id": None,
            "institution_id": None,
            "applicant_id": None,
        },
        {
            "role": Role.EXPERT,
            "authority_id": None,
            "unit_id": None,
            "expert_id": expert.id,
            "institution_id": None,
            "applicant_id": None,
        },
    ]


async def test_create_user_duplicate_username_refused():
    await _user("wangwu")
    with pytest.raises(DomainError) as err:
        await _user("WangWu")
    assert (err.value.code, err.value.field) == (ErrorCode.DUPLICATE, "username")
    assert await User.all().count() == 1


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Sh0rt!pass", ErrorCode.WEAK_PASSWORD),  # 10 characters
        ("password1234", ErrorCode.WEAK_PASSWORD),  # common password
        ("qwertyuiop[]", ErrorCode.WEAK_PASSWORD),  # keyboard pattern
        ("zhangsan1990", ErrorCode.WEAK_PASSWORD),  # the username and a year
        ("张三张三张三张三张三张三", ErrorCode.WEAK_PASSWORD),  # the display name repeated
        ("x" * 1025, ErrorCode.TOO_LONG),
    ],
)
async def test_create_user_weak_password_refused_with_chinese_message(password, code):
    with pytest.raises(DomainError) as err:
        await _user("zhangsan", password=password)
    assert (err.value.code, err.value.field) == (code, "password")
    assert "密码" in err.value.message
    assert await _counts() == (0, 0, 0, 0)


async def test_long_password_is_not_truncated():
    long_password = "Lantern-orchid-7-Qx!" * 5  # 100 characters
    user = await _user("zhangsan", password=long_password)
    assert await verify_password(user.password_hash, long_password) is True
    assert await verify_password(user.password_hash, long_password[:72]) is False
    with pytest.raises(DomainError):
        await account.authenticate("zhangsan", long_password[:72], "10.0.0.1")
    assert (await account.authenticate("zhangsan", long_password, "10.0.0.1")).id == user.id


async def test_grant_role_adds_grant_and_revokes_sessions(bureau):
    user = await _user("zhangsan", Role.SUPERVISOR)
    inst = await factories.institution()
    cookie, _ = await account.start_login_session(user, "10.0.0.1")
    ra = await account.grant_role(bureau, user.id, role=Role.INSTITUTION, scope_id=inst.id)
    actor = await account.load_actor(user)
    assert actor.grants == (Grant(Role.SUPERVISOR), Grant(Role.INSTITUTION, institution_id=inst.id))
    assert await account.resolve_login_session(cookie) is None
    assert await LoginSession.all().count() == 0
    assert (await _actions())[-2:] == ["role.grant", "login_session.revoke_all"]
    assert ra.institution_id == inst.id


async def test_grant_role_duplicate_refused(bureau):
    user = await _user("zhangsan", Role.SUPERVISOR)
    with pytest.raises(DomainError) as err:
        await account.grant_role(bureau, user.id, role=Role.SUPERVISOR)
    assert err.value.code == ErrorCode.DUPLICATE


async def test_grant_role_without_user_manage_denied_changes_nothing():
    user = await _user("zhangsan", Role.SUPERVISOR)
    await account.start_login_session(user, "10.0.0.1")
    before = await _counts()
    staff = Actor(user_id=user.id, username="zhangsan", grants=(Grant(Role.SUPERVISOR),))
    with pytest.raises(PermissionDenied):
        await account.grant_role(staff, user.id, role=Role.BUREAU)
    assert await _counts() == before


async def test_revoke_role_removes_grant_and_revokes_sessions(bureau):
    user = await _user("zhangsan", Role.BUREAU)
    ra = await RoleAssignment.get(user_id=user.id)
    cookie, _ = await account.start_login_session(user, "10.0.0.1")
    await account.revoke_role(bureau, ra.id)
    assert (await account.load_actor(user)).grants == ()
    assert await account.resolve_login_session(cookie) is None
    assert (await _actions())[-2:] == ["role.revoke", "login_session.revoke_all"]


async def test_revoke_role_unknown_not_found(bureau):
    with pytest.raises(NotFound):
        await account.revoke_role(bureau, 4242)


async def _evaluation_session() -> EvaluationSession:
    inst = await factories.institution()
    committee = await Committee.create(
        institution=inst,
        name=f"{inst.name}工程技术评委会",
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    return await EvaluationSession.create(
        committee=committee,
        institution=inst,
        year=starts.year,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=8),
        place="北京",
        panel_size=7,
    )


async def test_load_actor_and_supervised_sessions():
    """Art. 30: a supervisor sees the sessions it is assigned to, and only those."""
    user = await _user("zhangsan", Role.SUPERVISOR)
    other = await _user("lisi", Role.SUPERVISOR)
    s1, s2, s3 = [await _evaluation_session() for _ in range(3)]
    await SupervisorAssignment.create(session=s1, user=user)
    await SupervisorAssignment.create(session=s3, user=user)
    await SupervisorAssignment.create(session=s2, user=other)
    actor = await account.load_actor(user, client_addr="10.1.1.1")
    assert (actor.user_id, actor.username, actor.client_addr) == (user.id, "zhangsan", "10.1.1.1")
    assert actor.grants == (Grant(Role.SUPERVISOR),)
    assert await account.supervised_sessions(actor) == frozenset({s1.id, s3.id})
    no_role = Actor(user_id=user.id, username="zhangsan")
    assert await account.supervised_sessions(no_role) == frozenset()


# --- passwords -------------------------------------------------------------------------


async def test_change_password_own_needs_current_password():
    user = await _user("zhangsan", Role.SUPERVISOR)
    actor = await account.load_actor(user)
    before = await _counts()
    with pytest.raises(DomainError) as err:
        await account.change_password(
            actor, user.id, new_password=OTHER_PASSWORD, current_password="wrong-password-here"
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID_CREDENTIALS, "currentPassword")
    assert await _counts() == before


async def test_change_password_revokes_every_session():
    user = await _user("zhangsan", Role.SUPERVISOR)
    actor = await account.load_actor(user)
    c1, _ = await account.start_login_session(user, "10.0.0.1")
    c2, _ = await account.start_login_session(user, "10.0.0.2")
    changed = await account.change_password(
        actor, user.id, new_password=OTHER_PASSWORD, current_password=PASSWORD
    )
    assert (await account.resolve_login_session(c1), await account.resolve_login_session(c2)) == (
        None,
        None,
    )
    assert changed.version == user.version + 1
    assert (await _actions())[-2:] == ["user.password_change", "login_session.revoke_all"]
    with pytest.raises(DomainError):
        await account.authenticate("zhangsan", PASSWORD, "10.0.0.1")
    assert (await account.authenticate("zhangsan", OTHER_PASSWORD, "10.0.0.1")).id == user.id
    events = json.dumps([[e.before, e.after] for e in await AuditEvent.all()], default=str)
    assert PASSWORD not in events and OTHER_PASSWORD not in events


async def test_change_password_of_another_user_needs_user_manage(bureau):
    user = await _user("zhangsan", Role.SUPERVISOR)
    other = await _user("lisi", Role.SUPERVISOR)
    intruder = await account.load_actor(other)
    before = await _counts()
    with pytest.raises(PermissionDenied):
        await account.change_password(intruder, user.id, new_password=OTHER_PASSWORD)
    assert await _counts() == before
    await account.change_password(bureau, user.id, new_password=OTHER_PASSWORD)
    assert (await account.authenticate("zhangsan", OTHER_PASSWORD, "10.0.0.1")).id == user.id


async def test_change_password_weak_refused_changes_nothing(bureau):
    user = await _user("zhangsan", Role.SUPERVISOR)
    before = await _counts()
    with pytest.raises(DomainError) as err:
        await account.change_password(bureau, user.id, new_password="zhangsan12345")
    assert err.value.code == ErrorCode.WEAK_PASSWORD
    assert await _counts() == before
    assert (await User.get(id=user.id)).password_hash == user.password_hash


# --- authentication --------------------------------------------------------------------


async def test_authenticate_unknown_user_and_wrong_password_answer_identically():
    await _user("zhangsan")
    with pytest.raises(DomainError) as unknown:
        await account.authenticate("nobody", PASSWORD, "10.0.0.1")
    with pytest.raises(DomainError) as wrong:
        await account.authenticate("zhangsan", OTHER_PASSWORD, "10.0.0.2")
    assert (unknown.value.code, unknown.value.message, unknown.value.field) == (
        ErrorCode.INVALID_CREDENTIALS,
        "用户名或密码不正确",
        "password",
    )
    assert (wrong.value.code, wrong.value.message, wrong.value.field) == (
        unknown.value.code,
        unknown.value.message,
        unknown.value.field,
    )


async def test_authenticate_inactive_user_answers_like_unknown():
    user = await _user("zhangsan")
    await User.filter(id=user.id).update(is_active=False)
    with pytest.raises(DomainError) as err:
        await account.authenticate("zhangsan", PASSWORD, "10.0.0.1")
    assert (err.value.code, err.value.message) == (
        ErrorCode.INVALID_CREDENTIALS,
        "用户名或密码不正确",
    )


async def test_authenticate_unknown_user_takes_as_long_as_wrong_password():
    """The dummy argon2 verify hides which usernames exist (real argon2 parameters)."""
    configure(Config(secret_key=TEST_SECRET, argon2_profile="default"))
    await _user("zhangsan")

    async def timed(username: str, addr: str) -> float:
        start = time.perf_counter()
        with pytest.raises(DomainError):
            await account.authenticate(username, OTHER_PASSWORD, addr)
        return time.perf_counter() - start

    await timed("warmup", "10.9.9.9")  # the dummy hash is made on first use
    unknown = statistics.median([await timed("nobody", f"10.0.1.{i}") for i in range(3)])
    wrong = statistics.median([await timed("zhangsan", f"10.0.2.{i}") for i in range(3)])
    assert 1 / 3 < unknown / wrong < 3


async def test_authenticate_success_and_failure_audited_without_password():
    user = await _user("zhangsan")
    with pytest.raises(DomainError):
        await account.authenticate("zhangsan", OTHER_PASSWORD, "10.0.0.1")
    await account.authenticate("zhangsan", PASSWORD, "10.0.0.1")
    events = await AuditEvent.all().order_by("seq")
    assert [(e.action, e.target_id, e.actor) for e in events[1:]] == [
        ("login.failure", str(user.id), "anonymous"),
        ("login.success", str(user.id), "user:zhangsan"),
    ]
    assert events[1].after == {
        "username": "zhangsan",
        "client_addr": "10.0.0.1",
        "reason": "invalid_credentials",
    }
    dumped = json.dumps([[e.before, e.after] for e in events], default=str)
    assert PASSWORD not in dumped and OTHER_PASSWORD not in dumped


async def test_authenticate_rehashes_when_parameters_changed():
    user = await _user("zhangsan")
    old_hash = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    await User.filter(id=user.id).update(password_hash=old_hash)
    await account.authenticate("zhangsan", PASSWORD, "10.0.0.1")
    stored = (await User.get(id=user.id)).password_hash
    assert stored != old_hash
    assert needs_rehash(stored) is False
    assert await verify_password(stored, PASSWORD) is True
    assert (await AuditEvent.filter(action="login.success").first()).after == {
        "client_addr": "10.0.0.1",
        "rehashed": True,
    }


async def test_authenticate_eleventh_failure_in_window_is_throttled():
    await _user("zhangsan")
    codes = []
    for i in range(10):
        with pytest.raises(DomainError) as err:
            await account.authenticate("zhangsan", OTHER_PASSWORD, f"10.0.0.{i}")
        codes.append(err.value.code)
    with pytest.raises(DomainError) as eleventh:
        await account.authenticate("zhangsan", PASSWORD, "10.0.1.1")  # even the right one
    assert codes == [ErrorCode.INVALID_CREDENTIALS] * 10
    assert (eleventh.value.code, eleventh.value.field) == (ErrorCode.THROTTLED, None)
    assert eleventh.value.message == "登录失败次数过多,请15分钟后再试"


async def test_authenticate_throttles_per_client_address():
    await _user("zhangsan")
    for i in range(10):
        with pytest.raises(DomainError):
            await account.authenticate(f"user{i}", PASSWORD, "10.0.0.1")
    with pytest.raises(DomainError) as same_addr:
        await account.authenticate("zhangsan", PASSWORD, "10.0.0.1")
    assert same_addr.value.code == ErrorCode.THROTTLED
    assert (await account.authenticate("zhangsan", PASSWORD, "10.0.0.2")).username == "zhangsan"


async def test_authenticate_concurrent_failures_cannot_pass_the_limit():
    """Twenty attempts at once (as in one batched or aliased GraphQL request)."""
    await _user("zhangsan")

    async def attempt() -> ErrorCode:
        try:
            await account.authenticate("zhangsan", OTHER_PASSWORD, "10.0.0.1")
        except DomainError as exc:
            return exc.code
        raise AssertionError("a wrong password was accepted")

    codes = await asyncio.gather(*(attempt() for _ in range(20)))
    assert sorted(codes) == sorted(
        [ErrorCode.INVALID_CREDENTIALS] * 10 + [ErrorCode.THROTTLED] * 10
    )


async def test_authenticate_successes_do_not_count_as_failures():
    await _user("zhangsan")
    for _ in range(12):
        await account.authenticate("zhangsan", PASSWORD, "10.0.0.1")
    assert await RateCounter.filter(count__gt=0).count() == 0


async def test_login_throttle_counts_the_previous_window_too():
    start = throttle.window_start(dt.datetime.now(dt.UTC), throttle.LOGIN_WINDOW)
    previous = start - throttle.LOGIN_WINDOW
    for _ in range(10):
        attempt = await throttle.begin_login_attempt("zhangsan", "10.0.0.1", at=previous)
        assert attempt.throttled is False
    assert (await throttle.begin_login_attempt("zhangsan", "10.0.0.2", at=start)).throttled is True
    later = start + throttle.LOGIN_WINDOW
    assert (await throttle.begin_login_attempt("zhangsan", "10.0.0.3", at=later)).throttled is False


# --- throttle counters -----------------------------------------------------------------


async def test_rate_counter_200_concurrent_increments_lose_none():
    start = throttle.window_start(dt.datetime.now(dt.UTC), throttle.TOKEN_WINDOW)
    values = await asyncio.gather(*(throttle.hit("k", start) for _ in range(200)))
    assert sorted(values) == list(range(1, 201))
    assert await RateCounter.filter(key="k").values_list("count", flat=True) == [200]


async def test_purge_counters_deletes_old_windows_only():
    now = dt.datetime.now(dt.UTC)
    old = throttle.window_start(now - dt.timedelta(days=2), throttle.TOKEN_WINDOW)
    new = throttle.window_start(now, throttle.TOKEN_WINDOW)
    await throttle.hit("k", old)
    await throttle.hit("k", new)
    assert await throttle.purge_counters(before=now - dt.timedelta(days=1)) == 1
    assert await throttle.count("k", new) == 1


# --- login sessions --------------------------------------------------------------------


async def test_login_session_stores_only_the_cookie_hash():
    user = await _user("zhangsan")
    cookie, session = await account.start_login_session(user, "10.0.0.1")
    row = await LoginSession.get(id=session.id).values()
    assert row["key_hash"] == hashlib.sha256(cookie.encode()).hexdigest()
    assert cookie not in json.dumps(row, default=str)
    assert len(cookie) >= 43 and len(session.csrf_token) >= 43
    actor, resolved = await account.resolve_login_session(cookie)
    assert (actor.user_id, actor.grants, resolved.id) == (
        user.id,
        (Grant(Role.BUREAU),),
        session.id,
    )


async def test_login_sessions_get_distinct_cookies_and_csrf_tokens():
    user = await _user("zhangsan")
    c1, s1 = await account.start_login_session(user, "10.0.0.1")
    c2, s2 = await account.start_login_session(user, "10.0.0.1")
    assert (c1 != c2, s1.csrf_token != s2.csrf_token) == (True, True)


async def test_login_session_idle_timeout_30_minutes():
    user = await _user("zhangsan")
    cookie, session = await account.start_login_session(user, "10.0.0.1")
    now = dt.datetime.now(dt.UTC)
    await LoginSession.filter(id=session.id).update(last_seen_at=now - dt.timedelta(minutes=29))
    assert await account.resolve_login_session(cookie) is not None
    await LoginSession.filter(id=session.id).update(last_seen_at=now - dt.timedelta(minutes=31))
    assert await account.resolve_login_session(cookie) is None
    assert await LoginSession.filter(id=session.id).count() == 0
    assert (await _actions())[-1] == "login_session.expire"


async def test_login_session_absolute_timeout_12_hours():
    user = await _user("zhangsan")
    cookie, session = await account.start_login_session(user, "10.0.0.1")
    assert session.expires_at - session.last_seen_at == dt.timedelta(hours=12)
    # Active all along (seen a minute ago) but started 12 hours ago.
    now = dt.datetime.now(dt.UTC)
    await LoginSession.filter(id=session.id).update(
        last_seen_at=now - dt.timedelta(minutes=1), expires_at=now - dt.timedelta(seconds=1)
    )
    assert await account.resolve_login_session(cookie) is None


async def test_login_session_last_seen_refreshed_at_most_once_a_minute():
    user = await _user("zhangsan")
    cookie, session = await account.start_login_session(user, "10.0.0.1")
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    await LoginSession.filter(id=session.id).update(last_seen_at=recent)
    await account.resolve_login_session(cookie)
    assert (await LoginSession.get(id=session.id)).last_seen_at == recent
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    await LoginSession.filter(id=session.id).update(last_seen_at=stale)
    await account.resolve_login_session(cookie)
    assert (await LoginSession.get(id=session.id)).last_seen_at > stale + dt.timedelta(seconds=90)


async def test_end_login_session_kills_the_cookie():
    user = await _user("zhangsan")
    cookie, session = await account.start_login_session(user, "10.0.0.1")
    actor = await account.load_actor(user)
    await account.end_login_session(actor, session)
    assert await account.resolve_login_session(cookie) is None
    assert (await _actions())[-1] == "login_session.end"


async def test_resolve_login_session_of_deactivated_user_refused():
    user = await _user("zhangsan")
    cookie, _ = await account.start_login_session(user, "10.0.0.1")
    await User.filter(id=user.id).update(is_active=False)
    assert await account.resolve_login_session(cookie) is None


@pytest.mark.parametrize("cookie", ["", "x", "a" * 500])
async def test_resolve_login_session_garbage_is_none(cookie):
    assert await account.resolve_login_session(cookie) is None


# --- API tokens ------------------------------------------------------------------------


async def test_create_api_token_shown_once_stored_hashed(bureau):
    plaintext, token = await account.create_api_token(
        bureau, name="人才网", scopes=["public:read", "certificate:verify"], expires_at=_days(30)
    )
    row = await ApiToken.get(id=token.id).values()
    assert plaintext.startswith("psk_" + token.prefix)
    assert row["token_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in json.dumps(row, default=str)
    assert row["scopes"] == ["certificate:verify", "public:read"]
    event = await AuditEvent.get(action="api_token.create")
    assert plaintext not in json.dumps([event.before, event.after], default=str)


async def test_resolve_api_token_gives_partner_actor(bureau):
    plaintext, token = await account.create_api_token(
        bureau, name="人才网", scopes=["public:read"], expires_at=_days(30)
    )
    actor = await account.resolve_api_token(plaintext, client_addr="10.0.0.5")
    assert actor == Actor(
        username="人才网",
        grants=(Grant(Role.PARTNER),),
        token_id=token.id,
        token_scopes=frozenset({"public:read"}),
        client_addr="10.0.0.5",
    )
    assert (await ApiToken.get(id=token.id)).last_used_at is not None


@pytest.mark.parametrize("grant", [Grant(Role.INSTITUTION, institution_id=1), Grant(Role.PARTNER)])
async def test_create_api_token_without_token_manage_denied_changes_nothing(grant):
    actor = Actor(user_id=7, username="x", grants=(grant,))
    with pytest.raises(PermissionDenied):
        await account.create_api_token(actor, name="x", scopes=["public:read"], expires_at=_days(1))
    assert (await ApiToken.all().count(), await AuditEvent.all().count()) == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": " "}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"expires_at": _days(-1)}, "expiresAt"),
        ({"requests_per_minute": 0}, "requestsPerMinute"),
    ],
)
async def test_create_api_token_bad_input_refused(bureau, kwargs, field):
    args = {"name": "人才网", "scopes": ["public:read"], "expires_at": _days(1), **kwargs}
    events = await AuditEvent.all().count()
    with pytest.raises(DomainError) as err:
        await account.create_api_token(bureau, **args)
    assert err.value.field == field
    assert (await ApiToken.all().count(), await AuditEvent.all().count()) == (0, events)


async def test_revoked_api_token_refused(bureau):
    plaintext, token = await account.create_api_token(
        bureau, name="人才网", scopes=["public:read"], expires_at=_days(30)
    )
    revoked = await account.revoke_api_token(bureau, token.id)
    assert revoked.revoked_at is not None
    assert await account.resolve_api_token(plaintext) is None
    assert (await _actions())[-1] == "api_token.revoke"
    with pytest.raises(DomainError) as err:
        await account.revoke_api_token(bureau, token.id)
    assert err.value.code == ErrorCode.INVALID_TRANSITION


async def test_expired_api_token_refused(bureau):
    plaintext, token = await account.create_api_token(
        bureau, name="人才网", scopes=["public:read"], expires_at=_days(1)
    )
    await ApiToken.filter(id=token.id).update(expires_at=_days(-0.001))
    assert await account.resolve_api_token(plaintext) is None


@pytest.mark.parametrize("bearer", ["", "psk_", "psk_nonexistent", "Bearer x", "a" * 300])
async def test_unknown_api_token_refused(bearer):
    assert await account.resolve_api_token(bearer) is None


async def test_api_token_rate_limited_past_requests_per_minute(bureau):
    plaintext, _ = await account.create_api_token(
        bureau, name="人才网", scopes=["public:read"], expires_at=_days(1), requests_per_minute=3
    )
    start = throttle.window_start(dt.datetime.now(dt.UTC), throttle.TOKEN_WINDOW)
    for _ in range(3):
        assert await account.resolve_api_token(plaintext) is not None
    with pytest.raises(throttle.RateLimited) as err:
        await account.resolve_api_token(plaintext)
    if throttle.window_start(dt.datetime.now(dt.UTC), throttle.TOKEN_WINDOW) == start:
        assert 1 <= err.value.retry_after <= 60


# --- personal data ---------------------------------------------------------------------


async def test_expert_table_raw_select_holds_no_plaintext_personal_data():
    expert = await factories.expert(phone="13912345678")
    id_number = account.decrypt(expert.id_number_enc)
    rows = await connections.get("default").execute_query_dict("SELECT * FROM expert")
    dumped = json.dumps(rows, default=str)
    assert len(rows) == 1
    assert id_number not in dumped and "13912345678" not in dumped
    assert id_number[6:14] not in dumped.replace(expert.birth_date.strftime("%Y-%m-%d"), "")


async def test_reveal_expert_pii_by_bureau_returns_values_and_audits(bureau):
    expert = await factories.expert(phone="13912345678")
    values = await account.reveal_expert_pii(bureau, expert.id)
    assert values == {"id_number": account.decrypt(expert.id_number_enc), "phone": "13912345678"}
    event = await AuditEvent.get(action="expert.pii_read")
    assert (event.target_type, event.target_id, event.actor) == (
        "expert",
        str(expert.id),
        "user:bureau",
    )
    assert event.after == {"fields": ["id_number", "phone"]}
    assert values["id_number"] not in json.dumps([event.before, event.after])


async def test_reveal_expert_pii_by_institution_staff_of_own_institution():
    inst = await factories.institution()
    expert = await factories.expert(institution=inst)
    staff = Actor(
        user_id=3, username="staff", grants=(Grant(Role.INSTITUTION, institution_id=inst.id),)
    )
    assert (await account.reveal_expert_pii(staff, expert.id))["phone"] == account.decrypt(
        expert.phone_enc
    )


async def test_reveal_expert_pii_by_employer_forbidden_without_audit():
    unit = await factories.unit()
    expert = await factories.expert(unit=unit)
    employer = Actor(user_id=3, username="hr", grants=(Grant(Role.EMPLOYER, unit_id=unit.id),))
    with pytest.raises(PermissionDenied):
        await account.reveal_expert_pii(employer, expert.id)
    assert await AuditEvent.all().count() == 0


async def test_reveal_expert_pii_of_other_institution_not_found_without_audit():
    inst, other = await factories.institution(), await factories.institution()
    expert = await factories.expert(institution=other)
    staff = Actor(
        user_id=3, username="staff", grants=(Grant(Role.INSTITUTION, institution_id=inst.id),)
    )
    with pytest.raises(NotFound):
        await account.reveal_expert_pii(staff, expert.id)
    with pytest.raises(Unauthenticated):
        await account.reveal_expert_pii(ANONYMOUS, expert.id)
    assert await AuditEvent.all().count() == 0
