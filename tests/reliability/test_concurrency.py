"""Concurrency (issue 11 §3): optimistic locking on every editable aggregate, no lost
counter increments, no expert seated twice on one day (R10), one transition per
concurrent approval.

Concurrent callers run with `asyncio.gather`: on PostgreSQL each task takes its own
connection from the Tortoise pool (every resolver runs in its own transaction), so
the races are real; on SQLite the single connection serialises the transactions and
the same assertions hold.

The aggregates (models.base.Versioned): InstitutionApplication, Committee,
AnnualPlan, Complaint and ExpertApplication's resubmission (with the expert's amended
fields) take the version the client saw (`version` in their edit inputs): a stale
one is refused with VERSION_CONFLICT. Institution, Expert, ExpertApplication's other
steps, ExpertUpdate and EvaluationSession change only by state transitions whose
conditional `UPDATE … WHERE version = seen` lets one concurrent caller through; User
changes by password change (version + 1).
"""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tortoise.models import Model

from models import (
    AnnualPlan,
    AuditEvent,
    Committee,
    Complaint,
    Draw,
    Expert,
    ExpertApplication,
    ExpertTerm,
    ExpertUpdate,
    Institution,
    InstitutionApplication,
    PanelMember,
    RateCounter,
)
from models.enums import (
    ApplicationStatus,
    ComplaintKind,
    ComplaintStatus,
    DrawStatus,
    ExitReason,
    ExpertApplicationStatus,
    ExpertStatus,
    FilingStatus,
    PanelStatus,
    TargetType,
    UpdateStatus,
)
from resolvers import complaint as complaints
from resolvers import evaluation, throttle
from resolvers import expert as experts
from resolvers import institution as institutions
from resolvers.actor import Actor
from resolvers.errors import DomainError, ErrorCode
from tests.resolvers import test_evaluation as ev
from tests.resolvers import test_expert as ex
from tests.resolvers import test_institution as it

EDITORS = 50
_n = itertools.count(1)


async def _events(obj: Model) -> list[str]:
    return await AuditEvent.filter(  # type: ignore[return-value]
        target_type=obj._meta.db_table, target_id=str(obj.pk)
    ).values_list("action", flat=True)


async def _fresh(obj: Model) -> Any:
    return await type(obj).get(pk=obj.pk)


