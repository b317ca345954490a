"""Evidence files of complaints and reports (Art. 28: 证据材料).

Uploads come through the HTML form (never /graphql). A file is accepted by what it
is, not by what it is called: its leading bytes must be PDF, JPEG, PNG, MP3, MP4 or a
DOCX (a zip archive holding word/document.xml). At most MAX_FILE_BYTES per file and
MAX_FILES per case.

Files are stored outside the web root under `<var_dir>/evidence/<sha256[:2]>/<sha256>`:
the uploaded name is kept only as a label (sanitised) and never touches the file
system, and equal content is stored once.

Rows and files agree, whatever fails (issue 8 §3). Each checked upload is first
written under a temporary name next to its final place, fsynced and read back against
its SHA-256, before any transaction, so the SQLite connection is not held during disk
I/O. Then one transaction writes the rows (with a new case, the case too) and their
audit events and, last, renames the files into place (a rename in one directory is
atomic and costs no I/O). A failure before the commit rolls the rows back and removes
the temporary files and any file this upload placed that no row names; so a case
never claims evidence that is not on disk, and no file is left that no case names.
"""

import hashlib
import io
import os
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
from tortoise.transactions import in_transaction

from models import Complaint, EvidenceFile
from models.enums import ComplaintStatus
from resolvers import audit
from resolvers.actor import Actor
from resolvers.complaint import check_query_password, handled_complaint, submit_complaint
from resolvers.config import get_config
from resolvers.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from resolvers.policy import Perm, require

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 5
FILENAME_MAX = 200

# Evidence may be added until the case is answered or refused.
_OPEN = (ComplaintStatus.RECEIVED, ComplaintStatus.ACCEPTED, ComplaintStatus.IN_HANDLING)
_WINDOWS_RESERVED = frozenset('<>:"|?*')
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class FileType:
    """An allowed evidence type: its media type and the name endings that fit it."""

    content_type: str
    extensions: tuple[str, ...]


PDF = FileType("application/pdf", (".pdf",))
JPEG = FileType("image/jpeg", (".jpg", ".jpeg"))
PNG = FileType("image/png", (".png",))
MP3 = FileType("audio/mpeg", (".mp3",))
MP4 = FileType("video/mp4", (".mp4",))
DOCX = FileType(_DOCX, (".docx",))


def sniff(data: bytes) -> FileType | None:
    """The allowed type `data` is, judged by its content only; None when it is none."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MP3
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return MP4
    if data.startswith(b"PK\x03\x04"):
        try:
            # Only the central directory is read: nothing is decompressed.
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return DOCX
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
            return None
    return None


def clean_filename(name: str, file_type: FileType) -> str:
    """The label kept for an uploaded file.

    A name with a path in it (/, \\, ..) or control characters is refused: it comes
    from a broken or hostile client. Characters Windows cannot save are replaced, a
    long name is shortened keeping its ending, and a name whose ending does not fit
    the content gets the right one appended, so a download never opens as another type.
    """
    field = "filename"
    name = unicodedata.normalize("NFC", name or "").strip()
    if not name:
        raise DomainError(ErrorCode.REQUIRED, "文件名不能为空", field)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise DomainError(ErrorCode.INVALID, "文件名不能包含路径", field)
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise DomainError(ErrorCode.INVALID, "文件名不能包含控制字符", field)
    name = "".join("_" if ch in _WINDOWS_RESERVED else ch for ch in name).lstrip(".") or "file"
    stem, ext = os.path.splitext(name)
    if ext.lower() not in file_type.extensions:
        stem, ext = name, file_type.extensions[0]
    return stem[: FILENAME_MAX - len(ext)] + ext


def too_large() -> DomainError:
    return DomainError(
        ErrorCode.FILE_TOO_LARGE, f"单个文件不能超过{MAX_FILE_BYTES // (1024 * 1024)}MB", "file"
    )


def too_many() -> DomainError:
    return DomainError(ErrorCode.TOO_MANY_FILES, f"每件事项最多上传{MAX_FILES}个文件", "file")


def check_upload(filename: str, data: bytes) -> tuple[FileType, str]:
    """The type (by content) and the cleaned label of one upload, or the DomainError
    that refuses it (size, emptiness, type, name). Nothing is written."""
    if len(data) > MAX_FILE_BYTES:
        raise too_large()
    if not data:
        raise DomainError(ErrorCode.REQUIRED, "文件内容为空", "file")
    file_type = sniff(data)
    if file_type is None:
        raise DomainError(
            ErrorCode.FILE_TYPE_NOT_ALLOWED,
            "只能上传PDF、JPEG、PNG、MP3、MP4或DOCX文件(按文件内容判断)",
            "file",
        )
    return file_type, clean_filename(filename, file_type)


def evidence_dir(var_dir: str | Path | None = None) -> Path:
    return Path(var_dir if var_dir is not None else get_config().var_dir) / "evidence"


def evidence_path(sha256: str, var_dir: str | Path | None = None) -> Path:
    """Where the content with this SHA-256 lives: derived from the hash alone."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return evidence_dir(var_dir) / sha256[:2] / sha256


