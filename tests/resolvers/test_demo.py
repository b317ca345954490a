"""The demo data set: complete, valid, consistent with the rules, deterministic,
idempotent and fully audited (issue 2 item 6; R1, R3, R4, R6, R7, R9, R14, R15, R20)."""

import datetime as dt
import hashlib
from collections import Counter, defaultdict

from tortoise.contrib.test import truncate_all_models
from zxcvbn import zxcvbn

from models import (
    AgreementSignature,
    AnnualPlan,
    AuditEvent,
    Authority,
    Committee,
    CommitteeSeat,
    Complaint,
    EvaluationSession,
    Expert,
    ExpertApplication,
    ExpertEmployment,
    ExpertTerm,
    Institution,
    Recording,
    RoleAssignment,
    SessionApplicant,
    SupervisorAssignment,
    Unit,
    User,
    Vote,
)
from models.enums import (
    ApplicantResult,
    AuthorityKind,
    ComplaintKind,
    EntryRoute,
    ExpertStatus,
    FilingStatus,
    Gender,
    PlanStatus,
    Role,
    Seat,
    SessionStatus,
    TermStatus,
    UnitType,
)
from resolvers import audit, demo, demo_data
from resolvers.eligibility import ExpertFacts, check_can_sit, check_pool_entry, must_exit_for_age
from resolvers.passwords import verify_password
from resolvers.personal import (
    birth_date_from_id,
    decrypt,
    gender_from_id,
    keyed_hash,
    normalize_credit_code,
    normalize_id_number,
    normalize_phone,
)
from resolvers.retirement import anniversary
from tests import factories

SEED = 2023
EXPERTS = 120
TODAY = dt.date(2026, 11, 27)

MAIN_TABLES = {
    "authority": Authority,
    "unit": Unit,
    "institution": Institution,
    "committee": Committee,
    "expert": Expert,
    "evaluation_session": EvaluationSession,
    "session_applicant": SessionApplicant,
    "complaint": Complaint,
    "user": User,
    "annual_plan": AnnualPlan,
}


async def _load(seed: int = SEED) -> demo.DemoResult:
    return await demo.load_demo(seed=seed, experts=EXPERTS, today=TODAY)


async def _digest() -> str:
    rows = await Expert.all().order_by("number").values_list("number", "name", "birth_date")
    return hashlib.sha256(repr(rows).encode()).hexdigest()


async def _row_counts() -> dict[str, int]:
    return {name: await model.all().count() for name, model in MAIN_TABLES.items()}


async def test_load_demo_creates_the_planned_data_set():
    plan = demo.build_plan(SEED, EXPERTS, TODAY)

    result = await _load()

    assert result.created is True
    assert await _row_counts() == {
        "authority": 37,
        "unit": 300,
        "institution": 20,
        "committee": 60,
        "expert": EXPERTS,
        "evaluation_session": len(plan.rows["session"]),
        "session_applicant": len(plan.rows["applicant"]),
        "complaint": 30,
        "user": 7,
        "annual_plan": await Committee.filter(status=FilingStatus.FILED).count(),
    }
    assert await AnnualPlan.filter(status=PlanStatus.PUBLISHED).count() > 0
    assert await ExpertEmployment.all().count() == EXPERTS
    assert await ExpertApplication.all().count() == EXPERTS
    assert result.counts["seat"] == await CommitteeSeat.all().count() == len(plan.rows["seat"])
    assert await Authority.filter(kind=AuthorityKind.INDUSTRY).count() == 21
    assert await Authority.filter(kind=AuthorityKind.DISTRICT_BUREAU).count() == 16
    assert [name for name, _ in result.logins] == [
        "bureau",
        "inst1",
        "expert1",
        "employer1",
        "recommender1",
        "supervisor1",
        "applicant1",
    ]


