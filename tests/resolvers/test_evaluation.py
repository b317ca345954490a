"""Evaluation sessions: planning (R2), recusal (R11), the verifiable draw on the
database (R9, R10, R12, R19), the sealed panel (R19), the sitting and its votes (R14),
recordings and finalisation (R15), and fairness statistics (Art. 6, 9, 13, 18, 23,
26–28, 30)."""

import asyncio
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from models import (
    AgreementSignature,
    AgreementText,
    AuditEvent,
    Certificate,
    Committee,
    CommitteeSeat,
    ConflictDeclaration,
    Draw,
    EvaluationSession,
    Expert,
    ExpertEmployment,
    ExpertTerm,
    Institution,
    PanelMember,
    Recording,
    RoleAssignment,
    SessionApplicant,
    SupervisorAssignment,
    TrainingRecord,
    Unit,
    User,
    Vote,
)
from models.enums import (
    ApplicantResult,
    ConflictKind,
    DeclaredBy,
    DrawStatus,
    ExpertStatus,
    FilingStatus,
    Level,
    PanelStatus,
    Role,
    Seat,
    SessionStatus,
    TermStatus,
    VoteChoice,
)
from resolvers import draw as draws
from resolvers import evaluation as svc
from resolvers.actor import ANONYMOUS, SYSTEM, Actor, Grant
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.institution import add_years
from resolvers.personal import decrypt, keyed_hash
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.datetime.now(svc.BEIJING).date()
SESSION_DAY = TODAY + dt.timedelta(days=10)
S = SessionStatus
_n = itertools.count(1)


# --- local helpers ----------------------------------------------------------------


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=svc.BEIJING)


async def _actor(*grants: Grant) -> Actor:
    n = next(_n)
    user = await User.create(username=f"eval{n}", display_name=f"用户{n}", password_hash="x")
    for g in grants:
        await RoleAssignment.create(
            user=user,
            role=g.role,
            institution_id=g.institution_id,
            authority_id=g.authority_id,
            unit_id=g.unit_id,
            expert_id=g.expert_id,
            applicant_id=g.applicant_id,
        )
    return Actor(user_id=user.id, username=user.username, grants=grants)


async def _expert_actor(expert: Expert) -> Actor:
    return await _actor(Grant(Role.EXPERT, expert_id=expert.id))


@dataclasses.dataclass
class World:
    inst: Institution
    committee: Committee
    experts: list[Expert]
    agreement: AgreementText
    staff: Actor
    bureau: Actor
    supervisor: Actor


async def _prepare(expert: Expert, agreement: AgreementText, *, year: int | None = None) -> None:
    """What R10/R19 need before sitting: a current term, the latest agreement, training."""
    await ExpertTerm.create(
        expert=expert,
        number=1,
        start_on=TODAY - dt.timedelta(days=365),
        end_on=TODAY + dt.timedelta(days=700),
        status=TermStatus.ACTIVE,
    )
    await AgreementSignature.create(
        expert=expert,
        agreement=agreement,
        signed_at=dt.datetime.now(dt.UTC),
        content_hash=agreement.content_hash,
    )
    await TrainingRecord.create(
        expert=expert, year=year or SESSION_DAY.year, trained_on=TODAY, topic="年度评前培训"
    )


async def _agreement() -> AgreementText:
    content = f"保密协议第{next(_n)}版"
    return await AgreementText.create(
        version=f"v{next(_n)}",
        content=content,
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
    )


async def _committee(inst: Institution, **kw: Any) -> Committee:
    return await Committee.create(
        institution=inst,
        name=f"电子信息正高级评委会{next(_n)}",
        series="工程技术",
        specialty="电子信息",
        level=kw.pop("level", Level.SENIOR),
        status=FilingStatus.FILED,
        filed_at=TODAY,
        valid_until=add_years(TODAY, 3),
        **kw,
    )


async def _world(
    roster: int = 5,
    *,
    vice_chairs: int = 1,
    self_evaluation: bool = False,
    prepare: bool = True,
    host_experts: int = 0,
) -> World:
    """An institution in force, a filed committee with a roster (seat 0 chair, then
    vice chairs, then members), staff, the bureau and an assigned-able supervisor."""
    host = await factories.unit()
    inst = await factories.institution(unit=host)
    committee = await _committee(inst, self_evaluation=self_evaluation)
    agreement = await _agreement()
    experts = []
    for i in range(roster):
        expert = await factories.expert(
            institution=inst, **({"unit": host} if i < host_experts else {})
        )
        seat = Seat.CHAIR if i == 0 else Seat.VICE_CHAIR if i <= vice_chairs else Seat.MEMBER
        await CommitteeSeat.create(committee=committee, expert=expert, seat=seat)
        if prepare:
            await _prepare(expert, agreement)
        experts.append(expert)
    return World(
        inst=inst,
        committee=committee,
        experts=experts,
        agreement=agreement,
        staff=await _actor(Grant(Role.INSTITUTION, institution_id=inst.id)),
        bureau=await _actor(Grant(Role.BUREAU)),
        supervisor=await _actor(Grant(Role.SUPERVISOR)),
    )


async def _applicant(unit: Unit | None = None, *, name: str | None = None) -> dict[str, Any]:
    n = next(_n)
    return {
        "name": name or f"申报人{n}",
        "id_number": factories.make_id_number(dt.date(1985, 3, 1), n),
        "unit_id": (unit or await factories.unit()).id,
        "series": "工程技术",
        "specialty": "电子信息",
        "level": Level.SENIOR,
    }


async def _session(
    w: World,
    *,
    day: dt.date = SESSION_DAY,
    panel: int = 3,
    backups: int = 1,
    applicants: list[dict[str, Any]] | None = None,
    supervisor: bool = True,
) -> EvaluationSession:
    session = await svc.create_evaluation_session(
        w.staff,
        w.committee.id,
        starts_at=_at(day, 9),
        ends_at=_at(day, 17),
        place="评审会议室",
        panel_size=panel,
        backup_count=backups,
    )
    await svc.add_session_applicants(
        w.staff, session.id, applicants=applicants or [await _applicant()]
    )
    if supervisor:
        await svc.assign_supervisor(w.bureau, session.id, w.supervisor.user_id or 0)
    return session


async def _drawn(w: World, **kw: Any) -> EvaluationSession:
    session = await _session(w, **kw)
    await svc.commit_draw(w.staff, session.id)
    await svc.execute_draw(w.supervisor, session.id, entropy="骰子 3-1-4-1-5")
    return await EvaluationSession.get(id=session.id)


async def _seated(session_id: int) -> list[PanelMember]:
    return (
        await PanelMember.filter(
            session_id=session_id, draw__status=DrawStatus.EXECUTED, is_backup=False
        )
        .exclude(status=PanelStatus.DECLINED)
        .select_related("expert")
        .order_by("rank")
    )


async def _sit(w: World, session: EvaluationSession, present: int | None = None) -> list[Expert]:
    """Record attendance: the first `present` seated members, a presiding seat first."""
    seated = sorted(await _seated(session.id), key=lambda m: m.seat == Seat.MEMBER)
    chosen = seated[: present or len(seated)]
    await svc.record_attendance(
        w.staff,
        session.id,
        present_expert_ids=[m.expert.id for m in chosen],
        presiding_expert_id=chosen[0].expert.id,
    )
    return [m.expert for m in chosen]


async def _state() -> tuple[Any, ...]:
    """Everything a refused request must leave untouched, the audit trail included."""
    return (
        await AuditEvent.all().count(),
        await EvaluationSession.all().order_by("id").values_list("status", "version"),
        await SessionApplicant.all().order_by("id").values_list("result", "votes_for"),
        await ConflictDeclaration.all().count(),
        await SupervisorAssignment.all().count(),
        await TrainingRecord.all().count(),
        await Draw.all().order_by("id").values_list("status", "seed"),
        await PanelMember.all().order_by("id").values_list("status", "is_backup", "present"),
        await Vote.all().count(),
        await Recording.all().count(),
        await Certificate.all().count(),
    )


