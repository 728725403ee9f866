"""The shared refreshing-token auth: fetched once, cached per credential, refreshed on 401."""

from __future__ import annotations

import httpx
import pytest
import respx

from helpdesk.channels.http import ChannelHttpClient
from helpdesk.channels.oauth import RefreshingTokenAuth, clear_token_cache
from helpdesk.core.errors import ChannelError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ExampleAuth(RefreshingTokenAuth):
    channel = "example"

    def token_request(self) -> httpx.Request:
        return httpx.Request("POST", "https://auth.example.com/token", data={"grant_type": "refresh_token"})


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_token_cache()


def client(auth: RefreshingTokenAuth) -> ChannelHttpClient:
    return ChannelHttpClient("https://api.example.com", channel="example", auth=auth, sleep=lambda s: None)


@respx.mock
def test_token_is_fetched_once_and_reused_until_it_expires() -> None:
    tokens = iter(["tok-1", "tok-2"])
    token_route = respx.post("https://auth.example.com/token").mock(
        side_effect=lambda request: httpx.Response(200, json={"access_token": next(tokens), "expires_in": 3600})
    )
    api = respx.get("https://api.example.com/orders").mock(return_value=httpx.Response(200, json={}))
    clock = Clock()
    http = client(ExampleAuth("store-a", clock=clock))
    http.get("/orders")
    client(ExampleAuth("store-a", clock=clock)).get("/orders")  # another client, same credential
    assert token_route.call_count == 1
    assert [c.request.headers["Authorization"] for c in api.calls] == ["Bearer tok-1", "Bearer tok-1"]
    clock.now += 3600 - 30  # inside the expiry margin
    http.get("/orders")
    assert token_route.call_count == 2 and api.calls[-1].request.headers["Authorization"] == "Bearer tok-2"


@respx.mock
def test_a_401_fetches_a_new_token_once() -> None:
    tokens = iter(["old", "new"])
    respx.post("https://auth.example.com/token").mock(
        side_effect=lambda request: httpx.Response(200, json={"access_token": next(tokens), "expires_in": 3600})
    )
    api = respx.get("https://api.example.com/orders").mock(
        side_effect=lambda request: httpx.Response(200 if request.headers["Authorization"] == "Bearer new" else 401)
    )
    assert client(ExampleAuth("store-b")).get("/orders").status_code == 200
    assert len(api.calls) == 2


@respx.mock
def test_refused_credentials_are_a_channel_error_with_the_reason() -> None:
    respx.post("https://auth.example.com/token").mock(
        return_value=httpx.Response(400, json={"error": "invalid_grant", "error_description": "refresh token revoked"})
    )
    with pytest.raises(ChannelError, match="refresh token revoked") as refused:
        client(ExampleAuth("store-c")).get("/orders")
    assert refused.value.details["status"] == 401


@respx.mock
def test_two_credentials_never_share_a_token() -> None:
    tokens = iter(["tok-a", "tok-b"])
    respx.post("https://auth.example.com/token").mock(
        side_effect=lambda request: httpx.Response(200, json={"access_token": next(tokens)})
    )
    api = respx.get("https://api.example.com/orders").mock(return_value=httpx.Response(200))
    client(ExampleAuth("a")).get("/orders")
    client(ExampleAuth("b")).get("/orders")
    assert [c.request.headers["Authorization"] for c in api.calls] == ["Bearer tok-a", "Bearer tok-b"]
