"""The graphql-cop audit (dolevf/graphql-cop 1.x) as tests against the real app
(issue 11 §6): every check's own probe, asserted to be no finding.

Each test sends the request graphql-cop sends and asserts the opposite of the
condition under which graphql-cop reports the finding. Anonymous callers get the
production settings (introspection only for logged-in users, no debug); the CSRF and
GET checks are also run with a logged-in browser session, whose cookie is what a
cross-site request would carry.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from models import AuditEvent, Complaint
from models.enums import Role
from resolvers import account
from resolvers.actor import SYSTEM
from tests import factories

ORIGIN = "https://testserver"
PASSWORD = "Lantern-orchid-7-Qx!"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
# TARGET is replaced by a real institution's id (`target`): accepted, it would run.
MUTATION = (
    "mutation cop { submitComplaint(input: {kind: COMPLAINT, targetType: INSTITUTION, "
    'targetId: TARGET, facts: "跨站请求伪造", anonymous: true}) { trackingCode errors { code } } }'
)


async def _post(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    return await client.post(
        "/graphql", content=json.dumps(body), headers={**JSON_HEADERS, **headers}
    )


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    return body.get("errors") or [] if isinstance(body, dict) else []


def _has_data(response: httpx.Response, field: str) -> bool:
    """graphql-cop's usual finding condition: the probe's field came back."""
    try:
        body = response.json()
    except ValueError:
        return False
    if isinstance(body, list):
        return True
    return isinstance(body.get("data"), dict) and field in body["data"]


@pytest.fixture
async def browser(asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in bureau user's browser: its session cookie rides on every request."""
    await account.create_user(
        SYSTEM,
        username="cop-bureau",
        display_name="cop-bureau",
        password=PASSWORD,
        role=Role.BUREAU,
    )
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        response = await c.post(
            "/login",
            data={"username": "cop-bureau", "password": PASSWORD},
            headers={"Origin": ORIGIN},
        )
        assert response.status_code == 303, response.text
        yield c


@pytest.fixture
async def target() -> int:
    """The institution MUTATION complains about, so that a accepted request would
    really create a complaint."""
    inst = await factories.institution()
    return int(inst.pk)


async def _nothing_created() -> None:
    assert await Complaint.all().count() == 0
    assert await AuditEvent.filter(action__startswith="complaint").count() == 0


# --- alias overloading ------------------------------------------------------------------


async def test_alias_overloading_is_refused(client):
    """graphql-cop: 101 aliases of __typename; a finding if alias100 answers."""
    aliases = " ".join(f"alias{i}:__typename" for i in range(101))
    response = await _post(client, {"query": f"query cop {{ {aliases} }}"})
    assert not _has_data(response, "alias100")
    assert _errors(response) and response.status_code < 500


async def test_a_few_aliases_still_work(client):
    """The limit refuses overloading, not ordinary use (the refusal above is real)."""
    response = await _post(client, {"query": "query { a: __typename b: __typename }"})
    assert response.json()["data"] == {"a": "Query", "b": "Query"}


# --- array batching -----------------------------------------------------------------------


async def test_array_batching_is_refused(client):
    """graphql-cop: a JSON array of 10 queries; a finding if 10 answers come back."""
    batch = [{"query": "query cop { __typename }"}] * 10
    response = await _post(client, batch)
    assert response.status_code == 400
    assert not isinstance(response.json(), list)


async def test_batched_mutations_create_nothing(client, target):
    mutation = MUTATION.replace("TARGET", str(target))
    response = await _post(client, [{"query": mutation}, {"query": mutation}])
    assert response.status_code == 400
    await _nothing_created()


# --- field suggestions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "query cop { __schema { directive } }",  # graphql-cop's own probe
        "query { institutoins { totalCount } }",
        "query { institutions { totalCont } }",
        "query { institutions(fist: 1) { totalCount } }",
        "mutation { submitComplain(input: {}) { trackingCode } }",
    ],
)
async def test_field_suggestions_never_appear(client, query):
    response = await _post(client, {"query": query})
    errors = _errors(response)
    assert errors, response.text
    assert "Did you mean" not in response.text
    assert "你是否" not in response.text


# --- GET queries and GET mutations --------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["query cop { __typename }", "{ __typename }", MUTATION, "mutation cop { __typename }"]
)
async def test_get_is_refused_for_queries_and_mutations(client, browser, target, query):
    query = query.replace("TARGET", str(target))
    for c in (client, browser):
        response = await c.get("/graphql", params={"query": query})
        assert response.status_code == 405
        assert "__typename" not in response.text and "trackingCode" not in response.text
    await _nothing_created()


