"""Amazon (Selling Partner API): buyer messages arrive as e-mails through Amazon's buyer–seller relay,
order changes and buyer cancellation requests as SP-API notifications on an SQS queue, and orders
are read with the Orders API.

The SP-API cannot answer a buyer, so **replies to Amazon buyers are e-mails to the relay alias**
(``email.build_reply``, ``to_address`` = the message's ``reply_to``) and ``AmazonConnector`` has no
HTTP ``send_reply``. Credentials (JSON secret): ``refresh_token``, ``lwa_client_id``,
``lwa_client_secret``, ``region`` (na | eu | fe, unless the store has a ``base_url``) and ``seller_id``.

Notes and sources: docs/channels/amazon.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from helpdesk.channels import email as email_channel
from helpdesk.channels import values
from helpdesk.channels.base import ParsedDelivery
from helpdesk.core.errors import ChannelError, MalformedPayload
from helpdesk.core.models import (
    Attachment,
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

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # noqa: S105 (an endpoint, not a secret)
REGION_ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
ORDER_PATH = "/orders/v0/orders/{order_id}"
ORDER_ITEMS_PATH = "/orders/v0/orders/{order_id}/orderItems"
PARTICIPATIONS_PATH = "/sellers/v1/marketplaceParticipations"
RATE_PER_SECOND = 0.5  # Orders API getOrder / getOrderItems usage plan
BURST = 30
MAX_ITEM_PAGES = 10
REQUIRED_CREDENTIALS = ("refresh_token", "lwa_client_id", "lwa_client_secret")

ORDER_ID = re.compile(r"(?<![\d-])(\d{3}-\d{7}-\d{7})(?![\d-])")
_RELAY_DOMAIN = re.compile(r"^marketplace\.amazon\.(?:[a-z]{2,3}|com?\.[a-z]{2})$")
_NOTICE_SENDERS = {"donotreply", "do-not-reply", "no-reply", "noreply"}
_MARKER = re.compile(r"^\s*-{5,}\s*[^-\s][^-]*?-{5,}\s*$")
_NAME_SUFFIX = re.compile(r"\s*[-–|]\s*Amazon(?:\s+Marketplace)?\s*$", re.IGNORECASE)

_STATUS = {
    "Pending": OrderStatus.PENDING,
    "PendingAvailability": OrderStatus.PENDING,
    "Unshipped": OrderStatus.PROCESSING,
    "PartiallyShipped": OrderStatus.PROCESSING,
    "Shipped": OrderStatus.SHIPPED,
    "InvoiceUnconfirmed": OrderStatus.SHIPPED,
    "Canceled": OrderStatus.CANCELLED,
    "Unfulfillable": OrderStatus.FAILED,
}
_EVENT = {
    OrderStatus.CANCELLED: OrderEventType.CANCELLED,
    OrderStatus.SHIPPED: OrderEventType.SHIPPED,
    OrderStatus.DELIVERED: OrderEventType.DELIVERED,
}


# --- the e-mail relay -----------------------------------------------------------------------------


def relay_alias(parsed: email_channel.ParsedEmail) -> str | None:
    """The buyer's anonymised relay address (From, else Reply-To), if the e-mail has one."""
    for address in (parsed.from_address, parsed.reply_to):
        if address and _is_relay_address(address):
            return address
    return None


def is_relay_email(parsed: email_channel.ParsedEmail) -> bool:
    return relay_alias(parsed) is not None


def _is_relay_address(address: str) -> bool:
    local, _, domain = address.strip().lower().rpartition("@")
    return bool(local) and local not in _NOTICE_SENDERS and bool(_RELAY_DOMAIN.match(domain))


def buyer_text(text: str) -> str:
    """The buyer's words: what Amazon's template frames between its message markers (quoted history
    and signatures removed), else the whole text with quotes stripped."""
    lines = text.replace("\r\n", "\n").split("\n")
    markers = [i for i, line in enumerate(lines) if _MARKER.match(line)]
    if len(markers) >= 2:
        inside = "\n".join(lines[markers[0] + 1 : markers[1]])
    elif len(markers) == 1:
        # One marker: an opening one (the buyer's text follows) or a closing one (Amazon's footer follows).
        before = "\n".join(lines[: markers[0]])
        after = "\n".join(lines[markers[0] + 1 :])
        inside = before if before.strip() and "amazon" in after.lower() else after
    else:
        return email_channel.strip_quoted(text)
    inside = inside.strip("\n")
    return email_channel.strip_quoted(inside) if inside.strip() else ""


