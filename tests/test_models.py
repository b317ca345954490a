"""Every unique constraint of the data model holds on the real database."""

import datetime as dt

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import (
    AgreementSignature,
    AgreementText,
    AnnualPlan,
    ApiToken,
    AuditEvent,
    Authority,
    Certificate,
    Committee,
    CommitteeSeat,
    Complaint,
    Draw,
    EvaluationSession,
    Expert,
    ExpertTerm,
    IdempotencyKey,
    Institution,
    LoginSession,
    Notification,
    PanelMember,
    RateCounter,
    SessionApplicant,
    SupervisorAssignment,
    Unit,
    User,
    Vote,
)
from models.enums import (
    AuthorityKind,
    CertificateKind,
    ComplaintChannel,
    ComplaintKind,
    Level,
    Seat,
    TargetType,
    UnitType,
    VoteChoice,
)
from tests import factories

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


async def _raises_integrity(coro) -> None:
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await coro


async def _world():
    inst = await factories.institution()
    committee = await Committee.create(
        institution=inst,
        name="工程技术电子信息正高级评委会",
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )
    expert = await factories.expert()
    unit = await factories.unit()
    session = await EvaluationSession.create(
        committee=committee,
        institution=inst,
        year=2026,
        starts_at=NOW,
        ends_at=NOW + dt.timedelta(hours=8),
        place="北京",
        panel_size=5,
    )
    applicant = await SessionApplicant.create(
        session=session,
        name="申报人",
        id_number_enc="x",
        id_number_hash="h1",
        id_number_masked="m",
        unit=unit,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )
    user = await User.create(username="u1", display_name="U", password_hash="x")
    return inst, committee, expert, unit, session, applicant, user


async def test_unique_names_and_codes():
    inst, committee, _expert, unit, *_ = await _world()
    await _raises_integrity(Institution.create(name=inst.name, kind=inst.kind))
    await _raises_integrity(
        Committee.create(
            institution=inst, name=committee.name, series="x", specialty="y", level=Level.SENIOR
        )
    )
    await _raises_integrity(
        Unit.create(name="另一个", credit_code=unit.credit_code, unit_type=UnitType.DISTRICT)
    )
    await Authority.create(name="市教委", kind=AuthorityKind.INDUSTRY)
    await _raises_integrity(Authority.create(name="市教委", kind=AuthorityKind.INDUSTRY))
    await _raises_integrity(User.create(username="u1", display_name="dup", password_hash="x"))


async def test_unique_expert_number_and_id_number_hash():
    expert = await factories.expert()
    await _raises_integrity(factories.expert(number=expert.number))
    await _raises_integrity(factories.expert(id_number_hash=expert.id_number_hash))
    assert await Expert.all().count() == 1


async def test_unique_roster_seat_plan_term_and_signature():
    _inst, committee, expert, *_ = await _world()
    await CommitteeSeat.create(committee=committee, expert=expert, seat=Seat.MEMBER)
    await _raises_integrity(
        CommitteeSeat.create(committee=committee, expert=expert, seat=Seat.CHAIR)
    )
    await AnnualPlan.create(
        committee=committee, year=2026, series="工程技术", specialty="电子信息", level=Level.SENIOR
    )
    await _raises_integrity(
        AnnualPlan.create(
            committee=committee, year=2026, series="x", specialty="y", level=Level.SENIOR
        )
    )
    await ExpertTerm.create(
        expert=expert, number=1, start_on=dt.date(2024, 1, 1), end_on=dt.date(2026, 12, 31)
    )
    await _raises_integrity(
        ExpertTerm.create(
            expert=expert, number=1, start_on=dt.date(2024, 1, 1), end_on=dt.date(2026, 12, 31)
        )
    )
    text = await AgreementText.create(version="v1", content="保密", content_hash="h")
    await _raises_integrity(AgreementText.create(version="v1", content="x", content_hash="h"))
    await AgreementSignature.create(expert=expert, agreement=text, signed_at=NOW, content_hash="h")
    await _raises_integrity(
        AgreementSignature.create(expert=expert, agreement=text, signed_at=NOW, content_hash="h")
    )