async def _actions() -> list[str]:
    return await AuditEvent.all().order_by("seq").values_list("action", flat=True)  # type: ignore[return-value]


def _verifies_with_cli(bundle: dict[str, Any], draw: Draw, tmp_path: Path) -> int:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(  # noqa: S603 — fixed argv, our own interpreter and file
        [
            sys.executable,
            str(ROOT / "resolvers" / "drawcore.py"),
            str(path),
            "--pool-hash",
            draw.pool_hash,
            "--secret-hash",
            draw.secret_hash,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode


# --- sessions (R2) ------------------------------------------------------------------


async def test_create_session_by_staff_is_planned_and_audited_r2():
    w = await _world()
    session = await svc.create_evaluation_session(
        w.staff,
        w.committee.id,
        starts_at=_at(SESSION_DAY, 9),
        ends_at=_at(SESSION_DAY, 17),
        place=" 第一会议室 ",
        panel_size=5,
        backup_count=0,
    )
    assert (
        session.status,
        session.year,
        session.place,
        session.panel_size,
        session.backup_count,
        session.institution_id,  # type: ignore[attr-defined]
    ) == (S.PLANNED, SESSION_DAY.year, "第一会议室", 5, 0, w.inst.id)
    assert await _actions() == ["evaluation_session.create"]


@pytest.mark.parametrize(
    ("panel", "code", "field"),
    [
        (4, ErrorCode.INVALID, "panelSize"),
        (1, ErrorCode.INVALID, "panelSize"),
        (7, ErrorCode.INVALID, "panelSize"),
    ],
)
async def test_create_session_panel_must_be_odd_three_or_more_within_roster(panel, code, field):
    w = await _world(roster=5)
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.create_evaluation_session(
            w.staff,
            w.committee.id,
            starts_at=_at(SESSION_DAY, 9),
            ends_at=_at(SESSION_DAY, 17),
            place="会议室",
            panel_size=panel,
            backup_count=1,
        )
    assert (e.value.code, e.value.field) == (code, field)
    assert await _state() == before


@pytest.mark.parametrize(
    ("inst_status", "committee_valid_days", "code"),
    [
        (FilingStatus.SUSPENDED, 100, ErrorCode.INSTITUTION_SUSPENDED),
        (FilingStatus.REVOKED, 100, ErrorCode.INSTITUTION_REVOKED),
        (FilingStatus.FILED, -1, ErrorCode.COMMITTEE_EXPIRED),
    ],
)
async def test_create_session_refused_unless_institution_and_committee_in_force_r2(
    inst_status, committee_valid_days, code
):
    w = await _world()
    await Institution.filter(id=w.inst.id).update(status=inst_status)
    await Committee.filter(id=w.committee.id).update(
        valid_until=TODAY + dt.timedelta(days=committee_valid_days)
    )
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.create_evaluation_session(
            w.staff,
            w.committee.id,
            starts_at=_at(SESSION_DAY, 9),
            ends_at=_at(SESSION_DAY, 17),
            place="会议室",
            panel_size=3,
        )
    assert e.value.code == code
    assert await _state() == before


async def test_draw_refused_when_institution_suspended_after_planning_r2():
    w = await _world()
    session = await _session(w)
    await Institution.filter(id=w.inst.id).update(status=FilingStatus.SUSPENDED)
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.commit_draw(w.staff, session.id)
    assert e.value.code == ErrorCode.INSTITUTION_SUSPENDED
    assert await _state() == before


async def test_create_session_by_other_staff_expert_or_anonymous_refused_nothing_changed():
    w = await _world()
    other = await _actor(Grant(Role.INSTITUTION, institution_id=(await factories.institution()).id))
    expert = await _expert_actor(w.experts[0])
    before = await _state()
    for actor, error in (
        (other, PermissionDenied),
        (expert, PermissionDenied),
        (ANONYMOUS, Unauthenticated),  # a public committee: "log in", not "absent"
    ):
        with pytest.raises(error):
            await svc.create_evaluation_session(
                actor,
                w.committee.id,
                starts_at=_at(SESSION_DAY, 9),
                ends_at=_at(SESSION_DAY, 17),
                place="会议室",
                panel_size=3,
            )
    assert await _state() == before


async def test_add_applicants_stores_id_number_encrypted_hashed_and_masked():
    w = await _world()
    session = await _session(w)
    data = await _applicant(name="李四")
    [applicant] = await svc.add_session_applicants(w.staff, session.id, applicants=[data])
    stored = await SessionApplicant.get(id=applicant.id)
    idn = data["id_number"]
    assert (stored.name, decrypt(stored.id_number_enc), stored.id_number_hash) == (
        "李四",
        idn,
        keyed_hash(idn),
    )
    assert stored.id_number_masked == idn[:6] + "********" + idn[-4:]
    assert idn not in stored.id_number_enc
    audit = await AuditEvent.filter(action="session_applicant.add").order_by("-seq").first()
    assert audit is not None and idn not in json.dumps(audit.after, ensure_ascii=False)


async def test_add_applicants_invalid_id_number_adds_none_of_the_batch():
    w = await _world()
    session = await _session(w)
    good = await _applicant()
    wrong_check = "1" if good["id_number"][-1] != "1" else "2"
    bad = {**good, "id_number": good["id_number"][:-1] + wrong_check}
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.add_session_applicants(w.staff, session.id, applicants=[await _applicant(), bad])
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID_ID_NUMBER, "applicants[1].idNumber")
    assert await _state() == before


async def test_add_applicants_refuses_duplicate_and_other_level():
    w = await _world()
    data = await _applicant()
    session = await _session(w, applicants=[data])
    with pytest.raises(DomainError) as e:
        await svc.add_session_applicants(w.staff, session.id, applicants=[data])
    assert (e.value.code, e.value.field) == (ErrorCode.DUPLICATE, "applicants[0].idNumber")
    other = {**await _applicant(), "level": Level.INTERMEDIATE}
    with pytest.raises(DomainError) as e:
        await svc.add_session_applicants(w.staff, session.id, applicants=[other])
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "applicants[0].level")


async def test_add_applicants_after_commitment_refused_r11():
    w = await _world()
    session = await _session(w)
    await svc.commit_draw(w.staff, session.id)
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.add_session_applicants(w.staff, session.id, applicants=[await _applicant()])
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state() == before


async def test_assign_supervisor_by_recommender_and_refusals():
    """Art. 30: the bureau or a recommending authority assigns supervisors."""
    w = await _world()
    session = await _session(w, supervisor=False)
    recommender = await _actor(
        Grant(Role.RECOMMENDER, authority_id=(await factories.authority()).id)
    )
    row = await svc.assign_supervisor(recommender, session.id, w.supervisor.user_id or 0)
    assert (row.session_id, row.user_id, row.assigned_by_id) == (  # type: ignore[attr-defined]
        session.id,
        w.supervisor.user_id,
        recommender.user_id,
    )
    plain = await _actor()
    before = await _state()
    with pytest.raises(PermissionDenied):
        await svc.assign_supervisor(w.staff, session.id, w.supervisor.user_id or 0)
    with pytest.raises(DomainError) as e:
        await svc.assign_supervisor(w.bureau, session.id, plain.user_id or 0)
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "userId")
    with pytest.raises(DomainError) as e:
        await svc.assign_supervisor(w.bureau, session.id, w.supervisor.user_id or 0)
    assert e.value.code == ErrorCode.DUPLICATE
    assert await _state() == before


async def test_record_session_training_only_for_roster_experts_r19():
    w = await _world()
    session = await _session(w)
    records = await svc.record_session_training(
        w.staff,
        session.id,
        expert_ids=[w.experts[1].id, w.experts[0].id],
        trained_on=TODAY,
        topic="评审纪律",
    )
    assert [(r.expert_id, r.session_id, r.topic) for r in records] == [  # type: ignore[attr-defined]
        (w.experts[0].id, session.id, "评审纪律"),
        (w.experts[1].id, session.id, "评审纪律"),
    ]
    stranger = await factories.expert()
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.record_session_training(
            w.staff, session.id, expert_ids=[stranger.id], trained_on=TODAY, topic="评审纪律"
        )
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "expertIds")
    assert await _state() == before


