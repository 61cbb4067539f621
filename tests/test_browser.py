"""What frontend teams do in a real browser: GraphiQL with no network, and a dashboard on
another origin calling with a credential. Headless Chromium (Debian's ``chromium``)
driven by Playwright; `.ci/run` installs Chromium, elsewhere the tests skip without it."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from .subscriptions_support import head
from .support import bearer, live_service, token
from .writes_support import document, intake

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="needs Chromium (apt-get install chromium)"
)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium for one test. Playwright's sync API keeps an event loop running while it is
    open, so a test's async fixtures (``db_dsn``) must come before it in the arguments."""
    assert CHROMIUM is not None, "CI must have Chromium: .ci/run installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def test_graphiql_runs_a_query_with_no_network(browser: Browser, demo_dsn: str, tmp_path: Path) -> None:
    with live_service(demo_dsn, tmp_path) as base:
        context = browser.new_context()
        refused: list[str] = []

        def only_the_service(route: Route) -> None:
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", only_the_service)
        page = context.new_page()
        page.goto(base + "/graphql", wait_until="load")
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".result-window")
        result.get_by_text("浦东新区").wait_for(timeout=20_000)
        assert '"totalCount"' in result.inner_text()
        assert page.get_by_text("Headers", exact=True).count() >= 1  # the headers editor is there
        assert refused == []  # nothing was asked of any other host
        context.close()


@pytest.fixture
async def stream_head(db_dsn: str) -> str:
    """``head`` of ``db_dsn``, read before ``browser`` runs its event loop."""
    return await head(db_dsn)


def set_editor(page: Page, selector: str, text: str) -> None:
    """Put ``text`` in one of GraphiQL's CodeMirror editors, as pasting would (typing
    would have its brackets closed for it)."""
    page.locator(selector).first.wait_for()
    page.eval_on_selector(selector, "(editor, text) => editor.CodeMirror.setValue(text)", text)


def test_graphiql_runs_a_subscription_with_the_credential_of_its_headers_tab(
    db_dsn: str, stream_head: str, browser: Browser, tmp_path: Path
) -> None:
    with live_service(db_dsn, tmp_path) as base:
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + "/graphql", wait_until="load")
        subscription = f"""subscription Follow {{
  caseEvents(filter: {{after: "{stream_head}"}}) {{ cursor event {{ kind }} case {{ number }} }}
}}"""
        set_editor(page, ".graphiql-query-editor .CodeMirror", subscription)
        headers = json.dumps({"Authorization": "Bearer " + token("internal")})
        set_editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror", headers)
        # GraphiQL reads the operation from the editor a moment after a change, as after a paste.
        page.wait_for_function(
            "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.operationName === 'Follow'"
        )
        page.locator(".graphiql-execute-button").click()

        response = httpx2.post(
            base + "/graphql",
            json={"query": document("caseOpen"), "variables": {"input": intake()}},
            headers=bearer("admin"),
        )
        assert response.status_code == 200, response.text
        number = response.json()["data"]["caseOpen"]["case"]["number"]
        result = page.locator(".result-window")
        expect(result).to_contain_text(number, timeout=20_000)  # failing, it shows what the pane says
        assert '"OPENED"' in result.inner_text()
        context.close()


DASHBOARD_PAGE = """<!doctype html><meta charset="utf-8"><pre id="out">…</pre><script>
fetch(%(url)s, {method: "POST", headers: {"Authorization": %(auth)s, "Content-Type": "application/json"},
                body: JSON.stringify({query: "{ cases(first: 0) { totalCount } }"})})
  .then(async (r) => {
    const body = await r.json();
    document.getElementById("out").textContent = JSON.stringify({
      status: r.status, total: body.data.cases.totalCount,
      requestId: r.headers.get("X-Request-ID"), remaining: r.headers.get("X-RateLimit-Remaining"),
      execution: r.headers.get("X-Liaison-Execution")});
  })
  .catch((e) => { document.getElementById("out").textContent = "failed: " + e; });
</script>"""


@contextlib.contextmanager
def dashboard_origin() -> Iterator[tuple[str, dict[str, bytes]]]:
    """Another origin on the loopback (another port), serving the pages put in the dict:
    a page outside the loopback may not call it at all (Chromium's local network access)."""
    pages: dict[str, bytes] = {}

    class Pages(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_calls_with_a_bearer_and_reads_the_headers(
    browser: Browser, demo_dsn: str, tmp_path: Path
) -> None:
    with dashboard_origin() as (origin, pages), live_service(demo_dsn, tmp_path, LIAISON_CORS_ORIGINS=origin) as base:
        pages["/dashboard.html"] = (
            DASHBOARD_PAGE % {"url": json.dumps(base + "/graphql"), "auth": json.dumps("Bearer " + token("internal"))}
        ).encode()
        context = browser.new_context()
        page = context.new_page()
        page.goto(origin + "/dashboard.html")
        out = page.locator("#out")
        page.wait_for_function("!document.getElementById('out').textContent.startsWith('…')", timeout=20_000)
        assert out.inner_text().startswith("{"), out.inner_text()
        seen = json.loads(out.inner_text())
        assert seen["status"] == 200
        assert seen["total"] > 40_000  # the demo's cases: read with the token
        assert seen["requestId"] and seen["remaining"] and seen["execution"]
        context.close()
