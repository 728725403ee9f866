"""WooCommerce connector: signature, ping, delivery id and parsing of order webhooks."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from helpdesk.channels import webhook_connector
from helpdesk.channels.woocommerce import CONNECTOR, WooCommerceConnector
from helpdesk.core.errors import InvalidSignature, MalformedPayload, NotFound
from helpdesk.core.models import Channel, OrderEventType, OrderStatus
from tests.conftest import woo_signature
from tests.unit.builders import NOW, SECRET, make_store

RAW_KEY = "raw/t1/woocommerce/s1/2024/03/01/wc-12-abc"
TRACKING_META = "_wc_shipment_tracking_items"


def topic_headers(topic: str = "order.created", **extra: str) -> dict[str, str]:
    return {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "abc",
        **extra,
    }


def parse(order: dict[str, Any], topic: str = "order.created"):
    body = json.dumps(order).encode()
    return CONNECTOR.parse(make_store(), topic_headers(topic), body, RAW_KEY, NOW)


# --- registry -----------------------------------------------------------------------------------


def test_registry_returns_the_woocommerce_connector() -> None:
    connector = webhook_connector("woocommerce")
    assert isinstance(connector, WooCommerceConnector)
    assert connector.channel == Channel.WOOCOMMERCE.value


@pytest.mark.parametrize("channel", ["mirakl", "nope", ""])
def test_registry_refuses_channels_without_a_webhook_connector(channel: str) -> None:
    with pytest.raises(NotFound):
        webhook_connector(channel)


# --- signature ----------------------------------------------------------------------------------


def test_verify_accepts_base64_hmac_sha256_of_the_raw_body(woo_order: dict[str, Any]) -> None:
    body = json.dumps(woo_order).encode()
    headers = {"X-WC-Webhook-Signature": woo_signature(body, SECRET)}
    assert CONNECTOR.verify(headers, body, SECRET) is None


def test_verify_reads_the_header_case_insensitively(woo_order: dict[str, Any]) -> None:
    body = json.dumps(woo_order).encode()
    CONNECTOR.verify({"x-wc-webhook-signature": woo_signature(body, SECRET)}, body, SECRET)


def test_verify_rejects_a_signature_made_with_another_secret(woo_order: dict[str, Any]) -> None:
    body = json.dumps(woo_order).encode()
    headers = {"X-WC-Webhook-Signature": woo_signature(body, "someone-else")}
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify(headers, body, SECRET)


def test_verify_rejects_a_hex_digest_instead_of_base64(woo_order: dict[str, Any]) -> None:
    import hmac

    body = json.dumps(woo_order).encode()
    hex_signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({"X-WC-Webhook-Signature": hex_signature}, body, SECRET)


@pytest.mark.parametrize("headers", [{}, {"X-WC-Webhook-Signature": ""}, {"X-WC-Webhook-Topic": "order.created"}])
def test_verify_rejects_a_missing_signature(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        CONNECTOR.verify(headers, b"{}", SECRET)


def test_verify_rejects_a_body_changed_by_one_byte(woo_order: dict[str, Any]) -> None:
    body = json.dumps(woo_order).encode()
    signature = woo_signature(body, SECRET)
    tampered = bytearray(body)
    index = body.index(b"29.35") + 1
    tampered[index] = ord("8")  # "29.35" -> "28.35"
    assert len(tampered) == len(body) and bytes(tampered) != body
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({"X-WC-Webhook-Signature": signature}, bytes(tampered), SECRET)


# --- ping and delivery id -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"webhook_id=12", b"webhook_id=12\n", b"  webhook_id=7  "])
def test_the_creation_ping_is_recognised(body: bytes) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert CONNECTOR.is_ping(headers, body) is True


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"X-WC-Webhook-Topic": "order.created"}, b"webhook_id=12"),  # a real delivery never is a ping
        ({"x-wc-webhook-topic": "order.created"}, b"webhook_id=12"),
        ({}, b"webhook_id=abc"),
        ({}, b"webhook_id=12&other=1"),
        ({}, b'{"id": 727}'),
        ({}, b""),
    ],
)
def test_other_requests_are_not_pings(headers: dict[str, str], body: bytes) -> None:
    assert CONNECTOR.is_ping(headers, body) is False


def test_delivery_id_combines_webhook_id_and_delivery_id() -> None:
    headers = {"X-WC-Webhook-ID": "12", "X-WC-Webhook-Delivery-ID": "f0e1d2"}
    assert CONNECTOR.delivery_id(headers, b"{}") == "wc-12-f0e1d2"
    assert CONNECTOR.delivery_id({k.lower(): v for k, v in headers.items()}, b"other") == "wc-12-f0e1d2"


def test_delivery_id_falls_back_to_a_hash_of_the_body() -> None:
    body = b'{"id": 727}'
    expected = "sha-" + hashlib.sha256(body).hexdigest()[:32]
    assert CONNECTOR.delivery_id({"X-WC-Webhook-ID": "12"}, body) == expected
    assert CONNECTOR.delivery_id({}, body) == expected  # stable across redeliveries
    assert CONNECTOR.delivery_id({}, body + b" ") != expected


# --- parsing the documented order ---------------------------------------------------------------


def test_docs_order_becomes_one_order_event(woo_order: dict[str, Any]) -> None:
    parsed = parse(woo_order, "order.created")

    assert parsed.messages == []  # customer_note is empty in the docs order
    assert len(parsed.order_events) == 1
    event = parsed.order_events[0]
    assert event.event_type is OrderEventType.CREATED
    assert (event.tenant_id, event.store_id, event.channel) == ("t1", "s1", Channel.WOOCOMMERCE)
    assert event.event_id == "order.created:727:2017-03-22T19:28:08"
    assert event.raw_s3_key == RAW_KEY
    assert event.occurred_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)

    order = event.order
    assert order.order_ref == "727"
    assert order.status is OrderStatus.PROCESSING
    assert order.channel_status == "processing"
    assert order.currency == "USD"
    assert order.total == Decimal("29.35")
    assert [item.quantity for item in order.items] == [2, 1]
    assert [item.name for item in order.items] == ["Woo Single #1", "Ship Your Idea &ndash; Color: Black, Size: M Test"]
    assert [item.sku for item in order.items] == [None, "Bar3"]  # an empty sku is no sku
    assert [item.unit_price for item in order.items] == [Decimal("3"), Decimal("12")]
    assert [item.total for item in order.items] == [Decimal("6.00"), Decimal("12.00")]
    assert order.buyer_email == "john.doe@example.com"
    assert order.buyer_name == "John Doe"
    assert order.tracking_number is None and order.carrier is None and order.shipped_at is None


def test_order_dates_are_utc_aware(woo_order: dict[str, Any]) -> None:
    order = parse(woo_order).order_events[0].order
    assert order.ordered_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # the *_gmt field, not local time
    assert order.ordered_at.utcoffset().total_seconds() == 0
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)


def test_order_ref_is_the_number_buyers_see(woo_order: dict[str, Any]) -> None:
    woo_order["number"] = "WC-2024-0042"
    assert parse(woo_order).order_events[0].order.order_ref == "WC-2024-0042"
    woo_order["number"] = ""
    assert parse(woo_order).order_events[0].order.order_ref == "727"


def test_buyer_email_is_normalised(woo_order: dict[str, Any]) -> None:
    woo_order["billing"]["email"] = "  John.Doe@Example.COM "
    assert parse(woo_order).order_events[0].order.buyer_email == "john.doe@example.com"


@pytest.mark.parametrize("note", ["", "   \n\t"])
def test_no_message_without_a_customer_note(woo_order: dict[str, Any], note: str) -> None:
    woo_order["customer_note"] = note
    assert parse(woo_order).messages == []


def test_customer_note_becomes_an_inbound_message_threaded_on_the_order(woo_order: dict[str, Any]) -> None:
    woo_order["customer_note"] = "  Please leave the parcel with the neighbour.  "
    parsed = parse(woo_order)

    assert len(parsed.messages) == 1
    message = parsed.messages[0]
    assert message.channel_message_id == "order-727-customer-note"
    assert message.channel_thread_id == "order-727"
    assert message.order_ref == "727"
    assert message.body == "Please leave the parcel with the neighbour."
    assert message.buyer_email == "john.doe@example.com"
    assert message.buyer_name == "John Doe"
    assert message.subject == "Order #727: note from the buyer"
    assert message.received_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert message.raw_s3_key == RAW_KEY
    assert (message.tenant_id, message.store_id, message.channel) == ("t1", "s1", Channel.WOOCOMMERCE)
    assert message.cancellation_requested is False


def test_note_on_an_order_without_dates_is_received_now(woo_order: dict[str, Any]) -> None:
    woo_order["customer_note"] = "Gift wrap please"
    del woo_order["date_created_gmt"], woo_order["date_modified_gmt"]
    parsed = parse(woo_order)
    assert parsed.messages[0].received_at == NOW
    assert parsed.order_events[0].occurred_at == NOW


@pytest.mark.parametrize(
    ("topic", "status", "expected"),
    [
        ("order.updated", "cancelled", OrderEventType.CANCELLED),
        ("order.updated", "refunded", OrderEventType.REFUNDED),
        ("order.updated", "processing", OrderEventType.UPDATED),
        ("order.updated", "completed", OrderEventType.UPDATED),
        ("order.restored", "on-hold", OrderEventType.UPDATED),
        ("order.created", "cancelled", OrderEventType.CREATED),
        ("order.deleted", "trash", OrderEventType.DELETED),
    ],
)
def test_event_type_follows_topic_and_status(
    woo_order: dict[str, Any], topic: str, status: str, expected: OrderEventType
) -> None:
    woo_order["status"] = status
    assert parse(woo_order, topic).order_events[0].event_type is expected


@pytest.mark.parametrize(
    ("channel_status", "status"),
    [
        ("pending", OrderStatus.PENDING),
        ("checkout-draft", OrderStatus.PENDING),
        ("on-hold", OrderStatus.ON_HOLD),
        ("completed", OrderStatus.COMPLETED),
        ("cancelled", OrderStatus.CANCELLED),
        ("refunded", OrderStatus.REFUNDED),
        ("failed", OrderStatus.FAILED),
        ("wc-custom-status", OrderStatus.UNKNOWN),
    ],
)
def test_statuses_map_to_canonical_ones(woo_order: dict[str, Any], channel_status: str, status: OrderStatus) -> None:
    woo_order["status"] = channel_status
    order = parse(woo_order, "order.updated").order_events[0].order
    assert order.status is status
    assert order.channel_status == channel_status


# --- tracking (Shipment Tracking extension) -----------------------------------------------------


def tracking_item(number: str, shipped: str, **extra: str) -> dict[str, str]:
    return {
        "tracking_provider": "usps",
        "custom_tracking_provider": "",
        "custom_tracking_link": f"https://track.example.com/{number}",
        "tracking_number": number,
        "date_shipped": shipped,
        "tracking_id": f"id-{number}",
        **extra,
    }


def test_tracking_comes_from_the_shipment_tracking_meta(woo_order: dict[str, Any]) -> None:
    woo_order["meta_data"].append({"id": 1, "key": TRACKING_META, "value": [tracking_item("9400111", "1490227200")]})
    order = parse(woo_order, "order.updated").order_events[0].order
    assert order.carrier == "usps"
    assert order.tracking_number == "9400111"
    assert order.tracking_url == "https://track.example.com/9400111"
    assert order.shipped_at == datetime(2017, 3, 23, 0, 0, tzinfo=UTC)
    assert order.shipped_at.tzinfo is not None


def test_the_latest_tracking_item_wins_and_a_custom_provider_overrides(woo_order: dict[str, Any]) -> None:
    items = [
        tracking_item("OLD1", "1490227200"),
        tracking_item("NEW2", "1490313600", custom_tracking_provider="Acme Couriers"),
    ]
    woo_order["meta_data"] = [{"id": 1, "key": TRACKING_META, "value": items}]
    order = parse(woo_order, "order.updated").order_events[0].order
    assert order.tracking_number == "NEW2"
    assert order.carrier == "Acme Couriers"
    assert order.shipped_at == datetime(2017, 3, 24, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("shipped", ["", "2017-03-23", None])
def test_a_non_timestamp_ship_date_is_ignored(woo_order: dict[str, Any], shipped: str | None) -> None:
    item: dict[str, Any] = tracking_item("9400111", "0")
    item["date_shipped"] = shipped
    woo_order["meta_data"] = [{"key": TRACKING_META, "value": [item]}]
    order = parse(woo_order, "order.updated").order_events[0].order
    assert order.tracking_number == "9400111"
    assert order.shipped_at is None


@pytest.mark.parametrize("value", [[], "", None])
def test_empty_tracking_meta_gives_no_tracking(woo_order: dict[str, Any], value: Any) -> None:
    woo_order["meta_data"] = [{"key": TRACKING_META, "value": value}]
    order = parse(woo_order, "order.updated").order_events[0].order
    assert (order.carrier, order.tracking_number, order.tracking_url, order.shipped_at) == (None, None, None, None)


# --- malformed deliveries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2, 3]", "no 'id'"),
        (b'"an order"', "no 'id'"),
        (b"727", "no 'id'"),
        (b'{"number": "727"}', "no 'id'"),
    ],
)
def test_unreadable_bodies_are_malformed_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        CONNECTOR.parse(make_store(), topic_headers("order.created"), body, RAW_KEY, NOW)
    assert reason in caught.value.message
    assert caught.value.code == "malformed_payload" and caught.value.status == 400


@pytest.mark.parametrize("topic", ["product.created", "customer.updated", "action.woocommerce_x", ""])
def test_unknown_topics_are_malformed(woo_order: dict[str, Any], topic: str) -> None:
    headers = topic_headers("order.created", **{"X-WC-Webhook-Topic": topic})
    with pytest.raises(MalformedPayload, match="unsupported WooCommerce topic"):
        CONNECTOR.parse(make_store(), headers, json.dumps(woo_order).encode(), RAW_KEY, NOW)


def test_a_delivery_without_topic_header_is_malformed(woo_order: dict[str, Any]) -> None:
    with pytest.raises(MalformedPayload, match="topic"):
        CONNECTOR.parse(make_store(), {}, json.dumps(woo_order).encode(), RAW_KEY, NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total", "twelve"),
        ("date_created_gmt", "yesterday"),
        ("billing", {"email": "not-an-email"}),
        ("line_items", [{"name": "x", "quantity": "many"}]),
        ("line_items", [{"name": "x", "quantity": -1}]),
    ],
)
def test_unreadable_order_fields_are_malformed(woo_order: dict[str, Any], field: str, value: Any) -> None:
    woo_order[field] = value
    with pytest.raises(MalformedPayload, match="could not be read"):
        parse(woo_order, "order.updated")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("billing", "john.doe@example.com", id="billing-not-an-object"),
        pytest.param("line_items", ["Woo Single #1"], id="line-item-not-an-object"),
        pytest.param(
            "meta_data",
            [{"key": TRACKING_META, "value": [{"tracking_number": "1", "date_shipped": "9" * 20}]}],
            id="date-shipped-out-of-range",
        ),
    ],
)
def test_wrongly_shaped_order_fields_are_malformed(woo_order: dict[str, Any], field: str, value: Any) -> None:
    woo_order[field] = value
    with pytest.raises(MalformedPayload):
        parse(woo_order, "order.updated")
