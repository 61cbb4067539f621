"""Thousands of generated and malformed requests, and the service neither breaks nor talks.

Hypothesis makes the requests: bytes that are not JSON or not UTF-8, JSON of every other
shape, wrong content types, methods and ``Accept`` headers, broken credentials, bodies
over the size limit, deep and wide queries over the schema's cycles, alias bombs,
fragment cycles and fragment "billion laughs", nesting that would exhaust a recursive
parser, batches over the limit, variables of the wrong type, and injection strings in
every String and ID argument, filter field, cursor and federation representation
(``_entities``). Anonymous and with an internal token. Every answer must hold:

- no 5xx, and no exception escaping the app (the test client would re-raise it);
- JSON (GraphiQL's HTML only for a GET), every error with a non-empty ``extensions.code``,
  no ``INTERNAL_SERVER_ERROR`` (nothing a client sends is the server's fault), and a
  refusal (4xx) always says why in ``errors``;
- nothing leaks: no traceback, path, driver, SQL or host in the body, unless the
  request itself carried that text (a validation message may quote the client);
- nothing logged at ERROR while serving it.

Then the service is still healthy: /healthz, /readyz and a plain query answer.

Runs derandomized (the same requests every run) with no example database.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus, urlencode

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from .support import JWT_ENV, bearer, service, token

# -- the service under test ---------------------------------------------------------------

MAX_BODY = 102_400  # LIAISON_MAX_BODY_BYTES's default, which the service keeps here
MAX_OPERATIONS = 10
JSON_TYPES = ("application/json", "application/graphql-response+json")

LEAK_MARKERS = (
    "Traceback",
    'File "',
    "site-packages",
    "/work/",
    "asyncpg",
    "psycopg",
    "SELECT ",
    "syntax error at or near",
    "postgres",
    "127.0.0.1",
    "localhost",
    ".py",
)

STATS: Counter[str] = Counter()
"""Requests sent, by test and by status: printed by the last test (``-s`` shows it)."""
SLOWEST: list[tuple[float, str]] = []
STARTED = time.monotonic()


class _Errors(logging.Handler):
    """Every record at ERROR or above, with its traceback text: what the server logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        return "\n".join(formatter.format(r) for r in self.records)


ERRORS = _Errors()


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    """One anonymous client for the whole module; its budget never runs out."""
    root = logging.getLogger()
    root.addHandler(ERRORS)
    try:
        with service(demo_dsn, role=None, LIAISON_BUDGET_POINTS="1000000000") as test_client:
            yield test_client
    finally:
        root.removeHandler(ERRORS)


FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    # No explain phase: on a failure it replays many variants, slow here; shrinking stays.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


# -- sending and checking ------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _loads(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _what_was_sent(url: str, content: bytes, headers: dict[str, str], echo: tuple[str, ...]) -> str:
    """All the text of a request, also unescaped: the markers it holds may come back quoted."""
    raw = content.decode("utf-8", "replace")
    parts = [unquote_plus(url), raw, *headers.values(), *echo]
    if len(raw) < 200_000:
        parts.extend(_strings(_loads(raw)))
    blob = "\n".join(parts)
    return blob + "\n" + re.sub(r"\\(.)", r"\1", blob)


def _check_result(result: Any, where: str) -> None:
    assert isinstance(result, dict), f"{where}: a result that is not an object: {result!r:.300}"
    assert "data" in result or "errors" in result, f"{where}: neither data nor errors: {result!r:.300}"
    if "errors" not in result:
        return
    errors = result["errors"]
    assert isinstance(errors, list) and errors, f"{where}: errors is not a non-empty list: {errors!r:.300}"
    for error in errors:
        assert isinstance(error, dict) and isinstance(error.get("message"), str), f"{where}: {error!r:.300}"
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        assert isinstance(code, str) and code, f"{where}: an error without a code: {error!r:.500}"
        assert code != "INTERNAL_SERVER_ERROR", f"{where}: client input made an internal error: {error!r:.500}"


def send(
    client: TestClient,
    method: str = "POST",
    *,
    body: Any = ...,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | tuple[tuple[str, str], ...] | None = None,
    echo: tuple[str, ...] = (),
    chunked: bool = False,
    label: str = "",
) -> Any:
    """Send one request, assert the properties every answer has; return its JSON (or None)."""
    headers = dict(headers or {})
    if body is not ...:
        content = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    content = content if content is not None else b""
    # chunked: no Content-Length, so the app must count what it reads
    payload = iter([content[i : i + 8192] for i in range(0, len(content), 8192)]) if chunked else content or None
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    request = client.build_request(method, "/graphql", content=payload, headers=raw_headers, params=params)
    ERRORS.records.clear()
    started = time.monotonic()
    try:
        response = client.send(request)
    except Exception as exc:  # the test client re-raises what escaped the app: a 500
        raise AssertionError(f"the app raised {exc!r} (a 500)\n{ERRORS.text()}") from exc
    elapsed = time.monotonic() - started
    url = str(response.request.url)
    shown = {k: v if k.lower() != "authorization" else v[:24] + "…" for k, v in headers.items()}
    where = f"{method} {url[:300]} {shown!r:.300} {content[:300]!r} -> {response.status_code}"
    STATS[label or "request"] += 1
    STATS[f"status {response.status_code}"] += 1
    SLOWEST.append((elapsed, where))
    SLOWEST.sort(reverse=True)
    del SLOWEST[5:]

    status, text = response.status_code, response.text
    assert status < 500, f"{where}: {text[:1000]}\n{ERRORS.text()}"
    assert not ERRORS.records, f"{where}: the server logged an error:\n{ERRORS.text()}\nresponse: {text[:500]}"
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    sent = _what_was_sent(url, content, headers, echo)
    if media_type == "text/html":  # GraphiQL, for a browser
        assert method == "GET", f"{where}: HTML for a {method}"
        assert status == 200, f"{where}: HTML with {status}"
        found: Any = None
        received = text
    else:
        assert media_type in JSON_TYPES, f"{where}: answered in {media_type!r}: {text[:300]}"
        found = _loads(text)
        assert found is not None, f"{where}: the body is not JSON: {text[:300]}"
        if isinstance(found, list):
            assert status == 200, f"{where}: {text[:300]}"
            for result in found:
                _check_result(result, where)
        else:
            _check_result(found, where)
        if status >= 400:
            assert isinstance(found, dict) and found.get("errors"), f"{where}: a refusal that says nothing: {text:.300}"
        received = text + "\n" + "\n".join(_strings(found))
    leaks = [m for m in LEAK_MARKERS if m in received and m not in sent]
    assert not leaks, f"{where}: leaks {leaks}: {text[:2000]}"
    return found


