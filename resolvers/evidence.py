"""Evidence files of complaints and reports (Art. 28: 证据材料).

Uploads come through the HTML form (never /graphql). A file is accepted by what it
is, not by what it is called: its leading bytes must be PDF, JPEG, PNG, MP3, MP4 or a
DOCX (a zip archive holding word/document.xml). At most MAX_FILE_BYTES per file and
MAX_FILES per case.

Files are stored outside the web root under `<var_dir>/evidence/<sha256[:2]>/<sha256>`:
the uploaded name is kept only as a label (sanitised) and never touches the file
system, and equal content is stored once. Writes are atomic (temporary file, fsync,
rename), done before the database transaction so the SQLite connection is not held
during disk I/O; a file whose row could not be written is removed again.
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

import anyio.to_thread
from tortoise.transactions import in_transaction

from models import Complaint, EvidenceFile
from models.enums import ComplaintStatus
from resolvers import audit
from resolvers.actor import Actor
from resolvers.complaint import check_query_password, handled_complaint
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


def check_uploads(files: Iterable[tuple[str, bytes]]) -> None:
    """Check a whole batch before a new case is filed, so that a refused file leaves
    no case behind: at most MAX_FILES, each acceptable, no content twice."""
    seen: set[bytes] = set()
    for count, (filename, data) in enumerate(files, start=1):
        if count > MAX_FILES:
            raise too_many()
        check_upload(filename, data)
        digest = hashlib.sha256(data).digest()
        if digest in seen:
            raise DomainError(ErrorCode.DUPLICATE, f"文件“{filename}”重复上传", "file")
        seen.add(digest)


def evidence_dir(var_dir: str | Path | None = None) -> Path:
    return Path(var_dir if var_dir is not None else get_config().var_dir) / "evidence"


def evidence_path(sha256: str, var_dir: str | Path | None = None) -> Path:
    """Where the content with this SHA-256 lives: derived from the hash alone."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return evidence_dir(var_dir) / sha256[:2] / sha256


def _write(path: Path, data: bytes) -> bool:
    """Store `data` at `path` atomically; False when it was already there."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


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
    complainant, as at intake).
    """
    complaint, as_complainant = await _uploader(actor, complaint_id, query_password)
    if complaint.status not in _OPEN:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "该事项已答复或办结,不能再补充证据", "status"
        )
    file_type, label = check_upload(filename, data)
    if await EvidenceFile.filter(complaint_id=complaint.id).count() >= MAX_FILES:
        raise too_many()
    sha256 = await anyio.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())
    if await EvidenceFile.exists(complaint_id=complaint.id, sha256=sha256):
        raise DomainError(ErrorCode.DUPLICATE, "该文件已上传", "file")

    path = evidence_path(sha256, var_dir)
    created = await anyio.to_thread.run_sync(_write, path, data)
    audit_actor = (
        Actor(token_id=actor.token_id) if as_complainant and complaint.anonymous else actor
    )
    try:
        async with in_transaction():
            # Serialise uploads to one case (PostgreSQL row lock) before recounting.
            await Complaint.filter(id=complaint.id).select_for_update().first()
            if await EvidenceFile.filter(complaint_id=complaint.id).count() >= MAX_FILES:
                raise too_many()
            row = await EvidenceFile.create(
                complaint_id=complaint.id,
                filename=label,
                content_type=file_type.content_type,
                size_bytes=len(data),
                sha256=sha256,
            )
            await audit.record(audit_actor, "evidence.store", row, after=audit.snapshot(row))
    except BaseException:
        if created and not await EvidenceFile.exists(sha256=sha256):
            path.unlink(missing_ok=True)
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
