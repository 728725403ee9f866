"""Magento 2 / Adobe Commerce: order lookups over the REST API (ApiConnector + OrderLookup).

Magento has no buyer-messaging API: buyers write by e-mail (the e-mail channel), and this connector
answers "what is order 000000123 doing" for those messages (the e-mail store lists this store in
``linked_store_ids``). Credentials (the store's JSON secret): ``access_token``, an integration token
used as a bearer token.

Notes and sources: docs/channels/magento.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.core.errors import ChannelError, MalformedPayload
from helpdesk.core.models import Channel, Order, OrderItem, OrderStatus, Store

if TYPE_CHECKING:  # httpx is imported only when a client is built
    import httpx

    from helpdesk.channels.http import ChannelHttpClient

ORDERS_PATH = "/V1/orders"
SHIPMENTS_PATH = "/V1/shipments"
STORE_CONFIGS_PATH = "/V1/store/storeConfigs"
RATE_PER_SECOND = 5.0
BURST = 5
INCREMENT_ID_DIGITS = 9  # Magento pads increment ids to nine digits by default ("000000123")
ORDER_PAGE_SIZE = 10
SHIPMENT_PAGE_SIZE = 50

_STATUS = {
    "new": OrderStatus.PENDING,
    "pending_payment": OrderStatus.PENDING,
    "processing": OrderStatus.PROCESSING,
    "complete": OrderStatus.COMPLETED,
    "holded": OrderStatus.ON_HOLD,
    "payment_review": OrderStatus.ON_HOLD,
    "canceled": OrderStatus.CANCELLED,
    "closed": OrderStatus.REFUNDED,
}
# Public tracking pages of Magento's built-in carriers (carrier_code -> URL template).
_TRACKING_URLS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_PARAMETER = re.compile(r"%(\w+)")


class MagentoConnector:
    channel = Channel.MAGENTO.value

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        token = (credentials.get("access_token") or "").strip()
        if not token:
            raise ChannelError(
                "Magento store has no integration access token (credentials['access_token'])",
                channel=self.channel,
                store_id=store.store_id,
            )
        return ChannelHttpClient(
            _rest_base(store),
            channel=self.channel,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    # --- setup ----------------------------------------------------------------------------------

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        configs = _api_json(http.get(STORE_CONFIGS_PATH), "store configuration")
        if not isinstance(configs, list) or not configs or not all(isinstance(c, dict) for c in configs):
            raise MalformedPayload("Magento store configuration answer is not a list of store views")
        default = next((c for c in configs if c.get("code") == "default"), configs[0])
        label = default.get("secure_base_url") or default.get("base_url") or default.get("code")
        if not isinstance(label, str) or not label.strip():
            raise MalformedPayload("Magento store configuration has no base URL or code")
        probe = _api_json(http.get(ORDERS_PATH, params={"searchCriteria[pageSize]": "1"}), "order search")
        if not isinstance(probe, dict) or not isinstance(probe.get("items"), list):
            raise MalformedPayload("Magento order search answer has no 'items' list")
        return label.strip().rstrip("/")

    # --- order lookups --------------------------------------------------------------------------

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        ref = order_ref.strip().removeprefix("#").strip()
        if not ref or "," in ref:  # a comma would split an "in" filter
            return None
        candidates = [ref]
        if ref.isdigit() and len(ref) < INCREMENT_ID_DIGITS:
            candidates.append(ref.zfill(INCREMENT_ID_DIGITS))
        condition = "in" if len(candidates) > 1 else "eq"
        params = {
            **_filter("increment_id", ",".join(candidates), condition),
            "searchCriteria[pageSize]": str(ORDER_PAGE_SIZE),
        }
        found = _items(_api_json(http.get(ORDERS_PATH, params=params), "order search"), "order search")
        by_ref = {str(item.get("increment_id")): item for item in found if isinstance(item, dict)}
        raw = next((by_ref[c] for c in candidates if c in by_ref), None)
        if raw is None:
            return None
        shipments = self._shipments(http, raw)
        try:
            return _order(store, raw, shipments)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"Magento order {raw.get('increment_id')} could not be read: {exc}") from None

    @staticmethod
    def _shipments(http: ChannelHttpClient, raw: dict[str, Any]) -> list[dict[str, Any]]:
        entity_id = raw.get("entity_id")
        if not isinstance(entity_id, int) or isinstance(entity_id, bool):
            raise MalformedPayload(f"Magento order {raw.get('increment_id')} has no numeric 'entity_id'")
        params = {**_filter("order_id", str(entity_id), "eq"), "searchCriteria[pageSize]": str(SHIPMENT_PAGE_SIZE)}
        shipments = _items(_api_json(http.get(SHIPMENTS_PATH, params=params), "shipment search"), "shipment search")
        return [s for s in shipments if isinstance(s, dict)]


# --- mapping ------------------------------------------------------------------------------------


def _order(store: Store, p: dict[str, Any], shipments: list[dict[str, Any]]) -> Order:
    billing = p.get("billing_address") or {}
    if not isinstance(billing, dict):
        raise TypeError("billing_address is not an object")
    shipping = _shipping_address(p)
    state = str(p.get("state") or "")
    status = str(p.get("status") or "")
    shipment, track = _latest_track(shipments)
    carrier_code = str(track.get("carrier_code") or "").strip().lower() if track else ""
    number = str(track.get("track_number") or "").strip() if track else ""
    mapped = _STATUS.get(state, OrderStatus.UNKNOWN)
    if mapped == OrderStatus.PROCESSING and shipments:
        mapped = OrderStatus.SHIPPED
    return Order(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.MAGENTO,
        order_ref=str(p["increment_id"]),
        status=mapped,
        channel_status=f"{state}/{status}" if status and status != state else (state or status or None),
        currency=p.get("order_currency_code") or None,
        total=_decimal(p.get("grand_total")),
        items=[_item(line) for line in p.get("items") or [] if not _child(line)],
        buyer_email=p.get("customer_email") or billing.get("email") or shipping.get("email") or None,
        buyer_name=_name(p.get("customer_firstname"), p.get("customer_lastname"))
        or _name(billing.get("firstname"), billing.get("lastname"))
        or _name(shipping.get("firstname"), shipping.get("lastname")),
        carrier=(str(track.get("title") or "").strip() or carrier_code or None) if track else None,
        tracking_number=number or None,
        tracking_url=_TRACKING_URLS[carrier_code].format(quote(number, safe=""))
        if number and carrier_code in _TRACKING_URLS
        else None,
        ordered_at=_time(p.get("created_at")),
        shipped_at=_time(shipment.get("created_at")) if shipment else None,
        delivered_at=None,  # Magento records no delivery
        updated_at=_time(p.get("updated_at")),
    )


def _shipping_address(p: dict[str, Any]) -> dict[str, Any]:
    extension = p.get("extension_attributes") or {}
    assignments = extension.get("shipping_assignments") if isinstance(extension, dict) else None
    if not isinstance(assignments, list) or not assignments or not isinstance(assignments[0], dict):
        return {}
    shipping = assignments[0].get("shipping") or {}
    address = shipping.get("address") if isinstance(shipping, dict) else None
    return address if isinstance(address, dict) else {}


def _child(line: Any) -> bool:
    if not isinstance(line, dict):
        raise TypeError("an order item is not an object")
    return line.get("parent_item_id") is not None


def _item(line: dict[str, Any]) -> OrderItem:
    quantity = _decimal(line.get("qty_ordered")) or Decimal(0)
    return OrderItem(
        sku=line.get("sku") or None,
        name=line.get("name") or line.get("sku") or "item",
        quantity=int(quantity),
        unit_price=_decimal(line.get("price")),
        total=_decimal(line.get("row_total")),
    )


def _latest_track(shipments: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The newest shipment and its last track (the newest shipment that has one, if any has)."""
    ordered = sorted(
        shipments,
        key=lambda s: (_time(s.get("created_at")) or datetime.min.replace(tzinfo=UTC), s.get("entity_id") or 0),
        reverse=True,
    )
    for shipment in ordered:
        tracks = [t for t in shipment.get("tracks") or [] if isinstance(t, dict) and t.get("track_number")]
        if tracks:
            return shipment, tracks[-1]
    return (ordered[0] if ordered else None), None


