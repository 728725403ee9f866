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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from helpdesk.channels import webhook_connector
from helpdesk.channels.base import WebhookConnector
from helpdesk.errors import HelpdeskError, InvalidSignature, MalformedPayload, NotFound
from helpdesk.models import IngestEnvelope, IngestError, Order, OrderEvent, OrderEventType, OrderStatus, Store
from helpdesk.ports import EnvelopePublisher, IngestErrorLog, RawPayloadStore, SecretProvider, TicketRepository
from helpdesk.ticketing import TicketService, utc_now

if TYPE_CHECKING:  # the webhook function imports this module: it must not load the macro engine
    from helpdesk.nudges import Nudge


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
                self._errors.record_ingest_error(IngestError(
                    tenant_id=store.tenant_id, store_id=store.store_id, channel=store.channel,
                    delivery_id=delivery.delivery_id, reason=exc.message[:500], quarantine_key=quarantine, at=at))
            raise
        self._raw.put(key, delivery.body, content_type, {
            "delivery-id": delivery.delivery_id,
            "received-at": at.isoformat(),
            # What a replay needs to parse it again (never the signature: it was verified now).
            "headers": json.dumps(replayable_headers(delivery.headers), separators=(",", ":"))[:1500],
        })
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


@dataclass(frozen=True)
class OrderRefreshFailure:
    """A thin order event whose full order the channel could not give: what the event carried was
    stored instead. Ids and the channel's error only (no buyer data), for the consumer's log."""

    store_id: str
    order_ref: str
    reason: str


@dataclass(frozen=True)
class EnvelopeResult:
    tickets_created: int
    messages_stored: int
    duplicates: int
    orders_written: int
    orders_refreshed: int = 0
    order_refresh_failures: tuple[OrderRefreshFailure, ...] = ()
    nudges: tuple[str, ...] = ()  # proactive messages: what each configured one did


class IntakeStarter(Protocol):
    def start(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        """Run the intake workflow for a newly stored buyer message (asynchronously)."""
        ...


class OrderSource(Protocol):
    def fetch(self, store: Store, order_ref: str) -> Order | None:
        """The full order from the channel's API (None: no lookup for this store, or unknown order);
        raises when the channel fails (``adapters.channel_orders.ChannelOrders``)."""
        ...


class ProactiveMessages(Protocol):
    """``helpdesk.nudges``: the tenant's configured proactive messages and sending them."""

    def configured(self, tenant_id: str) -> list[Nudge]: ...

    def on_order_change(self, nudges: Sequence[Nudge], before: Order | None, after: Order) -> list[str]: ...


class EnvelopeProcessor:
    """The ingest queue's consumer: orders first (so tickets find their order), then messages; each
    newly stored message starts the intake workflow (intent, rules, SLA) for its ticket.

    Thin order events — an order id and at most a status, no items (BigCommerce callbacks, Walmart
    and TikTok status changes, Amazon ORDER_CHANGE, Shopify fulfilment events) — are completed from
    the channel's order API (``orders``) before they are stored, once per order per envelope, so the
    stored order, which every ticket on it reads (ticket view, intake's Enrich and rules, replies),
    has its items, totals, carrier and tracking as of now. When the channel fails, what the event
    carried is stored all the same (nothing lost) and the failure is reported in the result."""

    def __init__(self, repository: TicketRepository, tickets: TicketService,
                 intake: IntakeStarter | None = None, orders: OrderSource | None = None,
                 nudges: ProactiveMessages | None = None) -> None:
        self._repo = repository
        self._tickets = tickets
        self._intake = intake
        self._orders = orders
        self._nudges = nudges

    def process(self, envelope: IngestEnvelope) -> EnvelopeResult:
        refresh = _OrderRefresh()
        if self._nudges is not None and envelope.order_events:
            refresh.nudges = self._nudges.configured(envelope.tenant_id)
        orders_written = sum(1 for event in envelope.order_events if self._apply_order(event, refresh))
        created = stored = duplicates = 0
        for message in envelope.messages:
            result = self._tickets.receive(message)
            duplicates += result.duplicate
            stored += not result.duplicate
            created += result.created_ticket
            if self._intake is not None and not result.duplicate:
                self._intake.start(message.tenant_id, result.ticket_id, result.message_id)
        return EnvelopeResult(created, stored, duplicates, orders_written,
                              sum(1 for order in refresh.fetched.values() if order is not None),
                              tuple(refresh.failures), tuple(refresh.nudged))

    # --- orders -------------------------------------------------------------------------------

    def _apply_order(self, event: OrderEvent, refresh: _OrderRefresh) -> bool:
        order = event.order
        if self._orders is not None and is_thin(event):
            key = (event.store_id, order.order_ref)
            if key not in refresh.fetched:
                refresh.fetched[key] = self._fetch(self._orders, event, refresh)
            fetched = refresh.fetched[key]
            if fetched is not None:
                order = completed(fetched, order)
        if not refresh.nudges or self._nudges is None:
            return self._repo.upsert_order(order)
        before = self._repo.get_order(order.tenant_id, order.store_id, order.order_ref)
        written = self._repo.upsert_order(order)
        after = self._repo.get_order(order.tenant_id, order.store_id, order.order_ref) if written else None
        if after is not None:
            try:
                refresh.nudged.extend(self._nudges.on_order_change(refresh.nudges, before, after))
            except Exception as exc:  # noqa: BLE001 - a proactive message must never cost the order event
                refresh.nudged.append(f"{order.order_ref}: failed: {type(exc).__name__}: {str(exc)[:200]}")
        return written

    def _fetch(self, orders: OrderSource, event: OrderEvent, refresh: _OrderRefresh) -> Order | None:
        store = self._repo.get_store(event.tenant_id, event.store_id)
        if store is None or store.disconnected_at is not None:
            return None
        try:
            fetched = orders.fetch(store, event.order.order_ref)
        except Exception as exc:  # noqa: BLE001 - a refresh failure must never cost the event it completes
            reason = exc.message if isinstance(exc, HelpdeskError) else f"{type(exc).__name__}: {exc}"
            refresh.failures.append(OrderRefreshFailure(event.store_id, event.order.order_ref, reason[:300]))
            return None
        if fetched is None or (fetched.tenant_id, fetched.store_id) != (event.tenant_id, event.store_id):
            return None
        return fetched


@dataclass
class _OrderRefresh:
    """One envelope's order lookups: each order asked once, failures kept for the log."""

    fetched: dict[tuple[str, str], Order | None] = field(default_factory=dict)
    failures: list[OrderRefreshFailure] = field(default_factory=list)
    nudges: list[Nudge] = field(default_factory=list)  # the tenant's proactive messages
    nudged: list[str] = field(default_factory=list)  # what they did


def is_thin(event: OrderEvent) -> bool:
    """An event that names an order without being one (no items), other than its deletion."""
    return not event.order.items and event.event_type != OrderEventType.DELETED


def completed(fetched: Order, thin: Order) -> Order:
    """The channel's full order, with what only the event knew filled into the fields the order
    answer left unknown (None, UNKNOWN status)."""
    gaps = {name: value for name, value in thin if value is not None and value != OrderStatus.UNKNOWN
            and getattr(fetched, name) in (None, OrderStatus.UNKNOWN)}
    return fetched.model_copy(update=gaps) if gaps else fetched