async def test_load_demo_institution_statuses_and_filing_dates_follow_r1():
    await _load()

    statuses = Counter(await Institution.all().values_list("status", flat=True))
    assert statuses == {
        FilingStatus.FILED: 16,
        FilingStatus.SUBMITTED: 1,
        FilingStatus.DRAFT: 1,
        FilingStatus.EXPIRED: 1,
        FilingStatus.SUSPENDED: 1,
    }
    for inst in await Institution.all():
        assert all(
            getattr(inst, f)
            for f in ("introduction", "person_in_charge", "professional_scope", "purpose")
        )
        assert all(getattr(inst, f) for f in ("office_address", "phone", "facilities"))
        assert inst.full_time_staff > 0 and inst.strengths
        if inst.status in (FilingStatus.DRAFT, FilingStatus.SUBMITTED):
            assert (inst.filed_at, inst.valid_until) == (None, None)
            continue
        assert inst.valid_until == anniversary(inst.filed_at, 3)
        if inst.status == FilingStatus.EXPIRED:
            assert inst.valid_until < TODAY
        else:
            assert TODAY - dt.timedelta(days=913) <= inst.filed_at <= TODAY
    for committee in await Committee.all().select_related("institution"):
        expected = {FilingStatus.SUSPENDED: FilingStatus.FILED}.get(
            committee.institution.status, committee.institution.status
        )
        assert committee.status == expected
        if committee.filed_at is not None:
            assert committee.valid_until == anniversary(committee.filed_at, 3)
    assert await Committee.filter(self_evaluation=True).count() == 7


async def test_load_demo_id_numbers_and_phones_validate_and_are_unique():
    await _load()

    experts = await Expert.all()
    applicants = await SessionApplicant.all()
    numbers = [decrypt(p.id_number_enc) for p in [*experts, *applicants]]
    assert [normalize_id_number(n) for n in numbers] == numbers
    assert len(set(numbers)) == len(numbers)
    assert [keyed_hash(n) for n in numbers] == [p.id_number_hash for p in [*experts, *applicants]]
    for expert, number in zip(experts, numbers, strict=False):
        assert number[:4] == "1101"  # a Beijing district area code
        assert gender_from_id(number) == expert.gender
        assert birth_date_from_id(number) == expert.birth_date
        assert dt.date(1960, 1, 1) <= expert.birth_date <= dt.date(1988, 12, 31)
    phones = [decrypt(e.phone_enc) for e in experts]
    assert [normalize_phone(p) for p in phones] == phones
    assert len(set(phones)) == len(phones)


async def test_load_demo_credit_codes_validate_and_units_follow_r3():
    await _load()

    units = await Unit.all().select_related("authority")
    codes = [u.credit_code for u in units]
    assert [normalize_credit_code(c) for c in codes] == codes
    assert len(set(codes)) == len(codes)
    assert {c[:2] for c in codes} == {"12", "91"}
    assert {u.unit_type for u in units} == set(UnitType)
    for unit in units:
        if unit.unit_type == UnitType.MUNICIPAL:
            assert unit.authority.kind == AuthorityKind.INDUSTRY
        else:
            assert unit.authority.kind == AuthorityKind.DISTRICT_BUREAU
            assert unit.authority.district == unit.district


async def test_load_demo_rosters_are_odd_with_one_chair_and_qualified_members():
    """Art. 18 seats, odd membership (人社部令第40号), R9 for every seated expert."""
    plan = demo.build_plan(SEED, EXPERTS, TODAY)
    await _load()

    rosters: dict[int, list[CommitteeSeat]] = defaultdict(list)
    for seat in await CommitteeSeat.all().select_related("expert", "committee"):
        rosters[seat.committee_id].append(seat)  # type: ignore[attr-defined]

    assert len(rosters) == len({r["@committee:committee"] for r in plan.rows["seat"]})
    for seats in rosters.values():
        kinds = Counter(s.seat for s in seats)
        assert len(seats) % 2 == 1
        assert kinds[Seat.CHAIR] == 1
        assert 1 <= kinds[Seat.VICE_CHAIR] <= 2
        for s in seats:
            assert s.expert.status == ExpertStatus.IN_POOL
            assert s.expert.series == s.committee.series
            facts = ExpertFacts.from_model(s.expert)
            assert check_can_sit(facts, s.committee.level, TODAY) == []


