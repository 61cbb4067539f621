"""Who reads what: roles at field level (FORBIDDEN), rows and masks in SQL, per credential.

Expected rows come from SQL written here, independently of ``db.access``.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from db import saved
from db.access import Role
from db.credentials import create_key, revoke_key

from .support import bearer, service

ZHEJIANG = "330000"
HUANGPU = "310101"

CASE_FIELDS = "number consumerName consumerPhone contactPoint { code } respondent { creditCode }"

# Root fields and nested fields that only some roles may read, each with what it needs.
CASE_QUERIES = {
    "cases": "{ cases(first: 1) { totalCount } }",
    "case": '{ case(number: "C310115-2020-000001") { number } }',
    "crossStoreReturns": "{ crossStoreReturns(first: 1) { totalCount } }",
    "ContactPoint.cases": '{ contactPoint(code: "CP310115-00001") { code cases(first: 1) { totalCount } } }',
    "Enterprise.cases": "{ enterprises(first: 1) { nodes { creditCode cases(first: 1) { totalCount } } } }",
    "Enterprise.crossStoreReturns": (
        "{ enterprises(first: 1) { nodes { creditCode crossStoreReturns(first: 1) { totalCount } } } }"
    ),
}
PUBLIC_QUERY = """{
  regions { code districts { code } }
  contactPoints(first: 3) { totalCount nodes { code name district { name } } }
  enterprises(first: 3) { totalCount nodes { creditCode name } }
  programmes { code }
  networkStats { cases { total } }
}"""

ROLE_CLAIMS: dict[Role, dict[str, Any]] = {
    Role.PARTNER: {"regions": [ZHEJIANG]},
    Role.INTERNAL: {},
    Role.CASE_OFFICER: {"districts": [HUANGPU]},
    Role.ADMIN: {},
}


def post(client: TestClient, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def mask_name(name: str) -> str:
    return name[0] + "*" if len(name) > 1 else "*"


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


@pytest.fixture(scope="module")
def anonymous(demo_dsn: str) -> Any:
    with service(demo_dsn, role=None) as client:
        yield client


async def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@pytest.mark.parametrize("field", CASE_QUERIES)
def test_anonymous_reads_no_cases_or_returns(anonymous: TestClient, field: str) -> None:
    body = post(anonymous, CASE_QUERIES[field])
    assert codes(body) == ["FORBIDDEN"]
    assert "needs one of the roles" in body["errors"][0]["message"]
    # The refused field is null; its parents and siblings stand.
    if field == "ContactPoint.cases":
        assert body["data"] == {"contactPoint": {"code": "CP310115-00001", "cases": None}}
    elif field.startswith("Enterprise."):
        node = body["data"]["enterprises"]["nodes"][0]
        assert node["creditCode"] and node[field.split(".")[1]] is None
    else:
        assert body["data"] == {field: None}


def test_anonymous_reads_the_public_directory(anonymous: TestClient) -> None:
    body = post(anonymous, PUBLIC_QUERY)
    assert "errors" not in body
    data = body["data"]
    assert len(data["regions"]) == 4 and data["contactPoints"]["totalCount"] > 0
    assert data["networkStats"]["cases"]["total"] > 0  # aggregates are public


async def test_anonymous_gets_no_case_by_global_id(anonymous: TestClient, demo_dsn: str) -> None:
    internal = bearer("internal")
    found = post(anonymous, '{ contactPoint(code: "CP310115-00001") { id } }')
    assert found["data"]["contactPoint"]["id"]
    case_id = post(anonymous, '{ case(number: "C310115-2020-000001") { id } }', internal)["data"]["case"]["id"]
    body = post(anonymous, f'{{ node(id: "{case_id}") {{ id ... on Case {{ number }} }} }}')
    assert body == {"data": {"node": None}, "extensions": body["extensions"]}
    assert post(anonymous, f'{{ node(id: "{case_id}") {{ id }} }}', internal)["data"]["node"]["id"] == case_id


async def test_a_partner_reads_the_cases_and_returns_of_its_region(demo_dsn: str) -> None:
    expected_cases = {
        r[0]
        for r in await fetch(
            demo_dsn,
            'SELECT c.number FROM "case" c JOIN enterprise e ON e.id = c.respondent_enterprise_id'
            " JOIN district d ON d.code = e.district_code WHERE d.region_code = $1"
            ' UNION SELECT c.number FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
            " JOIN district d ON d.code = p.district_code WHERE d.region_code = $1",
            ZHEJIANG,
        )
    }
    expected_returns = {
        r[0]
        for r in await fetch(
            demo_dsn,
            "SELECT DISTINCT r.code FROM cross_store_return r JOIN store s ON s.id IN (r.purchase_store_id, r.return_store_id)"
            " JOIN district d ON d.code = s.district_code WHERE d.region_code = $1",
            ZHEJIANG,
        )
    }
    assert 0 < len(expected_cases) <= 100 and len(expected_returns) > 0
    outside = (await fetch(demo_dsn, 'SELECT number FROM "case" WHERE respondent_enterprise_id IS NULL LIMIT 1'))[0][0]
    with service(demo_dsn, role=None) as client:
        partner = bearer("partner", regions=[ZHEJIANG])
        body = post(client, "{ cases(first: 100) { totalCount nodes { number } } }", partner)
        assert "errors" not in body
        assert body["data"]["cases"]["totalCount"] == len(expected_cases)
        assert {n["number"] for n in body["data"]["cases"]["nodes"]} == expected_cases
        body = post(client, "{ crossStoreReturns(first: 1) { totalCount } }", partner)
        assert body["data"]["crossStoreReturns"]["totalCount"] == len(expected_returns)
        assert post(client, f'{{ case(number: "{outside}") {{ number }} }}', partner)["data"] == {"case": None}
        # No personal data at all, not even masked.
        number = min(expected_cases)
        body = post(client, f'{{ case(number: "{number}") {{ number consumerName consumerPhone }} }}', partner)
        assert codes(body) == ["FORBIDDEN", "FORBIDDEN"]
        assert body["data"]["case"] == {"number": number, "consumerName": None, "consumerPhone": None}


async def test_internal_and_admin_read_every_case_with_consumers_masked(demo_dsn: str) -> None:
    rows = await fetch(
        demo_dsn,
        'SELECT number, consumer_name, consumer_phone FROM "case"'
        " WHERE consumer_name IS NOT NULL AND consumer_phone IS NOT NULL ORDER BY number LIMIT 5",
    )
    total = (await fetch(demo_dsn, 'SELECT count(*) FROM "case"'))[0][0]
    with service(demo_dsn, role=None) as client:
        for role in ("internal", "admin"):
            headers = bearer(role)
            assert post(client, "{ cases(first: 0) { totalCount } }", headers)["data"]["cases"]["totalCount"] == total
            for number, name, phone in rows:
                body = post(client, f'{{ case(number: "{number}") {{ consumerName consumerPhone }} }}', headers)
                assert body["data"]["case"] == {"consumerName": mask_name(name), "consumerPhone": mask_phone(phone)}
                assert name not in str(body) and phone not in str(body)


async def test_a_case_officer_reads_consumers_in_full_only_in_its_districts(demo_dsn: str) -> None:
    query = (
        'SELECT c.number, c.consumer_name, c.consumer_phone FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
        " WHERE c.consumer_name IS NOT NULL AND c.consumer_phone IS NOT NULL AND (p.district_code = $1) = $2"
        " ORDER BY c.number LIMIT 3"
    )
    inside, outside = await fetch(demo_dsn, query, HUANGPU, True), await fetch(demo_dsn, query, HUANGPU, False)
    assert inside and outside
    with service(demo_dsn, role=None) as client:
        officer = bearer("case_officer", districts=[HUANGPU])
        for rows, full in ((inside, True), (outside, False)):
            for number, name, phone in rows:
                body = post(client, f'{{ case(number: "{number}") {{ consumerName consumerPhone }} }}', officer)
                expected = (name, phone) if full else (mask_name(name), mask_phone(phone))
                assert body["data"]["case"] == {"consumerName": expected[0], "consumerPhone": expected[1]}
        # Scoped by region instead: all of Shanghai in full.
        number, name, _ = outside[0]
        regional = bearer("case_officer", regions=["310000"])
        body = post(client, f'{{ case(number: "{number}") {{ consumerName }} }}', regional)
        assert body["data"]["case"] == {"consumerName": name}


@pytest.mark.parametrize("role", list(ROLE_CLAIMS))
def test_the_matrix_of_roles_and_fields(demo_dsn: str, role: Role) -> None:
    """Each role against each guarded field: allowed ones answer, others are FORBIDDEN."""
    readers = {Role.PARTNER, Role.INTERNAL, Role.CASE_OFFICER, Role.ADMIN}
    consumer_readers = {Role.INTERNAL, Role.CASE_OFFICER, Role.ADMIN}
    with service(demo_dsn, role=None) as client:
        headers = bearer(role.value, **ROLE_CLAIMS[role])
        for field, query in CASE_QUERIES.items():
            assert codes(post(client, query, headers)) == ([] if role in readers else ["FORBIDDEN"]), field
        body = post(client, f"{{ cases(first: 3) {{ nodes {{ {CASE_FIELDS} }} }} }}", headers)
        expected = [] if role in consumer_readers else ["FORBIDDEN"] * 2 * len(body["data"]["cases"]["nodes"])
        assert codes(body) == expected
        assert "errors" not in post(client, PUBLIC_QUERY, headers)


async def test_api_keys_work_until_revoked_and_record_their_use(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        secret, key = await create_key(conn, Role.PARTNER, "Zhejiang router", region_codes=[ZHEJIANG])
        stored = await conn.fetchval("SELECT count(*) FROM api_key WHERE secret_sha256::text LIKE $1", f"%{secret}%")
        assert stored == 0  # only a hash is kept
        with service(db_dsn, role=None) as client:
            headers = {"Authorization": f"Bearer {secret}"}
            assert codes(post(client, CASE_QUERIES["cases"], headers)) == []
            assert await conn.fetchval("SELECT last_used_at FROM api_key WHERE public_id = $1", key.public_id)
            wrong = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
            for bad in (wrong, "lgk_000000000000_" + "x" * 43, "lgk_short"):
                response = client.post(
                    "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {bad}"}
                )
                assert response.status_code == 401
                assert codes(response.json()) == ["UNAUTHENTICATED"]
                assert response.headers["www-authenticate"].startswith("Bearer")
            assert await revoke_key(conn, key.public_id)
            response = client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
            assert response.status_code == 401 and "revoked" in response.json()["errors"][0]["message"]
    finally:
        await conn.close()


def test_denied_attempts_are_logged_without_data(anonymous: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="schema.permissions"):
        response = anonymous.post(
            "/graphql", json={"query": CASE_QUERIES["cases"]}, headers={"X-Request-ID": "denied-1"}
        )
    assert codes(response.json()) == ["FORBIDDEN"]
    lines = [r.getMessage() for r in caplog.records if r.name == "schema.permissions"]
    assert lines == ["denied Query.cases to anonymous (anonymous), request denied-1"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="schema.permissions"):
        query = "{ contactPoints(first: 5) { nodes { code cases(first: 0) { totalCount } } } }"
        body = anonymous.post("/graphql", json={"query": query}, headers={"X-Request-ID": "denied-2"}).json()
    assert codes(body) == ["FORBIDDEN"] * 5  # each parent gets its error ...
    lines = [r.getMessage() for r in caplog.records if r.name == "schema.permissions"]
    assert lines == ["denied ContactPoint.cases to anonymous (anonymous), request denied-2"]  # ... logged once


MATRIX_CASE = """query MatrixCase($number: String!) {
  case(number: $number) { number consumerName contactPoint { code } }
}"""


async def _matrix_rows(dsn: str) -> dict[str, Any]:
    """A case and a return that involve Zhejiang, a case and a return that do not, in Huangpu or not."""
    conn = await asyncpg.connect(dsn)
    try:
        zhejiang_case = await conn.fetchrow(
            'SELECT c.number, c.consumer_name FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
            " JOIN district d ON d.code = p.district_code WHERE d.region_code = $1 AND c.consumer_name IS NOT NULL"
            " ORDER BY c.number LIMIT 1",
            ZHEJIANG,
        )
        huangpu_case = await conn.fetchrow(
            'SELECT c.number, c.consumer_name FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
            " WHERE p.district_code = $1 AND c.respondent_enterprise_id IS NULL AND c.consumer_name IS NOT NULL"
            " ORDER BY c.number LIMIT 1",
            HUANGPU,
        )
        zhejiang_return = await conn.fetchval(
            "SELECT r.code FROM cross_store_return r JOIN store s ON s.id = r.return_store_id"
            " JOIN district d ON d.code = s.district_code WHERE d.region_code = $1 ORDER BY r.code LIMIT 1",
            ZHEJIANG,
        )
        other_return = await conn.fetchval(
            "SELECT r.code FROM cross_store_return r JOIN store p ON p.id = r.purchase_store_id"
            " JOIN store s ON s.id = r.return_store_id JOIN district dp ON dp.code = p.district_code"
            " JOIN district ds ON ds.code = s.district_code WHERE dp.region_code <> $1 AND ds.region_code <> $1"
            " ORDER BY r.code LIMIT 1",
            ZHEJIANG,
        )
    finally:
        await conn.close()
    return {
        "zhejiang_case": tuple(zhejiang_case),
        "huangpu_case": tuple(huangpu_case),
        "zhejiang_return": zhejiang_return,
        "other_return": other_return,
    }


def _expected_name(role: Role, name: str, in_huangpu: bool) -> str | None:
    if role in (Role.PARTNER, Role.ANONYMOUS):
        return None
    if role is Role.CASE_OFFICER and in_huangpu:
        return name
    return mask_name(name)


@pytest.mark.parametrize("role", [Role.ANONYMOUS, *ROLE_CLAIMS])
async def test_the_matrix_through_entities_and_saved_queries(db_dsn: str, role: Role) -> None:
    """The same rules whatever the way in: a router's `_entities` and a saved query by name."""
    rows = await _matrix_rows(db_dsn)
    (zj_number, zj_name), (hp_number, hp_name) = rows["zhejiang_case"], rows["huangpu_case"]
    conn = await asyncpg.connect(db_dsn)
    try:
        document = MATRIX_CASE
        await saved.save(conn, "MatrixCase", document, "MatrixCase", "tests")
    finally:
        await conn.close()
    headers = bearer(role.value, **ROLE_CLAIMS[role]) if role is not Role.ANONYMOUS else {}
    sees_cases = role is not Role.ANONYMOUS
    sees_all = role in (Role.INTERNAL, Role.CASE_OFFICER, Role.ADMIN)
    names_allowed = role in (Role.INTERNAL, Role.CASE_OFFICER, Role.ADMIN)
    representations = [
        {"__typename": "Case", "number": zj_number},
        {"__typename": "Case", "number": hp_number},
        {"__typename": "CrossStoreReturn", "code": rows["zhejiang_return"]},
        {"__typename": "CrossStoreReturn", "code": rows["other_return"]},
        {"__typename": "ContactPoint", "code": "CP310115-00001"},
    ]
    query = """query ($r: [_Any!]!) { _entities(representations: $r) {
      ... on Case { number consumerName } ... on CrossStoreReturn { code } ... on ContactPoint { code } } }"""
    with service(db_dsn, role=None) as client:
        body = client.post(
            "/graphql", json={"query": query, "variables": {"r": representations}}, headers=headers
        ).json()
        found = body["data"]["_entities"]
        visible = [sees_cases, sees_all, sees_cases, sees_all, True]
        assert [entity is not None for entity in found] == visible, found
        if sees_cases:
            assert found[0]["consumerName"] == _expected_name(role, zj_name, in_huangpu=False)
            if sees_all:
                assert found[1]["consumerName"] == _expected_name(role, hp_name, in_huangpu=True)
        assert set(codes(body)) == (set() if names_allowed or not sees_cases else {"FORBIDDEN"})
        for number, name, in_huangpu in ((zj_number, zj_name, False), (hp_number, hp_name, True)):
            response = client.get("/queries/MatrixCase", params={"number": number}, headers=headers)
            ran = response.json()
            if not sees_cases:
                assert ran["data"] == {"case": None} and codes(ran) == ["FORBIDDEN"]
            elif not in_huangpu or sees_all:
                assert ran["data"]["case"]["number"] == number
                assert ran["data"]["case"]["consumerName"] == _expected_name(role, name, in_huangpu)
            else:
                assert ran["data"] == {"case": None}  # a partner: not a case of its region


def test_public_case_statistics_need_a_period_of_four_weeks(anonymous: TestClient) -> None:
    query = '{ district(code: "310101") { stats { cases(period: %s) { total } } } }'
    for period in ('{from: "2015-01-06", before: "2015-01-07"}', '{from: "2020-01-01"}', '{before: "2015-01-07"}'):
        assert codes(post(anonymous, query % period)) == ["BAD_USER_INPUT"], period
    assert codes(post(anonymous, query % '{from: "2020-01-01", before: "2020-01-29"}')) == []
    assert codes(post(anonymous, '{ district(code: "310101") { stats { cases { total } } } }')) == []
    internal = bearer("internal")
    assert codes(post(anonymous, query % '{from: "2015-01-06", before: "2015-01-07"}', internal)) == []
