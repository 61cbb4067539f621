"""What every resolver gets as ``info.context``: built per request, never shared."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from db.pool import Database

from .loaders import Loaders

__all__ = ["Context"]


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    db: Database
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        # Per request: a loader shared between requests would leak data between viewers.
        self.loaders = Loaders(self.db)
