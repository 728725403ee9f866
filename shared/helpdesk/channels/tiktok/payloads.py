"""TikTok Shop's payloads: the API's constants and the pure reading of its webhooks, conversations and
orders into canonical messages and order events (no HTTP here)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.core.errors import ChannelError, InvalidCursor, MalformedPayload
from helpdesk.core.models import (
    Channel,
    InboundMessage,
    Order,
    OrderEvent,
    OrderEventType,
    OrderItem,
    OrderStatus,
    Store,
)

if TYPE_CHECKING:  # httpx is imported only when a client is built
    import httpx


CHANNEL = Channel.TIKTOK.value
API_BASE = "https://open-api.tiktokglobalshop.com"
AUTH_BASE = "https://auth.tiktok-shops.com"
REFRESH_PATH = "/api/v2/token/refresh"
SHOPS_PATH = "/authorization/202309/shops"
CONVERSATIONS_PATH = "/customer_service/202309/conversations"
MESSAGES_PATH = "/customer_service/202309/conversations/{conversation_id}/messages"
ORDERS_PATH = "/order/202309/orders"

CONVERSATION_PAGE_SIZE = 20  # documented maximum
MESSAGE_PAGE_SIZE = 10  # documented maximum
MAX_CONVERSATION_PAGES = 25
MAX_MESSAGE_PAGES = 5
FIRST_POLL_LOOKBACK = timedelta(days=7)
MESSAGE_OVERLAP = timedelta(minutes=15)
REPLY_MAX_CHARS = 2000
RATE_PER_SECOND = 10.0
BURST = 10

ORDER_THREAD_PREFIX = "order-"
_NOT_SHOP_SCOPED = ("/authorization/", "/seller/")
_AUTH_ERROR_GROUP = "105"
_RATE_LIMITED_CODE = 36009002

# Webhook topic numbers (partner.tiktokshop.com/docv2/page/<n>-<topic>).
ORDER_STATUS_CHANGE = 1
RECIPIENT_ADDRESS_UPDATE = 3
PACKAGE_UPDATE = 4
SELLER_DEAUTHORIZATION = 6
UPCOMING_AUTHORIZATION_EXPIRATION = 7
CANCELLATION_STATUS_CHANGE = 11
RETURN_STATUS_CHANGE = 12
NEW_CONVERSATION = 13
NEW_MESSAGE = 14
_KEPT_RAW_ONLY = frozenset({SELLER_DEAUTHORIZATION, UPCOMING_AUTHORIZATION_EXPIRATION, NEW_CONVERSATION})

_STATUS = {
    "UNPAID": OrderStatus.PENDING,
    "ON_HOLD": OrderStatus.ON_HOLD,
    "AWAITING_SHIPMENT": OrderStatus.PROCESSING,
    "PARTIALLY_SHIPPING": OrderStatus.PROCESSING,
    "AWAITING_COLLECTION": OrderStatus.PROCESSING,
    "IN_TRANSIT": OrderStatus.SHIPPED,
    "DELIVERED": OrderStatus.DELIVERED,
    "COMPLETED": OrderStatus.COMPLETED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCEL": OrderStatus.CANCELLED,  # the ORDER_STATUS_CHANGE webhook's spelling
}
_EVENT = {
    OrderStatus.CANCELLED: OrderEventType.CANCELLED,
    OrderStatus.SHIPPED: OrderEventType.SHIPPED,
    OrderStatus.DELIVERED: OrderEventType.DELIVERED,
}
_CANCEL_DONE = frozenset({"CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE"})
_RETURN_REQUESTED = frozenset({"RETURN_OR_REFUND_REQUEST_PENDING", "REPLACEMENT_REQUEST_PENDING"})
_RETURN_REFUNDED = frozenset({"REPLACEMENT_REQUEST_REFUND_SUCCESS"})
_REFUND_TYPES = frozenset({"REFUND", "RETURN_AND_REFUND"})
_RETURN_WORDS = {"REFUND": "refund", "RETURN_AND_REFUND": "return and refund", "REPLACEMENT": "replacement"}

_BUYER = "BUYER"
_TEXT_TYPES = frozenset({"TEXT", "EMOTICONS", "OTHER"})
_ORDER_CONTEXT_TYPES = frozenset({"ORDER_CARD", "BUYER_ENTER_FROM_ORDER", "LOGISTICS_CARD", "RETURN_REFUND_CARD"})
# Context markers and notices: not something the buyer said.
_NOT_SPEECH = frozenset(
    {
        "BUYER_ENTER_FROM_ORDER",
        "BUYER_ENTER_FROM_PRODUCT",
        "BUYER_ENTER_FROM_TRANSFER",
        "ALLOCATED_SERVICE",
        "NOTIFICATION",
    }
)
_SEE_SELLER_CENTER = "open the conversation in TikTok Shop Seller Center to see it"

# tts_notification_id is not covered by any header check and ends up in storage keys: plain ids only.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


# --- the connector --------------------------------------------------------------------------------


@dataclass
class _Poll:
    messages: list[InboundMessage] = field(default_factory=list)
    raw_pages: list[bytes] = field(default_factory=list)
    listed: list[datetime] = field(default_factory=list)  # latest_message time of every conversation listed
    read: list[datetime] = field(default_factory=list)  # ... of every conversation whose messages were read
    complete: bool = True


def _message(payload: Mapping[str, Any], response: httpx.Response) -> str:
    return values.first_text(payload, ("message",)) or values.body_excerpt(response)


# --- parsing helpers ------------------------------------------------------------------------------


_json_object = values.json_object


def _credential(credentials: Mapping[str, str], key: str, store: Store) -> str:
    value = (credentials.get(key) or "").strip()
    if not value:
        raise ChannelError(f"TikTok Shop store has no credentials['{key}']", channel=CHANNEL, store_id=store.store_id)
    return value


def _id_or_none(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _id_text(value: Any, what: str) -> str:
    text = _id_or_none(value)
    if text is None:
        raise MalformedPayload(f"{what} is missing or not an id: {value!r}")
    return text


def _required_id(obj: Mapping[str, Any], key: str, what: str) -> str:
    text = _id_or_none(obj.get(key))
    if text is None:
        raise MalformedPayload(f"{what} has no '{key}'")
    return text


_text = values.text_or_none


_utc = values.utc


def _epoch(value: Any, what: str) -> datetime:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value < 0:
        raise MalformedPayload(f"{what} is not a Unix time in seconds: {value!r}")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload(f"{what} is out of range: {value!r}") from None


def _optional_epoch(value: Any, what: str) -> datetime | None:
    if value is None or value == "" or value == 0 or value == "0":
        return None
    return _epoch(value, what)


def _order(
    store: Store,
    order_id: str,
    *,
    status: OrderStatus = OrderStatus.UNKNOWN,
    channel_status: str | None = None,
    updated_at: datetime | None = None,
) -> Order:
    return Order(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.TIKTOK,
        order_ref=order_id,
        status=status,
        channel_status=channel_status,
        updated_at=updated_at,
    )


def _event(
    store: Store, event_type: OrderEventType, event_id: str, order: Order, occurred_at: datetime, raw_s3_key: str | None
) -> OrderEvent:
    return OrderEvent(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.TIKTOK,
        event_type=event_type,
        event_id=event_id,
        order=order,
        occurred_at=occurred_at,
        raw_s3_key=raw_s3_key,
    )


def _order_notice(
    store: Store,
    order_id: str,
    message_id: str,
    subject: str,
    body: str,
    at: datetime,
    raw_s3_key: str,
    *,
    cancellation: bool = False,
) -> InboundMessage:
    """A ticket-opening message for a buyer request the channel signals outside the chat."""
    return InboundMessage(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.TIKTOK,
        channel_message_id=message_id,
        channel_thread_id=f"{ORDER_THREAD_PREFIX}{order_id}",
        order_ref=order_id,
        subject=subject,
        body=body,
        received_at=at,
        raw_s3_key=raw_s3_key,
        cancellation_requested=cancellation,
    )


def _content(message: Mapping[str, Any], what: str) -> dict[str, Any]:
    raw = message.get("content")
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise MalformedPayload(f"{what} content is not a JSON string")
    return _json_object(raw, f"{what} content")


def _order_context(message: Mapping[str, Any], conversation_id: str) -> str | None:
    """The order a card or "entered from order" marker names, whoever sent it."""
    if message.get("type") not in _ORDER_CONTEXT_TYPES:
        return None
    return _id_or_none(_content(message, f"conversation {conversation_id} message {message.get('id')}").get("order_id"))


def _buyer_message(
    store: Store,
    conversation_id: str,
    message: Mapping[str, Any],
    buyer_name: str | None,
    order_ref: str | None,
    tips: str | None,
    raw_s3_key: str | None,
) -> InboundMessage | None:
    message_id = _required_id(message, "id", f"conversation {conversation_id} message")
    what = f"message {message_id}"
    sender = message.get("sender")
    if not isinstance(sender, dict):
        raise MalformedPayload(f"{what} has no 'sender'")
    if sender.get("role") != _BUYER or message.get("is_visible") is False:
        return None  # the shop's, an agent's, the system's or robot's; or hidden from customer service
    kind = str(message.get("type") or "OTHER")
    if kind in _NOT_SPEECH:
        return None
    body = _body(kind, _content(message, what), tips)
    if body is None:
        return None
    try:
        return InboundMessage(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.TIKTOK,
            channel_message_id=message_id,
            channel_thread_id=conversation_id,
            order_ref=order_ref,
            buyer_name=_text(sender.get("nickname")) or buyer_name,
            body=body,
            received_at=_epoch(message.get("create_time"), f"{what} create_time"),
            raw_s3_key=raw_s3_key,
        )
    except ValidationError as exc:
        raise MalformedPayload(f"{what} could not be read: {exc}") from None


def _body(kind: str, content: Mapping[str, Any], tips: str | None) -> str | None:
    text = _text(content.get("content"))
    if kind == "TEXT":
        return text
    if kind == "IMAGE":
        return f"[image]\n(The buyer sent an image; it is not imported: {_SEE_SELLER_CENTER}.)"
    if kind == "VIDEO":
        return f"[video]\n(The buyer sent a video; it is not imported: {_SEE_SELLER_CENTER}.)"
    if kind == "EMOTICONS":
        return text or "[emoticon]"
    if kind == "ORDER_CARD":
        return f"[order card] Order {_id_or_none(content.get('order_id')) or '(unknown)'}"
    if kind == "PRODUCT_CARD":
        return f"[product card] Product {_id_or_none(content.get('product_id')) or '(unknown)'}"
    if kind == "LOGISTICS_CARD":
        return f"[logistics card] Order {_id_or_none(content.get('order_id')) or '(unknown)'}"
    if kind == "RETURN_REFUND_CARD":
        return f"[return/refund card] Order {_id_or_none(content.get('order_id')) or '(unknown)'}"
    if kind == "COUPON_CARD":
        return f"[coupon card] Coupon {_id_or_none(content.get('coupon_id')) or '(unknown)'}"
    if kind in _TEXT_TYPES and text:
        return text
    return f"[{kind} message] {tips or _SEE_SELLER_CENTER}".strip()


def _participant_name(participants: Any) -> str | None:
    if not isinstance(participants, list):
        return None
    for participant in participants:
        if isinstance(participant, dict) and participant.get("role") == _BUYER:
            return _text(participant.get("nickname"))
    return None


# --- orders from the API --------------------------------------------------------------------------


def _order_from_api(store: Store, p: dict[str, Any]) -> Order:
    order_id = _required_id(p, "id", "Get Order Detail order")
    try:
        payment = p.get("payment") or {}
        address = p.get("recipient_address") or {}
        lines = p.get("line_items") or []
        if not isinstance(payment, dict) or not isinstance(address, dict) or not isinstance(lines, list):
            raise ValueError("'payment' and 'recipient_address' must be objects and 'line_items' a list")
        if not all(isinstance(line, dict) for line in lines):
            raise ValueError("a line item is not an object")
        raw_status = p.get("status")
        status = _STATUS.get(str(raw_status), OrderStatus.UNKNOWN)
        # collection_time: the carrier took the parcel (IN_TRANSIT); rts_time: the seller shipped it,
        # which may still be waiting for collection, so it counts only once the status says shipped.
        shipped = _optional_epoch(p.get("collection_time"), "collection_time")
        if shipped is None and status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED):
            shipped = _optional_epoch(p.get("rts_time"), "rts_time")
        parts = (address.get("first_name"), address.get("last_name"))
        name = _text(address.get("name")) or " ".join(x.strip() for x in parts if isinstance(x, str) and x.strip())
        email = _text(p.get("buyer_email"))
        return Order(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.TIKTOK,
            order_ref=order_id,
            status=status,
            channel_status=raw_status if isinstance(raw_status, str) else None,
            currency=_text(payment.get("currency")),
            total=_decimal(payment.get("total_amount")),
            items=_items(lines),
            buyer_email=email if email and _EMAIL.match(email) else None,
            buyer_name=name or None,
            carrier=_text(p.get("shipping_provider")) or _first(lines, "shipping_provider_name"),
            tracking_number=_text(p.get("tracking_number")) or _first(lines, "tracking_number"),
            tracking_url=None,  # the order API gives no tracking URL
            ordered_at=_optional_epoch(p.get("create_time"), "create_time"),
            shipped_at=shipped,
            delivered_at=_optional_epoch(p.get("delivery_time"), "delivery_time"),
            delivery_latest=_promised_by(p),
            updated_at=_optional_epoch(p.get("update_time"), "update_time"),
        )
    except (ValidationError, ValueError, TypeError, ArithmeticError) as exc:
        raise MalformedPayload(f"Get Order Detail order {order_id} could not be read: {exc}") from None


def _promised_by(p: dict[str, Any]) -> datetime | None:
    """The latest delivery date promised: ``delivery_sla_time``, else the delivery option's
    ``delivery_option_required_delivery_time`` (never ``delivery_due_time``, the auto-cancel deadline)."""
    for key in ("delivery_sla_time", "delivery_option_required_delivery_time"):
        moment = _optional_epoch(p.get(key), key)
        if moment is not None:
            return moment
    return None


def _items(lines: Iterable[dict[str, Any]]) -> list[OrderItem]:
    """One OrderItem per SKU and price; each 202309 line item is one unit (it has no quantity)."""
    grouped: dict[tuple[str, str, Decimal | None], list[Any]] = {}
    for line in lines:
        sku = _text(line.get("seller_sku")) or _id_or_none(line.get("sku_id")) or ""
        product = _text(line.get("product_name")) or "item"
        variant = _text(line.get("sku_name"))
        name = f"{product} ({variant})" if variant and variant.lower() != "default" else product
        price = _decimal(line.get("sale_price"))
        entry = grouped.setdefault((sku, name, price), [sku or None, name, 0])
        entry[2] += 1
    return [
        OrderItem(
            sku=sku, name=name, quantity=count, unit_price=price, total=price * count if price is not None else None
        )
        for (_, _, price), (sku, name, count) in grouped.items()
    ]


def _first(lines: Iterable[dict[str, Any]], key: str) -> str | None:
    for line in lines:
        value = _text(line.get(key))
        if value:
            return value
    return None


_decimal = values.decimal


# --- cursor ---------------------------------------------------------------------------------------


def _parse_cursor(cursor: str) -> datetime:
    try:
        return _utc(datetime.fromisoformat(cursor))
    except ValueError:
        raise InvalidCursor(f"TikTok Shop cursor is not an ISO-8601 date-time: {cursor!r}") from None


_cursor_text = values.cursor_text


def _next_cursor(cursor: str | None, previous: datetime | None, state: _Poll, *, cut_short: bool) -> str | None:
    """The newest latest-message time read; never earlier than ``cursor``. Left unchanged when some
    conversation's window was not fully read, or when the page bound cut the listing short and the
    listing was not oldest first (conversations not listed yet may be newer than the cursor)."""
    if not state.read or not state.complete:
        return cursor
    if cut_short and any(later < earlier for earlier, later in pairwise(state.listed)):
        return cursor
    newest = max(state.read)
    if previous is not None and newest <= previous:
        return cursor
    return _cursor_text(newest)
