"""WooCommerce: order webhooks (``order.created``, ``order.updated``, ``order.deleted``, ...) and the
REST API v3 (credential check, order lookup, webhook registration).

Deliveries are signed in ``X-WC-Webhook-Signature`` (base64 HMAC-SHA256 of the raw body, keyed by the
webhook secret); WooCommerce pings a new webhook's URL with the form body ``webhook_id=<id>``. The
checkout note (``customer_note``) becomes an inbound message threaded on the order. Credentials (the
store's JSON secret): ``consumer_key``, ``consumer_secret``, ``webhook_secret``.

Notes and sources: docs/channels/woocommerce.md.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
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

# --- REST API ----------------------------------------------------------------------------------
API_PREFIX = "/wp-json/wc/v3"
RATE_PER_SECOND = 5.0
BURST = 5
# Every topic parse() reads, in subscription order.
WEBHOOK_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
SEARCH_PAGE_SIZE = 20
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_WEBHOOK_ID = re.compile(r"^\d{1,20}$")


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
        payload = values.read_json(body, "body", decimals=False)
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

    # --- REST API (order lookups, setup) --------------------------------------------------------

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        import httpx

        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        key = (credentials.get("consumer_key") or "").strip()
        secret = (credentials.get("consumer_secret") or "").strip()
        for name, value in (("consumer_key", key), ("consumer_secret", secret)):
            if not value:
                raise ChannelError(
                    f"WooCommerce store has no REST API key (credentials['{name}'])",
                    channel=self.channel,
                    store_id=store.store_id,
                )
        return ChannelHttpClient(
            _site_url(store),
            channel=self.channel,
            headers={"Accept": "application/json"},
            auth=httpx.BasicAuth(key, secret),
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        response = http.get(
            f"{API_PREFIX}/system_status", params={"_fields": "environment.site_url,environment.home_url"}
        )
        payload = _api_json(response, "system status")
        environment = payload.get("environment") if isinstance(payload, dict) else None
        if not isinstance(environment, dict):
            raise MalformedPayload("WooCommerce system status answer has no 'environment' object")
        label = environment.get("site_url") or environment.get("home_url")
        if not isinstance(label, str) or not label.strip():
            raise MalformedPayload("WooCommerce system status answer has no 'environment.site_url'")
        return label.strip()

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        ref = order_ref.strip().removeprefix("#").strip()
        if not ref:
            return None
        if ref.isdigit():
            response = http.get(f"{API_PREFIX}/orders/{ref}")
            if response.status_code == 404:
                return None
            raw = _api_json(response, f"get order {ref}")
            if not isinstance(raw, dict) or "id" not in raw:
                raise MalformedPayload(f"WooCommerce answer for order {ref} is not an order (no 'id')")
            if _number(raw) == ref:
                return self._lookup(store, raw, ref)
            # The order with that id shows another number: a numbering plugin is at work.
        response = http.get(f"{API_PREFIX}/orders", params={"search": ref, "per_page": str(SEARCH_PAGE_SIZE)})
        found = _api_json(response, f"search order {ref}")
        if not isinstance(found, list):
            raise MalformedPayload("WooCommerce order search answer is not a list")
        for raw in found:
            if isinstance(raw, dict) and "id" in raw and _number(raw) == ref:
                return self._lookup(store, raw, ref)
        return None

    def _lookup(self, store: Store, raw: dict[str, Any], ref: str) -> Order:
        try:
            return self._order(store, raw)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"WooCommerce order {ref} could not be read: {exc}") from None

    def register_webhooks(self, store: Store, http: ChannelHttpClient, callback_url: str, secret: str) -> list[str]:
        if not secret:
            raise ChannelError("WooCommerce webhooks need a secret to sign deliveries with", channel=self.channel)
        ids: list[str] = []
        try:
            for topic in WEBHOOK_TOPICS:
                body = {
                    "name": f"Helpdesk {topic}",
                    "topic": topic,
                    "delivery_url": callback_url,
                    "secret": secret,
                    "status": "active",
                }
                # Never repeated: WooCommerce would create a second webhook.
                payload = _api_json(http.post(f"{API_PREFIX}/webhooks", json=body), f"create the {topic} webhook")
                webhook_id = payload.get("id") if isinstance(payload, dict) else None
                if not isinstance(webhook_id, int) or isinstance(webhook_id, bool):
                    raise MalformedPayload(f"WooCommerce webhook answer for {topic} has no numeric 'id'")
                ids.append(str(webhook_id))
        except (ChannelError, MalformedPayload):
            self._delete_quietly(http, ids)
            raise
        return ids

    def remove_webhooks(self, store: Store, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        for webhook_id in webhook_ids:
            response = self._delete(http, webhook_id)
            if response.status_code != 404:
                _api_json(response, f"delete webhook {webhook_id}")

    @staticmethod
    def _delete(http: ChannelHttpClient, webhook_id: str) -> httpx.Response:
        if not _WEBHOOK_ID.match(str(webhook_id)):
            raise ChannelError(f"not a WooCommerce webhook id: {webhook_id!r}", channel=Channel.WOOCOMMERCE.value)
        return http.request(
            "DELETE", f"{API_PREFIX}/webhooks/{quote(str(webhook_id), safe='')}", params={"force": "true"}
        )

    def _delete_quietly(self, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        """Undo a half-done registration; the original error is what the caller must see."""
        for webhook_id in webhook_ids:
            try:
                self._delete(http, webhook_id)
            except ChannelError:
                continue


def _gmt(value: Any) -> datetime | None:
    """WooCommerce ``*_gmt`` fields are naive ISO strings in UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return values.utc(parsed)


