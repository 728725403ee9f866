"""Shopify connector: signature, delivery id and parsing of order, fulfillment and privacy webhooks."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from helpdesk.channels.base import ParsedDelivery
from helpdesk.channels.shopify import CONNECTOR, ShopifyConnector
from helpdesk.core.errors import InvalidSignature, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store
from tests.unit.builders import NOW

SAMPLE = Path(__file__).resolve().parents[2] / "infrastructure/local/samples/shopify/orders_create.json"
SECRET = "shpss_test_client_secret"
RAW_KEY = "raw/t1/shopify/s1/2024/03/01/shopify-545ebdd4-b7be-4d3d-b14e-54aa78e0e0f9"
WEBHOOK_ID = "545ebdd4-b7be-4d3d-b14e-54aa78e0e0f9"
SHOP_TIME = "2021-12-31T19:00:00-05:00"  # the docs' timestamps: midnight UTC on 1 January 2022
SHOP_TIME_UTC = datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
STORE = Store(
    tenant_id="t1",
    store_id="s1",
    channel=Channel.SHOPIFY,
    display_name="Demo Shopify shop",
    secret_name="helpdesk/t1/s1",
    created_at=NOW,
)


def shopify_signature(body: bytes, secret: str = SECRET) -> str:
    """X-Shopify-Hmac-Sha256 as Shopify computes it: base64(HMAC-SHA256(client secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def topic_headers(topic: str = "orders/create", **extra: str) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "jsmith.myshopify.com",
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": WEBHOOK_ID,
        "X-Shopify-Triggered-At": "2025-07-10T16:15:47.000000Z",
        "X-Shopify-Event-Id": "59d6d79c-595f-4e7e-bc6f-72f5c3d0c66f",
        **extra,
    }


def parse(payload: Any, topic: str = "orders/create"):
    return CONNECTOR.parse(STORE, topic_headers(topic), json.dumps(payload).encode(), RAW_KEY, NOW)


@pytest.fixture
def order() -> dict[str, Any]:
    """The orders/create sample payload of Shopify's webhook reference (order "#9999")."""
    return copy.deepcopy(json.loads(SAMPLE.read_text()))


@pytest.fixture
def open_order(order: dict[str, Any]) -> dict[str, Any]:
    """The docs order is a cancelled test order; most status tests need a live, paid one."""
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid", fulfillment_status=None)
    return order


def fulfillment(**overrides: Any) -> dict[str, Any]:
    """The fulfillments/create sample of Shopify's webhook reference (two of its five lines)."""
    f: dict[str, Any] = {
        "id": 123456,
        "order_id": 820982911946154508,
        "status": "pending",
        "created_at": SHOP_TIME,
        "service": None,
        "updated_at": SHOP_TIME,
        "tracking_company": "UPS",
        "shipment_status": None,
        "location_id": None,
        "origin_address": None,
        "email": "jon@example.com",
        "destination": {"first_name": "Steve", "last_name": "Shipper", "name": "Steve Shipper", "zip": "40003"},
        "line_items": [
            {
                "id": 487817672276298554,
                "title": "Aviator sunglasses",
                "quantity": 1,
                "sku": "SKU2006-001",
                "name": "Aviator sunglasses",
                "price": "89.99",
                "total_discount": "0.00",
            },
            {
                "id": 976318377106520349,
                "title": "Mid-century lounger",
                "quantity": 1,
                "sku": "SKU2006-020",
                "name": "Mid-century lounger",
                "price": "159.99",
                "total_discount": "5.00",
            },
        ],
        "tracking_number": "1z827wk74630",
        "tracking_numbers": ["1z827wk74630"],
        "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630",
        "tracking_urls": ["https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"],
        "receipt": {},
        "name": "#9999.1",
        "admin_graphql_api_id": "gid://shopify/Fulfillment/123456",
    }
    f.update(overrides)
    return f


def test_the_module_exposes_a_shopify_connector() -> None:
    assert isinstance(CONNECTOR, ShopifyConnector)
    assert CONNECTOR.channel == Channel.SHOPIFY.value == "shopify"


# --- signature ----------------------------------------------------------------------------------


def test_verify_accepts_base64_hmac_sha256_of_the_raw_body() -> None:
    body = SAMPLE.read_bytes()
    assert CONNECTOR.verify({"X-Shopify-Hmac-Sha256": shopify_signature(body)}, body, SECRET) is None


@pytest.mark.parametrize("name", ["x-shopify-hmac-sha256", "X-Shopify-Hmac-SHA256", "X-SHOPIFY-HMAC-SHA256"])
def test_verify_reads_the_header_case_insensitively(name: str) -> None:
    body = SAMPLE.read_bytes()
    CONNECTOR.verify({name: shopify_signature(body)}, body, SECRET)


def test_verify_rejects_a_signature_made_with_another_secret() -> None:
    body = SAMPLE.read_bytes()
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"X-Shopify-Hmac-Sha256": shopify_signature(body, "another-apps-secret")}, body, SECRET)


