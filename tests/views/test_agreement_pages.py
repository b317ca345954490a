"""The bureau's confidentiality agreement page over real HTTP (issue 9; R19, Art. 9(四),
25): the versions with the current one marked, hashes and signature counts; publishing
a new version as a plain form and as an htmx swap in place; field errors with values
kept; every other role refused with nothing changed; no N+1 on the list."""

import contextlib
import datetime as dt
import hashlib
import html
import itertools
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from models import AgreementSignature, AgreementText, AuditEvent
from models.enums import Role
from resolvers import account
from resolvers.actor import SYSTEM
from resolvers.evaluation import BEIJING
from tests import factories
from views.middleware import SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
ORIGIN = "https://testserver"
HX = {"HX-Request": "true"}
PATH = "/bureau/agreement"
_n = itertools.count(1)


async def _login(client: httpx.AsyncClient, role: Role, scope_id: int | None = None) -> str:
    """Log `client` in as a new user of `role`; returns the CSRF token."""
    username = f"a{next(_n)}-{role.value}"
    await account.create_user(
        SYSTEM,
        username=username,
        display_name=f"{role.value}用户",
        password=PASSWORD,
        role=role,
        scope_id=scope_id,
    )
    r = await client.post(
        "/login", data={"username": username, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 303, r.text
    resolved = await account.resolve_login_session(client.cookies.get(SESSION_COOKIE) or "")
    assert resolved is not None
    return resolved[1].csrf_token


async def _text(version: str, content: str, *, at: dt.datetime | None = None) -> AgreementText:
    text = await AgreementText.create(
        version=version, content=content, content_hash=hashlib.sha256(content.encode()).hexdigest()
    )
    if at is not None:  # created_at is auto_now_add: set the publication time afterwards
        await AgreementText.filter(id=text.id).update(created_at=at)
        await text.refresh_from_db()
    return text


async def _sign(text: AgreementText, n: int) -> None:
    for _ in range(n):
        expert = await factories.expert()
        await AgreementSignature.create(
            expert=expert,
            agreement=text,
            signed_at=dt.datetime.now(dt.UTC),
            content_hash=text.content_hash,
        )


def _rows(page: str) -> list[tuple[str, str, str, str, str]]:
    """(version, status, published, hash, signed) of each row of the versions table."""
    table = re.search(r'<table class="agreement-versions">(.*?)</table>', page, re.S)
    assert table is not None, page
    out = []
    for row in re.findall(r"<tr[^>]*>\s*<th scope=\"row\">(.*?)</tr>", table.group(1), re.S):
        version, rest = row.split("</th>", 1)
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", rest, re.S)
        ]
        out.append((html.unescape(version), *cells))  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def _field_error(page: str, element_id: str) -> tuple[str, str] | None:
    m = re.search(
        r'<p class="field-error" id="' + re.escape(element_id) + r'-error" data-code="([A-Z_]+)">'
        r"(.*?)</p>",
        page,
    )
    return (m.group(1), html.unescape(m.group(2))) if m else None


async def _state() -> tuple[Any, ...]:
    return (
        await AgreementText.all().order_by("id").values_list("version", "content_hash"),
        await AgreementSignature.all().count(),
        await AuditEvent.all().count(),
    )


def _local(value: dt.datetime) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


async def test_bureau_sees_versions_current_marked_with_hashes_and_signature_counts_r19(
    client: httpx.AsyncClient,
) -> None:
    old = await _text("2023年版", "旧版协议全文", at=dt.datetime(2023, 3, 1, 1, 0, tzinfo=dt.UTC))
    new = await _text("2026年版", "新版协议全文", at=dt.datetime(2026, 5, 1, 2, 30, tzinfo=dt.UTC))
    await _sign(old, 3)
    await _sign(new, 1)
    await _login(client, Role.BUREAU)

    r = await client.get(PATH)

    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert _rows(r.text) == [
        ("2026年版", "现行版本", "2026-05-01 10:30", new.content_hash, "1 人"),
        ("2023年版", "已被新版本取代", "2023-03-01 09:00", old.content_hash, "3 人"),
    ]
    assert "旧版协议全文" in r.text and "新版协议全文" in r.text
    assert 'href="/bureau/agreement"' in r.text  # the bureau's navigation entry


async def test_publish_plain_form_redirects_and_new_version_becomes_current_r19(
    client: httpx.AsyncClient,
) -> None:
    await _text("2023年版", "旧版协议全文")
    csrf = await _login(client, Role.BUREAU)

    r = await client.post(
        PATH, data={"csrf_token": csrf, "version": "2026年版", "content": "第一条 保守评审秘密。"}
    )

    assert (r.status_code, r.headers["location"]) == (303, f"{PATH}?done=published")
    text = await AgreementText.get(version="2026年版")
    assert text.content_hash == hashlib.sha256("第一条 保守评审秘密。".encode()).hexdigest()
    event = await AuditEvent.get(action="agreement_text.publish")
    assert (event.target_id, event.after["version"]) == (str(text.id), "2026年版")
    page = (await client.get(r.headers["location"])).text
    assert "新版保密协议已发布" in page
    assert [(v, s, sig) for v, s, _, _, sig in _rows(page)] == [
        ("2026年版", "现行版本", "0 人"),
        ("2023年版", "已被新版本取代", "0 人"),
    ]


async def test_publish_htmx_swaps_the_section_in_place(client: httpx.AsyncClient) -> None:
    csrf = await _login(client, Role.BUREAU)

    r = await client.post(
        PATH, data={"csrf_token": csrf, "version": "v9", "content": "协议正文"}, headers=HX
    )

    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="agreement"')
    assert "<html" not in r.text
    assert [(v, s) for v, s, *_ in _rows(r.text)] == [("v9", "现行版本")]
    assert "新版保密协议已发布" in r.text
    assert 'id="agreement-version" name="version" type="text" value=""' in r.text  # emptied
    assert await AgreementText.filter(version="v9").count() == 1


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
async def test_publish_errors_sit_next_to_fields_values_kept_nothing_changed(
    client: httpx.AsyncClient, htmx: bool
) -> None:
    await _text("2023年版", "旧版协议全文")
    csrf = await _login(client, Role.BUREAU)
    headers = HX if htmx else {}
    before = await _state()

    duplicate = await client.post(
        PATH,
        data={"csrf_token": csrf, "version": "2023年版", "content": "改过的全文<b>"},
        headers=headers,
    )
    blank = await client.post(
        PATH, data={"csrf_token": csrf, "version": "2027年版", "content": "  "}, headers=headers
    )

    assert (duplicate.status_code, blank.status_code) == (422, 422)
    assert _field_error(duplicate.text, "agreement-version") == ("DUPLICATE", "该版本已发布")
    assert "改过的全文&lt;b&gt;</textarea>" in duplicate.text  # kept, escaped
    assert _field_error(blank.text, "agreement-content")[0] == "REQUIRED"  # type: ignore[index]
    assert 'value="2027年版"' in blank.text
    assert ("<html" in blank.text) is not htmx
    assert await _state() == before


PAGE_STATUS = {
    Role.INSTITUTION: 403,
    Role.EXPERT: 403,
    Role.SUPERVISOR: 403,
    Role.RECOMMENDER: 403,
    Role.EMPLOYER: 403,
}


@pytest.mark.parametrize("role", list(PAGE_STATUS))
async def test_other_roles_are_refused_page_and_publish_and_nothing_changes_r19(
    client: httpx.AsyncClient, role: Role
) -> None:
    await _text("2023年版", "旧版协议全文")
    scope = {
        Role.INSTITUTION: (await factories.institution()).id,
        Role.EXPERT: (await factories.expert()).id,
        Role.RECOMMENDER: (await factories.authority()).id,
        Role.EMPLOYER: (await factories.unit()).id,
    }.get(role)
    csrf = await _login(client, role, scope)
    before = await _state()

    page = await client.get(PATH)
    post = await client.post(PATH, data={"csrf_token": csrf, "version": "v2", "content": "x"})

    assert (page.status_code, post.status_code) == (PAGE_STATUS[role], PAGE_STATUS[role])
    assert 'href="/bureau/agreement"' not in (await client.get("/")).text
    assert await _state() == before


async def test_anonymous_is_sent_to_login_and_cannot_publish(client: httpx.AsyncClient) -> None:
    before = await _state()

    page = await client.get(PATH)
    post = await client.post(PATH, data={"version": "v2", "content": "x"})

    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert post.status_code in (303, 403)
    assert await _state() == before


class _SQLCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        sql = args[0] if isinstance(args, tuple) and args else record.msg
        if str(sql).lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
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


async def test_the_page_issues_the_same_statements_for_1_and_50_versions(
    client: httpx.AsyncClient,
) -> None:
    await _login(client, Role.BUREAU)

    async def statements() -> int:
        with _count_sql() as counter:
            r = await client.get(PATH)
        assert r.status_code == 200
        return counter.count

    first = await _text("v0", "全文0")
    await _sign(first, 2)
    one = await statements()
    for i in range(1, 50):
        await _text(f"v{i}", f"全文{i}")
    fifty = await statements()

    assert one > 0 and fifty == one
    assert len(_rows((await client.get(PATH)).text)) == 50
