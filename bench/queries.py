"""The benchmark's queries: our GraphQL, PostGraphile's equivalent, and how to compare them.

Each query has our request, PostGraphile's (None where it cannot express it) and one
normaliser per side that turns an answer's ``data`` into the same plain structure (codes,
numbers, counts, UTC datetimes), so that equal structures mean equal answers.
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

__all__ = ["DETAIL_POINT", "BenchQuery", "Request", "build_queries"]

HERE = Path(__file__).absolute().parent
DOCUMENTS = HERE / "queries"
SAVED = HERE.parent / "examples" / "queries" / "FiveStarDirectory.graphql"
DETAIL_POINT = "CP310113-00514"
"""Q3's contact point: a mall point in Baoshan with an honour, two star awards, memberships."""
HOST_KINDS = (
    "residential_committee",
    "market_mall",
    "scenic_area",
    "school",
    "barracks",
    "enterprise",
    "shop",
    "other",
)
FIVE_INTO = ("market_mall", "scenic_area", "school", "barracks", "enterprise")

Normaliser = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchQuery:
    key: str
    """Q1 ... Q6 (Q4c: the case statistics PostGraphile cannot express)."""
    title: str
    ours: Request
    postgraphile: Request | None
    normalise_ours: Normaliser | None
    normalise_postgraphile: Normaliser | None
    document: str
    """What our service runs (for the compiler, when it can say its statement)."""
    operation: str | None
    variables: dict[str, Any]
    """The identical regime's variables (the varied regime's come from bench/varied.py)."""
    postgraphile_document: str | None = None
    auth: dict[str, str] = field(default_factory=dict)
    """The headers that authenticate a request (the same bearer token for every peer)."""

    @property
    def label(self) -> str:
        return f"{self.key} {self.title}"

    def ours_with(self, variables: dict[str, Any]) -> Request:
        """Our request with other variables (a POST /graphql query)."""
        return _post(self.document, variables, self.auth)

    def postgraphile_with(self, variables: dict[str, Any]) -> Request:
        assert self.postgraphile_document is not None
        return _post(self.postgraphile_document, variables, self.auth)


# --- normalising --------------------------------------------------------------------------


def _when(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value).astimezone(datetime.UTC)


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _case_q1(c: dict[str, Any]) -> tuple:
    return (c["number"], _lower(c["status"]), _when(c["openedAt"]))


def q1_ours(data: dict[str, Any]) -> Any:
    return [
        (
            r["code"],
            r["name"],
            [
                (
                    d["code"],
                    d["name"],
                    d["contactPoints"]["totalCount"],
                    [
                        (p["code"], p["name"], p["cases"]["totalCount"], [_case_q1(c) for c in p["cases"]["nodes"]])
                        for p in d["contactPoints"]["nodes"]
                    ],
                )
                for d in r["districts"]
            ],
        )
        for r in data["regions"]
    ]


def q1_postgraphile(data: dict[str, Any]) -> Any:
    return [
        (
            r["code"],
            r["name"],
            [
                (
                    d["code"],
                    d["name"],
                    d["contactPointsByDistrictCode"]["totalCount"],
                    [
                        (
                            p["code"],
                            p["name"],
                            p["casesByContactPointId"]["totalCount"],
                            [_case_q1(c) for c in p["casesByContactPointId"]["nodes"]],
                        )
                        for p in d["contactPointsByDistrictCode"]["nodes"]
                    ],
                )
                for d in r["districtsByRegionCode"]["nodes"]
            ],
        )
        for r in data["allRegions"]["nodes"]
    ]


def q2_ours(data: dict[str, Any]) -> Any:
    return [
        (
            p["code"],
            p["name"],
            p["address"],
            p["district"]["code"],
            p["district"]["name"],
            p["district"]["region"]["code"],
            p["district"]["region"]["name"],
        )
        for p in data["contactPoints"]["nodes"]
    ]


def q2_postgraphile(data: dict[str, Any]) -> Any:
    found = []
    for node in data["allContactPointCurrentRatings"]["nodes"]:
        p = node["contactPointByContactPointId"]
        d = p["districtByDistrictCode"]
        found.append(
            (
                p["code"],
                p["name"],
                p["address"],
                d["code"],
                d["name"],
                d["regionByRegionCode"]["code"],
                d["regionByRegionCode"]["name"],
            )
        )
    return found


_STARS = {"FOUR": 4, "FIVE": 5}


def _case_q3(c: dict[str, Any]) -> tuple:
    return (
        c["number"],
        _lower(c["kind"]),
        _lower(c["status"]),
        _when(c["openedAt"]),
        _when(c["closedAt"]),
        _money(c["amountClaimed"]),
    )


def q3_ours(data: dict[str, Any]) -> Any:
    p = data["contactPoint"]
    return (
        p["code"],
        p["name"],
        p["address"],
        _lower(p["hostKind"]),
        p["establishedOn"],
        (p["district"]["code"], p["district"]["name"]),
        [(_lower(h["honour"]), h["awardedOn"]) for h in p["honours"]],
        [(a["batch"], _STARS[a["stars"]], a["awardedOn"]) for a in p["starAwards"]],
        [(_lower(m["programme"]["code"]), _lower(m["level"]), m["startedOn"], m["endedOn"]) for m in p["memberships"]],
        p["cases"]["totalCount"],
        [_case_q3(c) for c in p["cases"]["nodes"]],
    )