_READ_CHUNK = 1024 * 1024


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_temporary(path: Path, data: bytes, sha256: str) -> Path:
    """Write `data` under a temporary name in `path`'s directory (so that the final
    rename stays in one file system), fsynced, private, and read back against its
    SHA-256; the temporary path."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        if _sha256_of(tmp) != sha256:
            raise OSError(f"evidence written to {tmp.name} does not match its SHA-256")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


@dataclass
class _Staged:
    """One checked upload, written under a temporary name until its row is written."""

    label: str
    file_type: FileType
    size: int
    sha256: str
    path: Path
    tmp: Path | None
    placed: bool = False  # this upload created the file at `path`


def _place(staged: _Staged) -> None:
    """Rename the temporary file into place; equal content already there is kept."""
    if staged.tmp is None:
        return
    if staged.path.exists():
        staged.tmp.unlink(missing_ok=True)
    else:
        os.replace(staged.tmp, staged.path)
        staged.placed = True
    staged.tmp = None


class _Batch:
    """Uploads staged for one transaction (a new case's files, or one added later)."""

    def __init__(self, var_dir: str | Path | None) -> None:
        self.var_dir = var_dir
        self.files: list[_Staged] = []

    async def add(self, filename: str, data: bytes) -> _Staged:
        """Check one upload (type, size, name, count, same content twice) and write it
        under a temporary name."""
        if len(self.files) >= MAX_FILES:
            raise too_many()
        file_type, label = check_upload(filename, data)
        sha256 = await anyio.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())
        if any(f.sha256 == sha256 for f in self.files):
            raise DomainError(ErrorCode.DUPLICATE, f"文件“{filename}”重复上传", "file")
        path = evidence_path(sha256, self.var_dir)
        staged = _Staged(label, file_type, len(data), sha256, path, None)
        self.files.append(staged)  # before the write: discard() must see it
        staged.tmp = await anyio.to_thread.run_sync(_write_temporary, path, data, sha256)
        return staged

    async def attach(self, complaint: Complaint, audit_actor: Actor) -> list[EvidenceFile]:
        """Inside the caller's transaction: one EvidenceFile row and one audit
        `evidence.store` per file, then the files renamed into place."""
        rows = []
        for staged in self.files:
            row = await EvidenceFile.create(
                complaint_id=complaint.id,
                filename=staged.label,
                content_type=staged.file_type.content_type,
                size_bytes=staged.size,
                sha256=staged.sha256,
            )
            await audit.record(audit_actor, "evidence.store", row, after=audit.snapshot(row))
            rows.append(row)
        for staged in self.files:
            await anyio.to_thread.run_sync(_place, staged)
        return rows

    async def discard(self) -> None:
        """After a failure (the transaction rolled back): remove the temporary files
        and each file this batch placed that no row names (equal content of another
        case stays)."""
        for staged in self.files:
            if staged.tmp is not None:
                staged.tmp.unlink(missing_ok=True)
                staged.tmp = None
            if staged.placed and not await EvidenceFile.exists(sha256=staged.sha256):
                staged.path.unlink(missing_ok=True)
                staged.placed = False


async def submit_with_evidence(
    actor: Actor,
    files: Iterable[tuple[str, bytes]],
    *,
    var_dir: str | Path | None = None,
    **complaint: Any,
) -> tuple[Complaint, str, list[EvidenceFile]]:
    """File a case (resolvers.complaint.submit_complaint, `complaint` are its keyword
    arguments) together with its evidence files, all or nothing: the case, its files
    and their rows exist afterwards, or none of them (nor an audit event) does.

    `files` is read one at a time (name, content), so that a caller streaming uploads
    from disk holds one in memory. Refused before the case is filed: a sixth file,
    the same content twice, or a file `check_upload` refuses.
    Side effects: those of submit_complaint, the files under the var dir (content not
    stored yet), one EvidenceFile row and audit `evidence.store` per file (named
    "anonymous" for an anonymous case, as the filing).
    """
    batch = _Batch(var_dir)
    rows: list[EvidenceFile] = []

    async def attach(case: Complaint, audit_actor: Actor) -> None:
        rows[:] = await batch.attach(case, audit_actor)

    try:
        for filename, data in files:
            await batch.add(filename, data)
        case, password = await submit_complaint(actor, attach=attach, **complaint)
    except BaseException:
        await batch.discard()
        raise
    return case, password, rows