async def test_load_demo_experts_obey_pool_rules():
    """R3 recommendation route, R4 entry, R6 age limit and R7 current terms."""
    await _load()

    experts = await Expert.all().select_related("unit")
    applications = {a.expert_id: a for a in await ExpertApplication.all()}  # type: ignore[attr-defined]
    terms: dict[int, list[ExpertTerm]] = defaultdict(list)
    for term in await ExpertTerm.all().order_by("number"):
        terms[term.expert_id].append(term)  # type: ignore[attr-defined]
    statuses = Counter(e.status for e in experts)
    assert statuses[ExpertStatus.IN_POOL] > EXPERTS * 0.7
    assert {ExpertStatus.APPLIED, ExpertStatus.REVIEWED, ExpertStatus.EXITED} <= set(statuses)
    for e in experts:
        facts = ExpertFacts.from_model(e)
        application = applications[e.id]
        if e.entry_route == EntryRoute.RECOMMENDATION:
            assert application.authority_id == e.unit.authority_id  # type: ignore[attr-defined]
            assert e.invitation_category is None
        else:
            assert application.authority_id is None  # type: ignore[attr-defined]
            assert e.invitation_category is not None
        if e.status != ExpertStatus.IN_POOL:
            assert terms[e.id] == []
            assert (e.exit_reason is not None) == (e.status == ExpertStatus.EXITED)
            continue
        invited = e.entry_route == EntryRoute.INVITATION
        assert (
            check_pool_entry(facts, e.pooled_at, invited=invited, urgent_exception_approved=False)
            == []
        )
        assert must_exit_for_age(facts, TODAY) is False
        assert e.title == demo_data.title_for(e.series, e.specialty, e.title_level)
        own = terms[e.id]
        assert [t.number for t in own] in ([1], [1, 2])
        assert own[0].start_on == e.pooled_at
        assert own[-1].status == TermStatus.ACTIVE
        assert own[-1].start_on <= TODAY <= own[-1].end_on
        assert all(t.status == TermStatus.RENEWED for t in own[:-1])


async def test_load_demo_finalised_sessions_have_votes_recording_and_supervisor():
    """R14 votes per present expert and the 2/3 rule; R15 recording and supervisor."""
    await _load()

    finalised = await EvaluationSession.filter(status=SessionStatus.FINALISED)
    assert finalised
    assert await EvaluationSession.filter(status=SessionStatus.PLANNED).count() > 0
    for session in finalised:
        assert session.starts_at.date() < TODAY
        assert await Recording.filter(session_id=session.id).count() == 1
        assert await SupervisorAssignment.filter(session_id=session.id).count() == 1
        applicants = await SessionApplicant.filter(session_id=session.id)
        assert 5 <= len(applicants) <= 15
        for applicant in applicants:
            votes = await Vote.filter(applicant_id=applicant.id).values_list("choice", flat=True)
            tally = Counter(votes)
            assert len(votes) == session.panel_size
            assert (applicant.votes_for, applicant.votes_against, applicant.votes_abstain) == (
                tally["for"],
                tally["against"],
                tally["abstain"],
            )
            passed = 3 * applicant.votes_for >= 2 * session.panel_size
            expected = ApplicantResult.PASSED if passed else ApplicantResult.FAILED
            assert applicant.result == expected


async def test_load_demo_complaints_cover_three_kinds_with_tracking_codes():
    await _load()

    complaints = await Complaint.all()
    kinds = Counter(c.kind for c in complaints)
    assert set(kinds) == set(ComplaintKind) and sum(kinds.values()) == 30
    codes = [c.tracking_code for c in complaints]
    assert len(set(codes)) == 30
    assert await verify_password(complaints[0].query_password_hash, demo.DEMO_PASSWORD)
    for c in complaints:
        if c.kind == ComplaintKind.REVIEW_REQUEST:
            applicant = await SessionApplicant.get(id=c.applicant_id).select_related("session")  # type: ignore[attr-defined]
            assert applicant.session.status == SessionStatus.FINALISED
            assert c.anonymous is False
        if c.anonymous:
            assert (c.complainant_name_enc, c.complainant_contact_enc) == ("", "")


