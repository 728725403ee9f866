"""Mirakl-powered marketplaces, seller side: buyer messages polled from the inbox threads API,
replies posted on the thread, and the orders those threads are about.

One store is one marketplace (its own instance URL and shop API key, sent bare in ``Authorization``).
M11 threads are polled, M12 posts replies, OR11 reads orders, A01 checks the credentials. The seller
API has no webhook subscription, so MiraklConnector is not a WebhookRegistrar.

Notes and sources: docs/channels/mirakl.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.channels.base import PollResult
from helpdesk.core.errors import ChannelError, MalformedPayload
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

    from helpdesk.channels.http import ChannelHttpClient

THREADS_PATH = "/api/inbox/threads"
REPLY_PATH = "/api/inbox/threads/{thread_id}/message"
ORDERS_PATH = "/api/orders"
ACCOUNT_PATH = "/api/account"

PAGE_LIMIT = 50
MAX_PAGES = 20
FIRST_POLL_LOOKBACK = timedelta(days=7)
MESSAGE_OVERLAP = timedelta(minutes=15)
THREAD_SORT = "date,ASC"
ORDER_IDS_PER_CALL = 100  # OR11 refuses more than 100 order ids
RATE_PER_SECOND = 5.0
BURST = 5
REPLY_MIN_CHARS = 3
REPLY_MAX_CHARS = 50_000

_CUSTOMER = frozenset({"CUSTOMER_USER", "CUSTOMER"})
_ORDER_ENTITY = "MMP_ORDER"

_STATUS = {
    "STAGING": OrderStatus.PENDING,
    "WAITING_ACCEPTANCE": OrderStatus.PENDING,
    "WAITING_DEBIT": OrderStatus.PENDING,
    "WAITING_DEBIT_PAYMENT": OrderStatus.PENDING,
    "SHIPPING": OrderStatus.PROCESSING,
    "SHIPPED": OrderStatus.SHIPPED,
    "TO_COLLECT": OrderStatus.SHIPPED,
    "RECEIVED": OrderStatus.DELIVERED,
    "CLOSED": OrderStatus.COMPLETED,
    "REFUSED": OrderStatus.CANCELLED,
    "CANCELED": OrderStatus.CANCELLED,
    "WAITING_REFUND": OrderStatus.REFUNDED,
    "WAITING_REFUND_PAYMENT": OrderStatus.REFUNDED,
}
_EVENT = {
    OrderStatus.CANCELLED: OrderEventType.CANCELLED,
    OrderStatus.SHIPPED: OrderEventType.SHIPPED,
    OrderStatus.DELIVERED: OrderEventType.DELIVERED,
    OrderStatus.REFUNDED: OrderEventType.REFUNDED,
}


@dataclass
class _Poll:
    """What one poll has gathered so far."""

    messages: list[InboundMessage] = field(default_factory=list)
    order_events: list[OrderEvent] = field(default_factory=list)
    raw_pages: list[bytes] = field(default_factory=list)
    updated: list[datetime] = field(default_factory=list)  # date_updated of every thread, in page order
    orders_fetched: set[str] = field(default_factory=set)


class MiraklConnector:
    channel = Channel.MIRAKL.value

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        api_key = (credentials.get("api_key") or "").strip()
        if not api_key:
            raise ChannelError(
                "Mirakl store has no shop API key (credentials['api_key'])",
                channel=self.channel,
                store_id=store.store_id,
            )
        return ChannelHttpClient(
            _base_url(store),
            channel=self.channel,
            headers={"Authorization": api_key, "Accept": "application/json"},
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    # --- polling --------------------------------------------------------------------------------

    def poll(self, store: Store, http: ChannelHttpClient, cursor: str | None, now: datetime) -> PollResult:
        previous = _parse_cursor(cursor) if cursor else None
        since = previous or _utc(now) - FIRST_POLL_LOOKBACK
        query = {
            "updated_since": _wire_time(since),
            "with_messages": "true",
            "limit": str(PAGE_LIMIT),
            "sort": THREAD_SORT,
        }
        state = _Poll()
        token: str | None = None
        for _ in range(MAX_PAGES):
            params = query if token is None else {**query, "page_token": token}
            response = http.get(THREADS_PATH, params=params)
            page = _read_json(_checked(response, "M11 list threads"), "M11 threads page")
            state.raw_pages.append(response.content)
            threads, token = _threads_page(page)
            order_ids: list[str] = []
            for thread in threads:
                order_id = self._read_thread(store, thread, since - MESSAGE_OVERLAP, state)
                if order_id and order_id not in state.orders_fetched and order_id not in order_ids:
                    order_ids.append(order_id)
            if order_ids:
                state.order_events.extend(self._fetch_orders(store, http, order_ids, now, state))
            if not token:
                break
        return PollResult(
            messages=state.messages,
            order_events=state.order_events,
            next_cursor=_next_cursor(cursor, previous, state.updated, bounded=token is not None),
            raw_pages=state.raw_pages,
        )

    def _read_thread(self, store: Store, thread: Any, keep_from: datetime, state: _Poll) -> str | None:
        """Adds the thread's buyer messages to ``state``; returns the order id it is about."""
        if not isinstance(thread, dict):
            raise MalformedPayload("M11 thread is not an object")
        thread_id = _required_str(thread, "id", "M11 thread")
        state.updated.append(_timestamp(thread.get("date_updated"), f"thread {thread_id} date_updated"))
        order_id = _order_entity(thread.get("entities"), thread_id)
        topic = thread.get("topic")
        subject = topic.get("value") if isinstance(topic, dict) else None
        messages = thread.get("messages") or []
        if not isinstance(messages, list):
            raise MalformedPayload(f"thread {thread_id}: 'messages' is not a list")
        for message in messages:
            inbound = self._buyer_message(store, thread_id, order_id, subject, message, keep_from)
            if inbound is not None:
                state.messages.append(inbound)
        return order_id

    def _buyer_message(
        self, store: Store, thread_id: str, order_id: str | None, subject: Any, message: Any, keep_from: datetime
    ) -> InboundMessage | None:
        if not isinstance(message, dict):
            raise MalformedPayload(f"thread {thread_id}: a message is not an object")
        message_id = _required_str(message, "id", f"thread {thread_id} message")
        sender = message.get("from")
        if not isinstance(sender, dict):
            raise MalformedPayload(f"message {message_id} has no 'from' sender")
        if not _from_customer(sender):
            return None  # the shop's own messages, and the operator's (future internal notes)
        received_at = _timestamp(message.get("date_created"), f"message {message_id} date_created")
        if received_at < keep_from:
            return None
        body = message.get("body")
        if body is not None and not isinstance(body, str):
            raise MalformedPayload(f"message {message_id}: 'body' is not a string")
        text = body or ""
        if not text.strip():
            names = [a.get("name") for a in message.get("attachments") or [] if isinstance(a, dict)]
            if not any(names):
                return None  # nothing to read: no text and no attachment
            text = "(no text; attachments: " + ", ".join(str(n) for n in names if n) + ")"
        try:
            return InboundMessage(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.MIRAKL,
                channel_message_id=message_id,
                channel_thread_id=thread_id,
                order_ref=order_id,
                buyer_name=_text(sender.get("display_name")),
                subject=_text(subject),
                body=text,
                received_at=received_at,
            )
        except ValidationError as exc:
            raise MalformedPayload(f"message {message_id} could not be read: {exc}") from None

    # --- orders ---------------------------------------------------------------------------------

    def _fetch_orders(
        self, store: Store, http: ChannelHttpClient, order_ids: list[str], now: datetime, state: _Poll
    ) -> list[OrderEvent]:
        events: list[OrderEvent] = []
        for chunk in _chunks(order_ids, ORDER_IDS_PER_CALL):
            response = http.get(ORDERS_PATH, params={"order_ids": ",".join(chunk), "max": str(ORDER_IDS_PER_CALL)})
            payload = _read_json(_checked(response, "OR11 list orders"), "OR11 answer")
            state.raw_pages.append(response.content)
            state.orders_fetched.update(chunk)
            orders = payload.get("orders") if isinstance(payload, dict) else None
            if not isinstance(orders, list):
                raise MalformedPayload("OR11 answer has no 'orders' list")
            for raw in orders:
                events.append(self._order_event(store, raw, now))
        return events

    def _order_event(self, store: Store, raw: Any, now: datetime) -> OrderEvent:
        if not isinstance(raw, dict):
            raise MalformedPayload("OR11 order is not an object")
        order_id = _required_str(raw, "order_id", "OR11 order")
        try:
            order = self._order(store, raw, order_id)
            return OrderEvent(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.MIRAKL,
                event_type=_EVENT.get(order.status, OrderEventType.UPDATED),
                event_id=f"or11:{order_id}:{raw.get('last_updated_date') or ''}",
                order=order,
                occurred_at=order.updated_at or _utc(now),
            )
        except (ValidationError, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"OR11 order {order_id} could not be read: {exc}") from None

    @staticmethod
    def _order(store: Store, p: dict[str, Any], order_id: str) -> Order:
        customer = p.get("customer") or {}
        lines = p.get("order_lines") or []
        if not isinstance(customer, dict) or not isinstance(lines, list):
            raise ValueError("'customer' must be an object and 'order_lines' a list")
        name = " ".join(str(x).strip() for x in (customer.get("firstname"), customer.get("lastname")) if x)
        state = p.get("order_state")
        window = p.get("delivery_date") or {}
        if not isinstance(window, dict):
            raise ValueError("'delivery_date' must be an object")
        return Order(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.MIRAKL,
            order_ref=order_id,
            status=_STATUS.get(str(state), OrderStatus.UNKNOWN),
            channel_status=state,
            currency=p.get("currency_iso_code") or None,
            total=_decimal(p.get("total_price")),
            items=[_item(line) for line in lines],
            buyer_name=name or None,
            carrier=p.get("shipping_company") or p.get("shipping_carrier_code") or None,
            tracking_number=p.get("shipping_tracking") or None,
            tracking_url=p.get("shipping_tracking_url") or None,
            delivery_earliest=_optional_time(window.get("earliest")),
            delivery_latest=_optional_time(window.get("latest")),
            ordered_at=_optional_time(p.get("created_date")),
            shipped_at=_latest(line.get("shipped_date") for line in lines),
            delivered_at=_latest(line.get("received_date") for line in lines),
            updated_at=_optional_time(p.get("last_updated_date")),
        )

    # --- account and order lookups (ApiConnector, OrderLookup) ------------------------------------

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        payload = _read_json(_checked(http.get(ACCOUNT_PATH), "A01 get shop information"), "A01 answer")
        if not isinstance(payload, dict):
            raise MalformedPayload("A01 answer is not an object")
        for key in ("shop_name", "shop_id"):
            value = payload.get(key)
            if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
                return str(value).strip()
        raise MalformedPayload("A01 answer has no 'shop_name' or 'shop_id'")

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        ref = order_ref.strip()
        if not ref or "," in ref:  # OR11 reads a comma as a list separator
            return None
        response = http.get(ORDERS_PATH, params={"order_ids": ref, "max": str(ORDER_IDS_PER_CALL)})
        if response.status_code == 404:
            return None
        payload = _read_json(_checked(response, "OR11 list orders"), "OR11 answer")
        orders = payload.get("orders") if isinstance(payload, dict) else None
        if not isinstance(orders, list):
            raise MalformedPayload("OR11 answer has no 'orders' list")
        for raw in orders:
            if isinstance(raw, dict) and str(raw.get("order_id") or "") == ref:
                try:
                    return self._order(store, raw, ref)
                except (ValidationError, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
                    raise MalformedPayload(f"OR11 order {ref} could not be read: {exc}") from None
        return None

    # --- replies --------------------------------------------------------------------------------

    def send_reply(self, store: Store, http: ChannelHttpClient, thread_id: str, body: str) -> str:
        if not thread_id:
            raise ChannelError("a Mirakl reply needs the thread id", channel=self.channel)
        if not REPLY_MIN_CHARS <= len(body.strip()) <= REPLY_MAX_CHARS:
            raise ChannelError(
                f"Mirakl accepts replies of {REPLY_MIN_CHARS} to {REPLY_MAX_CHARS} characters, not {len(body.strip())}",
                channel=self.channel,
                thread_id=thread_id,
            )
        message_input = json.dumps({"body": body, "to": [{"type": "CUSTOMER"}]}, ensure_ascii=False)
        response = http.post(  # not idempotent: a reply that may have reached Mirakl is never re-sent
            REPLY_PATH.format(thread_id=quote(thread_id, safe="")),
            files={"message_input": (None, message_input.encode(), "application/json; charset=utf-8")},
        )
        payload = _read_json(_checked(response, "M12 reply to thread"), "M12 answer")
        message_id = payload.get("message_id") if isinstance(payload, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise MalformedPayload("M12 answer has no 'message_id'")
        return message_id


# --- helpers ------------------------------------------------------------------------------------


def _base_url(store: Store) -> str:
    url = (store.base_url or "").strip().rstrip("/")
    if not url:
        raise ChannelError(
            "Mirakl store has no base URL (the marketplace's instance URL)",
            channel=Channel.MIRAKL.value,
            store_id=store.store_id,
        )
    return url.removesuffix("/api")


def _checked(response: httpx.Response, what: str) -> bytes:
    """The body of a 2xx answer; any other status is a ChannelError quoting Mirakl's message."""
    return values.checked(response, what, label="Mirakl", channel=Channel.MIRAKL.value, message=_error_message)


def _error_message(response: httpx.Response) -> str:
    return values.error_message(response, ("message", "error_description", "error"))


_read_json = values.read_json


def _threads_page(page: Any) -> tuple[list[Any], str | None]:
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise MalformedPayload("M11 answer has no 'data' list of threads")
    token = page.get("next_page_token")
    if token is not None and not isinstance(token, str):
        raise MalformedPayload("M11 'next_page_token' is not a string")
    return page["data"], token or None


def _order_entity(entities: Any, thread_id: str) -> str | None:
    if entities is None:
        return None
    if not isinstance(entities, list):
        raise MalformedPayload(f"thread {thread_id}: 'entities' is not a list")
    for entity in entities:
        if isinstance(entity, dict) and entity.get("type") == _ORDER_ENTITY and entity.get("id"):
            return str(entity["id"])
    return None


def _from_customer(sender: dict[str, Any]) -> bool:
    organisation = sender.get("organization_details")
    org_type = organisation.get("type") if isinstance(organisation, dict) else None
    return sender.get("type") in _CUSTOMER or org_type in _CUSTOMER


_required_str = values.required_str
_text = values.text_or_none
_utc = values.utc
_parse_time = values.parse_time
_timestamp = values.timestamp
_optional_time = values.optional_time
_cursor_text = values.cursor_text


def _latest(raw: Iterable[Any]) -> datetime | None:
    moments = [_parse_time(v) for v in raw if v]
    return max(moments) if moments else None


def _parse_cursor(cursor: str) -> datetime:
    return values.time_cursor(cursor, "Mirakl")


def _wire_time(moment: datetime) -> str:
    """``updated_since`` at whole seconds, rounded down (the filter is inclusive: nothing is skipped)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_cursor(
    cursor: str | None, previous: datetime | None, updated: list[datetime], *, bounded: bool
) -> str | None:
    """The newest ``date_updated`` fully fetched; never earlier than ``cursor``.

    When the page bound cut the listing short, that is only safe if the pages came oldest first
    (threads not fetched yet are then all newer); otherwise the cursor stays where it was.
    """
    if not updated:
        return cursor
    if bounded and any(later < earlier for earlier, later in pairwise(updated)):
        return cursor
    newest = max(updated)
    if previous is not None and newest <= previous:
        return cursor
    return _cursor_text(newest)


def _decimal(value: Any) -> Decimal | None:
    return values.decimal(value, finite=False)  # NaN and infinities pass: this connector never refused them


def _item(line: Any) -> OrderItem:
    if not isinstance(line, dict):
        raise ValueError("an order line is not an object")
    quantity = int(line.get("quantity") or 0)
    unit_price = _decimal(line.get("price_unit"))
    price = _decimal(line.get("price"))
    if unit_price is None and price is not None and quantity:
        unit_price = price / quantity
    return OrderItem(
        sku=line.get("offer_sku") or line.get("product_shop_sku") or None,
        name=line.get("product_title") or line.get("offer_sku") or "item",
        quantity=quantity,
        unit_price=unit_price,
        total=_decimal(line.get("total_price")),
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


CONNECTOR = MiraklConnector()
