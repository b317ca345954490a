"""The demo data set: a realistic Beijing picture, deterministic from a seed.

`load_demo()` fills an empty database with recommending authorities, employers,
institutions, committees and their rosters, about 2,000 experts (with terms,
agreement signatures and pool applications), evaluation sessions with applicants and
votes, complaints, and one demo login per role. The data obey the rules the services
enforce, so the demo behaves like production data:

- ID numbers carry a correct GB 11643 check digit and the gender parity of the
  holder; credit codes a correct GB 32100 check character (and GB 11714 for the
  embedded organisation code); everything personal is stored encrypted and hashed.
- R1: filings are valid 3 years; R3: each unit's authority follows its type and every
  recommendation comes from that authority; R4/R6/R9: each pooled expert was eligible
  on entry, is not past the age limit today and can sit the committee level it holds
  a seat on (checked with resolvers/eligibility.py); R7: second terms follow a passed
  assessment; R14: past sessions have per-expert votes and results at the 2/3 rule;
  R15: they have a recording and a supervisor; Art. 18: rosters are odd with one chair.
- R20: every created institution, committee, expert, unit, authority, session,
  applicant, complaint and user has its audit event ("demo.load") in the chain.

Past sessions carry no Draw row: a draw is a commit–reveal record that only the
evaluation service can produce verifiably, so the demo does not fake one. Instead, a
demo of the real today adds one live session run through the services themselves
(`_run_live_session`: draw, a staff decline, votes, finalisation, certificates), so
the demo holds a verifiable draw and issued e-certificates (R10, R18).

Generation is a pure function of (seed, experts, today) (`build_plan`); the load is
one transaction, so a failed load leaves nothing behind.
"""

import datetime as dt
import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import (
    AgreementSignature,
    AgreementText,
    AnnualPlan,
    Authority,
    Committee,
    CommitteeSeat,
    Complaint,
    EvaluationSession,
    Expert,
    ExpertApplication,
    ExpertAssessment,
    ExpertEmployment,
    ExpertTerm,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
    Recording,
    RoleAssignment,
    SessionApplicant,
    SupervisorAssignment,
    Unit,
    User,
    Vote,
)
from models.enums import (
    LEVEL_LABELS,
    ApplicantResult,
    ApplicationStatus,
    AssessmentMethod,
    AssessmentResult,
    AuthorityKind,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    EntryRoute,
    ExitReason,
    ExpertApplicationStatus,
    ExpertStatus,
    FilingStatus,
    Gender,
    InstitutionKind,
    InvitationCategory,
    Level,
    NonAcceptanceReason,
    PanelStatus,
    PlanStatus,
    RecordingKind,
    RetirementCategory,
    Role,
    Seat,
    SessionStatus,
    TargetType,
    TermStatus,
    UnitType,
    VoteChoice,
)
from resolvers import audit
from resolvers import demo_data as data
from resolvers.actor import SYSTEM
from resolvers.common import beijing_today
from resolvers.eligibility import (
    ExpertFacts,
    check_can_sit,
    check_pool_entry,
    must_exit_for_age,
    term_end,
    term_last_year,
)
from resolvers.passwords import hash_password
from resolvers.personal import (
    credit_code_check,
    encrypt,
    id_check_digit,
    protect_id_number,
    protect_phone,
)
from resolvers.retirement import anniversary

# One password for every demo login (zxcvbn score 4); printed by `pingshen demo`.
DEMO_PASSWORD = "Pingshen-Demo-2026!"
DEFAULT_SEED = 2023
AUDIT_ACTION = "demo.load"

BEIJING = dt.timezone(dt.timedelta(hours=8))
_PG_DEMO_LOCK_KEY = 7_264_839_002  # serialises concurrent `pingshen demo` runs
_IN_CHUNK = 900  # keeps `IN (...)` lists under SQLite's variable limit on any version
_TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I look-alikes

# Demo logins: username → what the CLI says it is for.
DEMO_LOGINS: tuple[tuple[str, Role, str], ...] = (
    ("bureau", Role.BUREAU, "市人力资源社会保障局"),
    ("inst1", Role.INSTITUTION, "评审机构工作人员"),
    ("expert1", Role.EXPERT, "在库专家"),
    ("employer1", Role.EMPLOYER, "专家所在单位"),
    ("recommender1", Role.RECOMMENDER, "推荐单位(行业主管部门)"),
    ("supervisor1", Role.SUPERVISOR, "监督委员"),
    ("applicant1", Role.APPLICANT, "申报人"),
)


@dataclass(frozen=True)
class DemoResult:
    """What `pingshen demo` reports: whether data was loaded, a one-line summary and
    the demo logins (username, what it is for) that exist in the database."""

    created: bool
    summary: str
    logins: list[tuple[str, str]]
    counts: dict[str, int] = field(default_factory=dict)


# --- the plan: plain rows, foreign keys as indexes into other row lists ---------------


Row = dict[str, Any]


@dataclass
class Plan:
    """Every row to insert. A key "@field:kind" holds the index of the referenced row
    in `rows[kind]`; the writer turns it into `field_id` once that kind is inserted."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    live: "LiveSession | None" = None

    def add(self, kind: str, row: Row) -> int:
        self.rows[kind].append(row)
        return len(self.rows[kind]) - 1


@dataclass(frozen=True)
class LiveApplicant:
    """An applicant of the live session; `passes` fixes how the panel votes."""

    name: str
    id_number: str
    unit: int  # index into rows["unit"]
    passes: bool


@dataclass(frozen=True)
class LiveSession:
    """Today's sitting of a committee of inst1's institution, run at load time through
    the evaluation and certificate services (draw, a decline, votes, finalisation,
    certificates), so the demo holds a verifiable draw and issued e-certificates (R10,
    R14, R15, R18). Indexes point into the plan's rows."""

    committee: int
    roster: tuple[int, ...]  # expert indexes of the committee's seats
    panel_size: int
    applicants: tuple[LiveApplicant, ...]
    entropy: str
    recording_sha256: str
    recording_size: int


@dataclass
class _ExpertInfo:
    """What the plan needs to remember about a generated expert."""

    index: int
    facts: ExpertFacts
    status: ExpertStatus
    series: str
    specialty: str
    home: int
    unit: int
    seats: int = 0
    signed: bool = False


