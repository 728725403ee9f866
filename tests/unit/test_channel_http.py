"""The channels' HTTP client: retries, backoff, Retry-After, rate limiting — on httpx's mock transport."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest
import respx

from helpdesk.channels.http import ChannelHttpClient, RetryPolicy, TokenBucket, retry_after_seconds
from helpdesk.core.errors import ChannelError, ChannelRateLimited

BASE = "https://marketplace.example.com"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(sleeps: Sleeps, **kwargs: object) -> ChannelHttpClient:
    return ChannelHttpClient(BASE, channel="mirakl", sleep=sleeps, rng=random.Random(1), **kwargs)  # type: ignore[arg-type]


@respx.mock
def test_success_needs_one_request() -> None:
    route = respx.get(f"{BASE}/api/inbox/threads").mock(return_value=httpx.Response(200, json={"data": []}))
    sleeps = Sleeps()
    with client(sleeps) as http:
        assert http.get("/api/inbox/threads").json() == {"data": []}
    assert route.call_count == 1 and sleeps == []


@respx.mock
def test_5xx_on_a_get_is_retried_with_growing_jittered_backoff() -> None:
    route = respx.get(f"{BASE}/orders").mock(
        side_effect=[
            httpx.Response(502),
            httpx.Response(503),
            httpx.Response(500),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=30)
    with client(sleeps, retry=policy) as http:
        assert http.get("/orders").json() == {"ok": True}
    assert route.call_count == 4 and http.attempts == 4
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0 <= slept <= 1.0 * 2 ** (attempt - 1)


@respx.mock
def test_retry_after_is_honoured_on_429_even_for_a_post() -> None:
    route = respx.post(f"{BASE}/api/inbox/threads/t1/message").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(201, json={"id": "m1"})]
    )
    sleeps = Sleeps()
    with client(sleeps) as http:
        assert http.post("/api/inbox/threads/t1/message", json={"body": "hi"}).status_code == 201
    assert route.call_count == 2 and sleeps == [7.0]


@respx.mock
def test_a_post_that_may_have_taken_effect_is_not_repeated() -> None:
    route = respx.post(f"{BASE}/reply").mock(return_value=httpx.Response(503))
    with client(Sleeps()) as http, pytest.raises(ChannelError) as caught:
        http.post("/reply", json={})
    assert route.call_count == 1 and caught.value.details["status"] == 503


@respx.mock
def test_a_post_marked_idempotent_is_retried() -> None:
    route = respx.post(f"{BASE}/reply").mock(side_effect=[httpx.Response(503), httpx.Response(200)])
    with client(Sleeps()) as http:
        assert http.post("/reply", idempotent=True, json={}).status_code == 200
    assert route.call_count == 2


@respx.mock
def test_read_timeout_on_post_is_not_retried_but_connect_error_is() -> None:
    timeout = respx.post(f"{BASE}/a").mock(side_effect=httpx.ReadTimeout("slow"))
    with client(Sleeps()) as http, pytest.raises(ChannelError):
        http.post("/a")
    assert timeout.call_count == 1
    connect = respx.post(f"{BASE}/b").mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200)])
    with client(Sleeps()) as http:
        assert http.post("/b").status_code == 200
    assert connect.call_count == 2


@respx.mock
def test_exhausted_retries_raise_with_status_and_body() -> None:
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429, text="slow down"))
    sleeps = Sleeps()
    with client(sleeps, retry=RetryPolicy(max_attempts=3)) as http, pytest.raises(ChannelRateLimited) as caught:
        http.get("/x")
    assert caught.value.details == {"channel": "mirakl", "status": 429, "body": "slow down", "retried": 2}
    assert len(sleeps) == 2


@respx.mock
def test_4xx_is_returned_to_the_caller_without_retry() -> None:
    route = respx.get(f"{BASE}/missing").mock(return_value=httpx.Response(404, json={"message": "no"}))
    with client(Sleeps()) as http:
        assert http.get("/missing").status_code == 404
    assert route.call_count == 1


def test_retry_after_formats() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Mon, 23 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Mon, 23 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_token_bucket_spaces_requests_to_the_rate() -> None:
    now = [0.0]
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits[:2] == [0.0, 0.0]  # the burst
    assert all(w == pytest.approx(0.5) for w in waits[2:])  # then 2 per second
    assert now[0] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        TokenBucket(rate=0)


@respx.mock
def test_every_attempt_takes_a_rate_limit_token() -> None:
    respx.get(f"{BASE}/y").mock(side_effect=[httpx.Response(500), httpx.Response(200)])
    taken = []

    class Bucket(TokenBucket):
        def acquire(self) -> float:
            taken.append(1)
            return 0.0

    with client(Sleeps(), rate_limit=Bucket(rate=1)) as http:
        http.get("/y")
    assert len(taken) == 2
