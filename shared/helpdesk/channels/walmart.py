"""Walmart Marketplace (US), seller side: order notifications (webhooks), orders looked up in the
Orders API, webhook subscriptions managed through the Notifications API.

Notifications (``ORDER_UPDATES`` and the legacy standalone events) are authenticated with Basic
credentials whose password is the store's webhook secret (HMAC-SHA256 of the body also accepted).
PO_LINE_AUTOCANCELLED and FRAUD_CANCEL may concern only some lines, so their order is left UNKNOWN with
no items: the consumer should ``fetch_order`` for the resulting state. Credentials (the store's JSON
secret): ``client_id``, ``client_secret``, ``webhook_secret``, ``consumer_channel_type`` (optional).

Notes and sources: docs/channels/walmart.md.
"""

from __future__ import annotations

import base64
import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import quote

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.channels.base import ParsedDelivery, body_digest, hmac_sha256, lower_keys
from helpdesk.core.errors import ChannelError, InvalidSignature, MalformedPayload
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

API_BASE = "https://marketplace.walmartapis.com"
TOKEN_PATH = "/v3/token"  # noqa: S105 - a path, not a secret
ORDERS_PATH = "/v3/orders"
ORDER_PATH = "/v3/orders/{purchase_order_id}"
SUBSCRIPTIONS_PATH = "/v3/webhooks/subscriptions"
SUBSCRIPTION_PATH = "/v3/webhooks/subscriptions/{subscription_id}"
SERVICE_NAME = "Walmart Marketplace"
# The header Walmart puts the subscription's credentials in (authHeaderName), and the Basic user name.
WEBHOOK_AUTH_HEADER = "X-Helpdesk-Webhook-Auth"
WEBHOOK_USER = "helpdesk"
# (eventType, eventVersion, resourceName) registered for a store.
SUBSCRIBED_EVENTS = (("ORDER_UPDATES", "V1", "ORDER"),)
ORDER_LOOKBACK = timedelta(days=180)  # the All orders API serves the last 180 days only
ORDERS_LIMIT = 100
RATE_PER_SECOND = 5.0
BURST = 5

PO_CREATED = "PO_CREATED"
INTENT_TO_CANCEL = "INTENT_TO_CANCEL"
PO_LINE_AUTOCANCELLED = "PO_LINE_AUTOCANCELLED"
FRAUD_CANCEL = "FRAUD_CANCEL"
_ORDER_UPDATES = "ORDER_UPDATES"
_ORDER_EVENTS = {PO_CREATED, INTENT_TO_CANCEL, PO_LINE_AUTOCANCELLED, FRAUD_CANCEL}
_LEGACY_EVENTS = {PO_CREATED, INTENT_TO_CANCEL, PO_LINE_AUTOCANCELLED}
# Line statuses in lifecycle order (notifications write them in capitals, the Orders API capitalised).
_LINE_STATUSES = ("created", "acknowledged", "shipped", "delivered", "cancelled")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_ORDER_REF = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class _Common(TypedDict):
    """The fields an Order and its OrderEvent share."""

    tenant_id: str
    store_id: str
    channel: Channel


def walmart_auth(
    client_id: str,
    client_secret: str,
    cache_key: str,
    *,
    base_url: str = API_BASE,
    channel_type: str | None = None,
    clock: Callable[[], float] | None = None,
) -> httpx.Auth:
    """The Walmart ``RefreshingTokenAuth``: client-credentials token, Walmart's headers on every request."""
    return _auth_class()(
        client_id, client_secret, cache_key, base_url=base_url, channel_type=channel_type, clock=clock or time.monotonic
    )