class _Builder:
    """Draws the whole data set from one `random.Random(seed)`; no database access."""

    def __init__(self, seed: int, experts: int, today: dt.date) -> None:
        # Data generation only (names, dates, numbers), never secrets: reproducibility
        # from the seed is the point, so a seeded PRNG is the right tool.
        self.rng = random.Random(seed)  # noqa: S311
        self.n_experts = experts
        self.today = today
        self.plan = Plan()
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.used_codes: set[str] = set()
        self.surnames = [s for s, _ in data.SURNAMES]
        self.surname_weights = [w for _, w in data.SURNAMES]
        self.birth_districts = list(data.BIRTH_DISTRICT_WEIGHTS)
        self.birth_weights = list(data.BIRTH_DISTRICT_WEIGHTS.values())
        self.authority_index: dict[str, int] = {}
        self.unit_specs: list[tuple[str, frozenset[str], UnitType, str]] = []
        self.units_by_name: dict[str, int] = {}
        self.experts: list[_ExpertInfo] = []
        self.seats_by_committee: dict[int, list[tuple[int, Seat]]] = {}
        self.institution_status: list[FilingStatus] = []
        self.committee_filed: list[dt.date | None] = []
        self.units_for_sector: dict[str, list[int]] = defaultdict(list)
        self.roster_targets: dict[int, int] = {}
        self.finalised_sessions: list[int] = []
        self.applicant1: int | None = None

    # -- small generators --------------------------------------------------------------

    def day_between(self, start: dt.date, end: dt.date) -> dt.date:
        return dt.date.fromordinal(self.rng.randint(start.toordinal(), end.toordinal()))

    def days_ago(self, low: int, high: int) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(low, high))

    def person_name(self, gender: Gender) -> str:
        surname = self.rng.choices(self.surnames, self.surname_weights)[0]
        chars = data.MALE_GIVEN if gender == Gender.MALE else data.FEMALE_GIVEN
        if self.rng.random() < 0.3:
            return surname + self.rng.choice(chars)
        first, second = self.rng.sample(chars, 2)
        return surname + first + second

    def id_number(self, birth: dt.date, gender: Gender) -> str:
        """A unique valid number: Beijing area code, birth date, sequence whose last
        digit is odd for men and even for women (GB 11643), check digit."""
        while True:
            district = self.rng.choices(self.birth_districts, self.birth_weights)[0]
            order = self.rng.randrange(1 if gender == Gender.MALE else 2, 1000, 2)
            first17 = f"{data.DISTRICT_CODES[district]}{birth:%Y%m%d}{order:03d}"
            number = first17 + id_check_digit(first17)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def phone(self) -> str:
        while True:
            number = self.rng.choice(data.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def office_phone(self) -> str:
        return f"010-{self.rng.choice('568')}{self.rng.randrange(10**7):07d}"

    def address(self, district: str) -> str:
        street = self.rng.choice(data.STREETS[district])
        return f"北京市{district}区{street}{self.rng.randint(1, 199)}号"

    def credit_code(self, form: str, area: str, modern: bool) -> str:
        """统一社会信用代码: registration type, area code, organisation code (GB 11714,
        with its own check character), GB 32100 check character."""
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        while True:
            if modern:  # codes issued since 2015 start the organisation part with MA
                body = "MA0" + "".join(self.rng.choice(alphabet) for _ in range(5))
            else:  # legacy organisation codes: 4xxxxxxx 事业单位, 1xxxxxxx enterprises
                body = ("4" if form == data.PUBLIC_INSTITUTION else "1") + (
                    f"{self.rng.randrange(10**7):07d}"
                )
            first17 = form + area + body + _org_code_check(body)
            code = first17 + credit_code_check(first17)
            if code not in self.used_codes:
                self.used_codes.add(code)
                return code

    def tracking_code(self, used: set[str]) -> str:
        while True:
            code = "TS" + "".join(self.rng.choice(_TRACKING_ALPHABET) for _ in range(10))
            if code not in used:
                used.add(code)
                return code

    # -- authorities and units ----------------------------------------------------------

    def build_authorities(self) -> None:
        for name, short in data.INDUSTRY_AUTHORITIES:
            self.authority_index[short] = self.plan.add(
                "authority", {"name": name, "kind": AuthorityKind.INDUSTRY, "district": ""}
            )
        for district, _ in data.DISTRICTS:
            self.authority_index[district] = self.plan.add(
                "authority",
                {
                    "name": data.district_bureau_name(district),
                    "kind": AuthorityKind.DISTRICT_BUREAU,
                    "district": district,
                },
            )

    def _add_unit(
        self,
        name: str,
        unit_type: UnitType,
        district: str,
        sectors: Sequence[str],
        form: str,
        authority: str = "",
    ) -> None:
        if name in self.units_by_name:
            return
        if unit_type == UnitType.MUNICIPAL:
            area = "110000"
            auth = authority
        else:
            # R3: district, central-in-Beijing and non-public units go to the district bureau.
            auth = district
            central_public = unit_type == UnitType.CENTRAL and form == data.PUBLIC_INSTITUTION
            area = "100000" if central_public else data.DISTRICT_CODES[district]
        modern = unit_type == UnitType.NON_PUBLIC
        index = self.plan.add(
            "unit",
            {
                "name": name,
                "credit_code": self.credit_code(form, area, modern),
                "unit_type": unit_type,
                "district": district,
                "@authority:authority": self.authority_index[auth],
            },
        )
        self.units_by_name[name] = index
        self.unit_specs.append((name, frozenset(sectors), unit_type, district))

    def build_units(self) -> None:
        for spec in data.UNITS:
            self._add_unit(
                spec.name, spec.unit_type, spec.district, spec.sectors, spec.form, spec.authority
            )
        for district, _ in data.DISTRICTS:
            patterns = list(data.DISTRICT_UNIT_PATTERNS)
            if district in data.SUBURBAN_DISTRICTS:
                patterns += data.SUBURBAN_UNIT_PATTERNS
            for pattern, sector in patterns:
                self._add_unit(
                    pattern.format(d=district), UnitType.DISTRICT, district, (sector,), "12"
                )
        while len(self.unit_specs) < data.UNIT_COUNT:
            pattern, sector_list = self.rng.choice(data.PRIVATE_PATTERNS)
            name = pattern.format(t=self.rng.choice(data.TRADE_NAMES))
            # Firms cluster where people live and work: reuse the population weights.
            district = self.rng.choices(self.birth_districts, self.birth_weights)[0]
            self._add_unit(name, UnitType.NON_PUBLIC, district, sector_list.split(), "91")
        for index, (_, sectors, _, _) in enumerate(self.unit_specs):
            for sector in sorted(sectors):
                self.units_for_sector[sector].append(index)

    def unit_for(self, sectors: Sequence[str]) -> int:
        candidates: list[int] = []
        for sector in sectors:
            candidates.extend(self.units_for_sector[sector])
        return self.rng.choice(candidates)

    # -- institutions and committees ----------------------------------------------------

    def build_institutions(self) -> None:
        committees_of: dict[int, list[data.CommitteeSpec]] = defaultdict(list)
        for committee in data.COMMITTEES:
            committees_of[committee.institution].append(committee)
        for i, spec in enumerate(data.INSTITUTIONS):
            status = FilingStatus(data.INSTITUTION_STATUS_OVERRIDES.get(i, FilingStatus.FILED))
            self.institution_status.append(status)
            filed_at: dt.date | None = None
            valid_until: dt.date | None = None
            if status == FilingStatus.EXPIRED:
                filed_at = self.days_ago(3 * 365 + 30, 3 * 365 + 200)
            elif status in (FilingStatus.FILED, FilingStatus.SUSPENDED):
                filed_at = self.days_ago(60, 912)  # within the last 2.5 years
            if filed_at is not None:
                valid_until = anniversary(filed_at, 3)  # R1: at most 3 years
            scope = "、".join(
                _scope_label(c.series, c.specialty, c.level) for c in committees_of[i]
            )
            fields = {
                "introduction": f"{spec.name}{spec.profile}。现依据《北京市职称评审服务机构和"
                f"职称评审专家管理暂行办法》申请承担{scope}的职称评审服务工作。",
                "person_in_charge": self.person_name(
                    Gender.MALE if self.rng.random() < 0.6 else Gender.FEMALE
                ),
                "professional_scope": scope,
                "purpose": "落实职称制度改革要求,坚持德才兼备、以德为先,为相关领域专业技术人才"
                "提供客观公正、科学规范的职称评价服务,促进首都专业技术人才队伍建设。",
                "office_address": self.address(spec.district),
                "phone": self.office_phone(),
                "full_time_staff": spec.staff,
                "facilities": f"设有独立评审会议室{self.rng.randint(2, 5)}间、专家封闭评审场所和"
                f"档案室,配备全程录音录像设备、职称评审管理信息系统及专用计算机"
                f"{self.rng.randint(10, 40)}台。",
                "strengths": f"{spec.profile};可提供申报受理、材料审核、评前培训、组织评审、"
                "结果公示以及复查、投诉和举报受理等全流程服务。",
            }
            status_reason = {
                FilingStatus.EXPIRED: "备案有效期已满,尚未重新核准备案(R1)",
                FilingStatus.SUSPENDED: "年度考核不合格,暂停开展评审工作(R17)",
            }.get(status, "")
            row: Row = {
                "name": spec.name,
                "kind": spec.kind,
                "status": status,
                "filed_at": filed_at,
                "valid_until": valid_until,
                "status_reason": status_reason,
                **fields,
            }
            if spec.unit:
                row["@unit:unit"] = self.units_by_name[spec.unit]
            self.plan.add("institution", row)
            self._institution_application(
                i,
                status,
                filed_at,
                {"kind": str(spec.kind), **fields},
                [_committee_fields(spec, c) for c in committees_of[i]],
            )
            assessed = status == FilingStatus.SUSPENDED or (
                status == FilingStatus.FILED and i % 5 == 1
            )
            if assessed and filed_at is not None:
                self._institution_assessment(i, status, filed_at)

    def _institution_application(
        self,
        institution: int,
        status: FilingStatus,
        filed_at: dt.date | None,
        content: dict[str, Any],
        committees: list[dict[str, Any]],
    ) -> None:
        app_status = {
            FilingStatus.DRAFT: ApplicationStatus.DRAFT,
            FilingStatus.SUBMITTED: ApplicationStatus.SUBMITTED,
        }.get(status, ApplicationStatus.FILED)
        submitted_at = decided_at = None
        if filed_at is not None:
            submitted_at = _at(filed_at - dt.timedelta(days=self.rng.randint(20, 45)), 10)
            decided_at = _at(filed_at, 15)
        elif status == FilingStatus.SUBMITTED:
            submitted_at = _at(self.days_ago(5, 25), 10)
        self.plan.add(
            "institution_application",
            {
                "@institution:institution": institution,
                "status": app_status,
                "content": content,
                # The same shape institution.create_institution_application stores.
                "proposed_committees": committees,
                "submitted_at": submitted_at,
                "decided_at": decided_at,
            },
        )

    def _institution_assessment(
        self, institution: int, status: FilingStatus, filed_at: dt.date
    ) -> None:
        failed = status == FilingStatus.SUSPENDED
        assessed_on = self.day_between(
            min(filed_at + dt.timedelta(days=30), self.today), self.today
        )
        self.plan.add(
            "institution_assessment",
            {
                "@institution:institution": institution,
                "method": AssessmentMethod.INTERVIEW
                if failed
                else AssessmentMethod.DOCUMENT_REVIEW,
                "assessed_on": assessed_on,
                "findings": "评审会议未按规定全程录音录像,部分评审材料归档不全,"
                "投诉举报未在期限内答复。"
                if failed
                else "评审程序规范,档案管理完整,投诉举报均按期答复。",
                "result": AssessmentResult.FAIL if failed else AssessmentResult.PASS,
                "complaint_figures": {"received": 6, "on_time": 3, "overdue": 3}
                if failed
                else {"received": 2, "on_time": 2, "overdue": 0},
            },
        )

    def build_committees(self) -> None:
        for spec in data.COMMITTEES:
            inst_spec = data.INSTITUTIONS[spec.institution]
            inst_status = self.institution_status[spec.institution]
            inst = self.plan.rows["institution"][spec.institution]
            status = {
                FilingStatus.SUSPENDED: FilingStatus.FILED,  # suspension is the institution's
            }.get(inst_status, inst_status)
            filed_at = valid_until = None
            if inst["filed_at"] is not None:
                latest = (
                    inst["valid_until"] - dt.timedelta(days=1)
                    if status == FilingStatus.EXPIRED
                    else self.today
                )
                filed_at = min(
                    inst["filed_at"] + dt.timedelta(days=self.rng.randint(0, 45)), latest
                )
                valid_until = anniversary(filed_at, 3)
            self.committee_filed.append(filed_at)
            self.plan.add(
                "committee",
                {
                    "@institution:institution": spec.institution,
                    **_committee_fields(inst_spec, spec),
                    "status": status,
                    "filed_at": filed_at,
                    "valid_until": valid_until,
                    "status_reason": "备案有效期已满(R1)" if status == FilingStatus.EXPIRED else "",
                },
            )

    # -- experts -------------------------------------------------------------------------

    def build_experts(self) -> None:
        # Experts are reviewed by institutions that are, or were, filed (Art. 17).
        homes = [i for i, spec in enumerate(data.COMMITTEES) if self.committee_filed[i] is not None]
        self.roster_targets = {i: self.rng.choice(range(15, 26, 2)) for i in homes}
        weights = [self.roster_targets[i] for i in homes]
        statuses = [
            ExpertStatus.IN_POOL,
            ExpertStatus.APPLIED,
            ExpertStatus.REVIEWED,
            ExpertStatus.EXITED,
        ]
        status_weights = [85, 4, 4, 7]
        for n in range(self.n_experts):
            home = self.rng.choices(homes, weights)[0]
            status = self.rng.choices(statuses, status_weights)[0]
            self._expert(n, home, status)

    def _expert(self, n: int, home: int, status: ExpertStatus) -> None:
        rng, today = self.rng, self.today
        spec = data.COMMITTEES[home]
        inst_spec = data.INSTITUTIONS[spec.institution]
        gender = Gender.MALE if rng.random() < 0.58 else Gender.FEMALE
        category = (
            RetirementCategory.MALE_60 if gender == Gender.MALE else RetirementCategory.FEMALE_55
        )
        invited = status != ExpertStatus.APPLIED and rng.random() < 0.03
        category_inv = rng.choices(list(InvitationCategory), [1, 3, 6, 4])[0] if invited else None
        senior = spec.level == Level.SENIOR or rng.random() < 0.4
        level = Level.SENIOR if senior else Level.ASSOCIATE_SENIOR
        exit_reason: ExitReason | None = None
        term_number = 0
        pooled_at: dt.date | None = None
        exited_at: dt.date | None = None
        applied_on = today
        for _ in range(500):
            birth = self.day_between(dt.date(1960, 1, 1), dt.date(1988, 12, 31))
            age = rng.randint(38, 50) if senior else rng.randint(32, 45)
            title_on = self.day_between(anniversary(birth, age), anniversary(birth, age + 1))
            facts = ExpertFacts(gender, birth, category, level, title_on)
            if status == ExpertStatus.IN_POOL:
                term_number = 2 if rng.random() < 0.3 else 1
                start = self.days_ago(0, 1090)  # the current term is running today (R7)
                if start.month == 2 and start.day == 29:
                    start = dt.date(start.year, 3, 1)
                pooled_at = start if term_number == 1 else start.replace(year=start.year - 3)
                applied_on = pooled_at - dt.timedelta(days=rng.randint(30, 90))
                ok = (
                    not check_pool_entry(
                        facts, pooled_at, invited=invited, urgent_exception_approved=False
                    )
                    and not must_exit_for_age(facts, today)
                    and not check_can_sit(facts, spec.level, today)
                    and title_on <= anniversary(pooled_at, -3)
                )
            elif status == ExpertStatus.EXITED:
                pooled_at = self.days_ago(700, 2000)
                applied_on = pooled_at - dt.timedelta(days=rng.randint(30, 90))
                ok = not check_pool_entry(
                    facts, pooled_at, invited=invited, urgent_exception_approved=False
                )
                if ok and must_exit_for_age(facts, today):
                    exit_reason = ExitReason.AGE_LIMIT
                    exited_at = facts.age_limit_date + dt.timedelta(days=rng.randint(1, 20))
                    ok = pooled_at < exited_at <= today
                elif ok:
                    exit_reason = rng.choice(
                        [
                            ExitReason.NOT_PROFESSIONAL,
                            ExitReason.HEALTH,
                            ExitReason.OTHER,
                            ExitReason.FAILED_ASSESSMENT,
                        ]
                    )
                    exited_at = self.day_between(pooled_at + dt.timedelta(days=200), today)
            else:
                applied_on = self.days_ago(3, 90)
                ok = not check_pool_entry(
                    facts, today, invited=invited, urgent_exception_approved=False
                )
            if ok:
                break
        else:  # pragma: no cover - the ranges above always admit a solution
            raise RuntimeError("demo: could not draw a consistent expert")

        employer_unit = self.units_by_name.get(inst_spec.unit) if inst_spec.unit else None
        if employer_unit is not None and rng.random() < 0.65:
            unit = employer_unit  # self-evaluation committees mostly seat their own staff
        else:
            unit = self.unit_for(spec.sectors)
        id_number = self.id_number(birth, gender)
        phone = self.phone()
        number = f"BJ{(pooled_at or applied_on).year}{n + 1:06d}"
        index = self.plan.add(
            "expert",
            {
                "number": number,
                "name": self.person_name(gender),
                "gender": gender,
                "birth_date": birth,
                "retirement_category": category,
                **protect_id_number(id_number),
                **protect_phone(phone),
                "email": f"{number.lower()}@example.com",
                "@unit:unit": unit,
                "title": data.title_for(spec.series, spec.specialty, level),
                "title_level": level,
                "title_obtained_on": title_on,
                "series": spec.series,
                "specialty": spec.specialty,
                "field": rng.choice(data.FIELDS.get(spec.specialty, (spec.specialty,))),
                "entry_route": EntryRoute.INVITATION if invited else EntryRoute.RECOMMENDATION,
                "invitation_category": category_inv,
                "@institution:institution": spec.institution,
                "status": status,
                "pooled_at": pooled_at
                if status in (ExpertStatus.IN_POOL, ExpertStatus.EXITED)
                else None,
                "exit_reason": exit_reason,
                "exit_note": _EXIT_NOTES.get(exit_reason, "") if exit_reason else "",
                "exited_at": _at(exited_at, 10) if exited_at else None,
            },
        )
        info = _ExpertInfo(index, facts, status, spec.series, spec.specialty, home, unit)
        self.experts.append(info)
        start_age = rng.randint(24, 30)
        self.plan.add(
            "employment",
            {
                "@expert:expert": index,
                "@unit:unit": unit,
                "start_on": min(anniversary(birth, start_age), title_on),
                "end_on": None,
            },
        )
        self._application(info, invited, category_inv, applied_on, pooled_at)
        if status == ExpertStatus.IN_POOL and pooled_at is not None:
            self._terms(info, pooled_at, term_number, spec.institution)
            if rng.random() < 0.92:
                info.signed = True
                signed = pooled_at + dt.timedelta(days=rng.randint(1, 30))
                self.plan.add(
                    "signature",
                    {"@expert:expert": index, "signed_at": _at(min(signed, today), 11)},
                )

    def _application(
        self,
        info: _ExpertInfo,
        invited: bool,
        category: InvitationCategory | None,
        applied_on: dt.date,
        pooled_at: dt.date | None,
    ) -> None:
        app_status = {
            ExpertStatus.APPLIED: ExpertApplicationStatus.SUBMITTED,
            ExpertStatus.REVIEWED: ExpertApplicationStatus.REVIEWED,
        }.get(info.status, ExpertApplicationStatus.APPROVED)
        reviewed_at = decided_at = None
        if app_status != ExpertApplicationStatus.SUBMITTED:
            reviewed_at = _at(
                min(applied_on + dt.timedelta(days=self.rng.randint(5, 20)), self.today), 14
            )
        if pooled_at is not None:
            decided_at = _at(pooled_at, 16)
        row: Row = {
            "@expert:expert": info.index,
            "route": EntryRoute.INVITATION if invited else EntryRoute.RECOMMENDATION,
            "invitation_category": category,
            "@institution:institution": data.COMMITTEES[info.home].institution,
            "@committee:committee": info.home,
            "status": app_status,
            "institution_opinion": "经审核,符合入库条件,同意推荐入库。" if reviewed_at else "",
            "reviewed_at": reviewed_at,
            "decided_at": decided_at,
            "created_at": _at(applied_on, 9),
        }
        if not invited:
            # R3: the recommendation comes from the authority responsible for the unit.
            row["@authority:unit_authority"] = info.unit
        self.plan.add("expert_application", row)

    def _terms(self, info: _ExpertInfo, pooled_at: dt.date, number: int, institution: int) -> None:
        start = pooled_at
        for n in range(1, number + 1):
            renewed = n < number
            self.plan.add(
                "term",
                {
                    "@expert:expert": info.index,
                    "number": n,
                    "start_on": start,
                    "end_on": term_end(start),
                    "status": TermStatus.RENEWED if renewed else TermStatus.ACTIVE,
                },
            )
            if renewed:
                # R7: a term is renewed only after a passed assessment in its last year.
                first, last = term_last_year(start)
                self.plan.add(
                    "expert_assessment",
                    {
                        "@expert:expert": info.index,
                        "@term:term": len(self.plan.rows["term"]) - 1,
                        "@institution:institution": institution,
                        "assessed_on": self.day_between(first, min(last, self.today)),
                        "quality": "评审意见客观公正,评议质量较高。",
                        "duties": "按时参加评前培训和评审会议,遵守评审纪律。",
                        "supervision": "监督检查未发现问题。",
                        "result": AssessmentResult.PASS,
                    },
                )
            start = anniversary(start, 3)

    # -- committee rosters (Art. 18) --------------------------------------------------

    def build_seats(self) -> None:
        in_pool = [e for e in self.experts if e.status == ExpertStatus.IN_POOL]
        for c, spec in enumerate(data.COMMITTEES):
            if self.committee_filed[c] is None:
                continue
            eligible = [
                e
                for e in in_pool
                if e.series == spec.series
                and e.seats < 2
                and not check_can_sit(e.facts, spec.level, self.today)
            ]
            groups: list[list[_ExpertInfo]] = [[], [], []]
            for e in eligible:
                rank = 0 if e.home == c else 1 if e.specialty == spec.specialty else 2
                groups[rank].append(e)
            ordered: list[_ExpertInfo] = []
            for group in groups:
                self.rng.shuffle(group)
                ordered.extend(group)
            size = min(self.roster_targets[c], len(ordered))
            size -= 1 - size % 2  # membership is odd (人社部令第40号)
            if size < 3:
                continue
            chosen = ordered[:size]
            # The most senior members preside: 正高级 first, then the longest-held title.
            by_seniority = sorted(
                chosen,
                key=lambda e: (
                    e.facts.title_level != Level.SENIOR,
                    e.facts.title_obtained_on,
                    e.index,
                ),
            )
            vice_count = 1 if size < 11 or self.rng.random() < 0.4 else 2
            roles = {by_seniority[0].index: Seat.CHAIR}
            for e in by_seniority[1 : 1 + vice_count]:
                roles[e.index] = Seat.VICE_CHAIR
            roster: list[tuple[int, Seat]] = []
            for e in chosen:
                e.seats += 1
                seat = roles.get(e.index, Seat.MEMBER)
                roster.append((e.index, seat))
                self.plan.add(
                    "seat", {"@committee:committee": c, "@expert:expert": e.index, "seat": seat}
                )
            self.seats_by_committee[c] = roster

    # -- sessions, applicants, votes ----------------------------------------------------

    def build_sessions(self) -> None:
        usable = [
            c
            for c, roster in self.seats_by_committee.items()
            if self.institution_status[data.COMMITTEES[c].institution] == FilingStatus.FILED
            and self.plan.rows["committee"][c]["status"] == FilingStatus.FILED
        ]
        usable.sort()
        past_ok = [
            c
            for c in usable
            if (filed := self.committee_filed[c]) is not None
            and filed <= self.today - dt.timedelta(days=120)
            and len(self.seats_by_committee[c]) >= 5
        ]
        past = self.rng.sample(past_ok, min(3, len(past_ok)))
        future_pool = [c for c in usable if c not in past]
        future = self.rng.sample(future_pool, min(5, len(future_pool)))
        for c in past:
            self._session(c, finalised=True)
        for c in future:
            self._session(c, finalised=False)

    def _session(self, committee: int, *, finalised: bool) -> None:
        rng, today = self.rng, self.today
        spec = data.COMMITTEES[committee]
        roster = self.seats_by_committee[committee]
        panel_size = min(rng.choice((7, 9, 11)), len(roster))
        panel_size -= 1 - panel_size % 2
        filed = self.committee_filed[committee] or today
        if finalised:
            earliest = max(filed + dt.timedelta(days=30), today - dt.timedelta(days=300))
            day = self.day_between(earliest, today - dt.timedelta(days=30))
        else:
            day = self.days_ago(-150, -14)
        starts_at = dt.datetime(day.year, day.month, day.day, 9, 0, tzinfo=BEIJING)
        inst_row = self.plan.rows["institution"][spec.institution]
        chair = next(e for e, seat in roster if seat == Seat.CHAIR)
        session = self.plan.add(
            "session",
            {
                "@committee:committee": committee,
                "@institution:institution": spec.institution,
                "year": day.year,
                "starts_at": starts_at,
                "ends_at": starts_at + dt.timedelta(hours=8),
                "place": inst_row["office_address"] + " 评审会议室",
                "panel_size": panel_size,
                "backup_count": 2,
                "status": SessionStatus.FINALISED if finalised else SessionStatus.PLANNED,
                "@presiding_expert:expert": chair if finalised else None,
                "finalised_at": starts_at + dt.timedelta(days=1) if finalised else None,
            },
        )
        present: list[int] = []
        if finalised:
            self.finalised_sessions.append(session)
            others = [e for e, seat in roster if e != chair]
            present = [chair, *rng.sample(others, panel_size - 1)]
            digest = hashlib.sha256(f"demo-recording-{session}-{rng.random()}".encode())
            self.plan.add(
                "recording",
                {
                    "@session:session": session,
                    "kind": RecordingKind.VIDEO,
                    "uri": f"recordings/{day.year}/{day:%m%d}-{committee + 1:02d}-全程录像.mp4",
                    "size_bytes": rng.randint(2_000_000_000, 9_000_000_000),
                    "sha256": digest.hexdigest(),
                },
            )
        for _ in range(rng.randint(5, 15)):
            self._applicant(session, spec, day, present)

    def _applicant(
        self, session: int, spec: data.CommitteeSpec, day: dt.date, present: list[int]
    ) -> None:
        rng = self.rng
        gender = Gender.MALE if rng.random() < 0.52 else Gender.FEMALE
        birth = self.day_between(dt.date(1975, 1, 1), dt.date(1995, 12, 31))
        id_number = self.id_number(birth, gender)
        counts = {VoteChoice.FOR: 0, VoteChoice.AGAINST: 0, VoteChoice.ABSTAIN: 0}
        result = ApplicantResult.PENDING
        applicant_index = len(self.plan.rows["applicant"])
        if present:
            k = len(present)
            needed = math.ceil(2 * k / 3)  # R14: at least 2/3 of the present experts in favour
            passes = rng.random() < 0.7
            in_favour = (
                rng.randint(needed, k) if passes else rng.randint(max(0, needed - 4), needed - 1)
            )
            voters = rng.sample(present, k)
            for position, expert in enumerate(voters):
                if position < in_favour:
                    choice = VoteChoice.FOR
                else:
                    choice = VoteChoice.AGAINST if rng.random() < 0.7 else VoteChoice.ABSTAIN
                counts[choice] += 1
                self.plan.add(
                    "vote",
                    {
                        "@session:session": session,
                        "@applicant:applicant": applicant_index,
                        "@expert:expert": expert,
                        "choice": choice,
                    },
                )
            passed = 3 * counts[VoteChoice.FOR] >= 2 * k
            result = ApplicantResult.PASSED if passed else ApplicantResult.FAILED
        self.plan.add(
            "applicant",
            {
                "@session:session": session,
                "name": self.person_name(gender),
                **protect_id_number(id_number),
                "@unit:unit": self.unit_for(spec.sectors),
                "series": spec.series,
                "specialty": spec.specialty,
                "level": spec.level,
                "result": result,
                "votes_for": counts[VoteChoice.FOR],
                "votes_against": counts[VoteChoice.AGAINST],
                "votes_abstain": counts[VoteChoice.ABSTAIN],
                "_phone": self.phone(),
            },
        )

    # -- the live session (run through the services at load time) -------------------------

    def build_live_session(self) -> None:
        """Pick the committee of inst1's institution whose roster has the most experts
        able to sit today (signed the agreement, R4/R9 checked when seated), and invent
        its applicants from units none of those experts works for (no R11 recusal)."""
        filed = [i for i, s in enumerate(self.institution_status) if s == FilingStatus.FILED]
        if not filed:
            return
        info = {e.index: e for e in self.experts}
        best: tuple[int, int] | None = None
        for c, seats in sorted(self.seats_by_committee.items()):
            if data.COMMITTEES[c].institution != filed[0]:
                continue
            if self.plan.rows["committee"][c]["status"] != FilingStatus.FILED:
                continue
            if self.plan.rows["committee"][c]["self_evaluation"]:
                continue  # R12's external share would need a host unit: keep it simple
            ready = [seat for e, seat in seats if info[e].signed]
            if len(ready) < 3 or all(seat == Seat.MEMBER for seat in ready):
                continue
            if best is None or len(ready) > best[1]:
                best = (c, len(ready))
        if best is None:
            return
        committee, able = best
        spec = data.COMMITTEES[committee]
        roster = tuple(e for e, _ in self.seats_by_committee[committee])
        # Leave at least one eligible expert beyond the panel, so a decline is replaced.
        panel_size = min(7, able - 1 if able > 3 else able)
        panel_size -= 1 - panel_size % 2
        taken = {info[e].unit for e in roster}
        units = [u for s in spec.sectors for u in self.units_for_sector[s] if u not in taken]
        if not units:
            return
        rng = self.rng
        applicants: list[LiveApplicant] = []
        for n in range(6):
            gender = Gender.MALE if rng.random() < 0.5 else Gender.FEMALE
            birth = self.day_between(dt.date(1978, 1, 1), dt.date(1992, 12, 31))
            applicants.append(
                LiveApplicant(
                    name=self.person_name(gender),
                    id_number=self.id_number(birth, gender),
                    unit=rng.choice(units),
                    passes=n % 3 != 2,  # four pass, two do not
                )
            )
        self.plan.live = LiveSession(
            committee=committee,
            roster=roster,
            panel_size=panel_size,
            applicants=tuple(applicants),
            entropy="-".join(str(rng.randint(1, 6)) for _ in range(6)),
            recording_sha256=hashlib.sha256(f"demo-live-{rng.random()}".encode()).hexdigest(),
            recording_size=rng.randint(2_000_000_000, 9_000_000_000),
        )

    # -- complaints (Art. 28) -------------------------------------------------------------

    def build_complaints(self, count: int = 30) -> None:
        rng = self.rng
        used: set[str] = set()
        applicants = self.plan.rows["applicant"]
        sessions = self.plan.rows["session"]
        reviewable = [
            i
            for i, a in enumerate(applicants)
            if sessions[a["@session:session"]]["status"] == SessionStatus.FINALISED
        ]
        failed = [i for i in reviewable if applicants[i]["result"] == ApplicantResult.FAILED]
        # applicant1 is the first applicant who failed, and files the first review request.
        self.applicant1 = (failed or reviewable or [0])[0] if applicants else None
        passed = [i for i in reviewable if applicants[i]["result"] == ApplicantResult.PASSED]
        review_targets = ([self.applicant1] if self.applicant1 in reviewable else []) + [
            i for i in (failed + passed) if i != self.applicant1
        ]
        in_pool = [e.index for e in self.experts if e.status == ExpertStatus.IN_POOL]
        reviews = min(8, len(review_targets))
        plan = [ComplaintKind.REVIEW_REQUEST] * reviews + [ComplaintKind.REPORT] * 10
        plan += [ComplaintKind.COMPLAINT] * (count - len(plan))
        statuses = list(ComplaintStatus)
        for n, kind in enumerate(plan):
            received = self.days_ago(1, 120)
            status = rng.choices(statuses, [5, 4, 4, 5, 6, 6])[0]
            row: Row = {
                "kind": kind,
                "facts": rng.choice(data.COMPLAINT_FACTS[kind]),
                "tracking_code": self.tracking_code(used),
                "status": status,
                "created_at": _at(received, rng.randint(8, 17)),
                "due_on": received + dt.timedelta(days=30),
                "@applicant:applicant": None,
                "@submitted_by:user": None,
            }
            if kind == ComplaintKind.REVIEW_REQUEST:
                a = review_targets[n]
                session = applicants[a]["@session:session"]
                row.update(
                    channel=ComplaintChannel.APPLICANT,
                    target_type=TargetType.SESSION,
                    target_description=self.plan.rows["committee"][
                        sessions[session]["@committee:committee"]
                    ]["name"],
                    anonymous=False,
                    complainant_name_enc=encrypt(applicants[a]["name"]),
                    complainant_contact_enc=encrypt(applicants[a]["_phone"]),
                    clues="申请调取本人评审环节的投票记录和会议录像。",
                )
                row["@applicant:applicant"] = a
                row["@target:session"] = session
                row["@institution:institution"] = sessions[session]["@institution:institution"]
                if a == self.applicant1:
                    row["@submitted_by:user"] = "applicant1"
            else:
                self._complaint_target(row, kind, in_pool, passed)
                row["channel"] = ComplaintChannel.WEB
                row["clues"] = "附相关材料复印件及知情人联系方式。"
                row["anonymous"] = rng.random() < 0.6
                if not row["anonymous"]:
                    row["complainant_name_enc"] = encrypt(self.person_name(Gender.MALE))
                    row["complainant_contact_enc"] = encrypt(self.phone())
                if rng.random() < 0.15:
                    row["hotline_ticket"] = f"12345-{received:%Y%m%d}-{rng.randrange(10**5):05d}"
            if status == ComplaintStatus.NOT_ACCEPTED:
                row["non_acceptance_reason"] = rng.choice(
                    [
                        NonAcceptanceReason.NO_EVIDENCE,
                        NonAcceptanceReason.NO_CLUE,
                        NonAcceptanceReason.NO_FACTS,
                    ]
                )
            if status in (ComplaintStatus.ANSWERED, ComplaintStatus.CLOSED):
                answered = min(received + dt.timedelta(days=rng.randint(5, 25)), self.today)
                row["answer"] = data.COMPLAINT_ANSWER
                row["answered_at"] = _at(answered, 16)
                if status == ComplaintStatus.CLOSED:
                    row["closed_at"] = _at(min(answered + dt.timedelta(days=7), self.today), 17)
            self.plan.add("complaint", row)

    def _complaint_target(
        self, row: Row, kind: ComplaintKind, in_pool: list[int], passed: list[int]
    ) -> None:
        rng = self.rng
        options = [TargetType.INSTITUTION, TargetType.EXPERT]
        if self.plan.rows["session"]:
            options.append(TargetType.SESSION)
        if kind == ComplaintKind.REPORT and passed:
            options.append(TargetType.APPLICANT)
        target = rng.choice(options) if in_pool else TargetType.INSTITUTION
        row["target_type"] = target
        if target == TargetType.INSTITUTION:
            filed = [i for i, s in enumerate(self.institution_status) if s != FilingStatus.DRAFT]
            i = rng.choice(filed)
            row["@target:institution"] = i
            row["target_description"] = data.INSTITUTIONS[i].name
            row["@institution:institution"] = None  # against an institution: the bureau handles
        elif target == TargetType.EXPERT:
            e = rng.choice(in_pool)
            expert = self.plan.rows["expert"][e]
            row["@target:expert"] = e
            row["target_description"] = f"专家 {expert['number']}"
            row["@institution:institution"] = expert["@institution:institution"]
        elif target == TargetType.SESSION:
            s = rng.randrange(len(self.plan.rows["session"]))
            session = self.plan.rows["session"][s]
            row["@target:session"] = s
            row["target_description"] = self.plan.rows["committee"][
                session["@committee:committee"]
            ]["name"]
            row["@institution:institution"] = session["@institution:institution"]
        else:
            a = rng.choice(passed)
            applicant = self.plan.rows["applicant"][a]
            session = self.plan.rows["session"][applicant["@session:session"]]
            row["@target:applicant"] = a
            row["target_description"] = f"评审通过人员 {applicant['name'][0]}某"
            row["@institution:institution"] = session["@institution:institution"]

    # -- demo logins ---------------------------------------------------------------------

    def build_users(self) -> None:
        filed = [i for i, s in enumerate(self.institution_status) if s == FilingStatus.FILED]
        seated = {e for roster in self.seats_by_committee.values() for e, _ in roster}
        candidates = [e for e in self.experts if e.index in seated and e.signed]
        municipal = [e for e in candidates if self.unit_specs[e.unit][2] == UnitType.MUNICIPAL]
        # expert1 is a seated, signed expert of a municipal unit, so that employer1 (the
        # unit) and recommender1 (its industry authority, R3) belong to the same story.
        pick = municipal or candidates
        expert1 = pick[0] if pick else None
        recommender = 0  # fallback: the first industry authority
        scopes: dict[str, tuple[str, int | None, str]] = {
            "bureau": ("", None, "市人社局职称处"),
            "inst1": ("institution", filed[0], data.INSTITUTIONS[filed[0]].name),
            "supervisor1": ("", None, self.person_name(Gender.FEMALE)),
        }
        if expert1 is not None:
            unit_row = self.plan.rows["unit"][expert1.unit]
            authority = unit_row["@authority:authority"]
            if self.plan.rows["authority"][authority]["kind"] == AuthorityKind.INDUSTRY:
                recommender = authority
            scopes["expert1"] = (
                "expert",
                expert1.index,
                self.plan.rows["expert"][expert1.index]["name"],
            )
            scopes["employer1"] = ("unit", expert1.unit, unit_row["name"] + "人事处")
        scopes["recommender1"] = (
            "authority",
            recommender,
            self.plan.rows["authority"][recommender]["name"] + "人事处",
        )
        if self.applicant1 is not None:
            scopes["applicant1"] = (
                "applicant",
                self.applicant1,
                self.plan.rows["applicant"][self.applicant1]["name"],
            )
        for username, role, _ in DEMO_LOGINS:
            if username not in scopes:
                continue  # a tiny data set (no seated expert, no applicant) lacks that login
            column, target, display = scopes[username]
            self.plan.add("user", {"username": username, "display_name": display})
            ra: Row = {"@user:user": username, "role": role}
            if column:
                ra[f"@{column}:{column}"] = target
            self.plan.add("role", ra)
        # The supervisor sat in every past session and is assigned to the next one
        # (planned sessions follow the finalised ones in the plan).
        for session in [*self.finalised_sessions, len(self.finalised_sessions)]:
            if session < len(self.plan.rows["session"]):
                self.plan.add(
                    "supervisor", {"@session:session": session, "@user:user": "supervisor1"}
                )


_EXIT_NOTES: dict[ExitReason, str] = {
    ExitReason.AGE_LIMIT: "超过法定退休年龄5年,按规定退出专家库",
    ExitReason.NOT_PROFESSIONAL: "已调离专业技术工作岗位",
    ExitReason.HEALTH: "本人因身体原因申请退出",
    ExitReason.OTHER: "本人申请退出专家库",
    ExitReason.FAILED_ASSESSMENT: "聘期考核不合格",
}


def _org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _at(day: dt.date, hour: int) -> dt.datetime:
    """A Beijing-time moment on `day` (stored as UTC by the ORM)."""
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=BEIJING)


