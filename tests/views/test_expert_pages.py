"""The expert pool's pages over real HTTP (issue 6 item 12): the institution's review
queue and an application's page (Art. 17, with send-back for additions), the bureau's
approval queue, the recommender's form and submissions (R3), expert self-service
(R8, R19), the verification queues (R8), pool statistics with SVG charts (R13), the
Excel import and roster export. Every page: allowed role, other scope (404), wrong
role (403), anonymous (login); every POST without CSRF is refused and changes
nothing; plain-form and htmx-fragment paths; the SVG chart helper."""

import datetime as dt
import html
import io
import itertools
import re
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from models import AuditEvent, Expert, ExpertApplication, ExpertUpdate, Institution, Unit, User
from models.enums import (
    LEVEL_LABELS,
    AuthorityKind,
    ExpertApplicationStatus,
    Level,
    RetirementCategory,
    Role,
    UnitType,
    UpdateStatus,
)
from resolvers import account, jobs
from resolvers import expert as svc
from resolvers.actor import SYSTEM, Actor, Grant
from resolvers.expert_io import COLUMNS
from tests import factories
from tests.schema.conftest import committee, seat
from views.charts import bar_chart, share_chart
from views.middleware import SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
ORIGIN = "https://testserver"
EA = ExpertApplicationStatus
_n = itertools.count(1)
HTMX = {"HX-Request": "true"}


# --- helpers -------------------------------------------------------------------------


async def _login(client: httpx.AsyncClient, role: Role, scope_id: int | None = None) -> str:
    """Log a new user holding `role` in through the login form; returns the CSRF token."""
    username = f"page{next(_n)}"
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


async def _actor(*grants: Grant) -> Actor:
    n = next(_n)
    user = await User.create(username=f"setup{n}", display_name=f"用户{n}", password_hash="x")
    return Actor(user_id=user.id, username=user.username, grants=grants)


class World:
    """A municipal unit, its industry authority, a filed home and other institution."""

    authority: Any
    unit: Unit
    home: Institution
    other: Institution
    recommender: Actor
    staff: Actor
    bureau: Actor


async def _world() -> World:
    w = World()
    w.authority = await factories.authority(AuthorityKind.INDUSTRY)
    w.unit = await factories.unit(UnitType.MUNICIPAL, authority=w.authority)
    w.home = await factories.institution()
    w.other = await factories.institution()
    w.recommender = await _actor(Grant(Role.RECOMMENDER, authority_id=w.authority.id))
    w.staff = await _actor(Grant(Role.INSTITUTION, institution_id=w.home.id))
    w.bureau = await _actor(Grant(Role.BUREAU))
    return w


def _person(w: World, **over: Any) -> dict[str, Any]:
    n = next(_n)
    return {
        "institution_id": w.home.id,
        "unit_id": w.unit.id,
        "name": f"候选人{n}",
        "id_number": factories.make_id_number(dt.date(1978, 4, 12), 500 + n),
        "phone": f"136{n:08d}",
        "title": "教授级高级工程师",
        "title_level": Level.SENIOR,
        "title_obtained_on": dt.date(2012, 6, 1),
        "series": "工程技术",
        "specialty": "电子信息",
        "retirement_category": RetirementCategory.MALE_60,
        **over,
    }


async def _application(w: World, **over: Any) -> ExpertApplication:
    return await svc.recommend_expert(w.recommender, **_person(w, **over))


async def _reviewed(w: World) -> ExpertApplication:
    app = await _application(w)
    await svc.review_expert_application(w.staff, app.id, opinion="符合条件", recommend=True)
    return app


async def _state(app: ExpertApplication) -> tuple[Any, ...]:
    fresh = await ExpertApplication.get(id=app.id)
    expert = await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]
    return (fresh.status, fresh.version, expert.version, await AuditEvent.all().count())


def _field_error(page: str, element_id: str) -> tuple[str, str] | None:
    m = re.search(
        r'<p class="field-error" id="'
        + re.escape(element_id)
        + r'" data-code="([A-Z_]+)">(.*?)</p>',
        page,
    )
    return (m.group(1), html.unescape(m.group(2))) if m else None


def _is_fragment(text: str) -> bool:
    return "<html" not in text and "<body" not in text


