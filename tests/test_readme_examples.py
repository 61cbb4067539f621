"""The README's example queries run as written: the document pasted whole, each operation
picked by its name (as GraphiQL's Run button does), answer without errors, and the
published figure it quotes comes back."""

from __future__ import annotations

import re
from pathlib import Path

from .support import service

README = Path(__file__).resolve().parent.parent / "README.md"


def example_document() -> str:
    text = README.read_text()
    section = text.split("## Example queries", 1)[1]
    found = re.search(r"```graphql\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the Example queries section has a graphql block"
    return found.group(1)


def test_every_example_query_runs_by_its_name(demo_dsn: str) -> None:
    document = example_document()
    names = re.findall(r"^query (\w+)", document, re.MULTILINE)
    assert len(names) == len(re.findall(r"^#", document, re.MULTILINE)), "every example is a named query"
    with service(demo_dsn) as client:
        for name in names:
            body = client.post("/graphql", json={"query": document, "operationName": name}).json()
            assert "errors" not in body, (name, body.get("errors"))
            assert body["data"], name
        settled = client.post("/graphql", json={"query": document, "operationName": "OnlineSettlements2020"})
    assert settled.json()["data"]["cases"]["totalCount"] == 466
