"""The expert pool list page /experts (issues #9, #10; SPEC R5 scope, "Personal data").

Real app, real database: users log in through the login form; experts come from
tests/factories. The scope is resolvers.directory.list_experts's (policy EXPERT_VIEW).
"""

import contextlib
import datetime as dt
import html
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from models import ExpertTerm, Institution, Unit
from models.enums import ExpertStatus, Level, Role, TermStatus, UnitType
from resolvers import account
from resolvers.actor import SYSTEM
from resolvers.common import beijing_today
from resolvers.eligibility import term_end
from tests import factories
from views.middleware import SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
ORIGIN = "https://testserver"
ROW = re.compile(r"<tr>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>")


async def _login(
    client: httpx.AsyncClient, username: str, role: Role, scope_id: int | None = None
) -> None:
    await account.create_user(
        SYSTEM,
        username=username,
        display_name=username,
        password=PASSWORD,
        role=role,
        scope_id=scope_id,
    )
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 303, response.text
    assert await account.resolve_login_session(client.cookies.get(SESSION_COOKIE) or "")


def _rows(page: str) -> list[tuple[str, str]]:
    """(number, name) of each listed expert, in page order."""
    return [(html.unescape(n), html.unescape(m)) for n, m in ROW.findall(page)]


def _numbers(page: str) -> list[str]:
    return [n for n, _ in _rows(page)]


def _next(page: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="next"', page)
    return html.unescape(m.group(1)) if m else None


def _prev(page: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="prev"', page)
    return html.unescape(m.group(1)) if m else None


@pytest.fixture
async def world() -> dict:
    own = await factories.institution(name="本机构")
    other = await factories.institution(name="他机构")
    district = await factories.unit(UnitType.DISTRICT, name="区属医院")
    experts = {
        "wang": await factories.expert(
            number="E9000001", name="王一", institution=own, unit=district
        ),
        "wang2": await factories.expert(
            number="E9000002", name="王二", institution=own, title_level=Level.ASSOCIATE_SENIOR
        ),
        "li": await factories.expert(
            number="E9000003",
            name="李三",
            institution=own,
            series="卫生技术",
            status=ExpertStatus.SUSPENDED,
        ),
        "foreign": await factories.expert(number="E9000004", name="王外", institution=other),
    }
    start = beijing_today() - dt.timedelta(days=30)
    await ExpertTerm.create(
        expert=experts["wang"], number=1, start_on=start, end_on=term_end(start)
    )
    return {"own": own, "other": other, "unit": district, "experts": experts, "start": start}


# --- scope (R5) ---------------------------------------------------------------------------


async def test_bureau_sees_every_expert_without_personal_data(client, world):
    await _login(client, "bureau1", Role.BUREAU)
    response = await client.get("/experts")
    assert response.status_code == 200
    assert _numbers(response.text) == ["E9000001", "E9000002", "E9000003", "E9000004"]
    assert response.headers["cache-control"] == "no-store"
    assert '<div hx-history="false">' in response.text
    assert '<html lang="zh-CN">' in response.text
    assert "区属医院" in response.text
    assert "<td>卫生技术 / 电子信息</td>" in response.text
    assert "<td>正高级</td>" in response.text and "<td>副高级</td>" in response.text
    assert ">在库</td>" in response.text and ">暂停</td>" in response.text
    assert str(term_end(world["start"])) in response.text
    for e in world["experts"].values():
        assert e.id_number_masked not in response.text
        assert e.phone_masked not in response.text
    assert 'href="/experts"' in response.text  # the nav item


async def test_institution_staff_see_only_their_institutions_experts(client, world):
    await _login(client, "inst1", Role.INSTITUTION, world["own"].id)
    response = await client.get("/experts")
    assert response.status_code == 200
    assert _numbers(response.text) == ["E9000001", "E9000002", "E9000003"]
    assert "王外" not in response.text
    # Asking for the other institution's expert by number finds nothing.
    narrowed = await client.get("/experts?number=E9000004")
    assert _numbers(narrowed.text) == []
    assert "没有符合条件的专家" in narrowed.text


async def test_expert_sees_only_self_and_employer_only_its_unit(client, asgi_app, world):
    """EXPERT_VIEW scopes an expert to self and an employer to its unit (policy)."""
    await _login(client, "expert1", Role.EXPERT, world["experts"]["li"].id)
    assert _numbers((await client.get("/experts")).text) == ["E9000003"]
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as other:
        await _login(other, "employer1", Role.EMPLOYER, world["unit"].id)
        assert _numbers((await other.get("/experts")).text) == ["E9000001"]


async def test_a_role_without_expert_view_is_forbidden(client, world):
    """Supervisors (like applicants and partners) hold no EXPERT_VIEW: 403, no rows."""
    await _login(client, "supervisor1", Role.SUPERVISOR)
    response = await client.get("/experts")
    assert response.status_code == 403
    assert "王一" not in response.text
    home = await client.get("/")
    assert 'href="/experts"' not in home.text


async def test_anonymous_is_sent_to_login(client, world):
    url = "/experts?status=in_pool&sort=name_asc"
    response = await client.get(url)
    htmx = await client.get(url, headers={"HX-Request": "true"})
    expected = "/login?" + str(httpx.QueryParams({"next": url}))
    assert (response.status_code, response.headers["location"]) == (303, expected)
    assert (htmx.status_code, htmx.headers["hx-redirect"]) == (204, expected)


# --- search, filters, sorting -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=王", ["E9000001", "E9000002", "E9000004"]),
        ("name=王一", ["E9000001"]),
        ("name=一", []),  # a prefix, not a substring
        ("number=E9000003", ["E9000003"]),
        ("series=卫生技术", ["E9000003"]),
        ("level=associate_senior", ["E9000002"]),
        ("status=suspended", ["E9000003"]),
        ("status=in_pool", ["E9000001", "E9000002", "E9000004"]),
        ("unit_type=district", ["E9000001"]),
        ("name=王&level=senior", ["E9000001", "E9000004"]),
        ("sort=number_desc", ["E9000004", "E9000003", "E9000002", "E9000001"]),
        ("sort=name_asc&name=王", ["E9000001", "E9000002", "E9000004"]),  # 一 < 二 < 外
        ("level=bogus&status=bogus&sort=bogus", ["E9000001", "E9000002", "E9000003", "E9000004"]),
    ],
)
async def test_each_filter_narrows_and_the_form_keeps_it(client, world, query, expected):
    await _login(client, "bureau1", Role.BUREAU)
    response = await client.get(f"/experts?{query}")
    assert response.status_code == 200
    assert _numbers(response.text) == expected
    for pair in query.split("&"):
        key, value = pair.split("=")
        if value != "bogus" and key in ("name", "number"):
            assert f'name="{key}" type="search" value="{value}"' in response.text
        elif value != "bogus":
            assert f'<option value="{value}" selected>' in response.text


