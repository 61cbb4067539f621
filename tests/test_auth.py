"""Bearer tokens: what is accepted, and that anything wrong is UNAUTHENTICATED, never anonymous."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from api.auth import JwtSettings
from api.settings import Settings

from .support import JWT_ENV, service, token

CASES = "{ cases(first: 0) { totalCount } }"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def client(demo_dsn: str, rsa_key: rsa.RSAPrivateKey) -> Any:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with service(demo_dsn, role=None, LIAISON_JWT_PUBLIC_KEY=public.decode(), LIAISON_JWT_LEEWAY="10") as client:
        yield client


def call(client: TestClient, credential: str) -> tuple[int, list[str]]:
    response = client.post("/graphql", json={"query": CASES}, headers={"Authorization": f"Bearer {credential}"})
    return response.status_code, [e["extensions"]["code"] for e in response.json().get("errors", [])]


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": JWT_ENV["LIAISON_JWT_ISSUER"],
        "aud": JWT_ENV["LIAISON_JWT_AUDIENCE"],
        "sub": "sso-user",
        "exp": now + 60,
        "role": "internal",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = JWT_ENV["LIAISON_JWT_SECRET"]) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def part(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_signed(payload: dict[str, Any], key: bytes) -> str:
    """An HS256 token made by hand, with any bytes as the key (PyJWT refuses a PEM key)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + part(json.dumps(payload).encode())
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + part(signature)


def test_hs256_and_rs256_tokens_are_accepted(client: TestClient, rsa_key: rsa.RSAPrivateKey) -> None:
    assert call(client, token("internal")) == (200, [])
    assert call(client, jwt.encode(claims(), rsa_key, algorithm="RS256")) == (200, [])


def test_clock_skew_is_tolerated_within_the_leeway(client: TestClient) -> None:
    now = int(time.time())
    assert call(client, hs256(claims(exp=now - 5))) == (200, [])
    assert call(client, hs256(claims(nbf=now + 5))) == (200, [])
    assert call(client, hs256(claims(exp=now - 30))) == (401, ["UNAUTHENTICATED"])
    assert call(client, hs256(claims(nbf=now + 30))) == (401, ["UNAUTHENTICATED"])


def test_a_token_verified_once_still_expires(demo_dsn: str) -> None:
    """Verified tokens are remembered, and still refused once expired or before nbf."""
    with service(demo_dsn, role=None, LIAISON_JWT_LEEWAY="0") as client:
        now = time.time()
        soon = hs256(claims(exp=int(now) + 2))
        assert call(client, soon) == (200, [])
        assert call(client, soon) == (200, [])
        time.sleep(max(int(now) + 2 - time.time(), 0) + 0.1)
        assert call(client, soon) == (401, ["UNAUTHENTICATED"])


@pytest.mark.parametrize(
    "payload",
    [
        claims(aud="someone-else"),
        claims(iss="https://evil.example"),
        claims(exp=None),
        claims(sub=None),
        claims(role="superuser"),
        claims(role="anonymous"),
        claims(role="partner"),  # a partner names its region
        claims(role="partner", regions=["330000", "320000"]),
        claims(role="case_officer"),  # a case officer names its districts
        claims(role="case_officer", districts="310101,310115"),
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items() if k not in ("iss", "aud", "exp", "sub")),
)
def test_a_token_that_does_not_hold_is_refused(client: TestClient, payload: dict[str, Any]) -> None:
    assert call(client, hs256(payload)) == (401, ["UNAUTHENTICATED"])


def test_forged_and_confused_tokens_are_refused(client: TestClient, rsa_key: rsa.RSAPrivateKey) -> None:
    assert call(client, hs256(claims(), secret="another secret that is long enough to sign")) == (
        401,
        ["UNAUTHENTICATED"],
    )
    unsigned = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]
    assert call(client, unsigned) == (401, ["UNAUTHENTICATED"])
    # HS256 signed with the RSA public key as secret: the classic algorithm confusion.
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert call(client, hmac_signed(claims(), public)) == (401, ["UNAUTHENTICATED"])
    assert call(client, hmac_signed(claims(), JWT_ENV["LIAISON_JWT_SECRET"].encode())) == (200, [])  # the control
    odd_alg = (
        part(json.dumps({"alg": ["HS256"], "typ": "JWT"}).encode()) + "." + part(json.dumps(claims()).encode()) + ".x"
    )
    for garbage in ("not.a.token", "a.b", "x" * 5000, "Bearer", odd_alg):
        status, errors = call(client, garbage)
        assert status == 401 and errors == ["UNAUTHENTICATED"], garbage


def test_other_schemes_and_empty_credentials_are_refused(client: TestClient) -> None:
    for header in ("Basic dXNlcjpwYXNz", "Bearer ", "Token abc", ""):
        response = client.post("/graphql", json={"query": "{ __typename }"}, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_tokens_are_refused_where_no_key_is_configured(demo_dsn: str) -> None:
    settings = Settings.from_env({"DATABASE_URL": demo_dsn})
    assert settings.jwt.keys == {}
    from api.app import create_app

    with TestClient(create_app(settings)) as plain:
        assert call(plain, token("internal")) == (401, ["UNAUTHENTICATED"])


def test_jwt_settings_refuse_what_cannot_be_checked() -> None:
    with pytest.raises(ValueError, match="ISSUER"):
        JwtSettings.from_env({"LIAISON_JWT_SECRET": "x" * 40})
    with pytest.raises(ValueError, match="32"):
        JwtSettings.from_env({**JWT_ENV, "LIAISON_JWT_SECRET": "short"})
    assert JwtSettings.from_env({**JWT_ENV, "LIAISON_JWT_LEEWAY": "100000"}).leeway == 300


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--role", "admin", "--days", "0"), "--days"),
        (("--role", "admin", "--days", "-5"), "--days"),
        (
            (
                "--role",
                "contact_point",
            ),
            "the contact_point role needs --contact-point CODE",
        ),
    ],
)
def test_a_key_the_command_line_refuses_is_one_line(db_dsn: str, flags: tuple[str, ...], said: str) -> None:
    """No traceback, so no row of api_key (with its secret's hash) on the terminal."""
    import os
    import subprocess

    from .support import LIAISON

    env = {**os.environ, "DATABASE_URL": db_dsn, "LIAISON_DEMO_DATA": "0"}
    done = subprocess.run(
        [str(LIAISON), "key", "create", "--label", "x", *flags], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stdout == "", done
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert said in done.stderr
