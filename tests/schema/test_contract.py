"""The schema contract (ARCHITECTURE style rule 8): the committed SDL equals the code,
and every type, field and argument is described, Chinese first."""

import re
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
)

from schema import build_schema, export_sdl

SDL_FILE = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
SPEC_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def test_committed_sdl_matches_the_code():
    """Regenerate with `pingshen export-schema` and review the diff."""
    assert SDL_FILE.read_text(encoding="utf-8") == export_sdl()


def _missing_descriptions() -> list[str]:
    missing: list[str] = []

    def check(where: str, description: str | None) -> None:
        first = (description or "").strip().splitlines()[:1]
        if not first or not CHINESE.search(first[0]):
            missing.append(where)

    for name, gtype in build_schema()._schema.type_map.items():
        if name.startswith("__") or name in SPEC_SCALARS:
            continue
        check(name, gtype.description)
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType):
            for fname, field in gtype.fields.items():
                check(f"{name}.{fname}", field.description)
                for aname, arg in field.args.items():
                    check(f"{name}.{fname}({aname})", arg.description)
        elif isinstance(gtype, GraphQLInputObjectType):
            for fname, field in gtype.fields.items():
                check(f"{name}.{fname}", field.description)
        elif not isinstance(gtype, GraphQLEnumType | GraphQLScalarType):
            missing.append(f"{name}: unexpected kind")
    return missing


def test_every_type_field_and_argument_has_a_chinese_description():
    assert _missing_descriptions() == []


def test_root_operations_are_the_contract_names():
    query = build_schema()._schema.query_type
    assert sorted(query.fields) == sorted(
        [
            "annualPlans",
            "committee",
            "committees",
            "complaint",
            "complaintStatus",
            "complaints",
            "evaluationSession",
            "evaluationSessions",
            "expert",
            "expertApplications",
            "experts",
            "expiringFilings",
            "institution",
            "institutions",
            "me",
            "myInvitations",
            "node",
            "nodes",
            "pendingExpertUpdates",
            "poolStatistics",
            "verifyCertificate",
        ]
    )
