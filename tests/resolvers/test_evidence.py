"""Evidence files (Art. 28 证据材料): type by content, size and count limits, safe
names, storage outside the web root by SHA-256, access for handlers only (R16)."""

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

import app as app_module
from models import AuditEvent, Complaint, EvidenceFile
from models.enums import Role, TargetType
from resolvers import complaint as complaints
from resolvers import evidence as svc
from resolvers.actor import ANONYMOUS, Actor
from resolvers.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from tests import conftest, factories
from tests.resolvers.test_complaint import against_expert, file_complaint, staff, user_actor

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 32
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 32
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def docx(with_document: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        if with_document:
            archive.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def nothing_stored(root: Path, audit_before: int) -> None:
    assert await EvidenceFile.all().count() == 0
    assert stored_files(root) == []
    assert await AuditEvent.all().count() == audit_before


# --- accepted uploads ---------------------------------------------------------------


async def test_anonymous_complainant_uploads_with_query_password(tmp_path: Path):
    _, _, c, password = await against_expert()

    row = await svc.store_evidence(
        ANONYMOUS,
        c.id,
        filename="评审现场照片.pdf",
        data=PDF,
        query_password=password,
        var_dir=tmp_path,
    )

    sha = hashlib.sha256(PDF).hexdigest()
    assert (row.filename, row.content_type, row.size_bytes, row.sha256) == (
        "评审现场照片.pdf",
        "application/pdf",
        len(PDF),
        sha,
    )
    path = tmp_path / "evidence" / sha[:2] / sha
    assert stored_files(tmp_path) == [path]
    assert path.read_bytes() == PDF
    [event] = await AuditEvent.filter(action="evidence.store")
    assert (event.actor, event.actor_user_id) == ("anonymous", None)


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (PDF, "a.pdf", "application/pdf"),
        (JPEG, "a.jpg", "image/jpeg"),
        (PNG, "a.png", "image/png"),
        (MP3_ID3, "a.mp3", "audio/mpeg"),
        (MP3_FRAME, "a.mp3", "audio/mpeg"),
        (MP4, "a.mp4", "video/mp4"),
        (docx(), "a.docx", svc.DOCX.content_type),
    ],
)
async def test_allowed_types_are_recognised_by_content(
    tmp_path: Path, data: bytes, name: str, content_type: str
):
    inst, _, c, _ = await against_expert()

    row = await svc.store_evidence(
        await staff(inst), c.id, filename=name, data=data, var_dir=tmp_path
    )

    assert (row.content_type, row.filename) == (content_type, name)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("scan.exe", "scan.exe.pdf"),
        ("合同<1>:副本.PDF", "合同_1__副本.PDF"),
        (".hidden.pdf", "hidden.pdf"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
        ("noext", "noext.pdf"),
    ],
)
async def test_filename_is_a_safe_label_matching_the_content(tmp_path: Path, given: str, kept: str):
    inst, _, c, _ = await against_expert()
    row = await svc.store_evidence(
        await staff(inst), c.id, filename=given, data=PDF, var_dir=tmp_path
    )
    assert row.filename == kept
    assert [p.name for p in stored_files(tmp_path)] == [hashlib.sha256(PDF).hexdigest()]


async def test_submitting_user_uploads_without_password(tmp_path: Path):
    person = await user_actor()
    expert = await factories.expert()
    c, _ = await file_complaint(
        person, target_type=TargetType.EXPERT, target_id=expert.id, anonymous=False, name="王五"
    )
    row = await svc.store_evidence(person, c.id, filename="a.png", data=PNG, var_dir=tmp_path)
    [event] = await AuditEvent.filter(action="evidence.store")
    assert (row.complaint_id, event.actor_user_id) == (c.id, person.user_id)  # type: ignore[attr-defined]


