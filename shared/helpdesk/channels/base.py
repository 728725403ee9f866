"""The interface every webhook-delivering channel connector implements."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from helpdesk.models import InboundMessage, OrderEvent, Store


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

    def parse(self, store: Store, headers: Mapping[str, str], body: bytes, raw_s3_key: str,
              received_at: datetime) -> ParsedDelivery:
        """Canonical messages and order events; raise MalformedPayload with a reason."""
        ...


def hmac_sha256(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