def _outcomes(results: list[Any], kind: type) -> tuple[list[Any], list[DomainError]]:
    """Winners and refusals; anything else (a 500-class exception) fails the test."""
    won = [r for r in results if isinstance(r, kind)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(won) + len(refused) == len(results), [
        r for r in results if not isinstance(r, kind | DomainError)
    ]
    return won, refused


# --- aggregates edited with the version the client saw ------------------------------


async def _institution_application() -> tuple[Actor, InstitutionApplication]:
    _, staff, app = await it._draft_application(await it._bureau())
    return staff, app


async def _committee() -> tuple[Actor, Committee]:
    inst = await ex.factories.institution()
    staff = await it._staff(inst)
    committee = await institutions.create_committee_application(
        staff, inst.id, **it._committee_fields()
    )
    for i in range(5):
        await it.CommitteeSeat.create(
            committee=committee,
            expert=await ex.factories.expert(institution=inst),
            seat=it.Seat.CHAIR if i == 0 else it.Seat.MEMBER,
        )
    return staff, committee


async def _plan() -> tuple[Actor, AnnualPlan]:
    inst = await ex.factories.institution()
    staff = await it._staff(inst)
    committee = await it._committee(inst)
    plan = await institutions.save_annual_plan(
        staff, committee.id, it.TODAY.year, **it._plan_fields()
    )
    return staff, plan


async def _complaint(status: ComplaintStatus = ComplaintStatus.RECEIVED) -> tuple[Actor, Complaint]:
    inst = await ex.factories.institution()
    found, _ = await complaints.submit_complaint(
        Actor(client_addr=f"10.9.0.{next(_n)}"),
        kind=ComplaintKind.COMPLAINT,
        target_type=TargetType.INSTITUTION,
        target_id=inst.id,
        facts="2026年5月评审会上,该机构未按规定组织专家回避,请予核查。",
        anonymous=True,
    )
    bureau = await it._bureau()
    if status != ComplaintStatus.RECEIVED:
        found = await complaints.screen_complaint(bureau, found.id, accept=True)
    if status == ComplaintStatus.ANSWERED:
        found = await complaints.answer_complaint(
            bureau, found.id, answer="经核查,情况属实,已责令整改。"
        )
    return bureau, found


async def _sent_back_application() -> tuple[Actor, ExpertApplication]:
    """An application the institution sent back (Art. 17): its recommender amends it."""
    w = await ex._world()
    app = await ex._recommend(w)
    sent = await experts.request_expert_application_changes(
        w["staff"], app.id, reason="请补充近三年代表性业绩"
    )
    return w["recommender"], sent


Setup = Callable[[], Awaitable[tuple[Actor, Any]]]
Edit = Callable[[Actor, Any, int], Awaitable[Any]]

# (case, setup, edit with a given version, the status the edit leaves)
VERSIONED_EDITS: list[tuple[str, Setup, Edit]] = [
    (
        "updateInstitutionApplication",
        _institution_application,
        lambda a, o, v: institutions.update_institution_application(
            a, o.id, version=v, purpose=f"修改宗旨{next(_n)}"
        ),
    ),
    (
        "submitInstitutionApplication",
        _institution_application,
        lambda a, o, v: institutions.submit_institution_application(a, o.id, version=v),
    ),
    (
        "updateCommitteeApplication",
        _committee,
        lambda a, o, v: institutions.update_committee_application(
            a, o.id, version=v, procedure=f"申报、审核、评审、公示{next(_n)}"
        ),
    ),
    (
        "submitCommittee",
        _committee,
        lambda a, o, v: institutions.submit_committee(a, o.id, version=v),
    ),
    (
        "saveAnnualPlan",
        _plan,
        lambda a, o, v: institutions.save_annual_plan(
            a,
            o.committee_id,
            o.year,
            version=v,
            **{**it._plan_fields(), "method": f"答辩{next(_n)}"},
        ),
    ),
    (
        "publishAnnualPlan",
        _plan,
        lambda a, o, v: institutions.publish_annual_plan(a, o.id, version=v),
    ),
    (
        "screenComplaint",
        _complaint,
        lambda a, o, v: complaints.screen_complaint(a, o.id, accept=True, version=v),
    ),
    (
        "answerComplaint",
        lambda: _complaint(ComplaintStatus.ACCEPTED),
        lambda a, o, v: complaints.answer_complaint(
            a, o.id, answer=f"经核查已整改{next(_n)}", version=v
        ),
    ),
    (
        "closeComplaint",
        lambda: _complaint(ComplaintStatus.ANSWERED),
        lambda a, o, v: complaints.close_complaint(a, o.id, version=v),
    ),
    (
        "resubmitExpertApplication",
        _sent_back_application,
        lambda a, o, v: experts.resubmit_expert_application(
            a, o.id, version=v, specialty=f"微电子{next(_n)}", response="已补充"
        ),
    ),
]


async def _bump(obj: Model) -> int:
    """Another user's edit moved the aggregate on: the version the client saw is stale."""
    seen: int = obj.version  # type: ignore[attr-defined]
    await type(obj).filter(pk=obj.pk).update(version=seen + 1)
    return seen


@pytest.mark.parametrize(
    ("setup", "edit"), [c[1:] for c in VERSIONED_EDITS], ids=[c[0] for c in VERSIONED_EDITS]
)
async def test_a_stale_edit_is_refused_with_a_conflict_and_changes_nothing(setup, edit):
    actor, obj = await setup()
    seen = await _bump(obj)
    before = (await _fresh(obj), await _events(obj), await AuditEvent.all().count())

    with pytest.raises(DomainError) as caught:
        await edit(actor, obj, seen)

    assert (caught.value.code, caught.value.field) == (ErrorCode.VERSION_CONFLICT, "version")
    assert "已被他人修改" in caught.value.message
    after = await _fresh(obj)
    assert (after.version, after.status) == (before[0].version, before[0].status)
    assert await _events(obj) == before[1] and await AuditEvent.all().count() == before[2]
    # The current version is accepted: the refusal was about staleness only.
    await edit(actor, obj, seen + 1)
    assert (await _fresh(obj)).version == seen + 2


@pytest.mark.parametrize(
    ("setup", "edit"), [c[1:] for c in VERSIONED_EDITS], ids=[c[0] for c in VERSIONED_EDITS]
)
async def test_50_concurrent_editors_of_one_version_give_exactly_one_winner(setup, edit):
    actor, obj = await setup()
    seen: int = obj.version
    events = len(await _events(obj))

    results = await asyncio.gather(
        *(edit(actor, obj, seen) for _ in range(EDITORS)), return_exceptions=True
    )

    won, refused = _outcomes(list(results), type(obj))
    assert (len(won), len(refused)) == (1, EDITORS - 1)
    assert {e.code for e in refused} <= {ErrorCode.VERSION_CONFLICT, ErrorCode.INVALID_TRANSITION}
    assert (await _fresh(obj)).version == seen + 1
    assert len(await _events(obj)) == events + 1


async def test_50_editors_per_version_over_three_rounds_one_winner_each():
    """Round after round, each version has exactly one winner, who moves it on."""
    staff, app = await _institution_application()
    for round_ in range(3):
        seen = (await _fresh(app)).version
        results = await asyncio.gather(
            *(
                institutions.update_institution_application(
                    staff, app.id, version=seen, purpose=f"第{round_}轮修改{i}"
                )
                for i in range(EDITORS)
            ),
            return_exceptions=True,
        )
        won, refused = _outcomes(list(results), InstitutionApplication)
        assert (len(won), len(refused)) == (1, EDITORS - 1)
        fresh = await _fresh(app)
        assert fresh.version == seen + 1
        assert fresh.content["purpose"] == won[0].content["purpose"]
    assert (await _events(app)).count("institution_application.update") == 3


# --- aggregates changed by transitions (compare-and-set on the version) -----------------


async def test_concurrent_filings_of_one_application_file_once():
    bureau = await it._bureau()
    inst, staff, app = await it._draft_application(bureau)
    await institutions.submit_institution_application(staff, app.id)
    results = await asyncio.gather(
        *(institutions.file_institution(bureau, app.id) for _ in range(10)),
        return_exceptions=True,
    )
    won, refused = _outcomes(list(results), Institution)
    assert len(won) == 1 and len(refused) == 9
    assert (await _fresh(inst)).status == FilingStatus.FILED
    assert (await _fresh(app)).status == ApplicationStatus.FILED
    assert (await _events(app)).count("institution_application.file") == 1


async def test_concurrent_suspensions_of_one_institution_suspend_once():
    inst, _, bureau = await it._filed_via_flow()
    version = (await _fresh(inst)).version
    results = await asyncio.gather(
        *(
            institutions.suspend_institution(bureau, inst.id, reason=f"考核不合格{i}")
            for i in range(10)
        ),
        return_exceptions=True,
    )
    won, _ = _outcomes(list(results), Institution)
    assert len(won) == 1
    fresh = await _fresh(inst)
    assert (fresh.status, fresh.version) == (FilingStatus.SUSPENDED, version + 1)
    assert (await _events(inst)).count("institution.suspend") == 1


@pytest.mark.parametrize("approvers", [2, 10])
async def test_concurrent_approvals_of_one_application_make_one_transition_and_one_event(
    approvers,
):
    w = await ex._world()
    app = await ex._recommend(w)
    await experts.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)
    bureaus = [await ex._bureau() for _ in range(approvers)]
    seen = (await _fresh(app)).version

    results = await asyncio.gather(
        *(experts.approve_expert(b, app.id) for b in bureaus), return_exceptions=True
    )

    won, refused = _outcomes(list(results), ExpertApplication)
    assert (len(won), len(refused)) == (1, approvers - 1)
    assert {e.code for e in refused} <= {ErrorCode.VERSION_CONFLICT, ErrorCode.INVALID_TRANSITION}
    fresh = await _fresh(app)
    assert (fresh.status, fresh.version) == (ExpertApplicationStatus.APPROVED, seen + 1)
    assert await AuditEvent.filter(action="expert_application.approve").count() == 1
    assert await AuditEvent.filter(action="expert.approve").count() == 1
    assert await ExpertTerm.filter(expert_id=app.expert_id).count() == 1  # type: ignore[attr-defined]


