"""The bench data set: deterministic from a seed, sized by the number of experts.

Proportions (at 200,000 experts): 2,000 institutions, ~8,500 committees of ~20 seats,
one session per committee with 8 applicants and 7 votes each, 50,000 complaints,
5,000 employers, one audit event per created institution, committee, unit, expert,
session and complaint (written through resolvers.audit.record_many, so the chain is
the production chain). One extra committee holds the D1 roster: 5,000 pooled
experts, a session with 100 applicants and 500 conflict declarations.

Rows are built as plain dicts (ids assigned here, so foreign keys are known without
reading back) and written in bulk: COPY through asyncpg on PostgreSQL, executemany
on SQLite. Personal data is protected exactly as in production
(resolvers.personal.protect_id_number / protect_phone: AES-GCM, keyed hash, mask).

`resolvers/demo.py` builds a richer, rule-checked picture but checks eligibility
per expert; this generator trades that for speed (200k experts in about a minute).
"""

import datetime as dt
import hashlib
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import (
    Authority,
    Committee,
    CommitteeSeat,
    Complaint,
    ConflictDeclaration,
    EvaluationSession,
    Expert,
    Institution,
    SessionApplicant,
    Unit,
    Vote,
)
from models.enums import (
    ApplicantResult,
    AuthorityKind,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    ConflictKind,
    DeclaredBy,
    EntryRoute,
    ExpertStatus,
    FilingStatus,
    Gender,
    InstitutionKind,
    Level,
    RetirementCategory,
    Seat,
    SessionStatus,
    TargetType,
    UnitType,
    VoteChoice,
)
from resolvers import audit
from resolvers import demo_data as data
from resolvers.actor import SYSTEM
from resolvers.personal import credit_code_check, id_check_digit, protect_id_number, protect_phone

DEFAULT_SEED = 2026
# Generation never reads the clock: the same seed gives the same rows on any day.
TODAY = dt.date(2026, 6, 30)
STAMP = dt.datetime(2026, 6, 30, 2, 0, tzinfo=dt.UTC)
AUDIT_ACTION = "bench.load"

SEATS_PER_COMMITTEE = 20
APPLICANTS_PER_SESSION = 8
VOTERS_PER_APPLICANT = 7
D1_ROSTER = 5000
D1_CONFLICTS = 500
D1_APPLICANTS = 100
_CC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_COPY_CHUNK = 20_000
_AUDIT_CHUNK = 20_000