def internal() -> dict[str, str]:
    return bearer("internal")


# -- strategies: the pieces of a request ---------------------------------------------------

INJECTIONS = (
    "' OR 1=1 --",
    "' OR '1'='1",
    "'; DROP TABLE region; --",
    '"; DROP TABLE region; --',
    "1; SELECT pg_sleep(5)",
    "' || pg_sleep(5) || '",
    "' UNION SELECT usename, passwd FROM pg_shadow --",
    "\u0000",
    "CP310115-00001\u0000",
    "\x00' OR 1=1 --",
    "%s",
    "%(code)s",
    "%",
    "_",
    "%%",
    "\\%",
    "\\_",
    "\\",
    "{}",
    "{0}",
    "{{7*7}}",
    "${jndi:ldap://example.invalid/a}",
    "$1",
    "$$",
    "$1$ OR 1=1 $1$",
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\win.ini",
    "/etc/passwd\u0000.png",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "",
    " ",
    "\t\r\n",
    "\u202e310115",
    "\ufeff310115",
    "😀🔥",
    "上海市",
    "浦东新区消费维权联络点",
    "\ud800",
    "a\udfffb",
    "310115",
    "CP310115-00001",
    "91310000MA1FL0000X",
    "C310115-2020-000001",
    "null",
    "undefined",
    "NaN",
    "-1",
    "9" * 40,
    "A" * 5000,
    "'" * 2000,
    "%" * 2000,
    "\u0000" * 100,
)


@st.composite
def huge_strings(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["A", "'", "%", "\\", "上", "😀", "\u0000", "' OR 1=1 -- "]))
    return unit * draw(st.integers(1_000, 20_000))


# Lone surrogates: valid in a JSON string ("\ud800"), not encodable as UTF-8 (or by PostgreSQL).
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
text_values = st.one_of(
    st.sampled_from(INJECTIONS),
    st.sampled_from(INJECTIONS),
    st.text(max_size=40),
    surrogates,
    st.text(st.characters(codec="utf-8"), max_size=20),
    huge_strings(),
)


def b64(text: str, urlsafe: bool = False) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    return (base64.urlsafe_b64encode(raw).decode().rstrip("=")) if urlsafe else base64.b64encode(raw).decode()


NODE_TYPES = (
    "Region",
    "District",
    "ContactPoint",
    "Enterprise",
    "Store",
    "Case",
    "Programme",
    "Membership",
    "StarAward",
    "CrossStoreReturn",
    "Query",
    "Node",
    "Nope",
    "",
)


@st.composite
def node_ids(draw: st.DrawFn) -> str:
    """Raw text, or a global ID (base64 of ``Type:key``) with an injection for the key."""
    value = draw(text_values)
    how = draw(st.sampled_from(["raw", "global", "global", "global-urlsafe", "no-colon"]))
    if how == "raw":
        return value
    if how == "no-colon":
        return b64(value)
    return b64(f"{draw(st.sampled_from(NODE_TYPES))}:{value}", urlsafe=how == "global-urlsafe")


ORDER_NAMES = (
    "code:asc",
    "code:desc",
    "name:asc",
    "established_on:asc",
    "credit_code:asc",
    "opened_at:desc",
    "opened_at:asc",
    "number:asc",
    "returned_on:desc",
    "started_on:desc",
    "x",
    "",
)

CURSOR_VALUES = st.one_of(
    text_values,
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "2020-02-30",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "2020-01-01T00:00:00",
            "2020-01-01T00:00:00+00:00",
            "-9223372036854775808",
            "9223372036854775807",
            "9223372036854775808",
            "1e309",
            "0x10",
            "١٢٣",
        ]
    ),
)


@st.composite
def cursors(draw: st.DrawFn) -> str:
    """Raw text, or a cursor's shape (base64url of a JSON array) with the wrong contents."""
    how = draw(st.sampled_from(["raw", "shaped", "shaped", "shaped", "json", "bytes"]))
    if how == "raw":
        return draw(text_values)
    if how == "bytes":
        return base64.urlsafe_b64encode(draw(st.binary(max_size=40))).decode()
    if how == "json":
        return b64(json.dumps(draw(json_values)), urlsafe=True)
    items = [draw(st.sampled_from(ORDER_NAMES)), draw(CURSOR_VALUES), draw(CURSOR_VALUES)]
    return b64(json.dumps(items, ensure_ascii=False), urlsafe=True)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**31, -(2**31) - 1, 2**63, 10**400, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    text_values,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def literal(value: str) -> str:
    """``value`` as a GraphQL string literal (JSON's escapes are GraphQL's)."""
    return json.dumps(value)


# -- the schema's String and ID arguments, as places an injection goes ----------------------