def test_verify_rejects_a_hex_digest_instead_of_base64() -> None:
    body = SAMPLE.read_bytes()
    hex_signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"X-Shopify-Hmac-Sha256": hex_signature}, body, SECRET)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Shopify-Hmac-Sha256": ""}, {"X-Shopify-Hmac-Sha256": "   "}, {"X-Shopify-Topic": "orders/create"}],
)
def test_verify_rejects_a_missing_signature(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature, match="missing X-Shopify-Hmac-Sha256"):
        CONNECTOR.verify(headers, SAMPLE.read_bytes(), SECRET)


def test_verify_rejects_a_body_changed_by_one_byte() -> None:
    body = SAMPLE.read_bytes()
    signature = shopify_signature(body)
    tampered = bytearray(body)
    index = body.index(b'"total_price": "404.95"') + len(b'"total_price": "')
    tampered[index] = ord("9")  # "404.95" -> "904.95"
    assert len(tampered) == len(body) and bytes(tampered) != body
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"X-Shopify-Hmac-Sha256": signature}, bytes(tampered), SECRET)


def test_verify_needs_the_raw_bytes_not_reserialised_json() -> None:
    body = SAMPLE.read_bytes()
    reserialised = json.dumps(json.loads(body)).encode()  # same JSON value, different bytes
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({"X-Shopify-Hmac-Sha256": shopify_signature(body)}, reserialised, SECRET)


def test_verify_rejects_a_non_ascii_signature_without_crashing() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"X-Shopify-Hmac-Sha256": "sïgnature=="}, b"{}", SECRET)


# --- ping and delivery id -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body"),
    [({}, b""), ({}, b"webhook_id=12"), (topic_headers(), b'{"id": 1}'), ({"X-Shopify-Topic": "shop/redact"}, b"{}")],
)
def test_shopify_never_pings(headers: dict[str, str], body: bytes) -> None:
    assert CONNECTOR.is_ping(headers, body) is False


def test_delivery_id_is_the_webhook_id() -> None:
    assert CONNECTOR.delivery_id(topic_headers(), b"{}") == f"shopify-{WEBHOOK_ID}"
    assert CONNECTOR.delivery_id({"x-shopify-webhook-id": WEBHOOK_ID}, b"other") == f"shopify-{WEBHOOK_ID}"


def test_delivery_id_falls_back_to_a_hash_of_the_body() -> None:
    body = b'{"id": 820982911946154508}'
    expected = "shopify-sha-" + hashlib.sha256(body).hexdigest()[:32]
    assert CONNECTOR.delivery_id({"X-Shopify-Topic": "orders/create"}, body) == expected
    assert CONNECTOR.delivery_id({}, body) == expected  # stable across redeliveries
    assert CONNECTOR.delivery_id({}, body + b" ") != expected


@pytest.mark.parametrize("webhook_id", ["", "   ", "../../other-tenant", "a/b", ".", "..", "x" * 200, "id with space"])
def test_an_unusable_webhook_id_falls_back_to_the_body_hash(webhook_id: str) -> None:
    # The header is not covered by the signature and ends up in a storage key.
    body = b"{}"
    expected = "shopify-sha-" + hashlib.sha256(body).hexdigest()[:32]
    assert CONNECTOR.delivery_id({"X-Shopify-Webhook-Id": webhook_id}, body) == expected


# --- the shop a delivery is for -------------------------------------------------------------------


