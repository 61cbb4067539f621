"""What is kept about documents stays within its bytes, keyed by hashes; new documents cost points."""

from __future__ import annotations

import gc
import hashlib
import math
import tracemalloc
import uuid

import graphql
import pytest

from bench.memory_probe import document
from schema.caches import (
    ENTRY_BYTES,
    PARSED_BUDGET,
    PARSED_BYTES_PER_CHAR,
    BoundedCache,
    ParsedDocument,
    parse_document,
)

from .support import app_state, bearer, service


def test_a_bounded_cache_keeps_its_bytes_and_only_digests() -> None:
    cache: BoundedCache[str] = BoundedCache(100_000)
    for n in range(1000):
        text = f"{n:04d}" + "x" * 9_000
        cache.put(text, 9_100, text)
        assert cache.held <= 100_000
    assert len(cache) == 100_000 // (9_100 + ENTRY_BYTES)
    assert all(isinstance(key, bytes) and len(key) == 32 for key in cache.digests())
    newest = "0999" + "x" * 9_000
    assert cache.get(newest) == newest and cache.get("0000" + "x" * 9_000) is None
    cache.put("too large", 100_000, "too large")  # larger than the whole budget: not kept, nothing evicted
    assert cache.get("too large") is None and cache.get(newest) == newest


def test_parts_of_a_key_do_not_run_into_each_other() -> None:
    cache: BoundedCache[int] = BoundedCache(10_000)
    cache.put(1, 0, "ab", "c")
    cache.put(2, 0, None)
    assert cache.get("a", "bc") is None and cache.get("None") is None
    assert cache.get("ab", "c") == 1 and cache.get(None) == 2
    cache.put(3, 0, "\ud800")  # a lone surrogate, as a JSON body may hold
    assert cache.get("\ud800") == 3


@pytest.mark.parametrize(
    "text",
    [
        document(1, 95_000),  # 50 long aliases: few tokens
        "{ regions { " + "name code " * 2_400 + "} }",  # 4,800 tokens, the densest a document gets
        '{ cases(first: 1, filter: {nameContains: "' + "s" * 95_000 + '"}) { totalCount } }',
        "{ regions { name } } #" + "c" * 95_000,
    ],
    ids=["aliases", "tokens", "string", "comment"],
)
def test_the_size_of_a_parse_is_not_underestimated(text: str) -> None:
    gc.collect()
    tracemalloc.start()
    try:
        parsed = parse_document(text, 5000)
        allocated, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = allocated + len(text)  # and the text, which the tree's locations keep
    assert held <= parsed.size <= 2 * held


def test_an_evicted_parse_is_freed_without_the_cycle_collector() -> None:
    """The service collects cycles rarely (api.cli): a kept parse must not be one."""
    text = document(2, 95_000)
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        cache: BoundedCache[ParsedDocument] = BoundedCache(PARSED_BUDGET)
        parsed = parse_document(text, 5000)
        cache.put(parsed, parsed.size, text)
        del parsed
        held, _ = tracemalloc.get_traced_memory()
        del cache
        left, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert held > 200_000 and left < held // 20  # without unlinking, two thirds stay


def _held_probe_texts() -> int:
    """Characters of probe documents still reachable from any container in this process."""
    seen: dict[int, int] = {}
    for container in gc.get_objects():
        for item in gc.get_referents(container):
            if isinstance(item, str) and len(item) > 10_000 and item.startswith("query Probe"):
                seen[id(item)] = len(item)
    return sum(seen.values())


def test_distinct_documents_cannot_pin_more_than_the_caches_budgets(demo_dsn: str) -> None:
    first = 10_000_000 + uuid.uuid4().int % 10_000_000  # documents no other test sent
    texts = 0
    with service(demo_dsn, role=None, LIAISON_EXECUTION="compiled") as client:
        for index in range(first, first + 200):
            text = document(index, 60_000)
            texts += len(text)
            response = client.post("/graphql", json={"query": text})
            assert response.status_code == 200 and "errors" not in response.json()
            sha = hashlib.sha256(text.encode()).hexdigest()
            persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
            assert client.post("/graphql", json={"query": text, "extensions": persisted}).status_code == 200
        registered = app_state(client).documents.registered
        assert registered.held <= registered.budget < texts
        assert all(isinstance(key, bytes) and len(key) == 32 for key in registered.digests())
        del text, response
        caches = client.app.state.engine.caches.all()  # type: ignore[attr-defined]
    for name, cache in caches.items():
        assert cache.held <= cache.budget, name
        assert all(isinstance(key, bytes) and len(key) == 32 for key in cache.digests()), name
    assert caches["parsed"].held > caches["parsed"].budget // 2  # the documents were kept, up to the budget
    assert caches["statements"].held > caches["statements"].budget // 2
    # What still holds the texts: parsed documents (their locations), within that budget.
    assert 0 < _held_probe_texts() <= PARSED_BUDGET / PARSED_BYTES_PER_CHAR < texts


def test_a_new_document_is_charged_its_parse_once(demo_dsn: str) -> None:
    text = document(20_000_000 + uuid.uuid4().int % 10_000_000, 60_000)
    tokens = (
        2 + 4 + 50 * 12
    )  # start and end, `query Probe… {` `}`, and per alias `a: district(code: "…") { code name }`
    assert len(list(_tokens(text))) == tokens
    parse_points = math.ceil(len(text) / 1024) + math.ceil(tokens / 100)
    small = '{ district(code: "310101") { code name } } # ' + uuid.uuid4().hex
    with service(demo_dsn, role=None, LIAISON_EXECUTION="compiled") as client:
        headers = bearer("internal", sub=f"parse-{uuid.uuid4()}")

        def charged(query: str) -> tuple[int, int]:
            before = int(
                client.post("/graphql", json={"query": "{ __typename }"}, headers=headers).headers["x-ratelimit-used"]
            )
            response = client.post("/graphql", json={"query": query}, headers=headers)
            assert response.status_code == 200 and "errors" not in response.json()
            return int(response.headers["x-ratelimit-used"]) - before, response.json()["extensions"]["cost"][
                "documentCost"
            ]

        assert charged(text) == (50 + parse_points, parse_points) == (50 + 59 + 7, 66)
        assert charged(text) == (50, 0)  # kept: parsed once
        assert charged(small) == (1 + 1 + 1, 2)  # one object; one KB and one hundred tokens begun


def _tokens(text: str):
    lexer = graphql.language.Lexer(graphql.Source(text))
    token = lexer.token
    yield token
    while token.kind != graphql.language.TokenKind.EOF:
        token = lexer.advance()
        yield token
