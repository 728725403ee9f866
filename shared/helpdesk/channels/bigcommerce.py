"""BigCommerce: order and shipment webhooks (thin callbacks), orders looked up in REST v2, webhooks
managed in REST v3.

Callbacks are authenticated by our token in the custom hook header ``WEBHOOK_TOKEN_HEADER`` (a
Standard Webhooks signature as fallback). They are thin (ids, and a status update's new status), so
an OrderEvent's Order knows only what the callback says: **the consumer should call ``fetch_order`` to
enrich the order**. Credentials (the store's JSON secret): ``store_hash`` (or ``Store.base_url``),
``access_token``, ``webhook_secret``.

Notes and sources: docs/channels/bigcommerce.md.
"""

from __future__ import annotations

import base64
import hmac
import math
import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import quote

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.channels.base import ParsedDelivery, body_digest, lower_keys
from helpdesk.core.errors import ChannelError, InvalidSignature, MalformedPayload
from helpdesk.core.models import Channel, Order, OrderEvent, OrderEventType, OrderItem, OrderStatus, Store

if TYPE_CHECKING:  # httpx is imported only when a client is built
    import httpx

    from helpdesk.channels.http import ChannelHttpClient

API_ROOT = "https://api.bigcommerce.com"
# The custom header every hook created by this product carries (its value: the store's webhook secret).
WEBHOOK_TOKEN_HEADER = "X-Helpdesk-Webhook-Token"  # noqa: S105 - a header name, not a secret
SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/archived",
    "store/shipment/created",
    "store/shipment/updated",
)
ORDER_PATH = "/v2/orders/{order_id}"
PRODUCTS_PATH = "/v2/orders/{order_id}/products"
SHIPMENTS_PATH = "/v2/orders/{order_id}/shipments"
STORE_PATH = "/v2/store"
HOOKS_PATH = "/v3/hooks"
HOOK_PATH = "/v3/hooks/{hook_id}"
PAGE_LIMIT = 250
MAX_PAGES = 20
RATE_PER_SECOND = 4.0
BURST = 4
SIGNATURE_TOLERANCE_SECONDS = 300

STATUS_NAMES = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}
_STATUS = {
    0: OrderStatus.FAILED,
    1: OrderStatus.PENDING,
    2: OrderStatus.SHIPPED,
    3: OrderStatus.PROCESSING,
    4: OrderStatus.REFUNDED,
    5: OrderStatus.CANCELLED,
    6: OrderStatus.FAILED,
    7: OrderStatus.PENDING,
    8: OrderStatus.PROCESSING,
    9: OrderStatus.PROCESSING,
    10: OrderStatus.COMPLETED,
    11: OrderStatus.PROCESSING,
    12: OrderStatus.ON_HOLD,
    13: OrderStatus.ON_HOLD,
    14: OrderStatus.UNKNOWN,
}
_PARTIALLY_REFUNDED = 14
_STATUS_EVENT = {
    OrderStatus.CANCELLED: OrderEventType.CANCELLED,
    OrderStatus.REFUNDED: OrderEventType.REFUNDED,
    OrderStatus.SHIPPED: OrderEventType.SHIPPED,
}
_ORDER_SCOPES = {
    "store/order/created": OrderEventType.CREATED,
    "store/order/updated": OrderEventType.UPDATED,
    "store/order/statusUpdated": OrderEventType.UPDATED,
    "store/order/archived": OrderEventType.DELETED,
}
_SHIPMENT_SCOPES = {"store/shipment/created", "store/shipment/updated"}
_STORE_HASH = re.compile(r"/stores/([A-Za-z0-9]+)(?:/|$)")
_API_ROOT_OF = re.compile(r"^(https?://[^/?#]+)/stores/[A-Za-z0-9]+(?:/|$)")
_HASH_VALUE = re.compile(r"^[A-Za-z0-9]{1,64}$")
# Header values end up in storage keys: only plain ids.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def store_hash(store: Store) -> str | None:
    """The store hash named by ``Store.base_url`` (``https://api.bigcommerce.com/stores/<hash>[/v3]``)."""
    match = _STORE_HASH.search(store.base_url or "")
    return match.group(1) if match else None


