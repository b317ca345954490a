"""Accounts: users and their scoped roles, passwords, browser login sessions, partner
API tokens, and audited reads of experts' personal data (issue 3).

Passwords are argon2id (resolvers/passwords.py), checked off the event loop and never
inside a transaction. Login sessions and API tokens are random secrets of which only
the SHA-256 is stored. Every change writes its audit event in the same transaction;
no event ever holds a password, a cookie value or a token.
"""

import datetime as dt
import hashlib
import re
import secrets
import threading
from typing import Any

import anyio.to_thread
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction
from zxcvbn import zxcvbn

from models import (
    ApiToken,
    Authority,
    Expert,
    Institution,
    LoginSession,
    RoleAssignment,
    SessionApplicant,
    SupervisorAssignment,
    Unit,
    User,
)
from models.enums import Role
from resolvers import audit, throttle
from resolvers.actor import Actor, Grant
from resolvers.common import utcnow as _now
from resolvers.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from resolvers.passwords import hash_password, needs_rehash, verify_password
from resolvers.personal import decrypt
from resolvers.policy import PARTNER_API_SCOPE, Perm, require, scoped

IDLE_TIMEOUT = dt.timedelta(minutes=30)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
SESSION_COOKIE = "pingshen_session"


def session_cookie_params(*, debug: bool) -> dict[str, Any]:
    """The login cookie's attributes, the same for the HTML login and GraphQL `login`:
    HttpOnly, SameSite=Lax, Secure unless in debug (plain-http development)."""
    return {
        "max_age": int(ABSOLUTE_TIMEOUT.total_seconds()),
        "path": "/",
        "httponly": True,
        "samesite": "lax",
        "secure": not debug,
    }


# last_seen_at / last_used_at are refreshed at most this often: a write per request
# would serialise every request behind the database on SQLite.
TOUCH_INTERVAL = dt.timedelta(minutes=1)

PASSWORD_MIN_LENGTH = 12
# Not a truncation: longer passwords are refused, so what is hashed is what was typed.
PASSWORD_MAX_LENGTH = 1024
PASSWORD_MIN_SCORE = 3
# zxcvbn refuses longer inputs (its matching is superlinear); the strength of a long
# password is judged on its first 72 characters, while all of it is hashed.
_ZXCVBN_MAX = 72

# A letter first: a phone or ID number typed as a username is never a lookup key.
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,63}$")
TOKEN_PREFIX = "psk_"
API_SCOPES: frozenset[str] = frozenset(PARTNER_API_SCOPE.values())

BAD_CREDENTIALS = "用户名或密码不正确"
THROTTLED_MESSAGE = "登录失败次数过多,请15分钟后再试"

# Which RoleAssignment column (and model) holds the scope each role needs.
ROLE_SCOPES: dict[Role, tuple[str, type[Model]]] = {
    Role.RECOMMENDER: ("authority", Authority),
    Role.INSTITUTION: ("institution", Institution),
    Role.EXPERT: ("expert", Expert),
    Role.EMPLOYER: ("unit", Unit),
    Role.APPLICANT: ("applicant", SessionApplicant),
}
# Bureau needs no scope; a supervisor's sessions come from SupervisorAssignment.
UNSCOPED_ROLES = frozenset({Role.BUREAU, Role.SUPERVISOR})


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- passwords ---------------------------------------------------------------------------

# zxcvbn keeps the user inputs of the call in a module-level dictionary: two threads
# checking at once would judge one password against the other user's inputs.
_zxcvbn_lock = threading.Lock()


def _strength(password: str, user_inputs: list[str]) -> int:
    with _zxcvbn_lock:
        return int(zxcvbn(password[:_ZXCVBN_MAX], user_inputs=user_inputs)["score"])


