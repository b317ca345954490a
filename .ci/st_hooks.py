"""schemathesis hooks for pingshen's GraphQL endpoint (loaded via SCHEMATHESIS_HOOKS).

Our error contract (ARCHITECTURE.md) answers NOT_FOUND / FORBIDDEN / UNAUTHENTICATED
and input errors as coded top-level errors; schemathesis's default GraphQL check
treats every top-level error as a server error. `no_crash` fails exactly on what the
issue forbids: a 5xx, a masked crash ("Unexpected error" with a correlation id), or
an error entry without a stable code.
"""

import schemathesis


@schemathesis.check
def no_crash(ctx, response, case):  # type: ignore[no-untyped-def]
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise AssertionError("response is not JSON") from None
    for error in body.get("errors") or []:
        extensions = error.get("extensions") or {}
        if "correlationId" in extensions or error.get("message") == "Unexpected error":
            raise AssertionError(f"masked crash: {error}")
        if not extensions.get("code"):
            raise AssertionError(f"error without a code: {error}")