def _scope_label(series: str, specialty: str, level: Level) -> str:
    middle = "" if specialty == series else f"{specialty}专业"
    return f"{series}系列{middle}{LEVEL_LABELS[level]}"


def _committee_fields(inst: data.InstitutionSpec, spec: data.CommitteeSpec) -> dict[str, Any]:
    """The Art. 11 fields of a committee: the same in its application and its filing."""
    return {
        "name": _committee_name(inst.short, spec),
        "series": spec.series,
        "specialty": spec.specialty,
        "level": str(spec.level),
        "applicant_scope": _applicant_scope(inst, spec),
        "quantitative_standard": f"按照北京市{spec.series}系列职称评价基本标准条件,"
        "从思想品德、专业能力、工作业绩和学术成果四个方面量化赋分,满分100分,"
        "其中业绩成果占60分;得分70分及以上方可提交评委会评议。",
        "procedure": "个人申报、单位审核推荐、评审机构受理与资格审查、评前培训、"
        "从专家库随机抽取评审专家、答辩与评议、无记名投票表决(赞成票达到出席专家"
        "三分之二及以上为通过)、结果公示与备案。",
        # Self-evaluation (自主评聘) committees are run by employers (Art. 23).
        "self_evaluation": inst.kind == InstitutionKind.EMPLOYER,
    }