def _private(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert 'hx-history="false"' in response.text


# --- institution review queue --------------------------------------------------------


async def test_institution_queue_lists_own_submitted_applications_art17(client):
    w = await _world()
    mine = await _application(w)
    theirs_world = await _world()
    theirs = await _application(theirs_world)
    await _login(client, Role.INSTITUTION, w.home.id)

    response = await client.get("/institution/experts/applications")

    assert response.status_code == 200
    _private(response)
    mine_expert = await Expert.get(id=mine.expert_id)  # type: ignore[attr-defined]
    theirs_expert = await Expert.get(id=theirs.expert_id)  # type: ignore[attr-defined]
    assert mine_expert.name in response.text
    assert theirs_expert.name not in response.text
    assert f'href="/experts/applications/{mine.id}"' in response.text


async def test_institution_queue_filters_by_status_htmx_fragment_and_plain_link(client):
    w = await _world()
    sent_back = await _application(w)
    await svc.request_expert_application_changes(w.staff, sent_back.id, reason="请补充")
    waiting = await _application(w)
    await _login(client, Role.INSTITUTION, w.home.id)
    names = {
        a.id: (await Expert.get(id=a.expert_id)).name  # type: ignore[attr-defined]
        for a in (sent_back, waiting)
    }

    plain = await client.get("/institution/experts/applications?status=needs_changes")
    fragment = await client.get(
        "/institution/experts/applications?status=needs_changes", headers=HTMX
    )

    assert (names[sent_back.id] in plain.text, names[waiting.id] in plain.text) == (True, False)
    assert "<html" in plain.text
    assert _is_fragment(fragment.text)
    assert fragment.text.lstrip().startswith('<section id="queue-results"')
    assert names[sent_back.id] in fragment.text


async def test_institution_queue_is_paginated_with_plain_links(client):
    w = await _world()
    for _ in range(21):
        await _application(w)
    await _login(client, Role.INSTITUTION, w.home.id)

    first = await client.get("/institution/experts/applications")
    second = await client.get("/institution/experts/applications?status=submitted&page=2")

    assert first.text.count('href="/experts/applications/') == 20
    assert 'href="/institution/experts/applications?status=submitted&amp;page=2"' in first.text
    assert second.text.count('href="/experts/applications/') == 1
    assert 'rel="prev"' in second.text


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/institution/experts/applications", Role.EXPERT),
        ("/institution/experts/applications", Role.BUREAU),
        ("/bureau/experts/applications", Role.INSTITUTION),
        ("/recommender/experts", Role.INSTITUTION),
        ("/recommender/experts/new", Role.EXPERT),
        ("/me", Role.INSTITUTION),
        ("/employer/updates", Role.INSTITUTION),
        ("/institution/experts/updates", Role.EMPLOYER),
        ("/experts/statistics", Role.EXPERT),
        ("/institution/experts/import", Role.BUREAU),
    ],
)
async def test_pages_refuse_wrong_role_with_403(client, path, role):
    w = await _world()
    expert = await factories.expert(institution=w.home, unit=w.unit)
    scope = {
        Role.EXPERT: expert.id,
        Role.INSTITUTION: w.home.id,
        Role.EMPLOYER: w.unit.id,
        Role.BUREAU: None,
    }[role]
    await _login(client, role, scope)

    response = await client.get(path)

    assert response.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/institution/experts/applications",
        "/bureau/experts/applications",
        "/recommender/experts",
        "/recommender/experts/new",
        "/me",
        "/employer/updates",
        "/institution/experts/updates",
        "/experts/statistics",
        "/institution/experts/import",
        "/experts/applications/1",
    ],
)
async def test_pages_send_anonymous_to_login(client, path):
    response = await client.get(path)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


# --- one application: review, send back, resubmit, approve, reject ---------------------


async def test_application_page_shows_masked_data_and_review_forms_to_own_staff(client):
    w = await _world()
    app = await _application(w)
    expert = await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]
    await _login(client, Role.INSTITUTION, w.home.id)

    response = await client.get(f"/experts/applications/{app.id}")

    assert response.status_code == 200
    _private(response)
    assert expert.id_number_masked in response.text
    assert svc.decrypt(expert.id_number_enc) not in response.text
    assert 'id="review-form"' in response.text
    assert 'id="changes-form"' in response.text
    assert 'id="approve-form"' not in response.text


@pytest.mark.parametrize(("role", "status"), [("other", 404), ("employer", 404)])
async def test_application_page_out_of_scope_is_404(client, role, status):
    w = await _world()
    app = await _application(w)
    if role == "other":
        await _login(client, Role.INSTITUTION, w.other.id)
    else:
        await _login(client, Role.EMPLOYER, w.unit.id)

    response = await client.get(f"/experts/applications/{app.id}")

    assert response.status_code == status


