"""Helpers for mutations: idempotent creation from the request's Idempotency-Key.

    @strawberry.mutation(description="...")
    async def submit_complaint(self, info: Info, input: SubmitComplaintInput
                               ) -> SubmitComplaintPayload:
        try:
            outcome = await create_once(
                info, input=input, model=Complaint,
                create=lambda: complaint.submit_complaint(ctx(info).actor, ...),
            )
        except DomainError as exc:
            return SubmitComplaintPayload(complaint=None, errors=user_errors(exc))
        return SubmitComplaintPayload(complaint=ComplaintType.from_model(outcome.value),
                                      errors=[])

A replay (same header, same input) returns the first object and creates nothing;
the same header with another input yields the UserError IDEMPOTENCY_MISMATCH.
"""

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from strawberry.types import Info
from tortoise.models import Model

from resolvers import idempotency
from schema.context import ctx

M = TypeVar("M", bound=Model)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


async def create_once(
    info: Info, *, input: Any, model: type[M], create: Callable[[], Awaitable[M]]
) -> idempotency.Outcome[M]:
    """Run a creating resolver at most once per (actor, Idempotency-Key header)."""
    context = ctx(info)
    return await idempotency.run_once(
        context.actor,
        key=context.idempotency_key,
        request={"mutation": info.field_name, "input": _plain(input)},
        model=model,
        create=create,
    )
