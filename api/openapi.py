"""``GET /queries/openapi.json``: the saved queries as a REST API, in OpenAPI 3.1.

Generated from what is saved, so it is never stale: one path per saved query (its latest
version not deprecated), its variables as typed query parameters (GET) or a JSON body
(POST), and the JSON schema of its ``data``, derived from the query's selection. REST
tooling (client generators, API gateways, Postman) reads it as it is.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    parse,
    type_from_ast,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db import saved
from resolvers.documents import is_mutation
from resolvers.private_apis import graphql_schema
from resolvers.selection import Selections, subselections
from schema import schema
from schema.scalars import DECIMAL_PATTERN

from .admission import Refused, refusal
from .exports import XLSX
from .faults import answering_faults

__all__ = ["openapi_document", "serve_openapi"]

_SCALARS: dict[str, dict[str, Any]] = {
    "String": {"type": "string"},
    "ID": {"type": "string"},
    "Int": {"type": "integer", "format": "int32"},
    "Float": {"type": "number"},
    "Boolean": {"type": "boolean"},
    "Date": {"type": "string", "format": "date"},
    "DateTime": {"type": "string", "format": "date-time"},
    "Decimal": {"type": "string", "pattern": DECIMAL_PATTERN, "description": "A decimal number as a string."},
}

_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message", "extensions"],
                "properties": {
                    "message": {"type": "string"},
                    "extensions": {
                        "type": "object",
                        "required": ["code"],
                        "properties": {"code": {"type": "string", "description": "Stable; see the README."}},
                    },
                },
            },
        }
    },
}


async def serve_openapi(request: Request) -> Response:
    try:
        async with answering_faults(request, request.app.state.settings.limits):
            operations = await saved.active_operations(request.app.state.db)
    except Refused as refused:
        return refusal(request, refused)
    base = str(request.base_url).rstrip("/")
    return JSONResponse(openapi_document(graphql_schema(schema), operations, base))


def openapi_document(graphql_schema: GraphQLSchema, operations: list[saved.SavedOperation], server: str) -> dict:
    """The OpenAPI 3.1 document of these saved operations (the latest version of each name),
    but for mutations: ``/queries/{name}`` refuses them (they run by hash through POST /graphql)."""
    latest = {operation.name: operation for operation in operations}  # ordered by name, version
    latest = {name: operation for name, operation in latest.items() if not is_mutation(operation.document)}
    builder = _Builder(graphql_schema)
    paths = {f"/queries/{name}": builder.path_item(operation) for name, operation in sorted(latest.items())}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "liaison-graph saved queries",
            "version": "1",
            "description": "Saved GraphQL queries run by name (README: Saved queries). Variables go as query"
            " parameters or a JSON body; `format=csv` or `format=xlsx` exports every list in the answer, every"
            " page of it (README: Export).",
        },
        "servers": [{"url": server}],
        "components": {
            "schemas": builder.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key or JWT."}},
        },
        "security": [{}, {"bearer": []}],
        "paths": paths,
    }


_ANSWERS = (
    ("400", "A variable is missing or of the wrong type."),
    ("401", "The credential is not valid."),
    ("403", "An export asked for a field the caller's role may not read."),
    ("404", "No such saved query or version."),
    ("429", "The caller's budget is spent."),
    ("503", "The database is unavailable or the service overloaded; retry after `Retry-After`."),
)


_FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]},
}


def _answers(data: dict[str, Any]) -> dict[str, Any]:
    """A saved query's responses, its ``data`` described by ``data``."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "200": {
            "description": "The GraphQL response: `data`, and `errors` for fields that failed.",
            "headers": {
                "ETag": {"schema": {"type": "string"}},
                "X-Saved-Query-Version": {"schema": {"type": "integer"}},
            },
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"data": data, "errors": _ERROR["properties"]["errors"]},
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
                "application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}},
                XLSX: {"schema": {"type": "string", "contentMediaType": XLSX}},
            },
        },
        "304": {"description": "Not modified since the `ETag` given in `If-None-Match`."},
        **{status: {"description": text, "content": error} for status, text in _ANSWERS},
    }