async def test_review_plain_form_moves_application_to_bureau_art17(client):
    w = await _world()
    app = await _application(w)
    csrf = await _login(client, Role.INSTITUTION, w.home.id)

    response = await client.post(
        f"/experts/applications/{app.id}/review",
        data={"csrf_token": csrf, "opinion": "资格符合", "recommend": "1"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/experts/applications/{app.id}?done=reviewed"
    fresh = await ExpertApplication.get(id=app.id)
    assert (fresh.status, fresh.institution_opinion) == (EA.REVIEWED, "资格符合")


async def test_review_without_opinion_htmx_returns_form_fragment_with_error(client):
    w = await _world()
    app = await _application(w)
    csrf = await _login(client, Role.INSTITUTION, w.home.id)
    before = await _state(app)

    response = await client.post(
        f"/experts/applications/{app.id}/review",
        data={"opinion": " ", "recommend": "1"},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )

    assert response.status_code == 422
    assert _is_fragment(response.text)
    assert response.text.lstrip().startswith('<form id="review-form"')
    assert _field_error(response.text, "review-opinion-error") == ("REQUIRED", "此项为必填项")
    assert await _state(app) == before


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("review", {"opinion": "x", "recommend": "1"}),
        ("request-changes", {"reason": "请补充"}),
        ("reject", {"reason": "不符合"}),
        ("approve", {}),
        ("resubmit", {"title": "研究员"}),
    ],
)
async def test_application_posts_without_csrf_refused_nothing_changed(client, action, data):
    w = await _world()
    app = await _application(w)
    await _login(client, Role.BUREAU)
    before = await _state(app)

    response = await client.post(f"/experts/applications/{app.id}/{action}", data=data)

    assert response.status_code == 403
    assert await _state(app) == before


async def test_review_by_other_institution_is_404_nothing_changed(client):
    w = await _world()
    app = await _application(w)
    csrf = await _login(client, Role.INSTITUTION, w.other.id)
    before = await _state(app)

    response = await client.post(
        f"/experts/applications/{app.id}/review",
        data={"csrf_token": csrf, "opinion": "x", "recommend": "1"},
    )

    assert response.status_code == 404
    assert await _state(app) == before


async def test_review_by_recommender_is_403_nothing_changed(client):
    w = await _world()
    app = await _application(w)
    csrf = await _login(client, Role.RECOMMENDER, w.authority.id)
    before = await _state(app)

    response = await client.post(
        f"/experts/applications/{app.id}/review",
        data={"csrf_token": csrf, "opinion": "x", "recommend": "1"},
    )

    assert response.status_code == 403
    assert await _state(app) == before


async def test_send_back_then_recommender_amends_and_resubmits_art17(client, asgi_app):
    w = await _world()
    app = await _application(w)
    csrf = await _login(client, Role.INSTITUTION, w.home.id)

    sent = await client.post(
        f"/experts/applications/{app.id}/request-changes",
        data={"csrf_token": csrf, "reason": "请补充近三年代表性业绩"},
    )
    assert sent.status_code == 303
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as rec:
        rec_csrf = await _login(rec, Role.RECOMMENDER, w.authority.id)
        listing = await rec.get("/recommender/experts")
        page = await rec.get(f"/experts/applications/{app.id}")
        form = {
            "csrf_token": rec_csrf,
            "version": _hidden_version(page.text),
            "name": (await Expert.get(id=app.expert_id)).name,  # type: ignore[attr-defined]
            "email": "",
            "title": "教授级高级工程师",
            "titleLevel": "senior",
            "titleObtainedOn": "2012-06-01",
            "series": "工程技术",
            "specialty": "微电子",
            "field": "",
            "exceptionReason": "",
            "response": "已补充",
        }
        resubmitted = await rec.post(f"/experts/applications/{app.id}/resubmit", data=form)

    assert "已退回补充调整" in listing.text
    assert "请补充近三年代表性业绩" in page.text
    assert 'id="resubmit-form"' in page.text
    assert resubmitted.status_code == 303, resubmitted.text
    fresh = await ExpertApplication.get(id=app.id)
    assert fresh.status == EA.SUBMITTED
    assert fresh.change_history[0]["changedFields"] == ["specialty"]
    assert (await Expert.get(id=app.expert_id)).specialty == "微电子"  # type: ignore[attr-defined]


def _hidden_version(page: str) -> str:
    """The version the resubmit form carries back (the application as the page showed it)."""
    m = re.search(r'<form id="resubmit-form".*?name="version" value="(\d+)"', page, re.S)
    assert m, "the resubmit form carries the version it was built from"
    return m.group(1)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