# (GraphQL type of the argument, a template where {v} is the value, inline or a variable)
STRING_SLOTS: tuple[tuple[str, str], ...] = (
    ("String!", "region(code: {v}) {{ code name districts {{ code }} }}"),
    ("String!", "district(code: {v}) {{ code name contactPoints(first: 2) {{ totalCount }} }}"),
    ("String!", "contactPoint(code: {v}) {{ code name district {{ code }} }}"),
    ("String!", "enterprise(creditCode: {v}) {{ creditCode name }}"),
    ("String!", "case(number: {v}) {{ number status }}"),
    (
        "String!",
        "enterprise(creditCode: {v}) {{ cases(first: 2) {{ totalCount }} crossStoreReturns(first: 2) {{ totalCount }} }}",
    ),
    ("String", "contactPoints(first: 3, filter: {{nameContains: {v}}}) {{ totalCount nodes {{ code }} }}"),
    ("String!", "contactPoints(first: 3, filter: {{districtCodes: [{v}]}}) {{ totalCount }}"),
    ("String!", 'contactPoints(first: 3, filter: {{regionCodes: [{v}, "310000"]}}) {{ totalCount }}'),
    ("String", "enterprises(first: 3, filter: {{nameContains: {v}}}) {{ totalCount nodes {{ creditCode }} }}"),
    ("String!", "enterprises(first: 3, filter: {{districtCodes: [{v}]}}) {{ totalCount }}"),
    ("String!", "cases(first: 3, filter: {{contactPointCodes: [{v}]}}) {{ totalCount }}"),
    ("String!", "cases(first: 3, filter: {{districtCodes: [{v}]}}) {{ totalCount }}"),
    ("String!", "cases(first: 3, filter: {{respondentCreditCodes: [{v}]}}) {{ totalCount }}"),
    ("String!", "crossStoreReturns(first: 3, filter: {{purchaseRegionCodes: [{v}]}}) {{ totalCount }}"),
    ("String!", "crossStoreReturns(first: 3, filter: {{returnRegionCodes: [{v}]}}) {{ totalCount }}"),
    ("String!", "crossStoreReturns(first: 3, filter: {{enterpriseCreditCodes: [{v}]}}) {{ totalCount }}"),
    (
        "String!",
        'district(code: "310115") {{ contactPoints(first: 2, filter: {{nameContains: {v}}}) {{ totalCount }} }}',
    ),
    ("DateTime", "cases(first: 2, filter: {{openedFrom: {v}}}) {{ totalCount }}"),
    ("DateTime", "cases(first: 2, filter: {{closedBefore: {v}}}) {{ totalCount }}"),
    ("Date", "crossStoreReturns(first: 2, filter: {{returnedFrom: {v}}}) {{ totalCount }}"),
    ("Date", "networkStats {{ cases(period: {{from: {v}}}) {{ total }} }}"),
    ("Date", 'region(code: "310000") {{ stats {{ crossStoreReturns(period: {{before: {v}}}) {{ count }} }} }}'),
)
ID_SLOTS: tuple[tuple[str, str], ...] = (
    ("ID!", "node(id: {v}) {{ id __typename ... on District {{ code }} ... on Case {{ number }} }}"),
    ("ID!", "nodes(ids: [{v}, {v}]) {{ id __typename }}"),
)
CONNECTIONS = (
    ("contactPoints", ""),
    ("contactPoints", "orderBy: {{field: NAME}}, "),
    ("contactPoints", "orderBy: {{field: ESTABLISHED_ON, direction: DESC}}, "),
    ("enterprises", ""),
    ("enterprises", "orderBy: {{field: NAME}}, "),
    ("cases", ""),
    ("cases", "orderBy: {{field: NUMBER}}, "),
    ("crossStoreReturns", ""),
    ("crossStoreReturns", "orderBy: {{field: CODE}}, "),
    ('district(code: "310115") {{ contactPoints', ""),
    ("programmes {{ members", ""),
)
CURSOR_SLOTS: tuple[tuple[str, str], ...] = tuple(
    ("String", f"{field}({order}{paging}) {{{{ pageInfo {{{{ endCursor }}}} nodes {{{{ id }}}} }}}}{close}")
    for field, order in CONNECTIONS
    for paging in ("first: 2, after: {v}", "last: 2, before: {v}")
    for close in (" }}" if "{{" in field else "",)
)


# Federation's _entities: representations keyed as each type's @key says, or not.
ENTITY_KEYS = {
    "Case": ("number", "id"),
    "ContactPoint": ("code", "id"),
    "CrossStoreReturn": ("code", "id"),
    "District": ("code", "id"),
    "Enterprise": ("creditCode", "id"),
    "Region": ("code", "id"),
    "Store": ("code", "id"),
}
ENTITIES = (
    "_entities(representations: {v}) {{ __typename ... on Region {{ code }} ... on Case {{ number }}"
    " ... on Enterprise {{ creditCode }} ... on ContactPoint {{ code }} }}"
)


@st.composite
def representations(draw: st.DrawFn) -> dict[str, Any]:
    typename = draw(st.sampled_from([*ENTITY_KEYS, "Programme", "Query", "Node", "_Entity", "", "' OR 1=1 --"]))
    keys = ENTITY_KEYS.get(typename, ("code", "id"))
    found: dict[str, Any] = {"__typename": typename} if draw(st.integers(0, 9)) else {}
    for key in draw(st.lists(st.sampled_from([*keys, *keys, "nope"]), max_size=2, unique=True)):
        found[key] = draw(st.one_of(node_ids() if key == "id" else text_values, json_scalars))
    return found


