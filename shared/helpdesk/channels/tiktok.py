"""TikTok Shop: order webhooks and customer-service chat (webhooks + polled conversations), buyer
replies in the chat, and order lookups, on the Partner API versions 202309.

Webhooks are signed in ``Authorization`` (hex HMAC-SHA256 keyed by the app secret over ``app_key + raw
body``), so the webhook secret given to ``verify`` is ``"<app_key>:<app_secret>"`` (``webhook_secret()``
builds it). API requests are signed per attempt by an ``httpx.Auth``. Credentials (the store's JSON
secret): ``app_key``, ``app_secret``, ``refresh_token`` (or a bare ``access_token``), ``shop_cipher``
and optionally ``shop_id``.

Notes and sources: docs/channels/tiktok.md.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.channels.base import ParsedDelivery, PollResult, body_digest, lower_keys
from helpdesk.core.errors import ChannelError, ChannelRateLimited, InvalidCursor, InvalidSignature, MalformedPayload
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


# --- signatures (pure functions, no httpx) --------------------------------------------------------


def webhook_signature(app_key: str, app_secret: str, body: bytes) -> str:
    """The ``Authorization`` header TikTok sends: hex HMAC-SHA256(app_secret, app_key + raw body)."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


def webhook_secret(app_key: str, app_secret: str) -> str:
    """The string to store as the store's ``webhook_secret``: ``verify`` needs both halves."""
    return f"{app_key}:{app_secret}"


