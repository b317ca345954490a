"""The error contract of ARCHITECTURE.md: every transport translates these three."""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable codes that clients branch on (GraphQL `UserErrorCode`, HTML forms)."""

    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_CREDIT_CODE = "INVALID_CREDIT_CODE"
    DUPLICATE = "DUPLICATE"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    INSTITUTION_NOT_FILED = "INSTITUTION_NOT_FILED"
    INSTITUTION_EXPIRED = "INSTITUTION_EXPIRED"
    INSTITUTION_SUSPENDED = "INSTITUTION_SUSPENDED"
    INSTITUTION_REVOKED = "INSTITUTION_REVOKED"
    COMMITTEE_NOT_FILED = "COMMITTEE_NOT_FILED"
    COMMITTEE_EXPIRED = "COMMITTEE_EXPIRED"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    THROTTLED = "THROTTLED"
    IDEMPOTENCY_MISMATCH = "IDEMPOTENCY_MISMATCH"
    DRAW_NOT_ENOUGH_ELIGIBLE = "DRAW_NOT_ENOUGH_ELIGIBLE"
    DRAW_NO_PRESIDING_SEAT = "DRAW_NO_PRESIDING_SEAT"
    DRAW_NOT_ENOUGH_EXTERNAL = "DRAW_NOT_ENOUGH_EXTERNAL"
    DRAW_NO_REPLACEMENT = "DRAW_NO_REPLACEMENT"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    WRONG_RECOMMENDER = "WRONG_RECOMMENDER"
    STAFF_CONFLICT = "STAFF_CONFLICT"
    SESSION_FINALISED = "SESSION_FINALISED"
    NO_QUORUM = "NO_QUORUM"
    NO_PRESIDING = "NO_PRESIDING"
    NO_RECORDING = "NO_RECORDING"
    NO_SUPERVISOR = "NO_SUPERVISOR"
    VOTES_MISSING = "VOTES_MISSING"
    EXPERT_NOT_PRESENT = "EXPERT_NOT_PRESENT"
    DRAW_ALREADY_EXECUTED = "DRAW_ALREADY_EXECUTED"
    DRAW_NOT_EXECUTED = "DRAW_NOT_EXECUTED"
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    NOT_APPLICANT = "NOT_APPLICANT"
    RECOUNT_MISMATCH = "RECOUNT_MISMATCH"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    FILE_TYPE_NOT_ALLOWED = "FILE_TYPE_NOT_ALLOWED"
    TOO_MANY_FILES = "TOO_MANY_FILES"
    JOB_RUNNING = "JOB_RUNNING"
    JOB_INTERRUPTED = "JOB_INTERRUPTED"
    JOB_FAILED = "JOB_FAILED"


class DomainError(Exception):
    """A broken rule or bad input: shown to the user next to `field`, nothing changed."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code}, {self.message!r}, field={self.field!r})"


class NotFound(Exception):
    """The object does not exist, or lies outside the actor's scope (looks absent)."""

    code = "NOT_FOUND"

    def __init__(self, message: str = "对象不存在") -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(Exception):
    """The actor may see the object but may not do this to it."""

    code = "FORBIDDEN"

    def __init__(self, message: str = "无权执行此操作") -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(Exception):
    """The operation needs a logged-in actor."""

    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "请先登录") -> None:
        super().__init__(message)
        self.message = message