async def test_same_content_for_two_cases_is_stored_once(tmp_path: Path):
    inst, _, a, _ = await against_expert()
    _, _, b, pw_b = await against_expert()
    await svc.store_evidence(await staff(inst), a.id, filename="a.pdf", data=PDF, var_dir=tmp_path)
    await svc.store_evidence(
        ANONYMOUS, b.id, filename="b.pdf", data=PDF, query_password=pw_b, var_dir=tmp_path
    )
    assert await EvidenceFile.all().count() == 2
    assert len(stored_files(tmp_path)) == 1


# --- refused uploads: nothing stored ------------------------------------------------


async def test_oversize_file_refused_and_nothing_stored(tmp_path: Path):
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    audit_before = await AuditEvent.all().count()
    data = PDF + b"0" * (svc.MAX_FILE_BYTES + 1 - len(PDF))

    with pytest.raises(DomainError) as err:
        await svc.store_evidence(handler, c.id, filename="big.pdf", data=data, var_dir=tmp_path)

    assert (err.value.code, err.value.field) == (ErrorCode.FILE_TOO_LARGE, "file")
    await nothing_stored(tmp_path, audit_before)


async def test_file_of_exactly_the_limit_is_accepted(tmp_path: Path):
    inst, _, c, _ = await against_expert()
    data = PDF + b"0" * (svc.MAX_FILE_BYTES - len(PDF))
    row = await svc.store_evidence(
        await staff(inst), c.id, filename="big.pdf", data=data, var_dir=tmp_path
    )
    assert row.size_bytes == svc.MAX_FILE_BYTES


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (ELF, "report.pdf"),  # an executable disguised as a PDF
        (b"MZ\x90\x00" + b"\x00" * 60, "photo.jpg"),
        (docx(with_document=False), "contract.docx"),
        (b"PK\x03\x04 not really a zip", "contract.docx"),
        (b"<html><script>alert(1)</script></html>", "page.pdf"),
        (b"%PD", "short.pdf"),
    ],
)
async def test_disallowed_content_refused_whatever_its_name(tmp_path: Path, data: bytes, name: str):
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    audit_before = await AuditEvent.all().count()

    with pytest.raises(DomainError) as err:
        await svc.store_evidence(handler, c.id, filename=name, data=data, var_dir=tmp_path)

    assert (err.value.code, err.value.field) == (ErrorCode.FILE_TYPE_NOT_ALLOWED, "file")
    await nothing_stored(tmp_path, audit_before)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.pdf",
        "..\\..\\windows\\win.ini.pdf",
        "evidence/x.pdf",
        "/etc/cron.d/x.pdf",
        "..",
        "a\x00.pdf",
        "a\u202egpj.pdf",
        "   ",
    ],
)
async def test_path_traversal_or_control_character_names_refused(tmp_path: Path, name: str):
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    audit_before = await AuditEvent.all().count()

    with pytest.raises(DomainError) as err:
        await svc.store_evidence(handler, c.id, filename=name, data=PDF, var_dir=tmp_path)

    assert err.value.field == "filename"
    await nothing_stored(tmp_path, audit_before)
    assert stored_files(tmp_path.parent / "etc") == []


async def test_sixth_file_refused(tmp_path: Path):
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    for i in range(svc.MAX_FILES):
        await svc.store_evidence(
            handler, c.id, filename=f"{i}.pdf", data=PDF + bytes([i]), var_dir=tmp_path
        )
    audit_before = await AuditEvent.all().count()

    with pytest.raises(DomainError) as err:
        await svc.store_evidence(handler, c.id, filename="6.pdf", data=PDF + b"6", var_dir=tmp_path)

    assert err.value.code == ErrorCode.TOO_MANY_FILES
    assert await EvidenceFile.filter(complaint_id=c.id).count() == svc.MAX_FILES
    assert len(stored_files(tmp_path)) == svc.MAX_FILES
    assert await AuditEvent.all().count() == audit_before