def test_a_delivery_for_the_stores_shop_is_read(order: dict[str, Any]) -> None:
    store = STORE.model_copy(update={"base_url": "https://JSmith.myshopify.com/admin"})
    parsed = CONNECTOR.parse(store, topic_headers(), json.dumps(order).encode(), RAW_KEY, NOW)
    assert len(parsed.order_events) == 1


@pytest.mark.parametrize("topic", ["orders/create", "fulfillments/create", "shop/redact"])
def test_a_delivery_for_another_shop_is_refused(order: dict[str, Any], topic: str) -> None:
    # One app (one client secret) installed in two shops signs both shops' deliveries alike: the
    # signature is valid, only X-Shopify-Shop-Domain tells them apart.
    store = STORE.model_copy(update={"base_url": "https://other-shop.myshopify.com"})
    with pytest.raises(MalformedPayload, match=r"'jsmith\.myshopify\.com'; this store is other-shop\.myshopify\.com"):
        CONNECTOR.parse(store, topic_headers(topic), json.dumps(order).encode(), RAW_KEY, NOW)


def test_a_delivery_without_the_shop_header_is_refused_when_the_shop_is_known(order: dict[str, Any]) -> None:
    store = STORE.model_copy(update={"base_url": "jsmith"})
    headers = {k: v for k, v in topic_headers().items() if k != "X-Shopify-Shop-Domain"}
    with pytest.raises(MalformedPayload, match="missing X-Shopify-Shop-Domain"):
        CONNECTOR.parse(store, headers, json.dumps(order).encode(), RAW_KEY, NOW)


@pytest.mark.parametrize("base_url", [None, "https://www.jsmith-coffee.example"])
def test_a_store_known_only_by_its_own_domain_is_not_checked(order: dict[str, Any], base_url: str | None) -> None:
    store = STORE.model_copy(update={"base_url": base_url})
    headers = topic_headers(**{"X-Shopify-Shop-Domain": "someone-else.myshopify.com"})
    assert len(CONNECTOR.parse(store, headers, json.dumps(order).encode(), RAW_KEY, NOW).order_events) == 1


# --- parsing the documented orders/create payload -----------------------------------------------


def test_docs_order_becomes_one_order_event() -> None:
    parsed = CONNECTOR.parse(STORE, topic_headers("orders/create"), SAMPLE.read_bytes(), RAW_KEY, NOW)

    assert parsed.messages == []  # the docs order has no note
    assert len(parsed.order_events) == 1
    event = parsed.order_events[0]
    assert event.event_type is OrderEventType.CREATED
    assert (event.tenant_id, event.store_id, event.channel) == ("t1", "s1", Channel.SHOPIFY)
    assert event.event_id == f"orders/create:820982911946154508:{SHOP_TIME}"
    assert event.raw_s3_key == RAW_KEY
    assert event.occurred_at == SHOP_TIME_UTC

    order = event.order
    assert (order.tenant_id, order.store_id, order.channel) == ("t1", "s1", Channel.SHOPIFY)
    assert order.order_ref == "9999"  # the name buyers see, "#9999", not the 18-digit id
    # The docs' sample is a cancelled test order with a voided payment: the status says so.
    assert order.status is OrderStatus.CANCELLED
    assert order.channel_status == "voided/unfulfilled/cancelled"
    assert order.currency == "USD"
    assert order.total == Decimal("404.95")
    assert [item.name for item in order.items] == [
        "Aviator sunglasses",
        "Lens Protection Plan (2 Year)",
        "Premium Leather Case",
        "Mid-century lounger",
        "Coffee table",
    ]
    assert [item.sku for item in order.items] == [
        "SKU2006-001",
        "LENS-PROTECT-2YR",
        "CASE-LEATHER-PREM",
        "SKU2006-020",
        "SKU2006-035",
    ]
    assert [item.quantity for item in order.items] == [1, 1, 1, 1, 1]
    prices = [Decimal("89.99"), Decimal("19.99"), Decimal("24.99"), Decimal("159.99"), Decimal("119.99")]
    assert [item.unit_price for item in order.items] == prices
    assert [item.total for item in order.items] == prices
    assert sum(item.total for item in order.items) == Decimal("414.95")  # the docs' total_line_items_price
    assert order.buyer_email == "jon@example.com"  # the order's e-mail, not the customer record's
    assert order.buyer_name == "John Smith"
    assert (order.carrier, order.tracking_number, order.tracking_url) == (None, None, None)
    assert (order.shipped_at, order.delivered_at) == (None, None)


