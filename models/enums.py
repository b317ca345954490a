"""Every enumerated vocabulary of the domain, in one place.

Values are stable strings: they are stored in the database, exported in the GraphQL
schema and used in audit events, so renaming a value is a data migration.
Lifecycle enums have their transition tables in resolvers/lifecycle.py.
"""

from enum import StrEnum


class Level(StrEnum):
    """职称层级, ordered from lowest to highest (see LEVEL_RANK)."""

    JUNIOR_CLERK = "junior_clerk"  # 初级(员级)
    JUNIOR_ASSISTANT = "junior_assistant"  # 初级(助理级)
    INTERMEDIATE = "intermediate"  # 中级
    ASSOCIATE_SENIOR = "associate_senior"  # 副高级
    SENIOR = "senior"  # 正高级


LEVEL_RANK = {level: rank for rank, level in enumerate(Level)}

LEVEL_LABELS = {
    Level.JUNIOR_CLERK: "初级(员级)",
    Level.JUNIOR_ASSISTANT: "初级(助理级)",
    Level.INTERMEDIATE: "中级",
    Level.ASSOCIATE_SENIOR: "副高级",
    Level.SENIOR: "正高级",
}


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class RetirementCategory(StrEnum):
    """Original (pre-2025) statutory retirement age category, R5."""

    MALE_60 = "male_60"
    FEMALE_55 = "female_55"
    FEMALE_50 = "female_50"


class UnitType(StrEnum):
    """专家所在单位类型 (Art. 15): decides who may recommend (R3)."""

    MUNICIPAL = "municipal"  # 市属
    DISTRICT = "district"  # 区属
    CENTRAL = "central"  # 中央在京
    NON_PUBLIC = "non_public"  # 非公


class AuthorityKind(StrEnum):
    """Recommending body (Art. 15(一))."""

    INDUSTRY = "industry"  # 行业主管部门
    DISTRICT_BUREAU = "district_bureau"  # 区人力资源社会保障局


class InstitutionKind(StrEnum):
    """评审机构类别 (Art. 2)."""

    INDUSTRY_AUTHORITY = "industry_authority"
    DISTRICT_BUREAU = "district_bureau"
    TALENT_SERVICE = "talent_service"
    ASSOCIATION = "association"
    EMPLOYER = "employer"


class FilingStatus(StrEnum):
    """Lifecycle of an institution or a committee (Art. 12, 31)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    FILED = "filed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class ApplicationStatus(StrEnum):
    """Lifecycle of one filing application (first filing or re-filing)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    FILED = "filed"
    REJECTED = "rejected"


class Seat(StrEnum):
    """Committee seat (Art. 18)."""

    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    MEMBER = "member"


class PlanStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class AssessmentMethod(StrEnum):
    """Institution assessment methods (Art. 30)."""

    ACCEPTANCE = "acceptance"  # 验收
    INQUIRY = "inquiry"  # 质询
    INTERVIEW = "interview"  # 约谈
    OBSERVATION = "observation"  # 现场观摩
    DOCUMENT_REVIEW = "document_review"  # 查阅资料


class AssessmentResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class EntryRoute(StrEnum):
    """Art. 15: how an expert enters the pool."""

    RECOMMENDATION = "recommendation"
    INVITATION = "invitation"


class InvitationCategory(StrEnum):
    ACADEMICIAN = "academician"  # 两院院士
    NATIONAL_AWARD = "national_award"  # 国家科学技术奖
    BEIJING_AWARD = "beijing_award"  # 北京市科学技术奖
    URGENT_SPECIALTY = "urgent_specialty"  # 急需紧缺


class ExpertStatus(StrEnum):
    """Expert lifecycle (Art. 17, 22)."""

    APPLIED = "applied"
    REVIEWED = "reviewed"
    IN_POOL = "in_pool"
    SUSPENDED = "suspended"
    REJECTED = "rejected"
    EXITED = "exited"


class ExpertApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    # Art. 17: sent back to the submitter for additions or adjustments.
    NEEDS_CHANGES = "needs_changes"
    APPROVED = "approved"
    REJECTED = "rejected"


class ExitReason(StrEnum):
    """Art. 22, 32."""

    NOT_PROFESSIONAL = "not_professional"
    HEALTH = "health"
    AGE_LIMIT = "age_limit"
    FAILED_ASSESSMENT = "failed_assessment"
    OTHER = "other"


class TermStatus(StrEnum):
    ACTIVE = "active"
    RENEWED = "renewed"
    ENDED = "ended"


class UpdateStatus(StrEnum):
    """A self-service profile change waiting for verification (R8)."""

    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class SessionStatus(StrEnum):
    """Evaluation session (sitting) lifecycle."""

    PLANNED = "planned"
    COMMITTED = "committed"
    DRAWN = "drawn"
    SITTING = "sitting"
    FINALISED = "finalised"
    CANCELLED = "cancelled"


class DrawStatus(StrEnum):
    COMMITTED = "committed"
    EXECUTED = "executed"
    ABANDONED = "abandoned"


class PanelStatus(StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ConflictKind(StrEnum):
    """Art. 26 recusal grounds."""

    RELATIVE = "relative"
    INTEREST = "interest"
    SAME_EMPLOYER = "same_employer"
    DISPUTE = "dispute"
    OTHER = "other"


class DeclaredBy(StrEnum):
    EXPERT = "expert"
    APPLICANT = "applicant"
    STAFF = "staff"
    SYSTEM = "system"


class VoteChoice(StrEnum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"


class ApplicantResult(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


class RecordingKind(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"


class CertificateKind(StrEnum):
    CERTIFICATE = "certificate"  # 电子职称证书
    RESULT_NOTICE = "result_notice"  # 电子职称评价结果通知书


class ComplaintKind(StrEnum):
    REVIEW_REQUEST = "review_request"  # 复查申请
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报


class TargetType(StrEnum):
    INSTITUTION = "institution"
    COMMITTEE = "committee"
    EXPERT = "expert"
    SESSION = "session"
    APPLICANT = "applicant"


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    IN_HANDLING = "in_handling"
    ANSWERED = "answered"
    CLOSED = "closed"


class NonAcceptanceReason(StrEnum):
    """Art. 28 grounds for not accepting (R16)."""

    NO_EVIDENCE = "no_evidence"
    NO_CLUE = "no_clue"
    NO_TARGET = "no_target"
    NO_FACTS = "no_facts"
    NOT_APPLICANT = "not_applicant"
    OUT_OF_SCOPE = "out_of_scope"


class ComplaintChannel(StrEnum):
    WEB = "web"
    APPLICANT = "applicant"
    PARTNER = "partner"


class Role(StrEnum):
    """Roles of SPEC.md; the scope column each needs is in resolvers/policy.py."""

    BUREAU = "bureau"
    RECOMMENDER = "recommender"
    INSTITUTION = "institution"
    EXPERT = "expert"
    EMPLOYER = "employer"
    SUPERVISOR = "supervisor"
    APPLICANT = "applicant"
    PARTNER = "partner"


class JobKind(StrEnum):
    """Long operations run in the background with progress (issue 9 item 5)."""

    AUDIT_VERIFY = "audit_verify"
    EXPERT_IMPORT = "expert_import"
    POOL_STATISTICS = "pool_statistics"


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
