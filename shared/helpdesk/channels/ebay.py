"""eBay, seller side: buyer messages polled from the REST Message API (``/commerce/message/v1``),
replies sent into the same conversation, and order data from the Fulfillment API.

Credentials (the store's JSON secret): ``client_id``, ``client_secret``, ``refresh_token`` (required),
``marketplace_id``, ``seller_username`` (recommended: it tells the seller's own messages from the
buyer's) and ``scopes`` (optional). This module serves polling only and imports httpx when loaded (no
webhook function imports it).

Notes and sources: docs/channels/ebay.md.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from pydantic import ValidationError

from helpdesk.channels import values
from helpdesk.channels.base import PollResult
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.oauth import RefreshingTokenAuth
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

BASE_URL = "https://api.ebay.com"
TOKEN_PATH = "/identity/v1/oauth2/token"  # noqa: S105 - a URL path, not a secret
CONVERSATIONS_PATH = "/commerce/message/v1/conversation"
CONVERSATION_PATH = "/commerce/message/v1/conversation/{conversation_id}"
SEND_MESSAGE_PATH = "/commerce/message/v1/send_message"
ORDERS_PATH = "/sell/fulfillment/v1/order"
ORDER_PATH = "/sell/fulfillment/v1/order/{order_id}"
SHIPPING_FULFILLMENTS_PATH = "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment"

SCOPES = (
    "https://api.ebay.com/oauth/api_scope/commerce.message",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly",
)
CONVERSATION_TYPE = "FROM_MEMBERS"
PAGE_LIMIT = 50  # getConversations and getConversation: at most 50
MAX_PAGES = 6
MAX_MESSAGE_PAGES = 5
FIRST_POLL_LOOKBACK = timedelta(days=7)
LIST_OVERLAP = timedelta(minutes=2)
MESSAGE_OVERLAP = timedelta(minutes=15)
MAX_ORDER_LOOKUPS = 5
RATE_PER_SECOND = 2.0
BURST = 4
REPLY_MAX_CHARS = 2000

_REQUIRED_KEYS = ("client_id", "client_secret", "refresh_token")
_MARKETPLACE = re.compile(r"^EBAY_[A-Z0-9_]{2,10}$")
_ORDER_REFERENCE = "ORDER"
_UNKNOWN_ORDER_ERROR = 32100
_UNKNOWN_CONVERSATION_ERROR = 355007
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_HTML_TAG = re.compile(
    r"</?(?:a|b|i|u|p|br|hr|div|span|font|strong|em|small|big|sub|sup|center|pre|code|blockquote|ul|ol|li|"
    r"table|thead|tbody|tr|td|th|img|h[1-6]|html|head|body|title|style|script)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})  # plain http only for a local mock of the API

_SELLERS: dict[tuple[str, str], str] = {}  # (tenant, store) -> the seller's username
_SELLERS_LOCK = threading.Lock()


def remember_seller(store: Store, username: str | None) -> None:
    """The seller's eBay username for ``store`` (None forgets it)."""
    with _SELLERS_LOCK:
        if username and username.strip():
            _SELLERS[(store.tenant_id, store.store_id)] = username.strip()
        else:
            _SELLERS.pop((store.tenant_id, store.store_id), None)


def known_seller(store: Store) -> str | None:
    with _SELLERS_LOCK:
        return _SELLERS.get((store.tenant_id, store.store_id))


def clear_seller_cache() -> None:
    with _SELLERS_LOCK:
        _SELLERS.clear()


class EbayTokenAuth(RefreshingTokenAuth):
    """A user access token minted from the seller's refresh token (eBay's refresh token grant)."""

    channel = Channel.EBAY.value

    def __init__(
        self,
        cache_key: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        scopes: Iterable[str] = SCOPES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(cache_key, clock=clock)
        self._token_url = token_url
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._refresh_token = refresh_token
        self._scope = " ".join(scopes)

    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._token_url,
            headers={"Authorization": f"Basic {self._basic}", "Accept": "application/json"},
            data={"grant_type": "refresh_token", "refresh_token": self._refresh_token, "scope": self._scope},
        )