def test_order_times_are_utc_aware() -> None:
    order = CONNECTOR.parse(STORE, topic_headers(), SAMPLE.read_bytes(), RAW_KEY, NOW).order_events[0].order
    assert order.ordered_at == SHOP_TIME_UTC  # 19:00 at -05:00 is midnight UTC
    assert order.ordered_at.utcoffset().total_seconds() == 0
    assert order.ordered_at.tzinfo is UTC
    assert order.updated_at == SHOP_TIME_UTC


def test_times_in_other_offsets_and_in_utc_are_converted(order: dict[str, Any]) -> None:
    order["created_at"] = "2025-02-04T19:09:48+01:00"
    order["updated_at"] = "2025-02-04T18:09:49Z"
    parsed = parse(order)
    assert parsed.order_events[0].order.ordered_at == datetime(2025, 2, 4, 18, 9, 48, tzinfo=UTC)
    assert parsed.order_events[0].occurred_at == datetime(2025, 2, 4, 18, 9, 49, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "order_number", "expected"),
    [
        ("#1001", 1001, "1001"),
        ("#SHOP-1001-EU", 1001, "SHOP-1001-EU"),  # stores may add a prefix/suffix to order names
        ("", 1234, "1234"),
        (None, None, "820982911946154508"),
    ],
)
def test_order_ref_is_the_name_buyers_see(order: dict[str, Any], name: Any, order_number: Any, expected: str) -> None:
    order["name"], order["order_number"] = name, order_number
    assert parse(order).order_events[0].order.order_ref == expected


def test_buyer_email_falls_back_to_contact_email_then_customer(order: dict[str, Any]) -> None:
    order["email"] = None
    order["contact_email"] = "contact@example.com"
    assert parse(order).order_events[0].order.buyer_email == "contact@example.com"
    order["contact_email"] = ""
    assert parse(order).order_events[0].order.buyer_email == "john@example.com"
    order["customer"] = None
    assert parse(order).order_events[0].order.buyer_email is None


def test_buyer_email_is_normalised(order: dict[str, Any]) -> None:
    order["email"] = "  Jon@Example.COM "
    assert parse(order).order_events[0].order.buyer_email == "jon@example.com"


def test_buyer_name_falls_back_to_the_billing_address(order: dict[str, Any]) -> None:
    del order["customer"]  # e.g. a guest order
    assert parse(order).order_events[0].order.buyer_name == "Steve Shipper"


def test_line_totals_deduct_line_discounts_and_multiply_quantities(order: dict[str, Any]) -> None:
    order["line_items"][3].update(quantity=2, total_discount="5.00")
    item = parse(order).order_events[0].order.items[3]
    assert (item.quantity, item.unit_price, item.total) == (2, Decimal("159.99"), Decimal("314.98"))


def test_a_line_without_sku_or_price_is_kept(order: dict[str, Any]) -> None:
    order["line_items"] = [{"title": "Gift wrap", "quantity": 1, "sku": "", "price": None}]
    item = parse(order).order_events[0].order.items[0]
    assert (item.name, item.sku, item.unit_price, item.total) == ("Gift wrap", None, None, None)


# --- the buyer's note ---------------------------------------------------------------------------


@pytest.mark.parametrize("note", [None, "", "   \n\t"])
def test_no_message_without_a_note(order: dict[str, Any], note: str | None) -> None:
    order["note"] = note
    assert parse(order).messages == []


def test_note_becomes_an_inbound_message_threaded_on_the_order(order: dict[str, Any]) -> None:
    order["note"] = "  Please leave the parcel with the neighbour at number 12.  "
    parsed = parse(order)

    assert len(parsed.messages) == 1 and len(parsed.order_events) == 1
    message = parsed.messages[0]
    assert message.channel_message_id == "order-820982911946154508-note"
    assert message.channel_thread_id == "order-820982911946154508"
    assert message.order_ref == "9999"
    assert message.body == "Please leave the parcel with the neighbour at number 12."
    assert message.buyer_email == "jon@example.com"
    assert message.buyer_name == "John Smith"
    assert message.subject == "Order #9999: note from the buyer"
    assert message.received_at == SHOP_TIME_UTC
    assert message.raw_s3_key == RAW_KEY
    assert (message.tenant_id, message.store_id, message.channel) == ("t1", "s1", Channel.SHOPIFY)
    assert message.cancellation_requested is False