async def check_password_policy(password: str, *, user_inputs: list[str]) -> None:
    """Refuse short, overlong and guessable passwords (DomainError, field "password")."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise DomainError(
            ErrorCode.WEAK_PASSWORD, f"密码至少需要{PASSWORD_MIN_LENGTH}个字符", "password"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG, f"密码不能超过{PASSWORD_MAX_LENGTH}个字符", "password"
        )
    inputs = [i for i in user_inputs if i]
    score = await anyio.to_thread.run_sync(_strength, password, inputs)
    if score < PASSWORD_MIN_SCORE:
        raise DomainError(
            ErrorCode.WEAK_PASSWORD,
            "密码过于简单或容易被猜到(如常见密码、姓名、日期、键盘序列),请换用更长、更不规则的密码",
            "password",
        )


_dummy_hashes: dict[str, str] = {}


async def _dummy_hash() -> str:
    """A hash with the current parameters, verified for unknown users so that their
    answer takes as long as a wrong password for a real one."""
    from resolvers.config import get_config

    profile = get_config().argon2_profile
    if profile not in _dummy_hashes:
        _dummy_hashes[profile] = await hash_password(secrets.token_urlsafe(24))
    return _dummy_hashes[profile]


# --- actors ------------------------------------------------------------------------------


def _grant(ra: RoleAssignment) -> Grant:
    return Grant(
        role=Role(ra.role),
        institution_id=ra.institution_id,  # type: ignore[attr-defined]
        authority_id=ra.authority_id,  # type: ignore[attr-defined]
        unit_id=ra.unit_id,  # type: ignore[attr-defined]
        expert_id=ra.expert_id,  # type: ignore[attr-defined]
        applicant_id=ra.applicant_id,  # type: ignore[attr-defined]
    )


async def load_actor(user: User, *, client_addr: str = "") -> Actor:
    """The actor for a user: one grant per RoleAssignment row."""
    rows = await RoleAssignment.filter(user_id=user.id).order_by("id")
    return Actor(
        user_id=user.id,
        username=user.username,
        grants=tuple(_grant(ra) for ra in rows),
        client_addr=client_addr,
    )


async def supervised_sessions(actor: Actor) -> frozenset[int]:
    """Ids of the evaluation sessions the actor is assigned to supervise (Art. 30)."""
    if actor.user_id is None or not actor.has(Role.SUPERVISOR):
        return frozenset()
    rows = await SupervisorAssignment.filter(user_id=actor.user_id).values("session_id")
    return frozenset(int(r["session_id"]) for r in rows)


# --- users and roles ---------------------------------------------------------------------


def _normalize_username(username: str) -> str:
    return username.strip().lower()


def _encodable(text: str) -> bool:
    """False for strings holding lone surrogates (possible in JSON, not in UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _scope_values(role: Role, scope_id: int | None) -> dict[str, Any]:
    """RoleAssignment column values for the role's scope; refuses a missing, superfluous
    or dangling scope."""
    if role == Role.PARTNER:
        raise DomainError(ErrorCode.INVALID, "合作方角色只能通过 API 令牌授予", "role")
    if role in UNSCOPED_ROLES:
        if scope_id is not None:
            raise DomainError(ErrorCode.INVALID, "该角色不需要指定范围", "scopeId")
        return {}
    column, model = ROLE_SCOPES[role]
    if scope_id is None:
        raise DomainError(ErrorCode.REQUIRED, "该角色必须指定范围对象", "scopeId")
    if not await model.filter(id=scope_id).exists():
        raise DomainError(ErrorCode.INVALID, "指定的范围对象不存在", "scopeId")
    return {f"{column}_id": scope_id}


def _role_snapshot(ra: RoleAssignment) -> dict[str, Any]:
    return {
        "user_id": ra.user_id,  # type: ignore[attr-defined]
        "role": str(ra.role),
        **{f"{col}_id": getattr(ra, f"{col}_id") for col, _ in ROLE_SCOPES.values()},
    }


async def _revoke_login_sessions(actor: Actor, user_id: int, reason: str) -> int:
    """Delete every login session of a user and audit it. Call inside a transaction."""
    count = await LoginSession.filter(user_id=user_id).delete()
    if count:
        await audit.record(
            actor,
            "login_session.revoke_all",
            ("user", user_id),
            after={"reason": reason, "sessions": count},
        )
    return count


async def create_user(
    actor: Actor,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    scope_id: int | None = None,
) -> User:
    """Create a user holding one role (Perm.USER_MANAGE; the CLI acts as SYSTEM).

    Side effects: a User and a RoleAssignment row, audit event "user.create".
    """
    require(actor, Perm.USER_MANAGE)
    username = _normalize_username(username)
    display_name = display_name.strip()
    if not USERNAME_RE.fullmatch(username):
        raise DomainError(
            ErrorCode.INVALID,
            "用户名应为3–64个小写字母、数字或 _ . -,并以字母开头",
            "username",
        )
    if not display_name:
        raise DomainError(ErrorCode.REQUIRED, "请填写显示名", "displayName")
    if len(display_name) > 100:
        raise DomainError(ErrorCode.TOO_LONG, "显示名不能超过100个字符", "displayName")
    if await User.filter(username=username).exists():
        raise DomainError(ErrorCode.DUPLICATE, "用户名已被使用", "username")
    scope = await _scope_values(role, scope_id)
    await check_password_policy(password, user_inputs=[username, display_name])
    password_hash = await hash_password(password)
    async with in_transaction():
        user = await User.create(
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            password_changed_at=_now(),
        )
        ra = await RoleAssignment.create(user_id=user.id, role=role, **scope)
        await audit.record(
            actor,
            "user.create",
            user,
            after={
                "username": username,
                "display_name": display_name,
                "role": _role_snapshot(ra),
            },
        )
    return user


async def _get_user(user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound("用户不存在")
    return user


async def grant_role(
    actor: Actor, user_id: int, *, role: Role, scope_id: int | None = None
) -> RoleAssignment:
    """Give a user one more scoped role (Perm.USER_MANAGE).

    Side effects: a RoleAssignment row; every login session of the user is revoked
    (so that no session keeps running on stale grants); audit events "role.grant" and
    "login_session.revoke_all".
    """
    require(actor, Perm.USER_MANAGE)
    user = await _get_user(user_id)
    scope = await _scope_values(role, scope_id)
    if await RoleAssignment.filter(user_id=user.id, role=role, **scope).exists():
        raise DomainError(ErrorCode.DUPLICATE, "该用户已拥有此角色", "role")
    async with in_transaction():
        ra = await RoleAssignment.create(user_id=user.id, role=role, **scope)
        await audit.record(actor, "role.grant", ra, after=_role_snapshot(ra))
        await _revoke_login_sessions(actor, user.id, "role.grant")
    return ra


async def revoke_role(actor: Actor, assignment_id: int) -> RoleAssignment:
    """Take a role away (Perm.USER_MANAGE). Returns the deleted assignment.

    Side effects: the RoleAssignment row is deleted; every login session of the user
    is revoked; audit events "role.revoke" and "login_session.revoke_all".
    """
    require(actor, Perm.USER_MANAGE)
    ra = await RoleAssignment.get_or_none(id=assignment_id)
    if ra is None:
        raise NotFound("角色授权不存在")
    async with in_transaction():
        before = _role_snapshot(ra)
        await RoleAssignment.filter(id=ra.id).delete()
        await audit.record(actor, "role.revoke", ("role_assignment", ra.id), before=before)
        await _revoke_login_sessions(actor, ra.user_id, "role.revoke")  # type: ignore[attr-defined]
    return ra


async def change_password(
    actor: Actor,
    user_id: int,
    *,
    new_password: str,
    current_password: str | None = None,
) -> User:
    """Set a new password: the user (proving the current one) or a USER_MANAGE holder.

    Side effects: password hash replaced, version + 1, every login session of the
    user revoked; audit events "user.password_change" and "login_session.revoke_all".
    """
    user = await _get_user(user_id)
    if actor.user_id == user.id and not actor.is_system:
        if not await verify_password(user.password_hash, current_password or ""):
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, "当前密码不正确", "currentPassword")
    else:
        require(actor, Perm.USER_MANAGE)
    await check_password_policy(new_password, user_inputs=[user.username, user.display_name])
    new_hash = await hash_password(new_password)
    changed_at = _now()
    async with in_transaction():
        await User.filter(id=user.id).update(
            password_hash=new_hash, password_changed_at=changed_at, version=F("version") + 1
        )
        await audit.record(
            actor, "user.password_change", user, after={"password_changed_at": changed_at}
        )
        await _revoke_login_sessions(actor, user.id, "user.password_change")
    await user.refresh_from_db()
    return user


# --- authentication ----------------------------------------------------------------------


async def authenticate(username: str, password: str, client_addr: str) -> User:
    """Check a username and password; return the user.

    Unknown, inactive and wrong-password attempts get the same DomainError
    (INVALID_CREDENTIALS, "用户名或密码不正确") after the same argon2 work. More than
    10 failures in 15 minutes for the account or the client address give THROTTLED,
    whatever the password. Side effects: throttle counters; a rehash when the argon2
    parameters changed; audit event "login.success" or "login.failure" (never with
    the password).
    """
    name = _normalize_username(username)
    attempt = await throttle.begin_login_attempt(name, client_addr)
    anonymous = Actor(client_addr=client_addr)
    if attempt.throttled:
        async with in_transaction():
            await audit.record(
                anonymous,
                "login.failure",
                ("user", ""),
                after={"client_addr": client_addr, "reason": "throttled"},
            )
        raise DomainError(ErrorCode.THROTTLED, THROTTLED_MESSAGE, None)
    # A name that cannot be an account (too long, unencodable) is an unknown account,
    # and a password that cannot be encoded is a wrong one: same answer, same work.
    user = (
        await User.get_or_none(username=name, is_active=True)
        if USERNAME_RE.fullmatch(name)
        else None
    )
    if user is None or not _encodable(password):
        await verify_password(await _dummy_hash(), "-")
        ok = False
    else:
        ok = await verify_password(user.password_hash, password)
    if not ok or user is None:
        async with in_transaction():
            # What was typed as the username is not recorded for an unknown account:
            # it may be a phone or ID number typed into the wrong field.
            await audit.record(
                anonymous,
                "login.failure",
                ("user", user.id if user else ""),
                after={
                    **({"username": user.username} if user else {}),
                    "client_addr": client_addr,
                    "reason": "invalid_credentials",
                },
            )
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, BAD_CREDENTIALS, "password")
    await attempt.succeeded()
    rehashed = needs_rehash(user.password_hash)
    new_hash = await hash_password(password) if rehashed else None
    async with in_transaction():
        if new_hash is not None:
            await User.filter(id=user.id).update(password_hash=new_hash)
            user.password_hash = new_hash
        await audit.record(
            Actor(user_id=user.id, username=user.username, client_addr=client_addr),
            "login.success",
            user,
            after={"client_addr": client_addr, "rehashed": rehashed},
        )
    return user


