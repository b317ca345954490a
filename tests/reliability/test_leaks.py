"""Leaks (issue 11 §7): no error response tells an attacker about the inside (traceback,
SQL, file path, secret key), and no log line carries a resident ID number or a mobile
number (issue 3 item 7: personal data never written to logs).

Error bodies are recorded by tests/reliability/conftest.py for every test of this
folder; the first test here provokes the error paths of the real app itself, then
scans everything recorded so far (the session-end hook scans the rest).
"""

import json
import logging
import re
from typing import Any

import httpx
import pytest

from models import RateCounter
from models.enums import Role
from resolvers import account
from resolvers.actor import SYSTEM, Grant
from resolvers.errors import DomainError
from tests import factories
from tests.reliability.conftest import CAPTURED, TEST_SECRET, leaks
from tests.resolvers.test_evaluation import _actor
from tests.schema import test_complaint_api as complaint_api
from tests.schema import test_evaluation_api as evaluation_api
from tests.schema import test_expert_mutations as expert_api
from tests.schema.conftest import gql

PASSWORD = "Lantern-orchid-7-Qx!"
ANY = {"Content-Type": "application/json", "Accept": "application/json"}

# GB 11643: area (6), birth date (8), sequence (3), check (digit or X).
ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"\d{3}[\dXx](?![0-9A-Za-z])"
)
MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9A-Za-z])")


def test_leak_patterns_find_what_they_look_for():
    """The scanners are not blind: each finds a planted sample and passes clean text."""
    assert leaks('Traceback (most recent call last):\n  File "/work/main/app.py"') == [
        "traceback",
        "path",
    ]
    assert leaks("sqlite3.OperationalError near SELECT ") == ["sql"]
    assert leaks(f"key={TEST_SECRET}") == ["secret"]
    assert (
        leaks('{"errors":[{"message":"评审会议不存在","extensions":{"code":"NOT_FOUND"}}]}') == []
    )
    assert ID_NUMBER.findall("身份证 110101198503041234 号") == ["110101198503041234"]
    assert ID_NUMBER.findall("110101********1234 abcdef110101198503041234") == []
    assert MOBILE.findall("电话 13800138000,") == ["13800138000"]
    assert MOBILE.findall("138****8000 1764212345678") == []


async def _post(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    return await client.post("/graphql", content=content, headers={**ANY, **headers})


async def test_error_responses_of_the_real_app_leak_nothing(client):
    """Every error path the public reaches: malformed JSON, syntax and validation errors,
    suggestions, unauthenticated, not found, oversize and deep queries, wrong method,
    unknown page, bad bearer token, wrong password, a refused HTML form."""
    await account.create_user(
        SYSTEM, username="bureau1", display_name="职称处", password=PASSWORD, role=Role.BUREAU
    )
    seen = len(CAPTURED)
    deep = "{ me { " + "roles " * 2 + "}" + " }"
    nested = "query { " + 'node(id: "x") { id ... on Expert { ' * 30 + "id" + " } }" * 30 + " }"
    answers = [
        await _post(client, "{not json"),
        await _post(client, {"query": "{ experts(first: 1) { nodes { id } } }"}),
        await _post(client, {"query": "{ expertz }"}),
        await _post(client, {"query": "query {"}),
        await _post(client, {"query": '{ node(id: "!!!") { id } nodes(ids: ["x"]) { id } }'}),
        await _post(client, {"query": deep, "variables": {"x": "y" * 10}}),
        await _post(client, {"query": nested}),
        await _post(client, {"query": "{ me { id } }", "variables": "not an object"}),
        await _post(client, {"query": "x" * 2_000_000}),
        await _post(
            client,
            {
                "query": "mutation($i: RevokeCertificateInput!) { revokeCertificate(input: $i) "
                "{ errors { code } } }",
                "variables": {"i": {"code": "' OR 1=1 --", "reason": "\x00"}},
            },
        ),
        await _post(
            client,
            {
                "query": 'mutation { login(input: {username: "bureau1", password: "wrong-'
                'password-123"}) { errors { code message } } }'
            },
        ),
        await _post(client, {"query": "{ me { id } }"}, Authorization="Bearer psk_nope"),
        await client.get("/graphql?query={me{id}}"),
        await client.get("/no/such/page/../../etc/passwd"),
        await client.post("/login", data={"username": "bureau1", "password": "x"}),
    ]

    assert [a.status_code for a in answers if a.status_code >= 500] == []
    recorded = CAPTURED[seen:]
    assert len(recorded) >= 12  # the hook saw the error answers
    found = [(leaks(body), body[:200]) for body in CAPTURED if leaks(body)]
    assert found == []


async def test_logs_of_the_main_flows_hold_no_id_number_or_phone(caplog):
    """Expert entry with ID number and phone, a whole session with applicants to a
    revoked certificate, a real-name complaint, a failed and a good login, and a bad ID
    number and phone refused: every log record (all loggers, DEBUG up, SQL included) is scanned."""
    caplog.set_level(logging.DEBUG)
    w = await expert_api.world()
    candidate = expert_api.person(w.unit, w.home)
    bad_phone = expert_api.person(w.unit, w.home, phone="1380013800")
    bad_id = expert_api.person(w.unit, w.home, idNumber=candidate["idNumber"][:-1] + "0")
    recommend = """mutation($input: RecommendExpertInput!) {
      recommendExpert(input: $input) { application { id } errors { field code } } }"""
    results = [
        await gql(recommend, {"input": person}, actor=w.recommender)
        for person in (candidate, bad_phone, bad_id)
    ]
    await (
        evaluation_api.test_session_walk_through_graphql_to_a_revoked_certificate_r10_r14_r15_r18()
    )
    inst = await factories.institution()
    expert = await factories.expert(institution=inst)
    applicant = await _actor(Grant(Role.APPLICANT))
    complaint = complaint_api._input(
        expert, anonymous=False, complainantName="李四", complainantContact="13912345678"
    )
    submitted = await gql(complaint_api.SUBMIT, {"input": complaint}, actor=applicant)
    await _login_attempts()

    assert [r.errors for r in results] == [None, None, None]
    assert results[0].data["recommendExpert"]["errors"] == []  # type: ignore[index]
    assert results[1].data["recommendExpert"]["errors"] != []  # type: ignore[index]
    assert submitted.errors is None
    logged = "\n".join(_text(r) for r in caplog.records)
    assert len(caplog.records) > 100  # SQL at DEBUG included: the scan saw the run
    assert ID_NUMBER.findall(logged) == []
    assert MOBILE.findall(logged) == []
    planted = (candidate["idNumber"], candidate["phone"], "13912345678")
    assert [v for v in planted if v in logged] == []


def _text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), record.exc_text or ""]
    return " ".join(parts)


async def _login_attempts() -> None:
    """A wrong password, then the right one."""
    await account.create_user(
        SYSTEM, username="bureau9", display_name="职称处", password=PASSWORD, role=Role.BUREAU
    )
    with pytest.raises(DomainError):
        await account.authenticate("bureau9", "wrong-password-123", "203.0.113.9")
    assert (await account.authenticate("bureau9", PASSWORD, "203.0.113.9")).username == "bureau9"


async def test_a_phone_typed_as_the_username_is_kept_nowhere(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DomainError):
        await account.authenticate("13700137000", PASSWORD, "203.0.113.9")

    keys = await RateCounter.all().values_list("key", flat=True)
    logged = "\n".join(_text(r) for r in caplog.records)
    assert [k for k in keys if "13700137000" in str(k)] == []
    assert MOBILE.findall(logged) == []