async def test_concurrent_exits_of_one_expert_exit_once():
    w = await ex._world()
    expert = await ex._pooled(w)
    results = await asyncio.gather(
        *(
            experts.exit_expert(
                w["bureau"], expert.id, reason=ExitReason.OTHER, note=f"本人申请{i}"
            )
            for i in range(10)
        ),
        return_exceptions=True,
    )
    won, _ = _outcomes(list(results), Expert)
    assert len(won) == 1
    assert (await _fresh(expert)).status == ExpertStatus.EXITED
    assert (await _events(expert)).count("expert.exit") == 1


async def test_concurrent_verifications_of_one_update_count_once_r8():
    w = await ex._update_world()
    update = await experts.request_expert_update(
        w["self"], w["expert"].id, changes={"title": "研究员"}
    )
    results = await asyncio.gather(
        *(experts.verify_expert_update(w["employer"], update.id, approve=True) for _ in range(10)),
        return_exceptions=True,
    )
    won, _ = _outcomes(list(results), ExpertUpdate)
    assert len(won) >= 1  # a repeated verification by the same side may be a no-op answer
    fresh = await _fresh(update)
    assert fresh.status == UpdateStatus.PENDING  # one side only: still waits for the other
    assert [a for a in await _events(update) if a.startswith("expert_update.verify")] == [
        "expert_update.verify_employer"
    ]


async def test_concurrent_commits_of_one_draw_commit_once_r10():
    w = await ev._world(roster=6, vice_chairs=2)
    session = await ev._session(w, backups=0)
    results = await asyncio.gather(
        *(evaluation.commit_draw(w.staff, session.id) for _ in range(10)), return_exceptions=True
    )
    won, _ = _outcomes(list(results), Draw)
    assert len({d.pk for d in won}) == 1
    assert await Draw.filter(session_id=session.id, status=DrawStatus.COMMITTED).count() == 1