def q3_postgraphile(data: dict[str, Any]) -> Any:
    p = data["contactPointByCode"]
    return (
        p["code"],
        p["name"],
        p["address"],
        p["hostKind"],
        p["establishedOn"],
        (p["districtByDistrictCode"]["code"], p["districtByDistrictCode"]["name"]),
        [(h["honour"], h["awardedOn"]) for h in p["contactPointHonoursByContactPointId"]["nodes"]],
        [(a["batch"], a["stars"], a["awardedOn"]) for a in p["starAwardsByContactPointId"]["nodes"]],
        [
            (m["programmeCode"], m["level"], m["startedOn"], m["endedOn"])
            for m in p["programmeMembershipsByContactPointId"]["nodes"]
        ],
        p["casesByContactPointId"]["totalCount"],
        [_case_q3(c) for c in p["casesByContactPointId"]["nodes"]],
    )


def q4_ours(data: dict[str, Any]) -> Any:
    found = []
    for d in data["region"]["districts"]:
        s = d["stats"]["contactPoints"]
        kinds = {k["hostKind"].lower(): k["count"] for k in s["byHostKind"] if k["count"]}
        found.append((d["code"], s["total"], s["fiveInto"], sorted(kinds.items())))
    return found


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def q4_postgraphile(data: dict[str, Any]) -> Any:
    found = []
    for d in data["regionByCode"]["districtsByRegionCode"]["nodes"]:
        kinds = {k: d[_camel(k)]["totalCount"] for k in HOST_KINDS if d[_camel(k)]["totalCount"]}
        five_into = sum(kinds.get(k, 0) for k in FIVE_INTO)
        found.append((d["code"], d["total"]["totalCount"], five_into, sorted(kinds.items())))
    return found


# --- building the requests -----------------------------------------------------------------


def _post(document: str, variables: dict[str, Any], headers: dict[str, str]) -> Request:
    body = json.dumps({"query": document, "variables": variables}, ensure_ascii=False, separators=(",", ":"))
    return Request(
        "POST",
        "/graphql",
        body.encode(),
        {"content-type": "application/json", "accept": "application/json", **headers},
    )


def _document(name: str) -> str:
    return (DOCUMENTS / name).read_text()


def _operation(document: str) -> str | None:
    for line in document.splitlines():
        words = line.replace("(", " ").replace("{", " ").split()
        if len(words) >= 2 and words[0] == "query":
            return words[1]
    return None


async def representations(dsn: str) -> list[dict[str, str]]:
    """100 entities, interleaved: 30 contact points, 30 cases, 20 districts, 10 stores, 10 enterprises."""
    conn = await asyncpg.connect(dsn)
    try:
        groups = [
            [{"__typename": "ContactPoint", "code": r[0]} for r in await conn.fetch(
                "SELECT code FROM contact_point WHERE id % 97 = 1 ORDER BY id LIMIT 30")],
            [{"__typename": "Case", "number": r[0]} for r in await conn.fetch(
                'SELECT number FROM "case" WHERE id % 1009 = 1 ORDER BY id LIMIT 30')],
            [{"__typename": "District", "code": r[0]} for r in await conn.fetch(
                "SELECT code FROM district ORDER BY code LIMIT 20")],
            [{"__typename": "Store", "code": r[0]} for r in await conn.fetch(
                "SELECT code FROM store ORDER BY id LIMIT 10")],
            [{"__typename": "Enterprise", "creditCode": r[0]} for r in await conn.fetch(
                "SELECT credit_code FROM enterprise ORDER BY id LIMIT 10")],
        ]  # fmt: skip
    finally:
        await conn.close()
    mixed = []
    while any(groups):
        for group in groups:
            if group:
                mixed.append(group.pop(0))
    return mixed


def build_queries(key: str, entities: list[dict[str, str]]) -> list[BenchQuery]:
    """The queries, every request (ours and PostGraphile's) sent with the bearer token ``key``."""
    auth = {"authorization": f"Bearer {key}"}
    found = []

    def add(key_: str, title: str, name: str, variables: dict[str, Any], ours_n, pg_n, *, postgraphile: bool) -> None:
        document = _document(f"{name}.graphql")
        pg, pg_doc = None, None
        if postgraphile:
            pg_doc = _document(f"{name}.postgraphile.graphql")
            pg = _post(pg_doc, variables, auth)
        found.append(
            BenchQuery(
                key_,
                title,
                _post(document, variables, auth),
                pg,
                ours_n,
                pg_n,
                document,
                _operation(document),
                variables,
                pg_doc,
                auth,
            )
        )

    add("Q1", "dashboard", "q1_dashboard", {"points": 20, "cases": 5}, q1_ours, q1_postgraphile, postgraphile=True)
    add("Q2", "five-star list", "q2_list", {"first": 50, "after": None}, q2_ours, q2_postgraphile, postgraphile=True)
    add("Q3", "detail", "q3_detail", {"code": DETAIL_POINT, "cases": 10}, q3_ours, q3_postgraphile, postgraphile=True)
    add("Q4", "district point stats", "q4_stats", {"region": "310000"}, q4_ours, q4_postgraphile, postgraphile=True)
    add("Q4c", "district case stats", "q4c_case_stats", {}, None, None, postgraphile=False)
    add("Q5", "_entities ×100", "q5_entities", {"representations": entities}, None, None, postgraphile=False)
    saved = SAVED.read_text()
    found.append(
        BenchQuery(
            "Q6",
            "saved query by name",
            Request(
                "GET",
                "/queries/FiveStarDirectory?" + urllib.parse.urlencode({"first": 50}),
                None,
                {"accept": "application/json"},
            ),
            None,
            None,
            None,
            saved,
            "FiveStarDirectory",
            {"first": 50},
        )
    )
    return found
