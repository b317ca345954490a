"""Excel import of candidate lists (Art. 14, 15; R3, R4) and roster export with masked
personal data (SPEC "Personal data")."""

import datetime as dt
import io
import itertools
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from models import (
    AuditEvent,
    Committee,
    CommitteeSeat,
    Expert,
    ExpertApplication,
    ExpertEmployment,
    Institution,
    User,
)
from models.enums import (
    AuthorityKind,
    EntryRoute,
    ExpertApplicationStatus,
    ExpertStatus,
    Level,
    Role,
    Seat,
    UnitType,
)
from resolvers import expert_io as svc
from resolvers.actor import Actor, Grant
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from resolvers.personal import decrypt, protect_id_number
from tests import factories

D = dt.date
HEADERS = [h for h, _, _ in svc.COLUMNS]
_n = itertools.count(1)


async def _actor(*grants: Grant) -> Actor:
    n = next(_n)
    user = await User.create(username=f"io{n}", display_name=f"用户{n}", password_hash="x")
    return Actor(user_id=user.id, username=user.username, grants=grants)


async def _staff(inst: Institution) -> Actor:
    return await _actor(Grant(Role.INSTITUTION, institution_id=inst.id))


def _row(i: int, credit_code: str, **over: Any) -> dict[str, Any]:
    birth = D(1970 + i % 15, 1 + i % 12, 1 + i % 28)
    values: dict[str, Any] = {
        "姓名": f"导入专家{i}",
        "身份证号码": factories.make_id_number(birth, i),
        "手机号码": f"136{i:08d}",
        "电子邮箱": f"e{i}@example.cn",
        "所在单位统一社会信用代码": credit_code,
        "现职称": "教授级高级工程师",
        "职称层级": "正高级",
        "职称取得日期": dt.datetime(2010, 5, 1),
        "系列": "工程技术",
        "专业": "电子信息",
        "研究领域": "通信",
        "原退休年龄类别": "男60",
        "急需紧缺例外理由": None,
    }
    values.update(over)
    return values