def verify_signature(
    headers: Mapping[str, str],
    body: bytes,
    client_secret: str,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> None:
    """The Standard Webhooks signature BigCommerce documents, keyed with the app's client secret.

    Raises InvalidSignature when a header is missing, the timestamp is outside ``tolerance`` seconds
    of ``now`` (replays) or no ``v1`` signature of ``"{webhook-id}.{webhook-timestamp}.{body}"`` matches.
    """
    h = lower_keys(headers)
    message_id = h.get("webhook-id", "").strip()
    timestamp = h.get("webhook-timestamp", "").strip()
    signatures = h.get("webhook-signature", "").strip()
    if not (message_id and timestamp and signatures):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not client_secret:
        raise InvalidSignature("no secret to check the webhook signature with")
    if not timestamp.isdigit():
        raise InvalidSignature("webhook-timestamp is not a Unix time")
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        raise InvalidSignature("webhook-timestamp is too far from now (replayed or delayed delivery)")
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(client_secret.encode(), signed, "sha256").digest())
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return
    raise InvalidSignature("webhook-signature does not match the body")


class BigCommerceConnector:
    channel = Channel.BIGCOMMERCE.value

    # --- webhook deliveries -----------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        h = lower_keys(headers)
        token = h.get(WEBHOOK_TOKEN_HEADER.lower())
        if token is None and "webhook-signature" in h:
            verify_signature(headers, body, secret)
            return
        if token is None or not token.strip():
            raise InvalidSignature(f"missing {WEBHOOK_TOKEN_HEADER} header")
        if not secret or not hmac.compare_digest(token.strip().encode(), secret.encode()):
            raise InvalidSignature(f"{WEBHOOK_TOKEN_HEADER} does not match the store's webhook secret")

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # BigCommerce never pings a destination: every request is a callback.

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """``webhook-id`` when sent, else the callback's ``hash`` with its ``created_at``, else a digest."""
        message_id = lower_keys(headers).get("webhook-id", "").strip()
        if _SAFE_ID.match(message_id):
            return f"bc-{message_id}"
        payload = values.json_or_none(body)
        if isinstance(payload, dict):
            event_hash, created = payload.get("hash"), payload.get("created_at")
            if isinstance(event_hash, str) and _HASH_VALUE.match(event_hash) and _is_int(created):
                return f"bc-{event_hash}-{created}"
        return f"bc-sha-{body_digest(body)}"

    def parse(
        self, store: Store, headers: Mapping[str, str], body: bytes, raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        payload = values.read_json(body, "body", decimals=False)
        if not isinstance(payload, dict):
            raise MalformedPayload("body is not a BigCommerce webhook callback (not a JSON object)")
        scope = payload.get("scope")
        if scope not in _ORDER_SCOPES and scope not in _SHIPMENT_SCOPES:
            raise MalformedPayload(f"unsupported BigCommerce scope {scope!r}; subscribe {', '.join(SCOPES)}")
        self._check_producer(store, payload.get("producer"))
        data = payload.get("data")
        if not isinstance(data, dict):
            raise MalformedPayload(f"{scope} callback has no 'data' object")
        created_at = payload.get("created_at")
        if created_at is not None and not _is_int(created_at):
            raise MalformedPayload(f"{scope} callback 'created_at' is not a Unix time: {created_at!r}")
        occurred_at = datetime.fromtimestamp(created_at, UTC) if created_at is not None else received_at

        if scope in _SHIPMENT_SCOPES:
            _expect_type(data, "shipment", scope)
            order_id = _int_field(data, "orderId", scope)
            status, channel_status, event_type = OrderStatus.UNKNOWN, None, OrderEventType.SHIPPED
            event_key = f"{order_id}:{_int_field(data, 'id', scope)}"
        else:
            _expect_type(data, "order", scope)
            order_id = _int_field(data, "id", scope)
            status, channel_status, event_type = OrderStatus.UNKNOWN, None, _ORDER_SCOPES[scope]
            event_key = str(order_id)
            if scope == "store/order/statusUpdated":
                new_status = _new_status_id(data)
                status = _STATUS.get(new_status, OrderStatus.UNKNOWN)
                channel_status = STATUS_NAMES.get(new_status, f"status {new_status}")
                event_type = _STATUS_EVENT.get(status, OrderEventType.UPDATED)
                event_key = f"{order_id}:{new_status}"
        try:
            order = Order(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.BIGCOMMERCE,
                order_ref=str(order_id),
                status=status,
                channel_status=channel_status,
            )
            event = OrderEvent(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.BIGCOMMERCE,
                event_type=event_type,
                event_id=f"{scope}:{event_key}:{created_at if created_at is not None else ''}",
                order=order,
                occurred_at=occurred_at,
                raw_s3_key=raw_s3_key,
            )
        except ValidationError as exc:
            raise MalformedPayload(f"{scope} callback could not be read: {exc}") from None
        return ParsedDelivery(order_events=[event])

    @staticmethod
    def _check_producer(store: Store, producer: Any) -> None:
        expected = store_hash(store)
        if expected is None:
            return
        if not isinstance(producer, str) or producer.strip() != f"stores/{expected}":
            raise MalformedPayload(f"callback producer {producer!r} is not this store (stores/{expected})")

    # --- API --------------------------------------------------------------------------------------

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        hash_ = _credential_store_hash(store, credentials)
        token = (credentials.get("access_token") or "").strip()
        if not token:
            raise ChannelError(
                "BigCommerce store has no API token (credentials['access_token'])",
                channel=self.channel,
                store_id=store.store_id,
            )
        root = _API_ROOT_OF.match(store.base_url or "")  # a base URL may name another API host (local fakes)
        return ChannelHttpClient(
            f"{root.group(1) if root else API_ROOT}/stores/{hash_}",
            channel=self.channel,
            headers={"Accept": "application/json"},
            auth=_auth_class()(token),
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        """``GET /v2/store``: the store's name (else its domain)."""
        info = _read_json(_checked(http.get(STORE_PATH), "store information"), "store information")
        if not isinstance(info, dict):
            raise MalformedPayload("BigCommerce store information is not an object")
        label = info.get("name") or info.get("domain") or info.get("id")
        return str(label) if label else store.display_name

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        order_id = order_ref.strip().removeprefix("#").strip()
        if not order_id.isdigit():
            return None  # BigCommerce order ids are numbers: nothing else can name an order
        response = http.get(ORDER_PATH.format(order_id=order_id))
        if response.status_code == 404:
            return None
        raw = _read_json(_checked(response, f"get order {order_id}"), f"order {order_id}")
        if not isinstance(raw, dict) or "id" not in raw:
            raise MalformedPayload(f"BigCommerce order {order_id} answer is not an order")
        products = _collection(http, PRODUCTS_PATH.format(order_id=order_id), f"order {order_id} products")
        shipments = _collection(http, SHIPMENTS_PATH.format(order_id=order_id), f"order {order_id} shipments")
        try:
            return _order(store, raw, products, shipments)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"BigCommerce order {order_id} could not be read: {exc}") from None

    # --- webhook registration ---------------------------------------------------------------------

    def register_webhooks(self, store: Store, http: ChannelHttpClient, callback_url: str, secret: str) -> list[str]:
        if not secret:
            raise ChannelError("a webhook secret is needed to register BigCommerce webhooks", channel=self.channel)
        with _unquoted():
            return self._register(http, callback_url, secret)

    def _register(self, http: ChannelHttpClient, callback_url: str, secret: str) -> list[str]:
        existing = {(h.get("scope"), h.get("destination")): h.get("id") for h in self._hooks(http)}
        ids: list[str] = []
        created: list[str] = []
        try:
            for scope in SCOPES:
                body = {
                    "scope": scope,
                    "destination": callback_url,
                    "is_active": True,
                    "headers": {WEBHOOK_TOKEN_HEADER: secret},
                }
                hook_id = existing.get((scope, callback_url))
                if hook_id is not None:  # reactivate it and give it the current secret
                    response = http.request("PUT", HOOK_PATH.format(hook_id=quote(str(hook_id), safe="")), json=body)
                    ids.append(_hook_id(_checked(response, f"update webhook {scope}", quote_body=False)))
                else:
                    response = http.post(HOOKS_PATH, json=body)  # not retried: it could create a duplicate
                    new_id = _hook_id(_checked(response, f"create webhook {scope}", quote_body=False))
                    created.append(new_id)
                    ids.append(new_id)
        except Exception:
            self._remove_quietly(http, created)
            raise
        return ids

    def remove_webhooks(self, store: Store, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        with _unquoted():
            self._remove(http, webhook_ids)

    def _remove(self, http: ChannelHttpClient, webhook_ids: list[str]) -> None:
        for hook_id in webhook_ids:
            response = http.request("DELETE", HOOK_PATH.format(hook_id=quote(str(hook_id), safe="")))
            if response.status_code != 404:
                _checked(response, f"delete webhook {hook_id}", quote_body=False)

    def _hooks(self, http: ChannelHttpClient) -> list[dict[str, Any]]:
        hooks: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            response = http.get(HOOKS_PATH, params={"limit": str(PAGE_LIMIT), "page": str(page)})
            if response.status_code in (204, 404):
                break
            payload = _read_json(_checked(response, "list webhooks", quote_body=False), "webhook list")
            data = payload.get("data") if isinstance(payload, dict) else None
            if not isinstance(data, list):
                raise MalformedPayload("BigCommerce webhook list has no 'data' list")
            hooks.extend(h for h in data if isinstance(h, dict))
            pagination = (payload.get("meta") or {}).get("pagination") or {}
            total_pages = pagination.get("total_pages")
            if len(data) < PAGE_LIMIT or (_is_int(total_pages) and page >= total_pages):
                break
        return hooks

    def _remove_quietly(self, http: ChannelHttpClient, hook_ids: list[str]) -> None:
        for hook_id in hook_ids:
            try:
                http.request("DELETE", HOOK_PATH.format(hook_id=quote(hook_id, safe="")))
            except ChannelError:
                pass  # best effort: the original failure is what the caller must see


# --- helpers ------------------------------------------------------------------------------------


@cache
def _auth_class() -> Callable[[str], httpx.Auth]:
    """``X-Auth-Token`` on every request; a 429's ``X-Rate-Limit-Time-Reset-Ms`` becomes ``Retry-After``."""
    import httpx

    class BigCommerceAuth(httpx.Auth):
        def __init__(self, token: str) -> None:
            self._token = token

        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            request.headers["X-Auth-Token"] = self._token
            response = yield request
            reset_ms = response.headers.get("x-rate-limit-time-reset-ms", "").strip()
            if response.status_code == 429 and "retry-after" not in response.headers and reset_ms.isdigit():
                response.headers["Retry-After"] = str(max(1, math.ceil(int(reset_ms) / 1000)))

    return BigCommerceAuth


@contextmanager
def _unquoted() -> Iterator[None]:
    """Hook answers echo the hook's custom headers, i.e. the webhook secret: a ChannelError raised while
    managing hooks (by ChannelHttpClient too, for 5xx/429) keeps no copy of the answer."""
    try:
        yield
    except ChannelError as exc:
        exc.details.pop("body", None)
        raise


def _credential_store_hash(store: Store, credentials: Mapping[str, str]) -> str:
    given = (credentials.get("store_hash") or "").strip()
    from_url = store_hash(store)
    if given and from_url and given != from_url:
        raise ChannelError(
            "BigCommerce credentials['store_hash'] does not match the store's base URL",
            channel=Channel.BIGCOMMERCE.value,
            store_id=store.store_id,
        )
    hash_ = given or from_url
    if not hash_:
        raise ChannelError(
            "BigCommerce store has no store hash (credentials['store_hash'])",
            channel=Channel.BIGCOMMERCE.value,
            store_id=store.store_id,
        )
    if not re.fullmatch(r"[A-Za-z0-9]+", hash_):
        raise ChannelError(
            "BigCommerce credentials['store_hash'] is not a store hash",
            channel=Channel.BIGCOMMERCE.value,
            store_id=store.store_id,
        )
    return hash_


def _checked(response: httpx.Response, what: str, *, quote_body: bool = True) -> bytes:
    """The body of a 2xx answer; any other status is a ChannelError with BigCommerce's own message.
    ``quote_body=False`` for answers that may echo a secret (webhook headers)."""
    return values.checked(
        response,
        what,
        label="BigCommerce",
        channel=Channel.BIGCOMMERCE.value,
        message=_error_message,
        quote_body=quote_body,
    )


def _error_message(response: httpx.Response) -> str:
    payload = values.json_or_none(response.content)
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # v2: [{"status": 404, "message": "..."}]
    value = values.first_text(payload, ("title", "message", "error"))
    if value is not None:
        errors = payload.get("errors")
        if isinstance(errors, dict) and errors:
            fields = "; ".join(f"{k}: {v}" for k, v in errors.items() if isinstance(v, str))
            return f"{value} ({fields})" if fields else value
        return value
    return values.body_excerpt(response)


def _read_json(body: bytes, what: str) -> Any:
    return values.read_json(body, f"BigCommerce {what}")


def _collection(http: ChannelHttpClient, path: str, what: str) -> list[dict[str, Any]]:
    """Every element of a paged v2 list (204 No Content / 404: none)."""
    items: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        response = http.get(path, params={"limit": str(PAGE_LIMIT), "page": str(page)})
        if response.status_code in (204, 404) or not response.content.strip():
            break
        chunk = _read_json(_checked(response, what), what)
        if not isinstance(chunk, list) or not all(isinstance(i, dict) for i in chunk):
            raise MalformedPayload(f"BigCommerce {what} is not a list of objects")
        items.extend(chunk)
        if len(chunk) < PAGE_LIMIT:
            break
    return items


def _hook_id(body: bytes) -> str:
    payload = _read_json(body, "webhook answer")
    data = payload.get("data") if isinstance(payload, dict) else None
    hook_id = data.get("id") if isinstance(data, dict) else None
    if not _is_int(hook_id) and not (isinstance(hook_id, str) and hook_id):
        raise MalformedPayload("BigCommerce webhook answer has no 'data.id'")
    return str(hook_id)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect_type(data: dict[str, Any], expected: str, scope: str) -> None:
    kind = data.get("type")
    if kind is not None and kind != expected:
        raise MalformedPayload(f"{scope} callback data type is {kind!r}, not {expected!r}")


def _int_field(data: dict[str, Any], key: str, scope: str) -> int:
    value = data.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not _is_int(value) or value < 0:
        raise MalformedPayload(f"{scope} callback has no numeric 'data.{key}'")
    return value


def _new_status_id(data: dict[str, Any]) -> int:
    status = data.get("status")
    new = status.get("new_status_id") if isinstance(status, dict) else None
    if not _is_int(new):
        raise MalformedPayload("store/order/statusUpdated callback has no numeric 'data.status.new_status_id'")
    return new


def _order(store: Store, o: dict[str, Any], products: list[dict[str, Any]], shipments: list[dict[str, Any]]) -> Order:
    status_id = o.get("status_id")
    status = _STATUS.get(status_id, OrderStatus.UNKNOWN) if _is_int(status_id) else OrderStatus.UNKNOWN
    if status_id == _PARTIALLY_REFUNDED:
        total_items, shipped_items = o.get("items_total"), o.get("items_shipped")
        everything_shipped = _is_int(total_items) and total_items > 0 and shipped_items == total_items
        status = OrderStatus.SHIPPED if everything_shipped else OrderStatus.PROCESSING
    billing = o.get("billing_address") or {}
    if not isinstance(billing, dict):
        raise TypeError("'billing_address' is not an object")
    name = " ".join(str(x).strip() for x in (billing.get("first_name"), billing.get("last_name")) if x) or None
    shipment = _last_tracked(shipments)
    shipped_at = _rfc2822(o.get("date_shipped"))
    if shipment is not None:
        shipped_at = _rfc2822(shipment.get("date_created")) or shipped_at
    channel_status = o.get("status") or (STATUS_NAMES.get(status_id) if _is_int(status_id) else None)
    return Order(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.BIGCOMMERCE,
        order_ref=str(o["id"]),
        status=status,
        channel_status=channel_status,
        currency=o.get("default_currency_code") or o.get("currency_code") or None,
        total=_decimal(o.get("total_inc_tax")),
        items=[_item(p) for p in products],
        buyer_email=billing.get("email") or None,
        buyer_name=name,
        carrier=_carrier(shipment),
        tracking_number=str(shipment["tracking_number"]) if shipment else None,
        tracking_url=(shipment.get("tracking_link") or shipment.get("generated_tracking_link") or None)
        if shipment
        else None,
        ordered_at=_rfc2822(o.get("date_created")),
        shipped_at=shipped_at,
        delivered_at=None,  # BigCommerce records no delivery time
        updated_at=_rfc2822(o.get("date_modified")),
    )


def _item(p: dict[str, Any]) -> OrderItem:
    quantity = p.get("quantity")
    if isinstance(quantity, str) and quantity.isdigit():
        quantity = int(quantity)
    if not _is_int(quantity):
        raise ValueError(f"product quantity is not a whole number: {quantity!r}")
    return OrderItem(
        sku=p.get("sku") or None,
        name=p.get("name_customer") or p.get("name") or "item",
        quantity=quantity,
        unit_price=_decimal(p.get("price_inc_tax")),
        total=_decimal(p.get("total_inc_tax")),
    )


def _last_tracked(shipments: list[dict[str, Any]]) -> dict[str, Any] | None:
    tracked = [s for s in shipments if str(s.get("tracking_number") or "").strip()]
    if not tracked:
        return None
    return max(
        tracked,
        key=lambda s: (
            _rfc2822(s.get("date_created")) or datetime.min.replace(tzinfo=UTC),
            s.get("id") if _is_int(s.get("id")) else 0,
        ),
    )


def _carrier(shipment: dict[str, Any] | None) -> str | None:
    if not shipment:
        return None
    for key in ("shipping_provider_display_name", "tracking_carrier", "shipping_provider"):
        value = shipment.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _rfc2822(value: Any) -> datetime | None:
    """v2 dates: "Thu, 20 Jun 2019 16:07:08 +0000"; "" when unset. Stored as UTC."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise TypeError(f"date is not an RFC 2822 string: {value!r}")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ValueError(f"not an RFC 2822 date: {value!r}") from None
    return values.utc(moment)


_decimal = values.decimal


CONNECTOR = BigCommerceConnector()