def object_literal(value: Any) -> str:
    """A JSON value as a GraphQL value literal (objects' keys bare, as GraphQL writes them)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {object_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(object_literal(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "1e999"
    return json.dumps(value)


@st.composite
def injected_operations(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str, ...]]:
    """One or a few root fields, each with an injection in a String/ID argument."""
    fields: list[str] = []
    variables: dict[str, Any] = {}
    definitions: list[str] = []
    echo: list[str] = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["string", "string", "id", "cursor", "entities"]))
        if kind == "entities":
            gql_type, template = "[_Any!]!", ENTITIES
            listed = draw(st.lists(representations(), min_size=1, max_size=3))
            echo.extend(_strings(listed))
            if draw(st.booleans()):
                definitions.append(f"$v{i}: {gql_type}")
                variables[f"v{i}"] = listed
                fields.append(f"f{i}: " + template.format(v=f"$v{i}"))
            else:
                fields.append(f"f{i}: " + template.format(v=object_literal(listed)))
            continue
        if kind == "string":
            gql_type, template = draw(st.sampled_from(STRING_SLOTS))
            value = draw(text_values)
        elif kind == "id":
            gql_type, template = draw(st.sampled_from(ID_SLOTS))
            value = draw(node_ids())
        else:
            gql_type, template = draw(st.sampled_from(CURSOR_SLOTS))
            value = draw(cursors())
        echo.append(value)
        if draw(st.booleans()):
            ref = f"$v{i}"
            definitions.append(f"{ref}: {gql_type}")
            variables[f"v{i}"] = value
        else:
            ref = literal(value)
        fields.append(f"f{i}: " + template.format(v=ref))
    head = f"query Fuzz({', '.join(definitions)})" if definitions else "query Fuzz"
    operation: dict[str, Any] = {"query": head + " { " + " ".join(fields) + " }", "variables": variables}
    if draw(st.booleans()):
        operation["operationName"] = "Fuzz"
    return operation, tuple(echo)


# -- documents: deep, wide, fragments -----------------------------------------------------

# Object fields to walk, per type: the schema's cycles (ContactPoint → District →
# ContactPoint, Enterprise → Case → Enterprise, Store → Enterprise → Store, ...).
RELATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "Query": (
        ("contactPoints(first: {n})", "ContactPointConnection"),
        ("enterprises(first: {n})", "EnterpriseConnection"),
        ("cases(first: {n})", "CaseConnection"),
        ("regions", "Region"),
        ('district(code: "310115")', "District"),
        ('contactPoint(code: "CP310115-00001")', "ContactPoint"),
        ("programmes", "Programme"),
        ("crossStoreReturns(first: {n})", "CrossStoreReturnConnection"),
    ),
    "ContactPointConnection": (("nodes", "ContactPoint"), ("edges", "ContactPointEdge")),
    "ContactPointEdge": (("node", "ContactPoint"),),
    "ContactPoint": (
        ("district", "District"),
        ("cases(first: {n})", "CaseConnection"),
        ("currentRating", "StarAward"),
        ("starAwards", "StarAward"),
        ("memberships", "Membership"),
    ),
    "District": (
        ("contactPoints(first: {n})", "ContactPointConnection"),
        ("region", "Region"),
        ("stats", "Stats"),
    ),
    "Region": (("districts", "District"), ("stats", "Stats")),
    "Stats": (("cases", "CaseStats"), ("contactPoints", "ContactPointStats")),
    "EnterpriseConnection": (("nodes", "Enterprise"), ("edges", "EnterpriseEdge")),
    "EnterpriseEdge": (("node", "Enterprise"),),
    "Enterprise": (
        ("cases(first: {n})", "CaseConnection"),
        ("district", "District"),
        ("stores", "Store"),
        ("brands", "Brand"),
        ("crossStoreReturns(first: {n})", "CrossStoreReturnConnection"),
        ("memberships", "Membership"),
    ),
    "CaseConnection": (("nodes", "Case"), ("edges", "CaseEdge")),
    "CaseEdge": (("node", "Case"),),
    "Case": (("respondent", "Enterprise"), ("contactPoint", "ContactPoint")),
    "Store": (("enterprise", "Enterprise"), ("district", "District"), ("brand", "Brand")),
    "Brand": (("enterprise", "Enterprise"),),
    "StarAward": (("contactPoint", "ContactPoint"), ("upgradedFrom", "StarAward")),
    "Membership": (("programme", "Programme"),),
    "Programme": (("members(first: {n})", "MembershipConnection"),),
    "MembershipConnection": (("nodes", "Membership"),),
    "CrossStoreReturnConnection": (("nodes", "CrossStoreReturn"),),
    "CrossStoreReturn": (("enterprise", "Enterprise"), ("purchaseStore", "Store"), ("returnStore", "Store")),
}
LEAVES = {
    "ContactPointConnection": "totalCount",
    "ContactPointEdge": "cursor",
    "ContactPoint": "code name",
    "District": "code",
    "Region": "code",
    "Stats": "contactPoints { total }",
    "CaseStats": "total",
    "ContactPointStats": "total",
    "EnterpriseConnection": "totalCount",
    "EnterpriseEdge": "cursor",
    "Enterprise": "creditCode",
    "CaseConnection": "totalCount",
    "CaseEdge": "cursor",
    "Case": "number",
    "Store": "code",
    "Brand": "name",
    "StarAward": "batch stars",
    "Membership": "id member { __typename ... on ContactPoint { code } ... on Enterprise { creditCode } }",
    "Programme": "code",
    "MembershipConnection": "totalCount",
    "CrossStoreReturnConnection": "totalCount",
    "CrossStoreReturn": "code",
}
# Mostly small pages, so what runs stays cheap; sometimes the limit, or past it.
PAGES = st.sampled_from([0, 1, 1, 1, 2, 2, 3, 1, 2, 0, 1, 2, -1, 101, 2**31 - 1, 100])


@st.composite
def deep_queries(draw: st.DrawFn) -> str:
    """A path down the schema's cycles, up to twice the depth limit, leaves along the way."""
    steps = draw(st.lists(st.integers(0, 7), min_size=1, max_size=32))
    kind, opened = "Query", []
    for index, step in enumerate(steps):
        choices = RELATIONS.get(kind)
        if choices is None:  # a type with scalars only: the path ends here
            break
        field, kind = choices[step % len(choices)]
        alias = draw(st.sampled_from(["", "", "", f"a{index}: "]))
        extra = draw(st.sampled_from(["", "", "__typename "]))
        opened.append(f"{extra}{alias}{field.format(n=draw(PAGES))}")
    return "{ " + " { ".join(opened) + " { " + LEAVES[kind] + " }" * len(opened) + " }"


WIDE_FIELDS = (
    "__typename",
    "regions { code }",
    'region(code: "310000") { name }',
    "networkStats { contactPoints { total } }",
    "networkStats { cases { total byStatus { status count } } }",
    "contactPoints(first: 1) { totalCount }",
    "contactPoints(first: 100) { nodes { code cases(first: 100) { totalCount } } }",
    'contactPoint(code: "CP310115-00001") { district { contactPoints(first: 5) { nodes { code } } } }',
    "enterprises(first: 2) { nodes { stores { code } } }",
    "cases(first: 5) { nodes { number respondent { name } } }",
    "programmes { members(first: 3) { totalCount } }",
)


@st.composite
def wide_queries(draw: st.DrawFn) -> str:
    """Many aliases of one field (an alias bomb), or the same field repeated (which merges)."""
    field = draw(st.sampled_from(WIDE_FIELDS))
    count = draw(st.sampled_from([1, 2, 10, 49, 50, 51, 100, 300, 1000]))
    aliased = draw(st.booleans())
    return "{ " + " ".join(f"a{i}: {field}" if aliased else field for i in range(count)) + " }"