def _xlsx(rows: list[dict[str, Any]], headers: list[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(headers)
    for r in rows:
        sheet.append([r.get(h) for h in headers])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _world() -> dict[str, Any]:
    authority = await factories.authority(AuthorityKind.INDUSTRY)
    unit = await factories.unit(UnitType.MUNICIPAL, authority=authority)
    inst = await factories.institution()
    return {"unit": unit, "inst": inst, "staff": await _staff(inst)}


async def _counts() -> tuple[int, int, int, int]:
    return (
        await Expert.all().count(),
        await ExpertApplication.all().count(),
        await ExpertEmployment.all().count(),
        await AuditEvent.all().count(),
    )


def _hundred_with_three_bad(credit_code: str) -> list[dict[str, Any]]:
    """Rows 2..101 of the sheet; rows 12, 52 and 92 are bad (one reason each)."""
    rows = [_row(i, credit_code) for i in range(100)]
    bad_id = rows[10]["身份证号码"]
    rows[10]["身份证号码"] = bad_id[:17] + ("0" if bad_id[17] != "0" else "1")
    rows[50]["身份证号码"] = rows[49]["身份证号码"]  # the same person twice in the file
    rows[90]["所在单位统一社会信用代码"] = factories.make_credit_code(987654)
    return rows


def _reasons(report: svc.ImportReport) -> list[tuple[int, list[tuple[str, str | None]]]]:
    return [(f.row, [(e.code, e.field) for e in f.errors]) for f in report.failures]


EXPECTED_THREE = [
    (12, [("INVALID_ID_NUMBER", "idNumber")]),
    (52, [("DUPLICATE", "idNumber")]),
    (92, [("INVALID", "unitCreditCode")]),
]


async def test_import_all_or_nothing_with_three_bad_rows_imports_nothing():
    w = await _world()
    before = await _counts()

    report = await svc.import_candidates(
        w["staff"],
        w["inst"].id,
        _xlsx(_hundred_with_three_bad(w["unit"].credit_code)),
        mode="all_or_nothing",
    )

    assert (report.total, report.imported, report.expert_ids) == (100, 0, [])
    assert _reasons(report) == EXPECTED_THREE
    assert [f.errors[0].message for f in report.failures] == [
        "身份证号码校验位不正确",
        "与第51行的身份证号码重复",
        "该统一社会信用代码对应的单位未登记",
    ]
    assert await _counts() == before


async def test_import_good_rows_imports_exactly_the_97_good_rows():
    w = await _world()
    rows = _hundred_with_three_bad(w["unit"].credit_code)

    report = await svc.import_candidates(w["staff"], w["inst"].id, _xlsx(rows), mode="good_rows")

    assert (report.total, report.imported, len(report.expert_ids)) == (100, 97, 97)
    assert _reasons(report) == EXPECTED_THREE
    names = set(await Expert.all().values_list("name", flat=True))
    assert names == {f"导入专家{i}" for i in range(100) if i not in (10, 50, 90)}
    apps = await ExpertApplication.all().values_list(
        "status", "route", "authority_id", "institution_id", "submitted_by_id"
    )
    assert set(apps) == {
        (
            ExpertApplicationStatus.SUBMITTED,
            EntryRoute.RECOMMENDATION,
            w["unit"].authority_id,
            w["inst"].id,
            w["staff"].user_id,
        )
    }
    assert len(apps) == 97
    assert await Expert.filter(status=ExpertStatus.APPLIED).count() == 97
    assert await AuditEvent.filter(action="expert.import").values_list("after", flat=True) == [
        {"mode": "good_rows", "rows": 100, "imported": 97, "failed": 3}
    ]


async def test_import_reports_ineligible_rows_with_reasons_and_database_duplicates_r4():
    w = await _world()
    code = w["unit"].credit_code
    existing = await factories.expert(birth_date=D(1972, 3, 3))
    known = factories.make_id_number(D(1972, 3, 3), 5)
    await Expert.filter(id=existing.id).update(**protect_id_number(known))
    rows = [
        _row(1, code, 职称层级="中级"),
        _row(2, code, 身份证号码=known),
        _row(3, code, 原退休年龄类别="女55"),
        _row(4, code),
    ]

    report = await svc.import_candidates(w["staff"], w["inst"].id, _xlsx(rows), mode="good_rows")

    assert report.imported == 1
    assert _reasons(report) == [
        (2, [("TITLE_TOO_LOW", None)]),
        (3, [("DUPLICATE", "idNumber")]),
        (4, [("INVALID", "retirementCategory")]),
    ]
    assert report.failures[0].errors[0].message.startswith("现有职称层级为中级")
    assert report.failures[1].id_number_masked == known[:6] + "********" + known[-4:]


async def test_import_accepts_any_column_order_full_width_brackets_and_text_dates():
    w = await _world()
    headers = list(reversed(HEADERS))
    row = _row(7, w["unit"].credit_code, 职称层级="副高级", 职称取得日期="2015-07-01")
    row2 = _row(8, w["unit"].credit_code, 职称层级="正高级")
    row3 = _row(9, w["unit"].credit_code, 职称层级="初级（助理级）")

    report = await svc.import_candidates(
        w["staff"], w["inst"].id, _xlsx([row, row2, row3], headers), mode="good_rows"
    )

    assert report.imported == 2
    assert _reasons(report) == [(4, [("TITLE_TOO_LOW", None)])]
    levels = await Expert.all().order_by("id").values_list("title_level", "title_obtained_on")
    assert levels == [(Level.ASSOCIATE_SENIOR, D(2015, 7, 1)), (Level.SENIOR, D(2010, 5, 1))]


async def test_import_unit_without_responsible_authority_is_a_row_failure_r3():
    w = await _world()
    orphan = await factories.unit(UnitType.NON_PUBLIC)

    report = await svc.import_candidates(
        w["staff"], w["inst"].id, _xlsx([_row(1, orphan.credit_code)]), mode="good_rows"
    )

    assert _reasons(report) == [(2, [("WRONG_RECOMMENDER", "unitId")])]
    assert report.imported == 0


async def test_import_missing_columns_or_not_a_workbook_refused():
    w = await _world()
    before = await _counts()

    with pytest.raises(DomainError) as err:
        await svc.import_candidates(
            w["staff"], w["inst"].id, _xlsx([], ["姓名", "系列"]), mode="good_rows"
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "file")
    assert err.value.message.startswith("缺少必需的列:身份证号码、手机号码")
    with pytest.raises(DomainError) as err:
        await svc.import_candidates(w["staff"], w["inst"].id, b"not a zip", mode="good_rows")
    assert (err.value.code, err.value.message) == (ErrorCode.INVALID, "不是有效的Excel(.xlsx)文件")
    with pytest.raises(DomainError) as err:
        await svc.import_candidates(w["staff"], w["inst"].id, _xlsx([]), mode="good_rows")
    assert err.value.code == ErrorCode.REQUIRED

    assert await _counts() == before


async def test_import_by_bureau_or_other_institution_denied_nothing_changed():
    w = await _world()
    data = _xlsx([_row(1, w["unit"].credit_code)])
    other = await _staff(await factories.institution())
    bureau = await _actor(Grant(Role.BUREAU))
    before = await _counts()

    for actor in (other, bureau):
        with pytest.raises(PermissionDenied):
            await svc.import_candidates(actor, w["inst"].id, data, mode="good_rows")

    assert await _counts() == before


# --- export -------------------------------------------------------------------------


async def _roster() -> dict[str, Any]:
    inst, other = await factories.institution(), await factories.institution()
    committee = await Committee.create(
        institution=inst, name="电子信息评委会", series="工程技术", specialty="电子信息",
        level=Level.SENIOR,
    )  # fmt: skip
    own = await factories.expert(institution=inst, phone="13800001111")
    foreign = await factories.expert(institution=other, phone="13800002222")
    await CommitteeSeat.create(committee=committee, expert=own, seat=Seat.CHAIR)
    await CommitteeSeat.create(committee=committee, expert=foreign, seat=Seat.MEMBER)
    return {"inst": inst, "committee": committee, "own": own, "foreign": foreign}


def _sheet(data: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return rows


async def test_export_roster_unmasks_only_experts_the_actor_may_see_and_audits_it():
    r = await _roster()
    staff = await _staff(r["inst"])

    rows = _sheet(await svc.export_roster(staff, r["committee"].id))

    assert rows[0] == svc.ROSTER_HEADERS
    own, foreign = r["own"], r["foreign"]
    assert [(x[0], x[2], x[4], x[5]) for x in rows[1:]] == [
        (own.number, "主任委员", decrypt(own.id_number_enc), "13800001111"),
        (foreign.number, "委员", foreign.id_number_masked, "138****2222"),
    ]
    events = await AuditEvent.filter(action="committee.roster_export").values_list(
        "actor", "target_id", "after"
    )
    assert events == [(staff.label, str(r["committee"].id), {"rows": 2, "unmasked_rows": 1})]


async def test_export_roster_all_masked_writes_no_audit_event():
    r = await _roster()
    await CommitteeSeat.filter(expert_id=r["own"].id).delete()
    staff = await _staff(r["inst"])
    before = await AuditEvent.all().count()

    rows = _sheet(await svc.export_roster(staff, r["committee"].id))

    assert [(x[4], x[5]) for x in rows[1:]] == [(r["foreign"].id_number_masked, "138****2222")]
    assert await AuditEvent.all().count() == before


async def test_export_roster_by_bureau_is_unmasked_by_other_institution_not_found():
    r = await _roster()
    bureau = await _actor(Grant(Role.BUREAU))
    rows = _sheet(await svc.export_roster(bureau, r["committee"].id))
    assert [x[5] for x in rows[1:]] == ["13800001111", "13800002222"]

    other = await _staff(await factories.institution())
    before = await AuditEvent.all().count()
    with pytest.raises(NotFound):
        await svc.export_roster(other, r["committee"].id)
    assert await AuditEvent.all().count() == before


async def test_candidate_template_has_the_documented_headers():
    assert _sheet(svc.candidate_template()) == [tuple(HEADERS)]


# --- writing a large file without stopping the app (issue 9 item 5) -------------------


async def test_clash_during_writing_sqlite_keeps_written_chunks_postgres_nothing(monkeypatch):
    """A person entered by someone else while the file is written (IntegrityError at
    row 61). PostgreSQL writes in one transaction: nothing stays. SQLite writes 50 rows
    to a transaction so other requests are served: the first chunk stays, complete and
    audited, and the error says how many rows were imported."""
    from tortoise.exceptions import IntegrityError

    from tests.conftest import IS_POSTGRES

    w = await _world()
    real = svc.create_candidate
    calls = 0

    async def clash(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 61:
            raise IntegrityError("duplicate key")
        return await real(*args, **kwargs)

    monkeypatch.setattr(svc, "create_candidate", clash)
    before = await _counts()
    progress = svc.Progress()

    with pytest.raises(DomainError) as exc:
        await svc.import_candidates(
            w["staff"],
            w["inst"].id,
            _xlsx([_row(i, w["unit"].credit_code) for i in range(80)]),
            mode="all_or_nothing",
            progress=progress,
        )

    assert exc.value.code == ErrorCode.DUPLICATE
    imports = await AuditEvent.filter(action="expert.import").values_list("after", flat=True)
    if IS_POSTGRES:
        assert "未导入任何数据" in exc.value.message
        assert await _counts() == before
        assert imports == []
    else:
        assert f"前 {svc.SQLITE_CHUNK} 行已导入" in exc.value.message
        assert await Expert.all().count() == svc.SQLITE_CHUNK
        assert await ExpertApplication.all().count() == svc.SQLITE_CHUNK
        assert [i["imported"] for i in imports] == [svc.SQLITE_CHUNK]
    assert (progress.phase, progress.total) == ("写入数据", 80)


async def test_import_reports_progress_through_each_phase():
    w = await _world()
    seen: list[tuple[str, int, int]] = []

    class Spy(svc.Progress):
        def step(self, phase: str, done: int = 0, total: int = 0) -> None:
            super().step(phase, done, total)
            seen.append((phase, done, total))

    report = await svc.import_candidates(
        w["staff"],
        w["inst"].id,
        _xlsx([_row(i, w["unit"].credit_code) for i in range(3)]),
        mode="good_rows",
        progress=Spy(),
    )

    assert report.imported == 3
    assert seen == [
        ("读取文件", 0, 0),
        ("检查数据", 0, 3),
        ("检查数据", 3, 3),
        ("写入数据", 0, 3),
        ("写入数据", 1, 3),
        ("写入数据", 2, 3),
        ("完成", 3, 3),
    ]
