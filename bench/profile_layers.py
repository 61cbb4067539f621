"""What each layer of the service costs a request, from a py-spy profile (``-f raw``).

    .venv/bin/python -m bench.profile_layers /tmp/fast_lane.base.txt [/tmp/fast_lane.branch.txt ...]

Each sample of the event loop's thread goes to the innermost frame that names a layer
(``LAYERS``, in the order a request meets them from the inside out): a sample in the
statement's pool wait counts for the statement, one in the admission's JSON parse for
admission. Shares of that thread's samples, a table per profile; bench/fast_lane_cost.sh
records the profiles (``PROFILE=1``).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

__all__ = ["LAYERS", "layer_shares"]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("socket writes (uvicorn: head, then body)", ("RequestResponseCycle.send ",)),
    ("the statement (fetch_answer: pool, asyncpg)", ("fetch_answer ",)),
    ("access line and metrics", ("_log (", "Metrics.observe ", "account (")),
    ("admission (body, JSON, credential)", ("read_body (", "identify (")),
    ("the lane (bind, measure, budget charge, response)", ("serve_known ",)),
    ("request timeout, faults, route", ("GraphQLApp._answer ", "_served (")),
    ("request id (X-Request-ID)", ("request_id (",)),
    ("caching headers (graphql_cacheable)", ("graphql_cacheable (",)),
    (
        "Starlette middleware, router, Strawberry's entry",
        (
            "RequestIds.",
            "ServerErrorMiddleware.",
            "RequestTelemetry.",
            "ExceptionMiddleware.",
            "wrap_app_handling",
            "Router.",
            "Route.handle",
            "GraphQL.__call__",
            "GraphQLApp.run ",
            "Starlette.__call__",
            "LaneFront.",
            "Response.__call__",
        ),
    ),
    (
        "uvicorn: parsing, ASGI entry, event loop",
        ("RequestResponseCycle.run_asgi", "ProxyHeadersMiddleware", "Runner.run "),
    ),
)
_LOOP = "Runner.run "


def layer_shares(profile: Path) -> tuple[dict[str, float], int]:
    """Each layer's share of the event loop thread's samples, and their number."""
    counts: Counter[str] = Counter()
    for line in profile.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not any(frame.startswith(_LOOP) for frame in frames):
            continue  # another thread: the embedded server's supervisor, a thread pool
        for frame in reversed(frames):
            layer = next((name for name, prefixes in LAYERS if frame.startswith(prefixes)), None)
            if layer is not None:
                counts[layer] += int(n)
                break
    total = sum(counts.values())
    return {name: counts[name] / total for name, _ in LAYERS}, total


def main(paths: list[str]) -> None:
    shares = [layer_shares(Path(path)) for path in paths]
    print("| layer | " + " | ".join(paths) + " |")
    print("|---" * (len(paths) + 1) + "|")
    for name, _ in LAYERS:
        print(f"| {name} | " + " | ".join(f"{100 * share[name]:.1f} %" for share, _ in shares) + " |")
    print("| samples of the event loop's thread | " + " | ".join(str(total) for _, total in shares) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
