"""GraphiQL served from this service's own files, so it opens where no CDN can be reached
(government intranets): the page in ``graphiql/index.html``, the vendored builds under
``/graphiql/vendor/<version>`` (``graphiql/vendor/README.md`` says which and why).

The version in the URL is a digest of the vendored files, so a URL never names other bytes
and browsers may keep the files a year without asking again. Each file is sent gzipped to
a client that accepts it, from the ``<name>.gz`` that ``scripts/vendor-graphiql`` writes
beside it: compressed once there, not per request (Starlette's GZipMiddleware spends
0.36 s of CPU at level 6 on graphiql.min.js's 3.5 MB each time, on the event loop)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["graphiql_assets", "graphiql_page"]

_HERE = Path(__file__).with_name("graphiql")
_VENDOR = _HERE / "vendor"
IMMUTABLE = "public, max-age=31536000, immutable"


@functools.cache
def vendor_version() -> str:
    """A digest of the vendored files' names and bytes: a new build, a new URL."""
    digest = hashlib.sha256()
    for path in sorted(p for p in _VENDOR.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def graphiql_page() -> str:
    """The page ``GET /graphql`` shows a browser; its asset URLs are relative to it."""
    page = (_HERE / "index.html").read_text(encoding="utf-8")
    return page.replace("{vendor}", f"graphiql/vendor/{vendor_version()}")


def _accepts_gzip(scope: Scope) -> bool:
    """The request's ``Accept-Encoding`` names gzip with a quality above 0."""
    for coding in Headers(scope=scope).get("accept-encoding", "").split(","):
        name, *params = coding.split(";")
        if name.strip().lower() == "gzip":
            quality = next((p.strip()[2:] for p in params if p.strip().lower().startswith("q=")), "1")
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


class _VendorFiles(StaticFiles):
    """Files under a versioned URL: cached for a year, gzipped from ``<name>.gz`` when the
    client accepts it (each variant its own ETag, both ``Vary: Accept-Encoding``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.endswith(".gz"):
            raise HTTPException(404)  # only as the encoding of the file it compresses
        response = None
        if _accepts_gzip(scope):
            try:
                response = await super().get_response(path + ".gz", scope)
            except HTTPException as exc:
                if exc.status_code != 404:
                    raise
            else:
                response.headers["Content-Encoding"] = "gzip"
        if response is None:
            response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = IMMUTABLE
        response.headers["Vary"] = "Accept-Encoding"
        return response


def graphiql_assets() -> Mount:
    return Mount(f"/graphiql/vendor/{vendor_version()}", _VendorFiles(directory=_VENDOR), name="graphiql")