def test_the_same_note_gets_the_same_message_id_on_every_update(order: dict[str, Any]) -> None:
    order["note"] = "Gift wrap please"
    first = parse(order, "orders/create").messages[0]
    order["updated_at"] = "2022-01-02T10:00:00-05:00"
    again = parse(order, "orders/updated").messages[0]
    assert first.channel_message_id == again.channel_message_id  # deduplicated downstream


def test_note_on_an_order_without_times_is_received_now(order: dict[str, Any]) -> None:
    order["note"] = "Gift wrap please"
    del order["created_at"], order["updated_at"]
    parsed = parse(order)
    assert parsed.messages[0].received_at == NOW
    assert parsed.order_events[0].occurred_at == NOW
    assert parsed.order_events[0].event_id == "orders/create:820982911946154508:"


# --- event types and statuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "changes", "expected"),
    [
        ("orders/create", {}, OrderEventType.CREATED),
        ("orders/create", {"financial_status": "refunded"}, OrderEventType.CREATED),
        ("orders/updated", {}, OrderEventType.UPDATED),
        ("orders/paid", {}, OrderEventType.UPDATED),
        ("orders/cancelled", {"cancelled_at": SHOP_TIME, "cancel_reason": "customer"}, OrderEventType.CANCELLED),
        ("orders/cancelled", {}, OrderEventType.CANCELLED),  # the topic alone says so
        ("orders/updated", {"cancelled_at": SHOP_TIME}, OrderEventType.CANCELLED),
        ("orders/updated", {"financial_status": "refunded"}, OrderEventType.REFUNDED),
        ("orders/updated", {"financial_status": "partially_refunded"}, OrderEventType.UPDATED),
        ("orders/fulfilled", {"fulfillment_status": "fulfilled"}, OrderEventType.UPDATED),  # no tracking number
    ],
)
def test_event_type_follows_topic_and_order(
    open_order: dict[str, Any], topic: str, changes: dict[str, Any], expected: OrderEventType
) -> None:
    open_order.update(changes)
    assert parse(open_order, topic).order_events[0].event_type is expected


def test_a_cancelled_order_reports_cancelled_even_if_refunded(open_order: dict[str, Any]) -> None:
    open_order.update(cancelled_at=SHOP_TIME, financial_status="refunded")
    event = parse(open_order, "orders/cancelled").order_events[0]
    assert (event.event_type, event.order.status) == (OrderEventType.CANCELLED, OrderStatus.CANCELLED)
    assert event.order.channel_status == "refunded/unfulfilled/cancelled"


@pytest.mark.parametrize(
    ("financial", "fulfillment_status", "status", "channel_status"),
    [
        ("pending", None, OrderStatus.PENDING, "pending/unfulfilled"),
        ("authorized", None, OrderStatus.PENDING, "authorized/unfulfilled"),
        ("partially_paid", None, OrderStatus.PENDING, "partially_paid/unfulfilled"),
        ("voided", None, OrderStatus.PENDING, "voided/unfulfilled"),
        ("paid", None, OrderStatus.PROCESSING, "paid/unfulfilled"),
        ("paid", "partial", OrderStatus.PROCESSING, "paid/partial"),
        ("partially_refunded", None, OrderStatus.PROCESSING, "partially_refunded/unfulfilled"),
        ("paid", "fulfilled", OrderStatus.SHIPPED, "paid/fulfilled"),
        ("refunded", "fulfilled", OrderStatus.REFUNDED, "refunded/fulfilled"),
        (None, None, OrderStatus.PENDING, "unknown/unfulfilled"),
    ],
)
def test_statuses_map_to_canonical_ones(
    open_order: dict[str, Any],
    financial: str | None,
    fulfillment_status: str | None,
    status: OrderStatus,
    channel_status: str,
) -> None:
    open_order.update(financial_status=financial, fulfillment_status=fulfillment_status)
    order = parse(open_order, "orders/updated").order_events[0].order
    assert order.status is status
    assert order.channel_status == channel_status


