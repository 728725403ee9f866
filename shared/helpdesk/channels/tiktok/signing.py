"""TikTok Shop signatures: the webhook's ``Authorization`` HMAC, the API request signature, and the httpx
auth that signs every call and refreshes the shop's access token."""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from helpdesk.core.errors import ChannelError

if TYPE_CHECKING:  # httpx is imported only when a client is built
    import httpx


from helpdesk.channels.tiktok.payloads import _NOT_SHOP_SCOPED, AUTH_BASE, CHANNEL, REFRESH_PATH, _json_object, _message

# --- signatures (pure functions, no httpx) --------------------------------------------------------


def webhook_signature(app_key: str, app_secret: str, body: bytes) -> str:
    """The ``Authorization`` header TikTok sends: hex HMAC-SHA256(app_secret, app_key + raw body)."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


def webhook_secret(app_key: str, app_secret: str) -> str:
    """The string to store as the store's ``webhook_secret``: ``verify`` needs both halves."""
    return f"{app_key}:{app_secret}"


def api_signature(app_secret: str, path: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """``sign`` of an API request: hex HMAC-SHA256(app_secret, app_secret + path + sorted key+value
    pairs (without ``sign`` and ``access_token``) + body + app_secret)."""
    pairs = "".join(f"{key}{params[key]}" for key in sorted(params) if key not in ("sign", "access_token"))
    message = app_secret.encode() + path.encode() + pairs.encode() + body + app_secret.encode()
    return hmac.new(app_secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_shop_id(body: bytes) -> str | None:
    """The ``shop_id`` a webhook is about (the caller checks it against the store); None if absent."""
    payload = _json_object(body, "webhook body")
    shop_id = payload.get("shop_id")
    if isinstance(shop_id, bool) or not isinstance(shop_id, str | int):
        return None
    return str(shop_id) or None


# --- signing auth ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signer:
    """Puts the access token, the common parameters and ``sign`` on a request."""

    app_key: str
    app_secret: str
    shop_cipher: str | None
    wall: Callable[[], float] = time.time

    def sign(self, request: httpx.Request, token: str) -> None:
        path = request.url.path
        params = {
            key: value
            for key, value in request.url.params.multi_items()
            if value != "" and key not in ("sign", "access_token", "app_key", "timestamp", "shop_cipher")
        }
        params["app_key"] = self.app_key
        params["timestamp"] = str(int(self.wall()))
        if not path.startswith(_NOT_SHOP_SCOPED):
            if not self.shop_cipher:
                raise ChannelError("TikTok Shop store has no shop cipher (credentials['shop_cipher'])", channel=CHANNEL)
            params["shop_cipher"] = self.shop_cipher
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        body = b"" if request.method == "GET" or multipart else request.read()
        params["sign"] = api_signature(self.app_secret, path, params, body)
        request.url = request.url.copy_with(params=params)
        request.headers["x-tts-access-token"] = token


@functools.cache
def _auth_types() -> tuple[type, type]:
    """The two httpx.Auth classes, built on first use so importing this module never loads httpx."""
    import httpx

    from helpdesk.channels.oauth import RefreshingTokenAuth

    class TikTokRefreshAuth(RefreshingTokenAuth):
        """Access token from the refresh token (cached process-wide), then the request is signed."""

        channel = CHANNEL

        def __init__(
            self, cache_key: str, signer: _Signer, refresh_token: str, *, clock: Callable[[], float] = time.monotonic
        ) -> None:
            super().__init__(cache_key, clock=clock)
            self._signer = signer
            self._refresh_token = refresh_token

        def token_request(self) -> httpx.Request:
            return httpx.Request(
                "GET",
                AUTH_BASE + REFRESH_PATH,
                params={
                    "app_key": self._signer.app_key,
                    "app_secret": self._signer.app_secret,
                    "refresh_token": self._refresh_token,
                    "grant_type": "refresh_token",
                },
            )

        def read_token(self, response: httpx.Response) -> tuple[str, float]:
            payload = _json_object(response.content, "TikTok Shop token answer", error=ChannelError)
            if payload.get("code") != 0:
                raise ChannelError(
                    f"tiktok refused the refresh token: {_message(payload, response)} (code {payload.get('code')})",
                    channel=CHANNEL,
                    status=401,
                    code=payload.get("code"),
                )
            data = payload.get("data")
            token = data.get("access_token") if isinstance(data, dict) else None
            if not isinstance(data, dict) or not isinstance(token, str) or not token:
                raise ChannelError("tiktok token answer has no access_token", channel=CHANNEL, status=502)
            expires = data.get("access_token_expire_in")
            try:
                expires_at = float(expires) if expires is not None else 0.0  # no expiry: 0.0, as below
            except (TypeError, ValueError):
                expires_at = 0.0
            # An epoch time (the documented meaning); a small number is read as a lifetime.
            lifetime = expires_at - self._signer.wall() if expires_at > 1e9 else expires_at
            return token, max(0.0, lifetime)

        def apply(self, request: httpx.Request, token: str) -> None:
            self._signer.sign(request, token)

    class TikTokStaticAuth(httpx.Auth):
        """A bare access token from the credentials (no refresh possible), then the request is signed."""

        def __init__(self, signer: _Signer, token: str) -> None:
            self._signer = signer
            self._token = token

        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            self._signer.sign(request, self._token)
            yield request

    return TikTokRefreshAuth, TikTokStaticAuth