# --- introspection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "query cop { __schema { types { name fields { name } } } }",  # graphql-cop's probe
        '{ __type(name: "Query") { name fields { name } } }',
        "query IntrospectionQuery { __schema { queryType { name } } }",
    ],
)
async def test_introspection_is_refused_for_anonymous(client, query):
    response = await _post(client, {"query": query})
    assert not _has_data(response, "__schema") and not _has_data(response, "__type")
    assert _errors(response)


async def test_introspection_works_for_a_logged_in_user(browser):
    """The refusal above is the anonymous rule, not a broken introspection."""
    response = await _post(browser, {"query": "{ __schema { queryType { name } } }"}, Origin=ORIGIN)
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


# --- directive overloading ----------------------------------------------------------------


async def test_directive_overloading_is_refused(client):
    """graphql-cop: `__typename` with 10 unknown directives; a finding if the server
    processes them (answers with exactly one error per directive)."""
    response = await _post(client, {"query": "query cop { __typename" + " @aa" * 10 + " }"})
    assert not _has_data(response, "__typename")
    assert len(_errors(response)) != 10


@pytest.mark.parametrize("directive", ["@skip(if: false)", "@include(if: true)"])
async def test_repeated_known_directives_are_refused(client, directive):
    response = await _post(client, {"query": "query { __typename " + directive * 50 + " }"})
    assert not _has_data(response, "__typename")
    assert _errors(response)


async def test_thousands_of_directives_are_refused_before_validation(client):
    """The token limit stops a directive flood before any validation work."""
    response = await _post(client, {"query": "query { __typename" + " @aa" * 5000 + " }"})
    assert not _has_data(response, "__typename")
    assert len(_errors(response)) == 1


# --- field duplication (graphql-cop "Field Duplication") ----------------------------------


async def test_field_duplication_is_bounded(client):
    """graphql-cop sends `__typename` 500 times. The token and cost limits bound the
    work; 10 000 copies are refused outright."""
    response = await _post(client, {"query": "query cop { " + "__typename " * 10_000 + "}"})
    assert not _has_data(response, "__typename")
    assert _errors(response) and response.status_code < 500


# --- trace mode -------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["query cop { __typename }", "{ complaintStatus(x: 1) }"])
async def test_no_tracing_or_debug_extensions(client, query):
    """graphql-cop: a finding if `extensions.tracing` is present; we also never leak
    an exception or stack trace in an error's extensions."""
    response = await _post(client, {"query": query})
    body = response.json()
    assert "tracing" not in (body.get("extensions") or {})
    assert "tracing" not in response.text
    for error in body.get("errors") or []:
        assert not {"exception", "stacktrace"} & set(error.get("extensions") or {})


async def test_unhandled_error_probe_leaks_nothing(client):
    """graphql-cop "Unhandled Errors": `qwerty cop { abc }`; a finding if an
    exception appears in the error extensions."""
    response = await _post(client, {"query": "qwerty cop { abc }"})
    assert "exception" not in response.text.lower() and "traceback" not in response.text.lower()
    assert _errors(response)


# --- CSRF: POST with a content type a cross-site form can send ----------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "query=" + MUTATION),
        ("text/plain", json.dumps({"query": MUTATION})),
        ("text/plain;charset=UTF-8", json.dumps({"query": MUTATION})),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{MUTATION}\r\n--x--\r\n',
        ),
        ("", json.dumps({"query": MUTATION})),
    ],
)
async def test_csrf_able_content_types_are_refused(client, browser, target, content_type, body):
    """graphql-cop "POST based CSRF": a finding if a form-encoded POST answers. A
    browser form can send these types cross-site without a preflight, so /graphql
    (exempt from the CSRF token because it is JSON-only) must refuse them, also
    with a session cookie and a foreign Origin."""
    body = body.replace("TARGET", str(target))
    for c in (client, browser):
        headers = {"Origin": "https://evil.example"}
        if content_type:
            headers["Content-Type"] = content_type
        response = await c.post("/graphql", content=body.encode(), headers=headers)
        assert 400 <= response.status_code < 500, response.text
        assert not _has_data(response, "submitComplaint")
    await _nothing_created()


async def test_json_post_is_what_works(client, target):
    """The refusals above are about the content type: the same mutation as JSON runs."""
    response = await _post(client, {"query": MUTATION.replace("TARGET", str(target))})
    assert response.json()["data"]["submitComplaint"]["errors"] == []
    assert await Complaint.all().count() == 1


# --- no IDE --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/graphql", "/graphiql", "/playground", "/altair", "/console"])
async def test_no_graphql_ide_is_served(client, path):
    """graphql-cop "GraphQL IDE": a finding if GraphiQL/Playground HTML is served."""
    response = await client.get(path, headers={"Accept": "text/html"})
    assert "graphiql" not in response.text.lower()
    assert "playground" not in response.text.lower()