def api_signature(app_secret: str, path: str, params: Mapping[str, str], body: bytes = b"") -> str:
    """``sign`` of an API request: hex HMAC-SHA256(app_secret, app_secret + path + sorted key+value
    pairs (without ``sign`` and ``access_token``) + body + app_secret)."""
    pairs = "".join(f"{key}{params[key]}" for key in sorted(params) if key not in ("sign", "access_token"))
    message = app_secret.encode() + path.encode() + pairs.encode() + body + app_secret.encode()
    return hmac.new(app_secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_shop_id(body: bytes) -> str | None:
    """The ``shop_id`` a webhook is about (the caller checks it against the store); None if absent."""
    payload = _json_object(body, "webhook body")
    shop_id = payload.get("shop_id")
    if isinstance(shop_id, bool) or not isinstance(shop_id, str | int):
        return None
    return str(shop_id) or None


# --- signing auth ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signer:
    """Puts the access token, the common parameters and ``sign`` on a request."""

    app_key: str
    app_secret: str
    shop_cipher: str | None
    wall: Callable[[], float] = time.time

    def sign(self, request: httpx.Request, token: str) -> None:
        path = request.url.path
        params = {
            key: value
            for key, value in request.url.params.multi_items()
            if value != "" and key not in ("sign", "access_token", "app_key", "timestamp", "shop_cipher")
        }
        params["app_key"] = self.app_key
        params["timestamp"] = str(int(self.wall()))
        if not path.startswith(_NOT_SHOP_SCOPED):
            if not self.shop_cipher:
                raise ChannelError("TikTok Shop store has no shop cipher (credentials['shop_cipher'])", channel=CHANNEL)
            params["shop_cipher"] = self.shop_cipher
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        body = b"" if request.method == "GET" or multipart else request.read()
        params["sign"] = api_signature(self.app_secret, path, params, body)
        request.url = request.url.copy_with(params=params)
        request.headers["x-tts-access-token"] = token


@functools.cache
def _auth_types() -> tuple[type, type]:
    """The two httpx.Auth classes, built on first use so importing this module never loads httpx."""
    import httpx

    from helpdesk.channels.oauth import RefreshingTokenAuth

    class TikTokRefreshAuth(RefreshingTokenAuth):
        """Access token from the refresh token (cached process-wide), then the request is signed."""

        channel = CHANNEL

        def __init__(
            self, cache_key: str, signer: _Signer, refresh_token: str, *, clock: Callable[[], float] = time.monotonic
        ) -> None:
            super().__init__(cache_key, clock=clock)
            self._signer = signer
            self._refresh_token = refresh_token

        def token_request(self) -> httpx.Request:
            return httpx.Request(
                "GET",
                AUTH_BASE + REFRESH_PATH,
                params={
                    "app_key": self._signer.app_key,
                    "app_secret": self._signer.app_secret,
                    "refresh_token": self._refresh_token,
                    "grant_type": "refresh_token",
                },
            )

        def read_token(self, response: httpx.Response) -> tuple[str, float]:
            payload = _json_object(response.content, "TikTok Shop token answer", error=ChannelError)
            if payload.get("code") != 0:
                raise ChannelError(
                    f"tiktok refused the refresh token: {_message(payload, response)} (code {payload.get('code')})",
                    channel=CHANNEL,
                    status=401,
                    code=payload.get("code"),
                )
            data = payload.get("data")
            token = data.get("access_token") if isinstance(data, dict) else None
            if not isinstance(data, dict) or not isinstance(token, str) or not token:
                raise ChannelError("tiktok token answer has no access_token", channel=CHANNEL, status=502)
            expires = data.get("access_token_expire_in")
            try:
                expires_at = float(expires) if expires is not None else 0.0  # no expiry: 0.0, as below
            except (TypeError, ValueError):
                expires_at = 0.0
            # An epoch time (the documented meaning); a small number is read as a lifetime.
            lifetime = expires_at - self._signer.wall() if expires_at > 1e9 else expires_at
            return token, max(0.0, lifetime)

        def apply(self, request: httpx.Request, token: str) -> None:
            self._signer.sign(request, token)

    class TikTokStaticAuth(httpx.Auth):
        """A bare access token from the credentials (no refresh possible), then the request is signed."""

        def __init__(self, signer: _Signer, token: str) -> None:
            self._signer = signer
            self._token = token

        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            self._signer.sign(request, self._token)
            yield request

    return TikTokRefreshAuth, TikTokStaticAuth


# --- the connector --------------------------------------------------------------------------------


@dataclass
class _Poll:
    messages: list[InboundMessage] = field(default_factory=list)
    raw_pages: list[bytes] = field(default_factory=list)
    listed: list[datetime] = field(default_factory=list)  # latest_message time of every conversation listed
    read: list[datetime] = field(default_factory=list)  # ... of every conversation whose messages were read
    complete: bool = True


class TikTokConnector:
    channel = CHANNEL

    # --- webhooks -------------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        app_key, sep, app_secret = secret.partition(":")
        if not sep or not app_key or not app_secret:
            raise InvalidSignature("TikTok Shop webhook secret must be '<app_key>:<app_secret>'")
        given = lower_keys(headers).get("authorization", "").strip()
        if not given:
            raise InvalidSignature("missing Authorization header")
        expected = webhook_signature(app_key, app_secret, body).encode()
        if not hmac.compare_digest(given.lower().encode("utf-8", "replace"), expected):
            raise InvalidSignature("Authorization does not match the body")

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # TikTok Shop never pings a webhook URL: every request is a delivery.

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        payload = values.json_or_none(body)
        notification = payload.get("tts_notification_id") if isinstance(payload, dict) else None
        if isinstance(notification, int) and not isinstance(notification, bool):
            notification = str(notification)
        if isinstance(notification, str) and _SAFE_ID.match(notification):
            return f"tiktok-{notification}"
        return f"tiktok-sha-{body_digest(body)}"

    def webhook_shop_id(self, body: bytes) -> str | None:
        return webhook_shop_id(body)

    def parse(
        self, store: Store, headers: Mapping[str, str], body: bytes, raw_s3_key: str, received_at: datetime
    ) -> ParsedDelivery:
        payload = _json_object(body, "webhook body")
        kind = payload.get("type")
        if isinstance(kind, str) and kind.isdigit():
            kind = int(kind)
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise MalformedPayload(f"TikTok Shop webhook has no numeric 'type': {kind!r}")
        if kind in _KEPT_RAW_ONLY:
            return ParsedDelivery()
        handler = {
            ORDER_STATUS_CHANGE: self._order_status_change,
            RECIPIENT_ADDRESS_UPDATE: self._address_update,
            PACKAGE_UPDATE: self._package_update,
            CANCELLATION_STATUS_CHANGE: self._cancellation_change,
            RETURN_STATUS_CHANGE: self._return_change,
            NEW_MESSAGE: self._new_message,
        }.get(kind)
        if handler is None:
            raise MalformedPayload(f"unsupported TikTok Shop webhook type {kind}")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise MalformedPayload(f"TikTok Shop webhook type {kind} has no 'data' object")
        sent_at = _optional_epoch(payload.get("timestamp"), "webhook timestamp") or received_at
        try:
            return handler(store, data, raw_s3_key, sent_at)
        except ValidationError as exc:
            raise MalformedPayload(f"TikTok Shop webhook type {kind} could not be read: {exc}") from None

    def _order_status_change(
        self, store: Store, d: dict[str, Any], raw_s3_key: str, sent_at: datetime
    ) -> ParsedDelivery:
        order_id = _required_id(d, "order_id", "ORDER_STATUS_CHANGE data")
        raw_status = d.get("order_status")
        if not isinstance(raw_status, str) or not raw_status:
            raise MalformedPayload(f"ORDER_STATUS_CHANGE for order {order_id} has no 'order_status'")
        updated = _optional_epoch(d.get("update_time"), f"order {order_id} update_time")
        status = _STATUS.get(raw_status, OrderStatus.UNKNOWN)
        event_type = OrderEventType.CREATED if raw_status == "UNPAID" else _EVENT.get(status, OrderEventType.UPDATED)
        order = _order(store, order_id, status=status, channel_status=raw_status, updated_at=updated)
        event = _event(
            store,
            event_type,
            f"order_status:{order_id}:{raw_status}:{d.get('update_time') or ''}",
            order,
            updated or sent_at,
            raw_s3_key,
        )
        return ParsedDelivery(order_events=[event])

    def _address_update(self, store: Store, d: dict[str, Any], raw_s3_key: str, sent_at: datetime) -> ParsedDelivery:
        order_id = _required_id(d, "order_id", "RECIPIENT_ADDRESS_UPDATE data")
        updated = _optional_epoch(d.get("update_time"), f"order {order_id} update_time")
        order = _order(store, order_id, updated_at=updated)
        event = _event(
            store,
            OrderEventType.UPDATED,
            f"address:{order_id}:{d.get('update_time') or ''}",
            order,
            updated or sent_at,
            raw_s3_key,
        )
        return ParsedDelivery(order_events=[event])

    def _package_update(self, store: Store, d: dict[str, Any], raw_s3_key: str, sent_at: datetime) -> ParsedDelivery:
        packages = d.get("package_list")
        if not isinstance(packages, list):
            raise MalformedPayload("PACKAGE_UPDATE data has no 'package_list'")
        updated = _optional_epoch(d.get("update_time"), "package update_time")
        events: list[OrderEvent] = []
        seen: set[str] = set()
        for package in packages:
            if not isinstance(package, dict):
                raise MalformedPayload("PACKAGE_UPDATE package is not an object")
            package_id = _required_id(package, "package_id", "PACKAGE_UPDATE package")
            order_ids = package.get("order_id_list")
            if not isinstance(order_ids, list):
                raise MalformedPayload(f"package {package_id} has no 'order_id_list'")
            for raw_id in order_ids:
                order_id = _id_text(raw_id, f"package {package_id} order id")
                if order_id in seen:
                    continue
                seen.add(order_id)
                event_id = f"package:{package_id}:{order_id}:{d.get('sc_type') or ''}:{d.get('update_time') or ''}"
                events.append(
                    _event(
                        store,
                        OrderEventType.UPDATED,
                        event_id,
                        _order(store, order_id, updated_at=updated),
                        updated or sent_at,
                        raw_s3_key,
                    )
                )
        return ParsedDelivery(order_events=events)

    def _cancellation_change(
        self, store: Store, d: dict[str, Any], raw_s3_key: str, sent_at: datetime
    ) -> ParsedDelivery:
        order_id = _required_id(d, "order_id", "CANCELLATION_STATUS_CHANGE data")
        cancel_id = _required_id(d, "cancel_id", "CANCELLATION_STATUS_CHANGE data")
        cancel_status = d.get("cancel_status")
        if not isinstance(cancel_status, str) or not cancel_status:
            raise MalformedPayload(f"cancellation {cancel_id} has no 'cancel_status'")
        requested_at = _optional_epoch(d.get("create_time"), f"cancellation {cancel_id} create_time")
        buyer_request = cancel_status == "CANCELLATION_REQUEST_PENDING" and d.get("cancellations_role") == _BUYER
        if buyer_request:
            event_type, status = OrderEventType.CANCELLATION_REQUESTED, OrderStatus.UNKNOWN
        elif cancel_status in _CANCEL_DONE:
            event_type, status = OrderEventType.CANCELLED, OrderStatus.CANCELLED
        else:
            event_type, status = OrderEventType.UPDATED, OrderStatus.UNKNOWN
        occurred = (requested_at if buyer_request else None) or sent_at
        event = _event(
            store,
            event_type,
            f"cancellation:{cancel_id}:{cancel_status}",
            _order(store, order_id, status=status),
            occurred,
            raw_s3_key,
        )
        messages: list[InboundMessage] = []
        if buyer_request:
            messages.append(
                _order_notice(
                    store,
                    order_id,
                    f"cancel-{cancel_id}",
                    f"Cancellation request for order {order_id}",
                    f"The buyer asked to cancel TikTok Shop order {order_id} (cancellation {cancel_id}). "
                    "Approve or reject the request in TikTok Shop Seller Center.",
                    requested_at or sent_at,
                    raw_s3_key,
                    cancellation=True,
                )
            )
        return ParsedDelivery(messages=messages, order_events=[event])

    def _return_change(self, store: Store, d: dict[str, Any], raw_s3_key: str, sent_at: datetime) -> ParsedDelivery:
        order_id = _required_id(d, "order_id", "RETURN_STATUS_CHANGE data")
        return_id = _required_id(d, "return_id", "RETURN_STATUS_CHANGE data")
        return_status = d.get("return_status")
        if not isinstance(return_status, str) or not return_status:
            raise MalformedPayload(f"return {return_id} has no 'return_status'")
        return_type = str(d.get("return_type") or "")
        updated = _optional_epoch(d.get("update_time"), f"return {return_id} update_time")
        created = _optional_epoch(d.get("create_time"), f"return {return_id} create_time")
        refunded = return_status in _RETURN_REFUNDED or (
            return_status == "RETURN_OR_REFUND_REQUEST_COMPLETE" and return_type in _REFUND_TYPES
        )
        event_type = OrderEventType.REFUNDED if refunded else OrderEventType.UPDATED
        event = _event(
            store,
            event_type,
            f"return:{return_id}:{return_status}:{d.get('update_time') or ''}",
            _order(store, order_id, updated_at=updated),
            updated or sent_at,
            raw_s3_key,
        )
        messages: list[InboundMessage] = []
        if return_status in _RETURN_REQUESTED and d.get("return_role") == _BUYER:
            words = _RETURN_WORDS.get(return_type, "return")
            messages.append(
                _order_notice(
                    store,
                    order_id,
                    f"return-{return_id}",
                    f"{words.capitalize()} request for order {order_id}",
                    f"The buyer opened a {words} request for TikTok Shop order {order_id} (request {return_id}). "
                    "Review it in TikTok Shop Seller Center.",
                    created or updated or sent_at,
                    raw_s3_key,
                )
            )
        return ParsedDelivery(messages=messages, order_events=[event])

    def _new_message(self, store: Store, d: dict[str, Any], raw_s3_key: str, sent_at: datetime) -> ParsedDelivery:
        conversation_id = _required_id(d, "conversation_id", "NEW_MESSAGE data")
        message_id = _required_id(d, "message_id", "NEW_MESSAGE data")
        message = {**d, "id": message_id}
        order_ref = _order_context(message, conversation_id)
        inbound = _buyer_message(store, conversation_id, message, None, order_ref, None, raw_s3_key)
        return ParsedDelivery(messages=[inbound] if inbound else [])

    # --- API client -----------------------------------------------------------------------------

    def client(
        self,
        store: Store,
        credentials: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        **http_options: Any,
    ) -> ChannelHttpClient:
        from helpdesk.channels.http import ChannelHttpClient, TokenBucket

        app_key = _credential(credentials, "app_key", store)
        app_secret = _credential(credentials, "app_secret", store)
        refresh_token = (credentials.get("refresh_token") or "").strip()
        access_token = (credentials.get("access_token") or "").strip()
        if not refresh_token and not access_token:
            raise ChannelError(
                "TikTok Shop store has no credentials['refresh_token'] (or 'access_token')",
                channel=CHANNEL,
                store_id=store.store_id,
            )
        signer = _Signer(app_key, app_secret, (credentials.get("shop_cipher") or "").strip() or None, wall)
        refreshing, static = _auth_types()
        if refresh_token:
            auth = refreshing(f"{store.tenant_id}/{store.store_id}/{app_key}", signer, refresh_token, clock=clock)
        else:
            auth = static(signer, access_token)
        options: dict[str, Any] = {"rate_limit": TokenBucket(rate=RATE_PER_SECOND, burst=BURST), **http_options}
        return ChannelHttpClient(
            (store.base_url or API_BASE).strip().rstrip("/"),
            channel=CHANNEL,
            headers={"Accept": "application/json"},
            auth=auth,
            **options,
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        shops = authorized_shops(http)
        if not shops:
            raise ChannelError(
                "TikTok Shop answered that no shop is authorized for this app", channel=CHANNEL, status=403
            )
        return ", ".join(shop["name"] or shop["id"] for shop in shops)

    # --- orders ---------------------------------------------------------------------------------

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        raw = _raw_order(http, order_ref)
        return None if raw is None else _order_from_api(store, raw)

    # --- polling --------------------------------------------------------------------------------

    def poll(self, store: Store, http: ChannelHttpClient, cursor: str | None, now: datetime) -> PollResult:
        previous = _parse_cursor(cursor) if cursor else None
        since = previous or _utc(now) - FIRST_POLL_LOOKBACK
        keep_from = since - MESSAGE_OVERLAP
        state = _Poll()
        token: str | None = None
        boundary = False
        for _ in range(MAX_CONVERSATION_PAGES):
            params = {"page_size": str(CONVERSATION_PAGE_SIZE)}
            if token:
                params["page_token"] = token
            response = http.get(CONVERSATIONS_PATH, params=params)
            data = _api_data(response, "Get Conversations")
            state.raw_pages.append(response.content)
            conversations, token = _page(data, "conversations", "Get Conversations")
            for conversation in conversations:
                self._read_conversation(store, http, conversation, keep_from, state)
            newest_first = all(later <= earlier for earlier, later in pairwise(state.listed))
            if state.listed and newest_first and state.listed[-1] < keep_from:
                boundary = True  # the rest of the list is older still
            if not token or boundary:
                break
        cut_short = token is not None and not boundary
        return PollResult(
            messages=state.messages,
            next_cursor=_next_cursor(cursor, previous, state, cut_short=cut_short),
            raw_pages=state.raw_pages,
        )

    def _read_conversation(
        self, store: Store, http: ChannelHttpClient, conversation: Any, keep_from: datetime, state: _Poll
    ) -> None:
        if not isinstance(conversation, dict):
            raise MalformedPayload("Get Conversations: a conversation is not an object")
        conversation_id = _required_id(conversation, "id", "Get Conversations conversation")
        latest = conversation.get("latest_message")
        if not isinstance(latest, dict):
            return  # no message at all yet
        latest_at = _epoch(latest.get("create_time"), f"conversation {conversation_id} latest_message.create_time")
        state.listed.append(latest_at)
        if latest_at < keep_from:
            return
        buyer_name = _participant_name(conversation.get("participants"))
        messages: list[dict[str, Any]] = []
        tips: str | None = None
        page_token: str | None = None
        for _ in range(MAX_MESSAGE_PAGES):
            params = {"page_size": str(MESSAGE_PAGE_SIZE)}
            if page_token:
                params["page_token"] = page_token
            response = http.get(MESSAGES_PATH.format(conversation_id=quote(conversation_id, safe="")), params=params)
            data = _api_data(response, "Get Conversation Messages")
            state.raw_pages.append(response.content)
            page, page_token = _page(data, "messages", f"conversation {conversation_id} messages")
            tips = tips or _text(data.get("unsupported_msg_tips"))
            times = []
            for message in page:
                if not isinstance(message, dict):
                    raise MalformedPayload(f"conversation {conversation_id}: a message is not an object")
                message_id = _required_id(message, "id", f"conversation {conversation_id} message")
                times.append(_epoch(message.get("create_time"), f"message {message_id} create_time"))
                messages.append(message)
            if not page_token:
                break
            if times and all(b <= a for a, b in pairwise(times)) and times[-1] < keep_from:
                page_token = None
                break
        if page_token:
            state.complete = False  # more of this conversation's window remains unread
        state.read.append(latest_at)
        context = None
        for message in reversed(messages):  # oldest first: the latest order mentioned wins
            context = _order_context(message, conversation_id) or context
        for message in reversed(messages):
            created = _epoch(message.get("create_time"), f"message {message.get('id')} create_time")
            if created < keep_from:
                continue
            own = _order_context(message, conversation_id)
            inbound = _buyer_message(store, conversation_id, message, buyer_name, own or context, tips, None)
            if inbound is not None:
                state.messages.append(inbound)

    # --- replies --------------------------------------------------------------------------------

    def send_reply(self, store: Store, http: ChannelHttpClient, thread_id: str, body: str) -> str:
        if not thread_id:
            raise ChannelError("a TikTok Shop reply needs the conversation id", channel=CHANNEL)
        if not body.strip():
            raise ChannelError("a TikTok Shop reply cannot be empty", channel=CHANNEL, thread_id=thread_id)
        if len(body) > REPLY_MAX_CHARS:
            raise ChannelError(
                f"TikTok Shop accepts text messages of at most {REPLY_MAX_CHARS} characters, not {len(body)}",
                channel=CHANNEL,
                thread_id=thread_id,
            )
        conversation_id = thread_id
        if thread_id.startswith(ORDER_THREAD_PREFIX):
            conversation_id = self._conversation_for_order(http, thread_id.removeprefix(ORDER_THREAD_PREFIX))
        content = json.dumps({"content": body}, ensure_ascii=False)
        response = http.post(  # not idempotent: a message that may have reached TikTok is never re-sent
            MESSAGES_PATH.format(conversation_id=quote(conversation_id, safe="")),
            json={"type": "TEXT", "content": content},
        )
        data = _api_data(response, "Send Message")
        message_id = _id_or_none(data.get("message_id"))
        if message_id is None:
            raise MalformedPayload("Send Message answer has no 'message_id'")
        return message_id

    @staticmethod
    def _conversation_for_order(http: ChannelHttpClient, order_id: str) -> str:
        raw = _raw_order(http, order_id)
        buyer = _id_or_none(raw.get("user_id")) if raw is not None else None
        if buyer is None:
            raise ChannelError(f"TikTok Shop order {order_id} has no buyer to write to", channel=CHANNEL, status=404)
        # Opening a conversation sends the buyer nothing: safe to repeat after a slow answer.
        response = http.post(CONVERSATIONS_PATH, json={"buyer_user_id": buyer}, idempotent=True)
        conversation_id = _id_or_none(_api_data(response, "Create Conversation").get("conversation_id"))
        if conversation_id is None:
            raise MalformedPayload("Create Conversation answer has no 'conversation_id'")
        return conversation_id


# --- API helpers ----------------------------------------------------------------------------------


def authorized_shops(http: ChannelHttpClient) -> list[dict[str, str]]:
    """The shops that authorized the app: ``id``, ``name``, ``cipher`` (what credentials['shop_cipher']
    must hold), ``code``, ``region``, ``seller_type``. Needs no shop cipher."""
    data = _api_data(http.get(SHOPS_PATH), "Get Authorized Shops")
    shops = data.get("shops")
    if not isinstance(shops, list):
        raise MalformedPayload("Get Authorized Shops answer has no 'shops' list")
    result = []
    for shop in shops:
        if not isinstance(shop, dict):
            raise MalformedPayload("Get Authorized Shops: a shop is not an object")
        result.append(
            {key: str(shop.get(key) or "") for key in ("id", "name", "cipher", "code", "region", "seller_type")}
        )
    return result


def _raw_order(http: ChannelHttpClient, order_id: str) -> dict[str, Any] | None:
    if not order_id.strip():
        raise ChannelError("a TikTok Shop order lookup needs an order id", channel=CHANNEL)
    response = http.get(ORDERS_PATH, params={"ids": order_id})
    if response.status_code == 404:
        return None
    orders = _api_data(response, "Get Order Detail").get("orders")
    if orders is None:
        return None
    if not isinstance(orders, list):
        raise MalformedPayload("Get Order Detail answer's 'orders' is not a list")
    for raw in orders:
        if isinstance(raw, dict) and _id_or_none(raw.get("id")) == order_id:
            return raw
    return None


def _api_data(response: httpx.Response, what: str) -> dict[str, Any]:
    """``data`` of a successful envelope; any failure is a ChannelError quoting TikTok's message."""
    status = response.status_code
    payload = values.json_or_none(response.content, decimals=True)
    if not isinstance(payload, dict):
        if 200 <= status < 300:
            raise MalformedPayload(f"TikTok Shop {what} answer is not a JSON object")
        raise ChannelError(
            f"TikTok Shop {what} failed: HTTP {status}: {values.body_excerpt(response)}",
            channel=CHANNEL,
            status=status,
            body=response.text[:500],
        )
    code = payload.get("code")
    if 200 <= status < 300 and code == 0:
        data = payload.get("data")
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise MalformedPayload(f"TikTok Shop {what} answer's 'data' is not an object")
        return data
    if 200 <= status < 300 and code is None:
        raise MalformedPayload(f"TikTok Shop {what} answer has no 'code'")
    message = f"TikTok Shop {what} failed: HTTP {status}, code {code}: {_message(payload, response)}"
    details = {"channel": CHANNEL, "code": code, "request_id": payload.get("request_id")}
    if code == _RATE_LIMITED_CODE:
        raise ChannelRateLimited(message, status=429, **details)
    if str(code).startswith(_AUTH_ERROR_GROUP):
        effective = 401
    else:
        effective = status if status >= 400 else 400
    raise ChannelError(message, status=effective, **details)


def _message(payload: Mapping[str, Any], response: httpx.Response) -> str:
    return values.first_text(payload, ("message",)) or values.body_excerpt(response)


def _page(data: dict[str, Any], key: str, what: str) -> tuple[list[Any], str | None]:
    items = data.get(key) or []
    if not isinstance(items, list):
        raise MalformedPayload(f"{what}: '{key}' is not a list")
    token = data.get("next_page_token")
    if token is not None and not isinstance(token, str):
        raise MalformedPayload(f"{what}: 'next_page_token' is not a string")
    return items, token or None


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


CONNECTOR = TikTokConnector()
