"""The public directory and the expert pool through GraphQL: scopes (R1, R2, SPEC
roles), personal data (SPEC "Personal data"), Relay node resolution."""

import datetime as dt

from models import AuditEvent
from models.enums import FilingStatus, PlanStatus, Role, Seat
from resolvers.actor import Actor, Grant
from resolvers.common import beijing_today
from resolvers.personal import decrypt
from schema.relay import to_global_id
from tests import factories
from tests.schema.conftest import (
    BUREAU,
    codes,
    committee,
    data,
    employer,
    gql,
    plan,
    seat,
    staff,
)

TODAY = beijing_today()


async def _directory_that_could_leak():
    """A filed institution plus every kind the public must not see."""
    filed = await factories.institution(name="甲-已备案")
    await factories.institution(name="乙-草稿", status=FilingStatus.DRAFT)
    await factories.institution(name="丙-已暂停", status=FilingStatus.SUSPENDED)
    await factories.institution(name="丁-已撤销", status=FilingStatus.REVOKED)
    expired = await factories.institution(
        name="戊-已过期",
        filed_at=TODAY.replace(year=TODAY.year - 4),
        valid_until=TODAY - dt.timedelta(days=1),
    )
    return filed, expired


def _names(conn: dict) -> list[str]:
    return [e["node"]["name"] for e in conn["edges"]]


async def test_anonymous_sees_only_filed_unexpired_institutions_r1():
    _, expired = await _directory_that_could_leak()
    result = data(await gql("{ institutions { totalCount edges { node { name } } } }"))
    assert _names(result["institutions"]) == ["甲-已备案"]
    assert result["institutions"]["totalCount"] == 1
    hidden = await gql(
        f'{{ institution(id: "{to_global_id("Institution", expired.pk)}") {{ name }} }}'
    )
    assert data(hidden) == {"institution": None}


async def test_bureau_sees_every_institution():
    await _directory_that_could_leak()
    result = data(await gql("{ institutions { totalCount } }", actor=BUREAU))
    assert result["institutions"]["totalCount"] == 5


async def test_staff_sees_own_institution_and_the_public_directory():
    await _directory_that_could_leak()
    own_draft = await factories.institution(name="己-本机构草稿", status=FilingStatus.DRAFT)
    result = data(
        await gql("{ institutions { edges { node { name } } } }", actor=staff(own_draft.pk))
    )
    assert sorted(_names(result["institutions"])) == sorted(["甲-已备案", "己-本机构草稿"])


async def test_anonymous_sees_only_filed_committees_of_filed_institutions_r2():
    filed, expired = await _directory_that_could_leak()
    await committee(filed, name="公开评委会")
    await committee(filed, name="草稿评委会", status=FilingStatus.DRAFT)
    await committee(expired, name="过期机构的评委会")
    await committee(
        filed,
        name="过期评委会",
        valid_until=TODAY - dt.timedelta(days=1),
    )
    result = data(await gql("{ committees { edges { node { name institution { name } } } } }"))
    assert result["committees"]["edges"] == [
        {"node": {"name": "公开评委会", "institution": {"name": "甲-已备案"}}}
    ]


async def test_committee_filter_by_institution_id():
    a = await factories.institution()
    b = await factories.institution()
    await committee(a, name="甲评委会")
    await committee(b, name="乙评委会")
    query = "query($i: ID) { committees(filter: {institutionId: $i}) { edges { node { name } } } }"
    result = data(await gql(query, {"i": to_global_id("Institution", b.pk)}))
    assert _names(result["committees"]) == ["乙评委会"]
    bad = await gql(query, {"i": to_global_id("Expert", b.pk)})
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert bad.errors[0].extensions["field"] == "institutionId"


async def test_anonymous_sees_only_published_annual_plans():
    inst = await factories.institution()
    com = await committee(inst)
    await plan(com, 2025, status=PlanStatus.PUBLISHED)
    await plan(com, 2026, status=PlanStatus.DRAFT)
    query = "{ annualPlans { edges { node { year status committee { name } } } } }"
    public = data(await gql(query))["annualPlans"]["edges"]
    assert [e["node"]["year"] for e in public] == [2025]
    bureau = data(await gql(query, actor=BUREAU))["annualPlans"]["edges"]
    assert [e["node"]["year"] for e in bureau] == [2026, 2025]


async def test_expert_fields_and_relations_for_bureau():
    inst = await factories.institution(name="评审机构甲")
    com = await committee(inst, name="电子信息评委会")
    expert = await factories.expert(institution=inst, name="张三")
    await seat(com, expert, Seat.CHAIR)
    query = """query($id: ID!) { expert(id: $id) {
      id number name gender birthDate idNumber phone title titleLevel titleObtainedOn
      series specialty status unit { unitType } institution { name }
      seats { seat committee { name } } } }"""
    result = data(await gql(query, {"id": to_global_id("Expert", expert.pk)}, actor=BUREAU))
    got = result["expert"]
    assert got["id"] == to_global_id("Expert", expert.pk)
    assert got["idNumber"] == expert.id_number_masked
    assert got["idNumber"][6:14] == "********"
    assert got["phone"] == expert.phone_masked
    assert (got["name"], got["gender"], got["titleLevel"], got["status"]) == (
        "张三",
        "MALE",
        "SENIOR",
        "IN_POOL",
    )
    assert got["unit"] == {"unitType": "MUNICIPAL"}
    assert got["institution"] == {"name": "评审机构甲"}
    assert got["seats"] == [{"seat": "CHAIR", "committee": {"name": "电子信息评委会"}}]