@st.composite
def fragment_documents(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["self", "pair", "ring", "nested-cycle", "laughs", "laughs-nested", "odd"]))
    if kind == "self":
        return "query { ...A } fragment A on Query { regions { code } ...A }"
    if kind == "pair":
        return "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { regions { code } ...A }"
    if kind == "ring":
        size = draw(st.integers(3, 60))
        fragments = " ".join(f"fragment F{i} on Query {{ __typename ...F{(i + 1) % size} }}" for i in range(size))
        return "{ ...F0 } " + fragments
    if kind == "nested-cycle":
        return (
            'query { contactPoint(code: "CP310115-00001") { ...P } } '
            "fragment P on ContactPoint { code district { ...D } } "
            "fragment D on District { code contactPoints(first: 1) { nodes { ...P } } }"
        )
    if kind in ("laughs", "laughs-nested"):
        levels = draw(st.integers(2, 30))
        width = draw(st.integers(2, 12))
        spreads = lambda i: " ".join([f"...L{i + 1}"] * width)  # noqa: E731
        if kind == "laughs":
            body = [f"fragment L{i} on Query {{ {spreads(i)} }}" for i in range(levels)]
            body.append(f"fragment L{levels} on Query {{ __typename regions {{ code }} }}")
            return "{ ...L0 } " + " ".join(body)
        body = [f"fragment L{i} on Region {{ code districts {{ region {{ {spreads(i)} }} }} }}" for i in range(levels)]
        body.append(f"fragment L{levels} on Region {{ name }}")
        return "{ regions { ...L0 } } " + " ".join(body)
    return draw(
        st.sampled_from(
            [
                "{ ...Missing }",
                "{ ...A } fragment A on Nope { x }",
                "{ ...A } fragment A on String { x }",
                "{ ...A } fragment A on Region { code }",
                "{ regions { ...A } } fragment A on Region { code } fragment A on Region { name }",
                "{ __typename } fragment Unused on Query { regions { code } }",
                "{ ... on Region { code } }",
                "{ regions { ... on Query { regions { code } } } }",
                '{ node(id: "x") { ... on Region { code: name } ... on District { code: region { code } } } }',
                "{ regions { code: name code } }",
                "{ regions { code(x: 1) } }",
                "fragment A on Query { __typename }",
                "query A { __typename } query A { regions { code } }",
                "query { __typename } query { regions { code } }",
                "mutation { __typename }",
                "subscription { __typename }",
                "query ($a: Int, $a: String) { __typename }",
                "query ($a: Nope) { __typename }",
                "query { __typename @nope }",
                "query { __typename @skip(if: true) @skip(if: false) }",
                "query @include(if: false) { __typename }",
                "{ __schema { types { name fields { name } } } }",
                '{ __type(name: "Query") { fields { name args { name type { name } } } } }',
                "{ a: __schema { queryType { name } } b: __schema { queryType { name } } }",
                "query Q($d: Int = 3) { contactPoints(first: $d) { totalCount } }",
                "{ regions }",
                "{ regions { code { x } } }",
                "{ nope }",
                "",
                " ",
                "{",
                "}",
                "{ regions { code }",
                "query ($) { __typename }",
                '{ "string" }',
                "{ a: b: c }",
                '{ region(code: """multi\nline""") { code } }',
                '{ region(code: "unterminated) { code } }',
                '{ region(code: "\\u{110000}") { code } }',
                '{ region(code: "\\ud800") { code } }',
                '{ region(code: "\\x00") { code } }',
                "{ region(code: 310000) { code } }",
                "{ region(code: null) { code } }",
                "{ region { code } }",
                "{ contactPoints(first: 1, last: 1) { totalCount } }",
                '{ contactPoints(first: "1") { totalCount } }',
                "{ contactPoints(first: 1.5) { totalCount } }",
                "{ contactPoints(first: 99999999999) { totalCount } }",
                "{ contactPoints(filter: {hostKinds: [NOPE]}) { totalCount } }",
                "{ contactPoints(filter: {nope: 1}) { totalCount } }",
                "{ contactPoints(orderBy: {field: NAME, direction: SIDEWAYS}) { totalCount } }",
                "{ contactPoints(filter: {ratedInBatches: [99999999999]}) { totalCount } }",
                "\u0000",
                "\ufeff{ __typename }",
                "{ __typename } # comment \u0000",
            ]
        )
    )


@st.composite
def token_soup(draw: st.DrawFn) -> str:
    """GraphQL-looking garbage: the lexer and parser on everything."""
    tokens = st.sampled_from(
        [
            "{", "}", "(", ")", "[", "]", ":", "$", "@", "!", "=", "|", "&", "...", "..", ".",
            "query", "mutation", "subscription", "fragment", "on", "true", "false", "null",
            "regions", "code", "region", "node", "__typename", "__schema", "A", "1", "-1", "1.5e", "0x1",
            '"x"', '"', '"""', "\\", "#", "\n", ",", "\t", "\u00a0", "上", "😀", "\u0000",
        ]
    )  # fmt: skip
    return " ".join(draw(st.lists(tokens, max_size=60)))


# -- requests: bodies, headers, methods ----------------------------------------------------

CONTENT_TYPES = (
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json;;;",
    "APPLICATION/JSON",
    "application/graphql",
    "application/graphql-response+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=----x",
    "text/plain",
    "text/html",
    "application/xml",
    "*/*",
    "",
    ";",
    "application/",
    "garbage \x7f; q=",
)
ACCEPTS = (
    None,
    "application/json",
    "application/graphql-response+json",
    "application/graphql-response+json, application/json;q=0.9",
    "application/json;q=0",
    "application/graphql-response+json;q=abc",
    "application/*",
    "*/*",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application/xml",
    "multipart/mixed",
    "text/event-stream",
    "",
    ";;;,,,",
    "application/json;q=-1, */*;q=1e400",
)


def bad_tokens() -> st.SearchStrategy[str]:
    """Credentials that are not valid, in every way a header can be wrong."""
    claims = st.fixed_dictionaries(
        {},
        optional={
            "role": st.sampled_from(["root", "", "INTERNAL", 1, None, [], {}, ["internal"]]),
            "regions": st.sampled_from(["310000", ["31000"], [1], {}, ["310000' OR 1=1"], "x" * 100]),
            "districts": st.sampled_from([["310115"], "x", [None]]),
            "sub": st.sampled_from(["", 1, {"a": 1}, "x" * 1000]),
        },
    )
    signed = st.builds(
        lambda role, extra, lifetime: token(extra.pop("role", role), lifetime=lifetime, **extra),
        st.sampled_from(["internal", "partner", "case_officer", "admin", "anonymous", "nope"]),
        claims,
        st.sampled_from([300, -3600, 10**10]),
    )
    forged = st.builds(
        lambda body: ".".join(
            [b64(json.dumps({"alg": "none", "typ": "JWT"}), urlsafe=True), b64(json.dumps(body), urlsafe=True), ""]
        ),
        st.fixed_dictionaries({"role": st.just("admin"), "iss": st.just(JWT_ENV["LIAISON_JWT_ISSUER"])}),
    )
    return st.one_of(
        st.sampled_from(
            [
                "",
                "Bearer",
                "Bearer ",
                "Bearer garbage",
                "Bearer a.b.c",
                "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
                "Basic dXNlcjpwYXNz",
                "bearer lgk_0123456789ab_" + "A" * 43,
                "Bearer lgk_' OR 1=1 --",
                "Bearer lgk_",
                "Bearer " + "x" * 5000,
                "Token abc",
            ]
        ),
        signed.map(lambda t: f"Bearer {t}"),
        forged.map(lambda t: f"Bearer {t}"),
    )


