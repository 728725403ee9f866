"""Etsy (Open API v3): receipts polled for order changes and the buyer's checkout note; order lookups.

Etsy has no conversations API: buyers' conversations arrive as e-mail notifications through the
e-mail channel, and ``send_reply`` raises ChannelError (agents answer in the e-mail thread). The
checkout note (``message_from_buyer``) becomes an inbound message threaded on the receipt. Each token
refresh returns a new refresh token, handed to ``client(..., on_refresh_token=...)`` for the caller
to store. Credentials (the store's JSON secret): ``keystring``, ``shared_secret``, ``refresh_token``,
``shop_id``.

Notes and sources: docs/channels/etsy.md.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, TypeGuard

import httpx
from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.channels.base import PollResult
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.oauth import RefreshingTokenAuth
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

API_BASE = "https://openapi.etsy.com"
OAUTH_ENDPOINT = "https://api.etsy.com/v3/public/oauth/token"
SHOP_PATH = "/v3/application/shops/{shop_id}"
RECEIPTS_PATH = "/v3/application/shops/{shop_id}/receipts"
RECEIPT_PATH = "/v3/application/shops/{shop_id}/receipts/{receipt_id}"

PAGE_LIMIT = 100  # getShopReceipts' maximum
PAGE_OVERLAP = 10  # receipts each page repeats from the previous one (see docs/channels/etsy.md)
MAX_PAGES = 20
FIRST_POLL_LOOKBACK = timedelta(days=7)
QUERY_OVERLAP_SECONDS = 60
RATE_PER_SECOND = 4.0
BURST = 4
REPLY_UNSUPPORTED = "Etsy has no API to answer buyers; reply from the e-mail thread"

_CREDENTIALS = (
    ("keystring", "app API keystring"),
    ("shared_secret", "app shared secret"),
    ("refresh_token", "OAuth refresh token"),
    ("shop_id", "shop id"),
)
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PENDING = {"open", "payment processing"}
_PAID = {"paid", "partially refunded"}


# --- auth ---------------------------------------------------------------------------------------

# Refresh tokens Etsy rotated in this process, by a digest of the stored token they replace: a warm
# Lambda keeps using the newest one even before the caller has written it back to the secret.
_ROTATED: dict[str, str] = {}
_ROTATED_LOCK = threading.Lock()


def clear_rotated_tokens() -> None:
    with _ROTATED_LOCK:
        _ROTATED.clear()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class EtsyTokenAuth(RefreshingTokenAuth):
    """Bearer access tokens from Etsy's OAuth 2.0 refresh grant."""

    channel = Channel.ETSY.value

    def __init__(
        self,
        cache_key: str,
        *,
        keystring: str,
        api_key: str,
        refresh_token: str,
        on_refresh_token: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(cache_key, clock=clock)
        self._keystring = keystring
        self._api_key = api_key
        self._stored = refresh_token
        self._origin = _digest(refresh_token)
        self._on_refresh_token = on_refresh_token

    def refresh_token(self) -> str:
        with _ROTATED_LOCK:
            return _ROTATED.get(self._origin, self._stored)

    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            OAUTH_ENDPOINT,
            data={"grant_type": "refresh_token", "client_id": self._keystring, "refresh_token": self.refresh_token()},
            headers={"x-api-key": self._api_key, "Accept": "application/json"},
        )

    def read_token(self, response: httpx.Response) -> tuple[str, float]:
        token, lifetime = super().read_token(response)
        payload = values.json_or_none(response.content)
        rotated = payload.get("refresh_token") if isinstance(payload, dict) else None
        if isinstance(rotated, str) and rotated and rotated != self.refresh_token():
            with _ROTATED_LOCK:
                _ROTATED[self._origin] = rotated
            if self._on_refresh_token is not None:
                self._on_refresh_token(rotated)
        return token, lifetime