# --- the frozen pool (R9, R10, R11, R19) ----------------------------------------------


async def test_commit_freezes_pool_with_a_reason_code_for_every_exclusion_r10_r11():
    """Roster experts with one defect each are excluded with their reason; the rest
    (including former employment 4 years ago and session-only training) are eligible."""
    w = await _world(roster=3, vice_chairs=1)
    applicant_unit = await factories.unit()
    relative_unit = await factories.unit()
    old_agreement = w.agreement
    latest = await _agreement()
    for e in w.experts:
        await AgreementSignature.create(
            expert=e,
            agreement=latest,
            signed_at=dt.datetime.now(dt.UTC),
            content_hash=latest.content_hash,
        )

    async def member(**kw: Any) -> Expert:
        expert = await factories.expert(institution=w.inst, **kw)
        await CommitteeSeat.create(committee=w.committee, expert=expert, seat=Seat.MEMBER)
        await _prepare(expert, latest)
        return expert

    suspended = await member(status=ExpertStatus.SUSPENDED)
    term_ended = await member()
    await ExpertTerm.filter(expert=term_ended).update(end_on=SESSION_DAY - dt.timedelta(days=1))
    old_signature = await member()
    await AgreementSignature.filter(expert=old_signature).update(agreement_id=old_agreement.id)
    untrained = await member()
    await TrainingRecord.filter(expert=untrained).delete()
    associate = await member(title_level=Level.ASSOCIATE_SENIOR)
    same_employer = await member(unit=applicant_unit)
    recent = await member()
    await ExpertEmployment.create(
        expert=recent,
        unit=applicant_unit,
        start_on=dt.date(2010, 1, 1),
        end_on=add_years(SESSION_DAY, -2),
    )
    long_ago = await member()
    await ExpertEmployment.create(
        expert=long_ago,
        unit=applicant_unit,
        start_on=dt.date(2010, 1, 1),
        end_on=add_years(SESSION_DAY, -4),
    )
    relative = await member()
    session_trained = await member()
    await TrainingRecord.filter(expert=session_trained).delete()
    busy = await member()
    # `busy` chairs another committee whose whole roster is drawn for the same day.
    other = await _committee(w.inst)
    for i, e in enumerate(
        [
            busy,
            await factories.expert(institution=w.inst),
            await factories.expert(institution=w.inst),
        ]
    ):
        await CommitteeSeat.create(
            committee=other, expert=e, seat=Seat.CHAIR if i == 0 else Seat.MEMBER
        )
        if i:
            await _prepare(e, latest)
    other_session = await svc.create_evaluation_session(
        w.staff,
        other.id,
        starts_at=_at(SESSION_DAY, 13),
        ends_at=_at(SESSION_DAY, 18),
        place="二号会议室",
        panel_size=3,
        backup_count=0,
    )
    await svc.add_session_applicants(w.staff, other_session.id, applicants=[await _applicant()])
    await svc.assign_supervisor(w.bureau, other_session.id, w.supervisor.user_id or 0)
    await svc.commit_draw(w.staff, other_session.id)
    await svc.execute_draw(w.supervisor, other_session.id, entropy="42")

    session = await _session(w, applicants=[await _applicant(applicant_unit, name="王五")])
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    await svc.record_session_training(
        w.staff, session.id, expert_ids=[session_trained.id], trained_on=TODAY, topic="评审纪律"
    )
    await svc.declare_conflict(
        await _expert_actor(relative),
        session.id,
        applicant_id=None,
        kind=ConflictKind.RELATIVE,
        detail="配偶",
        relative_name="王五",
        relative_unit_id=applicant_unit.id,
    )
    await svc.declare_conflict(  # a relative elsewhere: no effect
        await _expert_actor(long_ago),
        session.id,
        applicant_id=None,
        kind=ConflictKind.RELATIVE,
        detail="兄弟",
        relative_name="王五",
        relative_unit_id=relative_unit.id,
    )

    draw = await svc.commit_draw(w.staff, session.id)

    a = f"申报人#{applicant.id}"
    assert draw.inputs["exclusions"] == sorted(
        [
            {"number": suspended.number, "reason_code": "not_in_pool", "detail": "suspended"},
            {"number": term_ended.number, "reason_code": "term_ended", "detail": ""},
            {
                "number": old_signature.number,
                "reason_code": "agreement_missing",
                "detail": latest.version,
            },
            {"number": untrained.number, "reason_code": "not_trained", "detail": ""},
            {
                "number": associate.number,
                "reason_code": "level_not_qualified",
                "detail": "SENIOR_TITLE_REQUIRED",
            },
            {
                "number": same_employer.number,
                "reason_code": "conflict_with_applicant",
                "detail": f"{a}:same_employer",
            },
            {
                "number": recent.number,
                "reason_code": "conflict_with_applicant",
                "detail": f"{a}:recent_employer",
            },
            {
                "number": relative.number,
                "reason_code": "conflict_with_applicant",
                "detail": f"{a}:relative",
            },
            {
                "number": busy.number,
                "reason_code": "overlapping_session",
                "detail": f"评审会议#{other_session.id}",
            },
        ],
        key=lambda x: (x["number"], x["reason_code"], x["detail"]),
    )
    eligible = [*w.experts, long_ago, session_trained]
    codes = dict(await Unit.all().values_list("id", "credit_code"))
    assert draw.inputs["eligible"] == sorted(
        (
            {
                "number": e.number,
                "seat": ["chair", "vice_chair", "member"][min(i, 2)],
                "unit_credit_code": codes[e.unit_id],  # type: ignore[attr-defined]
            }
            for i, e in enumerate(eligible)
        ),
        key=lambda x: x["number"],
    )


async def test_declared_conflicts_from_applicant_and_staff_exclude_the_expert_r11():
    w = await _world(roster=5, vice_chairs=2)
    session = await _session(w)
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    applicant_actor = await _actor(Grant(Role.APPLICANT, applicant_id=applicant.id))
    by_applicant = await svc.declare_conflict(
        applicant_actor,
        session.id,
        applicant_id=applicant.id,
        kind="dispute",
        detail="曾有学术纠纷",
        expert_id=w.experts[3].id,
    )
    by_staff = await svc.declare_conflict(
        w.staff,
        session.id,
        applicant_id=applicant.id,
        kind="interest",
        detail="合作项目",
        expert_id=w.experts[4].id,
    )
    assert (by_applicant.declared_by, by_staff.declared_by) == (
        DeclaredBy.APPLICANT,
        DeclaredBy.STAFF,
    )
    draw = await svc.commit_draw(w.staff, session.id)
    assert [(x["number"], x["detail"]) for x in draw.inputs["exclusions"]] == [
        (w.experts[3].number, f"申报人#{applicant.id}:declared_dispute"),
        (w.experts[4].number, f"申报人#{applicant.id}:declared_interest"),
    ]


async def test_declare_conflict_refusals_nothing_changed_r11():
    w = await _world()
    session = await _session(w)
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    me = await _expert_actor(w.experts[1])
    outsider = await _expert_actor(await factories.expert())
    before = await _state()
    with pytest.raises(PermissionDenied):  # an expert declares only about themself
        await svc.declare_conflict(
            me,
            session.id,
            applicant_id=applicant.id,
            kind="other",
            detail="x",
            expert_id=w.experts[2].id,
        )
    with pytest.raises(NotFound):  # not on the roster: the session looks absent
        await svc.declare_conflict(
            outsider, session.id, applicant_id=applicant.id, kind="other", detail="x"
        )
    with pytest.raises(PermissionDenied):  # the bureau does not declare
        await svc.declare_conflict(
            w.bureau,
            session.id,
            applicant_id=applicant.id,
            kind="other",
            detail="x",
            expert_id=w.experts[2].id,
        )
    with pytest.raises(DomainError) as e:
        await svc.declare_conflict(
            me, session.id, applicant_id=applicant.id, kind="dispute", detail=" "
        )
    assert (e.value.code, e.value.field) == (ErrorCode.REQUIRED, "detail")
    assert await _state() == before