def _committee_name(short: str, spec: data.CommitteeSpec) -> str:
    return f"{short}{_scope_label(spec.series, spec.specialty, spec.level)}职称评审委员会"


def _applicant_scope(inst: data.InstitutionSpec, spec: data.CommitteeSpec) -> str:
    who = {
        InstitutionKind.INDUSTRY_AUTHORITY: "本市行业内市属单位",
        InstitutionKind.DISTRICT_BUREAU: f"{inst.district}区所属单位及辖区非公有制经济组织",
        InstitutionKind.EMPLOYER: "本单位",
    }.get(inst.kind, "本市非公有制经济组织、社会组织及其他用人单位")
    work = spec.specialty if spec.specialty != spec.series else spec.series
    return f"{who}从事{work}专业技术工作、申报{LEVEL_LABELS[spec.level]}职称的专业技术人员"


def build_plan(seed: int, experts: int, today: dt.date) -> Plan:
    """The whole demo data set as rows, a pure function of its arguments."""
    if experts < 0:
        raise ValueError("experts must not be negative")
    builder = _Builder(seed, experts, today)
    builder.build_authorities()
    builder.build_units()
    builder.build_institutions()
    builder.build_committees()
    builder.build_experts()
    builder.build_seats()
    builder.build_sessions()
    builder.build_complaints()
    builder.build_users()
    builder.build_live_session()  # last: it draws from the generator after everything else
    return builder.plan