def amazon_order_ids(*texts: str | None) -> list[str]:
    found: list[str] = []
    for text in texts:
        for match in ORDER_ID.finditer(text or ""):
            if match.group(1) not in found:
                found.append(match.group(1))
    return found


def buyer_name(parsed: email_channel.ParsedEmail) -> str | None:
    name = _NAME_SUFFIX.sub("", parsed.from_name or "").strip().strip('"').strip()
    return name or None


def relay_inbound(
    store: Store,
    parsed: email_channel.ParsedEmail,
    *,
    raw_s3_key: str,
    received_at: datetime,
    attachments: list[Attachment],
    raw_digest: str = "",
) -> InboundMessage:
    """The canonical message for a buyer's e-mail relayed by Amazon."""
    alias = relay_alias(parsed)
    if alias is None:
        raise MalformedPayload("not an Amazon relay e-mail: no marketplace.amazon.* sender")
    message_id = email_channel.channel_message_id(parsed, raw_digest)
    body = email_channel.message_body(parsed, buyer_text(parsed.text), attachments)
    order_ids = amazon_order_ids(parsed.subject, parsed.text)
    order_id = order_ids[0] if order_ids else None
    thread = f"amazon-order:{order_id}" if order_id else email_channel.thread_root(parsed, message_id)
    return email_channel.build_inbound(
        store,
        parsed,
        channel_message_id=message_id,
        channel_thread_id=thread,
        body=body,
        order_ref=order_id,
        reply_to=alias,
        buyer_name=buyer_name(parsed),
        raw_s3_key=raw_s3_key,
        received_at=received_at,
        attachments=attachments,
    )


# --- SP-API notifications (SQS) -------------------------------------------------------------------


def _load(body: bytes | str) -> dict[str, Any]:
    return values.json_object(body, "notification", decimals=False)


def _field(obj: dict[str, Any], name: str) -> Any:
    """``NotificationType`` or ``notificationType``: SP-API notifications use both casings."""
    if name in obj:
        return obj[name]
    return obj.get(name[:1].lower() + name[1:])


def _order_change(payload: dict[str, Any]) -> dict[str, Any]:
    kind = _field(payload, "NotificationType")
    if kind != "ORDER_CHANGE":
        raise MalformedPayload(f"unsupported notification type {kind!r} (only ORDER_CHANGE is parsed)")
    inner = _field(payload, "Payload")
    change = _field(inner, "OrderChangeNotification") if isinstance(inner, dict) else None
    if not isinstance(change, dict):
        raise MalformedPayload("ORDER_CHANGE has no 'Payload.OrderChangeNotification' object")
    return change


