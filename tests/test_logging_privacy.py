"""A bug is logged with its correlation id, exception type and traceback frames, but
never with its message or local values, where personal data may appear (last
review, issue 11; ARCHITECTURE "Error contract"; PIPL). Both transports: GraphQL's
masked "Unexpected error" and the HTML 500 page; and the debug line of an expected
GraphQL error, whose message can quote the value the client sent."""

import logging
import re
from typing import Any

import httpx
from starlette.routing import Route

from resolvers import directory
from tests import factories
from tests.schema.conftest import BUREAU, gql

# A valid-looking ID number and mobile number that the failing code "held".
ID_NUMBER = "11010519491231002X"
PHONE = "13912345678"
FORMATTER = logging.Formatter("%(levelname)s %(name)s %(message)s")


def _logged(caplog: Any) -> str:
    """Every record of the app as a handler would write it (exc_info included); the
    test client's own request log (httpx) is not the app's."""
    return "\n".join(FORMATTER.format(r) for r in caplog.records if r.name != "httpx")


def _failing_lookup(number: str, phone: str) -> None:
    """Fails the way a driver or parser does: the message quotes its input, and the
    error was raised while handling another one that quotes it too."""
    holder = {"id_number": number, "phone": phone}
    try:
        holder["missing"]
    except KeyError as inner:
        message = f"no match for {holder['id_number']} / {holder['phone']}"
        raise ValueError(message) from inner


async def _leaky_reveal(actor: Any, pk: int, *, field: str) -> str:
    _failing_lookup(ID_NUMBER, PHONE)
    return ""


def _frames_of_the_bug(logged: str) -> None:
    """The traceback stays useful: file:line and function names of every frame of the
    chain, and the types, with the messages withheld."""
    this_file = re.escape(__file__)
    assert re.search(rf'File "{this_file}", line \d+, in _failing_lookup\n', logged)
    assert re.search(rf'File "{this_file}", line \d+, in _leaky_reveal\n', logged)
    assert "KeyError (message withheld)" in logged
    assert "The above exception was the direct cause of the following exception" in logged
    assert "ValueError (message withheld)" in logged


async def test_graphql_bug_log_has_correlation_id_and_frames_but_no_id_number_or_phone(
    caplog, monkeypatch
):
    expert = await factories.expert()
    monkeypatch.setattr(directory, "reveal_expert_pii", _leaky_reveal)
    from schema.relay import to_global_id

    query = f'{{ expert(id: "{to_global_id("Expert", expert.pk)}") {{ idNumberFull }} }}'
    caplog.set_level(logging.DEBUG)

    result = await gql(query, actor=BUREAU)

    (error,) = result.errors or []
    cid = error.formatted["extensions"]["correlationId"]
    logged = _logged(caplog)
    (record,) = [r for r in caplog.records if cid in r.getMessage()]
    assert (record.name, record.levelno, record.exc_info) == ("pingshen.graphql", 40, None)
    assert f"correlationId={cid} type=ValueError path=['expert', 'idNumberFull']" in logged
    _frames_of_the_bug(logged)
    assert (ID_NUMBER in logged, PHONE in logged, "no match for" in logged) == (
        False,
        False,
        False,
    )


async def test_html_bug_log_has_correlation_id_and_frames_but_no_id_number_or_phone(
    caplog, asgi_app
):
    """The 500 page names the correlation id; the log line under it holds neither the
    message nor the query string the user typed; the server gets no raw traceback (the
    exception does not escape the app)."""

    async def lookup(request: Any) -> Any:
        return await _leaky_reveal(None, 0, field="id_number")

    asgi_app.router.routes.append(Route("/leaky-lookup", lookup))
    caplog.set_level(logging.DEBUG)
    transport = httpx.ASGITransport(app=asgi_app)  # raises what escapes the app
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        response = await c.get("/leaky-lookup", params={"q": ID_NUMBER, "phone": PHONE})

    assert response.status_code == 500
    shown = re.search(r"错误编号:([0-9a-f]{32})", response.text)
    assert shown is not None, response.text
    cid = shown.group(1)
    logged = _logged(caplog)
    (record,) = [r for r in caplog.records if cid in r.getMessage()]
    assert (record.name, record.levelno, record.exc_info) == ("pingshen.views", 40, None)
    assert f"correlationId={cid} type=ValueError method=GET endpoint=" in logged
    _frames_of_the_bug(logged)
    assert (ID_NUMBER in logged, PHONE in logged, "no match for" in logged) == (
        False,
        False,
        False,
    )
    assert (ID_NUMBER in response.text, PHONE in response.text) == (False, False)


async def test_graphql_request_error_debug_line_does_not_quote_the_value_sent(caplog):
    """A bad variable value is an expected error (no traceback); its message quotes
    the value, so the debug line carries the code and path only."""
    caplog.set_level(logging.DEBUG, logger="pingshen.graphql")

    result = await gql(
        "query($n: Int) { experts(first: $n) { totalCount } }", {"n": PHONE}, actor=BUREAU
    )

    (error,) = result.errors or []
    assert PHONE in error.message  # the client itself is told what it sent
    records = [r for r in caplog.records if r.name == "pingshen.graphql"]
    assert [(r.getMessage(), r.exc_info) for r in records] == [
        ("GraphQL request error code=BAD_USER_INPUT path=None", None)
    ]
