"""The TikTok Shop connector: webhooks, polled customer-service conversations, replies, order lookups."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.channels.base import ParsedDelivery, PollResult, body_digest, lower_keys
from helpdesk.core.errors import ChannelError, ChannelRateLimited, InvalidSignature, MalformedPayload
from helpdesk.core.models import (
    InboundMessage,
    Order,
    OrderEvent,
    OrderEventType,
    OrderStatus,
    Store,
)

if TYPE_CHECKING:  # httpx is imported only when a client is built
    import httpx

    from helpdesk.channels.http import ChannelHttpClient

from helpdesk.channels.tiktok.payloads import (
    _AUTH_ERROR_GROUP,
    _BUYER,
    _CANCEL_DONE,
    _EVENT,
    _KEPT_RAW_ONLY,
    _RATE_LIMITED_CODE,
    _REFUND_TYPES,
    _RETURN_REFUNDED,
    _RETURN_REQUESTED,
    _RETURN_WORDS,
    _SAFE_ID,
    _STATUS,
    API_BASE,
    BURST,
    CANCELLATION_STATUS_CHANGE,
    CHANNEL,
    CONVERSATION_PAGE_SIZE,
    CONVERSATIONS_PATH,
    FIRST_POLL_LOOKBACK,
    MAX_CONVERSATION_PAGES,
    MAX_MESSAGE_PAGES,
    MESSAGE_OVERLAP,
    MESSAGE_PAGE_SIZE,
    MESSAGES_PATH,
    NEW_MESSAGE,
    ORDER_STATUS_CHANGE,
    ORDER_THREAD_PREFIX,
    ORDERS_PATH,
    PACKAGE_UPDATE,
    RATE_PER_SECOND,
    RECIPIENT_ADDRESS_UPDATE,
    REPLY_MAX_CHARS,
    RETURN_STATUS_CHANGE,
    SHOPS_PATH,
    _buyer_message,
    _credential,
    _epoch,
    _event,
    _id_or_none,
    _id_text,
    _json_object,
    _message,
    _next_cursor,
    _optional_epoch,
    _order,
    _order_context,
    _order_from_api,
    _order_notice,
    _parse_cursor,
    _participant_name,
    _Poll,
    _required_id,
    _text,
    _utc,
)
from helpdesk.channels.tiktok.signing import _auth_types, _Signer, webhook_shop_id, webhook_signature


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


def _page(data: dict[str, Any], key: str, what: str) -> tuple[list[Any], str | None]:
    items = data.get(key) or []
    if not isinstance(items, list):
        raise MalformedPayload(f"{what}: '{key}' is not a list")
    token = data.get("next_page_token")
    if token is not None and not isinstance(token, str):
        raise MalformedPayload(f"{what}: 'next_page_token' is not a string")
    return items, token or None


CONNECTOR = TikTokConnector()