async def test_staff_with_a_conflict_cannot_operate_the_session_r11():
    w = await _world()
    session = await _session(w)
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    colleague = await _actor(Grant(Role.INSTITUTION, institution_id=w.inst.id))
    await svc.declare_conflict(
        colleague,
        session.id,
        applicant_id=applicant.id,
        kind="relative",
        detail="表亲",
        staff_user_id=w.staff.user_id,
    )
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.commit_draw(w.staff, session.id)
    assert e.value.code == ErrorCode.STAFF_CONFLICT
    assert await _state() == before
    draw = await svc.commit_draw(colleague, session.id)
    assert draw.status == DrawStatus.COMMITTED


# --- commit, execute, bundle (R10) ----------------------------------------------------


async def test_commit_stores_encrypted_secret_and_the_published_commitment_r10():
    w = await _world()
    session = await _session(w)
    draw = await svc.commit_draw(w.staff, session.id)
    secret = bytes.fromhex(decrypt(draw.secret_enc))
    assert (len(secret), draw.secret_hash, draw.pool_hash) == (
        32,
        hashlib.sha256(secret).hexdigest(),
        draws.pool_hash(draw.inputs),
    )
    assert secret.hex() not in draw.secret_enc
    assert (draw.secret_revealed, draw.seed, draw.result) == ("", "", None)
    assert (await EvaluationSession.get(id=session.id)).status == S.COMMITTED
    before = await _state()
    with pytest.raises(DomainError) as e:  # one commitment: a second needs a redraw
        await svc.commit_draw(w.staff, session.id)
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state() == before


async def test_commit_refused_when_pool_too_small_nothing_changed_r10():
    w = await _world(roster=3)
    await TrainingRecord.filter(expert=w.experts[2]).delete()
    session = await _session(w, panel=3)
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.commit_draw(w.staff, session.id)
    assert e.value.code == ErrorCode.DRAW_NOT_ENOUGH_ELIGIBLE
    assert await _state() == before


async def test_execute_draw_seats_panel_and_backups_and_the_bundle_verifies_r10(tmp_path):
    w = await _world(roster=6, vice_chairs=1)
    session = await _session(w, panel=3, backups=2)
    committed = await svc.commit_draw(w.staff, session.id)

    draw = await svc.execute_draw(w.supervisor, session.id, entropy="6-2-5-3")

    secret = bytes.fromhex(decrypt(committed.secret_enc))
    expected = draws.execute(committed.inputs, secret, "6-2-5-3")
    assert (draw.status, draw.secret_revealed, draw.entropy, draw.seed) == (
        DrawStatus.EXECUTED,
        secret.hex(),
        "6-2-5-3",
        expected.seed,
    )
    seats = {
        e.number: s
        for e, s in zip(w.experts, ["chair", "vice_chair"] + ["member"] * 4, strict=True)
    }
    members = await svc.session_panel(w.staff, session.id)
    assert [(m.expert.number, m.is_backup, m.seat, m.status) for m in members] == [
        *((n, False, seats[n], PanelStatus.INVITED) for n in expected.panel),
        *((n, True, seats[n], PanelStatus.INVITED) for n in expected.backups),
    ]
    assert {seats[n] for n in expected.panel} & {"chair", "vice_chair"}
    assert (await EvaluationSession.get(id=session.id)).status == S.DRAWN
    bundle = await svc.draw_bundle(w.staff, session.id)
    assert (bundle["panel"], bundle["backups"]) == (list(expected.panel), list(expected.backups))
    assert draws.verify_bundle(
        bundle, expected_pool_hash=committed.pool_hash, expected_secret_hash=committed.secret_hash
    ) == (True, "验证通过")
    assert _verifies_with_cli(bundle, committed, tmp_path) == 0
    tampered = {**bundle, "entropy": "6-2-5-4"}
    assert _verifies_with_cli(tampered, committed, tmp_path) == 1
    before = await _state()
    with pytest.raises(DomainError) as e:  # one commitment allows one draw
        await svc.execute_draw(w.supervisor, session.id, entropy="1-1-1")
    assert e.value.code == ErrorCode.DRAW_ALREADY_EXECUTED
    assert await _state() == before


async def test_execute_draw_only_by_an_assigned_supervisor_nothing_changed_r10():
    w = await _world()
    session = await _session(w)
    await svc.commit_draw(w.staff, session.id)
    unassigned = await _actor(Grant(Role.SUPERVISOR))
    before = await _state()
    with pytest.raises(PermissionDenied):
        await svc.execute_draw(w.staff, session.id, entropy="123")
    with pytest.raises(NotFound):
        await svc.execute_draw(unassigned, session.id, entropy="123")
    with pytest.raises(DomainError) as e:
        await svc.execute_draw(w.supervisor, session.id, entropy="  ")
    assert (e.value.code, e.value.field) == (ErrorCode.REQUIRED, "entropy")
    with pytest.raises(DomainError) as e:
        await svc.draw_bundle(w.staff, session.id)
    assert e.value.code == ErrorCode.DRAW_NOT_EXECUTED
    assert await _state() == before


async def test_draw_on_overlapping_session_replaces_anyone_already_seated_r10():
    """Both pools were frozen before either draw: the later draw replaces, through the
    seed sequence, whoever the earlier one seated, and its bundle still verifies."""
    w = await _world(roster=8, vice_chairs=3)
    first = await _session(w, backups=0)
    second = await _session(w, backups=0)
    await svc.commit_draw(w.staff, first.id)
    await svc.commit_draw(w.staff, second.id)
    await svc.execute_draw(w.supervisor, first.id, entropy="1")
    await svc.execute_draw(w.supervisor, second.id, entropy="2")
    taken = {m.expert.number for m in await _seated(first.id)}
    bundle = await svc.draw_bundle(w.staff, second.id)
    declined = {r["declined"] for r in bundle["replacements"]}
    # Everyone the first draw seated is replaced, and only they (a replacement that is
    # itself seated elsewhere is replaced in turn).
    assert (set(bundle["panel"]) & taken <= declined, declined <= taken) == (True, True)
    assert all(r["reason"].startswith(svc.BUSY_REASON) for r in bundle["replacements"])
    assert {m.expert.number for m in await _seated(second.id)}.isdisjoint(taken)
    assert draws.verify_bundle(bundle) == (True, "验证通过")


async def test_concurrent_draws_for_the_same_day_never_seat_one_expert_twice_r10():
    w = await _world(roster=8, vice_chairs=3)
    sessions = [await _session(w, backups=0) for _ in range(2)]
    for s in sessions:
        await svc.commit_draw(w.staff, s.id)

    await asyncio.gather(
        *(svc.execute_draw(w.supervisor, s.id, entropy=f"骰子{i}") for i, s in enumerate(sessions))
    )

    panels = [{m.expert.number for m in await _seated(s.id)} for s in sessions]
    assert (len(panels[0]), len(panels[1]), panels[0] & panels[1]) == (3, 3, set())
    for s in sessions:
        assert draws.verify_bundle(await svc.draw_bundle(w.staff, s.id)) == (True, "验证通过")


