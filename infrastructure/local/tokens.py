"""Locally signed agent tokens (HS256 JWT) carrying the same claims Cognito puts in an ID token:
``sub`` (agent id), ``custom:tenant_id``, ``custom:role``. In AWS the HTTP API's JWT authorizer
verifies Cognito's tokens; locally the HTTP adapter verifies these with the same outcome."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

ISSUER = "helpdesk-local"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    key: bytes,
    *,
    tenant_id: str,
    agent_id: str,
    role: str = "agent",
    ttl_seconds: int = 12 * 3600,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iss": ISSUER,
        "sub": agent_id,
        "custom:tenant_id": tenant_id,
        "custom:role": role,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class InvalidToken(Exception):
    pass


def verify(key: bytes, token: str, now: float | None = None) -> dict[str, Any]:
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64(header_b64))
        claims = json.loads(_unb64(claims_b64))
        signature = _unb64(signature_b64)
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("malformed token")
    if header.get("alg") != "HS256":
        raise InvalidToken("unexpected algorithm")
    expected = hmac.new(key, f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature")
    if claims.get("iss") != ISSUER:
        raise InvalidToken("unexpected issuer")
    if int(claims.get("exp", 0)) <= int(now if now is not None else time.time()):
        raise InvalidToken("token expired")
    return claims