# --- login sessions ----------------------------------------------------------------------


def _session_snapshot(s: LoginSession) -> dict[str, Any]:
    return {
        "user_id": s.user_id,  # type: ignore[attr-defined]
        "client_addr": s.client_addr,
        "expires_at": s.expires_at,
    }


async def start_login_session(user: User, client_addr: str) -> tuple[str, LoginSession]:
    """Open a browser login: a fresh random cookie value (returned once) and CSRF token.

    Side effects: a LoginSession row holding only the cookie's SHA-256; audit event
    "login_session.start".
    """
    cookie_value = secrets.token_urlsafe(32)
    now = _now()
    async with in_transaction():
        session = await LoginSession.create(
            key_hash=_sha256(cookie_value),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            last_seen_at=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
            client_addr=client_addr[:64],
        )
        await audit.record(
            Actor(user_id=user.id, username=user.username, client_addr=client_addr),
            "login_session.start",
            session,
            after=_session_snapshot(session),
        )
    return cookie_value, session


async def resolve_login_session(
    cookie_value: str, *, client_addr: str = ""
) -> tuple[Actor, LoginSession] | None:
    """The actor of a session cookie, or None when unknown, idle 30 min, older than
    12 h or its user deactivated. Side effects: an expired session is deleted (audit
    "login_session.expire"); last_seen_at is refreshed at most once a minute."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    session = await LoginSession.get_or_none(key_hash=_sha256(cookie_value)).select_related("user")
    if session is None:
        return None
    now = _now()
    user: User = session.user
    if (
        session.expires_at <= now
        or session.last_seen_at + IDLE_TIMEOUT <= now
        or not user.is_active
    ):
        async with in_transaction():
            deleted = await LoginSession.filter(id=session.id).delete()
            if deleted:
                await audit.record(
                    Actor(is_system=True, username="system"),
                    "login_session.expire",
                    session,
                    before=_session_snapshot(session),
                )
        return None
    if now - session.last_seen_at >= TOUCH_INTERVAL:
        await LoginSession.filter(id=session.id).update(last_seen_at=now)
        session.last_seen_at = now
    return await load_actor(user, client_addr=client_addr), session


async def end_login_session(actor: Actor, session: LoginSession) -> None:
    """Log out. Side effects: the LoginSession row is deleted (the cookie is dead
    even if replayed); audit event "login_session.end"."""
    async with in_transaction():
        deleted = await LoginSession.filter(id=session.id).delete()
        if deleted:
            await audit.record(
                actor, "login_session.end", session, before=_session_snapshot(session)
            )


# --- API tokens --------------------------------------------------------------------------


def _token_snapshot(t: ApiToken) -> dict[str, Any]:
    return {
        "name": t.name,
        "prefix": t.prefix,
        "scopes": sorted(t.scopes),
        "expires_at": t.expires_at,
        "requests_per_minute": t.requests_per_minute,
        "revoked_at": t.revoked_at,
    }


async def create_api_token(
    actor: Actor,
    *,
    name: str,
    scopes: list[str] | frozenset[str],
    expires_at: dt.datetime,
    requests_per_minute: int = 600,
) -> tuple[str, ApiToken]:
    """Issue a partner token (Perm.TOKEN_MANAGE). Returns the plaintext — shown once,
    never stored — and the row holding its SHA-256.

    Side effects: an ApiToken row; audit event "api_token.create".
    """
    require(actor, Perm.TOKEN_MANAGE)
    name = name.strip()
    if not name:
        raise DomainError(ErrorCode.REQUIRED, "请填写令牌名称", "name")
    if len(name) > 100:
        raise DomainError(ErrorCode.TOO_LONG, "令牌名称不能超过100个字符", "name")
    wanted = sorted(set(scopes))
    if not wanted:
        raise DomainError(ErrorCode.REQUIRED, "请至少选择一个权限范围", "scopes")
    unknown = [s for s in wanted if s not in API_SCOPES]
    if unknown:
        raise DomainError(ErrorCode.INVALID, f"未知的权限范围:{', '.join(unknown)}", "scopes")
    if expires_at.tzinfo is None:
        raise DomainError(ErrorCode.INVALID, "过期时间必须带时区", "expiresAt")
    if expires_at <= _now():
        raise DomainError(ErrorCode.INVALID, "过期时间必须晚于当前时间", "expiresAt")
    if not 1 <= requests_per_minute <= 100_000:
        raise DomainError(ErrorCode.INVALID, "每分钟请求上限应在1到100000之间", "requestsPerMinute")
    prefix = secrets.token_hex(4)
    plaintext = f"{TOKEN_PREFIX}{prefix}{secrets.token_urlsafe(32)}"
    async with in_transaction():
        token = await ApiToken.create(
            name=name,
            prefix=prefix,
            token_hash=_sha256(plaintext),
            scopes=wanted,
            expires_at=expires_at,
            created_by_id=actor.user_id,
            requests_per_minute=requests_per_minute,
        )
        await audit.record(actor, "api_token.create", token, after=_token_snapshot(token))
    return plaintext, token


async def revoke_api_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke a partner token at once (Perm.TOKEN_MANAGE).

    Side effects: revoked_at set; audit event "api_token.revoke".
    """
    require(actor, Perm.TOKEN_MANAGE)
    token = await ApiToken.get_or_none(id=token_id)
    if token is None:
        raise NotFound("API 令牌不存在")
    if token.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "该令牌已吊销", None)
    before = _token_snapshot(token)
    async with in_transaction():
        updated = await ApiToken.filter(id=token.id, revoked_at__isnull=True).update(
            revoked_at=_now()
        )
        if not updated:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "该令牌已吊销", None)
        await token.refresh_from_db()
        await audit.record(
            actor, "api_token.revoke", token, before=before, after=_token_snapshot(token)
        )
    return token


