"""Relay conventions: the Node interface, global IDs and keyset connections.

A global ID is base64("TypeName:pk"). `node(id:)` / `nodes(ids:)` resolve through
the per-request DataLoaders, which load through the same scoped service functions
as the lists, so an object outside the actor's scope resolves to null there too.

Connections wrap a resolvers.directory.Page: the keyset query has already run;
`totalCount` runs its COUNT only when a client selects it.
"""

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from resolvers.directory import Page, PageArgs
from resolvers.errors import DomainError, ErrorCode

T = TypeVar("T")


def to_global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, pk), or None for anything that is not one of our IDs."""
    try:
        type_name, _, raw = base64.b64decode(global_id, validate=True).decode().partition(":")
        pk = int(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not type_name or not 0 < pk < 2**63 or str(pk) != raw:
        return None
    return type_name, pk


def expect_id(global_id: str | None, type_name: str, field: str) -> int | None:
    """The pk inside an ID argument that must name a `type_name`; bad IDs raise."""
    if global_id is None:
        return None
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        raise DomainError(ErrorCode.INVALID, f"不是有效的{type_name} ID", field)
    return parsed[1]


@strawberry.interface(
    name="Node",
    description="具有全局唯一 ID 的对象(Relay Node 接口)。\nAn object with a global ID.",
)
class Node:
    pk: strawberry.Private[int]

    @strawberry.field(description="全局唯一 ID(不透明字符串,可用于 node(id:) 查询)。\nGlobal ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(type(self).__strawberry_definition__.name, self.pk))  # type: ignore[attr-defined]


# Type name → fetch(info, pks) returning nodes (or None) in the order of pks.
NodeFetcher = Callable[[Info, Sequence[int]], Awaitable[Sequence[Node | None]]]
NODE_FETCHERS: dict[str, NodeFetcher] = {}


def register_node(type_name: str, fetch: NodeFetcher) -> None:
    NODE_FETCHERS[type_name] = fetch


MAX_NODE_IDS = 100


async def resolve_nodes(info: Info, ids: Sequence[str]) -> list[Node | None]:
    """Objects for global IDs, in order; unknown, malformed or out-of-scope → None."""
    if len(ids) > MAX_NODE_IDS:
        raise DomainError(ErrorCode.INVALID, f"ids 最多 {MAX_NODE_IDS} 个", "ids")
    wanted: dict[str, list[int]] = {}
    parsed = [from_global_id(i) for i in ids]
    for p in parsed:
        if p is not None and p[0] in NODE_FETCHERS:
            wanted.setdefault(p[0], []).append(p[1])
    found: dict[tuple[str, int], Node | None] = {}
    for type_name, pks in wanted.items():
        unique = list(dict.fromkeys(pks))
        for pk, obj in zip(unique, await NODE_FETCHERS[type_name](info, unique), strict=True):
            found[(type_name, pk)] = obj
    return [found.get(p) if p is not None else None for p in parsed]


@strawberry.type(description="分页信息。\nInformation to aid in pagination.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="向后翻页时是否还有更多记录。")
    has_previous_page: bool = strawberry.field(
        description="向前翻页时是否还有更多记录(向后翻页且带 after 时为 true)。"
    )
    start_cursor: str | None = strawberry.field(description="本页第一条记录的游标。")
    end_cursor: str | None = strawberry.field(description="本页最后一条记录的游标。")


@strawberry.type(description="连接中的一条边:一个对象及其游标。\nAn edge in a connection.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="该记录的不透明游标,用于 after/before。")
    node: T = strawberry.field(description="该记录。")


@strawberry.type(
    description=(
        "按键集(keyset)分页的列表:游标在插入新记录时保持稳定,深页与首页同样快。\n"
        "A keyset-paginated list."
    )
)
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="本页的边。")
    page_info: PageInfo = strawberry.field(description="分页信息。")
    page: strawberry.Private[Page[Any]]

    @strawberry.field(description="本页的对象(等同于 edges 中的 node)。")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]

    @strawberry.field(description="符合筛选条件的记录总数;仅在查询该字段时计算。")
    async def total_count(self) -> int:
        return await self.page.total_count()


def connection(page: Page[Any], convert: Callable[[Any], T]) -> Connection[T]:
    edges = [Edge(cursor=c, node=convert(o)) for o, c in zip(page.items, page.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        page=page,
    )


def page_args(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageArgs:
    return PageArgs(first=first, after=after, last=last, before=before)


# Argument descriptions shared by every connection field.
FIRST = "返回前 n 条(1–100,默认 20)。\nReturns the first n items."
AFTER = "返回该游标之后的记录。\nItems after this cursor."
LAST = "返回最后 n 条(1–100),与 before 配合向前翻页。\nReturns the last n items."
BEFORE = "返回该游标之前的记录。\nItems before this cursor."