async def test_resubmit_of_a_stale_page_shows_conflict_keeps_values_changes_nothing(client, htmx):
    """Issue 11 §3: the page was loaded, then the application moved on (another edit);
    posting the old page is refused with VERSION_CONFLICT at the top of the form, the
    typed values stay, and neither the application nor the expert changes."""
    w = await _world()
    app = await _application(w)
    await svc.request_expert_application_changes(w.staff, app.id, reason="请核实")
    csrf = await _login(client, Role.RECOMMENDER, w.authority.id)
    seen = _hidden_version((await client.get(f"/experts/applications/{app.id}")).text)
    assert seen == str((await ExpertApplication.get(id=app.id)).version)
    await ExpertApplication.filter(id=app.id).update(version=int(seen) + 1)
    before = await _state(app)
    form = {"version": seen, "name": "改名后", "title": "研究员", "response": "已补充"}

    response = await client.post(
        f"/experts/applications/{app.id}/resubmit",
        data=form if htmx else {**form, "csrf_token": csrf},
        headers={**HTMX, "X-CSRF-Token": csrf} if htmx else {},
    )

    assert response.status_code == 422
    assert _is_fragment(response.text) == htmx
    assert '<p data-code="VERSION_CONFLICT">数据已被他人修改,请刷新后重试</p>' in response.text
    assert 'value="改名后"' in response.text and 'value="研究员"' in response.text
    assert "已补充" in response.text
    assert _hidden_version(response.text) == seen  # still stale: refreshing is the way on
    assert await _state(app) == before


async def test_resubmit_without_version_refused_as_conflict_nothing_changed(client):
    w = await _world()
    app = await _application(w)
    await svc.request_expert_application_changes(w.staff, app.id, reason="请核实")
    csrf = await _login(client, Role.RECOMMENDER, w.authority.id)
    before = await _state(app)

    response = await client.post(
        f"/experts/applications/{app.id}/resubmit",
        data={"csrf_token": csrf, "name": "改名后", "title": "研究员"},
    )

    assert response.status_code == 422
    assert 'data-code="VERSION_CONFLICT"' in response.text
    assert await _state(app) == before


async def test_resubmit_with_bad_date_keeps_values_and_shows_error(client):
    w = await _world()
    app = await _application(w)
    await svc.request_expert_application_changes(w.staff, app.id, reason="请核实")
    csrf = await _login(client, Role.RECOMMENDER, w.authority.id)
    before = await _state(app)

    response = await client.post(
        f"/experts/applications/{app.id}/resubmit",
        data={"csrf_token": csrf, "name": "改名后", "titleObtainedOn": "2012-13-45"},
    )

    assert response.status_code == 422
    assert _field_error(response.text, "resubmit-titleObtainedOn-error")[0] == "INVALID"  # type: ignore[index]
    assert 'value="改名后"' in response.text
    assert await _state(app) == before


async def test_bureau_queue_lists_reviewed_and_approves_plain_form_r7(client):
    w = await _world()
    app = await _reviewed(w)
    csrf = await _login(client, Role.BUREAU)

    queue = await client.get("/bureau/experts/applications")
    page = await client.get(f"/experts/applications/{app.id}")
    approved = await client.post(
        f"/experts/applications/{app.id}/approve", data={"csrf_token": csrf}
    )

    assert f'href="/experts/applications/{app.id}"' in queue.text
    assert 'id="approve-form"' in page.text and 'id="reject-form"' in page.text
    assert approved.status_code == 303
    assert (await ExpertApplication.get(id=app.id)).status == EA.APPROVED


async def test_bureau_reject_without_reason_is_422_and_with_reason_rejects(client):
    w = await _world()
    app = await _reviewed(w)
    csrf = await _login(client, Role.BUREAU)
    before = await _state(app)

    blank = await client.post(
        f"/experts/applications/{app.id}/reject", data={"csrf_token": csrf, "reason": ""}
    )
    assert blank.status_code == 422
    assert _field_error(blank.text, "reject-reason-error") is not None
    assert await _state(app) == before
    done = await client.post(
        f"/experts/applications/{app.id}/reject", data={"csrf_token": csrf, "reason": "库内已足"}
    )

    assert done.status_code == 303
    assert (await ExpertApplication.get(id=app.id)).status == EA.REJECTED


async def test_bureau_sends_back_reviewed_application_art17(client):
    w = await _world()
    app = await _reviewed(w)
    csrf = await _login(client, Role.BUREAU)

    response = await client.post(
        f"/experts/applications/{app.id}/request-changes",
        data={"csrf_token": csrf, "reason": "职称证书日期有误"},
        headers={**HTMX},
    )

    assert response.status_code == 204
    assert response.headers["hx-redirect"] == f"/experts/applications/{app.id}?done=sent_back"
    assert (await ExpertApplication.get(id=app.id)).status == EA.NEEDS_CHANGES