@dataclass
class _Thread:
    """One conversation as fetched: its messages (deduplicated) and whether all new ones were read."""

    conversation_id: str
    title: str | None
    order_ref: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True


@dataclass
class _Page:
    """One page of a getConversations/getConversation answer (items carry their time under ``_at``)."""

    items: list[dict[str, Any]]
    next_offset: int | None
    total: int | None
    size: int

    @property
    def times(self) -> list[datetime]:
        return [item["_at"] for item in self.items]


@dataclass
class _Poll:
    raw_pages: list[bytes] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    order_events: list[OrderEvent] = field(default_factory=list)


class EbayConnector:
    channel = Channel.EBAY.value

    def client(self, store: Store, credentials: Mapping[str, str]) -> ChannelHttpClient:
        values = {key: str(credentials.get(key) or "").strip() for key in _REQUIRED_KEYS}
        for key in _REQUIRED_KEYS:
            if not values[key]:
                raise ChannelError(
                    f"eBay store has no credentials['{key}']", channel=self.channel, store_id=store.store_id
                )
        base = _base_url(store)
        scopes = str(credentials.get("scopes") or "").split() or list(SCOPES)
        fingerprint = hashlib.sha256(values["refresh_token"].encode()).hexdigest()[:16]
        auth = EbayTokenAuth(
            f"{store.tenant_id}/{store.store_id}:{values['client_id']}:{fingerprint}",
            token_url=base + TOKEN_PATH,
            client_id=values["client_id"],
            client_secret=values["client_secret"],
            refresh_token=values["refresh_token"],
            scopes=scopes,
        )
        headers = {"Accept": "application/json"}
        marketplace = str(credentials.get("marketplace_id") or "").strip().upper()
        if marketplace:
            if not _MARKETPLACE.match(marketplace):
                raise ChannelError(
                    "eBay credentials['marketplace_id'] is not a marketplace id like EBAY_DE",
                    channel=self.channel,
                    store_id=store.store_id,
                )
            headers["X-EBAY-C-MARKETPLACE-ID"] = marketplace
        seller = str(credentials.get("seller_username") or "").strip()
        if seller:
            remember_seller(store, seller)
        return ChannelHttpClient(
            base,
            channel=self.channel,
            headers=headers,
            auth=auth,
            rate_limit=TokenBucket(rate=RATE_PER_SECOND, burst=BURST),
        )

    def check_credentials(self, store: Store, http: ChannelHttpClient) -> str:
        """Proves both scopes: one conversation (Message API), then one order (Fulfillment API), whose
        ``sellerId`` labels the account."""
        response = http.get(CONVERSATIONS_PATH, params={"conversation_type": CONVERSATION_TYPE, "limit": "1"})
        _checked(response, "getConversations")
        response = http.get(ORDERS_PATH, params={"limit": "1"})
        seller = _first_seller_id(_read_json(_checked(response, "getOrders"), "getOrders answer"))
        if seller and not known_seller(store):
            remember_seller(store, seller)
        return seller or known_seller(store) or "eBay seller account"

    # --- polling --------------------------------------------------------------------------------

    def poll(self, store: Store, http: ChannelHttpClient, cursor: str | None, now: datetime) -> PollResult:
        previous = _parse_cursor(cursor) if cursor else None
        since = previous or _utc(now) - FIRST_POLL_LOOKBACK
        keep_from = since - MESSAGE_OVERLAP
        state = _Poll()
        listed, cursor_times, listing_complete = self._list_conversations(http, since - LIST_OVERLAP, state)
        threads: list[_Thread] = []
        seen: set[str] = set()
        for summary in listed:
            conversation_id = _required_str(summary, "conversationId", "getConversations conversation")
            if conversation_id in seen:
                continue  # shifted across a page boundary while paging
            seen.add(conversation_id)
            threads.append(self._read_conversation(http, summary, conversation_id, keep_from, state))
        seller = self._seller(store, http, threads, state)
        for thread in threads:
            for message in sorted(thread.messages, key=lambda m: m["_at"]):
                inbound = self._buyer_message(store, thread, message, seller, keep_from)
                if inbound is not None:
                    state.messages.append(inbound)
        self._order_events(store, http, threads, now, state)
        if all(thread.complete for thread in threads):
            next_cursor = _next_cursor(cursor, previous, cursor_times, bounded=not listing_complete)
        else:
            next_cursor = cursor  # a conversation's new messages were cut short: fetch them again
        return PollResult(
            messages=state.messages, order_events=state.order_events, next_cursor=next_cursor, raw_pages=state.raw_pages
        )

    def _list_conversations(
        self, http: ChannelHttpClient, start: datetime, state: _Poll
    ) -> tuple[list[dict[str, Any]], list[datetime], bool]:
        """Conversations with activity since ``start``; the activity times that may move the cursor
        (a contiguous block of the listing); whether the listing was read to its end."""
        query = {"conversation_type": CONVERSATION_TYPE, "start_time": _wire_time(start), "limit": str(PAGE_LIMIT)}

        def fetch(offset: int) -> _Page:
            response = http.get(CONVERSATIONS_PATH, params={**query, "offset": str(offset)})
            body = _read_json(_checked(response, "getConversations"), "getConversations answer")
            state.raw_pages.append(response.content)
            return _conversations_page(body, offset)

        page = fetch(0)
        listed = list(page.items)
        if page.next_offset is None:
            return listed, _activity_times(listed), True
        next_offset = page.next_offset
        counted = list(page.items)
        size, total = page.size, page.total
        if total is not None and total > MAX_PAGES * size and _newest_first(_activity_times(page.items)):
            # Newest first and too many to read: read the oldest end, which alone may move the cursor.
            next_offset = math.ceil((total - (MAX_PAGES - 1) * size) / size) * size
            counted = []
        for _ in range(MAX_PAGES - 1):
            page = fetch(next_offset)
            listed.extend(page.items)
            counted.extend(page.items)
            if page.next_offset is None:
                return listed, _activity_times(counted), True
            next_offset = page.next_offset
        return listed, _activity_times(counted), False

    def _read_conversation(
        self, http: ChannelHttpClient, summary: dict[str, Any], conversation_id: str, keep_from: datetime, state: _Poll
    ) -> _Thread:
        path = CONVERSATION_PATH.format(conversation_id=quote(conversation_id, safe=""))
        thread = _Thread(
            conversation_id=conversation_id,
            title=_text(summary.get("conversationTitle")),
            order_ref=_order_reference(summary, conversation_id),
        )
        seen: set[str] = set()

        def fetch(offset: int) -> _Page | None:
            """Adds one page of messages to ``thread``; None when eBay says the conversation is gone."""
            params = {"conversation_type": CONVERSATION_TYPE, "limit": str(PAGE_LIMIT), "offset": str(offset)}
            response = http.get(path, params=params)
            if _is_error(response, 404, _UNKNOWN_CONVERSATION_ERROR):
                return None
            body = _read_json(_checked(response, f"getConversation {conversation_id}"), "getConversation answer")
            state.raw_pages.append(response.content)
            page = _messages_page(body, conversation_id, offset)
            if thread.title is None:
                thread.title = _text(body.get("conversationTitle"))
            for message in page.items:
                if message["messageId"] not in seen:
                    seen.add(message["messageId"])
                    thread.messages.append(message)
            return page

        page = fetch(0)
        if page is None or page.next_offset is None:
            return thread
        if _newest_first(page.times):  # follow the pages back in time until the window is reached
            thread.complete = _read_back_in_time(fetch, page, keep_from)
        elif page.total is None:  # oldest first (or unknown) and no total to find the end by: read forward
            thread.complete = _read_forward(fetch, page.next_offset)
        else:  # oldest first: the new messages are on the last pages, read them backwards
            thread.complete = _read_last_pages(fetch, page.total, page.size, keep_from)
        return thread

    def _seller(self, store: Store, http: ChannelHttpClient, threads: list[_Thread], state: _Poll) -> str | None:
        """The seller's username (casefolded), to skip the seller's own messages."""
        known = known_seller(store)
        if known:
            return known.casefold()
        members = [_participants(thread) for thread in threads if thread.messages]
        if not members:
            return None  # no message to classify
        common = set.intersection(*members)
        if len(members) >= 2 and len(common) == 1 and all(len(names) == 2 for names in members):
            seller: str | None = next(iter(common))  # two or more conversations, each with another member
        else:
            response = http.get(ORDERS_PATH, params={"limit": "1"})
            seller = _first_seller_id(_read_json(_checked(response, "getOrders"), "getOrders answer"))
            state.raw_pages.append(response.content)
        if not seller:
            raise ChannelError(
                "cannot tell the seller's eBay messages from the buyers': set "
                "credentials['seller_username'] to the seller's eBay username",
                channel=self.channel,
                store_id=store.store_id,
            )
        remember_seller(store, seller)
        return seller.casefold()

    def _buyer_message(
        self, store: Store, thread: _Thread, message: dict[str, Any], seller: str | None, keep_from: datetime
    ) -> InboundMessage | None:
        message_id = message["messageId"]
        sender = _username(message, "senderUsername", "senderUserName")
        if not sender:
            raise MalformedPayload(f"eBay message {message_id} has no senderUsername")
        if seller is not None and sender.casefold() == seller:
            return None  # the seller's own message
        received_at: datetime = message["_at"]
        if received_at < keep_from:
            return None
        body = message.get("messageBody")
        if body is not None and not isinstance(body, str):
            raise MalformedPayload(f"eBay message {message_id}: 'messageBody' is not a string")
        text = _plain_text(body or "")
        if not text.strip():
            media_names = [m.get("mediaName") for m in message.get("messageMedia") or [] if isinstance(m, dict)]
            names = [str(n) for n in media_names if n]
            if not names:
                return None  # nothing to read: no text and no media
            text = "(no text; attachments: " + ", ".join(names) + ")"
        try:
            return InboundMessage(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.EBAY,
                channel_message_id=message_id,
                channel_thread_id=thread.conversation_id,
                order_ref=thread.order_ref,
                buyer_name=sender,
                subject=thread.title or _text(message.get("subject")),
                body=text,
                received_at=received_at,
            )
        except ValidationError as exc:
            raise MalformedPayload(f"eBay message {message_id} could not be read: {exc}") from None

    # --- orders ---------------------------------------------------------------------------------

    def _order_events(
        self, store: Store, http: ChannelHttpClient, threads: list[_Thread], now: datetime, state: _Poll
    ) -> None:
        refs: list[str] = []
        for thread in threads:
            if thread.order_ref and thread.order_ref not in refs:
                refs.append(thread.order_ref)
        for order_ref in refs[:MAX_ORDER_LOOKUPS]:
            found = self._lookup_order(store, http, order_ref, state.raw_pages)
            if found is None:
                continue
            order, raw = found
            state.order_events.append(
                OrderEvent(
                    tenant_id=store.tenant_id,
                    store_id=store.store_id,
                    channel=Channel.EBAY,
                    event_type=_event_type(raw),
                    event_id=f"getorder:{order.order_ref}:{raw.get('lastModifiedDate') or ''}",
                    order=order,
                    occurred_at=order.updated_at or _utc(now),
                )
            )

    def fetch_order(self, store: Store, http: ChannelHttpClient, order_ref: str) -> Order | None:
        found = self._lookup_order(store, http, order_ref, [])
        return found[0] if found else None

    def _lookup_order(
        self, store: Store, http: ChannelHttpClient, order_ref: str, raw_pages: list[bytes]
    ) -> tuple[Order, dict[str, Any]] | None:
        order_ref = (order_ref or "").strip()
        if not order_ref:
            raise ChannelError("an eBay order lookup needs the order id", channel=self.channel)
        order_id = quote(order_ref, safe="")
        response = http.get(ORDER_PATH.format(order_id=order_id))
        if _is_error(response, 404, _UNKNOWN_ORDER_ERROR):
            return None
        payload = _read_json(_checked(response, f"getOrder {order_ref}"), "getOrder answer")
        raw_pages.append(response.content)
        if not isinstance(payload, dict):
            raise MalformedPayload("getOrder answer is not an object")
        fulfillments: list[Any] = []
        if payload.get("fulfillmentHrefs"):
            response = http.get(SHIPPING_FULFILLMENTS_PATH.format(order_id=order_id))
            shipping = _read_json(
                _checked(response, f"getShippingFulfillments {order_ref}"), "getShippingFulfillments answer"
            )
            raw_pages.append(response.content)
            listed = shipping.get("fulfillments") if isinstance(shipping, dict) else None
            if listed is not None and not isinstance(listed, list):
                raise MalformedPayload("getShippingFulfillments 'fulfillments' is not a list")
            fulfillments = listed or []
        try:
            return _order(store, payload, fulfillments, order_ref), payload
        except (ValidationError, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
            raise MalformedPayload(f"eBay order {order_ref} could not be read: {exc}") from None

    # --- replies --------------------------------------------------------------------------------

    def send_reply(self, store: Store, http: ChannelHttpClient, thread_id: str, body: str) -> str:
        if not thread_id:
            raise ChannelError("an eBay reply needs the conversation id", channel=self.channel)
        if not body.strip():
            raise ChannelError("an eBay reply needs some text", channel=self.channel, thread_id=thread_id)
        if len(body) > REPLY_MAX_CHARS:
            raise ChannelError(
                f"eBay accepts messages of at most {REPLY_MAX_CHARS} characters, not {len(body)}",
                channel=self.channel,
                thread_id=thread_id,
            )
        response = http.post(  # not idempotent: a message that may have reached eBay is never re-sent
            SEND_MESSAGE_PATH, json={"conversationId": thread_id, "messageText": body}
        )
        payload = _read_json(_checked(response, "sendMessage"), "sendMessage answer")
        message_id = payload.get("messageId") if isinstance(payload, dict) else None
        if isinstance(message_id, int) and not isinstance(message_id, bool):
            message_id = str(message_id)
        if not isinstance(message_id, str) or not message_id:
            raise MalformedPayload("sendMessage answer has no 'messageId'")
        return message_id


# --- HTTP helpers -------------------------------------------------------------------------------


def _base_url(store: Store) -> str:
    url = (store.base_url or "").strip().rstrip("/") or BASE_URL
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or local):
        raise ChannelError(
            "eBay base URL must be https (https://api.ebay.com or https://api.sandbox.ebay.com)",
            channel=Channel.EBAY.value,
            store_id=store.store_id,
        )
    return url


