"""Expert candidates in and rosters out as Excel (.xlsx, openpyxl).

Import (`import_candidates`): institution staff upload a candidate list that the
responsible authorities sent them (Art. 14, 15). Layout: one sheet (the first), row 1
holds the headers below in any order, one candidate per following row; blank rows are
skipped. Columns marked * are required.

| header                  | content                                                     |
|-------------------------|-------------------------------------------------------------|
| 姓名 *                   | name                                                        |
| 身份证号码 *             | 18-character resident ID number, as TEXT (a number cell loses digits) |
| 手机号码 *               | mainland mobile number                                      |
| 电子邮箱                 | e-mail                                                      |
| 所在单位统一社会信用代码 * | the employer's credit code; the unit must be registered     |
| 现职称 *                 | title, e.g. 教授级高级工程师                                 |
| 职称层级 *               | 正高级, 副高级, 中级, 初级(助理级), 初级(员级)                |
| 职称取得日期 *           | a date cell or YYYY-MM-DD                                   |
| 系列 *                   | one of the 27 national series                               |
| 专业 *                   | specialty                                                   |
| 研究领域                 | field                                                       |
| 原退休年龄类别 *         | 男60, 女55 or 女50 (original retirement age, R5)             |
| 急需紧缺例外理由         | urgently needed specialty reason (bureau approves, Art. 16) |

Every row is checked the way `expert.recommend_expert` checks one candidate (ID
number, gender against the category, R3 responsible authority, R4 eligibility), plus
duplicates within the file and against the database. The report lists every failed
row with all its reasons. Mode ``all_or_nothing`` imports nothing when any row fails;
``good_rows`` imports exactly the good rows. Every row is checked before anything is
written. On PostgreSQL the writing is one transaction: nothing is ever half-imported.
On SQLite (one connection for the whole app) it is 50 rows to a transaction, so that
other users are served while a large file is written; a clash with a concurrent entry
or a crash there keeps the rows already written (each a complete, audited
application), and the report says how many.

Export (`export_roster`): a committee's roster, personal data masked unless the actor
may see that expert's full data (EXPERT_VIEW_PII); revealing full values writes one
audit event for the export.
"""

import asyncio
import datetime as dt
import io
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from openpyxl import Workbook, load_workbook
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import Expert, Unit
from models.enums import (
    LEVEL_LABELS,
    EntryRoute,
    ExpertStatus,
    JobKind,
    Level,
    RetirementCategory,
)
from resolvers import audit
from resolvers.actor import Actor
from resolvers.common import beijing_today
from resolvers.errors import DomainError, ErrorCode, PermissionDenied, Unauthenticated
from resolvers.expert import (
    UNIT_TYPE_LABELS,
    PersonInput,
    PoolStatistics,
    YouthShare,
    check_entry,
    collecting_institution,
    create_candidate,
    pool_statistics,
    recommender_error,
    validate_person,
)
from resolvers.institution import list_committee_seats
from resolvers.jobs import Job, Progress, get_job, latest_job, start_job
from resolvers.personal import (
    decrypt,
    keyed_hash,
    mask_id_number,
    normalize_credit_code,
)
from resolvers.policy import Perm, require

ImportMode = Literal["all_or_nothing", "good_rows"]

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000

# (header, key, required)
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("姓名", "name", True),
    ("身份证号码", "id_number", True),
    ("手机号码", "phone", True),
    ("电子邮箱", "email", False),
    ("所在单位统一社会信用代码", "unit_credit_code", True),
    ("现职称", "title", True),
    ("职称层级", "title_level", True),
    ("职称取得日期", "title_obtained_on", True),
    ("系列", "series", True),
    ("专业", "specialty", True),
    ("研究领域", "field", False),
    ("原退休年龄类别", "retirement_category", True),
    ("急需紧缺例外理由", "exception_reason", False),
)

_LEVELS = {label: lvl for lvl, label in LEVEL_LABELS.items()}
_CATEGORIES = {
    "男60": RetirementCategory.MALE_60,
    "女55": RetirementCategory.FEMALE_55,
    "女50": RetirementCategory.FEMALE_50,
}
_CATEGORY_LABELS = {v: k for k, v in _CATEGORIES.items()}