# --- tracking from the order's fulfillments -----------------------------------------------------


def test_fulfilled_order_with_tracking_is_a_shipped_event(open_order: dict[str, Any]) -> None:
    open_order.update(fulfillment_status="fulfilled", fulfillments=[fulfillment(status="success")])
    event = parse(open_order, "orders/fulfilled").order_events[0]

    assert event.event_type is OrderEventType.SHIPPED
    order = event.order
    assert order.status is OrderStatus.SHIPPED
    assert order.carrier == "UPS"
    assert order.tracking_number == "1z827wk74630"
    assert order.tracking_url == "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"
    assert order.shipped_at == SHOP_TIME_UTC
    assert order.delivered_at is None
    assert len(order.items) == 5  # the order's lines, not the fulfillment's


def test_partially_fulfilled_order_with_tracking_is_a_shipped_event(open_order: dict[str, Any]) -> None:
    open_order.update(fulfillment_status="partial", fulfillments=[fulfillment(status="success")])
    event = parse(open_order, "orders/partially_fulfilled").order_events[0]
    assert event.event_type is OrderEventType.SHIPPED
    assert event.order.status is OrderStatus.PROCESSING  # other lines still wait
    assert event.order.tracking_number == "1z827wk74630"


def test_the_latest_live_fulfillment_gives_the_tracking(open_order: dict[str, Any]) -> None:
    open_order.update(
        fulfillment_status="fulfilled",
        fulfillments=[
            fulfillment(id=1, status="success", tracking_number="OLD1", tracking_company="USPS"),
            fulfillment(
                id=2,
                status="success",
                tracking_company="DHL Express",
                tracking_number=None,
                tracking_numbers=["JD0146000043"],
                tracking_url=None,
                tracking_urls=["https://www.dhl.com/track?id=JD0146000043"],
                created_at="2022-01-03T09:30:00-05:00",
            ),
            fulfillment(id=3, status="cancelled", tracking_number="VOID3", tracking_company="FedEx"),
        ],
    )
    order = parse(open_order, "orders/fulfilled").order_events[0].order
    assert (order.carrier, order.tracking_number) == ("DHL Express", "JD0146000043")
    assert order.tracking_url == "https://www.dhl.com/track?id=JD0146000043"
    assert order.shipped_at == datetime(2022, 1, 3, 14, 30, tzinfo=UTC)


def test_a_delivered_shipment_makes_the_order_delivered(open_order: dict[str, Any]) -> None:
    open_order.update(
        fulfillment_status="fulfilled", fulfillments=[fulfillment(status="success", shipment_status="delivered")]
    )
    event = parse(open_order, "orders/updated").order_events[0]
    assert event.order.status is OrderStatus.DELIVERED
    assert event.event_type is OrderEventType.UPDATED
    assert event.order.delivered_at is None  # the order payload does not say when


def test_a_fulfilled_order_without_tracking_is_shipped_but_not_a_shipped_event(open_order: dict[str, Any]) -> None:
    open_order.update(
        fulfillment_status="fulfilled",
        fulfillments=[
            fulfillment(
                status="success",
                tracking_number=None,
                tracking_numbers=[],
                tracking_url=None,
                tracking_urls=[],
                tracking_company=None,
            )
        ],
    )
    event = parse(open_order, "orders/fulfilled").order_events[0]
    assert event.event_type is OrderEventType.UPDATED
    assert event.order.status is OrderStatus.SHIPPED
    assert (event.order.carrier, event.order.tracking_number) == (None, None)
    assert event.order.shipped_at == SHOP_TIME_UTC


# --- fulfillments/* -----------------------------------------------------------------------------


