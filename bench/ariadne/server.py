"""A Python DataLoader peer: Ariadne (graphql-core) with aiodataloader over asyncpg.

The design our DataLoader path follows, without our service's layers (cost analysis, masking,
budgets, telemetry): one loader per relation, one batched statement per loader and level.
It answers bench/queries/'s documents for Q1-Q4 in our schema's shape, so bench/check.py
compares it with ours. bench/perf.py runs it from its own venv (bench/ariadne/requirements.txt,
never the product's):

    DATABASE_URL=postgresql://... PORT=5680 WORKERS=2 JWT_SECRET=... JWT_ISSUER=... JWT_AUDIENCE=... \\
        bench/.data/ariadne-venv/bin/python bench/ariadne/server.py

Every request must carry a bearer token of that issuer (HS256), verified per request, as
PostGraphile does. The pool has our pool's session settings (db/pool.py).
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import jwt
import uvicorn
from aiodataloader import DataLoader
from ariadne import ObjectType, QueryType, make_executable_schema
from ariadne.asgi import GraphQL

TYPE_DEFS = """
type Query {
  regions: [Region!]!
  region(code: String!): Region
  contactPoint(code: String!): ContactPoint
  contactPoints(first: Int = 20, after: String, filter: ContactPointFilter): ContactPointConnection!
}
input ContactPointFilter { currentStars: [Stars!] }
enum Stars { FOUR FIVE }
enum HostKind { RESIDENTIAL_COMMITTEE MARKET_MALL SCENIC_AREA SCHOOL BARRACKS ENTERPRISE SHOP OTHER }
type Region { code: String! name: String! districts: [District!]! }
type District {
  code: String! name: String! region: Region!
  contactPoints(first: Int = 20): ContactPointConnection!
  stats: DistrictStats!
}
type DistrictStats { contactPoints: PointStats! }
type PointStats { total: Int! fiveInto: Int! byHostKind: [HostKindCount!]! }
type HostKindCount { hostKind: HostKind! count: Int! }
type ContactPointConnection { totalCount: Int! nodes: [ContactPoint!]! }
type ContactPoint {
  code: String! name: String! address: String! hostKind: HostKind! establishedOn: String!
  district: District! honours: [Honour!]! starAwards: [StarAward!]! memberships: [Membership!]!
  cases(first: Int = 20): CaseConnection!
}
type Honour { honour: String! awardedOn: String! }
type StarAward { batch: Int! stars: Stars! awardedOn: String! }
type Programme { code: String! }
type Membership { programme: Programme! level: String startedOn: String! endedOn: String }
type CaseConnection { totalCount: Int! nodes: [Case!]! }
type Case {
  number: String! kind: String! status: String! openedAt: String! closedAt: String amountClaimed: String
}
"""

FIVE_INTO = ("market_mall", "scenic_area", "school", "barracks", "enterprise")
STARS = {"FOUR": 4, "FIVE": 5}
SETTINGS = {
    "application_name": "ariadne-peer",
    "timezone": "UTC",
    "jit": "off",
    "plan_cache_mode": "force_generic_plan",
}

Batch = Callable[[asyncpg.Pool, Sequence[Any]], Awaitable[list[Any]]]


async def _fetch(pool: asyncpg.Pool, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as dicts: graphql-core's default resolver reads mappings, not asyncpg's records."""
    return [dict(r) for r in await pool.fetch(sql, *args)]


def _grouped(rows: list[dict[str, Any]], key: str, keys: Sequence[Any]) -> list[list[dict[str, Any]]]:
    found: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        found[row[key]].append(row)
    return [found.get(k, []) for k in keys]


async def _regions_by_code(pool: asyncpg.Pool, codes: Sequence[str]) -> list[Any]:
    rows = await _fetch(pool, "SELECT code, name FROM region WHERE code = ANY($1)", list(codes))
    by = {r["code"]: r for r in rows}
    return [by.get(c) for c in codes]


async def _districts_by_code(pool: asyncpg.Pool, codes: Sequence[str]) -> list[Any]:
    rows = await _fetch(pool, "SELECT code, name, region_code FROM district WHERE code = ANY($1)", list(codes))
    by = {r["code"]: r for r in rows}
    return [by.get(c) for c in codes]


async def _districts_of_region(pool: asyncpg.Pool, codes: Sequence[str]) -> list[Any]:
    rows = await _fetch(
        pool, "SELECT code, name, region_code FROM district WHERE region_code = ANY($1) ORDER BY code", list(codes)
    )
    return _grouped(rows, "region_code", codes)