class EtsyHttpClient(ChannelHttpClient):
    """A ChannelHttpClient that knows the shop it speaks for (every Etsy path names it)."""

    def __init__(self, base_url: str, *, shop_id: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.shop_id = shop_id


# --- the connector ------------------------------------------------------------------------------


@dataclass
class _Poll:
    messages: list[InboundMessage] = field(default_factory=list)
    order_events: list[OrderEvent] = field(default_factory=list)
    raw_pages: list[bytes] = field(default_factory=list)
    seen: set[tuple[str, int]] = field(default_factory=set)  # (receipt id, updated_timestamp)
    verified: list[int] = field(default_factory=list)  # updated_timestamp of receipts fetched without a gap


class EtsyConnector:
    channel = Channel.ETSY.value
    rotates_refresh_token = True  # each refresh answer carries a new refresh token (see docs/channels/etsy.md)

    def client(
        self, store: Store, credentials: Mapping[str, str], *, on_refresh_token: Callable[[str], None] | None = None
    ) -> EtsyHttpClient:
        """``on_refresh_token`` receives the new refresh token whenever Etsy rotates it (persist it)."""
        values: dict[str, str] = {}
        for key, what in _CREDENTIALS:
            values[key] = (credentials.get(key) or "").strip()
            if not values[key]:
                raise ChannelError(
                    f"Etsy store has no {what} (credentials['{key}'])", channel=self.channel, store_id=store.store_id
                )
        if not values["shop_id"].isdigit():
            raise ChannelError(
                "Etsy credentials['shop_id'] must be the numeric shop id", channel=self.channel, store_id=store.store_id
            )
        api_key = f"{values['keystring']}:{values['shared_secret']}"
        auth = EtsyTokenAuth(
            f"{store.tenant_id}/{store.store_id}/{values['keystring']}",
            keystring=values["keystring"],
            api_key=api_key,
            refresh_token=values["refresh_token"],
            on_refresh_token=on_refresh_token,
        )
        return EtsyHttpClient(
            API_BASE,
            shop_id=values["shop_id"],
            channel=self.channel,
            headers={"x-api-key": api_key, "Accept": "application/json"},
            auth=auth,
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        shop = _api_json(http.get(SHOP_PATH.format(shop_id=_shop_id(http))), "get shop")
        if not isinstance(shop, dict):
            raise MalformedPayload("Etsy shop answer is not an object")
        label = shop.get("shop_name") or shop.get("shop_id")
        if label is None or isinstance(label, bool) or not str(label).strip():
            raise MalformedPayload("Etsy shop answer has no 'shop_name'")
        return str(label).strip()

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        ref = order_ref.strip().removeprefix("#").strip()
        if not ref.isdigit():
            return None
        response = http.get(RECEIPT_PATH.format(shop_id=_shop_id(http), receipt_id=ref))
        if response.status_code == 404:
            return None
        raw = _api_json(response, f"get receipt {ref}")
        if not isinstance(raw, dict):
            raise MalformedPayload(f"Etsy receipt {ref} answer is not an object")
        return _order_or_malformed(store, raw, _receipt_id(raw))

    def send_reply(self, store: Store, http: ChannelHttpClient, thread_id: str, body: str) -> str:
        raise ChannelError(REPLY_UNSUPPORTED, channel=self.channel, thread_id=thread_id)

    # --- polling --------------------------------------------------------------------------------

    def poll(self, store: Store, http: ChannelHttpClient, cursor: str | None, now: datetime) -> PollResult:
        path = RECEIPTS_PATH.format(shop_id=_shop_id(http))
        previous = _parse_cursor(cursor) if cursor else None
        if previous is None:
            since = int((_utc(now) - FIRST_POLL_LOOKBACK).timestamp())
        else:
            since = max(0, previous - QUERY_OVERLAP_SECONDS)
        state = _Poll()
        offset, anchor, complete = 0, None, False
        for _ in range(MAX_PAGES):
            params = {
                "min_last_modified": str(since),
                "sort_on": "updated",
                "sort_order": "asc",
                "limit": str(PAGE_LIMIT),
                "offset": str(offset),
            }
            response = http.get(path, params=params)
            receipts, count = _receipts_page(_api_json(response, "list receipts"))
            state.raw_pages.append(response.content)
            contiguous = anchor is None or anchor in {_receipt_id(r) for r in receipts}
            fresh = [t for t in (self._read_receipt(store, raw, state, now) for raw in receipts) if t is not None]
            if not contiguous:
                break  # the listing shifted: what this page holds may not follow on from the last one
            state.verified.extend(fresh)
            if len(receipts) < PAGE_LIMIT or offset + len(receipts) >= count:
                complete = True
                break
            anchor = _receipt_id(receipts[-1])
            offset += PAGE_LIMIT - PAGE_OVERLAP
        return PollResult(
            messages=state.messages,
            order_events=state.order_events,
            next_cursor=_next_cursor(cursor, previous, state.verified, complete=complete),
            raw_pages=state.raw_pages,
        )

    def _read_receipt(self, store: Store, raw: Any, state: _Poll, now: datetime) -> int | None:
        """Adds the receipt's order event (and buyer note) to ``state``; returns its updated_timestamp,
        or None when this poll has already read the receipt in that version (the pages' overlap)."""
        if not isinstance(raw, dict):
            raise MalformedPayload("Etsy receipt is not an object")
        receipt_id = _receipt_id(raw)
        updated = _epoch(
            raw.get("updated_timestamp", raw.get("update_timestamp")), f"receipt {receipt_id} updated_timestamp"
        )
        if (receipt_id, updated) in state.seen:
            return None
        state.seen.add((receipt_id, updated))
        order = _order_or_malformed(store, raw, receipt_id)
        state.order_events.append(
            OrderEvent(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.ETSY,
                event_type=OrderEventType.UPDATED,
                event_id=f"receipt:{receipt_id}:{updated}",
                order=order,
                occurred_at=order.updated_at or _utc(now),
            )
        )
        note = raw.get("message_from_buyer")
        if note is not None and not isinstance(note, str):
            raise MalformedPayload(f"receipt {receipt_id}: 'message_from_buyer' is not text")
        if note and note.strip():
            state.messages.append(
                InboundMessage(
                    tenant_id=store.tenant_id,
                    store_id=store.store_id,
                    channel=Channel.ETSY,
                    channel_message_id=f"receipt-{receipt_id}-note",
                    channel_thread_id=f"etsy-receipt:{receipt_id}",
                    order_ref=receipt_id,
                    buyer_email=order.buyer_email,
                    buyer_name=order.buyer_name,
                    subject=f"Etsy order {receipt_id}: note from the buyer",
                    body=note.strip(),
                    received_at=order.ordered_at or _utc(now),
                )
            )
        return updated


# --- mapping ------------------------------------------------------------------------------------


def _order_or_malformed(store: Store, raw: dict[str, Any], receipt_id: str) -> Order:
    try:
        return _order(store, raw, receipt_id)
    except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        raise MalformedPayload(f"Etsy receipt {receipt_id} could not be read: {exc}") from None


def _order(store: Store, p: dict[str, Any], receipt_id: str) -> Order:
    shipments = [s for s in _list(p.get("shipments"), "shipments") if isinstance(s, dict)]
    transactions = _list(p.get("transactions"), "transactions")
    latest = max(shipments, key=lambda s: _optional_epoch(s.get("shipment_notification_timestamp")) or 0, default=None)
    shipped = bool(p.get("is_shipped")) or bool(shipments)
    total, currency = _money(p.get("grandtotal"))
    raw_status = p.get("status")
    return Order(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.ETSY,
        order_ref=receipt_id,
        status=_status(str(raw_status or ""), shipped),
        channel_status=str(raw_status) if raw_status else None,
        currency=currency,
        total=total,
        items=[_item(t) for t in transactions],
        buyer_email=_email(p.get("buyer_email")),
        buyer_name=(str(p.get("name") or "").strip() or None),
        carrier=(str(latest.get("carrier_name") or "").strip() or None) if latest else None,
        tracking_number=(str(latest.get("tracking_code") or "").strip() or None) if latest else None,
        tracking_url=None,  # Etsy gives none
        ordered_at=_time(p.get("created_timestamp", p.get("create_timestamp"))),
        shipped_at=_shipped_at(latest, transactions) if shipped else None,
        delivered_at=None,
        updated_at=_time(p.get("updated_timestamp", p.get("update_timestamp"))),
    )


def _status(status: str, shipped: bool) -> OrderStatus:
    status = status.strip().lower()
    if status == "canceled":
        return OrderStatus.CANCELLED
    if status == "fully refunded":
        return OrderStatus.REFUNDED
    if status in _PENDING:
        return OrderStatus.PENDING
    if status in _PAID:
        return OrderStatus.SHIPPED if shipped else OrderStatus.PROCESSING
    if status == "completed":
        return OrderStatus.SHIPPED if shipped else OrderStatus.COMPLETED
    return OrderStatus.UNKNOWN


def _item(t: Any) -> OrderItem:
    if not isinstance(t, dict):
        raise TypeError("a transaction is not an object")
    quantity = t.get("quantity") or 0
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise TypeError(f"transaction quantity is not an integer: {quantity!r}")
    price, _ = _money(t.get("price"))
    return OrderItem(
        sku=t.get("sku") or None,
        name=t.get("title") or t.get("sku") or "item",
        quantity=quantity,
        unit_price=price,
        total=price * quantity if price is not None else None,
    )


def _shipped_at(latest: dict[str, Any] | None, transactions: list[Any]) -> datetime | None:
    if latest and _optional_epoch(latest.get("shipment_notification_timestamp")):
        return _time(latest.get("shipment_notification_timestamp"))
    moments = [_optional_epoch(t.get("shipped_timestamp")) for t in transactions if isinstance(t, dict)]
    known = [m for m in moments if m]
    return datetime.fromtimestamp(max(known), UTC) if known else None


def _money(value: Any) -> tuple[Decimal | None, str | None]:
    """Etsy Money ``{"amount": 1867, "divisor": 100, "currency_code": "EUR"}`` -> (18.67, "EUR")."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise TypeError(f"money is not an object: {value!r}")
    amount, divisor = value.get("amount"), value.get("divisor")
    if not _whole(amount) or not _whole(divisor):
        raise ValueError(f"money amount and divisor must be integers: {value!r}")
    if divisor <= 0:
        raise ValueError(f"money divisor must be positive: {value!r}")
    currency = value.get("currency_code")
    return Decimal(amount) / Decimal(divisor), (currency if isinstance(currency, str) and currency else None)


def _whole(value: Any) -> TypeGuard[int]:
    """A JSON integer (``True``/``False`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _email(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and _EMAIL.match(value.strip()) else None


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"'{what}' is not a list")
    return value


def _optional_epoch(value: Any) -> int | None:
    if value is None or value == 0:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"not a Unix timestamp: {value!r}")
    return value


def _time(value: Any) -> datetime | None:
    seconds = _optional_epoch(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


# --- helpers ------------------------------------------------------------------------------------


def _shop_id(http: ChannelHttpClient) -> str:
    shop_id = getattr(http, "shop_id", None)
    if not isinstance(shop_id, str) or not shop_id.isdigit():
        raise ChannelError(
            "Etsy calls need the client from EtsyConnector.client() (it carries the shop id)",
            channel=Channel.ETSY.value,
        )
    return shop_id


def _receipt_id(raw: Any) -> str:
    value = raw.get("receipt_id") if isinstance(raw, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise MalformedPayload(f"Etsy receipt has no numeric 'receipt_id': {value!r}")
    return str(value)


def _epoch(value: Any, what: str) -> int:
    try:
        seconds = _optional_epoch(value)
    except ValueError:
        seconds = None
    if seconds is None:
        raise MalformedPayload(f"{what} is not a Unix timestamp: {value!r}")
    return seconds


def _receipts_page(page: Any) -> tuple[list[Any], int]:
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise MalformedPayload("Etsy receipts answer has no 'results' list")
    count = page.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        raise MalformedPayload("Etsy receipts answer has no integer 'count'")
    return page["results"], count


_utc = values.utc


def _parse_cursor(cursor: str) -> int:
    if not cursor.strip().isdigit():
        raise InvalidCursor(f"Etsy cursor is not a Unix timestamp: {cursor!r}")
    return int(cursor.strip())


def _next_cursor(cursor: str | None, previous: int | None, verified: list[int], *, complete: bool) -> str | None:
    """The newest updated_timestamp fetched without a gap; never earlier than ``cursor``.

    When paging stopped early (page bound, or a shifted listing) that is only safe if the pages came
    oldest first (receipts not fetched yet are then all newer); otherwise the cursor stays put.
    """
    if not verified:
        return cursor
    if not complete and any(later < earlier for earlier, later in pairwise(verified)):
        return cursor
    newest = max(verified)
    if previous is not None and newest <= previous:
        return cursor
    return str(newest)


def _api_json(response: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer; any other status is a ChannelError quoting Etsy's error."""
    return values.api_json(
        response, what, label="Etsy", channel=Channel.ETSY.value, message=_error_text, decimals=False
    )


def _error_text(response: httpx.Response) -> str:
    return values.error_message(response, ("error_description", "error", "message"))


CONNECTOR = EtsyConnector()