async def resolve_api_token(bearer: str, *, client_addr: str = "") -> Actor | None:
    """The partner actor of a bearer token; None when unknown, revoked or expired.

    Raises throttle.RateLimited past the token's requests per minute. Side effects:
    the rate counter; last_used_at refreshed at most once a minute.
    """
    if not bearer.startswith(TOKEN_PREFIX) or len(bearer) > 200:
        return None
    token = await ApiToken.get_or_none(token_hash=_sha256(bearer))
    now = _now()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    await throttle.check_token_rate(token.id, token.requests_per_minute)
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
        await ApiToken.filter(id=token.id).update(last_used_at=now)
    return Actor(
        username=token.name,
        grants=(Grant(Role.PARTNER),),
        token_id=token.id,
        token_scopes=frozenset(token.scopes),
        client_addr=client_addr,
    )


# --- personal data -----------------------------------------------------------------------


async def reveal_expert_pii(actor: Actor, expert_id: int) -> dict[str, str]:
    """The full resident ID number and phone of an expert (Perm.EXPERT_VIEW_PII).

    Experts outside the actor's view are NotFound; visible but not revealable is
    PermissionDenied. Side effects: audit event "expert.pii_read" naming the fields
    read (never their values).
    """
    if actor.is_anonymous:
        raise Unauthenticated()
    expert = await scoped(actor, Perm.EXPERT_VIEW, Expert.filter(id=expert_id)).first()
    if expert is None:
        raise NotFound("专家不存在")
    require(actor, Perm.EXPERT_VIEW_PII, expert)
    values = {"id_number": decrypt(expert.id_number_enc), "phone": decrypt(expert.phone_enc)}
    async with in_transaction():
        await audit.record(
            actor, "expert.pii_read", expert, after={"fields": ["id_number", "phone"]}
        )
    return values


async def current_user(actor: Actor) -> User | None:
    """The actor's own user row (None for anonymous, partner tokens and the system)."""
    if actor.user_id is None:
        return None
    return await User.get_or_none(id=actor.user_id, is_active=True)