@dataclass(frozen=True)
class RowError:
    """One reason a row failed: a stable code (ErrorCode or eligibility ReasonCode)."""

    code: str
    field: str | None
    message: str


@dataclass(frozen=True)
class RowFailure:
    """A failed row (Excel row number), identified by name and masked ID number."""

    row: int
    name: str
    id_number_masked: str
    errors: list[RowError]


@dataclass(frozen=True)
class ImportReport:
    mode: ImportMode
    total: int
    imported: int
    failures: list[RowFailure]
    expert_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class _Row:
    number: int
    raw: dict[str, Any]
    person: PersonInput | None = None
    unit: Unit | None = None
    exception_reason: str = ""
    errors: list[RowError] = field(default_factory=list)


# --- import -------------------------------------------------------------------------


def _cell(value: Any, key: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and key in ("id_number", "phone", "unit_credit_code"):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _level(value: Any) -> Any:
    # Full-width brackets are what Chinese input methods type.
    text = str(value).strip().replace("\uff08", "(").replace("\uff09", ")")
    return _LEVELS.get(text, text)


def _category(value: Any) -> Any:
    text = str(value).strip()
    return _CATEGORIES.get(text, text)


def _check_size(xlsx: bytes) -> None:
    if len(xlsx) > MAX_BYTES:
        raise DomainError(ErrorCode.TOO_LONG, f"文件不能超过{MAX_BYTES // 1024 // 1024}MB", "file")


async def _import_target(actor: Actor, institution_id: int, mode: str) -> Any:
    """The institution whose queue an import fills, after the mode and permission checks."""
    if mode not in ("all_or_nothing", "good_rows"):
        raise DomainError(ErrorCode.INVALID, "导入方式无效", "mode")
    inst = await collecting_institution(actor, institution_id)
    require(actor, Perm.EXPERT_REVIEW, inst)
    return inst


def _read(xlsx: bytes) -> list[_Row]:
    _check_size(xlsx)
    try:
        book = load_workbook(io.BytesIO(xlsx), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise DomainError(ErrorCode.INVALID, "不是有效的Excel(.xlsx)文件", "file") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None) or ()
        names = [str(h).strip() if h is not None else "" for h in header]
        index = {h: names.index(h) for h, _, _ in COLUMNS if h in names}
        missing = [h for h, _, required in COLUMNS if required and h not in index]
        if missing:
            raise DomainError(ErrorCode.INVALID, "缺少必需的列:" + "、".join(missing), "file")
        out: list[_Row] = []
        for number, values in enumerate(rows, start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if len(out) >= MAX_ROWS:
                raise DomainError(ErrorCode.TOO_LONG, f"一次最多导入{MAX_ROWS}行", "file")
            raw = {
                key: _cell(values[index[h]] if h in index and index[h] < len(values) else None, key)
                for h, key, _ in COLUMNS
            }
            raw["title_level"] = _level(raw["title_level"])
            raw["retirement_category"] = _category(raw["retirement_category"])
            out.append(_Row(number, raw))
        return out
    finally:
        book.close()


def _error(exc: DomainError) -> RowError:
    return RowError(str(exc.code), exc.field, exc.message)


async def _check_rows(rows: list[_Row], today: dt.date) -> None:
    """Fill `errors` of each row; all database lookups are batched."""
    codes: dict[int, str] = {}
    for i, row in enumerate(rows):
        if i % 200 == 199:
            await asyncio.sleep(0)  # CPU work: let other requests run in between
        try:
            row.person = validate_person(row.raw)
        except DomainError as exc:
            row.errors.append(_error(exc))
        code = str(row.raw.get("unit_credit_code") or "")
        try:
            codes[row.number] = normalize_credit_code(code, field="unitCreditCode")
        except DomainError as exc:
            row.errors.append(_error(exc))
        reason = row.raw.get("exception_reason") or ""
        row.exception_reason = str(reason).strip()[:2000]
    units = {
        u.credit_code: u
        for u in await Unit.filter(credit_code__in=list(set(codes.values()))).select_related(
            "authority"
        )
    }
    hashes = {row.number: keyed_hash(row.person.id_number) for row in rows if row.person}
    taken = set(
        await Expert.filter(id_number_hash__in=list(set(hashes.values())))
        .exclude(status=ExpertStatus.REJECTED)
        .values_list("id_number_hash", flat=True)
    )
    first_row: dict[str, int] = {}
    for i, row in enumerate(rows):
        if i % 200 == 199:
            await asyncio.sleep(0)
        if row.number in codes:
            unit = units.get(codes[row.number])
            if unit is None:
                row.errors.append(
                    RowError(
                        str(ErrorCode.INVALID),
                        "unitCreditCode",
                        "该统一社会信用代码对应的单位未登记",
                    )
                )
            else:
                wrong = recommender_error(unit, unit.authority)
                if wrong is not None:
                    row.errors.append(_error(wrong))
                row.unit = unit
        if row.person is None:
            continue
        h = hashes[row.number]
        if h in first_row:
            row.errors.append(
                RowError(
                    str(ErrorCode.DUPLICATE),
                    "idNumber",
                    f"与第{first_row[h]}行的身份证号码重复",
                )
            )
        else:
            first_row[h] = row.number
        if h in taken:
            row.errors.append(
                RowError(
                    str(ErrorCode.DUPLICATE), "idNumber", "该身份证号码的专家已在库或已申请入库"
                )
            )
        for reason in check_entry(
            row.person, today, invited=False, exception_reason=row.exception_reason
        ):
            row.errors.append(RowError(str(reason.code), None, reason.message))


def _failure(row: _Row) -> RowFailure:
    idn = str(row.raw.get("id_number") or "")
    return RowFailure(
        row=row.number,
        name=str(row.raw.get("name") or ""),
        id_number_masked=mask_id_number(idn) if len(idn) == 18 else "*" * len(idn),
        errors=row.errors,
    )


async def import_candidates(
    actor: Actor,
    institution_id: int,
    xlsx_bytes: bytes,
    *,
    mode: ImportMode,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a candidate list into the institution's review queue (see module doc).

    Each imported row becomes an applied Expert with a submitted recommendation
    application, recorded under the unit's responsible authority (R3) and the
    importing user; the institution then reviews it as any other (Art. 17).

    Side effects (only for the rows imported, in one transaction): as
    recommend_expert per row, plus one `expert.import` audit event with the counts.
    """
    today = beijing_today()
    inst = await _import_target(actor, institution_id, mode)
    progress = progress or Progress()
    progress.step("读取文件")
    # Parsing a workbook is CPU work: in a thread, so the event loop keeps serving.
    rows = await asyncio.to_thread(_read, xlsx_bytes)
    if not rows:
        raise DomainError(ErrorCode.REQUIRED, "文件中没有候选人数据", "file")
    progress.step("检查数据", 0, len(rows))
    await _check_rows(rows, today)
    failures = [_failure(r) for r in rows if r.errors]
    good = [r for r in rows if not r.errors]
    progress.step("检查数据", len(rows), len(rows))
    if (failures and mode == "all_or_nothing") or not good:
        return ImportReport(mode, len(rows), 0, failures)
    ids: list[int] = []
    chunks = _write_chunks(good)
    try:
        for chunk in chunks:
            written: list[int] = []  # counted once its transaction has committed
            async with in_transaction():
                for row in chunk:
                    progress.step("写入数据", len(ids) + len(written), len(good))
                    written.append(await _create(actor, inst.id, row, today))
                if len(ids) + len(written) == len(good):
                    await _record_import(actor, inst, mode, len(rows), len(good), len(failures))
            ids.extend(written)
            await asyncio.sleep(0)  # requests waiting for the database go first
    except IntegrityError:
        if not ids:
            # Someone entered one of these people while we checked: nothing was written.
            raise DomainError(
                ErrorCode.DUPLICATE,
                "导入期间有候选人已被他人录入,未导入任何数据,请重新导入",
                "file",
            ) from None
        # SQLite writes in chunks: the chunks before the clash stay, and say so.
        await _record_import(actor, inst, mode, len(rows), len(ids), len(failures))
        raise DomainError(
            ErrorCode.DUPLICATE,
            f"导入期间有候选人已被他人录入:前 {len(ids)} 行已导入并进入审核队列,其余未导入;"
            "请选择“只导入无误的行”重新导入同一文件,已导入的行会被识别为重复",
            "file",
        ) from None
    progress.step("完成", len(ids), len(good))
    return ImportReport(mode, len(rows), len(ids), failures, ids)


SQLITE_CHUNK = 50


def _write_chunks(good: list[_Row]) -> list[list[_Row]]:
    """One transaction on PostgreSQL (other connections are not blocked by it). SQLite
    has one connection behind a lock, so a 5,000-row transaction would stop every other
    request for half a minute: there the rows are written 50 to a transaction."""
    if connections.get("default").capabilities.dialect != "sqlite":
        return [good]
    return [good[i : i + SQLITE_CHUNK] for i in range(0, len(good), SQLITE_CHUNK)]


async def _create(actor: Actor, institution_id: int, row: _Row, today: dt.date) -> int:
    assert row.person is not None and row.unit is not None  # noqa: S101 -- checked
    expert, _ = await create_candidate(
        actor,
        row.person,
        row.unit,
        institution_id=institution_id,
        committee_id=None,
        route=EntryRoute.RECOMMENDATION,
        authority_id=row.unit.authority_id,  # type: ignore[attr-defined]
        invitation_category=None,
        exception_reason=row.exception_reason,
        exception_approved=False,
        today=today,
    )
    return int(expert.id)


async def _record_import(
    actor: Actor, inst: Any, mode: ImportMode, rows: int, imported: int, failed: int
) -> None:
    await audit.record(
        actor,
        "expert.import",
        inst,
        after={"mode": mode, "rows": rows, "imported": imported, "failed": failed},
    )


# --- as background jobs, with progress (issue 9 item 5) -----------------------------


async def start_import(
    actor: Actor, institution_id: int, xlsx_bytes: bytes, *, mode: ImportMode
) -> Job:
    """Run `import_candidates` as a background job and return the job at once.

    The permission, the mode and the file size are checked here, before any job
    exists; what the rows contain is reported by the job. One import at a time per
    user and institution (JOB_RUNNING). Side effects: a background_job row; the
    import's own rows and audit event when it succeeds.
    """
    inst = await _import_target(actor, institution_id, mode)
    if not xlsx_bytes:
        raise DomainError(ErrorCode.REQUIRED, "请选择要导入的 Excel 文件(.xlsx)", "file")
    _check_size(xlsx_bytes)

    async def work(progress: Progress) -> dict[str, Any]:
        report = await import_candidates(actor, inst.id, xlsx_bytes, mode=mode, progress=progress)
        return asdict(report)

    return await start_job(
        actor, JobKind.EXPERT_IMPORT, work, scope=f"institution:{inst.id}", exclusive=True
    )


def _report(data: Any) -> ImportReport | None:
    if not isinstance(data, dict):
        return None
    failures = [
        RowFailure(
            row=f["row"],
            name=f["name"],
            id_number_masked=f["id_number_masked"],
            errors=[RowError(**e) for e in f["errors"]],
        )
        for f in data["failures"]
    ]
    return ImportReport(
        data["mode"], data["total"], data["imported"], failures, list(data["expert_ids"])
    )


async def import_job(actor: Actor, job_id: str) -> tuple[Job, ImportReport | None]:
    """An import job this user started, with its report once done (NotFound else)."""
    require(actor, Perm.EXPERT_REVIEW)
    job = await get_job(actor, job_id, JobKind.EXPERT_IMPORT)
    return job, _report(job.result)


async def start_pool_statistics(actor: Actor) -> Job:
    """Compute `pool_statistics` for the actor's scope as a background job (the whole
    pool can be large); a job already running for this user is returned instead."""
    require(actor, Perm.EXPERT_STATS)
    today = beijing_today()

    async def work(progress: Progress) -> dict[str, Any]:
        stats = await pool_statistics(actor, today, progress=progress)
        return {**asdict(stats), "today": stats.today.isoformat()}

    return await start_job(actor, JobKind.POOL_STATISTICS, work)


def _statistics(data: Any) -> PoolStatistics | None:
    if not isinstance(data, dict):
        return None
    return PoolStatistics(
        **{
            **data,
            "today": dt.date.fromisoformat(data["today"]),
            "youth": YouthShare(**data["youth"]),
            # JSON object keys are text: committee ids back to int.
            "youth_by_committee": {
                int(k): YouthShare(**v) for k, v in data["youth_by_committee"].items()
            },
        }
    )


async def pool_statistics_job(
    actor: Actor, job_id: str | None = None, *, fresh_for: dt.timedelta | None = None
) -> tuple[Job | None, PoolStatistics | None]:
    """The statistics job `job_id` of this user, or (without an id) their latest one
    if it is still running or finished within `fresh_for`; with its result once done."""
    require(actor, Perm.EXPERT_STATS)
    if job_id is not None:
        job: Job | None = await get_job(actor, job_id, JobKind.POOL_STATISTICS)
    else:
        job = await latest_job(actor, JobKind.POOL_STATISTICS)
        if job is not None and not job.running:
            age = dt.datetime.now(dt.UTC) - (job.finished_at or job.created_at)
            if job.failed or fresh_for is None or age > fresh_for:
                job = None
    return job, (_statistics(job.result) if job is not None else None)


def candidate_template() -> bytes:
    """An empty workbook with the import headers, for download."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 -- a new workbook always has one sheet
    sheet.title = "候选专家"
    sheet.append([h for h, _, _ in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- export -------------------------------------------------------------------------

ROSTER_HEADERS = (
    "专家编号",
    "姓名",
    "席位",
    "性别",
    "身份证号码",
    "手机号码",
    "电子邮箱",
    "所在单位",
    "单位类型",
    "现职称",
    "职称层级",
    "系列",
    "专业",
    "状态",
)
_SEAT_LABELS = {"chair": "主任委员", "vice_chair": "副主任委员", "member": "委员"}
_STATUS_LABELS = {
    "applied": "已申请",
    "reviewed": "已审核",
    "in_pool": "在库",
    "suspended": "暂停",
    "rejected": "未通过",
    "exited": "已退出",
}


def _may_see_pii(actor: Actor, expert: Expert) -> bool:
    try:
        require(actor, Perm.EXPERT_VIEW_PII, expert)
    except (PermissionDenied, Unauthenticated):
        return False
    return True


async def export_roster(actor: Actor, committee_id: int) -> bytes:
    """A committee's roster as .xlsx (the bureau and the committee's institution).

    ID number and phone are masked unless the actor may see that expert's personal
    data; when any full value is revealed, one `committee.roster_export` audit event
    records who exported how many unmasked rows.
    """
    seats = await list_committee_seats(actor, committee_id)
    experts = {
        e.id: e
        for e in await Expert.filter(id__in=[s.expert_id for s in seats]).select_related(  # type: ignore[attr-defined]
            "unit"
        )
    }
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 -- a new workbook always has one sheet
    sheet.title = "评委会专家名单"
    sheet.append(list(ROSTER_HEADERS))
    revealed = 0
    for seat in seats:
        e = experts[seat.expert_id]  # type: ignore[attr-defined]
        full = _may_see_pii(actor, e)
        revealed += full
        sheet.append(
            [
                e.number,
                e.name,
                _SEAT_LABELS.get(str(seat.seat), str(seat.seat)),
                "男" if e.gender == "male" else "女",
                decrypt(e.id_number_enc) if full else e.id_number_masked,
                decrypt(e.phone_enc) if full else e.phone_masked,
                e.email,
                e.unit.name,
                UNIT_TYPE_LABELS.get(e.unit.unit_type, str(e.unit.unit_type)),
                e.title,
                LEVEL_LABELS[Level(e.title_level)],
                e.series,
                e.specialty,
                _STATUS_LABELS.get(str(e.status), str(e.status)),
            ]
        )
    out = io.BytesIO()
    book.save(out)
    if revealed:
        async with in_transaction():
            await audit.record(
                actor,
                "committee.roster_export",
                ("committee", committee_id),
                after={"rows": len(seats), "unmasked_rows": revealed},
            )
    return out.getvalue()


def category_label(category: RetirementCategory) -> str:
    """The import's label of a retirement category (for templates and tests)."""
    return _CATEGORY_LABELS[RetirementCategory(category)]
