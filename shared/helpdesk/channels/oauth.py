"""Access tokens for channels whose API takes a short-lived bearer token obtained from a long-lived
credential (Amazon LWA, eBay, Walmart, TikTok Shop, Etsy): an ``httpx.Auth`` that fetches the token
on first use, caches it process-wide (a warm Lambda reuses it across invocations) until shortly
before it expires, and fetches a new one once if the channel answers 401 anyway (revoked early).

The token request goes through the same httpx client (so through the same mocked transport in
tests); a refused token request is a ChannelError naming the channel's reason, status 401.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from helpdesk.channels import values
from helpdesk.core.errors import ChannelError

EXPIRY_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # time.monotonic() seconds


_CACHE: dict[tuple[str, str], AccessToken] = {}
_LOCK = threading.Lock()


def clear_token_cache() -> None:
    with _LOCK:
        _CACHE.clear()


class RefreshingTokenAuth(httpx.Auth):
    """Subclasses say how to ask for a token, read the answer and put the token on a request.

    ``cache_key`` must identify the credential (e.g. the store's secret name plus client id): two
    stores never share a token.
    """

    channel = "channel"

    def __init__(self, cache_key: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._key = (self.channel, cache_key)
        self._clock = clock

    # --- what a channel defines -----------------------------------------------------------------

    def token_request(self) -> httpx.Request:
        raise NotImplementedError

    def read_token(self, response: httpx.Response) -> tuple[str, float]:
        """(token, lifetime in seconds) from the token endpoint's 2xx answer. Default: OAuth 2
        ``access_token`` / ``expires_in``."""
        payload = _json(response)
        token, lifetime = payload.get("access_token"), payload.get("expires_in", 3600)
        if not isinstance(token, str) or not token:
            raise ChannelError(f"{self.channel} token answer has no access_token", channel=self.channel)
        return token, float(lifetime)

    def apply(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"

    # --- the flow --------------------------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._cached()
        if token is None:
            token = yield from self._fetch()
        self.apply(request, token)
        response = yield request
        if response.status_code == 401:
            self.invalidate()
            token = yield from self._fetch()
            self.apply(request, token)
            yield request

    def invalidate(self) -> None:
        with _LOCK:
            _CACHE.pop(self._key, None)

    def _cached(self) -> str | None:
        with _LOCK:
            token = _CACHE.get(self._key)
        if token is not None and token.expires_at - EXPIRY_MARGIN_SECONDS > self._clock():
            return token.value
        return None

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, str]:
        response = yield self.token_request()
        response.read()
        if not 200 <= response.status_code < 300:
            raise ChannelError(
                f"{self.channel} refused the credentials: HTTP {response.status_code}: {_reason(response)}",
                channel=self.channel,
                status=401 if response.status_code < 500 else response.status_code,
            )
        value, lifetime = self.read_token(response)
        with _LOCK:
            _CACHE[self._key] = AccessToken(value, self._clock() + lifetime)
        return value


def _json(response: httpx.Response) -> dict:
    payload = values.json_or_none(response.content)
    return payload if isinstance(payload, dict) else {}


def _reason(response: httpx.Response) -> str:
    return values.error_message(response, ("error_description", "message", "error", "msg"))