async def test_decline_is_replaced_by_the_first_backup_and_recorded_in_the_bundle_r10():
    w = await _world(roster=6, vice_chairs=2)
    session = await _drawn(w, panel=3, backups=2)
    members = await svc.session_panel(w.staff, session.id)
    seated = [m for m in members if not m.is_backup]
    leaving = seated[-1]
    published = await svc.draw_bundle(w.staff, session.id)
    replayed = draws.draw(published["inputs"], published["seed"])
    expected = draws.replace(
        replayed, leaving.expert.number, published["inputs"], reason="出国访问"
    )
    me = await _expert_actor(leaving.expert)
    other = await _expert_actor(seated[0].expert)
    before = await _state()
    with pytest.raises(NotFound):  # another expert's invitation looks absent (R19)
        await svc.decline_invitation(other, leaving.id, reason="出差")
    with pytest.raises(PermissionDenied):  # the supervisor sees it, but does not decline
        await svc.decline_invitation(w.supervisor, leaving.id, reason="出差")
    with pytest.raises(DomainError) as e:
        await svc.decline_invitation(me, leaving.id, reason=" ")
    assert (e.value.code, e.value.field) == (ErrorCode.REQUIRED, "reason")
    assert await _state() == before

    declined = await svc.decline_invitation(me, leaving.id, reason="出国访问")

    bundle = await svc.draw_bundle(w.staff, session.id)
    [record] = bundle["replacements"]
    assert (declined.status, declined.decline_reason, record["declined"], record["reason"]) == (
        PanelStatus.DECLINED,
        "出国访问",
        leaving.expert.number,
        "出国访问",
    )
    replacement = await PanelMember.get(
        draw_id=leaving.draw_id, expert__number=record["replacement"]
    )  # type: ignore[attr-defined]
    assert (replacement.is_backup, replacement.replaces_id) == (False, leaving.id)  # type: ignore[attr-defined]
    assert record["replacement"] == expected.replacements[0].replacement
    assert draws.verify_bundle(bundle) == (True, "验证通过")
    assert [m.expert.number for m in await _seated(session.id)] != [m.expert.number for m in seated]
    assert leaving.expert.number not in {m.expert.number for m in await _seated(session.id)}


async def test_redraw_abandons_the_old_draw_and_commits_a_new_one_r10():
    """R10: a redraw is an assigned supervisor's act with a reason; the abandoned draw
    stays in the record with confirmed_by = that supervisor, and a new commitment is
    published."""
    w = await _world(roster=5, vice_chairs=2)
    session = await _drawn(w)
    old = await Draw.get(session_id=session.id)
    before = await _state()
    for reason in ("", "   ", None):
        with pytest.raises(DomainError) as e:
            await svc.redraw(w.supervisor, session.id, reason=reason)  # type: ignore[arg-type]
        assert e.value.field == "reason"
    assert await _state() == before

    new = await svc.redraw(w.supervisor, session.id, reason="抽取时断电")

    old = await Draw.get(id=old.id)
    assert (old.status, old.abandon_reason, old.confirmed_by_id, old.seed != "") == (  # type: ignore[attr-defined]
        DrawStatus.ABANDONED,
        "抽取时断电",
        w.supervisor.user_id,
        True,
    )
    abandon = await AuditEvent.get(action="draw.abandon", target_id=str(old.id))
    assert (abandon.actor_user_id, abandon.after["confirmed_by"], abandon.after["reason"]) == (
        w.supervisor.user_id,
        w.supervisor.user_id,
        "抽取时断电",
    )
    commit = await AuditEvent.get(action="draw.commit", target_id=str(new.id))
    assert commit.actor_user_id == w.supervisor.user_id
    assert new.id != old.id and new.secret_hash != old.secret_hash

    old = await Draw.get(id=old.id)
    assert (old.status, old.abandon_reason, old.confirmed_by_id, old.seed != "") == (  # type: ignore[attr-defined]
        DrawStatus.ABANDONED,
        "抽取时断电",
        w.supervisor.user_id,
        True,
    )
    assert (new.status, (await EvaluationSession.get(id=session.id)).status) == (
        DrawStatus.COMMITTED,
        S.COMMITTED,
    )
    assert await svc.session_panel(w.staff, session.id) == []
    assert [d.id for d in await svc.list_draws(w.staff, session.id)] == [old.id, new.id]
    await svc.execute_draw(w.supervisor, session.id, entropy="again")
    assert draws.verify_bundle(await svc.draw_bundle(w.staff, session.id)) == (True, "验证通过")


async def test_redraw_is_refused_to_all_but_an_assigned_supervisor_r10():
    """R10/Art. 30: institution staff and the bureau (not assigned) are refused
    (PermissionDenied: they see the session), an unassigned supervisor and other
    institutions' staff and anonymous do not see it (NotFound), and the
    system actor cannot stand in for a supervisor's confirmation; nothing changes."""
    w = await _world(roster=5, vice_chairs=2)
    session = await _drawn(w)
    other = await _world(roster=1)
    stranger = await _actor(Grant(Role.SUPERVISOR))
    before = await _state()
    refusals: list[tuple[Actor, type[Exception]]] = [
        (w.staff, PermissionDenied),
        (w.bureau, PermissionDenied),
        (SYSTEM, PermissionDenied),
        (stranger, NotFound),
        (other.staff, NotFound),
        (ANONYMOUS, NotFound),
    ]
    for actor, error in refusals:
        with pytest.raises(error):
            await svc.redraw(actor, session.id, reason="抽取时断电")
    assert await _state() == before
    assert (await Draw.get(session_id=session.id)).status == DrawStatus.EXECUTED


async def test_bureau_may_redraw_only_when_assigned_as_supervisor_r10():
    """Decision (Art. 30): the bureau oversees through assigned supervisors; a bureau
    user who also holds the supervisor role and is assigned to the session may redraw."""
    w = await _world(roster=5, vice_chairs=2)
    session = await _drawn(w)
    overseer = await _actor(Grant(Role.BUREAU), Grant(Role.SUPERVISOR))
    with pytest.raises(PermissionDenied):
        await svc.redraw(overseer, session.id, reason="监督发现操作失误")
    await svc.assign_supervisor(w.bureau, session.id, overseer.user_id or 0)
    new = await svc.redraw(overseer, session.id, reason="监督发现操作失误")
    old = await Draw.get(session_id=session.id, status=DrawStatus.ABANDONED)
    assert (old.confirmed_by_id, new.status) == (overseer.user_id, DrawStatus.COMMITTED)  # type: ignore[attr-defined]


async def test_self_evaluation_panel_has_the_external_share_r12():
    """Art. 23: host-unit experts are not recused for host-unit applicants, but at
    least ceil(k/3) of the panel comes from outside."""
    w = await _world(roster=7, vice_chairs=1, self_evaluation=True, host_experts=5)
    host = await Unit.get(id=w.inst.unit_id)  # type: ignore[attr-defined]
    session = await _drawn(w, panel=3, backups=0, applicants=[await _applicant(host)])
    draw = await Draw.get(session_id=session.id)
    assert (draw.inputs["host_unit_credit_code"], draw.inputs["exclusions"]) == (
        host.credit_code,
        [],
    )
    units = [(await Unit.get(id=m.expert.unit_id)).credit_code for m in await _seated(session.id)]  # type: ignore[attr-defined]
    assert sum(code != host.credit_code for code in units) >= 1


# --- the sealed panel (R19) -----------------------------------------------------------