# --- writing -----------------------------------------------------------------------------

# Insertion order, model, how ids are read back after bulk_create (a unique column;
# "@id": rows without a natural key, by insertion order; None: nobody needs the ids),
# and whether each row gets an audit event (the main aggregates).
_KINDS: tuple[tuple[str, type[Model], str | None, bool], ...] = (
    ("authority", Authority, "name", True),
    ("unit", Unit, "credit_code", True),
    ("institution", Institution, "name", True),
    ("institution_application", InstitutionApplication, None, False),
    ("institution_assessment", InstitutionAssessment, None, False),
    ("committee", Committee, "name", True),
    ("expert", Expert, "number", True),
    ("employment", ExpertEmployment, None, False),
    ("expert_application", ExpertApplication, None, False),
    ("term", ExpertTerm, "@id", False),
    ("expert_assessment", ExpertAssessment, None, False),
    ("signature", AgreementSignature, None, False),
    ("seat", CommitteeSeat, None, False),
    ("session", EvaluationSession, "@id", True),
    ("recording", Recording, None, False),
    ("applicant", SessionApplicant, "@id", True),
    ("vote", Vote, None, False),
    ("user", User, "username", True),
    ("role", RoleAssignment, None, False),
    ("supervisor", SupervisorAssignment, None, False),
    ("complaint", Complaint, "tracking_code", True),
)


