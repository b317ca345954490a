"""N+1 guard (ARCHITECTURE "Tests"): a list of 1 and a list of 50 issue the same
number of SQL statements, at most 1 + one per selected relation (+1 for totalCount)."""

from typing import Any

from models import Institution
from models.enums import PlanStatus
from tests import factories
from tests.schema.conftest import BUREAU, committee, count_sql, gql, plan, seat

EXPERTS = """
query { experts(first: 100) { totalCount edges { node {
  id number name idNumber phone
  unit { name unitType }
  institution { name }
  seats { seat committee { name institution { name } } }
} } } }
"""
# page + totalCount + one per relation: unit, institution, seats, seats.committee.
# seats.committee.institution is the institution loader again: its key is cached.
EXPERT_STATEMENTS = 1 + 1 + 4

COMMITTEES = """
query { committees(first: 100) { edges { node { id name institution { name } } } } }
"""
PLANS = """
query { annualPlans(first: 100) { edges { node {
  id year committee { name institution { name } }
} } } }
"""
INSTITUTIONS = "query { institutions(first: 100) { totalCount edges { node { id name } } } }"


async def _statements(query: str) -> tuple[int, Any]:
    with count_sql() as counter:
        result = await gql(query, actor=BUREAU)
    assert result.errors is None, result.errors
    return len(counter.statements), result.data


async def _expert_world(n: int) -> None:
    inst = await factories.institution()
    com = await committee(inst)
    for _ in range(n):
        # Each expert has its own unit, so the unit loader must batch n distinct keys.
        e = await factories.expert(institution=inst)
        await seat(com, e)


async def test_experts_list_statement_count_is_flat_from_1_to_50():
    await _expert_world(1)
    one, data_one = await _statements(EXPERTS)
    await _expert_world(49)
    fifty, data_fifty = await _statements(EXPERTS)
    assert len(data_one["experts"]["edges"]) == 1
    assert len(data_fifty["experts"]["edges"]) == 50
    assert one == fifty == EXPERT_STATEMENTS


async def _committee_world(n: int) -> None:
    for _ in range(n):
        inst = await factories.institution()
        com = await committee(inst)
        await plan(com, 2026, status=PlanStatus.PUBLISHED)


async def test_committees_and_plans_statement_count_is_flat_from_1_to_50():
    await _committee_world(1)
    c_one, _ = await _statements(COMMITTEES)
    p_one, _ = await _statements(PLANS)
    await _committee_world(49)
    c_fifty, c_data = await _statements(COMMITTEES)
    p_fifty, p_data = await _statements(PLANS)
    assert (len(c_data["committees"]["edges"]), len(p_data["annualPlans"]["edges"])) == (50, 50)
    assert (c_one, p_one) == (c_fifty, p_fifty) == (1 + 1, 1 + 2)


async def test_institutions_list_statement_count_is_flat_from_1_to_50():
    await factories.institution()
    one, _ = await _statements(INSTITUTIONS)
    for _ in range(49):
        await factories.institution()
    fifty, data = await _statements(INSTITUTIONS)
    assert data["institutions"]["totalCount"] == await Institution.all().count() == 50
    assert one == fifty == 2  # the page and the count


async def test_total_count_runs_no_count_query_when_not_selected():
    await factories.institution()
    with_count, _ = await _statements("{ institutions { totalCount edges { node { id } } } }")
    without, _ = await _statements("{ institutions { edges { node { id } } } }")
    assert (with_count, without) == (2, 1)


SESSIONS = """
query { evaluationSessions(first: 100) { edges { node {
  id year place status committee { name }
} } } }
"""
COMPLAINTS = """
query { complaints(first: 100) { totalCount edges { node {
  id kind status trackingCode dueOn facts
} } } }
"""


async def _session_world(n: int) -> None:
    import datetime as dt

    from models import EvaluationSession

    inst = await factories.institution()
    com = await committee(inst)
    at = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    for i in range(n):
        await EvaluationSession.create(
            committee=com,
            institution=inst,
            year=2026,
            starts_at=at,
            ends_at=at,
            place=f"会议室{i}",
            panel_size=5,
        )


async def _complaint_world(n: int) -> None:
    from models import Complaint
    from models.enums import ComplaintChannel, ComplaintKind, TargetType

    inst = await factories.institution()
    for _ in range(n):
        await Complaint.create(
            kind=ComplaintKind.COMPLAINT,
            channel=ComplaintChannel.WEB,
            target_type=TargetType.INSTITUTION,
            target_id=inst.id,
            facts="事实",
            tracking_code=f"T{await Complaint.all().count():011d}",
            query_password_hash="h",
        )


async def test_evaluation_sessions_list_statement_count_is_flat_from_1_to_50():
    await _session_world(1)
    one, data_one = await _statements(SESSIONS)
    await _session_world(49)
    fifty, data_fifty = await _statements(SESSIONS)
    assert len(data_one["evaluationSessions"]["edges"]) == 1
    assert len(data_fifty["evaluationSessions"]["edges"]) == 50
    assert one == fifty


async def test_complaints_list_statement_count_is_flat_from_1_to_50():
    await _complaint_world(1)
    one, data_one = await _statements(COMPLAINTS)
    await _complaint_world(49)
    fifty, data_fifty = await _statements(COMPLAINTS)
    assert data_one["complaints"]["totalCount"] == 1
    assert len(data_fifty["complaints"]["edges"]) == 50
    assert one == fifty
