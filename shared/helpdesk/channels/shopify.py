"""Shopify: app webhooks for orders (``orders/*``), fulfillments (``fulfillments/*``) and the
mandatory privacy topics, and the REST Admin API (credential check, order lookup, webhook
registration).

Deliveries are signed in ``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of the raw body, keyed by the
app's client secret); ``X-Shopify-Webhook-Id`` is the idempotency key. The order ``note`` becomes an
inbound message threaded on the order. Credentials (the store's JSON secret): ``access_token``,
``shop_domain`` (when the base URL is not the myshopify.com address), ``webhook_secret``.

Notes and sources: docs/channels/shopify.md.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

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

if TYPE_CHECKING:  # httpx is imported only when a client is built: webhook functions never load it
    import httpx

    from helpdesk.channels.http import ChannelHttpClient

_ORDER_TOPICS = {
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
}
_FULFILLED_ORDER_TOPICS = {"orders/fulfilled", "orders/partially_fulfilled"}
_FULFILLMENT_TOPICS = {"fulfillments/create", "fulfillments/update"}
_PRIVACY_TOPICS = {"customers/data_request", "customers/redact", "shop/redact"}
# Money has been captured: the order is being processed (a partial refund does not undo that).
_PAID = {"paid", "partially_refunded"}
# Fulfillment statuses that mean nothing was (or will be) shipped by this fulfillment.
_DEAD_FULFILLMENTS = {"cancelled", "error", "failure"}
# "#1001.2": fulfillment 2 of order "#1001".
_FULFILLMENT_NAME = re.compile(r"^#?(.+)\.\d+$")
# X-Shopify-Webhook-Id is not covered by the signature and ends up in storage keys: only plain ids.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

# --- Admin API ---------------------------------------------------------------------------------
API_VERSION = "2026-07"
REST_RATE_PER_SECOND = 2.0  # the REST leaky bucket leaks 2 requests a second...
REST_BURST = 40  # ...out of a bucket of 40
# Every topic parse() reads, in subscription order. The privacy topics are configured in the app.
WEBHOOK_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "fulfillments/create",
    "fulfillments/update",
)
_SHOP_HOST = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}\.myshopify\.com$")
_SHOP_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}$")
_WEBHOOK_ID = re.compile(r"^\d{1,20}$")


class ShopifyConnector:
    channel = Channel.SHOPIFY.value

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        given = lower_keys(headers).get("x-shopify-hmac-sha256", "").strip()
        if not given:
            raise InvalidSignature("missing X-Shopify-Hmac-Sha256 header")
        expected = base64.b64encode(hmac_sha256(secret, body))
        if not hmac.compare_digest(given.encode(), expected):
            raise InvalidSignature("X-Shopify-Hmac-Sha256 does not match the body")

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # Shopify never pings a webhook URL: every request is a delivery.

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        webhook_id = lower_keys(headers).get("x-shopify-webhook-id", "").strip()
        if _SAFE_ID.match(webhook_id):
            return f"shopify-{webhook_id}"
        return f"shopify-sha-{body_digest(body)}"

    def parse(
        self, store: Store, headers: Mapping[str, str], body: bytes, raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        topic = lower_keys(headers).get("x-shopify-topic", "").strip().lower()
        self._check_shop(store, headers)
        if topic in _PRIVACY_TOPICS:
            return ParsedDelivery()
        if topic not in _ORDER_TOPICS and topic not in _FULFILLMENT_TOPICS:
            raise MalformedPayload(
                f"unsupported Shopify topic {topic!r}; subscribe orders/*, fulfillments/* and the privacy topics"
            )
        payload = values.read_json(body, "body", decimals=False)
        try:
            if topic in _FULFILLMENT_TOPICS:
                return self._parse_fulfillment(store, topic, payload, raw_s3_key, received_at)
            return self._parse_order(store, topic, payload, raw_s3_key, received_at)
        # ArithmeticError: OverflowError and decimal's errors (an amount too large to multiply).
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"Shopify {topic} payload could not be read: {exc}") from None

    @staticmethod
    def _check_shop(store: Store, headers: Mapping[str, str]) -> None:
        """A delivery must come from this store's shop. The signature alone does not prove it when
        several shops share one app (one client secret): ``X-Shopify-Shop-Domain`` names the shop
        Shopify sent it for. Checked when the store's base URL is its myshopify.com address (setup
        records it from ``credentials['shop_domain']``); a store known only by its own domain is not."""
        expected = shop_host(store.base_url)
        if expected is None:
            return
        given = lower_keys(headers).get("x-shopify-shop-domain", "").strip().lower()
        if not given:
            raise MalformedPayload(f"missing X-Shopify-Shop-Domain header (this store is {expected})")
        if given != expected:
            raise MalformedPayload(f"delivery is for the shop {given[:100]!r}; this store is {expected}")

    # --- orders/* -----------------------------------------------------------------------------

    def _parse_order(self, store: Store, topic: str, p: Any, raw_s3_key: str, received_at: datetime) -> ParsedDelivery:
        if not isinstance(p, dict) or "id" not in p:
            raise MalformedPayload("body is not a Shopify order (no 'id')")
        order = self._order(store, topic, p)
        event = OrderEvent(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.SHOPIFY,
            event_type=self._order_event_type(topic, p, order),
            event_id=f"{topic}:{p['id']}:{p.get('updated_at') or ''}",
            order=order,
            occurred_at=order.updated_at or received_at,
            raw_s3_key=raw_s3_key,
        )
        messages = self._buyer_note(store, p, order, raw_s3_key, received_at)
        return ParsedDelivery(messages=messages, order_events=[event])

    @staticmethod
    def _order_event_type(topic: str, p: dict[str, Any], order: Order) -> OrderEventType:
        if topic == "orders/create":
            return OrderEventType.CREATED
        if topic == "orders/cancelled" or p.get("cancelled_at"):
            return OrderEventType.CANCELLED
        if topic in _FULFILLED_ORDER_TOPICS and order.tracking_number:
            return OrderEventType.SHIPPED
        if p.get("financial_status") == "refunded":
            return OrderEventType.REFUNDED
        return OrderEventType.UPDATED

    def _order(self, store: Store, topic: str, p: dict[str, Any]) -> Order:
        customer = p.get("customer") or {}
        billing = p.get("billing_address") or {}
        fulfillment = _last_live_fulfillment(p.get("fulfillments") or [])
        tracking = _tracking(fulfillment)
        cancelled = topic == "orders/cancelled" or bool(p.get("cancelled_at"))
        return Order(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.SHOPIFY,
            order_ref=_order_ref(p),
            status=_order_status(p, cancelled, fulfillment),
            channel_status=_channel_status(p, cancelled),
            currency=p.get("currency") or None,
            total=_decimal(p.get("total_price")),
            items=_items(p.get("line_items") or []),
            buyer_email=p.get("email") or p.get("contact_email") or customer.get("email") or None,
            buyer_name=_name(customer) or _name(billing),
            carrier=tracking.get("carrier"),
            tracking_number=tracking.get("number"),
            tracking_url=tracking.get("url"),
            ordered_at=_utc(p.get("created_at")),
            shipped_at=tracking.get("shipped_at"),
            delivered_at=None,  # the delivery time is in fulfillment events, not in the order
            updated_at=_utc(p.get("updated_at")),
        )

    @staticmethod
    def _buyer_note(
        store: Store, p: dict[str, Any], order: Order, raw_s3_key: str, received_at: datetime
    ) -> list[InboundMessage]:
        note = p.get("note")
        if note is None:
            return []
        if not isinstance(note, str):
            raise TypeError(f"note is not text: {note!r}")
        if not note.strip():
            return []
        return [
            InboundMessage(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.SHOPIFY,
                channel_message_id=f"order-{p['id']}-note",
                channel_thread_id=f"order-{p['id']}",
                order_ref=order.order_ref,
                buyer_email=order.buyer_email,
                buyer_name=order.buyer_name,
                subject=f"Order #{order.order_ref}: note from the buyer",
                body=note.strip(),
                received_at=order.ordered_at or received_at,
                raw_s3_key=raw_s3_key,
            )
        ]

    # --- fulfillments/* -----------------------------------------------------------------------

    def _parse_fulfillment(
        self, store: Store, topic: str, f: Any, raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        if not isinstance(f, dict) or "id" not in f or not f.get("order_id"):
            raise MalformedPayload("body is not a Shopify fulfillment (no 'id' or 'order_id')")
        dead = str(f.get("status") or "") in _DEAD_FULFILLMENTS
        tracking = {} if dead else _tracking(f)
        delivered = not dead and f.get("shipment_status") == "delivered"
        if dead:
            status = OrderStatus.UNKNOWN
        elif delivered:
            status = OrderStatus.DELIVERED
        elif tracking.get("number") or f.get("status") == "success":
            status = OrderStatus.SHIPPED
        else:
            status = OrderStatus.PROCESSING
        order = Order(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.SHOPIFY,
            order_ref=_fulfillment_order_ref(f),
            status=status,
            channel_status=_fulfillment_channel_status(f),
            items=[],  # the fulfilled lines are a subset: the stored order keeps its full item list
            buyer_email=f.get("email") or None,
            carrier=tracking.get("carrier"),
            tracking_number=tracking.get("number"),
            tracking_url=tracking.get("url"),
            shipped_at=tracking.get("shipped_at"),
            updated_at=_utc(f.get("updated_at")),
        )
        if delivered:
            event_type = OrderEventType.DELIVERED
        elif order.tracking_number:
            event_type = OrderEventType.SHIPPED
        else:
            event_type = OrderEventType.UPDATED
        event = OrderEvent(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.SHOPIFY,
            event_type=event_type,
            event_id=f"{topic}:{f['id']}:{f.get('updated_at') or ''}",
            order=order,
            occurred_at=order.updated_at or received_at,
            raw_s3_key=raw_s3_key,
        )
        return ParsedDelivery(order_events=[event])

    # --- Admin API (order lookups, setup) -------------------------------------------------------

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        token = (credentials.get("access_token") or "").strip()
        if not token:
            raise ChannelError(
                "Shopify store has no Admin API token (credentials['access_token'])",
                channel=self.channel,
                store_id=store.store_id,
            )
        host = _shop_host((store.base_url, credentials.get("shop_domain")), store)
        return ChannelHttpClient(
            f"https://{host}/admin/api/{API_VERSION}",
            channel=self.channel,
            headers={"X-Shopify-Access-Token": token, "Accept": "application/json"},
            rate_limit=TokenBucket(rate=REST_RATE_PER_SECOND, burst=REST_BURST),
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        payload = _api_json(http.get("/shop.json"), "GET shop")
        shop = payload.get("shop") if isinstance(payload, dict) else None
        if not isinstance(shop, dict):
            raise MalformedPayload("Shopify shop answer has no 'shop' object")
        label = shop.get("name") or shop.get("myshopify_domain")
        if not isinstance(label, str) or not label.strip():
            raise MalformedPayload("Shopify shop answer has no 'name'")
        return label.strip()

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        ref = order_ref.strip().removeprefix("#").strip()
        if not ref:
            return None
        for name in (f"#{ref}", ref):
            payload = _api_json(http.get("/orders.json", params={"name": name, "status": "any"}), "list orders")
            orders = payload.get("orders") if isinstance(payload, dict) else None
            if not isinstance(orders, list):
                raise MalformedPayload("Shopify orders answer has no 'orders' list")
            for raw in orders:
                if isinstance(raw, dict) and "id" in raw and _order_ref(raw).casefold() == ref.casefold():
                    try:
                        return self._order(store, "", raw)
                    except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
                        raise MalformedPayload(f"Shopify order {ref} could not be read: {exc}") from None
        return None

    def register_webhooks(self, store: Store, http: ChannelHttpClient, callback_url: str, secret: str) -> list[str]:
        """``secret`` is unused: Shopify signs deliveries with the app's client secret."""
        ids: list[str] = []
        for topic in WEBHOOK_TOPICS:
            body = {"webhook": {"topic": topic, "address": callback_url, "format": "json"}}
            # Safe to repeat: Shopify refuses a second subscription of a topic at one address (422).
            response = http.post("/webhooks.json", json=body, idempotent=True)
            if response.status_code == 422 and "taken" in _error_text(response):
                ids.append(self._existing_webhook(http, topic, callback_url))
                continue
            payload = _api_json(response, f"subscribe {topic}")
            webhook = payload.get("webhook") if isinstance(payload, dict) else None
            webhook_id = webhook.get("id") if isinstance(webhook, dict) else None
            if not isinstance(webhook_id, int) or isinstance(webhook_id, bool):
                raise MalformedPayload(f"Shopify webhook answer for {topic} has no numeric 'webhook.id'")
            ids.append(str(webhook_id))
        return ids

    @staticmethod
    def _existing_webhook(http: ChannelHttpClient, topic: str, callback_url: str) -> str:
        payload = _api_json(
            http.get("/webhooks.json", params={"topic": topic, "address": callback_url}),
            f"find the {topic} subscription",
        )
        hooks = payload.get("webhooks") if isinstance(payload, dict) else None
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and hook.get("topic") == topic and hook.get("address") == callback_url:
                return str(hook["id"])
        raise ChannelError(
            f"Shopify says {topic} is already subscribed at this address but does not list it",
            channel=Channel.SHOPIFY.value,
            status=422,
        )

    def remove_webhooks(self, store: Store, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        for webhook_id in webhook_ids:
            if not _WEBHOOK_ID.match(str(webhook_id)):
                raise ChannelError(f"not a Shopify webhook id: {webhook_id!r}", channel=self.channel)
            response = http.request("DELETE", f"/webhooks/{quote(str(webhook_id), safe='')}.json")
            if response.status_code != 404:
                _api_json(response, f"delete webhook {webhook_id}")


def _order_ref(p: dict[str, Any]) -> str:
    """What buyers see: the order name ("#1001" -> "1001"), else its number, else its id."""
    name = str(p.get("name") or "").strip().removeprefix("#").strip()
    return name or str(p.get("order_number") or p["id"])


def _fulfillment_order_ref(f: dict[str, Any]) -> str:
    match = _FULFILLMENT_NAME.match(str(f.get("name") or "").strip())
    return match.group(1).strip() if match and match.group(1).strip() else str(f["order_id"])


def _order_status(p: dict[str, Any], cancelled: bool, fulfillment: dict[str, Any] | None) -> OrderStatus:
    financial = p.get("financial_status")
    if cancelled:
        return OrderStatus.CANCELLED
    if financial == "refunded":
        return OrderStatus.REFUNDED
    if p.get("fulfillment_status") == "fulfilled":
        delivered = fulfillment is not None and fulfillment.get("shipment_status") == "delivered"
        return OrderStatus.DELIVERED if delivered else OrderStatus.SHIPPED
    return OrderStatus.PROCESSING if financial in _PAID else OrderStatus.PENDING


def _channel_status(p: dict[str, Any], cancelled: bool) -> str:
    """Shopify has no single order status: financial/fulfillment(/cancelled), e.g. "paid/unfulfilled"."""
    parts = [str(p.get("financial_status") or "unknown"), str(p.get("fulfillment_status") or "unfulfilled")]
    return "/".join([*parts, "cancelled"] if cancelled else parts)


def _fulfillment_channel_status(f: dict[str, Any]) -> str:
    """E.g. "fulfillment success, shipment in_transit"."""
    shipment = f.get("shipment_status")
    return f"fulfillment {f.get('status') or 'unknown'}" + (f", shipment {shipment}" if shipment else "")


def _items(lines: list[dict[str, Any]]) -> list[OrderItem]:
    items = []
    for li in lines:
        quantity = int(li.get("quantity") or 0)
        price = _decimal(li.get("price"))
        discount = _decimal(li.get("total_discount")) or Decimal(0)
        items.append(
            OrderItem(
                sku=li.get("sku") or None,
                name=li.get("name") or li.get("title") or "item",
                quantity=quantity,
                unit_price=price,
                total=price * quantity - discount if price is not None else None,
            )
        )
    return items


def _name(person: dict[str, Any]) -> str | None:
    return " ".join(x.strip() for x in (person.get("first_name"), person.get("last_name")) if x and x.strip()) or None


def _last_live_fulfillment(fulfillments: list[dict[str, Any]]) -> dict[str, Any] | None:
    live = [f for f in fulfillments if str(f.get("status") or "") not in _DEAD_FULFILLMENTS]
    return live[-1] if live else None


def _tracking(f: dict[str, Any] | None) -> dict[str, Any]:
    if not f:
        return {}
    numbers = f.get("tracking_numbers") or []
    urls = f.get("tracking_urls") or []
    number = f.get("tracking_number") or (numbers[0] if numbers else None)
    shipped = bool(number) or f.get("status") == "success"  # a pending fulfillment has not left yet
    return {
        "carrier": f.get("tracking_company") or None,
        "number": str(number) if number else None,
        "url": f.get("tracking_url") or (urls[0] if urls else None),
        "shipped_at": _utc(f.get("created_at")) if shipped else None,
    }


def _utc(value: Any) -> datetime | None:
    """Shopify times carry the shop's offset ("2021-12-31T19:00:00-05:00"): stored as UTC."""
    if not value:
        return None
    if not isinstance(value, str):  # fromisoformat would read 20211231 as a date
        raise TypeError(f"time is not an ISO 8601 string: {value!r}")
    parsed = datetime.fromisoformat(value)
    return values.utc(parsed)


_decimal = values.decimal


# --- Admin API helpers --------------------------------------------------------------------------


def shop_host(*candidates: str | None) -> str | None:
    """The first of the candidates naming a shop: ``jsmith``, ``jsmith.myshopify.com`` or
    ``https://jsmith.myshopify.com/...`` give ``jsmith.myshopify.com`` (a base URL that is the shop's
    own domain is passed over); None when none does."""
    for candidate in candidates:
        value = (candidate or "").strip().lower()
        host = (urlsplit(value).hostname or "") if "://" in value else value.split("/", 1)[0]
        if _SHOP_HANDLE.match(host):
            host = f"{host}.myshopify.com"
        if _SHOP_HOST.match(host):
            return host
    return None


def _shop_host(candidates: tuple[str | None, ...], store: Store) -> str:
    host = shop_host(*candidates)
    if host is not None:
        return host
    raise ChannelError(
        "Shopify store needs its myshopify.com domain (store base URL or credentials['shop_domain'])",
        channel=Channel.SHOPIFY.value,
        store_id=store.store_id,
    )


def _api_json(response: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer (an empty body is ``{}``); any other status is a ChannelError quoting
    Shopify's ``errors``."""
    body = values.checked(response, what, label="Shopify", channel=Channel.SHOPIFY.value, message=_error_text)
    return values.read_json(body, f"Shopify {what} answer") if body.strip() else {}


def _error_text(response: httpx.Response) -> str:
    """``{"errors": "..."}``, ``{"errors": {"address": ["..."]}}`` or ``{"error": "..."}`` as one line."""
    payload = values.json_or_none(response.content)
    if isinstance(payload, dict):
        errors = payload.get("errors", payload.get("error"))
        if isinstance(errors, str) and errors.strip():
            return errors.strip()
        if isinstance(errors, dict):
            return "; ".join(
                f"{field} {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                for field, msgs in errors.items()
            )
        if isinstance(errors, list) and errors:
            return "; ".join(map(str, errors))
    return values.body_excerpt(response)


CONNECTOR = ShopifyConnector()