# --- recommender: the recommendation form (R3) -------------------------------------------


async def test_recommend_form_lists_own_units_and_creates_application_r3(client):
    w = await _world()
    foreign_unit = await factories.unit(UnitType.MUNICIPAL)
    csrf = await _login(client, Role.RECOMMENDER, w.authority.id)

    page = await client.get("/recommender/experts/new")
    person = _person(w)
    response = await client.post(
        "/recommender/experts/new",
        data={
            "csrf_token": csrf,
            "institutionId": str(w.home.id),
            "unitId": str(w.unit.id),
            "name": person["name"],
            "idNumber": person["id_number"],
            "phone": person["phone"],
            "titleLevel": "senior",
            "title": "研究员",
            "titleObtainedOn": "2012-06-01",
            "series": "工程技术",
            "specialty": "电子信息",
            "retirementCategory": "male_60",
        },
    )

    assert page.status_code == 200
    assert f'<option value="{w.unit.id}"' in page.text
    assert f'<option value="{foreign_unit.id}"' not in page.text
    assert response.status_code == 303, response.text
    app = await ExpertApplication.get(
        id=int(response.headers["location"].split("/")[-1].split("?")[0])
    )
    assert (app.status, app.authority_id) == (EA.SUBMITTED, w.authority.id)  # type: ignore[attr-defined]


async def test_recommend_with_bad_id_number_shows_error_next_to_field_keeps_values(client):
    w = await _world()
    csrf = await _login(client, Role.RECOMMENDER, w.authority.id)
    before = await ExpertApplication.all().count()

    response = await client.post(
        "/recommender/experts/new",
        data={
            "csrf_token": csrf,
            "institutionId": str(w.home.id),
            "unitId": str(w.unit.id),
            "name": "张三",
            "idNumber": "110101197804120000",
            "phone": "13800001111",
            "titleLevel": "senior",
            "title": "研究员",
            "titleObtainedOn": "2012-06-01",
            "series": "工程技术",
            "specialty": "电子信息",
            "retirementCategory": "male_60",
        },
    )

    assert response.status_code == 422
    assert _field_error(response.text, "recommend-idNumber-error") is not None
    assert 'value="张三"' in response.text
    assert await ExpertApplication.all().count() == before


async def test_recommend_post_without_csrf_refused(client):
    w = await _world()
    await _login(client, Role.RECOMMENDER, w.authority.id)
    before = await ExpertApplication.all().count()

    response = await client.post("/recommender/experts/new", data={"name": "x"})

    assert response.status_code == 403
    assert await ExpertApplication.all().count() == before


# --- expert self-service (R8, R19) ---------------------------------------------------


async def test_me_shows_masked_profile_terms_and_agreement(client):
    w = await _world()
    expert = await factories.expert(institution=w.home, unit=w.unit)
    await svc.publish_agreement_text(w.bureau, version="2026.1", content="评审专家保密协议正文")
    await _login(client, Role.EXPERT, expert.id)

    response = await client.get("/me")

    assert response.status_code == 200
    _private(response)
    assert expert.id_number_masked in response.text
    assert svc.decrypt(expert.id_number_enc) not in response.text
    assert "评审专家保密协议正文" in response.text
    assert 'id="sign-form"' in response.text


async def test_me_request_change_shows_pending_and_who_must_verify_r8(client):
    w = await _world()
    expert = await factories.expert(institution=w.home, unit=w.unit)
    csrf = await _login(client, Role.EXPERT, expert.id)

    response = await client.post("/me/updates", data={"csrf_token": csrf, "title": "研究员"})
    page = await client.get("/me")

    assert response.status_code == 303
    assert "尚待核对:所在单位、评审机构" in page.text
    assert (await Expert.get(id=expert.id)).title == "教授级高级工程师"


async def test_me_request_change_with_nothing_filled_is_422_nothing_changed(client):
    w = await _world()
    expert = await factories.expert(institution=w.home, unit=w.unit)
    csrf = await _login(client, Role.EXPERT, expert.id)

    response = await client.post("/me/updates", data={"csrf_token": csrf}, headers=HTMX)

    assert response.status_code == 422
    assert _is_fragment(response.text)
    assert 'data-code="REQUIRED"' in response.text
    assert await ExpertUpdate.all().count() == 0


async def test_me_sign_agreement_requires_confirmation_then_signs_r19(client):
    w = await _world()
    expert = await factories.expert(institution=w.home, unit=w.unit)
    await svc.publish_agreement_text(w.bureau, version="2026.1", content="保密")
    csrf = await _login(client, Role.EXPERT, expert.id)

    unconfirmed = await client.post("/me/agreement", data={"csrf_token": csrf, "version": "2026.1"})
    assert unconfirmed.status_code == 422
    assert not await svc.has_signed_current_agreement(expert.id)
    signed = await client.post(
        "/me/agreement", data={"csrf_token": csrf, "version": "2026.1", "confirm": "1"}
    )

    assert signed.status_code == 303
    assert await svc.has_signed_current_agreement(expert.id)


