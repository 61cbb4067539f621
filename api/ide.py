"""GraphiQL served from this service's own files, so it opens where no CDN can be reached
(government intranets): the page in ``graphiql/index.html``, the vendored builds under
``/graphiql/vendor`` (``graphiql/vendor/README.md`` says which and why)."""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

__all__ = ["graphiql_assets", "graphiql_page"]

_HERE = Path(__file__).with_name("graphiql")


@functools.cache
def graphiql_page() -> str:
    """The page ``GET /graphql`` shows a browser; its asset URLs are relative to it."""
    return (_HERE / "index.html").read_text(encoding="utf-8")


def graphiql_assets() -> Mount:
    return Mount("/graphiql/vendor", StaticFiles(directory=_HERE / "vendor"), name="graphiql")
