"""The caller's own account: `me`, and `login` / `logout` for cookie sessions."""

from typing import Annotated

import strawberry
from strawberry.types import Info

import schema.enums  # noqa: F401 - registers the GraphQL enums
from models.enums import Role
from resolvers import account
from resolvers.actor import Actor
from resolvers.config import get_config
from schema.context import ctx
from schema.errors import UserError
from schema.mutation import attempt


@strawberry.type(description="当前调用者:登录用户或合作方令牌。\nThe current caller.")
class CurrentUser:
    username: str = strawberry.field(description="用户名;合作方令牌为 token:<编号>。")
    roles: list[Role] = strawberry.field(description="持有的角色(去重,按授予顺序)。")


def current_user(actor: Actor) -> CurrentUser | None:
    if actor.is_anonymous:
        return None
    roles = list(dict.fromkeys(g.role for g in actor.grants))
    return CurrentUser(username=actor.username or actor.label, roles=roles)


@strawberry.type(description="账户查询。")
class AccountQuery:
    @strawberry.field(description="当前调用者;匿名时为 null。\nThe caller, null when anonymous.")
    def me(self, info: Info) -> CurrentUser | None:
        return current_user(ctx(info).actor)


@strawberry.input(description="登录输入。\nLogin input.")
class LoginInput:
    username: str = strawberry.field(description="用户名。")
    password: str = strawberry.field(description="密码(不会被记录)。")


@strawberry.type(description="登录结果;成功时响应设置会话 Cookie。\nLogin result.")
class LoginPayload:
    me: CurrentUser | None = strawberry.field(description="登录后的调用者;失败时为 null。")
    errors: list[UserError] = strawberry.field(
        description="失败原因:INVALID_CREDENTIALS(用户名或密码不正确)或 THROTTLED。"
    )


@strawberry.type(description="退出登录结果。\nLogout result.")
class LogoutPayload:
    ok: bool = strawberry.field(description="是否结束了一个登录会话。")
    errors: list[UserError] = strawberry.field(description="总为空列表。")


def _client_addr(info: Info) -> str:
    request = ctx(info).request
    return request.client.host if request is not None and request.client else ""


@strawberry.type(description="账户变更。")
class AccountMutation:
    @strawberry.mutation(
        description="用户名密码登录(与登录页面相同的限流与审计);成功时设置 HttpOnly 会话 Cookie。"
        "\nLog in; the session cookie is set on success."
    )
    async def login(
        self,
        info: Info,
        input: Annotated[LoginInput, strawberry.argument(description="用户名与密码。")],
    ) -> LoginPayload:
        addr = _client_addr(info)

        async def call() -> tuple[str, Actor]:
            user = await account.authenticate(input.username, input.password, addr)
            cookie, _ = await account.start_login_session(user, addr)
            return cookie, await account.load_actor(user, client_addr=addr)

        result, errors = await attempt(info, call)
        if result is None:
            return LoginPayload(me=None, errors=errors)
        cookie, actor = result
        response = ctx(info).response
        if response is not None:
            response.set_cookie(
                account.SESSION_COOKIE,
                cookie,
                **account.session_cookie_params(debug=get_config().debug),
            )
        return LoginPayload(me=current_user(actor), errors=[])

    @strawberry.mutation(description="结束当前登录会话。\nEnd the current login session.")
    async def logout(self, info: Info) -> LogoutPayload:
        request = ctx(info).request
        session = getattr(request.state, "login_session", None) if request is not None else None
        if session is None:
            return LogoutPayload(ok=False, errors=[])
        await account.end_login_session(ctx(info).actor, session)
        response = ctx(info).response
        if response is not None:
            params = account.session_cookie_params(debug=get_config().debug)
            response.delete_cookie(
                account.SESSION_COOKIE,
                path=params["path"],
                secure=params["secure"],
                httponly=True,
                samesite="lax",
            )
        return LogoutPayload(ok=True, errors=[])