async def test_sealed_panel_nothing_reaches_applicants_or_the_public_r19():
    w = await _world(roster=5, vice_chairs=2)
    session = await _drawn(w, panel=3, backups=1)
    drawn = [
        m.expert for m in await PanelMember.filter(session_id=session.id).select_related("expert")
    ]
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    applicant_actor = await _actor(Grant(Role.APPLICANT, applicant_id=applicant.id))

    reads: dict[str, Callable[[Actor], Awaitable[Any]]] = {
        "get_evaluation_session": lambda a: svc.get_evaluation_session(a, session.id),
        "list_session_applicants": lambda a: svc.list_session_applicants(a, session.id),
        "list_draws": lambda a: svc.list_draws(a, session.id),
        "session_panel": lambda a: svc.session_panel(a, session.id),
        "my_invitations": lambda a: svc.my_invitations(a),
        "draw_bundle": lambda a: svc.draw_bundle(a, session.id),
        "applicant_result": lambda a: svc.applicant_result(a, applicant.id),
        "session_votes": lambda a: svc.session_votes(a, session.id),
        "draw_fairness": lambda a: svc.draw_fairness(a, w.committee.id),
    }
    seen: dict[tuple[str, str], str] = {}
    for who, actor in (("applicant", applicant_actor), ("anonymous", ANONYMOUS)):
        for name, read in reads.items():
            try:
                result = await read(actor)
            except (NotFound, PermissionDenied, Unauthenticated) as exc:
                seen[(who, name)] = type(exc).__name__ + ":" + str(exc)
            else:
                seen[(who, name)] = repr(result)

    outcome = svc.ApplicantOutcome(
        applicant_id=applicant.id,
        result=ApplicantResult.PENDING,
        finalised=False,
        present=0,
        votes_for=0,
        votes_against=0,
        votes_abstain=0,
    )
    assert {k: v.split(":")[0] for k, v in seen.items()} == {
        **{(who, n): "NotFound" for who in ("applicant", "anonymous") for n in reads},
        ("applicant", "my_invitations"): "[]",
        ("anonymous", "my_invitations"): "[]",
        ("applicant", "applicant_result"): repr(outcome).split(":")[0],
        ("applicant", "draw_fairness"): "PermissionDenied",
        ("anonymous", "draw_fairness"): "Unauthenticated",
    }
    text = "\n".join(seen.values())
    for expert in drawn:
        assert expert.name not in text and expert.number not in text
        assert f"expert_id={expert.id}" not in text
    assert set(dataclasses.asdict(outcome)) == {
        "applicant_id",
        "result",
        "finalised",
        "present",
        "votes_for",
        "votes_against",
        "votes_abstain",
    }


async def test_panel_visible_to_staff_supervisor_bureau_and_own_invitation_to_expert_r19():
    w = await _world(roster=5, vice_chairs=2)
    session = await _drawn(w, panel=3, backups=1)
    expected = [
        m.id for m in await PanelMember.filter(session_id=session.id).order_by("is_backup", "rank")
    ]
    for actor in (w.staff, w.supervisor, w.bureau):
        assert [m.id for m in await svc.session_panel(actor, session.id)] == expected
    other_staff = await _actor(
        Grant(Role.INSTITUTION, institution_id=(await factories.institution()).id)
    )
    with pytest.raises(NotFound):
        await svc.session_panel(other_staff, session.id)
    member = await PanelMember.get(id=expected[0]).select_related("expert")
    expert = await _expert_actor(member.expert)
    with pytest.raises(NotFound):
        await svc.session_panel(expert, session.id)
    assert [m.id for m in await svc.my_invitations(expert)] == [member.id]


# --- the sitting and votes (R14) -------------------------------------------------------


async def test_attendance_quorum_is_two_thirds_exactly_and_a_chair_presides_r14():
    w = await _world(roster=5, vice_chairs=1)
    session = await _drawn(w, panel=5, backups=0)
    seated = await _seated(session.id)
    presiding = next(m for m in seated if m.seat != Seat.MEMBER)
    members = [m for m in seated if m.seat == Seat.MEMBER]
    before = await _state()
    with pytest.raises(DomainError) as e:  # 3 of 5: 9 < 10
        await svc.record_attendance(
            w.staff,
            session.id,
            present_expert_ids=[presiding.expert.id, members[0].expert.id, members[1].expert.id],
            presiding_expert_id=presiding.expert.id,
        )
    assert (e.value.code, e.value.field) == (ErrorCode.NO_QUORUM, "presentExpertIds")
    with pytest.raises(DomainError) as e:  # a member may not preside
        await svc.record_attendance(
            w.staff,
            session.id,
            present_expert_ids=[m.expert.id for m in seated],
            presiding_expert_id=members[0].expert.id,
        )
    assert (e.value.code, e.value.field) == (ErrorCode.NO_PRESIDING, "presidingExpertId")
    assert await _state() == before
    four = [presiding.expert.id, *(m.expert.id for m in members[:3])]  # 4 of 5: 12 >= 10

    sitting = await svc.record_attendance(
        w.staff, session.id, present_expert_ids=four, presiding_expert_id=presiding.expert.id
    )

    assert (sitting.status, sitting.presiding_expert_id) == (S.SITTING, presiding.expert.id)  # type: ignore[attr-defined]
    flags = dict(
        await PanelMember.filter(session_id=session.id).values_list("expert_id", "present")
    )
    assert flags == {m.expert.id: m.expert.id in four for m in seated}


async def test_cast_vote_by_a_present_expert_once_and_refusals_r14():
    w = await _world(roster=5, vice_chairs=1)
    session = await _drawn(w, panel=5, backups=0)
    present = await _sit(w, session, present=4)
    absent = next(m.expert for m in await _seated(session.id) if m.expert not in present)
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    voter = await _expert_actor(present[1])

    vote = await svc.cast_vote(voter, session.id, applicant.id, choice="for")

    assert (vote.expert_id, vote.choice, vote.paper_ballot) == (
        present[1].id,
        VoteChoice.FOR,
        False,
    )  # type: ignore[attr-defined]
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.cast_vote(voter, session.id, applicant.id, choice="against")
    assert e.value.code == ErrorCode.DUPLICATE
    with pytest.raises(DomainError) as e:
        await svc.cast_vote(await _expert_actor(absent), session.id, applicant.id, choice="for")
    assert e.value.code == ErrorCode.EXPERT_NOT_PRESENT
    with pytest.raises(PermissionDenied):  # staff enter paper ballots, they do not vote
        await svc.cast_vote(w.staff, session.id, applicant.id, choice="for")
    with pytest.raises(NotFound):
        await svc.cast_vote(
            await _expert_actor(await factories.expert()), session.id, applicant.id, choice="for"
        )
    with pytest.raises(DomainError) as e:
        await svc.cast_vote(
            await _expert_actor(present[2]), session.id, applicant.id, choice="maybe"
        )
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "choice")
    assert await _state() == before


async def test_paper_ballots_are_flagged_and_votes_visible_only_to_the_bureau_r14():
    w = await _world(roster=3, vice_chairs=1)
    session = await _drawn(w, panel=3, backups=0)
    present = await _sit(w, session)
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    votes = await svc.record_paper_ballots(
        w.staff, session.id, applicant.id, votes={present[0].id: "for", present[1].id: "abstain"}
    )
    assert sorted(
        (v.expert_id, v.choice, v.paper_ballot, v.entered_by_id) for v in votes
    ) == sorted(  # type: ignore[attr-defined]
        [
            (present[0].id, VoteChoice.FOR, True, w.staff.user_id),
            (present[1].id, VoteChoice.ABSTAIN, True, w.staff.user_id),
        ]
    )
    assert [v.id for v in await svc.session_votes(w.bureau, session.id)] == sorted(
        v.id for v in votes
    )
    with pytest.raises(PermissionDenied):
        await svc.session_votes(w.staff, session.id)
    with pytest.raises(NotFound):
        await svc.session_votes(await _expert_actor(present[0]), session.id)
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.record_paper_ballots(
            w.staff, session.id, applicant.id, votes={present[0].id: "for"}
        )
    assert e.value.code == ErrorCode.DUPLICATE
    with pytest.raises(PermissionDenied):
        await svc.record_paper_ballots(
            w.bureau, session.id, applicant.id, votes={present[2].id: "for"}
        )
    assert await _state() == before


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"sha256": "ab" * 31}, "sha256"),
        ({"sha256": "zz" * 32}, "sha256"),
        ({"size_bytes": 0}, "sizeBytes"),
        ({"kind": "photo"}, "kind"),
        ({"uri": " "}, "uri"),
    ],
)
async def test_attach_recording_validates_checksum_size_kind_uri(over, field):
    w = await _world()
    session = await _session(w)
    values: dict[str, Any] = {
        "kind": "video",
        "uri": "s3://rec/1.mp4",
        "size_bytes": 1024,
        "sha256": "AB" * 32,
    }
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.attach_recording(w.staff, session.id, **{**values, **over})
    assert e.value.field == field
    assert await _state() == before
    row = await svc.attach_recording(w.staff, session.id, **values)
    assert (row.kind, row.size_bytes, row.sha256) == ("video", 1024, "ab" * 32)