async def test_experts_are_refused_to_anonymous_callers():
    expert = await factories.expert()
    listed = await gql("{ experts { edges { node { name } } } }")
    single = await gql(f'{{ expert(id: "{to_global_id("Expert", expert.pk)}") {{ name }} }}')
    assert (codes(listed), codes(single)) == (["UNAUTHENTICATED"], ["UNAUTHENTICATED"])


async def test_staff_sees_only_own_institutions_experts():
    mine = await factories.institution()
    other = await factories.institution()
    own = await factories.expert(institution=mine, name="本机构专家")
    foreign = await factories.expert(institution=other, name="外机构专家")
    result = data(await gql("{ experts { edges { node { name } } } }", actor=staff(mine.pk)))
    assert _names(result["experts"]) == ["本机构专家"]
    query = "query($id: ID!) { expert(id: $id) { name } }"
    got = await gql(query, {"id": to_global_id("Expert", foreign.pk)}, actor=staff(mine.pk))
    assert data(got) == {"expert": None}
    assert own.pk != foreign.pk


async def test_id_number_full_reveals_and_audits_for_allowed_actor():
    expert = await factories.expert()
    query = "query($id: ID!) { expert(id: $id) { idNumber idNumberFull phoneFull } }"
    result = data(await gql(query, {"id": to_global_id("Expert", expert.pk)}, actor=BUREAU))
    assert result["expert"] == {
        "idNumber": expert.id_number_masked,
        "idNumberFull": decrypt(expert.id_number_enc),
        "phoneFull": decrypt(expert.phone_enc),
    }
    events = await AuditEvent.all().order_by("seq").values_list("action", "target_id", "after")
    assert sorted(events, key=lambda e: e[2]["field"]) == [
        ("expert.pii_read", str(expert.pk), {"field": "id_number"}),
        ("expert.pii_read", str(expert.pk), {"field": "phone"}),
    ]


async def test_id_number_full_forbidden_without_pii_permission_and_nothing_audited():
    expert = await factories.expert()
    query = (
        "query($id: ID!) { expert(id: $id) { name idNumber } e2: expert(id: $id) { idNumberFull } }"
    )
    result = await gql(
        query, {"id": to_global_id("Expert", expert.pk)}, actor=employer(expert.unit_id)
    )
    assert result.data == {
        "expert": {"name": expert.name, "idNumber": expert.id_number_masked},
        "e2": None,
    }
    assert codes(result) == ["FORBIDDEN"]
    assert await AuditEvent.all().count() == 0


async def test_id_number_full_refused_in_lists_even_for_bureau():
    await factories.expert()
    result = await gql("{ experts { edges { node { idNumberFull } } } }", actor=BUREAU)
    assert codes(result) == ["FORBIDDEN"]
    assert await AuditEvent.all().count() == 0


async def test_node_resolves_visible_objects_and_nulls_the_rest():
    filed, expired = await _directory_that_could_leak()
    expert = await factories.expert()
    ids = [
        to_global_id("Institution", filed.pk),
        to_global_id("Institution", expired.pk),  # out of the public's scope
        to_global_id("Expert", expert.pk),  # the pool is not public
        to_global_id("Institution", 999_999),  # absent
        "not-an-id",
        to_global_id("AuditEvent", 1),  # not a Node type
    ]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Institution { name } } }"
    anonymous = data(await gql(query, {"ids": ids}))["nodes"]
    assert anonymous == [{"id": ids[0], "name": "甲-已备案"}, None, None, None, None, None]
    bureau = data(await gql(query, {"ids": ids}, actor=BUREAU))["nodes"]
    assert [n["id"] if n else None for n in bureau] == [ids[0], ids[1], ids[2], None, None, None]
    single = data(await gql("query($id: ID!) { node(id: $id) { id } }", {"id": ids[1]}))
    assert single == {"node": None}


async def test_nodes_refuses_more_than_100_ids():
    result = await gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x"] * 101})
    assert codes(result) == ["BAD_USER_INPUT"]


async def test_me_is_null_for_anonymous_and_lists_roles():
    assert data(await gql("{ me { username } }")) == {"me": None}
    actor = Actor(
        user_id=5,
        username="li",
        grants=(Grant(Role.EXPERT, expert_id=1), Grant(Role.INSTITUTION, institution_id=2)),
    )
    assert data(await gql("{ me { username roles } }", actor=actor)) == {
        "me": {"username": "li", "roles": ["EXPERT", "INSTITUTION"]}
    }
