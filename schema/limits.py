"""Pre-execution limits: tokens, depth, aliases and a node-count cost estimate.

All four run before any resolver: tokens while parsing, depth and aliases as
validation rules, the cost after validation and before the executor starts (it
needs a valid document and the variables). Each
refusal is a request error with its own `extensions.code`.

A partner API token also pays each operation's cost (at least 1) from a budget per
minute (Config.token_cost_per_minute, issue 3 §6): past it the operation does not
run and the answer is RATE_LIMITED with `extensions.retryAfter` (the view sends 429
and Retry-After).

The rule classes are built once per Limits value and cached (the default ones at
import time): a new class per request would make every request miss ValidationCache,
whose key includes the rule classes (STACK-NOTES).
"""

import functools
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    visit,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import count_fields_with_alias
from strawberry.types.execution import PreExecutionError

from resolvers import throttle
from resolvers.config import get_config
from resolvers.directory import DEFAULT_PAGE_SIZE
from resolvers.health import is_connection_error
from schema.errors import RATE_LIMITED, unavailable_error


@dataclass(frozen=True)
class Limits:
    """The ceilings of one schema; the defaults are what production serves."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_comments: int = 200
    max_cost: int = 50_000
    # No directive of ours is repeatable, so more than one per node is never valid: a
    # pile of them only makes the validator do (and report) work once per copy.
    max_directives_per_node: int = 3
    max_directives: int = 50
    max_body_bytes: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


def _fragments(document: Any) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    """Levels of fields below here: `{ a }` is 1, `{ a { b } }` is 2.

    Introspection fields do not count: they are gated by the introspection switch.
    """
    if selection_set is None:
        return 0
    deepest = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value.startswith("__"):
                continue
            deepest = max(deepest, 1 + _depth(sel.selection_set, fragments, seen))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, _depth(sel.selection_set, fragments, seen))
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is not None and name not in seen:
                deepest = max(deepest, _depth(frag.selection_set, fragments, seen | {name}))
    return deepest


@functools.cache
def limit_rules(limits: Limits) -> tuple[type[ValidationRule], ...]:
    """The depth and alias validation rules for `limits`, one class pair per value."""

    class MaxDepthRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context.document)
            for op in context.document.definitions:
                if not isinstance(op, OperationDefinitionNode):
                    continue
                depth = _depth(op.selection_set, fragments, frozenset())
                if depth > limits.max_depth:
                    context.report_error(
                        GraphQLError(
                            f"查询嵌套 {depth} 层,超过上限 {limits.max_depth} 层。"
                            f" Query depth {depth} exceeds {limits.max_depth}.",
                            op,
                            extensions={"code": "MAX_DEPTH_EXCEEDED"},
                        )
                    )

    class MaxAliasesRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context.document)
            total = sum(
                count_fields_with_alias(op, fragments)
                for op in context.document.definitions
                if isinstance(op, OperationDefinitionNode)
            )
            if total > limits.max_aliases:
                context.report_error(
                    GraphQLError(
                        f"查询使用了 {total} 个别名,超过上限 {limits.max_aliases} 个。"
                        f" {total} aliases exceed {limits.max_aliases}.",
                        extensions={"code": "MAX_ALIASES_EXCEEDED"},
                    )
                )

    return (MaxDepthRule, MaxAliasesRule)


limit_rules(DEFAULT_LIMITS)

INTROSPECTION_RULES: tuple[type[ValidationRule], ...] = (NoSchemaIntrospectionCustomRule,)


# --- cost ------------------------------------------------------------------------------


def _int_arg(field: FieldNode, name: str, variables: Mapping[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value != name:
            continue
        value = arg.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            raw = variables.get(value.name.value)
            return raw if type(raw) is int else None
    return None


def _list_len(field: FieldNode, name: str, variables: Mapping[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value != name:
            continue
        if isinstance(arg.value, ListValueNode):
            return len(arg.value.values)
        if isinstance(arg.value, VariableNode):
            raw = variables.get(arg.value.name.value)
            return len(raw) if isinstance(raw, list) else 1
    return None


def _page(field: FieldNode, variables: Mapping[str, Any]) -> int:
    sizes = [_int_arg(field, "first", variables), _int_arg(field, "last", variables)]
    given = [max(s, 0) for s in sizes if s is not None]
    return max(given) if given else DEFAULT_PAGE_SIZE


def _is_connection(named: GraphQLNamedType) -> bool:
    return isinstance(named, GraphQLObjectType) and named.name.endswith("Connection")


def estimate_cost(
    schema: GraphQLSchema,
    selection_set: SelectionSetNode | None,
    parent: GraphQLNamedType,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    multiplier: int = 1,
    seen: frozenset[str] = frozenset(),
) -> int:
    """Nodes a query may return, GitHub style: each connection's page size multiplies
    the connections inside it; `nodes(ids:)` counts its ids."""
    if selection_set is None or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return 0
    total = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            field_def = parent.fields.get(sel.name.value)
            if field_def is None:
                continue
            named = get_named_type(field_def.type)
            inner = multiplier
            if _is_connection(named):
                inner = multiplier * _page(sel, variables)
                total += inner
            elif (count := _list_len(sel, "ids", variables)) is not None:
                inner = multiplier * count
                total += inner
            total += estimate_cost(
                schema, sel.selection_set, named, fragments, variables, inner, seen
            )
        elif isinstance(sel, InlineFragmentNode):
            cond = sel.type_condition
            target = schema.get_type(cond.name.value) if cond else parent
            if target is not None:
                total += estimate_cost(
                    schema, sel.selection_set, target, fragments, variables, multiplier, seen
                )
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is None or name in seen:
                continue
            target = schema.get_type(frag.type_condition.name.value)
            if target is not None:
                total += estimate_cost(
                    schema,
                    frag.selection_set,
                    target,
                    fragments,
                    variables,
                    multiplier,
                    seen | {name},
                )
    return total


class _DirectiveCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.most_on_one_node = 0

    def enter(self, node: Any, *_args: Any) -> None:
        directives = getattr(node, "directives", None) or ()
        self.total += len(directives)
        self.most_on_one_node = max(self.most_on_one_node, len(directives))


def _too_many_directives(document: Any, limits: Limits) -> bool:
    counter = _DirectiveCounter()
    visit(document, counter)
    return (
        counter.most_on_one_node > limits.max_directives_per_node
        or counter.total > limits.max_directives
    )


@functools.cache
def _directive_rule(limits: Limits) -> type[ValidationRule]:
    """Replaces every other rule for a document with a directive flood: one error."""

    class TooManyDirectivesRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            context.report_error(
                GraphQLError(
                    f"查询使用的指令过多(单个位置最多 {limits.max_directives_per_node} 个,"
                    f"全部最多 {limits.max_directives} 个)。 Too many directives.",
                    extensions={"code": "MAX_DIRECTIVES_EXCEEDED"},
                )
            )

    return TooManyDirectivesRule


class RequestLimits(SchemaExtension):
    """Installs the limits of one schema on each operation (create one per request)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.parse_options["max_lexical_tokens"] = self.limits.max_tokens  # type: ignore[typeddict-unknown-key]
        ctx.parse_options["max_comments"] = self.limits.max_comments  # type: ignore[typeddict-unknown-key]
        rules = limit_rules(self.limits)
        if not getattr(ctx.context, "introspection_allowed", False):
            rules = rules + INTROSPECTION_RULES
        ctx.validation_rules = ctx.validation_rules + rules
        yield

    def on_validate(self) -> Iterator[None]:
        # A directive flood is validated by one rule that refuses it: one error, not
        # one per copy (graphql-cop "directive overloading"). Runs before ValidationCache.
        ctx = self.execution_context
        if ctx.graphql_document is not None and _too_many_directives(
            ctx.graphql_document, self.limits
        ):
            ctx.validation_rules = (_directive_rule(self.limits),)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        # After validation (the cost needs a valid document and the variables) and
        # before the executor: a result set here replaces execution entirely.
        error = await self._cost_error()
        if error is not None:
            self.execution_context.result = PreExecutionError(data=None, errors=[error])
        yield

    def _cost(self) -> tuple[int, OperationDefinitionNode] | None:
        ctx = self.execution_context
        if ctx.graphql_document is None:
            return None
        op = get_operation_ast(ctx.graphql_document, ctx.operation_name)
        schema = ctx.schema._schema
        root = schema.get_root_type(op.operation) if op is not None else None
        if op is None or root is None:
            return None
        cost = estimate_cost(
            schema, op.selection_set, root, _fragments(ctx.graphql_document), ctx.variables or {}
        )
        return cost, op

    async def _cost_error(self) -> GraphQLError | None:
        measured = self._cost()
        if measured is None:
            return None
        cost, op = measured
        if cost > self.limits.max_cost:
            return GraphQLError(
                f"查询最多可能返回 {cost} 个节点,超过上限 {self.limits.max_cost} 个;"
                "请减小 first/last。"
                f" Estimated {cost} nodes exceed {self.limits.max_cost}.",
                op,
                extensions={"code": "MAX_COST_EXCEEDED", "cost": cost},
            )
        token_id = getattr(getattr(self.execution_context.context, "actor", None), "token_id", None)
        if token_id is None:
            return None
        return await _charge_token(token_id, max(cost, 1), op)


async def _charge_token(
    token_id: int, cost: int, op: OperationDefinitionNode
) -> GraphQLError | None:
    budget = get_config().token_cost_per_minute
    if cost > budget:
        return GraphQLError(
            f"查询最多可能返回 {cost} 个节点,超过该令牌每分钟 {budget} 的查询成本额度;"
            "请减小 first/last。"
            f" Estimated {cost} nodes exceed the token's budget of {budget} per minute.",
            op,
            extensions={"code": "MAX_COST_EXCEEDED", "cost": cost},
        )
    try:
        await throttle.charge_token_cost(token_id, cost, budget)
    except throttle.RateLimited as exc:
        return GraphQLError(
            f"该令牌本分钟的查询成本额度({budget})已用完,请 {exc.retry_after} 秒后重试。"
            f" Cost budget of {budget} per minute spent; retry after {exc.retry_after}s.",
            op,
            extensions={"code": RATE_LIMITED, "cost": cost, "retryAfter": exc.retry_after},
        )
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        return unavailable_error()
    return None