def _read(path: Path) -> bytes:
    return path.read_bytes()


async def _uploader(
    actor: Actor, complaint_id: int, query_password: str | None
) -> tuple[Complaint, bool]:
    """The case and whether the actor adds to it as its complainant (True) or as a
    handler (False). Anyone else finds no such case."""
    complaint = await Complaint.get_or_none(id=complaint_id)
    if complaint is not None:
        own = (
            (actor.user_id is not None and complaint.submitted_by_id == actor.user_id)  # type: ignore[attr-defined]
            or (actor.token_id is not None and complaint.partner_token_id == actor.token_id)  # type: ignore[attr-defined]
            or await check_query_password(complaint, query_password)
        )
        if own:
            return complaint, True
    if actor.is_anonymous:
        raise NotFound("投诉举报不存在")
    return await handled_complaint(actor, complaint_id), False


async def store_evidence(
    actor: Actor,
    complaint_id: int,
    *,
    filename: str,
    data: bytes,
    query_password: str | None = None,
    var_dir: str | Path | None = None,
) -> EvidenceFile:
    """Attach one evidence file to an open case.

    Who: the complainant (the submitting user or partner token, or anyone holding the
    case's query password — the anonymous web form) or a handler of the case.
    Refused before anything is written: oversize, a type not allowed by content, a
    name with a path or control characters, a sixth file, the same file twice.
    Side effects: the file under the var dir (if its content is new), one
    EvidenceFile row, audit `evidence.store` (named "anonymous" for an anonymous
    complainant, as at intake); all or nothing, as submit_with_evidence.
    """
    complaint, as_complainant = await _uploader(actor, complaint_id, query_password)
    if complaint.status not in _OPEN:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "该事项已答复或办结,不能再补充证据", "status"
        )
    check_upload(filename, data)
    if await EvidenceFile.filter(complaint_id=complaint.id).count() >= MAX_FILES:
        raise too_many()
    audit_actor = (
        Actor(token_id=actor.token_id) if as_complainant and complaint.anonymous else actor
    )
    batch = _Batch(var_dir)
    try:
        staged = await batch.add(filename, data)
        if await EvidenceFile.exists(complaint_id=complaint.id, sha256=staged.sha256):
            raise DomainError(ErrorCode.DUPLICATE, "该文件已上传", "file")
        async with in_transaction():
            # Serialise uploads to one case (PostgreSQL row lock) before recounting.
            await Complaint.filter(id=complaint.id).select_for_update().first()
            if await EvidenceFile.filter(complaint_id=complaint.id).count() >= MAX_FILES:
                raise too_many()
            (row,) = await batch.attach(complaint, audit_actor)
    except BaseException:
        await batch.discard()
        raise
    return row


async def list_evidence(actor: Actor, complaint_id: int) -> list[EvidenceFile]:
    """The evidence of a case, for its handlers."""
    complaint = await handled_complaint(actor, complaint_id)
    return await EvidenceFile.filter(complaint_id=complaint.id).order_by("id")


async def open_evidence(
    actor: Actor, evidence_id: int, *, var_dir: str | Path | None = None
) -> tuple[EvidenceFile, bytes]:
    """The file's record and content, for handlers of its case only (served as an
    attachment by the view). Side effects: audit `evidence.open`."""
    if actor.is_anonymous:
        raise Unauthenticated()
    row = await EvidenceFile.get_or_none(id=evidence_id)
    if row is None:
        raise NotFound("证据材料不存在")
    try:
        complaint = await handled_complaint(actor, row.complaint_id)  # type: ignore[attr-defined]
    except NotFound:
        raise NotFound("证据材料不存在") from None
    require(actor, Perm.COMPLAINT_HANDLE, complaint)
    data = await anyio.to_thread.run_sync(_read, evidence_path(row.sha256, var_dir))
    digest = await anyio.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())
    if digest != row.sha256:
        # A changed file on disk is tampering or corruption, not a user error.
        raise RuntimeError(f"evidence {row.id}: stored content does not match its SHA-256")
    async with in_transaction():
        await audit.record(actor, "evidence.open", row)
    return row, data
