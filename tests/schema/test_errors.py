"""Error contract (ARCHITECTURE "Error contract", issue 4 §6, §7): domain errors
with codes, bugs masked with a logged correlation id, GraphQL-over-HTTP statuses."""

import logging

import httpx
import pytest

from models import Expert
from resolvers.errors import DomainError, ErrorCode
from schema.errors import UserError, user_errors
from tests import factories
from tests.schema.conftest import BUREAU, codes, employer, gql

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def _broken_expert() -> Expert:
    """An expert whose stored ciphertext no key can read (a botched key rotation)."""
    expert = await factories.expert()
    await Expert.filter(id=expert.id).update(id_number_enc="v9:AAAA")
    return expert


def _expert_query(pk: int) -> str:
    from schema.relay import to_global_id

    return f'{{ expert(id: "{to_global_id("Expert", pk)}") {{ name idNumberFull }} }}'


async def test_unexpected_error_is_masked_with_a_logged_correlation_id(caplog):
    expert = await _broken_expert()
    with caplog.at_level(logging.ERROR, logger="pingshen.graphql"):
        result = await gql(_expert_query(expert.pk), actor=BUREAU)
    (error,) = result.errors
    formatted = error.formatted
    assert formatted["message"] == "Unexpected error"
    assert formatted["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    cid = formatted["extensions"]["correlationId"]
    assert result.data == {
        "expert": {"name": expert.name, "idNumberFull": None}
    } or result.data == {"expert": None}
    (record,) = [r for r in caplog.records if cid in r.getMessage()]
    # Type and frames, not the message (which quotes the stored value): logsafe.py.
    logged = record.getMessage()
    assert (record.exc_info, record.correlation_id, record.exception_type) == (  # type: ignore[attr-defined]
        None,
        cid,
        "ValueError",
    )
    assert "resolvers/personal.py" in logged and ", in decrypt\n" in logged
    assert "ValueError (message withheld)" in logged
    assert "v9" not in logged


async def test_masked_error_over_http_carries_no_traceback_sql_or_file_path(http_as):
    expert = await _broken_expert()
    async with http_as(BUREAU) as c:
        response = await c.post("/graphql", json={"query": _expert_query(expert.pk)})
    text = response.text
    assert response.status_code == 200
    for leak in ("Traceback", "v9", ".py", "/work", "SELECT", "FROM ", "unknown personal"):
        assert leak not in text
    (error,) = response.json()["errors"]
    assert set(error) == {"message", "locations", "path", "extensions"}
    assert set(error["extensions"]) == {"code", "correlationId"}


async def test_expected_errors_are_logged_without_traceback(caplog):
    with caplog.at_level(logging.DEBUG, logger="pingshen.graphql"):
        result = await gql("{ experts { totalCount } }")
    assert codes(result) == ["UNAUTHENTICATED"]
    assert [r.exc_info for r in caplog.records if r.name == "pingshen.graphql"] == [None]


async def test_unauthenticated_code_for_anonymous_expert_list():
    await factories.expert()
    result = await gql("{ experts { totalCount } }")
    assert (result.data, codes(result)) == ({"experts": None}, ["UNAUTHENTICATED"])
    assert result.errors[0].message == "请先登录"


async def test_forbidden_code_when_pii_not_allowed():
    expert = await factories.expert()
    result = await gql(_expert_query(expert.pk), actor=employer(expert.unit_id))
    assert codes(result) == ["FORBIDDEN"]


def test_user_errors_mirror_domain_error():
    exc = DomainError(ErrorCode.IDEMPOTENCY_MISMATCH, "该键已用于另一个请求", "Idempotency-Key")
    assert user_errors(exc) == [
        UserError(field="Idempotency-Key", code=ErrorCode.IDEMPOTENCY_MISMATCH, message=exc.message)
    ]


# --- GraphQL over HTTP ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ institutions { "},  # parse error
        {"query": "{ nope }"},  # validation error
        {
            "query": "query($n: Int) { institutions(first: $n) { totalCount } }",
            "variables": {"n": "many"},
        },  # variable coercion error
    ],
)
async def test_request_errors_with_graphql_response_json_are_400_without_data(
    client: httpx.AsyncClient, body: dict
):
    response = await client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    payload = response.json()
    assert "data" not in payload and len(payload["errors"]) >= 1


@pytest.mark.parametrize(
    "body",
    [{"query": "{ institutions { "}, {"query": "{ nope }"}],
)
async def test_request_errors_with_plain_json_are_200(client: httpx.AsyncClient, body: dict):
    response = await client.post("/graphql", json=body, headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] is None


async def test_field_errors_with_graphql_response_json_keep_200_and_data(
    client: httpx.AsyncClient,
):
    response = await client.post(
        "/graphql",
        json={"query": "{ institutions(first: 0) { totalCount } me { username } }"},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["data"] == {"institutions": None, "me": None}


async def test_success_with_graphql_response_json(client: httpx.AsyncClient):
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"accept": f"application/json;q=0.9, {GRAPHQL_RESPONSE}"},
    )
    assert (response.status_code, response.headers["content-type"]) == (200, GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_unparsable_json_body_is_400_json(client: httpx.AsyncClient):
    response = await client.post(
        "/graphql", content="{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "Unable to parse request body as JSON"}]}


async def test_mutation_operation_is_refused_when_schema_has_none(client: httpx.AsyncClient):
    response = await client.post(
        "/graphql", json={"query": "mutation { x }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
