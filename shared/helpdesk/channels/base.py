"""The interface every webhook-delivering channel connector implements."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from helpdesk.core.models import InboundMessage, Order, OrderEvent, Store

if TYPE_CHECKING:  # httpx costs ~100 ms of import: webhook-only functions never load it
    from helpdesk.channels.http import ChannelHttpClient


@dataclass(frozen=True)
class ParsedDelivery:
    """What one channel delivery contains, in canonical form."""

    messages: list[InboundMessage] = field(default_factory=list)
    order_events: list[OrderEvent] = field(default_factory=list)


class WebhookConnector(Protocol):
    channel: str

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Raise InvalidSignature unless the delivery is authentic."""
        ...

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """A channel's 'is this URL alive' request, answered 200 and not stored."""
        ...

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The channel's id for this delivery (idempotency key)."""
        ...

    def parse(
        self, store: Store, headers: Mapping[str, str], body: bytes, raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        """Canonical messages and order events; raise MalformedPayload with a reason."""
        ...


def hmac_sha256(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@dataclass(frozen=True)
class PollResult:
    """One poll of one store: what it found and where the next poll starts.

    ``next_cursor`` is stored only after ``messages`` and ``order_events`` are safely queued, so a
    crash between the two makes the next poll fetch the same items again (deduplicated downstream
    by channel message id) instead of skipping them.
    """

    messages: list[InboundMessage] = field(default_factory=list)
    order_events: list[OrderEvent] = field(default_factory=list)
    next_cursor: str | None = None
    raw_pages: list[bytes] = field(default_factory=list)


class PollConnector(Protocol):
    """A channel whose messages are fetched (Mirakl inbox, eBay, TikTok Shop conversations)."""

    channel: str

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        """An HTTP client for this store's API (base URL, auth headers, the channel's rate limit)."""
        ...

    def poll(self, store: Store, http: ChannelHttpClient, cursor: str | None, now: datetime) -> PollResult:
        """Everything new since ``cursor`` (None: a first poll, which looks back a bounded window)."""
        ...

    def send_reply(self, store: Store, http: ChannelHttpClient, thread_id: str, body: str) -> str:
        """Post an agent's reply on the channel thread; returns the channel's message id."""
        ...


class ApiConnector(Protocol):
    """Any channel with an HTTP API the product calls (every module but plain e-mail)."""

    channel: str

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        """An HTTP client for this store's API: base URL, auth, the channel's rate limit. Raises
        ChannelError naming the missing credential key when ``credentials`` lacks one."""
        ...

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        """One cheap authenticated call proving the credentials work (seller setup). Returns a label
        for the account (shop name, seller id); raises ChannelError (``status`` = the channel's HTTP
        status, e.g. 401/403) with the channel's own reason when they are refused."""
        ...


class OrderLookup(ApiConnector, Protocol):
    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        """The order as the channel knows it now; None when the channel says there is no such order
        (404 or an empty result). Any other failure raises ChannelError."""
        ...


class ReplySender(ApiConnector, Protocol):
    def send_reply(self, store: Store, http: ChannelHttpClient, thread_id: str, body: str) -> str:
        """Post an agent's reply on the channel thread; returns the channel's message id. Never
        retried after the request may have reached the channel (no double send)."""
        ...


class WebhookRegistrar(ApiConnector, Protocol):
    """A channel with an API to subscribe the product's webhook URL (Shopify, BigCommerce,
    WooCommerce, Walmart)."""

    def register_webhooks(self, store: Store, http: ChannelHttpClient, callback_url: str, secret: str) -> list[str]:
        """Subscribe ``callback_url`` to every topic this connector parses; returns the channel's
        subscription ids (kept on the store to remove them later). ``secret`` is what the channel
        must sign or authenticate deliveries with, where the channel lets the caller choose it."""
        ...

    def remove_webhooks(self, store: Store, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        """Delete the subscriptions; one already gone (404) is not an error."""
        ...