# --- two draws on one day ------------------------------------------------------------------


@pytest.mark.parametrize("sessions_count", [2, 3])
async def test_concurrent_draws_on_one_day_never_seat_an_expert_twice_r10(sessions_count):
    # Enough presiding seats that no draw can run out of them, however the others drew.
    w = await ev._world(roster=5 * sessions_count, vice_chairs=3 * sessions_count)
    sessions = [await ev._session(w, backups=0) for _ in range(sessions_count)]
    for s in sessions:
        await evaluation.commit_draw(w.staff, s.id)

    results = await asyncio.gather(
        *(
            evaluation.execute_draw(w.supervisor, s.id, entropy=f"骰子 {i}-{i + 1}")
            for i, s in enumerate(sessions)
        ),
        return_exceptions=True,
    )

    assert not [r for r in results if isinstance(r, BaseException)], results
    # Busy experts are recorded as declined and replaced (BUSY_REASON): not seated.
    seated = (
        await PanelMember.filter(
            session_id__in=[s.id for s in sessions],
            draw__status=DrawStatus.EXECUTED,
            is_backup=False,
        )
        .exclude(status=PanelStatus.DECLINED)
        .values_list("expert_id", flat=True)
    )
    assert len(seated) == 3 * sessions_count
    assert len(set(seated)) == len(seated), "an expert is seated twice on one day"


# --- counters: 200 concurrent increments lose none -----------------------------------------


async def test_200_concurrent_increments_of_one_counter_lose_none():
    start = throttle.window_start(throttle.now_utc(), throttle.LOGIN_WINDOW)
    values = await asyncio.gather(*(throttle.hit("reliability:k", start) for _ in range(200)))
    assert sorted(values) == list(range(1, 201))
    row = await RateCounter.get(key="reliability:k", window_start=start)
    assert row.count == 200


async def test_200_concurrent_complaints_get_200_distinct_tracking_codes():
    """A number allocated per creation (the public tracking code) is never handed out
    twice and no creation is lost."""
    inst = await ex.factories.institution()

    async def submit(i: int) -> Complaint:
        found, _ = await complaints.submit_complaint(
            Actor(client_addr=f"10.8.{i // 200}.{i % 200}"),
            kind=ComplaintKind.REPORT,
            target_type=TargetType.INSTITUTION,
            target_id=inst.id,
            facts=f"第{i}号举报:该机构评审材料造假,请予核查。",
            anonymous=True,
        )
        return found

    created = await asyncio.gather(*(submit(i) for i in range(200)))
    assert len({c.tracking_code for c in created}) == 200
    assert await Complaint.all().count() == 200
    assert await AuditEvent.filter(action="complaint.submit").count() == 200


async def test_concurrent_audit_appends_keep_one_unbroken_chain_r20():
    from tortoise.transactions import in_transaction

    from resolvers import audit
    from resolvers.actor import SYSTEM

    async def one(i: int) -> None:
        async with in_transaction():
            await audit.record(SYSTEM, "reliability.concurrent", ("thing", i))

    await asyncio.gather(*(one(i) for i in range(200)))
    seqs = await AuditEvent.all().order_by("seq").values_list("seq", flat=True)
    assert len(seqs) == 200 and len(set(seqs)) == 200
    assert (await audit.verify_chain()).ok


async def test_keys_of_the_versioned_models_are_all_covered():
    """Every editable aggregate (Versioned) is exercised above; a new one fails here
    until it gets its concurrency test."""
    from tortoise import Tortoise

    from models.base import Versioned

    versioned = {
        m.__name__ for m in Tortoise.apps.get_models_iterable() if issubclass(m, Versioned)
    }
    assert versioned == {
        "AnnualPlan",
        "Committee",
        "Complaint",
        "EvaluationSession",
        "Expert",
        "ExpertApplication",
        "ExpertUpdate",
        "Institution",
        "InstitutionApplication",
        "User",
    }


async def test_concurrent_password_changes_bump_the_user_version_once_each():
    """User (Versioned): each change adds one to the version atomically; none is lost."""
    from models import User
    from resolvers import account
    from resolvers.actor import SYSTEM

    user = await account.create_user(
        SYSTEM,
        username="conc-user",
        display_name="并发用户",
        password="Lantern-orchid-7-Qx!",
        role=it.Role.BUREAU,
    )
    version = (await User.get(pk=user.pk)).version
    await asyncio.gather(
        *(
            account.change_password(SYSTEM, user.pk, new_password=f"Quartz-meadow-{i}-Zy!")
            for i in range(10)
        )
    )
    assert (await User.get(pk=user.pk)).version == version + 10
    assert await AuditEvent.filter(action="user.password_change").count() == 10