def notification_id(body: bytes | str) -> str:
    """``NotificationMetadata.NotificationId``: the idempotency key of a delivery."""
    metadata = _field(_load(body), "NotificationMetadata")
    value = _field(metadata, "NotificationId") if isinstance(metadata, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise MalformedPayload("notification has no 'NotificationMetadata.NotificationId'")
    return value.strip()


def notification_seller(body: bytes | str) -> tuple[str, str | None]:
    """(SellerId, MarketplaceId) of an ORDER_CHANGE, so the caller can find the store."""
    change = _order_change(_load(body))
    seller = change.get("SellerId")
    if not isinstance(seller, str) or not seller.strip():
        raise MalformedPayload("ORDER_CHANGE has no 'SellerId'")
    summary = change.get("Summary")
    marketplace = summary.get("MarketplaceId") if isinstance(summary, dict) else None
    return seller.strip(), marketplace if isinstance(marketplace, str) and marketplace else None


def parse_notification(store: Store, body: bytes | str, *, raw_s3_key: str, received_at: datetime) -> ParsedDelivery:
    payload = _load(body)
    change = _order_change(payload)
    notif_id = notification_id(body)
    order_id = change.get("AmazonOrderId")
    if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id.strip()):
        raise MalformedPayload(f"ORDER_CHANGE has no Amazon order id (3-7-7 digits): {order_id!r}")
    order_id = order_id.strip()
    summary = change.get("Summary")
    trigger = change.get("OrderChangeTrigger") or {}
    if not isinstance(summary, dict) or not isinstance(trigger, dict):
        raise MalformedPayload("ORDER_CHANGE needs 'Summary' and 'OrderChangeTrigger' objects")
    change_type = change.get("OrderChangeType")
    if not isinstance(change_type, str) or not change_type:
        raise MalformedPayload("ORDER_CHANGE has no 'OrderChangeType'")
    items = summary.get("OrderItems")
    items = [] if items is None else items
    if not isinstance(items, list):
        raise MalformedPayload("ORDER_CHANGE 'Summary.OrderItems' is not a list")
    try:
        changed_at = _time(trigger.get("TimeOfOrderChange")) or _time(_field(payload, "EventTime")) or _utc(received_at)
        raw_status = summary.get("OrderStatus")
        status = _status(raw_status, summary.get("EasyShipShipmentStatus"))
        order = Order(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.AMAZON,
            order_ref=order_id,
            status=status,
            channel_status=raw_status if isinstance(raw_status, str) else None,
            delivery_earliest=_time(summary.get("EarliestDeliveryDate")),
            delivery_latest=_time(summary.get("LatestDeliveryDate")),
            ordered_at=_time(summary.get("PurchaseDate")),
            updated_at=changed_at,
        )
        cancel_request = change_type == "BuyerRequestedChange" and _cancel_requested(trigger, items)
        event = OrderEvent(
            tenant_id=store.tenant_id,
            store_id=store.store_id,
            channel=Channel.AMAZON,
            event_type=OrderEventType.CANCELLATION_REQUESTED
            if cancel_request
            else _EVENT.get(status, OrderEventType.UPDATED),
            event_id=f"order-change:{notif_id}",
            order=order,
            occurred_at=changed_at,
            raw_s3_key=raw_s3_key,
        )
        messages = (
            [_cancellation_message(store, order_id, notif_id, trigger, items, changed_at, raw_s3_key)]
            if cancel_request
            else []
        )
    except (ValidationError, ValueError, TypeError) as exc:
        raise MalformedPayload(f"ORDER_CHANGE for {order_id} could not be read: {exc}") from None
    return ParsedDelivery(messages=messages, order_events=[event])


def _cancel_requested(trigger: dict[str, Any], items: list[Any]) -> bool:
    if "cancel" in str(trigger.get("ChangeReason") or "").lower():
        return True
    return any(_item_cancel_flag(item) for item in items if isinstance(item, dict))


def _item_cancel_flag(item: dict[str, Any]) -> bool:
    nested = item.get("BuyerRequestedCancel")
    values = [
        item.get("IsBuyerRequestedCancel"),
        nested.get("IsBuyerRequestedCancel") if isinstance(nested, dict) else None,
    ]
    return any(v is True or (isinstance(v, str) and v.strip().lower() == "true") for v in values)


def _cancellation_message(
    store: Store,
    order_id: str,
    notif_id: str,
    trigger: dict[str, Any],
    items: list[Any],
    changed_at: datetime,
    raw_s3_key: str,
) -> InboundMessage:
    reasons = []
    for item in items:
        nested = item.get("BuyerRequestedCancel") if isinstance(item, dict) else None
        reason = nested.get("BuyerCancelReason") if isinstance(nested, dict) else None
        if isinstance(reason, str) and reason.strip() and reason.strip() not in reasons:
            reasons.append(reason.strip())
    skus = [str(i["SellerSKU"]) for i in items if isinstance(i, dict) and _item_cancel_flag(i) and i.get("SellerSKU")]
    change_reason = str(trigger.get("ChangeReason") or "").strip()
    lines = [f"The buyer asked to cancel Amazon order {order_id}."]
    if reasons:
        lines.append("Buyer's reason: " + "; ".join(reasons))
    elif change_reason:
        lines.append(f"Reason given by Amazon: {change_reason}")
    if skus:
        lines.append("Items: " + ", ".join(skus))
    return InboundMessage(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.AMAZON,
        channel_message_id=f"order-change:{notif_id}",
        channel_thread_id=f"amazon-order:{order_id}",
        order_ref=order_id,
        subject=f"Cancellation request for order {order_id}",
        body="\n".join(lines),
        received_at=changed_at,
        raw_s3_key=raw_s3_key,
        cancellation_requested=True,
    )


def _status(raw: Any, easy_ship: Any = None) -> OrderStatus:
    status = _STATUS.get(str(raw), OrderStatus.UNKNOWN)
    if status is OrderStatus.SHIPPED and easy_ship == "Delivered":
        return OrderStatus.DELIVERED
    return status


# --- SP-API client --------------------------------------------------------------------------------


