"""infrastructure/local/tokens.py: locally signed HS256 agent tokens with Cognito's claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from infrastructure.local import tokens

KEY = b"local-signing-key"
T0 = 1_700_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(header: Any, claims: Any, key: bytes = KEY) -> str:
    """A token with any header and claims, correctly signed with ``key``."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def claims_for(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": tokens.ISSUER,
        "sub": "agent-7",
        "custom:tenant_id": "t1",
        "custom:role": "agent",
        "iat": int(T0),
        "exp": int(T0) + 3600,
    }
    claims.update(overrides)
    return claims


def test_issue_then_verify_returns_the_cognito_style_claims() -> None:
    token = tokens.issue(KEY, tenant_id="t1", agent_id="agent-7", role="admin", ttl_seconds=600, now=T0)
    claims = tokens.verify(KEY, token, now=T0 + 1)
    assert claims["sub"] == "agent-7"
    assert claims["custom:tenant_id"] == "t1"
    assert claims["custom:role"] == "admin"
    assert claims["iss"] == tokens.ISSUER
    assert claims["iat"] == int(T0) and claims["exp"] == int(T0) + 600


def test_a_token_is_a_three_part_hs256_jwt() -> None:
    token = tokens.issue(KEY, tenant_id="t1", agent_id="a", now=T0)
    header_b64, _claims_b64, signature_b64 = token.split(".")
    assert "=" not in token
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert tokens.verify(KEY, token, now=T0)["custom:role"] == "agent"  # default role
    assert len(base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))) == 32


def test_a_tampered_payload_is_refused() -> None:
    token = tokens.issue(KEY, tenant_id="t1", agent_id="agent-7", now=T0)
    header_b64, _, signature_b64 = token.split(".")
    other_tenant = b64(json.dumps(claims_for(**{"custom:tenant_id": "t2"})).encode())
    with pytest.raises(tokens.InvalidToken, match="signature"):
        tokens.verify(KEY, f"{header_b64}.{other_tenant}.{signature_b64}", now=T0)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = tokens.issue(b"another-key", tenant_id="t1", agent_id="agent-7", now=T0)
    with pytest.raises(tokens.InvalidToken, match="signature"):
        tokens.verify(KEY, token, now=T0)


def test_an_expired_token_is_refused() -> None:
    token = tokens.issue(KEY, tenant_id="t1", agent_id="agent-7", ttl_seconds=60, now=T0)
    assert tokens.verify(KEY, token, now=T0 + 59)["sub"] == "agent-7"
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(KEY, token, now=T0 + 60)
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(KEY, token, now=T0 + 86_400)


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", None])
def test_algorithms_other_than_hs256_are_refused(alg: str | None) -> None:
    token = forge({"alg": alg, "typ": "JWT"}, claims_for())
    with pytest.raises(tokens.InvalidToken, match="algorithm"):
        tokens.verify(KEY, token, now=T0)


def test_an_unsigned_alg_none_token_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    claims = b64(json.dumps(claims_for()).encode())
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(KEY, f"{header}.{claims}.", now=T0)


def test_a_token_from_another_issuer_is_refused() -> None:
    with pytest.raises(tokens.InvalidToken, match="issuer"):
        tokens.verify(KEY, forge({"alg": "HS256"}, claims_for(iss="https://cognito-idp.example")), now=T0)


def test_a_token_without_expiry_is_refused() -> None:
    claims = claims_for()
    del claims["exp"]
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(KEY, forge({"alg": "HS256"}, claims), now=T0)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!!.???.***", "e30.e30.%%%"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(KEY, token, now=T0)


def test_a_header_that_is_not_a_json_object_is_refused() -> None:
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(KEY, forge([], claims_for()), now=T0)
