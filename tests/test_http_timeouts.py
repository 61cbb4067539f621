"""Slow and surplus connections are ended with a coded answer, not held for ever.

Raw sockets against a real `liaison serve`: a client that sends half its headers and
stalls, one that sends its headers and part of its body and stalls, and connections
beyond LIAISON_MAX_CONNECTIONS. The sockets' own timeout (WAIT) only keeps a broken
service from hanging the test; the service must answer well before it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .support import live_service

WAIT = 20.0


@contextlib.contextmanager
def connected(base: str) -> Iterator[socket.socket]:
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=WAIT) as sock:
        yield sock


def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def code(body: bytes) -> str:
    return json.loads(body)["errors"][0]["extensions"]["code"]


def closed(sock: socket.socket) -> bool:
    return sock.recv(1) == b""


@pytest.fixture(scope="module")
def base(demo_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"LIAISON_HEADER_TIMEOUT": "1", "LIAISON_BODY_TIMEOUT": "1"}
    with live_service(demo_dsn, tmp_path_factory.mktemp("timeouts"), **env) as base:
        yield base


def test_slow_headers_get_a_coded_408(base: str) -> None:
    with connected(base) as sock:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: liaison\r\nContent-Type: app")
        status, headers, body = answer(sock)
        assert (status, code(body), headers["connection"]) == (408, "HEADERS_TIMEOUT", "close")
        assert closed(sock)


def test_a_slow_body_gets_a_coded_408(base: str) -> None:
    with connected(base) as sock:
        head = b"POST /graphql HTTP/1.1\r\nHost: liaison\r\nContent-Type: application/json\r\n"
        sock.sendall(head + b"Content-Length: 100\r\n\r\n" + b'{"query": "{')
        status, headers, body = answer(sock)
        assert (status, code(body), headers["connection"]) == (408, "BODY_TIMEOUT", "close")
        assert closed(sock)


def test_a_client_within_the_deadlines_is_served(base: str) -> None:
    with connected(base) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: liaison\r\n\r\n")
        assert answer(sock)[0] == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: liaison\r\n\r\n")  # kept alive, a second request
        assert answer(sock)[0] == 200


def test_connections_over_the_cap_get_a_coded_503(demo_dsn: str, tmp_path: Path) -> None:
    with live_service(demo_dsn, tmp_path, LIAISON_MAX_CONNECTIONS="2") as base, contextlib.ExitStack() as stack:
        socks = [stack.enter_context(connected(base)) for _ in range(4)]  # all open at once, in this order
        answers = []
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: liaison\r\n\r\n")
            answers.append(answer(sock))
        assert answers[0][0] == 200  # within the cap (the second may meet the readiness probe's, closing)
        for status, headers, body in answers[2:]:
            assert (status, code(body), headers["retry-after"]) == (503, "TOO_MANY_CONNECTIONS", "1")
        assert closed(socks[3])
        socks[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: liaison\r\n\r\n")  # those within are kept
        assert answer(socks[0])[0] == 200