@cache
def _auth_class() -> type:
    import httpx

    from helpdesk.channels.oauth import RefreshingTokenAuth

    class WalmartTokenAuth(RefreshingTokenAuth):
        channel = Channel.WALMART.value

        def __init__(
            self,
            client_id: str,
            client_secret: str,
            cache_key: str,
            *,
            base_url: str,
            channel_type: str | None,
            clock: Callable[[], float],
        ) -> None:
            super().__init__(cache_key, clock=clock)
            self._basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
            self._token_url = base_url.rstrip("/") + TOKEN_PATH
            self._channel_type = channel_type

        def _walmart_headers(self, request: httpx.Request) -> None:
            request.headers["Authorization"] = self._basic
            request.headers["WM_SVC.NAME"] = SERVICE_NAME
            request.headers["WM_QOS.CORRELATION_ID"] = str(uuid.uuid4())
            request.headers["Accept"] = "application/json"
            if self._channel_type:
                request.headers["WM_CONSUMER.CHANNEL.TYPE"] = self._channel_type

        def token_request(self) -> httpx.Request:
            request = httpx.Request("POST", self._token_url, data={"grant_type": "client_credentials"})
            self._walmart_headers(request)
            return request

        def apply(self, request: httpx.Request, token: str) -> None:
            self._walmart_headers(request)
            request.headers["WM_SEC.ACCESS_TOKEN"] = token

    return WalmartTokenAuth