async def test_same_file_twice_for_one_case_refused(tmp_path: Path):
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    await svc.store_evidence(handler, c.id, filename="a.pdf", data=PDF, var_dir=tmp_path)
    with pytest.raises(DomainError) as err:
        await svc.store_evidence(handler, c.id, filename="b.pdf", data=PDF, var_dir=tmp_path)
    assert err.value.code == ErrorCode.DUPLICATE
    assert await EvidenceFile.all().count() == 1


@pytest.mark.parametrize("password", [None, "", "wrong-password"])
async def test_upload_without_the_right_password_finds_no_case(
    tmp_path: Path, password: str | None
):
    _, _, c, _ = await against_expert()
    audit_before = await AuditEvent.all().count()
    with pytest.raises(NotFound):
        await svc.store_evidence(
            ANONYMOUS, c.id, filename="a.pdf", data=PDF, query_password=password, var_dir=tmp_path
        )
    await nothing_stored(tmp_path, audit_before)


async def test_upload_to_answered_case_refused(tmp_path: Path):
    inst, _, c, password = await against_expert()
    handler = await staff(inst)
    await complaints.screen_complaint(handler, c.id, accept=True)
    await complaints.answer_complaint(handler, c.id, answer="已答复。")
    audit_before = await AuditEvent.all().count()
    with pytest.raises(DomainError) as err:
        await svc.store_evidence(
            ANONYMOUS, c.id, filename="a.pdf", data=PDF, query_password=password, var_dir=tmp_path
        )
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    await nothing_stored(tmp_path, audit_before)


# --- reading evidence: handlers only (R16) ------------------------------------------


async def test_handler_opens_evidence_and_it_is_audited(tmp_path: Path):
    inst, _, c, password = await against_expert()
    row = await svc.store_evidence(
        ANONYMOUS, c.id, filename="a.pdf", data=PDF, query_password=password, var_dir=tmp_path
    )
    handler = await staff(inst)

    got, data = await svc.open_evidence(handler, row.id, var_dir=tmp_path)
    listed = await svc.list_evidence(handler, c.id)

    assert (got.id, data) == (row.id, PDF)
    assert [r.id for r in listed] == [row.id]
    [event] = await AuditEvent.filter(action="evidence.open")
    assert (event.actor_user_id, event.target_id) == (handler.user_id, str(row.id))


async def test_evidence_hidden_from_target_expert_who_is_also_staff_r16(tmp_path: Path):
    inst, expert, c, password = await against_expert(anonymous=False, name="王五")
    row = await svc.store_evidence(
        ANONYMOUS, c.id, filename="a.pdf", data=PDF, query_password=password, var_dir=tmp_path
    )
    x = await user_actor(
        (Role.EXPERT, {"expert_id": expert.id}), (Role.INSTITUTION, {"institution_id": inst.id})
    )
    other_staff = await staff(await factories.institution())
    audit_before = await AuditEvent.all().count()

    for actor, expected in [
        (x, NotFound),
        (other_staff, NotFound),
        (ANONYMOUS, Unauthenticated),
        (Actor(token_id=1, token_scopes=frozenset({"complaint:submit"})), NotFound),
    ]:
        with pytest.raises(expected):
            await svc.open_evidence(actor, row.id, var_dir=tmp_path)
    with pytest.raises(NotFound):
        await svc.list_evidence(x, c.id)
    with pytest.raises(NotFound):
        await svc.store_evidence(x, c.id, filename="b.pdf", data=PNG, var_dir=tmp_path)

    assert await AuditEvent.all().count() == audit_before
    assert await EvidenceFile.all().count() == 1


async def test_tampered_file_on_disk_is_not_served(tmp_path: Path):
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    row = await svc.store_evidence(handler, c.id, filename="a.pdf", data=PDF, var_dir=tmp_path)
    svc.evidence_path(row.sha256, tmp_path).write_bytes(PDF + b"changed")
    audit_before = await AuditEvent.all().count()

    with pytest.raises(RuntimeError):
        await svc.open_evidence(handler, row.id, var_dir=tmp_path)

    assert await AuditEvent.all().count() == audit_before


