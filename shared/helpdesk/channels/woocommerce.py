"""WooCommerce: order webhooks (``order.created``, ``order.updated``, ``order.deleted``, ...).

Format (WooCommerce REST API docs, "Webhooks" and "Orders", v3): the body is exactly the order as
``GET /wp-json/wc/v3/orders/<id>`` returns it. Headers: ``X-WC-Webhook-Topic``/``-Resource``/
``-Event``/``-Source``/``-ID``/``-Delivery-ID`` and ``X-WC-Webhook-Signature`` =
base64(HMAC-SHA256(webhook secret, raw body)). When a webhook is created WooCommerce pings the
delivery URL with the form body ``webhook_id=<id>``.

WooCommerce has no buyer-messaging API: the buyer's voice in an order webhook is the checkout note
(``customer_note``), which becomes an inbound message threaded on the order. Buyers' e-mails reach
the helpdesk through the e-mail channel and are matched to these orders.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from helpdesk.channels.base import ParsedDelivery, body_digest, hmac_sha256, lower_keys
from helpdesk.errors import InvalidSignature, MalformedPayload
from helpdesk.models import (
    Channel,
    InboundMessage,
    Order,
    OrderEvent,
    OrderEventType,
    OrderItem,
    OrderStatus,
    Store,
)

_STATUS = {
    "pending": OrderStatus.PENDING,
    "checkout-draft": OrderStatus.PENDING,
    "processing": OrderStatus.PROCESSING,
    "on-hold": OrderStatus.ON_HOLD,
    "completed": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}
_ORDER_TOPICS = {"order.created", "order.updated", "order.deleted", "order.restored"}
_PING = re.compile(rb"^webhook_id=\d+$")
# Meta key of the WooCommerce Shipment Tracking extension (the common way stores record tracking).
_TRACKING_META = "_wc_shipment_tracking_items"


class WooCommerceConnector:
    channel = Channel.WOOCOMMERCE.value

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        given = lower_keys(headers).get("x-wc-webhook-signature", "")
        if not given:
            raise InvalidSignature("missing X-WC-Webhook-Signature header")
        expected = base64.b64encode(hmac_sha256(secret, body)).decode()
        if not hmac.compare_digest(given.strip(), expected):
            raise InvalidSignature("X-WC-Webhook-Signature does not match the body")

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return "x-wc-webhook-topic" not in lower_keys(headers) and bool(_PING.match(body.strip()))

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        h = lower_keys(headers)
        delivery = h.get("x-wc-webhook-delivery-id")
        return f"wc-{h.get('x-wc-webhook-id', '0')}-{delivery}" if delivery else f"sha-{body_digest(body)}"

    def parse(
        self, store: Store, headers: Mapping[str, str], body: bytes, raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        topic = lower_keys(headers).get("x-wc-webhook-topic", "")
        if topic not in _ORDER_TOPICS:
            raise MalformedPayload(f"unsupported WooCommerce topic {topic!r}; subscribe order.* topics")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedPayload(f"body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict) or "id" not in payload:
            raise MalformedPayload("body is not a WooCommerce order (no 'id')")
        try:
            order = self._order(store, payload)
            event = OrderEvent(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.WOOCOMMERCE,
                event_type=self._event_type(topic, order.status),
                event_id=f"{topic}:{payload['id']}:{payload.get('date_modified_gmt') or ''}",
                order=order,
                occurred_at=order.updated_at or received_at,
                raw_s3_key=raw_s3_key,
            )
            messages = self._buyer_note(store, payload, order, raw_s3_key, received_at)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise MalformedPayload(f"WooCommerce order could not be read: {exc}") from None
        return ParsedDelivery(messages=messages, order_events=[event])

    @staticmethod
    def _event_type(topic: str, status: OrderStatus) -> OrderEventType:
        if topic == "order.created":
            return OrderEventType.CREATED
        if topic == "order.deleted":
            return OrderEventType.DELETED
        return {
            OrderStatus.CANCELLED: OrderEventType.CANCELLED,
            OrderStatus.REFUNDED: OrderEventType.REFUNDED,
        }.get(status, OrderEventType.UPDATED)

    def _order(self, store: Store, p: dict[str, Any]) -> Order:
        billing = p.get("billing") or {}
        tracking = _tracking(p.get("meta_data") or [])
        name = " ".join(x for x in (billing.get("first_name"), billing.get("last_name")) if x) or None
        return Order(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.WOOCOMMERCE,
            order_ref=str(p.get("number") or p["id"]),
            status=_STATUS.get(str(p.get("status")), OrderStatus.UNKNOWN),
            channel_status=p.get("status"),
            currency=p.get("currency"),
            total=_decimal(p.get("total")),
            items=[
                OrderItem(
                    sku=li.get("sku") or None,
                    name=li.get("name") or "item",
                    quantity=int(li.get("quantity") or 0),
                    unit_price=_decimal(li.get("price")),
                    total=_decimal(li.get("total")),
                )
                for li in p.get("line_items") or []
            ],
            buyer_email=billing.get("email") or None,
            buyer_name=name,
            carrier=tracking.get("carrier"),
            tracking_number=tracking.get("number"),
            tracking_url=tracking.get("url"),
            ordered_at=_gmt(p.get("date_created_gmt")),
            shipped_at=tracking.get("shipped_at"),
            delivered_at=None,
            updated_at=_gmt(p.get("date_modified_gmt")),
        )

    @staticmethod
    def _buyer_note(
        store: Store, p: dict[str, Any], order: Order, raw_s3_key: str, received_at: datetime
    ) -> list[InboundMessage]:
        note = (p.get("customer_note") or "").strip()
        if not note:
            return []
        return [
            InboundMessage(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.WOOCOMMERCE,
                channel_message_id=f"order-{p['id']}-customer-note",
                channel_thread_id=f"order-{p['id']}",
                order_ref=order.order_ref,
                buyer_email=order.buyer_email,
                buyer_name=order.buyer_name,
                subject=f"Order #{order.order_ref}: note from the buyer",
                body=note,
                received_at=order.ordered_at or received_at,
                raw_s3_key=raw_s3_key,
            )
        ]


def _gmt(value: Any) -> datetime | None:
    """WooCommerce ``*_gmt`` fields are naive ISO strings in UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _tracking(meta: list[dict[str, Any]]) -> dict[str, Any]:
    for entry in meta:
        if isinstance(entry, dict) and entry.get("key") == _TRACKING_META and entry.get("value"):
            items = entry["value"]
            last = items[-1] if isinstance(items, list) else None
            if isinstance(last, dict):
                shipped = last.get("date_shipped")
                return {
                    "carrier": last.get("custom_tracking_provider") or last.get("tracking_provider") or None,
                    "number": last.get("tracking_number") or None,
                    "url": last.get("custom_tracking_link") or None,
                    "shipped_at": datetime.fromtimestamp(int(shipped), UTC) if str(shipped or "").isdigit() else None,
                }
    return {}


CONNECTOR = WooCommerceConnector()