# --- finalisation (R14, R15) -----------------------------------------------------------


async def test_finalise_refused_for_each_missing_precondition_r15():
    w = await _world(roster=3, vice_chairs=1)
    session = await _drawn(w, panel=3, backups=0)
    [applicant] = await SessionApplicant.filter(session_id=session.id)

    async def refused(code: ErrorCode) -> None:
        before = await _state()
        with pytest.raises(DomainError) as e:
            await svc.finalise_session(w.staff, session.id)
        assert e.value.code == code
        assert await _state() == before

    await refused(ErrorCode.NO_QUORUM)
    present = await _sit(w, session)
    presiding = (await EvaluationSession.get(id=session.id)).presiding_expert_id  # type: ignore[attr-defined]
    # Defence in depth: a presiding expert removed behind the service's back.
    await EvaluationSession.filter(id=session.id).update(presiding_expert_id=None)
    await refused(ErrorCode.NO_PRESIDING)
    await EvaluationSession.filter(id=session.id).update(presiding_expert_id=presiding)
    await refused(ErrorCode.NO_RECORDING)
    await svc.attach_recording(
        w.staff, session.id, kind="audio", uri="file:///rec.m4a", size_bytes=9, sha256="0" * 64
    )
    # A supervisor assignment withdrawn after the draw.
    assignment = await SupervisorAssignment.get(session_id=session.id)
    await assignment.delete()
    await refused(ErrorCode.NO_SUPERVISOR)
    await SupervisorAssignment.create(session_id=session.id, user_id=w.supervisor.user_id)
    await svc.record_paper_ballots(
        w.staff, session.id, applicant.id, votes={present[0].id: "for", present[1].id: "for"}
    )
    await refused(ErrorCode.VOTES_MISSING)
    await svc.cast_vote(await _expert_actor(present[2]), session.id, applicant.id, choice="against")

    done = await svc.finalise_session(w.staff, session.id)

    fresh = await SessionApplicant.get(id=applicant.id)
    assert (
        done.status,
        fresh.result,
        fresh.votes_for,
        fresh.votes_against,
        fresh.votes_abstain,
    ) == (
        S.FINALISED,
        ApplicantResult.PASSED,
        2,
        1,
        0,
    )


async def _sitting_with_ballots(
    present_count: int, tallies: list[list[str]]
) -> tuple[World, EvaluationSession]:
    w = await _world(roster=15, vice_chairs=1)
    session = await _drawn(w, panel=15, backups=0, applicants=[await _applicant() for _ in tallies])
    present = await _sit(w, session, present=present_count)
    applicants = await SessionApplicant.filter(session_id=session.id).order_by("id")
    for applicant, choices in zip(applicants, tallies, strict=True):
        await svc.record_paper_ballots(
            w.staff,
            session.id,
            applicant.id,
            votes={e.id: c for e, c in zip(present, choices, strict=True)},
        )
    await svc.attach_recording(
        w.staff, session.id, kind="video", uri="file:///v.mp4", size_bytes=1, sha256="f" * 64
    )
    return w, session


@pytest.mark.parametrize(
    ("present", "tallies", "expected"),
    [
        (15, [["for"] * 10 + ["against"] * 5, ["for"] * 9 + ["against"] * 6], ["passed", "failed"]),
        (14, [["for"] * 9 + ["against"] * 5, ["for"] * 10 + ["abstain"] * 4], ["failed", "passed"]),
    ],
)
async def test_pass_needs_two_thirds_of_present_experts_exactly_r14(present, tallies, expected):
    """10 of 15 passes (30 >= 30), 9 of 15 fails; 9 of 14 fails (27 < 28), 10 of 14 passes."""
    w, session = await _sitting_with_ballots(present, tallies)
    await svc.finalise_session(w.staff, session.id)
    rows = await SessionApplicant.filter(session_id=session.id).order_by("id")
    assert [(r.result, r.votes_for) for r in rows] == [
        (ApplicantResult(x), t.count("for")) for x, t in zip(expected, tallies, strict=True)
    ]
    [first, *_] = rows
    applicant = await _actor(Grant(Role.APPLICANT, applicant_id=first.id))
    assert await svc.applicant_result(applicant, first.id) == svc.ApplicantOutcome(
        applicant_id=first.id,
        result=ApplicantResult(expected[0]),
        finalised=True,
        present=present,
        votes_for=tallies[0].count("for"),
        votes_against=tallies[0].count("against"),
        votes_abstain=tallies[0].count("abstain"),
    )


async def test_finalised_session_refuses_every_mutation_r14():
    w = await _world(roster=3, vice_chairs=1)
    session = await _drawn(w, panel=3, backups=0)
    present = await _sit(w, session)
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    await svc.record_paper_ballots(
        w.staff, session.id, applicant.id, votes={e.id: "for" for e in present}
    )
    await svc.attach_recording(
        w.staff, session.id, kind="audio", uri="file:///a", size_bytes=1, sha256="1" * 64
    )
    await svc.finalise_session(w.staff, session.id)
    own = next(m for m in await _seated(session.id) if m.expert.id == present[0].id)
    other_supervisor = await _actor(Grant(Role.SUPERVISOR))
    voter = await _expert_actor(present[0])
    mutations: list[Callable[[], Awaitable[Any]]] = [
        lambda: svc.add_session_applicants(w.staff, session.id, applicants=[{"name": "x"}]),
        lambda: svc.assign_supervisor(w.bureau, session.id, other_supervisor.user_id or 0),
        lambda: svc.record_session_training(
            w.staff, session.id, expert_ids=[present[0].id], trained_on=TODAY, topic="x"
        ),
        lambda: svc.declare_conflict(
            w.staff,
            session.id,
            applicant_id=applicant.id,
            kind="other",
            detail="x",
            expert_id=present[0].id,
        ),
        lambda: svc.commit_draw(w.staff, session.id),
        lambda: svc.execute_draw(w.supervisor, session.id, entropy="1"),
        lambda: svc.decline_invitation(voter, own.id, reason="x"),
        lambda: svc.redraw(w.supervisor, session.id, reason="x"),
        lambda: svc.record_attendance(
            w.staff,
            session.id,
            present_expert_ids=[e.id for e in present],
            presiding_expert_id=present[0].id,
        ),
        lambda: svc.cast_vote(voter, session.id, applicant.id, choice="for"),
        lambda: svc.record_paper_ballots(
            w.staff, session.id, applicant.id, votes={present[0].id: "for"}
        ),
        lambda: svc.attach_recording(
            w.staff, session.id, kind="audio", uri="file:///b", size_bytes=1, sha256="2" * 64
        ),
        lambda: svc.finalise_session(w.staff, session.id),
    ]
    before = await _state()
    codes = []
    for mutate in mutations:
        with pytest.raises(DomainError) as e:
            await mutate()
        codes.append(e.value.code)
    assert codes == [ErrorCode.SESSION_FINALISED] * len(mutations)
    assert await _state() == before
    # R19 seals the panel until the session ends; then the bundle is public.
    assert draws.verify_bundle(await svc.draw_bundle(ANONYMOUS, session.id)) == (True, "验证通过")


# --- fairness -------------------------------------------------------------------------


async def test_draw_fairness_counts_against_uniform_expectation_and_flags_outliers():
    """A lone chair is drawn every time (the presiding quota): with 20 eligible and k=3
    the expectation is 3/20 a draw, so twice in two draws is a flagged outlier."""
    w = await _world(roster=20, vice_chairs=0)
    chair = w.experts[0]
    first = await _drawn(w, panel=3, backups=0, day=SESSION_DAY)
    rows = {r.number: r for r in await svc.draw_fairness(w.staff, w.committee.id)}
    assert (
        rows[chair.number].observed,
        rows[chair.number].expected,
        rows[chair.number].outlier,
    ) == (
        1,
        Fraction(3, 20),
        False,
    )
    await _drawn(w, panel=3, backups=0, day=SESSION_DAY + dt.timedelta(days=1))

    rows = {r.number: r for r in await svc.draw_fairness(w.staff, w.committee.id)}

    assert (
        rows[chair.number].observed,
        rows[chair.number].expected,
        rows[chair.number].outlier,
    ) == (
        2,
        Fraction(3, 10),
        True,
    )
    assert sorted(rows) == sorted(e.number for e in w.experts)
    assert sum(r.observed for r in rows.values()) == 6
    assert {(r.expected, r.draws_eligible) for r in rows.values()} == {(Fraction(3, 10), 2)}
    assert {r.number for r in rows.values() if r.outlier} == {chair.number} | {
        r.number for r in rows.values() if r.observed == 2
    }
    with pytest.raises(PermissionDenied):
        await svc.draw_fairness(w.supervisor, w.committee.id)
    assert first.id != 0