def test_storage_path_comes_from_the_hash_only(tmp_path: Path):
    sha = hashlib.sha256(b"x").hexdigest()
    assert svc.evidence_path(sha, tmp_path) == tmp_path / "evidence" / sha[:2] / sha
    with pytest.raises(ValueError):
        svc.evidence_path("../../etc/passwd", tmp_path)


# --- a case and its files: all or nothing (issue 8 §3) --------------------------------


async def _filing(tmp_path: Path, files: list[tuple[str, bytes]], **over: Any) -> Any:
    expert = await factories.expert()
    fields: dict[str, Any] = {
        "kind": "complaint",
        "target_type": TargetType.EXPERT,
        "target_id": expert.id,
        "facts": "评审会上该专家与申报人系同一单位同事却未申请回避。",
        "clues": "可调取当日录音录像核实。",
        "anonymous": True,
        **over,
    }
    return await svc.submit_with_evidence(ANONYMOUS, files, var_dir=tmp_path, **fields)


async def _nothing_filed(root: Path, audit_before: int) -> None:
    assert await Complaint.all().count() == 0
    await nothing_stored(root, audit_before)


def _fail_on_call(number: int, original: Any, exc: BaseException) -> Any:
    """`original`, except that its `number`-th call raises `exc`."""
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == number:
            raise exc
        return original(*args, **kwargs)

    return wrapper


async def test_case_is_filed_with_its_files_in_one_go(tmp_path: Path):
    complaint, password, rows = await _filing(tmp_path, [("现场.pdf", PDF), ("票据.png", PNG)])

    assert [(r.complaint_id, r.filename) for r in rows] == [  # type: ignore[attr-defined]
        (complaint.id, "现场.pdf"),
        (complaint.id, "票据.png"),
    ]
    assert stored_files(tmp_path) == sorted(
        svc.evidence_path(hashlib.sha256(d).hexdigest(), tmp_path) for d in (PDF, PNG)
    )
    events = await AuditEvent.all().order_by("id").values_list("action", "actor_user_id")
    assert events == [
        ("complaint.submit", None),
        ("evidence.store", None),
        ("evidence.store", None),
    ]
    assert await complaints.check_query_password(complaint, password)


async def test_failed_file_write_leaves_no_case_no_rows_no_files(tmp_path: Path, monkeypatch):
    """The second file cannot be written (disk full): the first one's temporary file
    is removed and the case is never filed."""
    audit_before = await AuditEvent.all().count()
    failing = _fail_on_call(2, svc._write_temporary, OSError(28, "No space left on device"))
    monkeypatch.setattr(svc, "_write_temporary", failing)

    with pytest.raises(OSError, match="No space left"):
        await _filing(tmp_path, [("a.pdf", PDF), ("b.png", PNG)])

    await _nothing_filed(tmp_path, audit_before)


async def test_failed_evidence_row_rolls_the_case_back_and_removes_the_files(
    tmp_path: Path, monkeypatch
):
    audit_before = await AuditEvent.all().count()
    failing = _fail_on_call(2, EvidenceFile.create, RuntimeError("row insert failed"))
    monkeypatch.setattr(EvidenceFile, "create", failing)

    with pytest.raises(RuntimeError, match="row insert failed"):
        await _filing(tmp_path, [("a.pdf", PDF), ("b.png", PNG)])

    await _nothing_filed(tmp_path, audit_before)


async def test_failed_move_into_place_rolls_back_and_removes_the_placed_file(
    tmp_path: Path, monkeypatch
):
    """The first file is already in place when the second rename fails: the rows roll
    back and the placed file, which no row names, is removed."""
    audit_before = await AuditEvent.all().count()
    failing = _fail_on_call(2, svc._place, OSError(5, "Input/output error"))
    monkeypatch.setattr(svc, "_place", failing)

    with pytest.raises(OSError, match="Input/output error"):
        await _filing(tmp_path, [("a.pdf", PDF), ("b.png", PNG)])

    await _nothing_filed(tmp_path, audit_before)