def _name(first: Any, last: Any) -> str | None:
    return " ".join(str(x).strip() for x in (first, last) if x and str(x).strip()) or None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise TypeError(f"time is not a string: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    return values.utc(parsed)


_decimal = values.decimal


# --- HTTP helpers -------------------------------------------------------------------------------


def _rest_base(store: Store) -> str:
    url = (store.base_url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ChannelError(
            "Magento store has no base URL (the shop's address)", channel=Channel.MAGENTO.value, store_id=store.store_id
        )
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
        raise ChannelError(
            "Magento access tokens may only be sent over HTTPS: the base URL must be https://",
            channel=Channel.MAGENTO.value,
            store_id=store.store_id,
        )
    url = url.removesuffix("/V1")
    segments = parts.path.rstrip("/").removesuffix("/V1").split("/")
    return url if "rest" in segments else f"{url}/rest"


def _filter(field: str, value: str, condition: str) -> dict[str, str]:
    prefix = "searchCriteria[filter_groups][0][filters][0]"
    return {f"{prefix}[field]": field, f"{prefix}[value]": value, f"{prefix}[condition_type]": condition}


def _items(payload: Any, what: str) -> list[Any]:
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise MalformedPayload(f"Magento {what} answer has no 'items' list")
    return items


def _api_json(response: httpx.Response, what: str) -> Any:
    """The JSON of a 2xx answer; any other status is a ChannelError quoting Magento's message."""
    return values.api_json(
        response, what, label="Magento", channel=Channel.MAGENTO.value, message=_error_text, decimals=False
    )


def _error_text(response: httpx.Response) -> str:
    """``{"message": "The consumer isn't authorized to access %resources.", "parameters": {...}}``."""
    payload = values.json_or_none(response.content)
    message = values.first_text(payload, ("message",))
    if message is not None:
        parameters = payload.get("parameters")
        if isinstance(parameters, list):
            named = {str(i): v for i, v in enumerate(parameters, start=1)}
        elif isinstance(parameters, dict):
            named = {str(k): v for k, v in parameters.items()}
        else:
            named = {}
        return _PARAMETER.sub(lambda m: str(named.get(m.group(1), m.group(0))), message)
    return values.body_excerpt(response)


CONNECTOR = MagentoConnector()