_errors = values.error_list


def _is_error(response: httpx.Response, status: int, error_id: int) -> bool:
    """eBay's "no such thing": the given status, or a 400 naming the given errorId."""
    if response.status_code == status:
        return True
    return response.status_code == 400 and any(str(e.get("errorId")) == str(error_id) for e in _errors(response))


def _error_message(response: httpx.Response) -> str:
    for error in _errors(response):
        text = error.get("message") or error.get("longMessage")
        if isinstance(text, str) and text.strip():
            error_id = error.get("errorId")
            return f"{error_id}: {text.strip()}" if error_id is not None else text.strip()
    return values.error_message(response, ("error_description", "message", "error"))


def _checked(response: httpx.Response, what: str) -> bytes:
    """The body of a 2xx answer; any other status is a ChannelError quoting eBay's error."""
    return values.checked(response, what, label="eBay", channel=Channel.EBAY.value, message=_error_message)


_read_json = values.read_json


# --- payload helpers ----------------------------------------------------------------------------


def _paging(body: dict[str, Any], what: str, offset: int, count: int) -> tuple[int | None, int | None, int]:
    """(offset of the next page or None, total, page size) from eBay's ``next``/``total``/``limit``."""
    link, total, size = body.get("next"), body.get("total"), body.get("limit")
    if link is not None and not isinstance(link, str):
        raise MalformedPayload(f"{what} 'next' is not a string")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise MalformedPayload(f"{what} 'total' is not a count")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        size = PAGE_LIMIT
    if not link or not count:
        return None, total, size
    following = _offset_in(link)
    if following is None or following <= offset:
        following = offset + size
    return following, total, size