async def test_failed_filing_keeps_equal_content_another_case_stored(tmp_path: Path, monkeypatch):
    inst, _, other, _ = await against_expert()
    await svc.store_evidence(
        await staff(inst), other.id, filename="a.pdf", data=PDF, var_dir=tmp_path
    )
    before = (await Complaint.all().count(), await AuditEvent.all().count())
    failing = _fail_on_call(2, EvidenceFile.create, RuntimeError("row insert failed"))
    monkeypatch.setattr(EvidenceFile, "create", failing)

    with pytest.raises(RuntimeError):
        await _filing(tmp_path, [("a.pdf", PDF), ("b.png", PNG)])

    assert (await Complaint.all().count(), await AuditEvent.all().count()) == before
    assert await EvidenceFile.all().values_list("complaint_id", flat=True) == [other.id]
    assert stored_files(tmp_path) == [svc.evidence_path(hashlib.sha256(PDF).hexdigest(), tmp_path)]


async def test_refused_file_in_a_filing_leaves_nothing(tmp_path: Path):
    audit_before = await AuditEvent.all().count()

    with pytest.raises(DomainError) as err:
        await _filing(tmp_path, [("a.pdf", PDF), ("扫描件.pdf", ELF)])

    assert err.value.code == ErrorCode.FILE_TYPE_NOT_ALLOWED
    await _nothing_filed(tmp_path, audit_before)


async def test_bad_case_fields_after_the_files_leave_no_files(tmp_path: Path):
    """The files are staged before the case's fields are checked: a refused case
    removes them again."""
    audit_before = await AuditEvent.all().count()

    with pytest.raises(DomainError) as err:
        await _filing(tmp_path, [("a.pdf", PDF)], facts="   ")

    assert (err.value.code, err.value.field) == (ErrorCode.REQUIRED, "facts")
    await _nothing_filed(tmp_path, audit_before)


async def test_failed_later_upload_leaves_no_row_no_file_no_event(tmp_path: Path, monkeypatch):
    """store_evidence to an existing case: a failing row leaves the case as it was."""
    _, _, c, password = await against_expert()
    audit_before = await AuditEvent.all().count()
    monkeypatch.setattr(
        EvidenceFile, "create", _fail_on_call(1, EvidenceFile.create, RuntimeError("boom"))
    )

    with pytest.raises(RuntimeError):
        await svc.store_evidence(
            ANONYMOUS, c.id, filename="a.pdf", data=PDF, query_password=password, var_dir=tmp_path
        )

    await nothing_stored(tmp_path, audit_before)


async def test_filing_form_failure_leaves_no_case_no_rows_no_files_over_http(
    tmp_path: Path, monkeypatch
):
    """The public filing form (views/complaint.py) with two files, the second row
    failing: the 500 page, and no case, row, file or audit event is left behind."""
    expert = await factories.expert()
    settings = dataclasses.replace(conftest.test_settings(), var_dir=tmp_path)
    transport = httpx.ASGITransport(app=app_module.create_app(settings))
    audit_before = await AuditEvent.all().count()
    failing = _fail_on_call(2, EvidenceFile.create, RuntimeError("row insert failed"))
    monkeypatch.setattr(EvidenceFile, "create", failing)
    form = {
        "kind": "complaint",
        "targetType": "expert",
        "targetId": str(expert.id),
        "facts": "评审会上该专家与申报人系同一单位同事却未申请回避。",
        "anonymous": "1",
    }

    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        response = await c.post(
            "/complaints/new",
            data=form,
            files=[
                ("file", ("现场.pdf", PDF, "application/pdf")),
                ("file", ("票据.png", PNG, "image/png")),
            ],
        )

    assert response.status_code == 500
    await _nothing_filed(tmp_path, audit_before)