@dataclass(frozen=True)
class Sizes:
    """Row counts derived from the number of experts."""

    experts: int
    units: int
    institutions: int
    committees: int
    complaints: int
    d1_roster: int

    @classmethod
    def for_experts(cls, experts: int) -> "Sizes":
        pooled = max(1, int(experts * 0.85))
        return cls(
            experts=experts,
            units=max(300, experts // 40),
            institutions=max(20, experts // 100),
            committees=max(10, math.ceil(pooled / SEATS_PER_COMMITTEE)),
            complaints=max(50, experts // 4),
            # Small smoke sizes keep the D1 shape with a proportionally smaller roster.
            d1_roster=min(D1_ROSTER, pooled // 2),
        )


@dataclass
class DataSet:
    """Every row, by table, in insertion order, plus what the operations need."""

    rows: dict[type[Model], list[dict[str, Any]]] = field(default_factory=dict)
    audit_targets: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    # Facts the operations pick their variables from (all deterministic).
    phones: list[str] = field(default_factory=list)
    d1_committee_id: int = 0
    d1_session_id: int = 0

    def add(self, model: type[Model], row: dict[str, Any]) -> int:
        table = self.rows.setdefault(model, [])
        row["id"] = len(table) + 1
        table.append(row)
        return int(row["id"])

    def counts(self) -> dict[str, int]:
        out = {m._meta.db_table: len(r) for m, r in self.rows.items()}
        out["audit_event"] = len(self.audit_targets)
        return out


def _org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(_CC_ALPHABET.index(c) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code(index: int, area: str) -> str:
    """A valid 统一社会信用代码, unique per index (the index is the organisation code)."""
    body = f"{index:08d}"
    first17 = "91" + area + body + _org_code_check(body)
    return first17 + credit_code_check(first17)


class Generator:
    """Builds a DataSet from one `random.Random(seed)`; no database access."""

    def __init__(self, seed: int, experts: int) -> None:
        # Test data, not secrets: reproducibility from the seed is the point.
        self.rng = random.Random(seed)  # noqa: S311
        self.sizes = Sizes.for_experts(experts)
        self.ds = DataSet()
        self.surnames = [s for s, _ in data.SURNAMES]
        self.surname_cum = list(_cumulative(w for _, w in data.SURNAMES))
        self.districts = [d for d, _ in data.DISTRICTS]
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.series = sorted({(c.series, c.specialty) for c in data.COMMITTEES})

    # -- small draws ------------------------------------------------------------------

    def name(self, gender: Gender) -> str:
        surname = self.rng.choices(self.surnames, cum_weights=self.surname_cum)[0]
        chars = data.MALE_GIVEN if gender == Gender.MALE else data.FEMALE_GIVEN
        if self.rng.random() < 0.3:
            return surname + self.rng.choice(chars)
        return surname + "".join(self.rng.sample(chars, 2))

    def id_number(self, birth: dt.date, gender: Gender) -> str:
        while True:
            area = self.rng.choice(data.DISTRICTS)[1]
            order = self.rng.randrange(1 if gender == Gender.MALE else 2, 1000, 2)
            first17 = f"{area}{birth:%Y%m%d}{order:03d}"
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

    def day(self, start: dt.date, end: dt.date) -> dt.date:
        return dt.date.fromordinal(self.rng.randint(start.toordinal(), end.toordinal()))

    def audit(self, target_type: str, target_id: int, after: dict[str, Any]) -> None:
        self.ds.audit_targets.append((target_type, target_id, after))

    # -- the data set -----------------------------------------------------------------

    def build(self) -> DataSet:
        authorities = self.build_authorities()
        units = self.build_units(authorities)
        institutions = self.build_institutions(units)
        committees = self.build_committees(institutions)
        pooled_by_committee = self.build_experts(committees, units)
        self.build_sessions(committees, pooled_by_committee, units)
        self.build_d1(institutions, pooled_by_committee, units)
        self.build_complaints(institutions)
        return self.ds

    def build_authorities(self) -> list[int]:
        ids = []
        for name, _ in data.INDUSTRY_AUTHORITIES:
            ids.append(
                self.ds.add(
                    Authority, {"name": name, "kind": AuthorityKind.INDUSTRY, "district": ""}
                )
            )
        for district, _ in data.DISTRICTS:
            row = {
                "name": data.district_bureau_name(district),
                "kind": AuthorityKind.DISTRICT_BUREAU,
                "district": district,
            }
            ids.append(self.ds.add(Authority, row))
        return ids

    def build_units(self, authorities: list[int]) -> list[tuple[int, str]]:
        """(id, credit code) of every employer."""
        out = []
        types = [UnitType.MUNICIPAL, UnitType.DISTRICT, UnitType.CENTRAL, UnitType.NON_PUBLIC]
        for i in range(self.sizes.units):
            district, area = data.DISTRICTS[i % len(data.DISTRICTS)]
            unit_type = self.rng.choices(types, [3, 3, 2, 4])[0]
            trade = data.TRADE_NAMES[i % len(data.TRADE_NAMES)]
            code = credit_code(i + 1, area)
            uid = self.ds.add(
                Unit,
                {
                    "name": f"北京{trade}{district}科技发展有限公司第{i + 1}分部",
                    "credit_code": code,
                    "unit_type": unit_type,
                    "district": district,
                    "authority_id": authorities[i % len(authorities)],
                },
            )
            out.append((uid, code))
            self.audit("unit", uid, {"name": f"unit {uid}", "credit_code": code})
        return out

    def build_institutions(self, units: list[tuple[int, str]]) -> list[int]:
        kinds = list(InstitutionKind)
        ids = []
        for i in range(self.sizes.institutions):
            district = self.districts[i % len(self.districts)]
            series, _ = self.series[i % len(self.series)]
            status = FilingStatus.FILED if i % 10 else FilingStatus.EXPIRED
            filed = self.day(TODAY - dt.timedelta(days=900), TODAY - dt.timedelta(days=60))
            if status == FilingStatus.EXPIRED:
                filed = filed - dt.timedelta(days=3 * 365)
            iid = self.ds.add(
                Institution,
                {
                    "name": f"北京市{district}{series}职称评审服务中心({i + 1:05d})",
                    "kind": kinds[i % len(kinds)],
                    "unit_id": units[i % len(units)][0],
                    "introduction": f"承担{series}系列职称评审服务工作。",
                    "person_in_charge": self.name(Gender.MALE),
                    "professional_scope": series,
                    "purpose": "为专业技术人才提供客观公正的职称评价服务。",
                    "office_address": f"北京市{district}区{self.rng.randint(1, 199)}号",
                    "phone": f"010-{self.rng.randrange(10**8):08d}",
                    "full_time_staff": self.rng.randint(3, 30),
                    "status": status,
                    "filed_at": filed,
                    "valid_until": filed.replace(year=filed.year + 3)
                    if not (filed.month == 2 and filed.day == 29)
                    else dt.date(filed.year + 3, 3, 1),
                },
            )
            ids.append(iid)
            self.audit("institution", iid, {"name": f"institution {iid}", "status": status.value})
        return ids

    def build_committees(self, institutions: list[int]) -> list[dict[str, Any]]:
        out = []
        for i in range(self.sizes.committees):
            inst = institutions[i % len(institutions)]
            series, specialty = self.series[i % len(self.series)]
            level = Level.SENIOR if i % 3 == 0 else Level.ASSOCIATE_SENIOR
            row = {
                "institution_id": inst,
                "name": f"{series}{specialty}评委会({i + 1:05d})",
                "series": series,
                "specialty": specialty,
                "level": level,
                "status": FilingStatus.FILED,
                "filed_at": TODAY - dt.timedelta(days=200 + i % 500),
                "valid_until": TODAY + dt.timedelta(days=800 - i % 500),
            }
            cid = self.ds.add(Committee, row)
            out.append(row)
            self.audit("committee", cid, {"name": row["name"], "level": level.value})
        return out

    def build_experts(
        self, committees: list[dict[str, Any]], units: list[tuple[int, str]]
    ) -> dict[int, list[int]]:
        """Experts, one seat on their home committee for the pooled ones."""
        statuses = [ExpertStatus.IN_POOL, ExpertStatus.APPLIED, ExpertStatus.REVIEWED]
        statuses += [ExpertStatus.EXITED]
        status_cum = list(_cumulative([85, 4, 4, 7]))
        pooled_by_committee: dict[int, list[int]] = {}
        next_home = 0
        for n in range(self.sizes.experts):
            gender = Gender.MALE if self.rng.random() < 0.58 else Gender.FEMALE
            status = self.rng.choices(statuses, cum_weights=status_cum)[0]
            if status == ExpertStatus.IN_POOL:
                home = committees[next_home % len(committees)]
                next_home += 1
            else:
                home = committees[self.rng.randrange(len(committees))]
            senior = home["level"] == Level.SENIOR or self.rng.random() < 0.4
            level = Level.SENIOR if senior else Level.ASSOCIATE_SENIOR
            birth = self.day(dt.date(1962, 1, 1), dt.date(1988, 12, 31))
            title_on = self.day(
                dt.date(birth.year + 30, 1, 1), dt.date(min(birth.year + 42, 2023), 12, 31)
            )
            phone = self.phone()
            self.ds.phones.append(phone)
            unit_id = units[self.rng.randrange(len(units))][0]
            number = f"BJ{n + 1:07d}"
            pooled_at = (
                self.day(TODAY - dt.timedelta(days=1090), TODAY)
                if status in (ExpertStatus.IN_POOL, ExpertStatus.EXITED)
                else None
            )
            eid = self.ds.add(
                Expert,
                {
                    "number": number,
                    "name": self.name(gender),
                    "gender": gender,
                    "birth_date": birth,
                    "retirement_category": RetirementCategory.MALE_60
                    if gender == Gender.MALE
                    else RetirementCategory.FEMALE_55,
                    **protect_id_number(self.id_number(birth, gender)),
                    **protect_phone(phone),
                    "email": f"{number.lower()}@example.com",
                    "unit_id": unit_id,
                    "title": data.title_for(home["series"], home["specialty"], level)
                    if home["series"] in data.TITLES
                    else "高级职称",
                    "title_level": level,
                    "title_obtained_on": title_on,
                    "series": home["series"],
                    "specialty": home["specialty"],
                    "field": home["specialty"],
                    "entry_route": EntryRoute.RECOMMENDATION,
                    "institution_id": home["institution_id"],
                    "status": status,
                    "pooled_at": pooled_at,
                    "exited_at": STAMP if status == ExpertStatus.EXITED else None,
                },
            )
            self.audit("expert", eid, {"number": number, "status": status.value})
            if status == ExpertStatus.IN_POOL:
                roster = pooled_by_committee.setdefault(home["id"], [])
                seat = (
                    (Seat.CHAIR, Seat.VICE_CHAIR)[len(roster)] if len(roster) < 2 else Seat.MEMBER
                )
                roster.append(eid)
                self.ds.add(
                    CommitteeSeat, {"committee_id": home["id"], "expert_id": eid, "seat": seat}
                )
        return pooled_by_committee

    def _applicant(self, session_id: int, units: list[tuple[int, str]], c: dict[str, Any]) -> int:
        gender = Gender.MALE if self.rng.random() < 0.5 else Gender.FEMALE
        birth = self.day(dt.date(1975, 1, 1), dt.date(1992, 12, 31))
        return self.ds.add(
            SessionApplicant,
            {
                "session_id": session_id,
                "name": self.name(gender),
                **protect_id_number(self.id_number(birth, gender)),
                "unit_id": units[self.rng.randrange(len(units))][0],
                "series": c["series"],
                "specialty": c["specialty"],
                "level": c["level"],
            },
        )

    def build_sessions(
        self,
        committees: list[dict[str, Any]],
        pooled_by_committee: dict[int, list[int]],
        units: list[tuple[int, str]],
    ) -> None:
        """One finalised sitting per committee: applicants, per-expert votes, results."""
        choices = [VoteChoice.FOR, VoteChoice.AGAINST, VoteChoice.ABSTAIN]
        for c in committees:
            roster = pooled_by_committee.get(c["id"], [])
            if len(roster) < VOTERS_PER_APPLICANT:
                continue
            start = dt.datetime.combine(
                self.day(TODAY - dt.timedelta(days=300), TODAY - dt.timedelta(days=30)),
                dt.time(1, 30),
                tzinfo=dt.UTC,
            )
            sid = self.ds.add(
                EvaluationSession,
                {
                    "committee_id": c["id"],
                    "institution_id": c["institution_id"],
                    "year": start.year,
                    "starts_at": start,
                    "ends_at": start + dt.timedelta(hours=6),
                    "place": "评审会议室",
                    "panel_size": VOTERS_PER_APPLICANT,
                    "backup_count": 2,
                    "status": SessionStatus.FINALISED,
                    "presiding_expert_id": roster[0],
                    "finalised_at": start + dt.timedelta(hours=7),
                },
            )
            self.audit("evaluation_session", sid, {"committee_id": c["id"], "year": start.year})
            panel = roster[:VOTERS_PER_APPLICANT]
            for _ in range(APPLICANTS_PER_SESSION):
                aid = self._applicant(sid, units, c)
                tally = {VoteChoice.FOR: 0, VoteChoice.AGAINST: 0, VoteChoice.ABSTAIN: 0}
                for expert_id in panel:
                    choice = self.rng.choices(choices, [75, 20, 5])[0]
                    tally[choice] += 1
                    self.ds.add(
                        Vote,
                        {
                            "session_id": sid,
                            "applicant_id": aid,
                            "expert_id": expert_id,
                            "choice": choice,
                        },
                    )
                applicant = self.ds.rows[SessionApplicant][aid - 1]
                applicant["votes_for"] = tally[VoteChoice.FOR]
                applicant["votes_against"] = tally[VoteChoice.AGAINST]
                applicant["votes_abstain"] = tally[VoteChoice.ABSTAIN]
                passed = tally[VoteChoice.FOR] * 3 >= len(panel) * 2
                applicant["result"] = ApplicantResult.PASSED if passed else ApplicantResult.FAILED

    def build_d1(
        self,
        institutions: list[int],
        pooled_by_committee: dict[int, list[int]],
        units: list[tuple[int, str]],
    ) -> None:
        """The D1 roster: a committee seating `d1_roster` pooled experts, a planned
        session with applicants and conflict declarations against them."""
        pooled = sorted(e for roster in pooled_by_committee.values() for e in roster)
        roster = sorted(self.rng.sample(pooled, self.sizes.d1_roster))
        row = {
            "institution_id": institutions[0],
            "name": "D1 大名册评委会",
            "series": "工程技术",
            "specialty": "计算机与软件",
            "level": Level.ASSOCIATE_SENIOR,
            "status": FilingStatus.FILED,
            "filed_at": TODAY - dt.timedelta(days=100),
            "valid_until": TODAY + dt.timedelta(days=900),
        }
        cid = self.ds.add(Committee, row)
        self.ds.d1_committee_id = cid
        for i, eid in enumerate(roster):
            seat = Seat.CHAIR if i == 0 else Seat.VICE_CHAIR if i < 5 else Seat.MEMBER
            self.ds.add(CommitteeSeat, {"committee_id": cid, "expert_id": eid, "seat": seat})
        start = dt.datetime.combine(TODAY + dt.timedelta(days=30), dt.time(1, 30), tzinfo=dt.UTC)
        sid = self.ds.add(
            EvaluationSession,
            {
                "committee_id": cid,
                "institution_id": institutions[0],
                "year": start.year,
                "starts_at": start,
                "ends_at": start + dt.timedelta(hours=6),
                "place": "评审会议室",
                "panel_size": 9,
                "backup_count": 3,
                "status": SessionStatus.PLANNED,
            },
        )
        self.ds.d1_session_id = sid
        applicants = [self._applicant(sid, units, row) for _ in range(D1_APPLICANTS)]
        conflicts = min(D1_CONFLICTS, len(roster) // 10)
        # Members other than the presiding seats, so the draw stays feasible.
        for eid in self.rng.sample(roster[5:], conflicts):
            self.ds.add(
                ConflictDeclaration,
                {
                    "session_id": sid,
                    "applicant_id": self.rng.choice(applicants),
                    "expert_id": eid,
                    "kind": self.rng.choice(list(ConflictKind)),
                    "declared_by": DeclaredBy.EXPERT,
                    "detail": "与申报人存在利害关系",
                },
            )

    def build_complaints(self, institutions: list[int]) -> None:
        statuses = list(ComplaintStatus)
        weights = {
            ComplaintStatus.RECEIVED: 10,
            ComplaintStatus.ACCEPTED: 10,
            ComplaintStatus.NOT_ACCEPTED: 5,
            ComplaintStatus.IN_HANDLING: 20,
            ComplaintStatus.ANSWERED: 20,
            ComplaintStatus.CLOSED: 35,
        }
        cum = list(_cumulative(weights[s] for s in statuses))
        kinds = list(ComplaintKind)
        # One real argon2 hash shared by all rows: hashing 50k query passwords would
        # dominate the load and is not what the operations measure.
        query_hash = (
            "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2hzYWx0YmVuY2g$"
            + hashlib.sha256(b"bench").hexdigest()[:43]
        )
        used: set[str] = set()
        for i in range(self.sizes.complaints):
            kind = kinds[i % len(kinds)]
            status = self.rng.choices(statuses, cum_weights=cum)[0]
            while True:
                code = "TS" + "".join(self.rng.choice(_TRACKING_ALPHABET) for _ in range(10))
                if code not in used:
                    used.add(code)
                    break
            received = self.day(TODAY - dt.timedelta(days=700), TODAY)
            inst = institutions[self.rng.randrange(len(institutions))]
            kid = self.ds.add(
                Complaint,
                {
                    "kind": kind,
                    "channel": ComplaintChannel.WEB,
                    "target_type": TargetType.INSTITUTION,
                    "target_id": inst,
                    "facts": self.rng.choice(data.COMPLAINT_FACTS[kind.value]),
                    "anonymous": True,
                    "tracking_code": code,
                    "query_password_hash": query_hash,
                    "institution_id": inst,
                    "status": status,
                    "due_on": received + dt.timedelta(days=15),
                    "answer": data.COMPLAINT_ANSWER
                    if status in (ComplaintStatus.ANSWERED, ComplaintStatus.CLOSED)
                    else "",
                },
            )
            self.audit("complaint", kid, {"kind": kind.value, "status": status.value})


def _cumulative(weights: Iterable[int]) -> Iterable[int]:
    total = 0
    for w in weights:
        total += w
        yield total


def build(seed: int, experts: int) -> DataSet:
    return Generator(seed, experts).build()


# --- loading -----------------------------------------------------------------------------


def _default(model: type[Model], name: str) -> Any:
    """The value a column gets when a generated row leaves it out."""
    if name in ("created_at", "updated_at"):
        return STAMP
    default = model._meta.fields_map[name].default
    return default() if callable(default) else default


def _encode(kind: str, field_obj: Any, value: Any) -> Any:
    if value is None:
        return None
    if kind == "JSONField":
        return field_obj.to_db_value(value, None)
    if "Enum" in kind:
        return str(getattr(value, "value", value))
    return value


def _records(
    model: type[Model], rows: Sequence[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and one tuple of database values per row."""
    projection = model._meta.fields_db_projection
    names = list(projection)
    fields_map = model._meta.fields_map
    kinds = [(type(fields_map[n]).__name__, fields_map[n]) for n in names]
    defaults = {n: _default(model, n) for n in names}
    records = [
        tuple(
            _encode(kind, f, row[n] if n in row else defaults[n])
            for n, (kind, f) in zip(names, kinds, strict=True)
        )
        for row in rows
    ]
    return [projection[n] for n in names], records


async def load(ds: DataSet) -> dict[str, int]:
    """Write the data set into the (migrated, empty) database of the default connection."""
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    for model, rows in ds.rows.items():
        table = model._meta.db_table
        columns, records = _records(model, rows)
        for start in range(0, len(records), _COPY_CHUNK):
            chunk = records[start : start + _COPY_CHUNK]
            if dialect == "postgres":
                async with conn.acquire_connection() as raw:
                    await raw.copy_records_to_table(table, records=chunk, columns=columns)
            else:
                marks = ", ".join("?" for _ in columns)
                # Identifiers come from model metadata, values are bound.
                sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})'  # noqa: S608
                async with in_transaction() as tx:
                    await tx.execute_many(sql, [list(r) for r in chunk])
        if dialect == "postgres":
            # Ids were assigned here: move the sequence past them for later inserts.
            reset = (
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
                f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
            )
            await conn.execute_script(reset)
    by_type: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
    for target in ds.audit_targets:
        by_type.setdefault(target[0], []).append(target)
    for targets in by_type.values():
        for start in range(0, len(targets), _AUDIT_CHUNK):
            async with in_transaction():
                await audit.record_many(
                    SYSTEM, AUDIT_ACTION, list(targets[start : start + _AUDIT_CHUNK])
                )
    # Fresh statistics, so plans (and EXPLAIN) match a settled production database.
    await conn.execute_script("ANALYZE")
    return ds.counts()