@functools.cache
def lwa_auth_class() -> type:
    """The ``RefreshingTokenAuth`` subclass for Login with Amazon (built on first use: httpx is only
    imported by functions that call the API)."""
    import httpx

    from helpdesk.channels.oauth import RefreshingTokenAuth

    class LwaAuth(RefreshingTokenAuth):
        channel = Channel.AMAZON.value
        requires_response_body = True  # a 403 is read to tell an expired token from a missing role

        def __init__(
            self,
            cache_key: str,
            *,
            refresh_token: str,
            client_id: str,
            client_secret: str,
            token_url: str = LWA_TOKEN_URL,
            **kwargs: Any,
        ) -> None:
            super().__init__(cache_key, **kwargs)
            self._form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            }
            self._token_url = token_url

        def token_request(self) -> httpx.Request:
            return httpx.Request("POST", self._token_url, data=self._form, headers={"Accept": "application/json"})

        def apply(self, request: httpx.Request, token: str) -> None:
            request.headers["x-amz-access-token"] = token

        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            token = self._cached()
            if token is None:
                token = yield from self._fetch()
            self.apply(request, token)
            response = yield request
            if _token_refused(response):
                self.invalidate()
                token = yield from self._fetch()
                self.apply(request, token)
                yield request

    return LwaAuth


def _token_refused(response: httpx.Response) -> bool:
    """401, or SP-API's 403 ``Unauthorized`` (its answer to an expired, revoked or invalid token)."""
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    return any(e.get("code") in {"Unauthorized", "InvalidAccessToken"} for e in _errors(response))


def __getattr__(name: str) -> Any:  # ``from helpdesk.channels.amazon import LwaAuth`` without eager httpx
    if name == "LwaAuth":
        return lwa_auth_class()
    raise AttributeError(name)


class AmazonConnector:
    """SP-API order lookups and credential check. Buyer messages come through ``relay_inbound`` (e-mail)
    and ORDER_CHANGE notifications through ``parse_notification`` (SQS); replies are e-mails to the
    relay alias (``email.build_reply``): there is no HTTP ``send_reply``."""

    channel = Channel.AMAZON.value

    relay_inbound = staticmethod(relay_inbound)
    is_relay_email = staticmethod(is_relay_email)
    notification_id = staticmethod(notification_id)
    notification_seller = staticmethod(notification_seller)
    parse_notification = staticmethod(parse_notification)

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        values = {}
        for key in REQUIRED_CREDENTIALS:
            value = str(credentials.get(key) or "").strip()
            if not value:
                raise ChannelError(
                    f"Amazon store has no credentials['{key}']", channel=self.channel, store_id=store.store_id
                )
            values[key] = value
        auth = lwa_auth_class()(
            f"{store.secret_name or store.tenant_id + '/' + store.store_id}:{values['lwa_client_id']}",
            refresh_token=values["refresh_token"],
            client_id=values["lwa_client_id"],
            client_secret=values["lwa_client_secret"],
        )
        return ChannelHttpClient(
            _base_url(store, credentials),
            channel=self.channel,
            headers={"Accept": "application/json"},
            auth=auth,
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        payload = _payload(
            _checked(http.get(PARTICIPATIONS_PATH), "getMarketplaceParticipations"), "getMarketplaceParticipations"
        )
        if not isinstance(payload, list):
            raise MalformedPayload("getMarketplaceParticipations answer has no 'payload' list")
        names: list[str] = []
        for entry in payload:
            if not isinstance(entry, dict):
                continue
            participation = entry.get("participation")
            if isinstance(participation, dict) and participation.get("isParticipating") is False:
                continue
            marketplace = entry.get("marketplace")
            name = marketplace.get("name") if isinstance(marketplace, dict) else None
            if isinstance(name, str) and name and name not in names:
                names.append(name)
        return ", ".join(names) or "Amazon seller (no participating marketplace)"

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        order_id = (order_ref or "").strip()
        if not ORDER_ID.fullmatch(order_id):
            return None  # not an Amazon order id: there is no such order to ask for
        response = http.get(ORDER_PATH.format(order_id=quote(order_id, safe="")))
        if response.status_code == 404:
            return None
        raw = _payload(_checked(response, "getOrder"), "getOrder")
        if not isinstance(raw, dict):
            raise MalformedPayload("getOrder answer has no 'payload' object")
        items = self._order_items(http, order_id)
        if items is None:
            return None
        try:
            return _order(store, raw, items)
        except (ValidationError, ValueError, TypeError, ArithmeticError) as exc:
            raise MalformedPayload(f"getOrder {order_id} could not be read: {exc}") from None

    def _order_items(self, http: ChannelHttpClient, order_id: str) -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_ITEM_PAGES):
            params = {"NextToken": token} if token else None
            response = http.get(ORDER_ITEMS_PATH.format(order_id=quote(order_id, safe="")), params=params)
            if response.status_code == 404:
                return None
            page = _payload(_checked(response, "getOrderItems"), "getOrderItems")
            if not isinstance(page, dict) or not isinstance(page.get("OrderItems"), list):
                raise MalformedPayload("getOrderItems answer has no 'payload.OrderItems' list")
            items.extend(i for i in page["OrderItems"] if isinstance(i, dict))
            token = page.get("NextToken") or None
            if not token:
                break
        return items


