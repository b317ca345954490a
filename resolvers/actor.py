"""Who is acting: the principal every service function receives first."""

from dataclasses import dataclass, field

from models.enums import Role


@dataclass(frozen=True)
class Grant:
    """One role held, with its scope (ids of the scoped object; None = unscoped)."""

    role: Role
    institution_id: int | None = None
    authority_id: int | None = None
    unit_id: int | None = None
    expert_id: int | None = None
    applicant_id: int | None = None


@dataclass(frozen=True)
class Actor:
    """A logged-in user, a partner token, the system (CLI/sweep) or the anonymous public."""

    user_id: int | None = None
    username: str = ""
    grants: tuple[Grant, ...] = ()
    token_id: int | None = None
    token_scopes: frozenset[str] = field(default_factory=frozenset)
    is_system: bool = False
    client_addr: str = ""

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and self.token_id is None and not self.is_system

    @property
    def label(self) -> str:
        """How the audit trail names the actor."""
        if self.is_system:
            return "system"
        if self.user_id is not None:
            return f"user:{self.username}"
        if self.token_id is not None:
            return f"token:{self.token_id}"
        return "anonymous"

    def has(self, role: Role) -> bool:
        return any(g.role == role for g in self.grants)

    def grants_of(self, role: Role) -> list[Grant]:
        return [g for g in self.grants if g.role == role]


ANONYMOUS = Actor()
SYSTEM = Actor(is_system=True, username="system")