def _offset_in(link: str) -> int | None:
    values = parse_qs(urlsplit(link).query).get("offset")
    return int(values[0]) if values and values[0].isdigit() else None


def _conversations_page(body: Any, offset: int) -> _Page:
    if not isinstance(body, dict):
        raise MalformedPayload("getConversations answer is not an object")
    conversations = body.get("conversations", [])
    if not isinstance(conversations, list) or not all(isinstance(c, dict) for c in conversations):
        raise MalformedPayload("getConversations 'conversations' is not a list of objects")
    for conversation in conversations:
        conversation_id = _required_str(conversation, "conversationId", "getConversations conversation")
        conversation["_at"] = _activity_time(conversation, conversation_id)
    following, total, size = _paging(body, "getConversations", offset, len(conversations))
    return _Page(conversations, following, total, size)


def _activity_time(conversation: dict[str, Any], conversation_id: str) -> datetime:
    latest = conversation.get("latestMessage")
    if latest is not None and not isinstance(latest, dict):
        raise MalformedPayload(f"conversation {conversation_id}: 'latestMessage' is not an object")
    value = (latest or {}).get("createdDate") or conversation.get("createdDate")
    return _timestamp(value, f"conversation {conversation_id} latestMessage.createdDate")


def _activity_times(conversations: list[dict[str, Any]]) -> list[datetime]:
    return [c["_at"] for c in conversations]


