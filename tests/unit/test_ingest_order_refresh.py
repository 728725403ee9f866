"""EnvelopeProcessor: thin order events (an id and a status, no items) are completed from the channel's
order API before they are stored; a failing channel costs nothing of what the event carried."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from helpdesk.channels.bigcommerce import CONNECTOR as BIGCOMMERCE
from helpdesk.core.errors import ChannelError
from helpdesk.core.models import (
    Channel,
    IngestEnvelope,
    Order,
    OrderEvent,
    OrderEventType,
    OrderItem,
    OrderStatus,
    Store,
)
from helpdesk.ingest.envelopes import EnvelopeProcessor, OrderRefreshFailure, completed, is_thin
from helpdesk.tickets.threads import TicketService
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, TENANT, make_inbound, make_store

SAMPLES = Path(__file__).resolve().parents[2] / "infrastructure/local/samples/bigcommerce"
BC_STORE = make_store(
    store_id="bc-main",
    channel=Channel.BIGCOMMERCE,
    base_url="https://api.bigcommerce.com/stores/abc123",
    secret_name="helpdesk/t1/bc-main",
)
MODIFIED = datetime(2019, 6, 25, 16, 17, 40, tzinfo=UTC)


class ChannelOrderApi:
    """The OrderSource port: answers from a dict, or raises; records what it was asked."""

    def __init__(self, orders: dict[str, Order] | None = None, error: Exception | None = None) -> None:
        self.orders = orders or {}
        self.error = error
        self.asked: list[tuple[str, str]] = []

    def fetch(self, store: Store, order_ref: str) -> Order | None:
        self.asked.append((store.store_id, order_ref))
        if self.error is not None:
            raise self.error
        return self.orders.get(order_ref)


def full_order(order_ref: str = "250", **changes: object) -> Order:
    order = Order(
        tenant_id=TENANT,
        store_id="bc-main",
        channel=Channel.BIGCOMMERCE,
        order_ref=order_ref,
        status=OrderStatus.SHIPPED,
        channel_status="Shipped",
        currency="USD",
        total=Decimal("301.23"),
        items=[OrderItem(sku="OTL", name="Orbit Terrarium - Large", quantity=2, total=Decimal("236.00"))],
        buyer_email="janedoe@email.com",
        buyer_name="Jane Doe",
        carrier="USPS",
        tracking_number="EJ958083578UK",
        ordered_at=datetime(2019, 6, 20, 16, 7, 8, tzinfo=UTC),
        shipped_at=MODIFIED,
        updated_at=MODIFIED,
    )
    return order.model_copy(update=changes)


def thin_envelope(*samples: str) -> IngestEnvelope:
    """Envelopes as the webhook function builds them from BigCommerce's documented callbacks."""
    events = []
    for sample in samples:
        body = (SAMPLES / sample).read_bytes()
        events.extend(BIGCOMMERCE.parse(BC_STORE, {}, body, f"raw/{sample}", NOW).order_events)
    return IngestEnvelope(
        tenant_id=TENANT,
        store_id="bc-main",
        channel=Channel.BIGCOMMERCE,
        delivery_id="bc-1",
        raw_s3_key="raw/x",
        order_events=events,
    )


@pytest.fixture
def bc_repo(repo: InMemoryRepository) -> InMemoryRepository:
    repo.put_store(BC_STORE)
    return repo


def test_a_thin_event_is_stored_as_the_channels_full_order(bc_repo: InMemoryRepository, service: TicketService) -> None:
    api = ChannelOrderApi({"250": full_order()})
    envelope = thin_envelope("webhook_order_updated.json")
    (event,) = envelope.order_events
    assert is_thin(event) and event.order.items == [] and event.order.status == OrderStatus.UNKNOWN

    result = EnvelopeProcessor(bc_repo, service, orders=api).process(envelope)

    assert api.asked == [("bc-main", "250")]
    assert (result.orders_written, result.orders_refreshed, result.order_refresh_failures) == (1, 1, ())
    stored = bc_repo.orders[(TENANT, "bc-main", "250")]
    assert stored == full_order()


def test_each_order_is_asked_for_once_per_envelope(bc_repo: InMemoryRepository, service: TicketService) -> None:
    api = ChannelOrderApi({"250": full_order()})
    envelope = thin_envelope("webhook_order_status_updated.json", "webhook_order_updated.json")
    assert [e.order.order_ref for e in envelope.order_events] == ["250", "250"]

    result = EnvelopeProcessor(bc_repo, service, orders=api).process(envelope)

    assert api.asked == [("bc-main", "250")]
    assert (result.orders_written, result.orders_refreshed) == (2, 1)


