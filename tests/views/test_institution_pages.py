"""The institution pages over real HTTP (issue 5 item 8, issue 9 items 1, 3, 4, 6):
the public directory and plans (R1), the bureau's filing queue and review, the
staff's application, committee and plan pages, error pages, htmx fragments, CSRF."""

import contextlib
import datetime as dt
import html
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from models import (
    AnnualPlan,
    AuditEvent,
    Committee,
    CommitteeSeat,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
)
from models.enums import (
    ApplicationStatus,
    FilingStatus,
    InstitutionKind,
    Level,
    PlanStatus,
    Role,
)
from resolvers import account
from resolvers import institution as svc
from resolvers.actor import SYSTEM, Actor, Grant
from resolvers.common import beijing_today
from tests import factories
from views.middleware import CONTENT_SECURITY_POLICY, SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
ORIGIN = "https://testserver"
TODAY = beijing_today()
YEAR = TODAY.year
F = FilingStatus


# --- helpers -----------------------------------------------------------------------------


@asynccontextmanager
async def _browser(asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser (its own cookie jar) on the same app."""
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        yield c


async def _login(
    client: httpx.AsyncClient, username: str, role: Role, scope_id: int | None = None
) -> str:
    """Create a user holding `role`, log in through the login form and return the
    login session's CSRF token."""
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
    resolved = await account.resolve_login_session(client.cookies.get(SESSION_COOKIE) or "")
    assert resolved is not None
    return resolved[1].csrf_token


def _links(page: str, prefix: str) -> list[str]:
    """Texts of links whose href starts with `prefix`, in page order."""
    pattern = r'<a href="' + re.escape(prefix) + r'[^"]*"[^>]*>(.*?)</a>'
    return [html.unescape(t) for t in re.findall(pattern, page)]


def _field_error(page: str, element_id: str) -> tuple[str, str] | None:
    m = re.search(
        r'<p class="field-error" id="'
        + re.escape(element_id)
        + r'" data-code="([A-Z_]+)">(.*?)</p>',
        page,
    )
    return (m.group(1), html.unescape(m.group(2))) if m else None


def _proposed(**over: Any) -> dict[str, Any]:
    return {
        "name": "电子信息专业高级评委会",
        "series": "工程技术",
        "specialty": "电子信息",
        "level": Level.SENIOR,
        "applicant_scope": "本市电子信息领域专业技术人员",
        "quantitative_standard": "论文、专利、项目按分值计算",
        "procedure": "资格审查、专家评议、投票表决",
        **over,
    }


def _content(**over: Any) -> dict[str, Any]:
    return {
        "kind": InstitutionKind.ASSOCIATION,
        "introduction": "北京市某学会,成立于1990年。",
        "person_in_charge": "张三",
        "professional_scope": "工程技术系列电子信息专业",
        "purpose": "开展电子信息专业职称评审",
        "office_address": "北京市西城区某路1号",
        "phone": "010-66001234",
        "full_time_staff": 6,
        "facilities": "评审会议室2间,录音录像设备",
        "strengths": "行业覆盖面广",
        "proposed_committees": [_proposed()],
        **over,
    }


def _application_form(**over: str) -> dict[str, str]:
    """The application form as a browser posts it: one committee row and a blank one."""
    data = {
        "kind": "association",
        "introduction": "北京市电子学会,成立于1990年。",
        "personInCharge": "李四",
        "professionalScope": "工程技术系列电子信息专业",
        "purpose": "开展电子信息专业职称评审",
        "officeAddress": "北京市海淀区某路8号",
        "phone": "010-62001234",
        "fullTimeStaff": "5",
        "facilities": "评审会议室1间,录音录像设备",
        "strengths": "行业覆盖面广",
        "proposedCommittees[0].name": "电子信息专业高级评委会",
        "proposedCommittees[0].series": "工程技术",
        "proposedCommittees[0].specialty": "电子信息",
        "proposedCommittees[0].level": "senior",
        "proposedCommittees[0].applicantScope": "本市电子信息领域专业技术人员",
        "proposedCommittees[0].quantitativeStandard": "论文、专利、项目按分值计算",
        "proposedCommittees[0].procedure": "资格审查、专家评议、投票表决",
        "proposedCommittees[0].selfEvaluation": "1",
        "proposedCommittees[1].name": "",
        "proposedCommittees[1].series": "",
        "proposedCommittees[1].specialty": "",
        "proposedCommittees[1].level": "",
        "proposedCommittees[1].applicantScope": "",
        "proposedCommittees[1].quantitativeStandard": "",
        "proposedCommittees[1].procedure": "",
    }
    data.update(over)
    return data


async def _committee(inst: Institution, status: FilingStatus = F.DRAFT, **kw: Any) -> Committee:
    filed = status == F.FILED
    return await Committee.create(
        institution_id=inst.id,
        name=kw.pop("name", f"{inst.name}评委会"),
        series="工程技术",
        specialty="电子信息",
        level=kw.pop("level", Level.SENIOR),
        applicant_scope="本市电子信息领域",
        quantitative_standard="量化",
        procedure="程序",
        status=status,
        filed_at=TODAY if filed else None,
        valid_until=kw.pop("valid_until", TODAY.replace(year=YEAR + 3) if filed else None),
        **kw,
    )


async def _staff_actor(inst: Institution) -> Actor:
    user = await account.create_user(
        SYSTEM,
        username=f"svc{inst.id}",
        display_name="机构",
        password=PASSWORD,
        role=Role.INSTITUTION,
        scope_id=inst.id,
    )
    return Actor(
        user_id=user.id,
        username=user.username,
        grants=(Grant(Role.INSTITUTION, institution_id=inst.id),),
    )


async def _bureau_actor() -> Actor:
    user = await account.create_user(
        SYSTEM, username="svcbureau", display_name="局", password=PASSWORD, role=Role.BUREAU
    )
    return Actor(user_id=user.id, username=user.username, grants=(Grant(Role.BUREAU),))


async def _snapshot() -> dict[str, Any]:
    """Everything a denied request could have changed."""
    return {
        "events": await AuditEvent.all().count(),
        "institutions": await Institution.all().order_by("id").values("id", "status", "version"),
        "applications": await InstitutionApplication.all()
        .order_by("id")
        .values("id", "status", "version"),
        "committees": await Committee.all().order_by("id").values("id", "status", "version"),
        "seats": await CommitteeSeat.all().order_by("id").values("id", "expert_id", "seat"),
        "plans": await AnnualPlan.all().order_by("id").values("id", "status", "version"),
        "assessments": await InstitutionAssessment.all().count(),
    }


# --- the public directory (R1) -----------------------------------------------------------


async def test_directory_lists_only_institutions_in_force_r1(client):
    """R1: drafts, lapsed filings (even before the sweep), suspended and revoked
    institutions exist but never show in the public directory — not even to the bureau."""
    await factories.institution(name="甲评审机构")
    await factories.institution(name="乙草稿机构", status=F.DRAFT)
    await factories.institution(name="丙过期机构", valid_until=TODAY - dt.timedelta(days=1))
    await factories.institution(name="丁已到期机构", status=F.EXPIRED)
    await factories.institution(name="戊暂停机构", status=F.SUSPENDED)
    await factories.institution(name="己撤销机构", status=F.REVOKED)
    await factories.institution(name="庚今日到期机构", valid_until=TODAY)

    anonymous = await client.get("/directory")
    await _login(client, "bureau1", Role.BUREAU)
    bureau = await client.get("/directory")

    expected = ["庚今日到期机构", "甲评审机构"]
    assert anonymous.status_code == 200
    assert sorted(_links(anonymous.text, "/directory/institutions/")) == sorted(expected)
    assert sorted(_links(bureau.text, "/directory/institutions/")) == sorted(expected)


async def test_directory_committees_only_in_force_of_institutions_in_force_r1(client):
    good = await factories.institution(name="甲评审机构")
    draft_inst = await factories.institution(name="乙草稿机构", status=F.DRAFT)
    await _committee(good, F.FILED, name="甲在效评委会")
    await _committee(good, F.DRAFT, name="甲草稿评委会")
    await _committee(good, F.FILED, name="甲过期评委会", valid_until=TODAY - dt.timedelta(days=1))
    await _committee(draft_inst, F.FILED, name="乙机构的评委会")

    page = (await client.get("/directory?view=committees")).text

    rows = re.findall(r"<tr>\s*<td>([^<]+?)(?: <span|</td>)", page)
    assert rows == ["甲在效评委会"]
    assert _links(page, "/directory/institutions/") == ["甲评审机构"]


async def test_directory_search_and_kind_filter(client):
    await factories.institution(name="北京电子学会", kind=InstitutionKind.ASSOCIATION)
    await factories.institution(name="北京电子人才中心", kind=InstitutionKind.TALENT_SERVICE)
    await factories.institution(name="北京化工学会", kind=InstitutionKind.ASSOCIATION)

    by_name = (await client.get("/directory", params={"q": "电子"})).text
    by_both = (await client.get("/directory", params={"q": "电子", "kind": "association"})).text
    descending = (await client.get("/directory", params={"sort": "name_desc"})).text

    assert _links(by_name, "/directory/institutions/") == ["北京电子人才中心", "北京电子学会"]
    assert _links(by_both, "/directory/institutions/") == ["北京电子学会"]
    assert _links(descending, "/directory/institutions/") == [
        "北京电子学会",
        "北京电子人才中心",
        "北京化工学会",
    ]
    assert '<option value="association" selected>' in by_both
    assert 'value="电子"' in by_both


async def test_directory_htmx_request_gets_only_the_results_block(client):
    await factories.institution(name="甲评审机构")

    response = await client.get("/directory", params={"q": "甲"}, headers={"HX-Request": "true"})
    full = await client.get("/directory", params={"q": "甲"})
    restore = await client.get(
        "/directory",
        params={"q": "甲"},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )

    assert response.status_code == 200
    assert response.text.startswith('<section id="directory-results"')
    assert "<html" not in response.text and "<form" not in response.text
    assert _links(response.text, "/directory/institutions/") == ["甲评审机构"]
    assert full.text.startswith("<!doctype html>")
    assert 'hx-get="/directory" hx-target="#directory-results"' in full.text
    assert 'hx-push-url="true"' in full.text
    assert restore.text.startswith("<!doctype html>")


async def test_directory_keyset_pages_keep_filters(client):
    for i in range(23):
        await factories.institution(name=f"测试机构{i:02d}")
    await factories.institution(name="其他单位")

    first = (await client.get("/directory", params={"q": "测试"})).text
    next_url = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', first).group(1))
    second = (await client.get(next_url)).text
    prev_url = html.unescape(re.search(r'<a href="([^"]+)" rel="prev"', second).group(1))
    back = (await client.get(prev_url)).text

    assert _links(first, "/directory/institutions/") == [f"测试机构{i:02d}" for i in range(20)]
    assert "q=%E6%B5%8B%E8%AF%95" in next_url
    assert _links(second, "/directory/institutions/") == [f"测试机构{i:02d}" for i in range(20, 23)]
    assert 'rel="next"' not in second
    assert _links(back, "/directory/institutions/") == _links(first, "/directory/institutions/")


async def test_directory_forged_cursor_shows_an_error_not_a_crash(client):
    response = await client.get("/directory", params={"after": "not-a-cursor"})
    assert response.status_code == 400
    assert '<p class="form-error" role="alert">游标无效</p>' in response.text


async def test_institution_page_public_sees_in_force_only(client):
    good = await factories.institution(name="甲评审机构", person_in_charge="王五")
    draft = await factories.institution(name="乙草稿机构", status=F.DRAFT)
    await _committee(good, F.FILED, name="甲在效评委会")
    await _committee(good, F.DRAFT, name="甲草稿评委会")

    shown = await client.get(f"/directory/institutions/{good.id}")
    hidden = await client.get(f"/directory/institutions/{draft.id}")

    assert shown.status_code == 200
    assert "<dd>王五</dd>" in shown.text
    assert "甲在效评委会" in shown.text and "甲草稿评委会" not in shown.text
    assert "/suspend" not in shown.text and "/bureau/assessments" not in shown.text
    assert hidden.status_code == 404
    assert '<h1 id="error-heading">页面不存在</h1>' in hidden.text
    assert "乙草稿机构" not in hidden.text


async def test_institutions_nav_link_redirects_to_directory(client):
    response = await client.get("/institutions?q=x")
    assert (response.status_code, response.headers["location"]) == (308, "/directory?q=x")


# --- annual plans ---------------------------------------------------------------------------


async def test_plans_page_shows_published_plans_only(client):
    inst = await factories.institution(name="甲评审机构")
    committee = await _committee(inst, F.FILED, name="甲在效评委会")
    other = await _committee(inst, F.FILED, name="甲另一评委会")
    common = {
        "series": "工程技术",
        "specialty": "电子信息",
        "level": Level.SENIOR,
        "conditions": "条件",
        "procedure": "程序",
        "method": "方式",
        "contact_phone": "010-66001234",
        "material_requirements": "材料",
    }
    await AnnualPlan.create(committee=committee, year=YEAR, status=PlanStatus.PUBLISHED, **common)
    await AnnualPlan.create(committee=committee, year=YEAR + 1, status=PlanStatus.DRAFT, **common)
    await AnnualPlan.create(
        committee=other,
        year=YEAR - 1,
        status=PlanStatus.PUBLISHED,
        **{**common, "level": Level.INTERMEDIATE},
    )

    anonymous = (await client.get("/plans")).text
    filtered = (await client.get("/plans", params={"level": "intermediate"})).text
    await _login(client, "staff1", Role.INSTITUTION, inst.id)
    staff = (await client.get("/plans")).text

    titles = re.compile(r'<h2 class="plan-title">(.*?)</h2>')
    assert titles.findall(anonymous) == [
        f"{YEAR}年度 · 甲在效评委会",
        f"{YEAR - 1}年度 · 甲另一评委会",
    ]
    assert titles.findall(filtered) == [f"{YEAR - 1}年度 · 甲另一评委会"]
    assert titles.findall(staff) == titles.findall(anonymous)


# --- who may open which page ---------------------------------------------------------------


@pytest.fixture
async def world() -> dict[str, Any]:
    """Two institutions: A filed (committee, a submitted re-filing), B filed."""
    a = await factories.institution(name="甲评审机构")
    b = await factories.institution(name="乙评审机构")
    committee = await _committee(a, F.DRAFT, name="甲评委会")
    staff_a = await _staff_actor(a)
    app = await svc.create_institution_application(staff_a, a.id, **_content())
    await svc.submit_institution_application(staff_a, app.id)
    return {"a": a, "b": b, "committee": committee, "application": app}


PAGES = {
    "filings": "/bureau/filings",
    "review": "/bureau/filings/institutions/{application}",
    "committee_review": "/bureau/filings/committees/{committee}",
    "assess": "/bureau/assessments/new?institution={a}",
    "own": "/institution",
    "application": "/institution/application",
    "committee_new": "/institution/committees/new",
    "committee": "/institution/committees/{committee}",
    "plan": "/institution/plans/{committee}/" + str(YEAR),
}
# role → page → status. staff_b is staff of the other institution: its committee
# pages look absent (404); pages of another role's area are forbidden (403).
EXPECTED = {
    "bureau": {
        "filings": 200,
        "review": 200,
        "committee_review": 200,
        "assess": 200,
        "own": 403,
        "application": 403,
        "committee_new": 403,
        "committee": 403,
        "plan": 403,
    },
    "staff_a": {
        "filings": 403,
        "review": 403,
        "committee_review": 403,
        "assess": 403,
        "own": 200,
        "application": 200,
        "committee_new": 200,
        "committee": 200,
        "plan": 200,
    },
    "staff_b": {
        "filings": 403,
        "review": 403,
        "committee_review": 403,
        "assess": 403,
        "own": 200,
        "application": 200,
        "committee_new": 200,
        "committee": 404,
        "plan": 404,
    },
    "expert": dict.fromkeys(PAGES, 403),
}


def _url(page: str, world: dict[str, Any]) -> str:
    return PAGES[page].format(
        application=world["application"].id, committee=world["committee"].id, a=world["a"].id
    )


async def _login_role(client: httpx.AsyncClient, who: str, world: dict[str, Any]) -> str:
    if who == "bureau":
        return await _login(client, "bureau1", Role.BUREAU)
    if who == "staff_a":
        return await _login(client, "staffa", Role.INSTITUTION, world["a"].id)
    if who == "staff_b":
        return await _login(client, "staffb", Role.INSTITUTION, world["b"].id)
    expert = await factories.expert()
    return await _login(client, "expert1", Role.EXPERT, expert.id)


@pytest.mark.parametrize("who", sorted(EXPECTED))
async def test_pages_render_for_their_role_only(client, world, who):
    await _login_role(client, who, world)
    statuses = {page: (await client.get(_url(page, world))).status_code for page in PAGES}
    assert statuses == EXPECTED[who]


async def test_private_pages_send_no_store_and_no_history(client, world):
    await _login(client, "staffa", Role.INSTITUTION, world["a"].id)
    for page in ("own", "application", "committee", "plan"):
        response = await client.get(_url(page, world))
        assert response.headers["cache-control"] == "no-store", page
        assert '<div hx-history="false">' in response.text, page


@pytest.mark.parametrize("page", sorted(PAGES))
async def test_anonymous_is_sent_to_login_and_back(client, world, page):
    url = _url(page, world)
    response = await client.get(url)
    htmx = await client.get(url, headers={"HX-Request": "true"})
    expected = "/login?" + httpx.QueryParams({"next": url}).__str__()
    assert (response.status_code, response.headers["location"]) == (303, expected)
    assert (htmx.status_code, htmx.headers["hx-redirect"]) == (204, expected)


async def test_unknown_page_is_a_styled_404(client):
    response = await client.get("/no/such/page")
    fragment = await client.get("/no/such/page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert '<html lang="zh-CN">' in response.text
    assert '<h1 id="error-heading">页面不存在</h1>' in response.text
    assert fragment.status_code == 404
    assert fragment.text.startswith('<section class="error-page"')


async def test_forbidden_page_is_a_styled_403(client, world):
    await _login(client, "staffa", Role.INSTITUTION, world["a"].id)
    response = await client.get("/bureau/filings")
    assert response.status_code == 403
    assert '<h1 id="error-heading">无权访问</h1>' in response.text


# --- denied POSTs change nothing -------------------------------------------------------------


async def test_denied_posts_change_nothing_and_write_no_audit(client, asgi_app, world):
    a, committee, app = world["a"], world["committee"], world["application"]
    expert = await factories.expert(institution_id=a.id)
    tokens = {"staff_a": await _login(client, "staffa", Role.INSTITUTION, a.id)}
    async with _browser(asgi_app) as bureau, _browser(asgi_app) as staff_b:
        tokens["bureau"] = await _login(bureau, "bureau1", Role.BUREAU)
        tokens["staff_b"] = await _login(staff_b, "staffb", Role.INSTITUTION, world["b"].id)
        browsers = {"staff_a": client, "bureau": bureau, "staff_b": staff_b}
        attempts = [
            ("staff_a", f"/bureau/filings/institutions/{app.id}/file", {}, 403),
            ("staff_a", f"/bureau/filings/institutions/{app.id}/reject", {"reason": "x"}, 403),
            ("staff_a", f"/bureau/institutions/{a.id}/suspend", {"reason": "x"}, 403),
            ("staff_a", f"/bureau/institutions/{a.id}/revoke", {"reason": "x"}, 403),
            (
                "staff_a",
                "/bureau/assessments",
                {
                    "institution": str(a.id),
                    "method": "inquiry",
                    "assessedOn": TODAY.isoformat(),
                    "findings": "x",
                    "result": "fail",
                },
                403,
            ),
            (
                "staff_b",
                f"/institution/committees/{committee.id}/seats",
                {"expertNumber": expert.number, "seat": "chair"},
                404,
            ),
            ("staff_b", f"/institution/committees/{committee.id}/submit", {}, 404),
            ("staff_b", f"/institution/plans/{committee.id}/{YEAR}", {"conditions": "x"}, 404),
            (
                "bureau",
                f"/institution/committees/{committee.id}/seats",
                {"expertNumber": expert.number, "seat": "chair"},
                403,
            ),
            ("bureau", "/institution/application", _application_form(), 403),
            ("bureau", f"/institution/committees/{committee.id}/submit", {}, 403),
        ]
        before = await _snapshot()
        results = []
        for who, url, data, _ in attempts:
            response = await browsers[who].post(url, data={**data, "csrf_token": tokens[who]})
            results.append(response.status_code)
        after = await _snapshot()
    assert results == [expected for *_, expected in attempts]
    assert after == before


async def test_post_without_csrf_token_is_refused_and_changes_nothing(client):
    inst = await factories.institution(status=F.DRAFT)
    await _login(client, "staffa", Role.INSTITUTION, inst.id)
    before = await _snapshot()

    response = await client.post("/institution/application", data=_application_form())

    assert response.status_code == 403
    assert "CSRF" in response.text
    assert await _snapshot() == before


# --- forms: errors next to the field, values kept -------------------------------------------


async def test_application_form_error_next_to_field_keeps_values(client):
    inst = await factories.institution(status=F.DRAFT)
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    before = await _snapshot()

    response = await client.post(
        "/institution/application",
        data={**_application_form(personInCharge="  "), "csrf_token": token},
    )

    page = response.text
    assert response.status_code == 422
    assert _field_error(page, "app-personInCharge-error") == ("REQUIRED", "此项为必填项")
    assert 'aria-describedby="app-personInCharge-error" aria-invalid="true"' in page
    assert 'name="officeAddress" type="text" value="北京市海淀区某路8号"' in page
    assert ">北京市电子学会,成立于1990年。</textarea>" in page
    assert '<option value="association" selected>' in page
    assert 'name="proposedCommittees[0].selfEvaluation" type="checkbox" value="1" checked' in page
    assert await _snapshot() == before


async def test_application_committee_row_error_lands_on_the_row_typed(client):
    """A blank first row is skipped; the error of the second row is shown on it."""
    inst = await factories.institution(status=F.DRAFT)
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    form = _application_form()
    moved = {k.replace("[0]", "[1]"): v for k, v in form.items() if "[0]" in k}
    blank = {k.replace("[1]", "[0]"): "" for k in moved}
    data = {k: v for k, v in form.items() if not k.startswith("proposed")}
    data.update(blank)
    data.update(moved)
    data["proposedCommittees[1].specialty"] = ""

    response = await client.post("/institution/application", data={**data, "csrf_token": token})

    assert response.status_code == 422
    assert _field_error(response.text, "app-proposedCommittees-1-specialty-error") == (
        "REQUIRED",
        "此项为必填项",
    )
    assert await InstitutionApplication.all().count() == 0


async def test_application_phone_error_uses_graphql_code(client):
    inst = await factories.institution(status=F.DRAFT)
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    response = await client.post(
        "/institution/application",
        data={**_application_form(phone="12345"), "csrf_token": token},
    )
    assert response.status_code == 422
    assert _field_error(response.text, "app-phone-error") == (
        "INVALID_PHONE",
        "联系电话应为手机号码或带区号的固定电话",
    )


async def test_htmx_form_error_returns_only_the_form_block(client):
    inst = await factories.institution(status=F.DRAFT)
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    response = await client.post(
        "/institution/application",
        data={**_application_form(fullTimeStaff="很多"), "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert response.text.startswith('<section id="application"')
    assert "<html" not in response.text
    assert _field_error(response.text, "app-fullTimeStaff-error") == (
        "INVALID",
        "专职工作人员应至少1人",
    )
    assert 'value="很多"' in response.text


async def test_htmx_success_redirects_the_whole_page(client):
    inst = await factories.institution(status=F.DRAFT)
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    response = await client.post(
        "/institution/application",
        data={**_application_form(), "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response.headers["hx-redirect"] == "/institution/application?done=saved"


async def test_forms_have_csrf_field_label_and_double_submit_guard(client, world):
    await _login(client, "staffa", Role.INSTITUTION, world["a"].id)
    pages = [
        await client.get(_url(p, world))
        for p in ("application", "committee", "plan", "committee_new")
    ]
    for response in pages:
        assert "=&#34;" not in response.text  # attributes rendered, not escaped text
        forms = re.findall(r"<form [^>]*method=\"post\"[^>]*>.*?</form>", response.text, re.S)
        assert forms, response.url
        for form in forms:
            assert 'name="csrf_token" value="' in form
            if "hx-post" in form:
                assert 'hx-disable="find button"' in form
            for input_id in re.findall(r'<(?:input|select|textarea) id="([^"]+)"', form):
                assert f'<label for="{input_id}">' in form, input_id


# --- a full filing walk by forms --------------------------------------------------------


async def test_filing_walk_staff_prepares_and_submits_bureau_files_r1(client, asgi_app):
    inst = await factories.institution(name="北京电子学会", status=F.DRAFT)
    staff_token = await _login(client, "staffa", Role.INSTITUTION, inst.id)

    empty = await client.get("/institution/application")
    saved = await client.post(
        "/institution/application", data={**_application_form(), "csrf_token": staff_token}
    )
    app = await InstitutionApplication.get(institution_id=inst.id)
    edit_page = (await client.get("/institution/application?done=saved")).text
    submitted = await client.post(
        "/institution/application/submit",
        data={"application": str(app.id), "version": str(app.version), "csrf_token": staff_token},
    )
    waiting = (await client.get("/institution/application")).text

    async with _browser(asgi_app) as bureau:
        bureau_token = await _login(bureau, "bureau1", Role.BUREAU)
        queue = (await bureau.get("/bureau/filings")).text
        review = (await bureau.get(f"/bureau/filings/institutions/{app.id}")).text
        filed = await bureau.post(
            f"/bureau/filings/institutions/{app.id}/file",
            data={"validUntil": "", "csrf_token": bureau_token},
        )
        decided = (await bureau.get(filed.headers["location"])).text

    directory = (await client.get("/directory")).text
    own = (await client.get("/institution")).text
    inst = await Institution.get(id=inst.id)
    app = await InstitutionApplication.get(id=app.id)

    assert empty.status_code == 200 and 'name="application"' not in empty.text
    assert (saved.status_code, saved.headers["location"]) == (
        303,
        "/institution/application?done=saved",
    )
    assert '<p class="notice" role="status">已保存。</p>' in edit_page
    assert f'<input type="hidden" name="application" value="{app.id}">' in edit_page
    assert app.content["person_in_charge"] == "李四"
    assert app.proposed_committees[0]["self_evaluation"] is True
    assert (submitted.status_code, submitted.headers["location"]) == (
        303,
        "/institution/application?done=submitted",
    )
    assert (
        "正在等待市人力资源社会保障局审核" in waiting
        and '<form method="post" action="/institution/application"' not in waiting
    )
    assert _links(queue, "/bureau/filings/institutions/") == ["审核"]
    assert "<dd>李四</dd>" in review and "电子信息专业高级评委会" in review
    assert (filed.status_code, filed.headers["location"]) == (
        303,
        f"/bureau/filings/institutions/{app.id}?done=filed",
    )
    assert '<p class="notice" role="status">已予备案。</p>' in decided
    assert (app.status, inst.status) == (ApplicationStatus.FILED, F.FILED)
    assert (inst.filed_at, inst.valid_until, inst.person_in_charge) == (
        TODAY,
        svc.add_years(TODAY, 3),
        "李四",
    )
    assert _links(directory, "/directory/institutions/") == ["北京电子学会"]
    assert '<span class="status status-filed">已备案</span>' in own


async def test_bureau_reject_requires_reason_then_staff_can_resubmit(client, world):
    app = world["application"]
    token = await _login(client, "bureau1", Role.BUREAU)

    missing = await client.post(
        f"/bureau/filings/institutions/{app.id}/reject",
        data={"reason": " ", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    too_long = await client.post(
        f"/bureau/filings/institutions/{app.id}/file",
        data={
            "validUntil": (svc.add_years(TODAY, 3) + dt.timedelta(days=1)).isoformat(),
            "csrf_token": token,
        },
    )
    unchanged = await InstitutionApplication.get(id=app.id)
    rejected = await client.post(
        f"/bureau/filings/institutions/{app.id}/reject",
        data={"reason": "专职人员证明材料不全", "csrf_token": token},
    )

    assert missing.status_code == 422
    assert missing.text.startswith('<section id="decision"')
    assert _field_error(missing.text, "reject-reason-error") == ("REQUIRED", "此项为必填项")
    assert too_long.status_code == 422
    assert _field_error(too_long.text, "file-validUntil-error")[0] == "INVALID"
    assert unchanged.status == ApplicationStatus.SUBMITTED
    assert rejected.status_code == 303
    after = await InstitutionApplication.get(id=app.id)
    assert (after.status, after.decision_reason) == (
        ApplicationStatus.REJECTED,
        "专职人员证明材料不全",
    )


# --- committee roster, submission and filing ----------------------------------------------


async def test_committee_roster_by_forms_then_bureau_files_it(client, asgi_app):
    inst = await factories.institution(name="甲评审机构")
    committee = await _committee(inst, F.DRAFT, name="甲评委会")
    experts = [await factories.expert(institution_id=inst.id) for _ in range(6)]
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    url = f"/institution/committees/{committee.id}"

    unknown = await client.post(
        f"{url}/seats", data={"expertNumber": "E9999999", "seat": "member", "csrf_token": token}
    )
    statuses = []
    for i, expert in enumerate(experts):
        seat = "chair" if i == 0 else "member"
        response = await client.post(
            f"{url}/seats", data={"expertNumber": expert.number, "seat": seat, "csrf_token": token}
        )
        statuses.append(response.status_code)
    second_chair = await client.post(
        f"{url}/seats",
        data={"expertNumber": experts[1].number, "seat": "chair", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    committee = await Committee.get(id=committee.id)
    even = await client.post(
        f"{url}/submit", data={"version": str(committee.version), "csrf_token": token}
    )
    removed = await client.post(f"{url}/seats/{experts[5].id}/remove", data={"csrf_token": token})
    committee = await Committee.get(id=committee.id)
    submitted = await client.post(
        f"{url}/submit", data={"version": str(committee.version), "csrf_token": token}
    )
    page = (await client.get(url)).text

    assert unknown.status_code == 422
    assert _field_error(unknown.text, "seat-expertNumber-error") == (
        "INVALID",
        "未找到该编号的专家",
    )
    assert statuses == [303] * 6
    assert second_chair.status_code == 422
    assert second_chair.text.startswith('<section id="roster"')
    assert _field_error(second_chair.text, "seat-seat-error") == (
        "DUPLICATE",
        "评委会只能有一名主任委员",
    )
    assert even.status_code == 422
    assert '<p data-code="INVALID">评委会专家人数应为奇数,现有6人</p>' in even.text
    assert removed.status_code == 303
    assert submitted.status_code == 303
    assert (await Committee.get(id=committee.id)).status == F.SUBMITTED
    assert await CommitteeSeat.filter(committee_id=committee.id).count() == 5
    assert "评委会备案审核期间或撤销后,不能调整专家名单" in page

    async with _browser(asgi_app) as bureau:
        bureau_token = await _login(bureau, "bureau1", Role.BUREAU)
        queue = (await bureau.get("/bureau/filings")).text
        filed = await bureau.post(
            f"/bureau/filings/committees/{committee.id}/file",
            data={"validUntil": "", "csrf_token": bureau_token},
        )
    committee = await Committee.get(id=committee.id)
    assert _links(queue, "/bureau/filings/committees/") == ["审核"]
    assert filed.status_code == 303
    assert (committee.status, committee.valid_until) == (F.FILED, svc.add_years(TODAY, 3))


async def test_staff_creates_a_committee_by_form(client):
    inst = await factories.institution()
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    data = {
        "name": "电子信息中级评委会",
        "series": "工程技术",
        "specialty": "电子信息",
        "level": "intermediate",
        "applicantScope": "本市",
        "quantitativeStandard": "量化",
        "procedure": "程序",
        "csrf_token": token,
    }
    bad = await client.post("/institution/committees", data={**data, "series": "不存在的系列"})
    good = await client.post("/institution/committees", data=data)
    committee = await Committee.get(name="电子信息中级评委会")
    assert bad.status_code == 422
    assert _field_error(bad.text, "committee-series-error") == (
        "INVALID",
        "评审系列应为国家规定的职称系列之一",
    )
    assert (good.status_code, good.headers["location"]) == (
        303,
        f"/institution/committees/{committee.id}?done=committee_created",
    )
    assert (committee.institution_id, committee.status, committee.level) == (
        inst.id,
        F.DRAFT,
        Level.INTERMEDIATE,
    )


# --- annual plans by form ---------------------------------------------------------------------


async def test_plan_saved_then_published_by_forms(client):
    inst = await factories.institution()
    committee = await _committee(inst, F.FILED, name="甲评委会")
    token = await _login(client, "staffa", Role.INSTITUTION, inst.id)
    url = f"/institution/plans/{committee.id}/{YEAR}"

    form = (await client.get(url)).text
    draft = await client.post(url, data={"conditions": "具备副高级职称满5年", "csrf_token": token})
    plan = await AnnualPlan.get(committee_id=committee.id, year=YEAR)
    incomplete = await client.post(
        f"{url}/publish",
        data={"plan": str(plan.id), "version": str(plan.version), "csrf_token": token},
    )
    completed = await client.post(
        url,
        data={
            "version": str(plan.version),
            "series": "工程技术",
            "specialty": "电子信息",
            "level": "senior",
            "conditions": "具备副高级职称满5年",
            "procedure": "个人申报、单位推荐、评审",
            "method": "面试答辩",
            "contactPhone": "010-66001234",
            "acceptanceStart": f"{YEAR}-09-01",
            "acceptanceEnd": f"{YEAR}-09-30",
            "materialRequirements": "申报表一式两份",
            "csrf_token": token,
        },
    )
    plan = await AnnualPlan.get(id=plan.id)
    published = await client.post(
        f"{url}/publish",
        data={"plan": str(plan.id), "version": str(plan.version), "csrf_token": token},
    )
    public = (await client.get("/plans")).text

    assert '<option value="工程技术" selected>' in form
    assert draft.status_code == 303
    assert incomplete.status_code == 422
    assert _field_error(incomplete.text, "plan-procedure-error") == ("REQUIRED", "公布前须填写此项")
    assert completed.status_code == 303
    assert published.status_code == 303
    assert (await AnnualPlan.get(id=plan.id)).status == PlanStatus.PUBLISHED
    assert f"{YEAR}年度 · 甲评委会" in public


# --- bureau supervision ---------------------------------------------------------------------


async def test_bureau_suspends_by_form_with_reason_r17(client):
    inst = await factories.institution(name="甲评审机构")
    token = await _login(client, "bureau1", Role.BUREAU)
    page = (await client.get(f"/directory/institutions/{inst.id}")).text

    missing = await client.post(
        f"/bureau/institutions/{inst.id}/suspend",
        data={"reason": "", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    done = await client.post(
        f"/bureau/institutions/{inst.id}/suspend",
        data={"reason": "违规组织评审", "csrf_token": token},
    )

    assert f'action="/bureau/institutions/{inst.id}/suspend"' in page
    assert missing.status_code == 422
    assert missing.text.lstrip().startswith("<form") and 'id="suspend-form"' in missing.text
    assert _field_error(missing.text, "suspend-reason-error") == ("REQUIRED", "此项为必填项")
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/directory/institutions/{inst.id}?done=suspended",
    )
    inst = await Institution.get(id=inst.id)
    assert (inst.status, inst.status_reason) == (F.SUSPENDED, "违规组织评审")


async def test_bureau_records_failed_assessment_suspending_r17(client):
    inst = await factories.institution(name="甲评审机构")
    token = await _login(client, "bureau1", Role.BUREAU)
    page = (await client.get(f"/bureau/assessments/new?institution={inst.id}")).text
    data = {
        "institution": str(inst.id),
        "method": "inquiry",
        "assessedOn": TODAY.isoformat(),
        "findings": "评审程序不规范",
        "result": "fail",
        "csrf_token": token,
    }

    future = await client.post(
        "/bureau/assessments",
        data={**data, "assessedOn": (TODAY + dt.timedelta(days=1)).isoformat()},
    )
    done = await client.post("/bureau/assessments", data=data)

    assert "<dt>收到</dt><dd>0 件</dd>" in page
    assert f'value="{TODAY.isoformat()}"' in page
    assert future.status_code == 422
    assert _field_error(future.text, "assess-assessedOn-error") == (
        "INVALID",
        "考核日期不能晚于今天",
    )
    assert (done.status_code, done.headers["location"]) == (
        303,
        f"/directory/institutions/{inst.id}?done=assessed",
    )
    assert (await Institution.get(id=inst.id)).status == F.SUSPENDED
    assert await InstitutionAssessment.filter(institution_id=inst.id).count() == 1


async def test_own_page_highlights_filings_expiring_within_90_days(client):
    inst = await factories.institution(valid_until=TODAY + dt.timedelta(days=30))
    await _committee(
        inst, F.FILED, name="即将到期评委会", valid_until=TODAY + dt.timedelta(days=89)
    )
    await _committee(inst, F.FILED, name="远期评委会", valid_until=TODAY + dt.timedelta(days=200))
    await _login(client, "staffa", Role.INSTITUTION, inst.id)

    page = (await client.get("/institution")).text

    assert "还有 30 天到期,请及时申请重新备案" in page
    expiring_rows = re.findall(r'<tr class="expiring">\s*<td><a [^>]*>(.*?)</a>', page)
    assert expiring_rows == ["即将到期评委会"]


async def test_nav_shows_bureau_and_staff_entries_by_role(client, asgi_app):
    inst = await factories.institution()
    anonymous = (await client.get("/")).text
    await _login(client, "bureau1", Role.BUREAU)
    bureau = (await client.get("/")).text
    async with _browser(asgi_app) as staff:
        await _login(staff, "staffa", Role.INSTITUTION, inst.id)
        own = (await staff.get("/")).text
    assert "/bureau/filings" not in anonymous and 'href="/institution"' not in anonymous
    assert (
        '<a href="/bureau/filings">备案审核</a>' in bureau and 'href="/institution"' not in bureau
    )
    assert '<a href="/institution">本机构</a>' in own and "/bureau/filings" not in own


async def test_login_returns_to_the_page_that_asked_for_it(client):
    inst = await factories.institution()
    await account.create_user(
        SYSTEM,
        username="staffa",
        display_name="staffa",
        password=PASSWORD,
        role=Role.INSTITUTION,
        scope_id=inst.id,
    )
    asked = await client.get("/institution")
    login_page = (await client.get(asked.headers["location"])).text
    response = await client.post(
        "/login",
        data={"username": "staffa", "password": PASSWORD, "next": "/institution"},
        headers={"Origin": ORIGIN},
    )
    assert '<input type="hidden" name="next" value="/institution">' in login_page
    assert (response.status_code, response.headers["location"]) == (303, "/institution")
    assert (await client.get("/institution")).status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", "x"])
async def test_login_next_never_leaves_the_site(client, target):
    await account.create_user(
        SYSTEM, username="bureau1", display_name="局", password=PASSWORD, role=Role.BUREAU
    )
    page = (await client.get("/login", params={"next": target})).text
    response = await client.post(
        "/login",
        data={"username": "bureau1", "password": PASSWORD, "next": target},
        headers={"Origin": ORIGIN},
    )
    assert 'name="next"' not in page
    assert (response.status_code, response.headers["location"]) == (303, "/")


# --- N+1 guards -------------------------------------------------------------------------


class _SQLCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends (its db_client logger, at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.msg if not record.args else record.args[0]).lstrip().upper()
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


async def _plan(committee: Committee) -> AnnualPlan:
    return await AnnualPlan.create(
        committee=committee,
        year=YEAR,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        status=PlanStatus.PUBLISHED,
    )


async def _statements(client: httpx.AsyncClient, url: str) -> int:
    with _count_sql() as counter:
        response = await client.get(url)
    assert response.status_code == 200
    return counter.count


async def test_list_pages_issue_the_same_statements_for_1_and_20_rows(client):
    """N+1 guard: the directory, the plans list and the bureau queue cost the same
    number of SQL statements whatever the number of rows."""
    await _login(client, "bureau1", Role.BUREAU)
    urls = ["/directory", "/directory?view=committees", "/plans", "/bureau/filings"]

    async def fill(n: int) -> None:
        for _ in range(n):
            inst = await factories.institution()
            committee = await _committee(inst, F.FILED, name=f"{inst.name}评委会")
            await _committee(inst, F.SUBMITTED, name=f"{inst.name}待审评委会")
            await _plan(committee)
            staff = await _staff_actor(inst)
            app = await svc.create_institution_application(staff, inst.id, **_content())
            await svc.submit_institution_application(staff, app.id)

    await fill(1)
    one = [await _statements(client, url) for url in urls]
    await fill(19)
    many = [await _statements(client, url) for url in urls]

    assert many == one


async def test_a_bug_gets_the_styled_500_page_without_details(asgi_app):
    async def boom(request: Any) -> Any:
        raise RuntimeError("secret internal detail")

    asgi_app.router.routes.append(Route("/boom", boom))
    transport = httpx.ASGITransport(app=asgi_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        response = await c.get("/boom")
    assert response.status_code == 500
    assert '<h1 id="error-heading">系统出错了</h1>' in response.text
    assert "secret internal detail" not in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-store"