def test_docs_fulfillment_becomes_a_shipped_event_for_its_order() -> None:
    parsed = parse(fulfillment(), "fulfillments/create")

    assert parsed.messages == []
    assert len(parsed.order_events) == 1
    event = parsed.order_events[0]
    assert event.event_type is OrderEventType.SHIPPED
    assert event.event_id == f"fulfillments/create:123456:{SHOP_TIME}"
    assert (event.tenant_id, event.store_id, event.channel) == ("t1", "s1", Channel.SHOPIFY)
    assert event.occurred_at == SHOP_TIME_UTC
    assert event.raw_s3_key == RAW_KEY

    order = event.order
    assert order.order_ref == "9999"  # from "#9999.1": the same ref the orders/* events carry
    assert order.status is OrderStatus.SHIPPED
    assert order.channel_status == "fulfillment pending"
    assert order.carrier == "UPS"
    assert order.tracking_number == "1z827wk74630"
    assert order.tracking_url == "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"
    assert order.shipped_at == SHOP_TIME_UTC
    assert order.updated_at == SHOP_TIME_UTC
    assert order.buyer_email == "jon@example.com"
    # The fulfilled lines are a subset of the order: items stay empty so the stored list is kept.
    assert order.items == []
    # What a fulfillment does not carry stays unknown instead of being made up.
    assert (order.total, order.currency, order.buyer_name, order.ordered_at) == (None, None, None, None)


def test_a_delivered_fulfillment_update_is_a_delivered_event() -> None:
    payload = fulfillment(status="success", shipment_status="delivered", updated_at="2022-01-05T15:00:00-05:00")
    event = parse(payload, "fulfillments/update").order_events[0]
    assert event.event_type is OrderEventType.DELIVERED
    assert event.order.status is OrderStatus.DELIVERED
    assert event.order.channel_status == "fulfillment success, shipment delivered"
    assert event.order.tracking_number == "1z827wk74630"
    assert event.event_id == "fulfillments/update:123456:2022-01-05T15:00:00-05:00"
    assert event.occurred_at == datetime(2022, 1, 5, 20, 0, tzinfo=UTC)


def test_an_in_transit_fulfillment_update_stays_shipped() -> None:
    event = parse(fulfillment(status="success", shipment_status="in_transit"), "fulfillments/update").order_events[0]
    assert (event.event_type, event.order.status) == (OrderEventType.SHIPPED, OrderStatus.SHIPPED)


@pytest.mark.parametrize("status", ["cancelled", "failure", "error"])
def test_a_dead_fulfillment_carries_no_tracking(status: str) -> None:
    event = parse(fulfillment(status=status), "fulfillments/update").order_events[0]
    assert event.event_type is OrderEventType.UPDATED
    assert event.order.status is OrderStatus.UNKNOWN
    assert (event.order.carrier, event.order.tracking_number, event.order.shipped_at) == (None, None, None)


def test_a_pending_fulfillment_without_tracking_is_processing() -> None:
    payload = fulfillment(tracking_number=None, tracking_numbers=[], tracking_url=None, tracking_urls=[])
    event = parse(payload, "fulfillments/create").order_events[0]
    assert event.event_type is OrderEventType.UPDATED
    assert event.order.status is OrderStatus.PROCESSING
    assert event.order.shipped_at is None


def test_a_successful_fulfillment_without_tracking_is_shipped() -> None:
    payload = fulfillment(status="success", tracking_number=None, tracking_numbers=[], tracking_url=None)
    event = parse(payload, "fulfillments/create").order_events[0]
    assert (event.event_type, event.order.status) == (OrderEventType.UPDATED, OrderStatus.SHIPPED)
    assert event.order.shipped_at == SHOP_TIME_UTC


@pytest.mark.parametrize(
    ("name", "expected"),
    [("#1001.2", "1001"), ("#SHOP-7.10", "SHOP-7"), (None, "820982911946154508"), ("odd", "820982911946154508")],
)
def test_fulfillment_order_ref_comes_from_its_name_else_the_order_id(name: Any, expected: str) -> None:
    assert parse(fulfillment(name=name), "fulfillments/create").order_events[0].order.order_ref == expected


@pytest.mark.parametrize("payload", [{"id": 123456, "status": "success"}, {"order_id": 1}, {"id": 1, "order_id": None}])
def test_a_fulfillment_without_ids_is_malformed(payload: dict[str, Any]) -> None:
    with pytest.raises(MalformedPayload, match="not a Shopify fulfillment"):
        parse(payload, "fulfillments/create")