def header_text() -> st.SearchStrategy[str]:
    """What an HTTP header may carry through the client: printable Latin-1."""
    return st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80)


@st.composite
def headers(draw: st.DrawFn, content_type: bool = True) -> dict[str, str]:
    found: dict[str, str] = {}
    if content_type:
        value = draw(st.sampled_from(CONTENT_TYPES))
        if value is not None:
            found["content-type"] = value
    accept = draw(st.sampled_from(ACCEPTS))
    if accept is not None:
        found["accept"] = accept
    who = draw(st.sampled_from(["anonymous", "anonymous", "internal", "bad"]))
    if who == "internal":
        found.update(internal())
    elif who == "bad":
        found["authorization"] = draw(bad_tokens())
    if draw(st.integers(0, 4)) == 0:
        found["x-request-id"] = draw(st.one_of(st.sampled_from(["", "x" * 65, "ok-1", "' OR 1=1"]), header_text()))
    if draw(st.integers(0, 6)) == 0:
        found[draw(st.sampled_from(["origin", "x-forwarded-for", "cookie", "user-agent"]))] = draw(header_text())
    return found


wrong_field_values = st.one_of(json_values, st.just(...))  # ...: leave the field out


@st.composite
def request_objects(draw: st.DrawFn) -> Any:
    """A JSON object shaped like a GraphQL request, each field possibly of the wrong type."""
    found: dict[str, Any] = {}
    query = draw(
        st.one_of(
            st.sampled_from(
                ["{ regions { code } }", "{ __typename }", "query Q { __typename } query R { __typename }"]
            ),
            token_soup(),
            json_values,
            st.just(...),
        )
    )
    if query is not ...:
        found["query"] = query
    for name in ("variables", "operationName", "extensions"):
        value = draw(st.one_of(wrong_field_values, st.just(...), st.sampled_from(["Q", "R", "", {}, {"a": 1}])))
        if value is not ...:
            found[name] = value
    extra = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2))
    return {**extra, **found}


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "utf8-invalid", "json", "object", "object", "text", "near-json"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "utf8-invalid":
        prefix = draw(st.sampled_from([b'{"query": "', b"", b'{"query": "{ region(code: \\"']))
        junk = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xc0\xaf"])
        )
        return prefix + junk + draw(st.sampled_from([b"", b'"}', b'\\") { code } }"}']))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "object":
        return json.dumps(draw(request_objects())).encode()
    if kind == "text":
        return draw(st.one_of(token_soup(), st.text(max_size=100))).encode("utf-8", "surrogatepass")
    return draw(
        st.sampled_from(
            [
                b"",
                b"{",
                b"}",
                b"[",
                b"[]",
                b"[[]]",
                b"{}",
                b"null",
                b"0",
                b'""',
                b'"{ __typename }"',
                b'{"query": "{ __typename }"',
                b'{"query": "{ __typename }"}}',
                b'{"query": "{ __typename }",}',
                b"{'query': '{ __typename }'}",
                b'{"query": NaN}',
                b'{"query": "{ __typename }", "variables": NaN}',
                b'{"query": "{ __typename }", "variables": {"a": Infinity}}',
                b'{"query": "{ __typename }", "query": "{ regions { code } }"}',
                b'\xef\xbb\xbf{"query": "{ __typename }"}',
                b'\x00{"query": "{ __typename }"}',
                b'{"query": "{ __typename }"}\x00',
                b'{"query": "\\ud800"}',
                b'{"query": "{ region(code: \\"\\ud800\\") { code } }"}',
                b'{"query": "query ($c: String!) { region(code: $c) { code } }", "variables": {"c": "\\udfff"}}',
                b'{"query": "query ($c: String!) { region(code: $c) { code } }", "variables": {"c": "\\u0000"}}',
                b'{"query": "{ __typename }", "variables": "{\\"a\\": 1}"}',
                b'{"query": "{ __typename }", "variables": "not json"}',
                b'{"query": 1e999}',
                b'{"query": "' + b"9" * 5000 + b'"}',
                b'{"query": ' + b"9" * 5000 + b"}",
                b"query=%7B__typename%7D",
                b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{}\r\n--x--',
                b"\xff\xfe{\x00}\x00",
            ]
        )
    )


# -- the tests -----------------------------------------------------------------------------


@settings(FUZZ, max_examples=1000)
@given(body=raw_bodies(), request_headers=headers())
def test_malformed_bodies_and_content_types(client: TestClient, body: bytes, request_headers: dict[str, str]) -> None:
    send(client, content=body, headers=request_headers, label="malformed bodies")


