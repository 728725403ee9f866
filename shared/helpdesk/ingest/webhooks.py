"""From a channel delivery to canonical messages on the queue, keeping the raw payload. Plain Python.

Order of work for one webhook delivery:
1. the store must exist for this tenant and channel (else NotFound → 404);
2. the signature is checked with the store's secret (else InvalidSignature → 401, nothing stored);
3. the body is parsed; if it cannot be read it is kept under ``quarantine/`` and MalformedPayload
   (→ 400 with the reason) is raised;
4. the raw body is kept under ``raw/`` and the canonical envelope goes on the ingest queue.
Steps 3-4 are what the webhook function makes idempotent on the channel's delivery id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from helpdesk.channels import webhook_connector
from helpdesk.channels.base import WebhookConnector
from helpdesk.core.clock import utc_now
from helpdesk.core.errors import InvalidSignature, MalformedPayload, NotFound
from helpdesk.core.models import IngestEnvelope, IngestError, Store
from helpdesk.ingest.ports import EnvelopePublisher, IngestErrorLog, RawPayloadStore, SecretProvider
from helpdesk.tickets.ports import TicketRepository


@dataclass(frozen=True)
class Delivery:
    """An authenticated delivery, ready to be stored."""

    store: Store
    connector: WebhookConnector
    delivery_id: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    ping: bool = False


@dataclass(frozen=True)
class Receipt:
    delivery_id: str
    raw_s3_key: str | None
    messages: int
    order_events: int
    ping: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ping" if self.ping else "accepted",
            "delivery_id": self.delivery_id,
            "messages": self.messages,
            "order_events": self.order_events,
        }


# Channel headers a parser may read; nothing that authenticates (signatures, tokens) is kept.
_UNSAFE_HEADERS = ("signature", "hmac", "authorization", "token", "cookie", "secret", "api-key")


def replayable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers kept beside a raw delivery (content type and the channel's own x- headers)."""
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if (lower == "content-type" or lower.startswith("x-")) and not any(u in lower for u in _UNSAFE_HEADERS):
            kept[lower] = value
    return kept


def raw_key(prefix: str, store: Store, delivery_id: str, at: datetime) -> str:
    return f"{prefix}/{store.tenant_id}/{store.channel.value}/{store.store_id}/{at:%Y/%m/%d}/{delivery_id}"


class WebhookIngestor:
    def __init__(
        self,
        repository: TicketRepository,
        secrets: SecretProvider,
        raw_store: RawPayloadStore,
        publisher: EnvelopePublisher,
        clock: Callable[[], datetime] = utc_now,
        errors: IngestErrorLog | None = None,
    ) -> None:
        self._repo = repository
        self._secrets = secrets
        self._raw = raw_store
        self._publisher = publisher
        self._clock = clock
        self._errors = errors

    def authenticate(
        self, tenant_id: str, channel: str, store_id: str, headers: Mapping[str, str], body: bytes
    ) -> Delivery:
        connector = webhook_connector(channel)
        store = self._repo.get_store(tenant_id, store_id)
        if store is None or store.channel.value != channel or store.disconnected_at is not None:
            raise NotFound("unknown store", store_id=store_id)  # a disconnected store is gone for channels
        received_at = self._clock()
        if connector.is_ping(headers, body):
            return Delivery(store, connector, "ping", headers, body, received_at, ping=True)
        try:
            connector.verify(headers, body, self._secrets.webhook_secret(store))
        except InvalidSignature:
            # The cached secret may predate a rotation: check once more against a fresh copy.
            connector.verify(headers, body, self._secrets.webhook_secret(store, refresh=True))
        return Delivery(store, connector, connector.delivery_id(headers, body), headers, body, received_at)

    def ingest(self, delivery: Delivery) -> Receipt:
        if delivery.ping:
            return Receipt(delivery.delivery_id, None, 0, 0, ping=True)
        store, at = delivery.store, delivery.received_at
        key = raw_key("raw", store, delivery.delivery_id, at)
        content_type = delivery.headers.get("content-type") or delivery.headers.get("Content-Type") or ""
        try:
            parsed = delivery.connector.parse(store, delivery.headers, delivery.body, key, at)
        except MalformedPayload as exc:
            quarantine = raw_key("quarantine", store, delivery.delivery_id, at)
            self._raw.put(quarantine, delivery.body, content_type, {"reason": exc.message[:512]})
            exc.details["quarantined_as"] = quarantine
            if self._errors is not None:  # the seller sees it in the store's ingest errors
                self._errors.record_ingest_error(
                    IngestError(
                        tenant_id=store.tenant_id,
                        store_id=store.store_id,
                        channel=store.channel,
                        delivery_id=delivery.delivery_id,
                        reason=exc.message[:500],
                        quarantine_key=quarantine,
                        at=at,
                    )
                )
            raise
        self._raw.put(
            key,
            delivery.body,
            content_type,
            {
                "delivery-id": delivery.delivery_id,
                "received-at": at.isoformat(),
                # What a replay needs to parse it again (never the signature: it was verified now).
                "headers": json.dumps(replayable_headers(delivery.headers), separators=(",", ":"))[:1500],
            },
        )
        envelope = IngestEnvelope(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=store.channel,
            delivery_id=delivery.delivery_id,
            raw_s3_key=key,
            messages=parsed.messages,
            order_events=parsed.order_events,
        )
        self._publisher.publish(envelope)
        return Receipt(delivery.delivery_id, key, len(parsed.messages), len(parsed.order_events))