# --- privacy (GDPR) topics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        (
            "customers/data_request",
            b'{"shop_id": 954889, "shop_domain": "jsmith.myshopify.com", '
            b'"orders_requested": [299938], "customer": {"id": 191167, '
            b'"email": "john@example.com"}, "data_request": {"id": 9999}}',
        ),
        (
            "customers/redact",
            b'{"shop_id": 954889, "shop_domain": "jsmith.myshopify.com", '
            b'"customer": {"id": 191167, "email": "john@example.com"}, "orders_to_redact": [299938]}',
        ),
        ("shop/redact", b'{"shop_id": 954889, "shop_domain": "jsmith.myshopify.com"}'),
        ("shop/redact", b"not even json"),
    ],
)
def test_privacy_topics_produce_nothing(topic: str, body: bytes) -> None:
    parsed = CONNECTOR.parse(STORE, topic_headers(topic), body, RAW_KEY, NOW)
    assert parsed == ParsedDelivery()
    assert (parsed.messages, parsed.order_events) == ([], [])


# --- malformed deliveries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2, 3]", "no 'id'"),
        (b'"an order"', "no 'id'"),
        (b"820982911946154508", "no 'id'"),
        (b'{"name": "#9999"}', "no 'id'"),
    ],
)
def test_unreadable_bodies_are_malformed_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        CONNECTOR.parse(STORE, topic_headers("orders/create"), body, RAW_KEY, NOW)
    assert reason in caught.value.message
    assert caught.value.code == "malformed_payload" and caught.value.status == 400


@pytest.mark.parametrize("topic", ["app/uninstalled", "products/create", "orders/delete", "refunds/create", ""])
def test_unknown_topics_are_malformed(order: dict[str, Any], topic: str) -> None:
    with pytest.raises(MalformedPayload, match="unsupported Shopify topic"):
        parse(order, topic)


def test_a_delivery_without_topic_header_is_malformed(order: dict[str, Any]) -> None:
    with pytest.raises(MalformedPayload, match="topic"):
        CONNECTOR.parse(STORE, {}, json.dumps(order).encode(), RAW_KEY, NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_price", "twelve"),
        ("total_price", "NaN"),
        ("total_price", "Infinity"),
        ("created_at", "yesterday"),
        ("updated_at", 20211231),
        ("email", "not-an-email"),
        ("currency", 840),
        ("note", 42),
        ("line_items", [{"name": "x", "quantity": "many"}]),
        ("line_items", [{"name": "x", "quantity": -1}]),
        ("line_items", [{"name": "x", "quantity": 10, "price": "9e999999"}]),  # overflows when multiplied
    ],
)
def test_unreadable_order_fields_are_malformed(order: dict[str, Any], field: str, value: Any) -> None:
    order[field] = value
    with pytest.raises(MalformedPayload, match="could not be read"):
        parse(order, "orders/updated")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("customer", "john@example.com", id="customer-not-an-object"),
        pytest.param("line_items", ["Aviator sunglasses"], id="line-item-not-an-object"),
        pytest.param("line_items", {"id": 1}, id="line-items-not-a-list"),
        pytest.param("fulfillments", ["#9999.1"], id="fulfillment-not-an-object"),
        pytest.param("fulfillments", [{"tracking_numbers": 5}], id="tracking-numbers-not-a-list"),
    ],
)
def test_wrongly_shaped_order_fields_are_malformed(order: dict[str, Any], field: str, value: Any) -> None:
    order[field] = value
    with pytest.raises(MalformedPayload, match="could not be read"):
        parse(order, "orders/updated")


def test_a_wrongly_shaped_billing_address_is_malformed_when_it_is_needed(order: dict[str, Any]) -> None:
    order["customer"] = None  # the buyer's name then comes from the billing address
    order["billing_address"] = ["Steve", "Shipper"]
    with pytest.raises(MalformedPayload, match="could not be read"):
        parse(order, "orders/updated")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("updated_at", "soon"),
        ("created_at", 1640995200),
        ("tracking_url", ["https://ups.example"]),
        ("email", "nobody"),
    ],
)
def test_unreadable_fulfillment_fields_are_malformed(field: str, value: Any) -> None:
    with pytest.raises(MalformedPayload, match="could not be read"):
        parse(fulfillment(**{field: value}), "fulfillments/update")