def _messages_page(body: Any, conversation_id: str, offset: int) -> _Page:
    if not isinstance(body, dict):
        raise MalformedPayload("getConversation answer is not an object")
    messages = body.get("messages", [])
    if not isinstance(messages, list):
        raise MalformedPayload(f"conversation {conversation_id}: 'messages' is not a list")
    for message in messages:
        if not isinstance(message, dict):
            raise MalformedPayload(f"conversation {conversation_id}: a message is not an object")
        message_id = _required_str(message, "messageId", f"conversation {conversation_id} message")
        message["messageId"] = message_id
        message["_at"] = _timestamp(message.get("createdDate"), f"eBay message {message_id} createdDate")
    following, total, size = _paging(body, "getConversation", offset, len(messages))
    return _Page(messages, following, total, size)


def _order_reference(conversation: dict[str, Any], conversation_id: str) -> str | None:
    kind, ref = conversation.get("referenceType"), conversation.get("referenceId")
    if kind is None:
        return None
    if not isinstance(kind, str) or (ref is not None and not isinstance(ref, str | int)):
        raise MalformedPayload(f"conversation {conversation_id}: bad referenceType/referenceId")
    if kind.strip().upper() == _ORDER_REFERENCE and ref not in (None, ""):
        return str(ref).strip()
    return None