async def _points_of_district(pool: asyncpg.Pool, keys: Sequence[tuple[str, int]]) -> list[Any]:
    """(district, first) → (total, first points by code), one statement for every key."""
    rows = await _fetch(
        pool,
        """SELECT p.* FROM unnest($1::text[], $2::int[]) AS k(district_code, first)
           CROSS JOIN LATERAL (
             SELECT cp.*, k.first AS page, count(*) OVER () AS total,
                    row_number() OVER (ORDER BY cp.code) AS n
               FROM contact_point cp WHERE cp.district_code = k.district_code) p
           WHERE p.n <= p.page ORDER BY p.district_code, p.code""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    for row in rows:
        row["key"] = (row["district_code"], row["page"])
    groups = _grouped(rows, "key", keys)
    return [(g[0]["total"] if g else 0, g) for g in groups]


async def _cases_of_point(pool: asyncpg.Pool, keys: Sequence[tuple[int, int]]) -> list[Any]:
    """(point id, first) → (total, latest cases)."""
    rows = await _fetch(
        pool,
        """SELECT k.id AS point_id, k.first AS page, c.*, (SELECT count(*) FROM "case" x WHERE x.contact_point_id = k.id) AS total
             FROM unnest($1::bigint[], $2::int[]) AS k(id, first)
             LEFT JOIN LATERAL (
               SELECT number, kind, status, opened_at, closed_at, amount_claimed FROM "case"
                WHERE contact_point_id = k.id ORDER BY opened_at DESC, id DESC LIMIT k.first) c ON true""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    for row in rows:
        row["key"] = (row["point_id"], row["page"])
    found = []
    for group in _grouped(rows, "key", keys):
        total = group[0]["total"] if group else 0
        found.append((total, [r for r in group if r["number"] is not None]))
    return found


async def _honours(pool: asyncpg.Pool, ids: Sequence[int]) -> list[Any]:
    rows = await _fetch(
        pool,
        "SELECT * FROM contact_point_honour WHERE contact_point_id = ANY($1) ORDER BY awarded_on, honour",
        list(ids),
    )
    return _grouped(rows, "contact_point_id", ids)


async def _star_awards(pool: asyncpg.Pool, ids: Sequence[int]) -> list[Any]:
    rows = await _fetch(pool, "SELECT * FROM star_award WHERE contact_point_id = ANY($1) ORDER BY batch, id", list(ids))
    return _grouped(rows, "contact_point_id", ids)


async def _memberships(pool: asyncpg.Pool, ids: Sequence[int]) -> list[Any]:
    rows = await _fetch(
        pool,
        "SELECT * FROM programme_membership WHERE contact_point_id = ANY($1) ORDER BY programme_code, started_on, id",
        list(ids),
    )
    return _grouped(rows, "contact_point_id", ids)


async def _point_stats(pool: asyncpg.Pool, codes: Sequence[str]) -> list[Any]:
    rows = await _fetch(
        pool,
        "SELECT district_code, host_kind, count(*) AS n FROM contact_point WHERE district_code = ANY($1) GROUP BY 1, 2",
        list(codes),
    )
    return _grouped(rows, "district_code", codes)


class Loaders:
    """One request's loaders: each batches the keys asked for in one tick into one statement."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        def loader(batch: Batch) -> DataLoader:
            return DataLoader(functools.partial(batch, pool))  # aiodataloader wants a coroutine function

        self.pool = pool
        self.region = loader(_regions_by_code)
        self.district = loader(_districts_by_code)
        self.districts_of_region = loader(_districts_of_region)
        self.points_of_district = loader(_points_of_district)
        self.cases_of_point = loader(_cases_of_point)
        self.honours = loader(_honours)
        self.star_awards = loader(_star_awards)
        self.memberships = loader(_memberships)
        self.point_stats = loader(_point_stats)


def _loaders(info: Any) -> Loaders:
    return info.context["loaders"]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


query = QueryType()
region = ObjectType("Region")
district = ObjectType("District")
point = ObjectType("ContactPoint")
stats = ObjectType("DistrictStats")
point_stats = ObjectType("PointStats")
honour = ObjectType("Honour")
award = ObjectType("StarAward")
membership = ObjectType("Membership")
case = ObjectType("Case")


@query.field("regions")
async def resolve_regions(_: Any, info: Any) -> list[Any]:
    return await _fetch(_loaders(info).pool, "SELECT code, name FROM region ORDER BY code")


@query.field("region")
async def resolve_region(_: Any, info: Any, code: str) -> Any:
    return await _loaders(info).region.load(code)


@query.field("contactPoint")
async def resolve_point(_: Any, info: Any, code: str) -> Any:
    rows = await _fetch(_loaders(info).pool, "SELECT * FROM contact_point WHERE code = $1", code)
    return rows[0] if rows else None


@query.field("contactPoints")
async def resolve_points(_: Any, info: Any, first: int = 20, after: str | None = None, filter: Any = None) -> Any:
    stars = [STARS[s] for s in (filter or {}).get("current_stars") or STARS]
    after_code = None
    if after is not None:  # our service's cursor: base64 of ["code", code, id]
        after_code = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))[1]
    rows = await _fetch(
        _loaders(info).pool,
        """SELECT cp.* FROM contact_point cp JOIN contact_point_current_rating r ON r.contact_point_id = cp.id
            WHERE r.stars = ANY($1::smallint[]) AND ($2::text IS NULL OR cp.code > $2) ORDER BY cp.code LIMIT $3""",
        stars,
        after_code,
        first,
    )
    return (None, rows)


@district.field("contactPoints")
async def resolve_district_points(obj: Any, info: Any, first: int = 20) -> Any:
    return await _loaders(info).points_of_district.load((obj["code"], first))


@district.field("stats")
def resolve_stats(obj: Any, _: Any) -> Any:
    return obj


@point_stats.field("total")
def resolve_total(rows: Any, _: Any) -> int:
    return sum(r["n"] for r in rows)


@point_stats.field("fiveInto")
def resolve_five_into(rows: Any, _: Any) -> int:
    return sum(r["n"] for r in rows if r["host_kind"] in FIVE_INTO)


@point_stats.field("byHostKind")
def resolve_by_kind(rows: Any, _: Any) -> list[dict[str, Any]]:
    return [{"host_kind": r["host_kind"].upper(), "count": r["n"]} for r in rows]  # snake case: convert_names_case


def _loaded(loader: str, column: str) -> Callable[[Any, Any], Awaitable[Any]]:
    """A resolver that loads ``obj[column]`` through the request's loader of that name."""

    async def resolve(obj: Any, info: Any) -> Any:
        return await getattr(_loaders(info), loader).load(obj[column])

    return resolve


region.set_field("districts", _loaded("districts_of_region", "code"))
district.set_field("region", _loaded("region", "region_code"))
stats.set_field("contactPoints", _loaded("point_stats", "code"))
point.set_field("district", _loaded("district", "district_code"))
point.set_field("honours", _loaded("honours", "id"))
point.set_field("starAwards", _loaded("star_awards", "id"))
point.set_field("memberships", _loaded("memberships", "id"))

connection = ObjectType("ContactPointConnection")
case_connection = ObjectType("CaseConnection")
for conn in (connection, case_connection):
    conn.set_field("totalCount", lambda obj, _: obj[0])
    conn.set_field("nodes", lambda obj, _: obj[1])


@point.field("hostKind")
def resolve_host_kind(obj: Any, _: Any) -> str:
    return obj["host_kind"].upper()


@point.field("establishedOn")
def resolve_established(obj: Any, _: Any) -> str | None:
    return _iso(obj["established_on"])


@point.field("cases")
async def resolve_cases(obj: Any, info: Any, first: int = 20) -> Any:
    return await _loaders(info).cases_of_point.load((obj["id"], first))


honour.set_field("awardedOn", lambda obj, _: _iso(obj["awarded_on"]))
award.set_field("stars", lambda obj, _: "FIVE" if obj["stars"] == 5 else "FOUR")
award.set_field("awardedOn", lambda obj, _: _iso(obj["awarded_on"]))
membership.set_field("programme", lambda obj, _: {"code": obj["programme_code"]})
membership.set_field("startedOn", lambda obj, _: _iso(obj["started_on"]))
membership.set_field("endedOn", lambda obj, _: _iso(obj["ended_on"]))
case.set_field("openedAt", lambda obj, _: _iso(obj["opened_at"]))
case.set_field("closedAt", lambda obj, _: _iso(obj["closed_at"]))
case.set_field("amountClaimed", lambda obj, _: None if obj["amount_claimed"] is None else str(obj["amount_claimed"]))

schema = make_executable_schema(
    TYPE_DEFS,
    query,
    region,
    district,
    point,
    stats,
    point_stats,
    honour,
    award,
    membership,
    case,
    connection,
    case_connection,
    convert_names_case=True,
)


class App:
    """Bearer token verified per request, then Ariadne's ASGI app with a pool made at start-up."""

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.secret = os.environ["JWT_SECRET"]
        self.issuer, self.audience = os.environ["JWT_ISSUER"], os.environ["JWT_AUDIENCE"]
        self.graphql = GraphQL(schema, context_value=self.context, debug=False)

    def context(self, request: Any, _data: Any) -> dict[str, Any]:
        assert self.pool is not None
        return {"request": request, "loaders": Loaders(self.pool)}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await asyncpg.create_pool(
                        os.environ["DATABASE_URL"],
                        min_size=1,
                        max_size=int(os.environ.get("POOL_SIZE", "10")),
                        server_settings=SETTINGS,
                    )
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = dict(scope.get("headers") or [])
        token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
        try:
            jwt.decode(token, self.secret, algorithms=["HS256"], issuer=self.issuer, audience=self.audience)
        except jwt.InvalidTokenError:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"a valid bearer token is required"})
            return
        await self.graphql(scope, receive, send)


def app() -> App:
    return App()


if __name__ == "__main__":
    uvicorn.run(
        "server:app",
        factory=True,
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        workers=int(os.environ.get("WORKERS", "1")),
        log_level="warning",
        access_log=False,
    )
