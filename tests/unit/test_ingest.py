"""WebhookIngestor (authenticate, keep raw, publish) and EnvelopeProcessor (orders, then messages)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.core.errors import InvalidSignature, MalformedPayload, NotFound
from helpdesk.core.models import Channel, IngestEnvelope, OrderEventType
from helpdesk.ingest.envelopes import EnvelopeProcessor
from helpdesk.ingest.webhooks import WebhookIngestor, raw_key
from helpdesk.tickets.threads import TicketService
from tests.conftest import woo_signature
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.raw_store import InMemoryRawStore
from tests.fakes.repository import InMemoryRepository
from tests.fakes.secrets import StaticSecrets
from tests.fakes.sla_timers import RecordingSlaTimers
from tests.fakes.sleep import RecordingSleep
from tests.unit.builders import NOW, SECRET, STORE, TENANT, make_inbound, make_store

RECEIVED = datetime(2024, 3, 9, 23, 59, 30, tzinfo=UTC)


@pytest.fixture
def ingestor(
    repo: InMemoryRepository, secrets: StaticSecrets, raw_store: InMemoryRawStore, publisher: RecordingPublisher
) -> WebhookIngestor:
    return WebhookIngestor(repo, secrets, raw_store, publisher, clock=lambda: RECEIVED, errors=repo)


def signed(body: bytes, topic: str = "order.created", secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-source": "https://shop.example.com/",
        "x-wc-webhook-id": "12",
        "x-wc-webhook-delivery-id": "d-0042",
        "x-wc-webhook-signature": woo_signature(body, secret),
        **extra,
    }


def deliver(
    ingestor: WebhookIngestor,
    headers: dict[str, str],
    body: bytes,
    channel: str = "woocommerce",
    tenant_id: str = TENANT,
    store_id: str = STORE,
):
    return ingestor.ingest(ingestor.authenticate(tenant_id, channel, store_id, headers, body))


# --- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant_id", "store_id"),
    [("t1", "unknown-store"), ("other-tenant", STORE)],  # another tenant's store id is unknown too
)
def test_an_unknown_store_is_not_found(
    ingestor: WebhookIngestor,
    raw_store: InMemoryRawStore,
    publisher: RecordingPublisher,
    woo_order: dict[str, Any],
    tenant_id: str,
    store_id: str,
) -> None:
    body = json.dumps(woo_order).encode()
    with pytest.raises(NotFound):
        ingestor.authenticate(tenant_id, "woocommerce", store_id, signed(body), body)
    assert raw_store.objects == {} and publisher.envelopes == []


def test_a_store_of_another_channel_is_not_found(
    repo: InMemoryRepository, ingestor: WebhookIngestor, secrets: StaticSecrets, woo_order: dict[str, Any]
) -> None:
    repo.put_store(make_store(store_id="mirakl-fr", channel=Channel.MIRAKL))
    body = json.dumps(woo_order).encode()
    with pytest.raises(NotFound):
        ingestor.authenticate(TENANT, "woocommerce", "mirakl-fr", signed(body), body)
    assert secrets.asked == []  # refused before any secret is read


def test_a_disconnected_store_refuses_deliveries(
    repo: InMemoryRepository, ingestor: WebhookIngestor, secrets: StaticSecrets, woo_order: dict[str, Any]
) -> None:
    repo.put_store(make_store(store_id="gone", disconnected_at=NOW, active=False))
    body = json.dumps(woo_order).encode()
    with pytest.raises(NotFound):
        ingestor.authenticate(TENANT, "woocommerce", "gone", signed(body), body)
    assert secrets.asked == []


def test_a_channel_without_connector_is_not_found(ingestor: WebhookIngestor) -> None:
    with pytest.raises(NotFound):
        ingestor.authenticate(TENANT, "mirakl", STORE, {}, b"{}")


@pytest.mark.parametrize("case", ["wrong-secret", "missing", "tampered"])
def test_a_bad_signature_is_refused_and_nothing_is_kept(
    ingestor: WebhookIngestor,
    raw_store: InMemoryRawStore,
    publisher: RecordingPublisher,
    woo_order: dict[str, Any],
    case: str,
) -> None:
    body = json.dumps(woo_order).encode()
    headers = signed(body, secret="not-the-secret" if case == "wrong-secret" else SECRET)
    if case == "missing":
        del headers["x-wc-webhook-signature"]
    if case == "tampered":
        body = body.replace(b"29.35", b"0.01")
    with pytest.raises(InvalidSignature):
        deliver(ingestor, headers, body)
    assert raw_store.objects == {} and publisher.envelopes == []


def test_a_rotated_secret_is_picked_up_on_the_first_mismatch(
    ingestor: WebhookIngestor, secrets: StaticSecrets, publisher: RecordingPublisher, woo_order: dict[str, Any]
) -> None:
    secrets.rotated[(TENANT, STORE)] = "rotated-secret"
    body = json.dumps(woo_order).encode()
    receipt = deliver(ingestor, signed(body, secret="rotated-secret"), body)
    assert receipt.order_events == 1 and len(publisher.envelopes) == 1
    assert secrets.refreshed == [STORE]
    deliver(ingestor, signed(body, secret="rotated-secret"), body)
    assert secrets.refreshed == [STORE]  # the refreshed value is cached again


def test_a_wrong_signature_refreshes_once_then_fails(
    ingestor: WebhookIngestor, secrets: StaticSecrets, woo_order: dict[str, Any]
) -> None:
    body = json.dumps(woo_order).encode()
    with pytest.raises(InvalidSignature):
        deliver(ingestor, signed(body, secret="forged"), body)
    assert secrets.refreshed == [STORE]


def test_the_signature_is_checked_with_the_stores_own_secret(
    repo: InMemoryRepository,
    secrets: StaticSecrets,
    raw_store: InMemoryRawStore,
    publisher: RecordingPublisher,
    woo_order: dict[str, Any],
) -> None:
    repo.put_store(make_store(store_id="s2"))
    secrets.secrets[(TENANT, "s2")] = "s2-secret"
    ingestor = WebhookIngestor(repo, secrets, raw_store, publisher, clock=lambda: RECEIVED)
    body = json.dumps(woo_order).encode()
    with pytest.raises(InvalidSignature):  # s1's secret does not open s2
        deliver(ingestor, signed(body, secret=SECRET), body, store_id="s2")
    receipt = deliver(ingestor, signed(body, secret="s2-secret"), body, store_id="s2")
    assert receipt.raw_s3_key.startswith(f"raw/{TENANT}/woocommerce/s2/")


# --- good deliveries ----------------------------------------------------------------------------


def test_a_good_delivery_keeps_the_raw_body_and_publishes_one_envelope(
    ingestor: WebhookIngestor, raw_store: InMemoryRawStore, publisher: RecordingPublisher, woo_order: dict[str, Any]
) -> None:
    woo_order["customer_note"] = "Please ship before Friday"
    body = json.dumps(woo_order).encode()

    delivery = ingestor.authenticate(TENANT, "woocommerce", STORE, signed(body), body)
    assert delivery.delivery_id == "wc-12-d-0042" and delivery.ping is False
    receipt = ingestor.ingest(delivery)

    key = "raw/t1/woocommerce/s1/2024/03/09/wc-12-d-0042"
    assert receipt.raw_s3_key == key
    assert receipt.as_dict() == {"status": "accepted", "delivery_id": "wc-12-d-0042", "messages": 1, "order_events": 1}
    assert list(raw_store.objects) == [key]
    stored = raw_store.objects[key]
    assert stored.body == body  # byte for byte what the channel sent
    assert stored.content_type == "application/json"
    assert stored.metadata["delivery-id"] == "wc-12-d-0042"
    assert stored.metadata["received-at"] == "2024-03-09T23:59:30+00:00"
    kept_headers = json.loads(stored.metadata["headers"])  # what a replay needs to parse it again
    assert kept_headers["x-wc-webhook-topic"] == "order.created"
    assert not any("signature" in name for name in kept_headers)

    assert len(publisher.envelopes) == 1
    envelope = publisher.envelopes[0]
    assert (envelope.tenant_id, envelope.store_id, envelope.channel) == (TENANT, STORE, Channel.WOOCOMMERCE)
    assert envelope.delivery_id == "wc-12-d-0042"
    assert envelope.raw_s3_key == key
    assert [e.order.order_ref for e in envelope.order_events] == ["727"]
    assert envelope.order_events[0].event_type is OrderEventType.CREATED
    assert envelope.order_events[0].raw_s3_key == key
    assert [m.channel_message_id for m in envelope.messages] == ["order-727-customer-note"]
    assert envelope.messages[0].body == "Please ship before Friday"
    assert envelope.messages[0].raw_s3_key == key


def test_a_delivery_without_delivery_id_is_keyed_by_its_body(
    ingestor: WebhookIngestor, raw_store: InMemoryRawStore, woo_order: dict[str, Any]
) -> None:
    body = json.dumps(woo_order).encode()
    headers = signed(body)
    del headers["x-wc-webhook-delivery-id"]
    receipt = deliver(ingestor, headers, body)
    assert receipt.delivery_id.startswith("sha-")
    assert list(raw_store.objects) == [f"raw/t1/woocommerce/s1/2024/03/09/{receipt.delivery_id}"]


def test_the_raw_key_uses_the_day_the_delivery_was_received() -> None:
    store = make_store()
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert raw_key("raw", store, "d1", at) == "raw/t1/woocommerce/s1/2025/01/02/d1"
    assert raw_key("quarantine", store, "d1", at) == "quarantine/t1/woocommerce/s1/2025/01/02/d1"


# --- malformed deliveries and pings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "topic"),
    [(b"{this is not json", "order.created"), (b"[]", "order.updated"), (b'{"id": 1}', "product.created")],
)
def test_a_malformed_delivery_is_quarantined_and_not_published(
    ingestor: WebhookIngestor,
    raw_store: InMemoryRawStore,
    publisher: RecordingPublisher,
    body: bytes,
    topic: str,
    repo: InMemoryRepository,
) -> None:
    with pytest.raises(MalformedPayload) as caught:
        deliver(ingestor, signed(body, topic=topic), body)
    (error,) = repo.ingest_errors  # shown to the seller in the store's ingest errors
    assert (error.store_id, error.delivery_id, error.at) == (STORE, "wc-12-d-0042", RECEIVED)
    assert error.reason == caught.value.message[:500] and error.quarantine_key.startswith("quarantine/")

    key = "quarantine/t1/woocommerce/s1/2024/03/09/wc-12-d-0042"
    assert list(raw_store.objects) == [key]
    assert all(not k.startswith("raw/") for k in raw_store.objects)
    assert raw_store.objects[key].body == body
    assert raw_store.objects[key].metadata["reason"] == caught.value.message[:512]
    assert caught.value.details["quarantined_as"] == key
    assert publisher.envelopes == []


def test_a_ping_is_answered_without_storing_anything(
    ingestor: WebhookIngestor, raw_store: InMemoryRawStore, publisher: RecordingPublisher, secrets: StaticSecrets
) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    delivery = ingestor.authenticate(TENANT, "woocommerce", STORE, headers, b"webhook_id=12")
    assert delivery.ping is True and delivery.delivery_id == "ping"
    receipt = ingestor.ingest(delivery)
    assert receipt.ping is True and receipt.raw_s3_key is None
    assert receipt.as_dict() == {"status": "ping", "delivery_id": "ping", "messages": 0, "order_events": 0}
    assert raw_store.objects == {} and publisher.envelopes == []
    assert secrets.asked == []


def test_a_ping_to_an_unknown_store_is_not_found(ingestor: WebhookIngestor) -> None:
    with pytest.raises(NotFound):
        ingestor.authenticate(TENANT, "woocommerce", "ghost", {}, b"webhook_id=12")


# --- envelope processing ------------------------------------------------------------------------


def order_envelope(
    woo_order: dict[str, Any],
    ingestor: WebhookIngestor,
    publisher: RecordingPublisher,
    note: str = "Is it gift wrapped?",
) -> IngestEnvelope:
    woo_order["customer_note"] = note
    body = json.dumps(woo_order).encode()
    deliver(ingestor, signed(body), body)
    return publisher.envelopes[-1]


def test_processing_writes_orders_before_threading_messages(
    repo: InMemoryRepository,
    service: TicketService,
    ingestor: WebhookIngestor,
    publisher: RecordingPublisher,
    woo_order: dict[str, Any],
) -> None:
    envelope = order_envelope(woo_order, ingestor, publisher)
    repo.calls.clear()

    result = EnvelopeProcessor(repo, service).process(envelope)

    names = repo.call_names()
    assert names.index("upsert_order") < names.index("find_message")
    assert (result.orders_written, result.tickets_created, result.messages_stored, result.duplicates) == (1, 1, 1, 0)
    assert repo.orders[(TENANT, STORE, "727")].total is not None
    ticket = repo.only_ticket(TENANT)
    assert ticket.order_refs == ["727"]
    assert ticket.channel_thread_id == "order-727"
    assert ticket.subject == "Order #727: note from the buyer"


def test_processing_the_same_envelope_twice_counts_duplicates(
    repo: InMemoryRepository,
    service: TicketService,
    ingestor: WebhookIngestor,
    publisher: RecordingPublisher,
    woo_order: dict[str, Any],
) -> None:
    envelope = order_envelope(woo_order, ingestor, publisher)
    processor = EnvelopeProcessor(repo, service)
    processor.process(envelope)
    again = processor.process(envelope)
    assert (again.tickets_created, again.messages_stored, again.duplicates) == (0, 0, 1)
    assert again.orders_written == 1  # the same version of an order may be written again
    assert repo.ticket_count(TENANT) == 1


def test_counts_over_several_messages_and_a_stale_order(
    repo: InMemoryRepository,
    ingestor: WebhookIngestor,
    publisher: RecordingPublisher,
    woo_order: dict[str, Any],
) -> None:
    timers = RecordingSlaTimers()
    service = TicketService(repo, timers, clock=lambda: NOW, sleep=RecordingSleep())
    envelope = order_envelope(woo_order, ingestor, publisher)
    newer = envelope.order_events[0].order.model_copy(update={"updated_at": datetime(2030, 1, 1, tzinfo=UTC)})
    repo.upsert_order(newer)  # a newer version of the order arrived first
    service.receive(make_inbound(channel_message_id="seen-before"))
    envelope.messages.extend(
        [
            make_inbound(channel_message_id="seen-before"),
            make_inbound(channel_message_id="same-thread-new", received_at=NOW + timedelta(minutes=1)),
            make_inbound(channel_message_id="new-thread", channel_thread_id="thread-2"),
        ]
    )

    result = EnvelopeProcessor(repo, service).process(envelope)

    assert result.orders_written == 0
    assert repo.orders[(TENANT, STORE, "727")].updated_at == datetime(2030, 1, 1, tzinfo=UTC)
    # customer note (new ticket), seen-before (duplicate), same-thread-new (appended), new-thread (new ticket)
    assert (result.tickets_created, result.messages_stored, result.duplicates) == (2, 3, 1)
    assert repo.ticket_count(TENANT) == 3


def test_an_envelope_with_orders_only_creates_no_ticket(
    repo: InMemoryRepository,
    service: TicketService,
    ingestor: WebhookIngestor,
    publisher: RecordingPublisher,
    woo_order: dict[str, Any],
) -> None:
    envelope = order_envelope(woo_order, ingestor, publisher, note="")
    result = EnvelopeProcessor(repo, service).process(envelope)
    assert (result.tickets_created, result.messages_stored, result.duplicates, result.orders_written) == (0, 0, 0, 1)
    assert repo.ticket_count(TENANT) == 0