async def test_load_demo_logins_hold_their_scoped_roles():
    await _load()

    users = {u.username: u for u in await User.all()}
    roles = {
        r.user.username: r for r in await RoleAssignment.all().select_related("user", "expert")
    }
    assert zxcvbn(demo.DEMO_PASSWORD)["score"] == 4
    assert await verify_password(users["expert1"].password_hash, demo.DEMO_PASSWORD)
    assert {name: r.role for name, r in roles.items()} == {
        "bureau": Role.BUREAU,
        "inst1": Role.INSTITUTION,
        "expert1": Role.EXPERT,
        "employer1": Role.EMPLOYER,
        "recommender1": Role.RECOMMENDER,
        "supervisor1": Role.SUPERVISOR,
        "applicant1": Role.APPLICANT,
    }
    first_filed = await Institution.filter(status=FilingStatus.FILED).order_by("id").first()
    assert roles["inst1"].institution_id == first_filed.id  # type: ignore[attr-defined]
    expert1 = roles["expert1"].expert
    assert expert1.status == ExpertStatus.IN_POOL
    assert await CommitteeSeat.filter(expert_id=expert1.id).exists()
    assert await AgreementSignature.filter(expert_id=expert1.id).exists()
    assert roles["employer1"].unit_id == expert1.unit_id  # type: ignore[attr-defined]
    recommender = await Authority.get(id=roles["recommender1"].authority_id)  # type: ignore[attr-defined]
    assert recommender.kind == AuthorityKind.INDUSTRY
    assert await SupervisorAssignment.filter(user_id=users["supervisor1"].id).count() >= 1
    assert roles["applicant1"].applicant_id is not None  # type: ignore[attr-defined]


async def test_load_demo_same_seed_gives_same_data_and_other_seed_differs():
    await _load()
    first = await _digest()
    await truncate_all_models()

    await _load()
    second = await _digest()
    await truncate_all_models()
    await _load(seed=SEED + 1)
    other = await _digest()

    assert first == second
    assert other != first


async def test_load_demo_second_load_changes_nothing():
    first = await _load()
    counts = await _row_counts()
    events = await AuditEvent.all().count()

    second = await _load()

    assert (second.created, second.logins) == (False, first.logins)
    assert await _row_counts() == counts
    assert await AuditEvent.all().count() == events


async def test_load_demo_leaves_a_database_with_institutions_alone():
    await factories.institution(name="已有评审机构")

    result = await _load()

    assert (result.created, result.logins) == (False, [])
    assert await Institution.all().values_list("name", flat=True) == ["已有评审机构"]
    assert await Expert.all().count() == 0
    assert await AuditEvent.all().count() == 0


async def test_load_demo_audits_every_main_row_and_the_chain_verifies():
    """R20: one "demo.load" event per created main row; the chain verifies end to end;
    personal data never enters the trail."""
    await _load()

    report = await audit.verify_chain()
    per_target = Counter(await AuditEvent.all().values_list("target_type", flat=True))
    counts = await _row_counts()
    assert report.ok is True
    assert report.count == sum(counts.values())
    assert dict(per_target) == counts
    assert set(await AuditEvent.all().values_list("action", flat=True)) == {"demo.load"}
    expert = await Expert.all().order_by("id").first()
    event = await AuditEvent.get(target_type="expert", target_id=str(expert.id))
    assert event.after["number"] == expert.number
    assert event.after["id_number_masked"] == expert.id_number_masked
    assert not {k for k in event.after if k.endswith(("_enc", "_hash"))}
    assert decrypt(expert.id_number_enc) not in repr(event.after)


async def test_build_plan_refuses_negative_expert_count():
    try:
        demo.build_plan(SEED, -1, TODAY)
    except ValueError as exc:
        assert str(exc) == "experts must not be negative"
    else:
        raise AssertionError("build_plan accepted a negative expert count")


async def test_load_demo_gender_matches_retirement_category():
    await _load()

    pairs = set(await Expert.all().values_list("gender", "retirement_category"))
    assert pairs == {(Gender.MALE, "male_60"), (Gender.FEMALE, "female_55")}
