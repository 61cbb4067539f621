"""JSON as the service writes it: compact UTF-8, Chinese left readable, compiled data as is."""

from __future__ import annotations

import json

import orjson

__all__ = ["dumps"]


def dumps(data: object) -> bytes:
    """Compact UTF-8, as PostgreSQL's JSON prints; ``orjson.Fragment`` (the compiled path's
    JSON text) goes in unparsed. Escaped ASCII when a string holds a lone surrogate (a client
    may send ``"\\ud800"`` and see it quoted back), which UTF-8 cannot carry."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return json.dumps(data, separators=(",", ":")).encode()