class _Writer:
    """Inserts a Plan in `_KINDS` order, translating row indexes into database ids."""

    def __init__(self, plan: Plan, password_hash: str, agreement: AgreementText) -> None:
        self.plan = plan
        self.password_hash = password_hash
        self.agreement = agreement
        self.ids: dict[str, list[int]] = {}
        self.user_ids: dict[str, int] = {}
        self.audit_targets: list[tuple[str, Any, dict | None]] = []

    def _ref(self, kind: str, index: Any) -> int | None:
        if index is None:
            return None
        if kind == "user":
            return self.user_ids[index]
        if kind == "unit_authority":
            unit_row = self.plan.rows["unit"][index]
            return self.ids["authority"][unit_row["@authority:authority"]]
        return self.ids[kind][index]

    def _kwargs(self, kind: str, row: Row) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in row.items():
            if key.startswith("_"):
                continue  # plan-only data (e.g. an applicant's phone for a complaint)
            if not key.startswith("@"):
                out[key] = value
                continue
            name, ref_kind = key[1:].split(":")
            if name == "target":
                out["target_id"] = self._ref(ref_kind, value)
            else:
                out[f"{name}_id"] = self._ref(ref_kind, value)
        if kind == "user":
            out["password_hash"] = self.password_hash
            out["password_changed_at"] = dt.datetime.now(dt.UTC)
        elif kind == "complaint":
            out["query_password_hash"] = self.password_hash
        elif kind == "signature":
            out["agreement_id"] = self.agreement.id
            out["content_hash"] = self.agreement.content_hash
        return out

    async def write(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kind, model, key, audited in _KINDS:
            rows = self.plan.rows.get(kind, [])
            objects = [model(**self._kwargs(kind, row)) for row in rows]
            counts[kind] = len(objects)
            if not objects:
                self.ids[kind] = []
                continue
            if key == "@id":
                await _insert_ordered(model, objects)
            else:
                await model.bulk_create(objects, batch_size=500)
                if key is not None:
                    await _read_back_ids(model, key, objects)
            self.ids[kind] = [o.pk for o in objects]
            if kind == "user":
                self.user_ids = {o.username: o.pk for o in objects}  # type: ignore[attr-defined]
            if audited:
                for obj in objects:
                    self.audit_targets.append((model._meta.db_table, obj.pk, audit.snapshot(obj)))
        await audit.record_many(SYSTEM, AUDIT_ACTION, self.audit_targets)
        return counts


async def _read_back_ids(model: type[Model], key: str, objects: list[Model]) -> None:
    """bulk_create does not return ids: read them back by the unique column."""
    by_key = {getattr(o, key): o for o in objects}
    keys = list(by_key)
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        for value, pk in await model.filter(**{f"{key}__in": chunk}).values_list(key, "id"):
            by_key[value].pk = pk


async def _insert_ordered(model: type[Model], objects: list[Model]) -> None:
    """Insert rows that lack a natural key and take their ids in insertion order.

    The new rows are those above the table's previous maximum id: exact inside the
    load's transaction, and checked by count should another writer interleave.
    """
    last = await model.all().order_by("-id").limit(1).values_list("id", flat=True)
    await model.bulk_create(objects, batch_size=500)
    new_ids = (
        await model.filter(id__gt=last[0] if last else 0)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if len(new_ids) != len(objects):
        raise RuntimeError(f"demo: expected {len(objects)} new {model.__name__} rows")
    for obj, pk in zip(objects, new_ids, strict=True):
        obj.pk = pk


async def _lock_demo() -> None:
    """Two `pingshen demo` runs at once must not both load (PostgreSQL; SQLite
    serialises write transactions by itself)."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({_PG_DEMO_LOCK_KEY})")


async def demo_logins() -> list[tuple[str, str]]:
    """The demo logins present in the database, with what each one is for."""
    users = {
        u.username: u for u in await User.filter(username__in=[name for name, _, _ in DEMO_LOGINS])
    }
    return [
        (name, f"{label}:{users[name].display_name}")
        for name, _, label in DEMO_LOGINS
        if name in users
    ]


async def _publish_plans(today: dt.date) -> int:
    """One published annual implementation plan (Art. 9(二)) per filed committee."""
    committees = await Committee.filter(status=FilingStatus.FILED).order_by("id")
    year = today.year
    plans = [
        AnnualPlan(
            committee_id=c.id,
            year=year,
            series=c.series,
            specialty=c.specialty,
            level=c.level,
            conditions=f"申报人应符合《北京市{c.series}系列职称评价标准》{year}年度相应层级的学历、资历与业绩条件。",
            procedure="个人申报、单位审核公示、评审机构受理与形式审查、评委会评审、结果公示与备案。",
            method="材料评审结合现场答辩,评委会无记名投票表决,赞成票达到出席评委三分之二以上为通过。",
            contact_phone=f"010-6{c.id % 10}{(c.id * 7919) % 1000000:06d}",
            acceptance_start=dt.date(year, 6, 1),
            acceptance_end=dt.date(year, 7, 15),
            material_requirements="申报表、学历与资历证明、代表性业绩成果材料、单位推荐意见及公示结果。",
            status=PlanStatus.PUBLISHED,
            published_at=_at(dt.date(year, 5, 20), 9),
        )
        for c in committees
    ]
    await AnnualPlan.bulk_create(plans, batch_size=500)
    created = await AnnualPlan.filter(year=year).order_by("id").values_list("id", "committee_id")
    await audit.record_many(
        SYSTEM,
        "demo.load",
        [("annual_plan", pid, {"committee_id": cid, "year": year}) for pid, cid in created],
    )
    return len(created)


async def _run_live_session(live: LiveSession, writer: _Writer, today: dt.date) -> int:
    """Run the live session through the real services, as the demo logins would do it
    in the browser: inst1 plans it, adds applicants, records training and commits the
    draw; the bureau assigns supervisor1, who enters the public entropy; inst1 declines
    one drawn expert on the expert's behalf (replaced by the draw's rule), records
    attendance, paper ballots and the recording, and finalises; the bureau records the
    passed applicants, which issues their e-certificates and result notices.

    Every step writes its own audit events, so the chain stays valid (R20) and the draw
    bundle verifies (R10). The draw's secret and the certificate codes come from
    `secrets`: they differ per load by design; who passes does not. Returns the number
    of certificates and notices issued.
    """
    from resolvers import account, certificate, evaluation

    users = {
        u.username: u for u in await User.filter(username__in=["inst1", "bureau", "supervisor1"])
    }
    if len(users) != 3:
        return 0
    staff = await account.load_actor(users["inst1"])
    bureau = await account.load_actor(users["bureau"])
    supervisor = await account.load_actor(users["supervisor1"])
    expert_ids = writer.ids["expert"]
    unit_ids = writer.ids["unit"]
    committee_id = writer.ids["committee"][live.committee]
    committee = await Committee.get(id=committee_id)
    institution = await Institution.get(id=committee.institution_id)  # type: ignore[attr-defined]
    starts_at = _at(today, 9)
    session = await evaluation.create_evaluation_session(
        staff,
        committee_id,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=3),
        place=institution.office_address + " 评审会议室",
        panel_size=live.panel_size,
        backup_count=2,
    )
    await evaluation.add_session_applicants(
        staff,
        session.id,
        applicants=[
            {
                "name": a.name,
                "id_number": a.id_number,
                "unit_id": unit_ids[a.unit],
                "series": committee.series,
                "specialty": committee.specialty,
                "level": committee.level,
            }
            for a in live.applicants
        ],
    )
    await evaluation.record_session_training(
        staff,
        session.id,
        expert_ids=[expert_ids[e] for e in live.roster],
        trained_on=today,
        topic=f"{today.year}年度评前培训:评审纪律、回避规定与保密要求",
    )
    await evaluation.assign_supervisor(bureau, session.id, users["supervisor1"].id)
    await evaluation.commit_draw(staff, session.id)
    draw = await evaluation.execute_draw(supervisor, session.id, entropy=live.entropy)
    panel = await evaluation.session_panel(staff, session.id)
    if draw.result["backups"]:
        # Declined on the expert's behalf: the last-ranked member phoned in (R10 step 4).
        leaving = max((m for m in panel if not m.is_backup), key=lambda m: m.rank)
        await evaluation.decline_invitation(
            staff, leaving.id, reason="本人来电告知因出差无法参加,由工作人员代为谢绝"
        )
        panel = await evaluation.session_panel(staff, session.id)
    seated = sorted(
        (m for m in panel if not m.is_backup and m.status != PanelStatus.DECLINED),
        key=lambda m: m.rank,
    )
    present = sorted(m.expert.id for m in seated)
    presiding = next(m for m in seated if m.seat in (Seat.CHAIR, Seat.VICE_CHAIR))
    await evaluation.record_attendance(
        staff, session.id, present_expert_ids=present, presiding_expert_id=presiding.expert.id
    )
    applicants = await evaluation.list_session_applicants(staff, session.id)
    needed = math.ceil(2 * len(present) / 3)  # R14: 2/3 of the present experts in favour
    for spec, applicant in zip(live.applicants, applicants, strict=True):
        in_favour = len(present) if spec.passes else needed - 1
        votes = {
            expert: VoteChoice.FOR
            if i < in_favour
            else (VoteChoice.AGAINST if i % 2 else VoteChoice.ABSTAIN)
            for i, expert in enumerate(present)
        }
        await evaluation.record_paper_ballots(staff, session.id, applicant.id, votes=votes)
    await evaluation.attach_recording(
        staff,
        session.id,
        kind=RecordingKind.VIDEO,
        uri=f"recordings/{today.year}/{today:%m%d}-{committee_id:02d}-全程录像.mp4",
        size_bytes=live.recording_size,
        sha256=live.recording_sha256,
    )
    await evaluation.finalise_session(staff, session.id)
    issued = await certificate.record_passed_applicants(bureau, session.id)
    return len(issued)


async def load_demo(
    *, seed: int = DEFAULT_SEED, experts: int = 2000, today: dt.date | None = None
) -> DemoResult:
    """Load the demo data set into a database without institutions; otherwise do nothing.

    Side effects (only when loading): every row of the plan, one AgreementText "v1",
    one audit event "demo.load" per created authority, unit, institution, committee,
    expert, session, applicant, complaint and user; then, for a demo of the real today
    (`today` not given), the live session run through the services with their own
    audit events (`_run_live_session`) — all in one transaction.

    A demo pinned to another `today` has no live session: the services judge terms,
    R2 and dates on the real clock, which the pinned data need not satisfy.
    """
    if await Institution.exists():
        return DemoResult(False, "", await demo_logins())
    live = today is None
    today = today or beijing_today()
    plan = build_plan(seed, experts, today)
    # argon2 is slow and must not run inside the transaction (STACK-NOTES): hash once.
    password_hash = await hash_password(DEMO_PASSWORD)
    async with in_transaction():
        await _lock_demo()
        if await Institution.exists():
            return DemoResult(False, "", await demo_logins())
        agreement = await AgreementText.create(
            version="v1",
            content=data.AGREEMENT_TEXT,
            content_hash=hashlib.sha256(data.AGREEMENT_TEXT.encode()).hexdigest(),
        )
        writer = _Writer(plan, password_hash, agreement)
        counts = await writer.write()
        counts["plan"] = await _publish_plans(today)
        counts["certificate"] = 0
        if live and plan.live is not None:
            counts["certificate"] = await _run_live_session(plan.live, writer, today)
            counts["session"] += 1
            counts["applicant"] += len(plan.live.applicants)
    in_pool = sum(1 for r in plan.rows["expert"] if r["status"] == ExpertStatus.IN_POOL)
    summary = (
        f"{counts['authority']}个推荐单位、{counts['unit']}个用人单位、"
        f"{counts['institution']}个评审机构、{counts['committee']}个评委会、"
        f"{counts['expert']}名专家(在库{in_pool}名)、{counts['seat']}个评委会席位、"
        f"{counts['session']}场评审会议、{counts['applicant']}名申报人、"
        f"{counts['complaint']}件复查申请/投诉/举报、{counts['user']}个演示账号"
    )
    if counts["certificate"]:
        summary += f"、{counts['certificate']}份电子证书和结果通知书"
    return DemoResult(True, summary, await demo_logins(), counts)