@settings(FUZZ, max_examples=800)
@given(
    method=st.sampled_from(["GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    query=st.one_of(
        st.just(None),
        st.sampled_from(["{ regions { code } }", "mutation { __typename }", "{ cases(first: 1) { totalCount } }"]),
        deep_queries(),
        fragment_documents(),
        token_soup(),
        st.text(max_size=40),
    ),
    variables=st.one_of(st.none(), json_values.map(json.dumps), st.text(max_size=20)),
    operation_name=st.one_of(st.none(), st.sampled_from(["", "Q", "x" * 300]), st.text(max_size=10)),
    extra=st.lists(
        st.tuples(st.sampled_from(["query", "variables", "operationName", "extensions", "x"]), st.text(max_size=20)),
        max_size=2,
    ),
    request_headers=headers(),
    body=st.one_of(st.none(), raw_bodies()),
)
def test_methods_parameters_and_headers(
    client: TestClient,
    method: str,
    query: str | None,
    variables: str | None,
    operation_name: str | None,
    extra: list[tuple[str, str]],
    request_headers: dict[str, str],
    body: bytes | None,
) -> None:
    params = [
        (k, v)
        for k, v in (("query", query), ("variables", variables), ("operationName", operation_name))
        if v is not None
    ]
    assume(len(urlencode(params + extra)) < 60_000)  # what the client can put in a URL
    send(
        client, method, content=body, headers=request_headers, params=tuple(params + extra), label="methods and params"
    )


@settings(FUZZ, max_examples=60)
@given(
    size=st.integers(MAX_BODY - 64, MAX_BODY * 3),
    shape=st.sampled_from(["string variable", "query", "bytes", "array", "chunked", "declared-small", "declared-huge"]),
    request_headers=headers(content_type=False),
)
def test_bodies_over_the_limit(client: TestClient, size: int, shape: str, request_headers: dict[str, str]) -> None:
    """Past LIAISON_MAX_BODY_BYTES: 413 with a code, whether or not the length is declared."""
    request_headers["content-type"] = "application/json"
    if shape == "string variable":
        body = json.dumps(
            {"query": "query ($c: String!) { region(code: $c) { code } }", "variables": {"c": "'" * size}}
        ).encode()
    elif shape == "query":
        body = json.dumps({"query": "{ " + "__typename " * (size // 11) + "}"}).encode()
    elif shape == "array":
        body = json.dumps([{"query": "{ __typename }"}] * (size // 28)).encode()
    else:
        body = b"A" * size
    if shape == "declared-small":
        request_headers["content-length"] = "10"
    elif shape == "declared-huge":
        body = b'{"query": "{ __typename }"}'
        request_headers["content-length"] = str(10**12)
    found = send(
        client, content=body, headers=request_headers, chunked=shape == "chunked", label="bodies over the limit"
    )
    if shape == "declared-huge" or (len(body) > MAX_BODY and shape != "declared-small"):
        assert found["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE", found


@settings(FUZZ, max_examples=400)
@given(
    document=st.one_of(deep_queries(), deep_queries(), wide_queries(), fragment_documents(), token_soup()),
    as_internal=st.booleans(),
    accept=st.sampled_from([None, "application/graphql-response+json"]),
)
def test_deep_wide_and_fragment_documents(
    client: TestClient, document: str, as_internal: bool, accept: str | None
) -> None:
    request_headers = internal() if as_internal else {}
    if accept:
        request_headers["accept"] = accept
    send(client, body={"query": document}, headers=request_headers, label="deep, wide, fragments")


@settings(FUZZ, max_examples=150)
@given(
    shape=st.sampled_from(
        [
            "json-array",
            "json-object",
            "variable-array",
            "variable-object",
            "list-value",
            "object-value",
            "inline-fragments",
            "selections",
            "directives",
            "variables-defined",
            "parentheses",
        ]
    ),
    depth=st.sampled_from([10, 100, 300, 500, 900, 1_000, 1_200, 2_000, 2_400, 5_000, 20_000, 45_000]),
    as_internal=st.booleans(),
)
def test_nesting_that_would_exhaust_a_recursive_parser(
    client: TestClient, shape: str, depth: int, as_internal: bool
) -> None:
    """Nesting within the body and token limits, for the JSON decoder, the GraphQL parser,
    validation and the cost walk: each must refuse it, none may overflow its stack."""
    query = "{ __typename }"
    variables: Any = None
    raw: bytes | None = None
    tokens = min(depth, 2_400)  # the document stays within LIAISON_MAX_TOKENS (5000)
    if shape == "json-array":
        raw = b'{"query": "{ __typename }", "x": ' + b"[" * depth + b"]" * depth + b"}"
    elif shape == "json-object":
        raw = b'{"query": "{ __typename }", "variables": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    elif shape == "variable-array":
        query = "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }"
        raw = (
            json.dumps({"query": query}).encode()[:-1]
            + b', "variables": {"ids": '
            + b"[" * depth
            + b"]" * depth
            + b"}}"
        )
    elif shape == "variable-object":
        query = "query ($f: ContactPointFilter) { contactPoints(filter: $f, first: 1) { totalCount } }"
        raw = (
            json.dumps({"query": query}).encode()[:-1]
            + b', "variables": {"f": '
            + b'{"a":' * depth
            + b"1"
            + b"}" * depth
            + b"}}"
        )
    elif shape == "list-value":
        query = "{ nodes(ids: " + "[" * tokens + "]" * tokens + ") { id } }"
    elif shape == "object-value":
        levels = tokens // 2
        query = "{ contactPoints(filter: " + "{a: " * levels + "1" + "}" * levels + ") { totalCount } }"
    elif shape == "inline-fragments":
        levels = min(depth, 990)
        query = "{ " + "... on Query { " * levels + "__typename" + " }" * levels + " }"
    elif shape == "selections":
        levels = min(depth, 1_600)
        query = "{ " + "regions { districts { region { " * (levels // 3) + "code" + " } } }" * (levels // 3) + " }"
    elif shape == "directives":
        query = "{ __typename " + "@skip(if: false) " * (tokens // 6) + "}"
    elif shape == "variables-defined":
        query = "query (" + " ".join(f"$v{i}: Int" for i in range(tokens // 4)) + ") { __typename }"
    else:
        query = "{ region(code: " + "(" * tokens + '"310000"' + ")" * tokens + ") { code } }"
    request_headers = internal() if as_internal else {}
    if raw is None:
        raw = json.dumps({"query": query, "variables": variables}).encode()
    request_headers["content-type"] = "application/json"
    send(client, content=raw, headers=request_headers, label="nesting")


@settings(FUZZ, max_examples=300)
@given(
    operations=st.lists(
        st.one_of(
            st.just({"query": "{ regions { code } }"}),
            st.just({"query": "mutation { __typename }"}),
            deep_queries().map(lambda q: {"query": q}),
            wide_queries().map(lambda q: {"query": q}),
            fragment_documents().map(lambda q: {"query": q}),
            injected_operations().map(lambda pair: pair[0]),
            request_objects(),
            json_values,
        ),
        max_size=MAX_OPERATIONS + 5,
    ),
    request_headers=headers(content_type=False),
)
def test_batches(client: TestClient, operations: list[Any], request_headers: dict[str, str]) -> None:
    found = send(client, body=operations, headers=request_headers, label="batches")
    if isinstance(found, list):  # run: then within the limit, one result per operation
        assert len(found) == len(operations) <= MAX_OPERATIONS, found


TYPED_OPERATIONS = (
    ("query ($c: String!) { region(code: $c) { code } }", {"c": "String!"}),
    ("query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }", {"r": "[_Any!]!"}),
    ("query ($n: Int) { contactPoints(first: $n) { totalCount } }", {"n": "Int"}),
    ("query ($n: Int!, $a: String) { enterprises(first: $n, after: $a) { totalCount } }", {"n": "Int!", "a": "String"}),
    ("query ($id: ID!) { node(id: $id) { id } }", {"id": "ID!"}),
    ("query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": "[ID!]!"}),
    (
        "query ($f: ContactPointFilter) { contactPoints(filter: $f, first: 2) { totalCount } }",
        {"f": "ContactPointFilter"},
    ),
    (
        "query ($o: ContactPointOrder) { contactPoints(orderBy: $o, first: 2) { totalCount } }",
        {"o": "ContactPointOrder"},
    ),
    (
        "query ($f: EnterpriseFilter, $o: EnterpriseOrder) { enterprises(filter: $f, orderBy: $o, first: 2) { totalCount } }",
        {"f": "EnterpriseFilter", "o": "EnterpriseOrder"},
    ),
    (
        "query ($f: CaseFilter, $o: CaseOrder) { cases(filter: $f, orderBy: $o, first: 2) { totalCount } }",
        {"f": "CaseFilter", "o": "CaseOrder"},
    ),
    (
        "query ($f: CrossStoreReturnFilter) { crossStoreReturns(filter: $f, first: 2) { totalCount } }",
        {"f": "CrossStoreReturnFilter"},
    ),
    ("query ($p: Period) { networkStats { cases(period: $p) { total } } }", {"p": "Period"}),
    ("query ($b: Boolean!) { regions @include(if: $b) { code } }", {"b": "Boolean!"}),
    ("query ($s: [Stars!]) { contactPoints(filter: {currentStars: $s}, first: 1) { totalCount } }", {"s": "[Stars!]"}),
    (
        "query ($k: [HostKind!]) { contactPoints(filter: {hostKinds: $k}, first: 1) { totalCount } }",
        {"k": "[HostKind!]"},
    ),
    ("query ($b: [Int!]) { contactPoints(filter: {ratedInBatches: $b}, first: 1) { totalCount } }", {"b": "[Int!]"}),
    ("query ($d: DateTime) { cases(filter: {openedFrom: $d}, first: 1) { totalCount } }", {"d": "DateTime"}),
    ("query ($d: Date) { crossStoreReturns(filter: {returnedBefore: $d}, first: 1) { totalCount } }", {"d": "Date"}),
    ("query ($x: Int = 2) { contactPoints(first: $x) { totalCount } }", {"x": "Int"}),
)

FILTER_FIELDS = (
    "statuses", "kinds", "channels", "categories", "openedFrom", "openedBefore", "closedFrom", "closedBefore",
    "contactPointCodes", "districtCodes", "respondentCreditCodes", "settled", "regionCodes", "hostKinds",
    "currentStars", "ratedInBatches", "honours", "programmes", "programmeLevels", "hasOnlineMediation",
    "nameContains", "odrClasses", "purchaseRegionCodes", "returnRegionCodes", "enterpriseCreditCodes",
    "returnedFrom", "returnedBefore", "field", "direction", "from", "before", "nope",
)  # fmt: skip
ENUM_WORDS = st.sampled_from(
    [
        "SETTLED",
        "COMPLAINT",
        "FOUR",
        "FIVE",
        "MARKET_MALL",
        "ODR",
        "A",
        "NAME",
        "ASC",
        "DESC",
        "CODE",
        "nope",
        "",
        "settled",
    ]
)
variable_values = st.one_of(
    json_values,
    ENUM_WORDS,
    st.lists(st.one_of(ENUM_WORDS, text_values, st.integers(), st.none()), max_size=5),
    st.dictionaries(
        st.sampled_from(FILTER_FIELDS),
        st.one_of(json_values, ENUM_WORDS, st.lists(ENUM_WORDS, max_size=3), st.lists(text_values, max_size=3)),
        max_size=5,
    ),
    CURSOR_VALUES,
)


@settings(FUZZ, max_examples=800)
@given(
    operation=st.sampled_from(TYPED_OPERATIONS),
    values=st.data(),
    variables_shape=st.sampled_from(["object", "object", "object", "not-object", "missing"]),
    as_internal=st.booleans(),
)
def test_variables_of_the_wrong_type(
    client: TestClient,
    operation: tuple[str, dict[str, str]],
    values: st.DataObject,
    variables_shape: str,
    as_internal: bool,
) -> None:
    query, declared = operation
    body: dict[str, Any] = {"query": query}
    if variables_shape == "object":
        variables = {
            name: values.draw(variable_values, label=name) for name in declared if values.draw(st.integers(0, 5))
        }
        variables.update(values.draw(st.dictionaries(st.text(max_size=5), json_values, max_size=2), label="extra"))
        body["variables"] = variables
    elif variables_shape == "not-object":
        body["variables"] = values.draw(json_values, label="variables")
    send(client, body=body, headers=internal() if as_internal else {}, label="wrong variables")


@settings(FUZZ, max_examples=900)
@given(operation=injected_operations(), as_internal=st.booleans())
def test_injection_strings_in_every_string_argument(
    client: TestClient, operation: tuple[dict[str, Any], tuple[str, ...]], as_internal: bool
) -> None:
    body, echo = operation
    found = send(client, body=body, headers=internal() if as_internal else {}, echo=echo, label="injections")
    assert isinstance(found, dict)
    for code in {e["extensions"]["code"] for e in found.get("errors", [])}:
        # The value is refused as a value or found missing; nothing else may come of it.
        assert code in (
            "BAD_USER_INPUT",
            "GRAPHQL_VALIDATION_FAILED",
            "GRAPHQL_PARSE_FAILED",
            "FORBIDDEN",
            "TOO_MANY_TOKENS",
            "QUERY_TOO_COMPLEX",
            "PAYLOAD_TOO_LARGE",
        ), found


def test_the_service_is_still_healthy(client: TestClient) -> None:
    """After everything above: alive, ready, answering, its data intact."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}
    found = send(client, body={"query": "{ regions { code } }"}, label="health")
    assert [r["code"] for r in found["data"]["regions"]] == ["310000", "320000", "330000", "340000"]
    found = send(client, body={"query": "{ cases(first: 1) { totalCount } }"}, headers=internal(), label="health")
    assert found["data"]["cases"]["totalCount"] > 0
    found = send(client, body={"query": '{ contactPoint(code: "CP310115-00001") { name } }'}, label="health")
    assert found["data"]["contactPoint"]["name"]
    total = sum(v for k, v in STATS.items() if not k.startswith("status"))
    print(f"\n{total} requests in {time.monotonic() - STARTED:.1f}s")
    for key, count in sorted(STATS.items()):
        print(f"  {key}: {count}")
    print("slowest:")
    for elapsed, where in SLOWEST:
        print(f"  {elapsed:.2f}s {where[:200]}")
