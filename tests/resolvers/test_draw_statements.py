"""N+1 guard for the draw's database side (R10, R11): freezing the pool reads every
eligibility fact (roster, terms, agreement, training, overlapping sessions, conflicts)
in a fixed number of statements, whatever the roster's size; executing the draw
writes one row per drawn member and backup, never one statement per roster expert."""

from resolvers import evaluation as svc
from tests.resolvers.test_evaluation import _session, _world
from tests.schema.conftest import count_sql


async def _statements(roster: int) -> tuple[int, int]:
    w = await _world(roster=roster, vice_chairs=2)
    session = await _session(w, panel=3, backups=1)
    with count_sql() as commit:
        draw = await svc.commit_draw(w.staff, session.id)
    with count_sql() as execute:
        await svc.execute_draw(w.supervisor, session.id, entropy="骰子 2-6")
    assert len(draw.inputs["eligible"]) == roster
    return len(commit.statements), len(execute.statements)


async def test_commit_and_execute_statements_do_not_grow_with_the_roster_r10():
    small = await _statements(5)
    large = await _statements(25)

    assert small == large
