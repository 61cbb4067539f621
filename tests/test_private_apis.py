"""Each private Strawberry or Starlette API the service relies on (``resolvers.private_apis``)
still does what we use it for in the installed versions: the test to run first after an
upgrade."""

from __future__ import annotations

import inspect
from typing import Any

import strawberry
from graphql import FragmentDefinitionNode, GraphQLSchema, parse, specified_rules
from starlette.requests import Request

from resolvers.private_apis import (
    OVERRIDDEN,
    graphql_info,
    graphql_schema,
    keep_body,
    provided_operation_name,
    validate_document,
)
from schema import schema
from schema.errors import ClientErrors
from schema.tracing import RouterTracing


def test_graphql_schema_is_graphql_cores_schema_of_ours() -> None:
    found = graphql_schema(schema)
    assert isinstance(found, GraphQLSchema)
    assert found.query_type is not None and "contactPoint" in found.query_type.fields


def test_graphql_info_gives_the_documents_fragments() -> None:
    seen: list[Any] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def name(self, info: strawberry.Info) -> str:
            seen.append(graphql_info(info))
            return "x"

    result = strawberry.Schema(query=Query).execute_sync("query { ...Named } fragment Named on Query { name }")
    assert result.errors is None and result.data == {"name": "x"}
    fragments = seen[0].fragments
    assert list(fragments) == ["Named"] and isinstance(fragments["Named"], FragmentDefinitionNode)


async def test_keep_body_is_what_the_request_reads_afterwards() -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("the stream was read already")

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)
    keep_body(request, b'{"query": "{ a }"}')
    assert await request.body() == b'{"query": "{ a }"}'
    assert await request.json() == {"query": "{ a }"}


def test_provided_operation_name_tells_a_given_name_from_strawberrys_fallback() -> None:
    seen: list[tuple[str | None, str | None]] = []

    class Spy(strawberry.extensions.SchemaExtension):
        def on_execute(self) -> Any:
            execution = self.execution_context
            seen.append((provided_operation_name(execution), execution.operation_name))
            yield

    @strawberry.type
    class Query:
        name: str = "x"

    spied = strawberry.Schema(query=Query, extensions=[Spy])
    spied.execute_sync("query A { name } query B { name }", operation_name="B")
    spied.execute_sync("query A { name } query B { name }")
    assert seen == [("B", "B"), (None, "A")]  # Strawberry falls back to the first operation


def test_validate_document_answers_graphql_cores_errors() -> None:
    rules = tuple(specified_rules)
    assert validate_document(graphql_schema(schema), parse("{ regions { code } }"), rules) == []
    errors = validate_document(graphql_schema(schema), parse("{ regions { nope } }"), rules)
    assert [e.message.split(" Did you mean")[0] for e in errors] == ["Cannot query field 'nope' on type 'Region'."]


def test_the_private_members_we_override_or_read_are_still_there() -> None:
    ours = {"_process_errors": ClientErrors, "_check_should_trace": RouterTracing, "_make_error": RouterTracing}
    for base, name in OVERRIDDEN:
        if name in ours:
            theirs = vars(base).get(name)
            assert callable(theirs), f"{base.__qualname__}.{name} is gone"
            mine = vars(ours[name])[name]
            assert list(inspect.signature(mine).parameters) == list(inspect.signature(theirs).parameters), name
        else:  # an attribute their hooks set
            assert f"self.{name} =" in inspect.getsource(base), f"{base.__qualname__} no longer sets {name}"
