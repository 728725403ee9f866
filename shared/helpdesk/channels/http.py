"""The one way connectors talk HTTP to channels: httpx with timeouts, retries with exponential
backoff and full jitter on 429/5xx and network errors, ``Retry-After`` honoured, and a token
bucket per client so a channel's published rate limit is never exceeded.

Safety of retries: a request that never reached the channel (connect error) is always retried; a
request that may have reached it (read timeout, 5xx) is retried only when it is idempotent: GET,
HEAD, PUT, DELETE, or a POST the caller marks ``idempotent=True`` (e.g. carrying an idempotency
key). A reply to a buyer must never be sent twice because a response was slow.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from helpdesk.core.errors import ChannelError, ChannelRateLimited

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)]; ``attempt`` counts from 1."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``. Thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst ≥ 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting if needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            self._tokens -= 1  # may go negative: later callers wait behind this one
        if wait:
            self._sleep(wait)
        return wait


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class ChannelHttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        channel: str,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit: TokenBucket | None = None,
        transport: httpx.BaseTransport | None = None,
        auth: httpx.Auth | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.channel = channel
        self._http = httpx.Client(
            base_url=base_url, headers=dict(headers or {}), timeout=timeout, transport=transport, auth=auth
        )
        self._retry = retry or RetryPolicy()
        self._bucket = rate_limit
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.attempts = 0  # requests actually sent, retries included (for metrics and tests)

    def __enter__(self) -> ChannelHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, *, idempotent: bool = False, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, idempotent=idempotent, **kwargs)

    def request(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> httpx.Response:
        """Send with retries; return a 2xx/3xx/4xx response (4xx other than 429 is the caller's to
        read), raise ChannelRateLimited / ChannelError when retries are exhausted."""
        method = method.upper()
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        policy = self._retry
        for attempt in range(1, policy.max_attempts + 1):
            if self._bucket is not None:
                self._bucket.acquire()
            last = attempt == policy.max_attempts
            self.attempts += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.ConnectError as exc:  # never reached the channel: always safe to retry
                if last:
                    raise ChannelError(
                        f"{self.channel} unreachable: {exc}", channel=self.channel, reached=False
                    ) from None
                self._sleep(policy.backoff(attempt, self._rng))
                continue
            except httpx.TransportError as exc:  # may have reached it
                if last or not safe_to_repeat:
                    raise ChannelError(
                        f"{self.channel} request failed: {type(exc).__name__}",
                        channel=self.channel,
                        retried=attempt - 1,
                    ) from None
                self._sleep(policy.backoff(attempt, self._rng))
                continue
            status = response.status_code
            if status not in policy.retry_statuses:
                return response
            retryable = status == 429 or safe_to_repeat  # a 429 was refused before any effect
            if last or not retryable:
                error = ChannelRateLimited if status == 429 else ChannelError
                raise error(
                    f"{self.channel} answered HTTP {status}",
                    channel=self.channel,
                    status=status,
                    body=response.text[:500],
                    retried=attempt - 1,
                )
            delay = retry_after_seconds(response.headers.get("retry-after"))
            self._sleep(min(policy.max_delay, delay) if delay is not None else policy.backoff(attempt, self._rng))
        raise AssertionError("unreachable")  # pragma: no cover