class _Builder:
    """Walks saved documents against the schema; named input types collect in ``components``."""

    def __init__(self, graphql_schema: GraphQLSchema) -> None:
        self.schema = graphql_schema
        self.components: dict[str, Any] = {"Error": _ERROR}

    def path_item(self, operation: saved.SavedOperation) -> dict[str, Any]:
        document = parse(operation.document)
        definition = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        root = self.schema.query_type
        assert root is not None
        data = self.selection(root, definition.selection_set, fragments)
        parameters, body = self.variables(definition)
        version = {
            "name": "version",
            "in": "query",
            "required": False,
            "description": f"A version to pin (the latest is {operation.version}).",
            "schema": {"type": "integer", "minimum": 1},
        }
        answers = _answers(data)
        summary = operation.description or f"The saved query {operation.name}."
        operation_id = operation.name[0].lower() + operation.name[1:]
        return {
            "get": {
                "operationId": operation_id,
                "summary": summary,
                "parameters": [*parameters, version, _FORMAT],
                "responses": answers,
            },
            "post": {
                "operationId": operation_id + "Post",
                "summary": summary,
                "parameters": [version, _FORMAT],
                "requestBody": {
                    "required": "required" in body,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": answers,
            },
        }

    def variables(self, definition: OperationDefinitionNode) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The operation's variables as GET's query parameters and as POST's JSON body."""
        parameters, properties, required = [], {}, []
        for node in definition.variable_definitions or ():
            name, type_ = node.variable.name.value, type_from_ast(self.schema, node.type)
            schema_ = properties[name] = self.input(type_)
            if isinstance(type_, GraphQLNonNull) and node.default_value is None:
                required.append(name)
            parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            if isinstance(get_named_type(type_), GraphQLInputObjectType):
                parameter["content"] = {"application/json": {"schema": schema_}}  # JSON text in the parameter
            else:
                parameter["schema"] = schema_  # a list: repeat the parameter
            parameters.append(parameter)
        body: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            body["required"] = required
        return parameters, body

    def input(self, type_: Any) -> dict[str, Any]:
        """A variable's JSON schema; input objects and enums become named components."""
        nullable = not isinstance(type_, GraphQLNonNull)
        if not nullable:
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            return _nullable({"type": "array", "items": self.input(type_.of_type)}, nullable)
        if isinstance(type_, GraphQLEnumType | GraphQLInputObjectType):
            if type_.name not in self.components:
                self.components[type_.name] = {}  # placeholder: an input object may refer to itself
                self.components[type_.name] = self._named_input(type_)
            return _nullable({"$ref": f"#/components/schemas/{type_.name}"}, nullable)
        return _nullable(dict(_SCALARS.get(type_.name, {})), nullable)

    def _named_input(self, type_: GraphQLEnumType | GraphQLInputObjectType) -> dict[str, Any]:
        if isinstance(type_, GraphQLEnumType):
            return {"type": "string", "enum": list(type_.values), "description": type_.description or ""}
        fields = type_.fields
        schema_: dict[str, Any] = {
            "type": "object",
            "properties": {name: self.input(field.type) for name, field in fields.items()},
            "additionalProperties": False,
        }
        required = [n for n, f in fields.items() if isinstance(f.type, GraphQLNonNull) and f.default_value is None]
        if required:
            schema_["required"] = required
        if type_.description:
            schema_["description"] = type_.description
        return schema_

    def output(self, type_: Any, selection: SelectionSetNode | None, fragments: dict[str, Any]) -> dict[str, Any]:
        nullable = not isinstance(type_, GraphQLNonNull)
        if not nullable:
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            found: dict[str, Any] = {"type": "array", "items": self.output(type_.of_type, selection, fragments)}
        elif isinstance(type_, GraphQLEnumType):
            found = {"type": "string", "enum": list(type_.values)}
        elif isinstance(type_, GraphQLScalarType):
            found = dict(_SCALARS.get(type_.name, {}))
        else:
            assert selection is not None
            found = self.selection(type_, selection, fragments)
        return _nullable(found, nullable)

    def selection(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType,
        selection: SelectionSetNode,
        fragments: dict[str, FragmentDefinitionNode],
    ) -> dict[str, Any]:
        """An object's JSON schema from the fields selected on it (``resolvers.selection``'s
        walk): a key selected twice is one property of both selections; a key is required
        when it is selected on ``parent`` itself with no ``@skip``/``@include`` on the way."""
        walker = Selections(self.schema, fragments)
        properties: dict[str, Any] = {}
        for key, selected in walker.grouped(parent, selection).items():
            if selected.name == "__typename":
                properties[key] = {"type": "string"}
            else:
                field = selected.owner.fields[selected.name]  # type: ignore[union-attr]
                properties[key] = self.output(field.type, subselections(selected.nodes), fragments)
        plain = Selections(self.schema, fragments, included=lambda node: not node.directives)
        certain = {
            (node.alias or node.name).value for node, owner in plain.fields(parent, selection) if owner is parent
        }
        required = [key for key in properties if key in certain]
        result: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            result["required"] = required
        return result


def _nullable(schema_: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return schema_
    if "type" in schema_:
        return {**schema_, "type": [schema_["type"], "null"]}
    return {"anyOf": [schema_, {"type": "null"}]}