async def test_expired_institution_is_refused_at_creation_draw_and_vote_recording_r2():
    """Art. 12: a filing past its end date blocks every operation, even before the
    sweep has marked it expired (the check at every use)."""
    w = await _world(roster=5, vice_chairs=1)
    session = await _drawn(w, panel=5, backups=0)
    present = await _sit(w, session, present=4)
    [applicant] = await SessionApplicant.filter(session_id=session.id)
    planned = await _session(w)
    await Institution.filter(id=w.inst.id).update(valid_until=TODAY - dt.timedelta(days=1))
    assert (await Institution.get(id=w.inst.id)).status == FilingStatus.FILED
    before = await _state()
    attempts = [
        svc.create_evaluation_session(
            w.staff,
            w.committee.id,
            starts_at=_at(SESSION_DAY, 9),
            ends_at=_at(SESSION_DAY, 17),
            place="会议室",
            panel_size=3,
        ),
        svc.commit_draw(w.staff, planned.id),
        svc.cast_vote(await _expert_actor(present[0]), session.id, applicant.id, choice="for"),
        svc.record_paper_ballots(w.staff, session.id, applicant.id, votes={present[1].id: "for"}),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as e:
            await attempt
        assert e.value.code == ErrorCode.INSTITUTION_EXPIRED
    assert await _state() == before


# --- issue 9: staff decline on an expert's behalf (R10 step 4, R11) --------------------


async def test_staff_decline_on_behalf_replaces_like_a_self_decline_and_audits_staff_r10():
    """The expert phoned in: staff decline with a reason; the replacement is the one the
    draw's decline rule gives (as for a self-decline), the bundle still verifies and
    the audit event names the staff user with on_behalf."""
    w = await _world(roster=6, vice_chairs=2)
    session = await _drawn(w, panel=3, backups=2)
    leaving = (await _seated(session.id))[-1]
    published = await svc.draw_bundle(w.staff, session.id)
    expected = draws.replace(
        draws.draw(published["inputs"], published["seed"]),
        leaving.expert.number,
        published["inputs"],
        reason="本人来电告知出差",
    )
    before_version = session.version

    declined = await svc.decline_invitation(w.staff, leaving.id, reason="本人来电告知出差")

    bundle = await svc.draw_bundle(w.staff, session.id)
    [record] = bundle["replacements"]
    assert (declined.status, declined.decline_reason) == (PanelStatus.DECLINED, "本人来电告知出差")
    assert record == {
        "declined": leaving.expert.number,
        "replacement": expected.replacements[0].replacement,
        "reason": "本人来电告知出差",
    }
    assert draws.verify_bundle(bundle) == (True, "验证通过")
    event = await AuditEvent.get(action="panel_member.decline")
    assert (event.actor_user_id, event.target_id) == (w.staff.user_id, str(leaving.id))
    assert (event.after["on_behalf"], event.after["reason"]) == (True, "本人来电告知出差")
    assert (await EvaluationSession.get(id=session.id)).version == before_version + 1


async def test_decline_on_behalf_refused_to_others_and_to_conflicted_staff_r10_r11():
    """Supervisor and bureau: PermissionDenied; another institution's staff: NotFound;
    staff with a declared conflict (R11): STAFF_CONFLICT; blank reason: REQUIRED.
    Nothing changes, no audit event."""
    w = await _world(roster=6, vice_chairs=2)
    session = await _drawn(w, panel=3, backups=2)
    member = (await _seated(session.id))[0]
    other_inst = await factories.institution()
    outsider = await _actor(Grant(Role.INSTITUTION, institution_id=other_inst.id))
    conflicted = await _actor(Grant(Role.INSTITUTION, institution_id=w.inst.id))
    applicant = await SessionApplicant.get(session_id=session.id)
    await svc.declare_conflict(
        w.staff,
        session.id,
        applicant_id=applicant.id,
        kind="relative",
        detail="配偶",
        staff_user_id=conflicted.user_id,
    )
    before = await _state()

    for actor in (w.supervisor, w.bureau):
        with pytest.raises(PermissionDenied):
            await svc.decline_invitation(actor, member.id, reason="代为谢绝")
    with pytest.raises(NotFound):
        await svc.decline_invitation(outsider, member.id, reason="代为谢绝")
    with pytest.raises(DomainError) as conflict:
        await svc.decline_invitation(conflicted, member.id, reason="代为谢绝")
    with pytest.raises(DomainError) as blank:
        await svc.decline_invitation(w.staff, member.id, reason="  ")

    assert conflict.value.code == ErrorCode.STAFF_CONFLICT
    assert (blank.value.code, blank.value.field) == (ErrorCode.REQUIRED, "reason")
    assert await _state() == before


async def test_decline_on_behalf_refused_once_sitting_r10():
    """Only before the sitting, as for the expert: a present panel is not redrawn."""
    w = await _world(roster=6, vice_chairs=2)
    session = await _drawn(w, panel=3, backups=2)
    await _sit(w, session)
    member = (await _seated(session.id))[0]
    before = await _state()

    with pytest.raises(DomainError) as e:
        await svc.decline_invitation(w.staff, member.id, reason="来电")

    assert (e.value.code, e.value.field) == (ErrorCode.INVALID_TRANSITION, "panelMemberId")
    assert await _state() == before


# --- issue 9: the demo's live session, run through these services (R10, R14, R18, R20) ---


async def test_demo_live_session_is_drawn_finalised_and_certified_through_the_services():
    """`pingshen demo` (the real today) runs one session of inst1's institution through
    the services: a verifiable draw with a staff decline, paper ballots, finalisation,
    certificates for the passed; the audit chain verifies; a second load does nothing."""
    from resolvers import audit, demo
    from resolvers import certificate as certs

    result = await demo.load_demo(experts=120)

    [session_id] = await Draw.filter(status=DrawStatus.EXECUTED).values_list(
        "session_id", flat=True
    )
    live = int(session_id)  # type: ignore[call-overload]
    session = await EvaluationSession.get(id=live).select_related("institution")
    staff = await RoleAssignment.get(role=Role.INSTITUTION)
    bundle = await svc.draw_bundle(ANONYMOUS, live)  # public once finalised (R19)
    applicants = await SessionApplicant.filter(session_id=live).order_by("id")
    passed = [a for a in applicants if a.result == ApplicantResult.PASSED]
    issued = await Certificate.filter(applicant__session_id=live).order_by("id")
    assert (session.status, session.institution_id) == (S.FINALISED, staff.institution_id)  # type: ignore[attr-defined]
    assert draws.verify_bundle(bundle) == (True, "验证通过")
    assert len(bundle["replacements"]) == 1
    assert [a.result == ApplicantResult.PASSED for a in applicants] == [
        True, True, False, True, True, False
    ]  # fmt: skip
    assert len(issued) == 2 * len(passed) == result.counts["certificate"] == 8
    for cert in issued:
        check = await certs.verify_certificate(cert.code)
        assert (check.validity, check.signature_valid) == (certs.Validity.VALID, True)
    assert (await audit.verify_chain()).ok is True
    events = await AuditEvent.all().count()

    again = await demo.load_demo(experts=120)

    assert again.created is False
    assert await AuditEvent.all().count() == events
    assert await Certificate.all().count() == 8
