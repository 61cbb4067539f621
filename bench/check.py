"""Before anything is timed: every peer answers, and answers the same.

- Our two peers (compiled, dataloader) must send byte-identical bodies. They get the very
  same requests in the same order from their start, so even ``extensions.cost.budget``
  agrees, with one worker each; with several, ``extensions`` is left out of the comparison.
- PostGraphile's answer, normalised (bench/queries.py), must equal ours normalised; so must
  the answer of a peer that takes our documents (``alike``: the Ariadne peer), normalised as ours.
- Which execution path served each of our answers: the ``X-Liaison-Execution`` header
  ("absent" while the service does not send it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .peers import Peer, Response, send
from .queries import BenchQuery

__all__ = ["Answers", "check_answers"]

EXECUTION_HEADER = "x-liaison-execution"


@dataclass
class Answers:
    execution: dict[tuple[str, str], str] = field(default_factory=dict)
    """(peer, query) → the execution path the response header named."""
    size: dict[tuple[str, str], int] = field(default_factory=dict)
    """(peer, query) → bytes of the response body."""
    problems: list[str] = field(default_factory=list)
    verdict: dict[str, str] = field(default_factory=dict)
    """query → what was checked and found, for the report."""


def _data(peer: Peer, query: BenchQuery, response: Response, problems: list[str]) -> Any:
    if response.status != 200:
        problems.append(f"{query.label}: {peer.name} answered HTTP {response.status}: {response.body[:500]!r}")
        return None
    answer = response.json()
    if answer.get("errors"):
        problems.append(f"{query.label}: {peer.name} answered errors: {json.dumps(answer['errors'])[:800]}")
    return answer.get("data")


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two normalised answers first differ, and how, or None when they are equal."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        if len(a) != len(b):
            return f"{path}: {len(a)} items against {len(b)}"
        return None
    if a != b:
        return f"{path}: {a!r} against {b!r}"
    return None


def _byte_difference(a: bytes, b: bytes) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return (
        f"{len(a)} against {len(b)} bytes, first difference at byte {at}: "
        f"{a[max(0, at - 80) : at + 80]!r} against {b[max(0, at - 80) : at + 80]!r}"
    )


def _comparable(body: bytes, several: bool) -> bytes:
    """The body, without its ``extensions`` when the peers run several workers: each worker
    keeps its own budget and caches, so the cost figures depend on which one answered."""
    if not several:
        return body
    at = body.rfind(b',"extensions":')
    return body[:at] + b"}" if at > 0 else body


def check_answers(
    queries: list[BenchQuery], ours: list[Peer], postgraphile: Peer | None, alike: list[Peer] | None = None
) -> Answers:
    found = Answers()
    several = any(p.workers > 1 for p in ours)
    for q in queries:
        bodies = {}
        for peer in ours:
            response = send(peer, q.ours)
            found.execution[(peer.name, q.key)] = response.headers.get(EXECUTION_HEADER, "absent")
            found.size[(peer.name, q.key)] = len(response.body)
            bodies[peer.name] = _comparable(response.body, several)
            data = _data(peer, q, response, found.problems)
            if q.key == "Q5" and data is not None and None in data["_entities"]:
                found.problems.append(f"{q.label}: {peer.name} found no entity for some representations")
        first, *others = ours
        verdicts = []
        for peer in others:
            if bodies[peer.name] == bodies[first.name]:
                verdicts.append(f"{first.name} = {peer.name} byte for byte" + (" up to extensions" if several else ""))
            else:
                found.problems.append(
                    f"{q.label}: {first.name} and {peer.name} differ: "
                    + _byte_difference(bodies[first.name], bodies[peer.name])
                )
        if q.postgraphile is not None and postgraphile is not None:
            response = send(postgraphile, q.postgraphile)
            found.size[(postgraphile.name, q.key)] = len(response.body)
            theirs = _data(postgraphile, q, response, found.problems)
            mine = json.loads(bodies[first.name]).get("data")
            if theirs is not None and mine is not None:
                assert q.normalise_ours is not None and q.normalise_postgraphile is not None
                a, b = q.normalise_ours(mine), q.normalise_postgraphile(theirs)
                difference = first_difference(a, b)
                if difference is None:
                    verdicts.append(f"= postgraphile normalised ({_count(a)} values)")
                else:
                    found.problems.append(f"{q.label}: ours and PostGraphile differ at {difference}")
        for peer in alike or []:
            if q.normalise_ours is None:
                continue
            response = send(peer, q.ours)
            found.size[(peer.name, q.key)] = len(response.body)
            theirs = _data(peer, q, response, found.problems)
            mine = json.loads(bodies[first.name]).get("data")
            if theirs is not None and mine is not None:
                difference = first_difference(q.normalise_ours(mine), q.normalise_ours(theirs))
                if difference is None:
                    verdicts.append(f"= {peer.name} normalised")
                else:
                    found.problems.append(f"{q.label}: ours and {peer.name} differ at {difference}")
        found.verdict[q.key] = "; ".join(verdicts) or "answered"
    return found


def _count(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return sum(_count(v) for v in value)
    return 1