async def test_me_posts_without_csrf_refused_nothing_changed(client):
    w = await _world()
    expert = await factories.expert(institution=w.home, unit=w.unit)
    await svc.publish_agreement_text(w.bureau, version="2026.1", content="保密")
    await _login(client, Role.EXPERT, expert.id)

    a = await client.post("/me/updates", data={"title": "研究员"})
    b = await client.post("/me/agreement", data={"version": "2026.1", "confirm": "1"})

    assert (a.status_code, b.status_code) == (403, 403)
    assert await ExpertUpdate.all().count() == 0
    assert not await svc.has_signed_current_agreement(expert.id)


# --- verification queues (R8) --------------------------------------------------------


async def _pending(w: World) -> tuple[Expert, ExpertUpdate]:
    expert = await factories.expert(institution=w.home, unit=w.unit)
    me = await _actor(Grant(Role.EXPERT, expert_id=expert.id))
    update = await svc.request_expert_update(me, expert.id, changes={"title": "研究员"})
    return expert, update


async def test_employer_then_institution_verify_then_change_is_current_r8(client, asgi_app):
    w = await _world()
    expert, update = await _pending(w)
    csrf = await _login(client, Role.EMPLOYER, w.unit.id)

    queue = await client.get("/employer/updates")
    verified = await client.post(
        f"/expert-updates/{update.id}/verify",
        data={"csrf_token": csrf, "side": "employer", "decision": "approve"},
    )
    assert expert.name in queue.text
    assert verified.status_code == 303
    assert verified.headers["location"] == "/employer/updates?done=verified"
    assert (await Expert.get(id=expert.id)).title == "教授级高级工程师"
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as staff:
        staff_csrf = await _login(staff, Role.INSTITUTION, w.home.id)
        staff_queue = await staff.get("/institution/experts/updates")
        done = await staff.post(
            f"/expert-updates/{update.id}/verify",
            data={"csrf_token": staff_csrf, "side": "institution", "decision": "approve"},
        )

    assert expert.name in staff_queue.text
    assert done.status_code == 303
    assert (await ExpertUpdate.get(id=update.id)).status == UpdateStatus.APPLIED
    assert (await Expert.get(id=expert.id)).title == "研究员"


async def test_employer_of_other_unit_sees_nothing_and_verify_is_404(client):
    w = await _world()
    expert, update = await _pending(w)
    other_unit = await factories.unit(UnitType.MUNICIPAL)
    csrf = await _login(client, Role.EMPLOYER, other_unit.id)

    queue = await client.get("/employer/updates")
    response = await client.post(
        f"/expert-updates/{update.id}/verify",
        data={"csrf_token": csrf, "side": "employer", "decision": "approve"},
    )

    assert expert.name not in queue.text
    assert response.status_code == 404
    assert (await ExpertUpdate.get(id=update.id)).employer_verified_at is None


async def test_verify_reject_without_reason_is_422_and_without_csrf_403(client):
    w = await _world()
    _, update = await _pending(w)
    csrf = await _login(client, Role.EMPLOYER, w.unit.id)

    no_csrf = await client.post(
        f"/expert-updates/{update.id}/verify", data={"side": "employer", "decision": "approve"}
    )
    no_reason = await client.post(
        f"/expert-updates/{update.id}/verify",
        data={"csrf_token": csrf, "side": "employer", "decision": "reject", "reason": ""},
    )

    assert no_csrf.status_code == 403
    assert no_reason.status_code == 422
    assert _field_error(no_reason.text, f"verify{update.id}-reason-error") is not None
    fresh = await ExpertUpdate.get(id=update.id)
    assert (fresh.status, fresh.employer_verified_at) == (UpdateStatus.PENDING, None)