def test_a_failing_channel_stores_what_the_event_carried_and_says_why(
    bc_repo: InMemoryRepository, service: TicketService
) -> None:
    api = ChannelOrderApi(error=ChannelError("BigCommerce answered HTTP 401", channel="bigcommerce", status=401))
    envelope = thin_envelope("webhook_order_status_updated.json")

    result = EnvelopeProcessor(bc_repo, service, orders=api).process(envelope)

    assert result.orders_written == 1 and result.orders_refreshed == 0
    assert result.order_refresh_failures == (OrderRefreshFailure("bc-main", "250", "BigCommerce answered HTTP 401"),)
    stored = bc_repo.orders[(TENANT, "bc-main", "250")]
    assert (stored.status, stored.channel_status, stored.items) == (OrderStatus.PROCESSING, "Awaiting Fulfillment", [])


def test_an_unexpected_error_in_the_lookup_does_not_lose_the_event_or_the_messages(
    bc_repo: InMemoryRepository, service: TicketService
) -> None:
    api = ChannelOrderApi(error=KeyError("store_hash"))
    envelope = thin_envelope("webhook_order_updated.json")
    envelope.messages.append(make_inbound())

    result = EnvelopeProcessor(bc_repo, service, orders=api).process(envelope)

    assert (result.orders_written, result.tickets_created) == (1, 1)
    (failure,) = result.order_refresh_failures
    assert failure.reason == "KeyError: 'store_hash'"
    assert (TENANT, "bc-main", "250") in bc_repo.orders


def test_an_order_the_channel_does_not_know_keeps_the_event(
    bc_repo: InMemoryRepository, service: TicketService
) -> None:
    api = ChannelOrderApi({})
    result = EnvelopeProcessor(bc_repo, service, orders=api).process(thin_envelope("webhook_order_status_updated.json"))
    assert (result.orders_written, result.orders_refreshed, result.order_refresh_failures) == (1, 0, ())
    assert bc_repo.orders[(TENANT, "bc-main", "250")].channel_status == "Awaiting Fulfillment"


def test_full_events_deletions_and_disconnected_stores_are_not_looked_up(
    bc_repo: InMemoryRepository, service: TicketService
) -> None:
    api = ChannelOrderApi({"250": full_order(), "251": full_order("251")})
    full = OrderEvent(
        tenant_id=TENANT,
        store_id="bc-main",
        channel=Channel.BIGCOMMERCE,
        event_type=OrderEventType.CREATED,
        event_id="e-1",
        order=full_order("251"),
        occurred_at=NOW,
    )
    archived = thin_envelope("webhook_order_archived.json")
    envelope = archived.model_copy(update={"order_events": [full, *archived.order_events]})
    assert [is_thin(e) for e in envelope.order_events] == [False, False]

    result = EnvelopeProcessor(bc_repo, service, orders=api).process(envelope)
    assert api.asked == [] and result.orders_written == 2

    bc_repo.put_store(BC_STORE.model_copy(update={"disconnected_at": NOW}))
    result = EnvelopeProcessor(bc_repo, service, orders=api).process(thin_envelope("webhook_order_updated.json"))
    assert api.asked == [] and (result.orders_written, result.orders_refreshed) == (1, 0)


def test_without_an_order_source_thin_events_are_stored_as_they_came(
    bc_repo: InMemoryRepository, service: TicketService
) -> None:
    result = EnvelopeProcessor(bc_repo, service).process(thin_envelope("webhook_order_status_updated.json"))
    assert (result.orders_written, result.orders_refreshed) == (1, 0)
    assert bc_repo.orders[(TENANT, "bc-main", "250")].items == []


def test_completed_fills_only_what_the_channels_answer_left_unknown() -> None:
    thin = Order(
        tenant_id=TENANT,
        store_id="bc-main",
        channel=Channel.BIGCOMMERCE,
        order_ref="250",
        status=OrderStatus.CANCELLED,
        channel_status="Cancelled",
        tracking_number="FROM-EVENT",
    )
    answer = full_order(status=OrderStatus.UNKNOWN, channel_status="Partially Refunded", tracking_number=None)
    merged = completed(answer, thin)
    assert (merged.status, merged.channel_status, merged.tracking_number) == (
        OrderStatus.CANCELLED,
        "Partially Refunded",
        "FROM-EVENT",
    )
    assert merged.items == answer.items and merged.total == answer.total
    assert completed(full_order(), thin) == full_order()  # the channel's answer is the newer truth


def test_the_documented_thin_callbacks_are_thin() -> None:
    for sample in (
        "webhook_order_created.json",
        "webhook_order_updated.json",
        "webhook_order_status_updated.json",
        "webhook_shipment_created.json",
    ):
        (event,) = thin_envelope(sample).order_events
        assert is_thin(event), sample
        assert json.loads((SAMPLES / sample).read_text())["scope"].startswith("store/")