async def test_unique_session_rows():
    _inst, _committee, expert, unit, session, applicant, user = await _world()
    await _raises_integrity(
        SessionApplicant.create(
            session=session,
            name="同一人",
            id_number_enc="x",
            id_number_hash="h1",
            id_number_masked="m",
            unit=unit,
            series="s",
            specialty="s",
            level=Level.SENIOR,
        )
    )
    await SupervisorAssignment.create(session=session, user=user)
    await _raises_integrity(SupervisorAssignment.create(session=session, user=user))
    draw = await Draw.create(
        session=session, inputs={}, pool_hash="p", secret_enc="s", secret_hash="h", committed_at=NOW
    )
    await PanelMember.create(session=session, draw=draw, expert=expert, rank=1, seat=Seat.CHAIR)
    await _raises_integrity(
        PanelMember.create(session=session, draw=draw, expert=expert, rank=2, seat=Seat.MEMBER)
    )
    await Vote.create(session=session, applicant=applicant, expert=expert, choice=VoteChoice.FOR)
    await _raises_integrity(
        Vote.create(session=session, applicant=applicant, expert=expert, choice=VoteChoice.AGAINST)
    )
    await Certificate.create(
        applicant=applicant,
        kind=CertificateKind.CERTIFICATE,
        code="C1",
        payload={},
        signature="s",
        issued_at=NOW,
    )
    await _raises_integrity(
        Certificate.create(
            applicant=applicant,
            kind=CertificateKind.CERTIFICATE,
            code="C2",
            payload={},
            signature="s",
            issued_at=NOW,
        )
    )
    await _raises_integrity(
        Certificate.create(
            applicant=applicant,
            kind=CertificateKind.RESULT_NOTICE,
            code="C1",
            payload={},
            signature="s",
            issued_at=NOW,
        )
    )


async def test_unique_account_and_counter_rows():
    user = await User.create(username="u2", display_name="U", password_hash="x")
    await LoginSession.create(
        key_hash="k", user=user, csrf_token="c", last_seen_at=NOW, expires_at=NOW
    )
    await _raises_integrity(
        LoginSession.create(
            key_hash="k", user=user, csrf_token="c", last_seen_at=NOW, expires_at=NOW
        )
    )
    await ApiToken.create(name="t", prefix="p", token_hash="th")
    await _raises_integrity(ApiToken.create(name="t2", prefix="p", token_hash="th"))
    await RateCounter.create(key="login:x", window_start=NOW, count=1)
    await _raises_integrity(RateCounter.create(key="login:x", window_start=NOW, count=1))
    await IdempotencyKey.create(actor_key="user:1", key="k1", request_hash="r")
    await _raises_integrity(IdempotencyKey.create(actor_key="user:1", key="k1", request_hash="r"))
    await IdempotencyKey.create(actor_key="user:2", key="k1", request_hash="r")
    await Notification.create(kind="expiry", subject="s", body="b", dedupe_key="d")
    await _raises_integrity(
        Notification.create(kind="expiry", subject="s", body="b", dedupe_key="d")
    )


async def test_unique_complaint_tracking_code_and_audit_seq():
    await Complaint.create(
        kind=ComplaintKind.COMPLAINT,
        channel=ComplaintChannel.WEB,
        target_type=TargetType.INSTITUTION,
        facts="f",
        tracking_code="T1",
        query_password_hash="h",
    )
    await _raises_integrity(
        Complaint.create(
            kind=ComplaintKind.REPORT,
            channel=ComplaintChannel.WEB,
            target_type=TargetType.EXPERT,
            facts="f",
            tracking_code="T1",
            query_password_hash="h",
        )
    )
    await AuditEvent.create(
        seq=1,
        created_at=NOW,
        actor="system",
        action="a",
        target_type="t",
        target_id="1",
        prev_hash="0",
        hash="h1",
    )
    await _raises_integrity(
        AuditEvent.create(
            seq=1,
            created_at=NOW,
            actor="system",
            action="a",
            target_type="t",
            target_id="1",
            prev_hash="0",
            hash="h2",
        )
    )
    await _raises_integrity(
        AuditEvent.create(
            seq=2,
            created_at=NOW,
            actor="system",
            action="a",
            target_type="t",
            target_id="1",
            prev_hash="0",
            hash="h1",
        )
    )