async def test_a_forged_cursor_is_a_clear_error(client, world):
    await _login(client, "bureau1", Role.BUREAU)
    response = await client.get("/experts?after=not-a-cursor")
    assert response.status_code == 400
    assert "游标无效" in response.text


# --- pagination, htmx -----------------------------------------------------------------------


async def test_pagination_walks_every_row_once_both_ways(client):
    for n in range(45):
        await factories.expert(number=f"P{n:07d}", name=f"翻页{n:02d}")
    await _login(client, "bureau1", Role.BUREAU)
    seen: list[str] = []
    pages: list[str] = []
    url: str | None = "/experts?name=翻页&sort=number_desc"
    while url:
        page = (await client.get(url)).text
        pages.append(url)
        seen += _numbers(page)
        url = _next(page)
        if url:
            assert "name=%E7%BF%BB%E9%A1%B5" in url and "sort=number_desc" in url
    assert seen == sorted((f"P{n:07d}" for n in range(45)), reverse=True)
    assert len(pages) == 3
    # Back from the last page: previous links give the same pages again.
    back: list[str] = []
    last = (await client.get(pages[-1])).text
    prev = _prev(last)
    while prev:
        page = (await client.get(prev)).text
        back = _numbers(page) + back
        prev = _prev(page)
    assert back + _numbers(last) == seen


async def test_htmx_gets_only_the_table_fragment(client, world):
    await _login(client, "bureau1", Role.BUREAU)
    fragment = await client.get("/experts?name=王", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="expert-list-results"')
    assert _numbers(fragment.text) == ["E9000001", "E9000002", "E9000004"]
    assert fragment.headers["cache-control"] == "no-store"
    whole = await client.get("/experts?name=王")
    assert "<html" in whole.text and 'hx-push-url="true"' in whole.text


# --- N+1 guard ------------------------------------------------------------------------------


class _SQLCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        sql = args[0] if isinstance(args, tuple) and args else record.msg
        text = str(sql).lstrip().upper()
        if text.startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.count += 1


@contextlib.contextmanager
def _count_sql() -> Iterator[_SQLCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter, level = _SQLCounter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


async def test_the_list_issues_the_same_statements_for_5_and_50_experts(client):
    inst = await factories.institution()
    await _login(client, "bureau1", Role.BUREAU)
    start = beijing_today() - dt.timedelta(days=10)

    async def fill(n: int) -> None:
        for _ in range(n):
            unit = await factories.unit(UnitType.CENTRAL)
            e = await factories.expert(institution=inst, unit=unit)
            await ExpertTerm.create(
                expert=e, number=1, start_on=start, end_on=term_end(start), status=TermStatus.ACTIVE
            )

    async def statements() -> int:
        with _count_sql() as counter:
            response = await client.get("/experts")
        assert response.status_code == 200
        return counter.count

    await fill(5)
    five = await statements()
    await fill(45)
    fifty = await statements()
    assert five > 0 and fifty == five
    assert await Unit.all().count() >= 50 and await Institution.all().count() == 1