async def test_verify_with_htmx_swaps_the_queue_in_place_r8(client):
    """R8 with htmx: the answer is the queue block only (no redirect), the verified
    card has left it, the notice is on top and the other pending card stays."""
    w = await _world()
    expert, update = await _pending(w)
    _, other = await _pending(w)
    csrf = await _login(client, Role.EMPLOYER, w.unit.id)

    page = await client.get("/employer/updates")
    response = await client.post(
        f"/expert-updates/{update.id}/verify",
        data={"csrf_token": csrf, "side": "employer", "decision": "approve"},
        headers=HTMX,
    )

    assert f'hx-post="/expert-updates/{update.id}/verify"' in page.text
    assert 'hx-target="#update-queue"' in page.text
    assert response.status_code == 200
    assert "hx-redirect" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    body = response.text
    assert body.lstrip().startswith('<div id="update-queue">')
    assert "<html" not in body
    assert '<p class="notice" role="status">核对结果已记录。</p>' in body
    assert f'id="update-{update.id}-heading"' not in body
    assert f'id="update-{other.id}-heading"' in body
    fresh = await ExpertUpdate.get(id=update.id)
    assert fresh.employer_verified_at is not None
    assert (await Expert.get(id=expert.id)).title == "教授级高级工程师"


async def test_verify_reject_without_reason_with_htmx_is_422_queue_block_r8(client):
    """The refusal comes back into the queue block next to the reason field; the
    update is untouched and no audit event is written."""
    w = await _world()
    _, update = await _pending(w)
    csrf = await _login(client, Role.EMPLOYER, w.unit.id)
    events = await AuditEvent.all().count()

    response = await client.post(
        f"/expert-updates/{update.id}/verify",
        data={"csrf_token": csrf, "side": "employer", "decision": "reject", "reason": ""},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert response.text.lstrip().startswith('<div id="update-queue">')
    assert _field_error(response.text, f"verify{update.id}-reason-error") is not None
    assert f'id="update-{update.id}-heading"' in response.text
    fresh = await ExpertUpdate.get(id=update.id)
    assert (fresh.status, fresh.employer_verified_at) == (UpdateStatus.PENDING, None)
    assert await AuditEvent.all().count() == events


async def test_verify_with_htmx_by_institution_side_keeps_institution_queue_r8(client, asgi_app):
    """The institution's in-place answer is its own queue: the card applied by the
    second verification leaves it, the notice shows."""
    w = await _world()
    expert, update = await _pending(w)
    employer_csrf = await _login(client, Role.EMPLOYER, w.unit.id)
    await client.post(
        f"/expert-updates/{update.id}/verify",
        data={"csrf_token": employer_csrf, "side": "employer", "decision": "approve"},
    )
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as staff:
        staff_csrf = await _login(staff, Role.INSTITUTION, w.home.id)
        response = await staff.post(
            f"/expert-updates/{update.id}/verify",
            data={"csrf_token": staff_csrf, "side": "institution", "decision": "approve"},
            headers=HTMX,
        )

    assert response.status_code == 200
    assert "核对结果已记录。" in response.text
    assert "没有待您核对的信息变更。" in response.text
    assert (await ExpertUpdate.get(id=update.id)).status == UpdateStatus.APPLIED
    assert (await Expert.get(id=expert.id)).title == "研究员"


# --- statistics (R13) ------------------------------------------------------------------


async def _finished(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """Follow a page of a background job (issue 9 item 5) to its end: wait for this
    process's jobs, then load the job's page again."""
    assert response.status_code in (200, 303), response.text
    await jobs.drain(cancel=False)
    return await client.get(response.headers.get("location") or str(response.url))


async def test_statistics_page_draws_accessible_charts_and_warns_under_floor_r13(client):
    w = await _world()
    com = await committee(w.home, name="电子信息高级评委会")
    for _ in range(3):  # all older than 45: 0% under 45, below the 20% floor
        await seat(com, await factories.expert(institution=w.home, unit=w.unit))
    await _login(client, Role.BUREAU)

    response = await _finished(client, await client.get("/experts/statistics"))

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.text.count('<svg class="chart" role="img"') == 5
    assert "电子信息高级评委会" in response.text
    assert 'role="alert"' in response.text
    assert "style=" not in response.text
    assert "<td>3人</td>" in response.text
    assert LEVEL_LABELS[Level.SENIOR] in response.text


async def test_statistics_for_institution_counts_only_its_experts(client):
    w = await _world()
    await factories.expert(institution=w.home, unit=w.unit, series="工程技术")
    await factories.expert(institution=w.other, unit=w.unit, series="卫生")
    await _login(client, Role.INSTITUTION, w.home.id)

    response = await _finished(client, await client.get("/experts/statistics"))

    assert response.status_code == 200
    assert "在库专家 1 人" in response.text
    assert "卫生" not in response.text


# --- Excel import and export -----------------------------------------------------------


def _xlsx(rows: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([h for h, _, _ in COLUMNS])
    for row in rows:
        sheet.append([row.get(key, "") for _, key, _ in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _row(w: World, **over: Any) -> dict[str, Any]:
    n = next(_n)
    return {
        "name": f"导入{n}",
        "id_number": factories.make_id_number(dt.date(1978, 4, 12), 800 + n),
        "phone": f"135{n:08d}",
        "unit_credit_code": w.unit.credit_code,
        "title": "研究员",
        "title_level": "正高级",
        "title_obtained_on": "2012-06-01",
        "series": "工程技术",
        "specialty": "电子信息",
        "retirement_category": "男60",
        **over,
    }


async def test_import_reports_bad_rows_and_imports_nothing_all_or_nothing(client):
    w = await _world()
    csrf = await _login(client, Role.INSTITUTION, w.home.id)
    content = _xlsx([_row(w), _row(w, id_number="110101197804120000")])

    response = await _finished(
        client,
        await client.post(
            "/institution/experts/import",
            data={"csrf_token": csrf, "mode": "all_or_nothing"},
            files={"file": ("c.xlsx", content, "application/octet-stream")},
        ),
    )

    assert response.status_code == 200
    assert "共 2 行,导入 0 行,1 行有误" in response.text
    assert "<td>3</td>" in response.text  # the bad row's Excel row number
    assert await ExpertApplication.all().count() == 0


async def test_import_good_rows_imports_exactly_the_good_ones(client):
    w = await _world()
    csrf = await _login(client, Role.INSTITUTION, w.home.id)
    content = _xlsx([_row(w), _row(w), _row(w, series="不存在")])

    response = await _finished(
        client,
        await client.post(
            "/institution/experts/import",
            data={"csrf_token": csrf, "mode": "good_rows"},
            files={"file": ("c.xlsx", content, "application/octet-stream")},
        ),
    )

    assert "共 3 行,导入 2 行,1 行有误" in response.text
    assert await ExpertApplication.filter(institution_id=w.home.id).count() == 2


async def test_import_without_file_is_422_and_without_csrf_403(client):
    w = await _world()
    csrf = await _login(client, Role.INSTITUTION, w.home.id)

    no_file = await client.post("/institution/experts/import", data={"csrf_token": csrf})
    no_csrf = await client.post(
        "/institution/experts/import",
        files={"file": ("c.xlsx", _xlsx([_row(w)]), "application/octet-stream")},
    )

    assert no_file.status_code == 422
    assert 'id="import-file-error" data-code="REQUIRED"' in no_file.text
    assert no_csrf.status_code == 403
    assert await ExpertApplication.all().count() == 0


async def test_export_downloads_roster_and_other_institution_gets_404(client, asgi_app):
    w = await _world()
    com = await committee(w.home)
    expert = await factories.expert(institution=w.home, unit=w.unit)
    await seat(com, expert)
    await _login(client, Role.INSTITUTION, w.home.id)

    page = await client.get("/institution/experts/import")
    response = await client.get(f"/institution/experts/export?committee={com.id}")
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as other:
        await _login(other, Role.INSTITUTION, w.other.id)
        refused = await other.get(f"/institution/experts/export?committee={com.id}")

    assert f'<option value="{com.id}">' in page.text
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    book = load_workbook(io.BytesIO(response.content))
    cells = [c for row in book.worksheets[0].iter_rows(values_only=True) for c in row]
    assert expert.name in cells
    assert refused.status_code == 404


# --- the chart helper (views/charts.py) ------------------------------------------------


def test_bar_chart_is_accessible_svg_with_data_table():
    chart = str(bar_chart([("工程技术", 12), ("卫生", 3.5)], title="按系列", unit="人"))

    assert chart.startswith('<figure class="chart-figure"><svg class="chart" role="img"')
    assert "<title>按系列</title>" in chart
    assert "<desc>工程技术 12人;卫生 3.5人</desc>" in chart
    assert '<th scope="row">卫生</th><td>3.5人</td>' in chart
    assert "style=" not in chart


def test_bar_chart_escapes_labels():
    chart = str(bar_chart([("<script>", 1)], title="<b>"))

    assert "<script>" not in chart
    assert "&lt;script&gt;" in chart and "<title>&lt;b&gt;</title>" in chart


def test_share_chart_marks_values_below_the_floor_r13():
    chart = str(share_chart([("甲", 10.0), ("乙", 30.0), ("丙", None)], title="青年", floor=20))

    assert chart.count('class="chart-bar below"') == 2
    assert chart.count('<tr class="below">') == 2
    assert 'class="chart-threshold"' in chart
    assert "丙 0%" in chart


def test_bar_chart_without_rows_says_no_data():
    chart = str(bar_chart([], title="空"))

    assert "暂无数据" in chart


def test_bar_chart_refuses_negative_values():
    with pytest.raises(ValueError):
        bar_chart([("x", -1)], title="t")