def _participants(thread: _Thread) -> set[str]:
    names: set[str] = set()
    for message in thread.messages:
        for keys in (("senderUsername", "senderUserName"), ("recipientUsername", "recipientUserName")):
            name = _username(message, *keys)
            if name:
                names.add(name.casefold())
    return names


def _username(message: dict[str, Any], *keys: str) -> str | None:
    return values.first_text(message, keys)


def _first_seller_id(payload: Any) -> str | None:
    orders = payload.get("orders") if isinstance(payload, dict) else None
    if orders is not None and not isinstance(orders, list):
        raise MalformedPayload("getOrders 'orders' is not a list")
    for order in orders or []:
        if isinstance(order, dict) and isinstance(order.get("sellerId"), str) and order["sellerId"].strip():
            return order["sellerId"].strip()
    return None


_required_str = values.required_str
_text = values.text_or_none


class _TextOnly(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "br" or tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _plain_text(body: str) -> str:
    """``body`` as sent, or its text when it contains HTML tags (line breaks kept, entities decoded)."""
    if not _HTML_TAG.search(body):
        return body
    parser = _TextOnly()
    parser.feed(body)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- time and cursor ----------------------------------------------------------------------------


_utc = values.utc
_parse_time = values.parse_time
_timestamp = values.timestamp
_optional_time = values.optional_time
_cursor_text = values.cursor_text


def _parse_cursor(cursor: str) -> datetime:
    return values.time_cursor(cursor, "eBay")


def _wire_time(moment: datetime) -> str:
    """eBay's documented form, ``2024-11-06T10:00:00.000Z`` (milliseconds, rounded down)."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _newest_first(times: list[datetime]) -> bool:
    return len(times) >= 2 and times[0] > times[-1] and all(later <= earlier for earlier, later in pairwise(times))


def _next_cursor(cursor: str | None, previous: datetime | None, times: list[datetime], *, bounded: bool) -> str | None:
    """The newest activity time fully fetched; never earlier than ``cursor``.

    A listing cut short by the page bound moves the cursor only if it came oldest first (everything not
    fetched yet is then newer); otherwise the cursor stays where it was.
    """
    if not times:
        return cursor
    if bounded and any(later < earlier for earlier, later in pairwise(times)):
        return cursor
    newest = max(times)
    if previous is not None and newest <= previous:
        return cursor
    return _cursor_text(newest)


# --- orders -------------------------------------------------------------------------------------


def _amount(value: Any) -> tuple[Decimal | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise ValueError(f"not an Amount object: {value!r}")
    raw, currency = value.get("value"), value.get("currency")
    return values.decimal(raw, finite=False), currency or None


def _status(payment: Any, fulfilment: Any, cancel: Any) -> OrderStatus:
    if cancel == "CANCELED":
        return OrderStatus.CANCELLED
    if payment == "FULLY_REFUNDED":
        return OrderStatus.REFUNDED
    if payment == "FAILED":
        return OrderStatus.FAILED
    if fulfilment == "FULFILLED":
        return OrderStatus.SHIPPED
    if fulfilment == "IN_PROGRESS":
        return OrderStatus.PROCESSING
    if payment == "PENDING":
        return OrderStatus.PENDING
    if fulfilment == "NOT_STARTED":
        return OrderStatus.PROCESSING
    return OrderStatus.UNKNOWN


def _cancel_state(p: dict[str, Any]) -> Any:
    cancel = p.get("cancelStatus")
    return cancel.get("cancelState") if isinstance(cancel, dict) else None


def _event_type(p: dict[str, Any]) -> OrderEventType:
    state = _cancel_state(p)
    if state == "CANCELED":
        return OrderEventType.CANCELLED
    if state == "IN_PROGRESS":
        requests = (p.get("cancelStatus") or {}).get("cancelRequests") or []
        initiators = {str(r.get("cancelInitiator") or "").casefold() for r in requests if isinstance(r, dict)}
        if not initiators or initiators != {"seller"}:  # the seller's own cancellation is no buyer request
            return OrderEventType.CANCELLATION_REQUESTED
    return OrderEventType.UPDATED


def _latest_shipment(fulfillments: list[Any]) -> dict[str, Any]:
    shipments = [f for f in fulfillments if isinstance(f, dict)]
    if not shipments:
        return {}
    dated = [(_parse_time(f["shippedDate"]), i) for i, f in enumerate(shipments) if f.get("shippedDate")]
    return shipments[max(dated)[1]] if dated else shipments[-1]


def _order(store: Store, p: dict[str, Any], fulfillments: list[Any], order_ref: str) -> Order:
    buyer = p.get("buyer") or {}
    lines = p.get("lineItems") or []
    pricing = p.get("pricingSummary") or {}
    if not isinstance(buyer, dict) or not isinstance(lines, list) or not isinstance(pricing, dict):
        raise ValueError("'buyer' and 'pricingSummary' must be objects and 'lineItems' a list")
    contact = buyer.get("buyerRegistrationAddress") or {}
    if not isinstance(contact, dict):
        raise ValueError("'buyerRegistrationAddress' must be an object")
    total, currency = _amount(pricing.get("total"))
    email = contact.get("email")
    payment, fulfilment, cancel = p.get("orderPaymentStatus"), p.get("orderFulfillmentStatus"), _cancel_state(p)
    shipment = _latest_shipment(fulfillments)
    earliest, latest = _delivery_window(p, lines)
    return Order(
        tenant_id=store.tenant_id,
        store_id=store.store_id,
        channel=Channel.EBAY,
        order_ref=str(p.get("orderId") or order_ref),
        status=_status(payment, fulfilment, cancel),
        channel_status="/".join(str(s) for s in (fulfilment, payment, cancel) if s) or None,
        currency=currency,
        total=total,
        items=[_item(line) for line in lines],
        buyer_email=email.strip() if isinstance(email, str) and _EMAIL.match(email.strip()) else None,
        buyer_name=_text(contact.get("fullName")) or _text(buyer.get("username")),
        carrier=_text(shipment.get("shippingCarrierCode")),
        tracking_number=_text(shipment.get("shipmentTrackingNumber")),
        delivery_earliest=earliest,
        delivery_latest=latest,
        ordered_at=_optional_time(p.get("creationDate")),
        shipped_at=_optional_time(shipment.get("shippedDate")),
        updated_at=_optional_time(p.get("lastModifiedDate")),
    )


def _delivery_window(p: dict[str, Any], lines: list[Any]) -> tuple[datetime | None, datetime | None]:
    """The window the buyer was promised: the lines' earliest ``minEstimatedDeliveryDate`` and latest
    ``maxEstimatedDeliveryDate``; the order's fulfillment start instructions when no line has one."""

    def bounds(instructions: Iterable[Any], what: str) -> tuple[datetime | None, datetime | None]:
        earliest: list[datetime] = []
        latest: list[datetime] = []
        for instruction in instructions:
            if instruction is None:
                continue
            if not isinstance(instruction, dict):
                raise ValueError(f"'{what}' must be an object")
            if instruction.get("minEstimatedDeliveryDate"):
                earliest.append(_parse_time(instruction["minEstimatedDeliveryDate"]))
            if instruction.get("maxEstimatedDeliveryDate"):
                latest.append(_parse_time(instruction["maxEstimatedDeliveryDate"]))
        return (min(earliest) if earliest else None), (max(latest) if latest else None)

    window = bounds(
        (line.get("lineItemFulfillmentInstructions") for line in lines if isinstance(line, dict)),
        "lineItemFulfillmentInstructions",
    )
    if window != (None, None):
        return window
    starts = p.get("fulfillmentStartInstructions") or []
    if not isinstance(starts, list):
        raise ValueError("'fulfillmentStartInstructions' must be a list")
    return bounds(starts, "fulfillmentStartInstructions")


def _item(line: Any) -> OrderItem:
    if not isinstance(line, dict):
        raise ValueError("a line item is not an object")
    quantity = int(line.get("quantity") or 0)
    cost, _ = _amount(line.get("lineItemCost"))
    total, _ = _amount(line.get("total"))
    return OrderItem(
        sku=_text(line.get("sku")),
        name=_text(line.get("title")) or _text(line.get("legacyItemId")) or "item",
        quantity=quantity,
        unit_price=cost / quantity if cost is not None and quantity else None,
        total=total,
    )


CONNECTOR = EbayConnector()


# Paging a conversation's messages (``fetch(offset)`` adds one page to the thread; None: conversation gone).
# Each answers whether the thread is complete (False when MAX_MESSAGE_PAGES stopped the reading early).


def _read_back_in_time(fetch: Callable[[int], _Page | None], page: _Page, keep_from: datetime) -> bool:
    for _ in range(MAX_MESSAGE_PAGES - 1):
        if page.next_offset is None or min(page.times) < keep_from:
            return True
        following = fetch(page.next_offset)
        if following is None:
            return True
        page = following
    return page.next_offset is None or min(page.times) < keep_from


def _read_forward(fetch: Callable[[int], _Page | None], next_offset: int) -> bool:
    for _ in range(MAX_MESSAGE_PAGES - 1):
        following = fetch(next_offset)
        if following is None or following.next_offset is None:
            return True
        next_offset = following.next_offset
    return False


def _read_last_pages(fetch: Callable[[int], _Page | None], total: int, size: int, keep_from: datetime) -> bool:
    offset = (total - 1) // size * size
    for _ in range(MAX_MESSAGE_PAGES - 1):
        if offset <= 0:
            return True
        following = fetch(offset)
        if following is None or (following.times and min(following.times) < keep_from):
            return True
        offset -= size
    return offset <= 0