def _decimal(value: Any) -> Decimal | None:
    return values.decimal(value, finite=False)  # NaN and infinities pass: this connector never refused them


def _tracking(meta: list[dict[str, Any]]) -> dict[str, Any]:
    for entry in meta:
        if isinstance(entry, dict) and entry.get("key") == _TRACKING_META and entry.get("value"):
            items = entry["value"]
            last = items[-1] if isinstance(items, list) else None
            if isinstance(last, dict):
                shipped = str(last.get("date_shipped") or "")
                return {
                    "carrier": last.get("custom_tracking_provider") or last.get("tracking_provider") or None,
                    "number": last.get("tracking_number") or None,
                    "url": last.get("custom_tracking_link") or None,
                    "shipped_at": datetime.fromtimestamp(int(shipped), UTC) if shipped.isdigit() else None,
                }
    return {}


# --- REST API helpers ---------------------------------------------------------------------------


def _site_url(store: Store) -> str:
    url = (store.base_url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ChannelError(
            "WooCommerce store has no base URL (the WordPress site's address)",
            channel=Channel.WOOCOMMERCE.value,
            store_id=store.store_id,
        )
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
        raise ChannelError(
            "WooCommerce REST API keys may only be sent over HTTPS: the base URL must be https://",
            channel=Channel.WOOCOMMERCE.value,
            store_id=store.store_id,
        )
    for suffix in (API_PREFIX, "/wp-json"):
        url = url.removesuffix(suffix)
    return url


def _number(raw: dict[str, Any]) -> str:
    return str(raw.get("number") or raw["id"]).strip().removeprefix("#")


def _api_json(response: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer; any other status is a ChannelError quoting WooCommerce's message."""
    return values.api_json(
        response, what, label="WooCommerce", channel=Channel.WOOCOMMERCE.value, message=_error_text, decimals=False
    )


def _error_text(response: httpx.Response) -> str:
    """``{"code": "woocommerce_rest_cannot_view", "message": "Sorry, ...", "data": {"status": 401}}``."""
    payload = values.json_or_none(response.content)
    message = values.first_text(payload, ("message",))
    if message is not None:
        code = payload.get("code")
        return message + (f" ({code})" if isinstance(code, str) and code else "")
    return values.body_excerpt(response)


CONNECTOR = WooCommerceConnector()
