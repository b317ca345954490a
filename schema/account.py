"""The caller's own account (`me`)."""

import strawberry
from strawberry.types import Info

import schema.enums  # noqa: F401 - registers the GraphQL enums
from models.enums import Role
from schema.context import ctx


@strawberry.type(description="当前调用者:登录用户或合作方令牌。\nThe current caller.")
class CurrentUser:
    username: str = strawberry.field(description="用户名;合作方令牌为 token:<编号>。")
    roles: list[Role] = strawberry.field(description="持有的角色(去重,按授予顺序)。")


@strawberry.type(description="账户查询。")
class AccountQuery:
    @strawberry.field(description="当前调用者;匿名时为 null。\nThe caller, null when anonymous.")
    def me(self, info: Info) -> CurrentUser | None:
        actor = ctx(info).actor
        if actor.is_anonymous:
            return None
        roles = list(dict.fromkeys(g.role for g in actor.grants))
        return CurrentUser(username=actor.username or actor.label, roles=roles)
