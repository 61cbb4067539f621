"""JSON as the service writes it: compact UTF-8, Chinese left readable."""

from __future__ import annotations

import json

__all__ = ["dumps"]


def dumps(data: object) -> bytes:
    """Compact UTF-8, as PostgreSQL's JSON prints; escaped ASCII when a string holds a lone
    surrogate (a client may send ``"\\ud800"`` and see it quoted back), which UTF-8 cannot carry."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":")).encode()