class WalmartConnector:
    channel = Channel.WALMART.value

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    # --- webhook deliveries -----------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        h = lower_keys(headers)
        value = (h.get(WEBHOOK_AUTH_HEADER.lower()) or h.get("authorization") or "").strip()
        if not value:
            raise InvalidSignature(f"missing {WEBHOOK_AUTH_HEADER} header")
        if not secret or not _authentic(value, body, secret):
            raise InvalidSignature(f"{WEBHOOK_AUTH_HEADER} does not carry the store's webhook secret")

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # no ping: a test notification is a sample delivery through the same auth

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """``source.eventId`` (documented as the idempotency key), else a digest of the body."""
        payload = values.json_or_none(body)
        source = payload.get("source") if isinstance(payload, dict) else None
        event_id = source.get("eventId") if isinstance(source, dict) else None
        if isinstance(event_id, str) and _SAFE_ID.match(event_id):
            return f"walmart-{event_id}"
        return f"walmart-sha-{body_digest(body)}"

    def parse(
        self, store: Store, headers: Mapping[str, str], body: bytes, raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        payload = values.read_json(body, "body")
        if not isinstance(payload, dict) or not isinstance(payload.get("source"), dict):
            raise MalformedPayload("body is not a Walmart notification (no 'source' object)")
        source = payload["source"]
        envelope = source.get("eventType")
        inner = payload.get("payload")
        if not isinstance(inner, dict):
            raise MalformedPayload(f"Walmart {envelope} notification has no 'payload' object")
        if envelope == _ORDER_UPDATES:
            meta = inner.get("meta")
            kind = (meta.get("subEventType") if isinstance(meta, dict) else None) or inner.get("subEventType")
            order = inner.get("order")
            if order is None and "purchaseOrderId" in inner:
                order = inner
        elif envelope in _LEGACY_EVENTS:
            kind, order = envelope, inner
        else:
            raise MalformedPayload(f"unsupported Walmart event type {envelope!r}; subscribe ORDER_UPDATES")
        if kind not in _ORDER_EVENTS:
            raise MalformedPayload(f"unsupported Walmart order update {kind!r}")
        if not isinstance(order, dict):
            raise MalformedPayload(f"Walmart {kind} notification has no order object")
        try:
            return self._parse_order_update(store, kind, source, order, raw_s3_key, received_at)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"Walmart {kind} notification could not be read: {exc}") from None

    def _parse_order_update(
        self, store: Store, kind: str, source: dict[str, Any], o: dict[str, Any], raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        po = _required_id(o, "purchaseOrderId")
        order_ref = _optional_id(o, "customerOrderId") or po
        lines = [_Line(raw) for raw in _raw_lines(o)]
        occurred_at = _time(source.get("eventTime")) or received_at
        event_id = source.get("eventId")
        if not isinstance(event_id, str) or not event_id.strip():
            event_id = f"{kind}:{po}:{source.get('eventTime') or ''}"
        common = _Common(tenant_id=store.tenant_id, store_id=store.store_id, channel=Channel.WALMART)
        messages: list[InboundMessage] = []
        if kind == PO_CREATED:
            estimate = _delivery_estimate(o)
            order = Order(
                **common,
                order_ref=order_ref,
                status=_order_status(lines),
                channel_status=_channel_status(lines),
                items=[line.item() for line in lines],
                delivery_earliest=estimate,
                delivery_latest=estimate,
                ordered_at=_time(o.get("orderDate")),
                updated_at=_latest(line.status_date for line in lines),
            )
            event_type = OrderEventType.CREATED
        elif kind == INTENT_TO_CANCEL:
            order = Order(**common, order_ref=order_ref)
            event_type = OrderEventType.CANCELLATION_REQUESTED
            messages.append(self._cancellation_request(store, po, order_ref, lines, occurred_at, raw_s3_key))
        else:  # PO_LINE_AUTOCANCELLED, FRAUD_CANCEL: possibly some lines only, see docs/channels/walmart.md
            order = Order(**common, order_ref=order_ref)
            event_type = OrderEventType.CANCELLED
        event = OrderEvent(
            **common,
            event_type=event_type,
            event_id=f"{kind}:{po}:{event_id.strip()}",
            order=order,
            occurred_at=occurred_at,
            raw_s3_key=raw_s3_key,
        )
        return ParsedDelivery(messages=messages, order_events=[event])

    @staticmethod
    def _cancellation_request(
        store: Store, po: str, order_ref: str, lines: list[_Line], received_at: datetime, raw_s3_key: str
    ) -> InboundMessage:
        numbers = [line.number for line in lines if line.number]
        where = f"order {order_ref} (purchase order {po})"
        if not lines:
            parts = [f"The buyer asked Walmart to cancel {where} before it ships."]
        else:
            what = "this line" if len(lines) == 1 else f"these {len(lines)} lines"
            parts = [f"The buyer asked Walmart to cancel {what} of {where} before it ships:"]
        for line in lines:
            text = f"- line {line.number or '?'}: {line.name} × {line.quantity}"
            reasons = [r for r in (line.cancellation_reason, line.cancellation_detail) if r]
            if reasons:
                text += f" — reason: {reasons[0]}" + (f" ({reasons[1]})" if len(reasons) > 1 else "")
            parts.append(text)
        return InboundMessage(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.WALMART,
            channel_message_id=f"walmart-intent-to-cancel:{po}:{'-'.join(numbers) or 'order'}",
            channel_thread_id=f"walmart-order:{po}",
            order_ref=order_ref,
            subject=f"Cancellation request for Walmart order {order_ref}",
            body="\n".join(parts),
            received_at=received_at,
            raw_s3_key=raw_s3_key,
            cancellation_requested=True,
        )

    # --- API --------------------------------------------------------------------------------------

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        client_id = (credentials.get("client_id") or "").strip()
        client_secret = (credentials.get("client_secret") or "").strip()
        for key, value in (("client_id", client_id), ("client_secret", client_secret)):
            if not value:
                raise ChannelError(
                    f"Walmart store has no API key (credentials['{key}'])",
                    channel=self.channel,
                    store_id=store.store_id,
                )
        base_url = (store.base_url or API_BASE).strip().rstrip("/")
        auth = walmart_auth(
            client_id,
            client_secret,
            f"{store.tenant_id}/{store.store_id}:{client_id}",
            base_url=base_url,
            channel_type=(credentials.get("consumer_channel_type") or None),
        )
        return ChannelHttpClient(
            base_url,
            channel=self.channel,
            headers={"Accept": "application/json"},
            auth=auth,
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        """A token (the first request fetches one) and ``GET /v3/webhooks/subscriptions``: the seller's
        partner id when a subscription names it."""
        with _unquoted():
            subscriptions = self._subscriptions(http)
        for subscription in subscriptions:
            partner = subscription.get("partnerId")
            if isinstance(partner, str | int) and str(partner).strip():
                return f"Walmart seller {partner}"
        return f"Walmart seller ({store.display_name})"

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        ref = order_ref.strip()
        if not _ORDER_REF.match(ref):
            return None  # Walmart order numbers are digits: nothing else can name an order
        orders = self._orders_of_customer_order(http, ref)
        if not orders:
            response = http.get(ORDER_PATH.format(purchase_order_id=quote(ref, safe="")))
            if response.status_code == 404:
                return None
            payload = _read_json(_checked(response, f"get order {ref}"), f"order {ref}")
            order = payload.get("order") if isinstance(payload, dict) else None
            if not isinstance(order, dict):
                raise MalformedPayload(f"Walmart order {ref} answer has no 'order' object")
            orders = [order]
        try:
            return _order(store, orders)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"Walmart order {ref} could not be read: {exc}") from None

    def _orders_of_customer_order(self, http: ChannelHttpClient, ref: str) -> list[dict[str, Any]]:
        since = (self._clock() - ORDER_LOOKBACK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = http.get(
            ORDERS_PATH, params={"customerOrderId": ref, "createdStartDate": since, "limit": str(ORDERS_LIMIT)}
        )
        if response.status_code == 404:
            return []
        payload = _read_json(_checked(response, f"list orders of customer order {ref}"), "order list")
        listing = payload.get("list") if isinstance(payload, dict) else None
        elements = listing.get("elements") if isinstance(listing, dict) else None
        orders = elements.get("order") if isinstance(elements, dict) else None
        if orders is None:
            return []
        if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
            raise MalformedPayload("Walmart order list 'elements.order' is not a list of orders")
        return orders

    # --- webhook registration ---------------------------------------------------------------------

    def register_webhooks(self, store: Store, http: ChannelHttpClient, callback_url: str, secret: str) -> list[str]:
        if not secret:
            raise ChannelError("a webhook secret is needed to register Walmart webhooks", channel=self.channel)
        with _unquoted():
            return self._register(http, callback_url, secret)

    def _register(self, http: ChannelHttpClient, callback_url: str, secret: str) -> list[str]:
        existing = self._subscriptions(http)
        ids: list[str] = []
        to_create: list[dict[str, Any]] = []
        for event_type, version, resource in SUBSCRIBED_EVENTS:
            spec = {
                "eventType": event_type,
                "eventVersion": version,
                "resourceName": resource,
                "eventUrl": callback_url,
                "authDetails": {
                    "authMethod": "BASIC_AUTH",
                    "userName": WEBHOOK_USER,
                    "password": secret,
                    "authHeaderName": WEBHOOK_AUTH_HEADER,
                },
                "headers": {"content-type": "application/json"},
                "status": "ACTIVE",
            }
            same = [
                s
                for s in existing
                if s.get("eventType") == event_type and s.get("eventUrl") == callback_url and s.get("subscriptionId")
            ]
            if same:  # reactivate it with the current secret rather than subscribe twice
                subscription_id = str(same[0]["subscriptionId"])
                path = SUBSCRIPTION_PATH.format(subscription_id=quote(subscription_id, safe=""))
                _checked(
                    http.request("PATCH", path, json=spec, idempotent=True),
                    f"update subscription {event_type}",
                    quote_body=False,
                )
                ids.append(subscription_id)
            else:
                to_create.append(spec)
        if to_create:
            response = http.post(SUBSCRIPTIONS_PATH, json={"events": to_create})  # not retried: no duplicates
            created = _subscription_list(
                _read_json(_checked(response, "create subscription", quote_body=False), "subscription answer")
            )
            new_ids = [str(s["subscriptionId"]) for s in created if s.get("subscriptionId")]
            if len(new_ids) != len(to_create):
                raise ChannelError(
                    f"Walmart created {len(new_ids)} subscriptions for {len(to_create)} requested", channel=self.channel
                )
            ids.extend(new_ids)
        return ids

    def remove_webhooks(self, store: Store, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        with _unquoted():
            self._remove(http, webhook_ids)

    def _remove(self, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        for subscription_id in webhook_ids:
            path = SUBSCRIPTION_PATH.format(subscription_id=quote(str(subscription_id), safe=""))
            response = http.request("DELETE", path)
            if response.status_code != 404:
                _checked(response, f"delete subscription {subscription_id}", quote_body=False)

    def _subscriptions(self, http: ChannelHttpClient) -> list[dict[str, Any]]:
        response = http.get(SUBSCRIPTIONS_PATH)
        if response.status_code == 404:
            return []  # no subscription yet
        return _subscription_list(
            _read_json(_checked(response, "list subscriptions", quote_body=False), "subscription list")
        )


# --- notification lines and orders ---------------------------------------------------------------


class _Line:
    """One order line, from a notification (flat) or from the Orders API (nested)."""

    def __init__(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise TypeError("an order line is not an object")
        item = raw.get("item") or {}
        quantity = raw.get("quantity") or {}
        ordered = raw.get("orderLineQuantity") or {}
        if not all(isinstance(x, dict) for x in (item, quantity, ordered)):
            raise TypeError("'item' and the line quantities must be objects")
        number = raw.get("lineNumber")
        self.number = str(number).strip() if number not in (None, "") else ""
        self.sku = _text(raw.get("sku")) or _text(item.get("sku"))
        self.name = _text(raw.get("productName")) or _text(item.get("productName")) or self.sku or "item"
        self.quantity = _count(quantity.get("measurementValue", ordered.get("amount")))
        self.status_date = _time(raw.get("statusDate"))
        self.statuses: list[dict[str, Any]] = _line_statuses(raw)
        self.charges: list[dict[str, Any]] = _charges(raw)
        first = self.statuses[0] if self.statuses else {}
        self.cancellation_reason = _text(raw.get("cancellationReason")) or _text(first.get("cancellationReason"))
        self.cancellation_detail = _text(raw.get("cancelSubReasonCodeDescription"))

    def status_names(self) -> list[str]:
        return [str(s.get("status") or "").strip() for s in self.statuses if str(s.get("status") or "").strip()]

    def product_amount(self) -> Decimal | None:
        amounts = [_amount(c.get("chargeAmount")) for c in self.charges if c.get("chargeType") == "PRODUCT"]
        known = [a for a in amounts if a is not None]
        return sum(known, Decimal(0)) if known else None

    def item(self) -> OrderItem:
        amount = self.product_amount()
        unit = amount / self.quantity if amount is not None and self.quantity else None
        return OrderItem(sku=self.sku, name=self.name, quantity=self.quantity, unit_price=unit, total=amount)


def _raw_lines(o: dict[str, Any]) -> list[Any]:
    lines = o.get("orderLines")
    if isinstance(lines, dict):  # Orders API: {"orderLine": [...]}
        if "orderLine" not in lines:
            raise TypeError("'orderLines' has no 'orderLine' list")
        lines = lines["orderLine"]
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise TypeError("'orderLines' is not a list")
    return lines


def _line_statuses(raw: dict[str, Any]) -> list[dict[str, Any]]:
    nested = raw.get("orderLineStatuses")
    if nested is not None:
        entries = nested.get("orderLineStatus") if isinstance(nested, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise TypeError("'orderLineStatuses.orderLineStatus' is not a list of objects")
        return entries
    return [{"status": raw.get("status")}] if raw.get("status") else []


def _charges(raw: dict[str, Any]) -> list[dict[str, Any]]:
    charges = raw.get("charges")
    if charges is None:
        return []
    entries = charges.get("charge") if isinstance(charges, dict) else None
    if not isinstance(entries, list) or not all(isinstance(c, dict) for c in entries):
        raise TypeError("'charges.charge' is not a list of objects")
    return entries


def _order_status(lines: list[_Line]) -> OrderStatus:
    statuses = [s.lower() for line in lines for s in line.status_names()]
    if not statuses or any(s not in _LINE_STATUSES for s in statuses):
        return OrderStatus.UNKNOWN
    live = [s for s in statuses if s != "cancelled"]
    if not live:
        return OrderStatus.CANCELLED
    if all(s == "delivered" for s in live):
        return OrderStatus.DELIVERED
    if any(s in ("shipped", "delivered") for s in live):
        return OrderStatus.SHIPPED
    if any(s == "acknowledged" for s in live):
        return OrderStatus.PROCESSING
    return OrderStatus.PENDING


def _channel_status(lines: list[_Line]) -> str | None:
    """The distinct line statuses in lifecycle order, as Walmart writes them ("Shipped, Cancelled")."""
    seen: dict[str, str] = {}
    for line in lines:
        for name in line.status_names():
            seen.setdefault(name.lower(), name)
    order = {s: i for i, s in enumerate(_LINE_STATUSES)}
    return ", ".join(seen[k] for k in sorted(seen, key=lambda k: order.get(k, len(order)))) or None


def _order(store: Store, orders: list[dict[str, Any]]) -> Order:
    first = orders[0]
    lines = [_Line(raw) for o in orders for raw in _raw_lines(o)]
    shipping = first.get("shippingInfo") or {}
    address = (shipping.get("postalAddress") or {}) if isinstance(shipping, dict) else {}
    if not isinstance(shipping, dict) or not isinstance(address, dict):
        raise TypeError("'shippingInfo.postalAddress' is not an object")
    tracking = _latest_tracking(lines)
    status = _order_status(lines)
    charges = [c for line in lines for c in line.charges]
    amounts = [_amount(c.get("chargeAmount")) for c in charges]
    taxes = [_amount((c.get("tax") or {}).get("taxAmount")) for c in charges]
    known = [a for a in amounts + taxes if a is not None]
    currencies = [(c.get("chargeAmount") or {}).get("currency") for c in charges]
    delivered = [line.status_date for line in lines if "delivered" in (s.lower() for s in line.status_names())]
    estimates = [t for t in (_delivery_estimate(o) for o in orders) if t is not None]
    return Order(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.WALMART,
        order_ref=_optional_id(first, "customerOrderId") or _required_id(first, "purchaseOrderId"),
        status=status,
        channel_status=_channel_status(lines),
        currency=next((c for c in currencies if isinstance(c, str) and c), None),
        total=sum(known, Decimal(0)) if known else None,
        items=[line.item() for line in lines],
        buyer_email=_text(first.get("customerEmailId")),
        buyer_name=_text(address.get("name")),
        carrier=tracking.get("carrier"),
        tracking_number=tracking.get("number"),
        tracking_url=tracking.get("url"),
        delivery_earliest=min(estimates, default=None),
        delivery_latest=max(estimates, default=None),
        ordered_at=min((t for t in (_time(o.get("orderDate")) for o in orders) if t), default=None),
        shipped_at=tracking.get("shipped_at"),
        delivered_at=_latest(delivered) if status is OrderStatus.DELIVERED else None,
        updated_at=_latest(line.status_date for line in lines),
    )


def _delivery_estimate(o: dict[str, Any]) -> datetime | None:
    """A purchase order's ``estimatedDeliveryDate``: in ``shippingInfo`` (Orders API), else on the order
    itself (notifications)."""
    shipping = o.get("shippingInfo") or {}
    if not isinstance(shipping, dict):
        raise TypeError("'shippingInfo' is not an object")
    value = shipping.get("estimatedDeliveryDate")
    return _time(o.get("estimatedDeliveryDate") if value is None or value == "" else value)


def _latest_tracking(lines: list[_Line]) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for line in lines:
        for entry in line.statuses:
            info = entry.get("trackingInfo")
            if not isinstance(info, dict) or not _text(info.get("trackingNumber")):
                continue
            shipped_at = _time(info.get("shipDateTime"))
            if best and (shipped_at is None or (best["shipped_at"] is not None and shipped_at <= best["shipped_at"])):
                continue
            carrier = info.get("carrierName") or {}
            if not isinstance(carrier, dict):
                raise TypeError("'trackingInfo.carrierName' is not an object")
            best = {
                "carrier": _text(carrier.get("carrier")) or _text(carrier.get("otherCarrier")),
                "number": _text(info.get("trackingNumber")),
                "url": _text(info.get("trackingURL")),
                "shipped_at": shipped_at,
            }
    return best


# --- helpers ------------------------------------------------------------------------------------


def _authentic(value: str, body: bytes, secret: str) -> bool:
    """Basic credentials whose password is the secret, or HMAC-SHA256(secret, body) in hex or base64."""
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "basic" and rest.strip() else value
    expected = secret.encode()
    matched = False
    try:
        decoded = base64.b64decode(token, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        decoded = ""
    if ":" in decoded:
        matched |= hmac.compare_digest(decoded.split(":", 1)[1].encode(), expected)
    digest = hmac_sha256(secret, body)
    raw = token.encode(errors="replace")
    matched |= hmac.compare_digest(raw.lower(), digest.hex().encode())
    matched |= hmac.compare_digest(raw, base64.b64encode(digest))
    return matched


@contextmanager
def _unquoted() -> Iterator[None]:
    """Subscription answers may echo authentication details: a ChannelError raised while talking to
    the Notifications API (by ChannelHttpClient too, for 5xx/429) keeps no copy of the answer."""
    try:
        yield
    except ChannelError as exc:
        exc.details.pop("body", None)
        raise


def _subscription_list(payload: Any) -> list[dict[str, Any]]:
    events = None
    if isinstance(payload, dict):
        events = payload.get("events", payload.get("event"))
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise MalformedPayload("Walmart subscription answer 'events' is not a list of subscriptions")
    return events


def _checked(response: httpx.Response, what: str, *, quote_body: bool = True) -> bytes:
    """The body of a 2xx answer; any other status is a ChannelError with Walmart's own code and message.
    ``quote_body=False`` for answers that may echo subscription credentials."""
    return values.checked(
        response, what, label="Walmart", channel=Channel.WALMART.value, message=_error_message, quote_body=quote_body
    )


def _error_message(response: httpx.Response) -> str:
    payload = values.json_or_none(response.content)
    if isinstance(payload, dict):
        errors = payload.get("errors", payload.get("error"))
        if isinstance(errors, dict):
            errors = errors.get("error")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = values.first_text(first, ("message", "description", "info")) or ""
            code = first.get("code") if isinstance(first.get("code"), str) else ""
            joined = ": ".join(x.strip() for x in (code, text) if x and x.strip())
            if joined:
                return joined
    return values.error_message(response, ("message", "error_description"))


def _read_json(body: bytes, what: str) -> Any:
    return values.read_json(body, f"Walmart {what}")


def _required_id(obj: dict[str, Any], key: str) -> str:
    value = _optional_id(obj, key)
    if value is None:
        raise MalformedPayload(f"Walmart order has no '{key}'")
    return value


def _optional_id(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ORDER_REF.match(value.strip()):
        raise MalformedPayload(f"Walmart '{key}' is not an order id: {value!r}")
    return value.strip()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"not text: {value!r}")
    return value.strip() or None


def _count(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a quantity: {value!r}") from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0:
        raise ValueError(f"not a whole quantity: {value!r}")
    return int(number)


def _amount(money: Any) -> Decimal | None:
    """``{"currency", "amount"}`` → the amount as Decimal (None when absent)."""
    if money is None:
        return None
    if not isinstance(money, dict):
        raise TypeError(f"an amount is not an object: {money!r}")
    value = money.get("amount")
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return number


def _time(value: Any) -> datetime | None:
    """Epoch milliseconds (number or digits) or ISO-8601; stored as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | Decimal) or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    if not isinstance(value, str):
        raise TypeError(f"not a time: {value!r}")
    moment = datetime.fromisoformat(value.strip())
    return values.utc(moment)


def _latest(moments: Any) -> datetime | None:
    known = [v for v in moments if v is not None]
    return max(known) if known else None


CONNECTOR = WalmartConnector()