# --- helpers --------------------------------------------------------------------------------------


def _base_url(store: Store, credentials: Mapping[str, str]) -> str:
    if store.base_url and store.base_url.strip():
        return store.base_url.strip().rstrip("/")
    region = str(credentials.get("region") or "").strip().lower()
    if not region:
        raise ChannelError(
            "Amazon store has no credentials['region'] (na, eu or fe) and no base URL",
            channel=Channel.AMAZON.value,
            store_id=store.store_id,
        )
    try:
        return REGION_ENDPOINTS[region]
    except KeyError:
        raise ChannelError(
            f"Amazon credentials['region'] must be na, eu or fe, not {region!r}",
            channel=Channel.AMAZON.value,
            store_id=store.store_id,
        ) from None


_errors = values.error_list


def _checked(response: httpx.Response, what: str) -> bytes:
    return values.checked(response, what, label="Amazon", channel=Channel.AMAZON.value, message=_error_message)


def _error_message(response: httpx.Response) -> str:
    reasons = []
    for error in _errors(response):
        text = " ".join(str(error.get(k)).strip() for k in ("code", "message", "details") if error.get(k))
        if text:
            reasons.append(text)
    return "; ".join(reasons) or values.body_excerpt(response)


def _payload(body: bytes, what: str) -> Any:
    document = values.read_json(body, f"{what} answer")
    if not isinstance(document, dict) or "payload" not in document:
        raise MalformedPayload(f"{what} answer has no 'payload'")
    return document["payload"]


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _order(store: Store, raw: dict[str, Any], items: Sequence[dict[str, Any]]) -> Order:
    order_id = str(raw.get("AmazonOrderId") or "")
    if not ORDER_ID.fullmatch(order_id):
        raise ValueError(f"'AmazonOrderId' is not a 3-7-7 order id: {order_id!r}")
    total = _object(raw.get("OrderTotal"))
    buyer = _object(raw.get("BuyerInfo"))
    email = str(buyer.get("BuyerEmail") or "").strip() or None
    raw_status = raw.get("OrderStatus")
    return Order(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.AMAZON,
        order_ref=order_id,
        status=_status(raw_status, raw.get("EasyShipShipmentStatus")),
        channel_status=raw_status if isinstance(raw_status, str) else None,
        currency=total.get("CurrencyCode") or None,
        total=_money(total.get("Amount")),
        items=[_item(i) for i in items],
        buyer_email=email if email_channel.is_email_address(email) else None,
        buyer_name=(str(buyer.get("BuyerName") or "").strip() or None),
        delivery_earliest=_time(raw.get("EarliestDeliveryDate")),
        delivery_latest=_time(raw.get("LatestDeliveryDate")),
        ordered_at=_time(raw.get("PurchaseDate")),
        updated_at=_time(raw.get("LastUpdateDate")),
    )


def _item(raw: dict[str, Any]) -> OrderItem:
    quantity = int(raw.get("QuantityOrdered") or 0)
    price = _object(raw.get("ItemPrice"))
    total = _money(price.get("Amount"))  # ItemPrice is the unit price times the quantity ordered
    return OrderItem(
        sku=raw.get("SellerSKU") or raw.get("ASIN") or None,
        name=raw.get("Title") or raw.get("SellerSKU") or raw.get("ASIN") or "item",
        quantity=quantity,
        unit_price=(total / quantity) if total is not None and quantity else None,
        total=total,
    )


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not an ISO-8601 date-time: {value!r}")
    return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


_utc = values.utc


CONNECTOR = AmazonConnector()
