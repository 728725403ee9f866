"""eBay connector: OAuth refresh-token auth, conversation polling (Message API), order lookups (Fulfillment
API) and replies (sendMessage), on respx-mocked HTTP with the documented payloads under
infrastructure/local/samples/ebay."""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from helpdesk.channels.ebay import (
    CONNECTOR,
    CONVERSATIONS_PATH,
    MAX_ORDER_LOOKUPS,
    MAX_PAGES,
    SCOPES,
    TOKEN_PATH,
    EbayTokenAuth,
    clear_seller_cache,
    known_seller,
    remember_seller,
)
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.oauth import clear_token_cache
from helpdesk.core.errors import ChannelError, InvalidCursor, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store

SAMPLES = Path(__file__).resolve().parents[2] / "infrastructure/local/samples/ebay"
BASE = "https://api.ebay.com"
SANDBOX = "https://api.sandbox.ebay.com"
NOW = datetime(2025, 3, 5, 12, 0, 0, tzinfo=UTC)
SELLER = "coffee-corner-de"
C1, C2, C3 = "1000000123456", "1000000123457", "1000000123460"
ORDER_ID = "12-11111-22222"
ORDER_PATH = f"/sell/fulfillment/v1/order/{ORDER_ID}"
SHIPPING_PATH = f"{ORDER_PATH}/shipping_fulfillment"
ORDERS_PATH = "/sell/fulfillment/v1/order"
SEND_PATH = "/commerce/message/v1/send_message"
CREDENTIALS = {
    "client_id": "CoffeeCo-Helpdesk-PRD-a1b2c3d4e-5f6a7b8c",
    "client_secret": "PRD-1b2c3d4e5f6a-7b8c-9d0e-1f2a-3b4c",
    "refresh_token": "v^1.1#i^1#r^1#f^0#I^3#p^3#t^Ul4xMF8xOjRBMjk3RjAzRjM1QkE1",
    "marketplace_id": "EBAY_DE",
}
STORE = Store(
    tenant_id="t1",
    store_id="ebay-de",
    channel=Channel.EBAY,
    display_name="Coffee Corner on eBay.de",
    secret_name="helpdesk/t1/ebay-de",
    created_at=NOW,
)


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(raw(name)))


PAGE_1, PAGE_2 = raw("conversations_page1.json"), raw("conversations_page2.json")
TOKEN = json.loads(raw("token.json"))["access_token"]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clear_token_cache()
    clear_seller_cache()
    yield
    clear_token_cache()
    clear_seller_cache()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post(TOKEN_PATH, name="token").mock(return_value=httpx.Response(200, content=raw("token.json")))
        yield router


@pytest.fixture
def seller_known() -> None:
    remember_seller(STORE, SELLER)


def http_client(sleeps: Sleeps | None = None) -> ChannelHttpClient:
    """Like CONNECTOR.client() but without real sleeping (rate limit and retry waits are recorded)."""
    auth = EbayTokenAuth(
        "test-store",
        token_url=BASE + TOKEN_PATH,
        client_id=CREDENTIALS["client_id"],
        client_secret=CREDENTIALS["client_secret"],
        refresh_token=CREDENTIALS["refresh_token"],
    )
    return ChannelHttpClient(
        BASE,
        channel="ebay",
        headers={"Accept": "application/json"},
        auth=auth,
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(1),
    )


def poll(cursor: str | None = None, http: ChannelHttpClient | None = None, now: datetime = NOW):
    with http or http_client() as client:
        return CONNECTOR.poll(STORE, client, cursor, now)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def message(
    message_id: str,
    created: str,
    sender: str = "kaffee_fan_84",
    recipient: str = SELLER,
    body: str = "Hello, any news?",
) -> dict[str, Any]:
    return {
        "createdDate": created,
        "messageBody": body,
        "messageId": message_id,
        "messageMedia": [],
        "readStatus": False,
        "recipientUsername": recipient,
        "senderUsername": sender,
        "subject": "Question",
    }


def summary(
    conversation_id: str,
    latest: str,
    *,
    buyer: str = "kaffee_fan_84",
    reference_type: str = "LISTING",
    reference_id: str = "110551983423",
) -> dict[str, Any]:
    return {
        "conversationId": conversation_id,
        "conversationStatus": "ACTIVE",
        "conversationTitle": "Question",
        "conversationType": "FROM_MEMBERS",
        "createdDate": latest,
        "latestMessage": message(f"{conversation_id}-m", latest, sender=buyer),
        "referenceId": reference_id,
        "referenceType": reference_type,
        "unreadCount": 1,
    }


def listing(
    conversations: list[dict[str, Any]],
    *,
    next_offset: int | None = None,
    total: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> httpx.Response:
    body: dict[str, Any] = {"conversations": conversations, "limit": limit, "offset": offset}
    if next_offset is not None:
        body["next"] = f"{BASE}{CONVERSATIONS_PATH}?conversation_type=FROM_MEMBERS&limit={limit}&offset={next_offset}"
    if total is not None:
        body["total"] = total
    return httpx.Response(200, json=body)


def thread(
    messages: list[dict[str, Any]],
    *,
    next_offset: int | None = None,
    total: int | None = None,
    limit: int = 50,
    offset: int = 0,
    title: str = "Question",
) -> httpx.Response:
    body: dict[str, Any] = {
        "conversationStatus": "ACTIVE",
        "conversationTitle": title,
        "conversationType": "FROM_MEMBERS",
        "limit": limit,
        "messages": messages,
        "offset": offset,
    }
    if next_offset is not None:
        body["next"] = f"{BASE}{CONVERSATIONS_PATH}/x?conversation_type=FROM_MEMBERS&limit={limit}&offset={next_offset}"
    if total is not None:
        body["total"] = total
    return httpx.Response(200, json=body)


def mock_samples(api: respx.MockRouter) -> respx.Route:
    listed = api.get(CONVERSATIONS_PATH).mock(
        side_effect=[httpx.Response(200, content=PAGE_1), httpx.Response(200, content=PAGE_2)]
    )
    for conversation_id in (C1, C2, C3):
        api.get(f"{CONVERSATIONS_PATH}/{conversation_id}", name=conversation_id).mock(
            return_value=httpx.Response(200, content=raw(f"conversation_{conversation_id}.json"))
        )
    return listed


def one_conversation(api: respx.MockRouter, conv: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    api.get(CONVERSATIONS_PATH).mock(return_value=listing([conv]))
    api.get(f"{CONVERSATIONS_PATH}/{conv['conversationId']}").mock(return_value=thread(messages))


def params(route: respx.Route, call: int = -1) -> dict[str, str]:
    return dict(route.calls[call].request.url.params)


# --- client and OAuth ---------------------------------------------------------------------------


def test_client_mints_a_user_token_from_the_refresh_token(api: respx.MockRouter) -> None:
    orders = api.get(ORDERS_PATH).mock(return_value=httpx.Response(200, content=raw("orders_limit1.json")))
    with CONNECTOR.client(STORE, CREDENTIALS) as http:
        assert isinstance(http._bucket, TokenBucket)
        assert (http._bucket.rate, http._bucket.burst) == (2.0, 4)
        http.get(ORDERS_PATH)
        http.get(ORDERS_PATH)
    assert api["token"].call_count == 1  # cached for the next call
    token_request = api["token"].calls.last.request
    basic = base64.b64encode(f"{CREDENTIALS['client_id']}:{CREDENTIALS['client_secret']}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token_request.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [CREDENTIALS["refresh_token"]],
        "scope": [" ".join(SCOPES)],
    }
    assert form["scope"][0].split() == [
        "https://api.ebay.com/oauth/api_scope/commerce.message",
        "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly",
    ]
    request = orders.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_DE"
    assert request.headers["Accept"] == "application/json"


def test_a_sandbox_store_gets_its_token_from_the_sandbox() -> None:
    store = STORE.model_copy(update={"base_url": SANDBOX + "/"})
    with respx.mock(base_url=SANDBOX) as router:
        token = router.post(TOKEN_PATH).mock(return_value=httpx.Response(200, content=raw("token.json")))
        orders = router.get(ORDERS_PATH).mock(return_value=httpx.Response(200, json={"orders": [], "total": 0}))
        with CONNECTOR.client(store, {**CREDENTIALS, "scopes": "https://api.ebay.com/oauth/api_scope"}) as http:
            http.get(ORDERS_PATH)
    assert token.call_count == 1 and orders.call_count == 1
    assert parse_qs(token.calls.last.request.content.decode())["scope"] == ["https://api.ebay.com/oauth/api_scope"]


@pytest.mark.parametrize("key", ["client_id", "client_secret", "refresh_token"])
def test_client_names_a_missing_credential(key: str) -> None:
    with pytest.raises(ChannelError, match=key) as missing:
        CONNECTOR.client(STORE, {**CREDENTIALS, key: " "})
    assert CREDENTIALS["client_secret"] not in missing.value.message


@pytest.mark.parametrize(
    ("base_url", "credentials"),
    [
        ("http://api.ebay.com", CREDENTIALS),
        (None, {**CREDENTIALS, "marketplace_id": "Germany"}),
    ],
)
def test_client_refuses_a_plain_http_base_url_and_a_bad_marketplace(
    base_url: str | None, credentials: dict[str, str]
) -> None:
    with pytest.raises(ChannelError):
        CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), credentials)


def test_a_configured_seller_username_is_remembered_for_the_store() -> None:
    CONNECTOR.client(STORE, {**CREDENTIALS, "seller_username": "Coffee-Corner-DE"}).close()
    assert known_seller(STORE) == "Coffee-Corner-DE"


def test_a_refused_refresh_token_is_a_channel_error_with_ebays_reason(api: respx.MockRouter) -> None:
    api["token"].mock(
        return_value=httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "the provided authorization refresh token is invalid or was issued to "
                "another client",
            },
        )
    )
    with pytest.raises(ChannelError, match="refresh token is invalid") as refused:
        poll()
    assert refused.value.details["status"] == 401
    assert CREDENTIALS["refresh_token"] not in refused.value.message


# --- polling: listing, messages, cursor ---------------------------------------------------------


@pytest.mark.usefixtures("seller_known")
def test_poll_reads_both_listing_pages_and_every_conversation(api: respx.MockRouter) -> None:
    listed = mock_samples(api)
    result = poll()
    assert listed.call_count == 2
    first, second = params(listed, 0), params(listed, 1)
    assert first == {
        "conversation_type": "FROM_MEMBERS",
        "start_time": "2025-02-26T11:58:00.000Z",
        "limit": "50",
        "offset": "0",
    }
    assert second["offset"] == "2"  # the offset of eBay's 'next' link
    assert second["start_time"] == first["start_time"]
    assert params(api[C1]) == {"conversation_type": "FROM_MEMBERS", "limit": "50", "offset": "0"}
    assert all(api[c].call_count == 1 for c in (C1, C2, C3))
    assert result.raw_pages == [PAGE_1, PAGE_2, *(raw(f"conversation_{c}.json") for c in (C1, C2, C3))]


@pytest.mark.usefixtures("seller_known")
def test_only_the_buyers_messages_become_inbound_messages(api: respx.MockRouter) -> None:
    mock_samples(api)
    messages = poll().messages
    assert [m.channel_message_id for m in messages] == [
        "2000000000001",
        "2000000000003",  # C1: the seller's answer between them is skipped
        "2000000000011",  # C2: the seller had the last word
        "2000000000020",
        "2000000000021",  # C3
    ]
    first = messages[0]
    assert (first.channel, first.tenant_id, first.store_id) == (Channel.EBAY, "t1", "ebay-de")
    assert first.channel_thread_id == C1
    assert first.subject == "Question about item: Espresso machine ESP8C stainless"
    assert first.body == "Hello, does the ESP8C come with the steam wand and a German plug?"
    assert first.buyer_name == "kaffee_fan_84"
    assert first.received_at == datetime(2025, 3, 4, 8, 2, 11, tzinfo=UTC)
    assert first.order_ref is None  # a LISTING reference is an item, not an order
    assert first.attachments == []
    media_only = messages[-1]
    assert media_only.body == "(no text; attachments: grinder-box.jpg)"
    assert media_only.attachments == []  # media are neither downloaded nor linked


@pytest.mark.usefixtures("seller_known")
def test_the_cursor_advances_to_the_newest_conversation_activity(api: respx.MockRouter) -> None:
    mock_samples(api)
    assert poll(cursor="2025-03-01T00:00:00Z").next_cursor == "2025-03-05T07:31:20Z"


@pytest.mark.usefixtures("seller_known")
def test_start_time_is_sent_two_minutes_before_the_cursor(api: respx.MockRouter) -> None:
    listed = api.get(CONVERSATIONS_PATH).mock(return_value=listing([]))
    result = poll(cursor="2025-03-05T09:00:00.123456Z")
    assert params(listed)["start_time"] == "2025-03-05T08:58:00.123Z"
    assert result.next_cursor == "2025-03-05T09:00:00.123456Z" and result.messages == []


@pytest.mark.usefixtures("seller_known")
def test_a_first_poll_looks_back_seven_days_and_an_empty_answer_keeps_no_cursor(api: respx.MockRouter) -> None:
    listed = api.get(CONVERSATIONS_PATH).mock(return_value=httpx.Response(200, json={"total": 0, "limit": 50}))
    result = poll(cursor=None)
    assert params(listed)["start_time"] == "2025-02-26T11:58:00.000Z"
    assert result.next_cursor is None and result.messages == [] and result.raw_pages


@pytest.mark.usefixtures("seller_known")
def test_the_cursor_never_moves_backwards(api: respx.MockRouter) -> None:
    one_conversation(api, summary("c1", "2025-03-05T09:00:00.000Z"), [message("m1", "2025-03-05T09:00:00.000Z")])
    assert poll(cursor="2025-03-05T09:00:00Z").next_cursor == "2025-03-05T09:00:00Z"
    assert poll(cursor="2025-03-05T09:01:30Z").next_cursor == "2025-03-05T09:01:30Z"  # fetched again (overlap)


@pytest.mark.usefixtures("seller_known")
def test_messages_from_before_the_window_are_not_imported_again(api: respx.MockRouter) -> None:
    one_conversation(
        api,
        summary("c1", "2025-03-05T09:00:00.000Z"),
        [
            message("old", "2025-03-05T07:00:00.000Z"),
            message("overlap", "2025-03-05T07:50:00.000Z"),  # within the 15 minutes before the cursor
            message("new", "2025-03-05T09:00:00.000Z"),
        ],
    )
    assert [m.channel_message_id for m in poll(cursor="2025-03-05T08:00:00Z").messages] == ["overlap", "new"]


@pytest.mark.usefixtures("seller_known")
def test_html_bodies_are_reduced_to_text(api: respx.MockRouter) -> None:
    one_conversation(
        api,
        summary("c1", "2025-03-05T09:00:00.000Z"),
        [
            message(
                "m1",
                "2025-03-05T09:00:00.000Z",
                body="<div><p>Hallo,</p><p>wo bleibt <b>meine</b> Bestellung?<br>Danke &amp; Gru&szlig;</p></div>",
            )
        ],
    )
    [inbound] = poll().messages
    assert inbound.body == "Hallo,\n\nwo bleibt meine Bestellung?\nDanke & Gruß"


@pytest.mark.usefixtures("seller_known")
def test_a_plain_body_with_angle_brackets_is_kept_as_sent(api: respx.MockRouter) -> None:
    text = "Is the price <50 EUR> with shipping? a<b is fine"
    one_conversation(
        api, summary("c1", "2025-03-05T09:00:00.000Z"), [message("m1", "2025-03-05T09:00:00.000Z", body=text)]
    )
    assert poll().messages[0].body == text


@pytest.mark.usefixtures("seller_known")
def test_an_ascending_listing_cut_short_moves_the_cursor_to_the_newest_fetched(api: respx.MockRouter) -> None:
    start = at("2025-03-01T00:00:00+00:00")

    def endless(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return listing(
            [summary(f"c{offset}", (start + timedelta(hours=offset)).isoformat())],
            next_offset=offset + 1,
            limit=1,
            offset=offset,
        )

    listed = api.get(CONVERSATIONS_PATH).mock(side_effect=endless)
    api.get(path__regex=r"^/commerce/message/v1/conversation/c\d+$").mock(
        side_effect=lambda request: thread(
            [message(request.url.path.rsplit("/", 1)[1] + "-m1", "2025-03-01T00:00:00.000Z")]
        )
    )
    result = poll(cursor="2025-02-28T00:00:00Z")
    assert listed.call_count == MAX_PAGES == 6
    assert [params(listed, i)["offset"] for i in range(6)] == ["0", "1", "2", "3", "4", "5"]
    assert result.next_cursor == "2025-03-01T05:00:00Z"  # conversation 5, the newest read


@pytest.mark.usefixtures("seller_known")
def test_a_newest_first_listing_too_long_to_read_is_read_from_its_oldest_end(api: respx.MockRouter) -> None:
    newest, total = at("2025-03-05T10:00:00+00:00"), 40

    def newest_first(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        items = [
            summary(f"c{i}", (newest - timedelta(minutes=10 * i)).isoformat())
            for i in range(offset, min(offset + 2, total))
        ]
        return listing(
            items, next_offset=offset + 2 if offset + 2 < total else None, total=total, limit=2, offset=offset
        )

    listed = api.get(CONVERSATIONS_PATH).mock(side_effect=newest_first)
    api.get(path__regex=r"^/commerce/message/v1/conversation/c\d+$").mock(return_value=thread([]))
    result = poll(cursor="2025-03-04T00:00:00Z")
    assert [params(listed, i)["offset"] for i in range(listed.call_count)] == ["0", "30", "32", "34", "36", "38"]
    assert result.next_cursor == (newest - timedelta(minutes=300)).isoformat().replace("+00:00", "Z")  # c30


@pytest.mark.usefixtures("seller_known")
def test_a_listing_cut_short_in_no_usable_order_keeps_the_cursor(api: respx.MockRouter) -> None:
    newest = at("2025-03-05T10:00:00+00:00")

    def newest_first_without_total(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        items = [summary(f"c{i}", (newest - timedelta(minutes=i)).isoformat()) for i in (offset, offset + 1)]
        return listing(items, next_offset=offset + 2, limit=2, offset=offset)

    api.get(CONVERSATIONS_PATH).mock(side_effect=newest_first_without_total)
    api.get(path__regex=r"^/commerce/message/v1/conversation/c\d+$").mock(return_value=thread([]))
    assert poll(cursor="2025-03-04T00:00:00Z").next_cursor == "2025-03-04T00:00:00Z"


@pytest.mark.usefixtures("seller_known")
def test_newest_first_message_pages_are_followed_until_the_window(api: respx.MockRouter) -> None:
    conv = summary("c1", "2025-03-05T09:30:00.000Z")
    api.get(CONVERSATIONS_PATH).mock(return_value=listing([conv]))
    pages = api.get(f"{CONVERSATIONS_PATH}/c1").mock(
        side_effect=[
            thread(
                [message("m5", "2025-03-05T09:30:00.000Z"), message("m4", "2025-03-05T09:10:00.000Z")],
                next_offset=2,
                limit=2,
            ),
            thread(
                [message("m3", "2025-03-05T08:55:00.000Z"), message("m2", "2025-03-04T08:00:00.000Z")],
                next_offset=4,
                limit=2,
                offset=2,
            ),
        ]
    )
    result = poll(cursor="2025-03-05T09:00:00Z")
    assert pages.call_count == 2  # m2 is older than the window: no third page
    assert [params(pages, i)["offset"] for i in range(2)] == ["0", "2"]
    assert [m.channel_message_id for m in result.messages] == ["m3", "m4", "m5"]  # oldest first
    assert result.next_cursor == "2025-03-05T09:30:00Z"


@pytest.mark.usefixtures("seller_known")
def test_a_conversation_with_too_many_new_pages_keeps_the_cursor(api: respx.MockRouter) -> None:
    latest = at("2025-03-05T11:00:00+00:00")
    api.get(CONVERSATIONS_PATH).mock(return_value=listing([summary("c1", latest.isoformat())]))

    def newest_first(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return thread(
            [message(f"m{i}", (latest - timedelta(minutes=i)).isoformat()) for i in (offset, offset + 1)],
            next_offset=offset + 2,
            limit=2,
            offset=offset,
        )

    pages = api.get(f"{CONVERSATIONS_PATH}/c1").mock(side_effect=newest_first)
    result = poll(cursor="2025-03-05T09:00:00Z")
    assert pages.call_count == 5  # MAX_MESSAGE_PAGES, all inside the window
    assert len(result.messages) == 10
    assert result.next_cursor == "2025-03-05T09:00:00Z"  # the older new messages are fetched next time


@pytest.mark.usefixtures("seller_known")
def test_oldest_first_message_pages_are_read_backwards_from_the_last(api: respx.MockRouter) -> None:
    conv = summary("c1", "2025-03-05T09:40:00.000Z")
    api.get(CONVERSATIONS_PATH).mock(return_value=listing([conv]))
    pages = api.get(f"{CONVERSATIONS_PATH}/c1").mock(
        side_effect=[
            thread(
                [message("m1", "2025-02-01T08:00:00.000Z"), message("m2", "2025-02-02T08:00:00.000Z")],
                next_offset=2,
                total=5,
                limit=2,
            ),
            thread([message("m5", "2025-03-05T09:40:00.000Z")], total=5, limit=2, offset=4),
            thread(
                [message("m3", "2025-02-03T08:00:00.000Z"), message("m4", "2025-03-05T09:20:00.000Z")],
                next_offset=4,
                total=5,
                limit=2,
                offset=2,
            ),
        ]
    )
    result = poll(cursor="2025-03-05T09:00:00Z")
    assert [params(pages, i)["offset"] for i in range(pages.call_count)] == ["0", "4", "2"]
    assert [m.channel_message_id for m in result.messages] == ["m4", "m5"]
    assert result.next_cursor == "2025-03-05T09:40:00Z"


@pytest.mark.usefixtures("seller_known")
def test_a_conversation_deleted_meanwhile_is_skipped(api: respx.MockRouter) -> None:
    api.get(CONVERSATIONS_PATH).mock(
        return_value=listing([summary("gone", "2025-03-05T09:00:00.000Z"), summary("c2", "2025-03-05T09:10:00.000Z")])
    )
    api.get(f"{CONVERSATIONS_PATH}/gone").mock(
        return_value=httpx.Response(
            400,
            json={
                "errors": [
                    {
                        "errorId": 355007,
                        "domain": "API_MESSAGE",
                        "category": "REQUEST",
                        "message": "Invalid or unrecognized conversation_id value.",
                    }
                ]
            },
        )
    )
    api.get(f"{CONVERSATIONS_PATH}/c2").mock(return_value=thread([message("m", "2025-03-05T09:10:00.000Z")]))
    result = poll()
    assert [m.channel_thread_id for m in result.messages] == ["c2"]
    assert result.next_cursor == "2025-03-05T09:10:00Z"


def test_a_cursor_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        poll(cursor="offset-50")


# --- who wrote a message ------------------------------------------------------------------------


def test_the_seller_is_the_member_common_to_all_conversations(api: respx.MockRouter) -> None:
    mock_samples(api)
    orders = api.get(ORDERS_PATH)
    messages = poll().messages
    assert len(messages) == 5 and all(m.buyer_name != SELLER for m in messages)
    assert orders.call_count == 0
    assert known_seller(STORE) == SELLER.casefold()


def test_with_one_conversation_the_seller_comes_from_the_newest_order(api: respx.MockRouter) -> None:
    one_conversation(
        api,
        summary("c1", "2025-03-05T09:00:00.000Z"),
        [
            message("q", "2025-03-05T08:00:00.000Z"),
            message("a", "2025-03-05T08:30:00.000Z", sender=SELLER, recipient="kaffee_fan_84"),
        ],
    )
    orders = api.get(ORDERS_PATH).mock(return_value=httpx.Response(200, content=raw("orders_limit1.json")))
    result = poll()
    assert [m.channel_message_id for m in result.messages] == ["q"]
    assert params(orders) == {"limit": "1"}
    assert raw("orders_limit1.json") in result.raw_pages
    assert known_seller(STORE) == SELLER
    poll()
    assert orders.call_count == 1  # remembered


def test_without_any_way_to_tell_the_seller_the_poll_fails_clearly(api: respx.MockRouter) -> None:
    one_conversation(api, summary("c1", "2025-03-05T09:00:00.000Z"), [message("q", "2025-03-05T08:00:00.000Z")])
    api.get(ORDERS_PATH).mock(return_value=httpx.Response(200, json={"orders": [], "total": 0}))
    with pytest.raises(ChannelError, match="seller_username"):
        poll()


def test_the_seller_username_comparison_ignores_case(api: respx.MockRouter) -> None:
    remember_seller(STORE, "Coffee-Corner-DE")
    one_conversation(
        api,
        summary("c1", "2025-03-05T09:00:00.000Z"),
        [message("a", "2025-03-05T08:30:00.000Z", sender=SELLER, recipient="kaffee_fan_84")],
    )
    assert poll().messages == []


# --- orders -------------------------------------------------------------------------------------


def mock_order(api: respx.MockRouter, order: dict[str, Any] | None = None) -> tuple[respx.Route, respx.Route]:
    body = json.dumps(order).encode() if order is not None else raw(f"order_{ORDER_ID}.json")
    return (
        api.get(ORDER_PATH).mock(return_value=httpx.Response(200, content=body)),
        api.get(SHIPPING_PATH).mock(
            return_value=httpx.Response(200, content=raw(f"shipping_fulfillments_{ORDER_ID}.json"))
        ),
    )


def fetch(order_ref: str = ORDER_ID, sleeps: Sleeps | None = None):
    with http_client(sleeps) as http:
        return CONNECTOR.fetch_order(STORE, http, order_ref)


def test_fetch_order_maps_the_order_and_its_shipment(api: respx.MockRouter) -> None:
    order_route, shipping_route = mock_order(api)
    order = fetch()
    assert order_route.call_count == 1 and shipping_route.call_count == 1
    assert (order.channel, order.order_ref) == (Channel.EBAY, ORDER_ID)
    assert (order.tenant_id, order.store_id) == ("t1", "ebay-de")
    assert order.status == OrderStatus.SHIPPED
    assert order.channel_status == "FULFILLED/PAID/NONE_REQUESTED"
    assert order.currency == "EUR"
    assert order.total == Decimal("64.79") and isinstance(order.total, Decimal)
    assert order.buyer_email == "c8a7f2b1e3d4@members.ebay.com"
    assert order.buyer_name == "Martina Schulz"
    assert (order.carrier, order.tracking_number, order.tracking_url) == ("DHL", "00340434161234567890", None)
    assert order.ordered_at == datetime(2025, 3, 3, 14, 21, 5, tzinfo=UTC)
    assert order.shipped_at == datetime(2025, 3, 4, 16, 2, 40, tzinfo=UTC)
    assert order.updated_at == datetime(2025, 3, 4, 16, 2, 44, tzinfo=UTC)
    assert order.delivered_at is None
    [item] = order.items
    assert (item.sku, item.name, item.quantity) == ("MF-200-BLK", "Milk frother MF-200, black, 2 pieces", 2)
    assert (item.unit_price, item.total) == (Decimal("29.90"), Decimal("64.79"))


def test_fetch_order_reads_the_estimated_delivery_window(api: respx.MockRouter) -> None:
    mock_order(api)
    order = fetch()
    assert order.delivery_earliest == datetime(2025, 3, 5, 23, 0, 0, tzinfo=UTC)  # minEstimatedDeliveryDate
    assert order.delivery_latest == datetime(2025, 3, 7, 23, 0, 0, tzinfo=UTC)  # maxEstimatedDeliveryDate


def test_the_delivery_window_spans_every_line(api: respx.MockRouter) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    second = copy.deepcopy(order["lineItems"][0])
    second["lineItemId"] = "10058912345602"
    second["lineItemFulfillmentInstructions"].update(
        minEstimatedDeliveryDate="2025-03-06T23:00:00.000Z", maxEstimatedDeliveryDate="2025-03-10T23:00:00.000Z"
    )
    order["lineItems"].append(second)
    order["fulfillmentStartInstructions"][0].update(
        minEstimatedDeliveryDate="2025-03-01T23:00:00.000Z", maxEstimatedDeliveryDate="2025-03-02T23:00:00.000Z"
    )
    mock_order(api, order)
    found = fetch()
    assert found.delivery_earliest == datetime(2025, 3, 5, 23, 0, 0, tzinfo=UTC)
    assert found.delivery_latest == datetime(2025, 3, 10, 23, 0, 0, tzinfo=UTC)


def test_without_line_estimates_the_fulfillment_start_instructions_give_the_window(api: respx.MockRouter) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    del order["lineItems"][0]["lineItemFulfillmentInstructions"]
    order["fulfillmentStartInstructions"][0].update(
        minEstimatedDeliveryDate="2025-03-06T08:00:00.000Z", maxEstimatedDeliveryDate="2025-03-08T18:30:00.000Z"
    )
    mock_order(api, order)
    found = fetch()
    assert found.delivery_earliest == datetime(2025, 3, 6, 8, 0, 0, tzinfo=UTC)
    assert found.delivery_latest == datetime(2025, 3, 8, 18, 30, 0, tzinfo=UTC)


def test_an_order_without_any_estimate_has_no_delivery_window(api: respx.MockRouter) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    del order["lineItems"][0]["lineItemFulfillmentInstructions"]
    del order["fulfillmentStartInstructions"]
    mock_order(api, order)
    found = fetch()
    assert (found.delivery_earliest, found.delivery_latest) == (None, None)


@pytest.mark.parametrize(
    "damage",
    [
        lambda o: o["lineItems"][0].update(lineItemFulfillmentInstructions="soon"),
        lambda o: o["lineItems"][0]["lineItemFulfillmentInstructions"].update(maxEstimatedDeliveryDate="next week"),
        lambda o: (
            o["lineItems"][0].pop("lineItemFulfillmentInstructions"),
            o.update(fulfillmentStartInstructions="SHIP_TO"),
        ),
    ],
)
def test_a_delivery_window_of_the_wrong_shape_is_malformed(api: respx.MockRouter, damage: Any) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    damage(order)
    mock_order(api, order)
    with pytest.raises(MalformedPayload, match=f"eBay order {ORDER_ID} could not be read"):
        fetch()


def test_an_order_without_shipments_is_not_asked_for_them(api: respx.MockRouter) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    order.update(fulfillmentHrefs=[], orderFulfillmentStatus="NOT_STARTED")
    order["buyer"]["buyerRegistrationAddress"].pop("email")
    order["buyer"]["buyerRegistrationAddress"].pop("fullName")
    _, shipping_route = mock_order(api, order)
    found = fetch()
    assert shipping_route.call_count == 0
    assert (found.carrier, found.tracking_number, found.shipped_at) == (None, None, None)
    assert found.status == OrderStatus.PROCESSING
    assert found.buyer_email is None and found.buyer_name == "m.schulz-berlin"  # the username, past 90 days


@pytest.mark.parametrize(
    ("fulfilment", "payment", "cancel", "status", "event_type"),
    [
        ("NOT_STARTED", "PENDING", "NONE_REQUESTED", OrderStatus.PENDING, OrderEventType.UPDATED),
        ("NOT_STARTED", "PAID", "NONE_REQUESTED", OrderStatus.PROCESSING, OrderEventType.UPDATED),
        ("IN_PROGRESS", "PAID", "NONE_REQUESTED", OrderStatus.PROCESSING, OrderEventType.UPDATED),
        ("FULFILLED", "PAID", "NONE_REQUESTED", OrderStatus.SHIPPED, OrderEventType.UPDATED),
        ("FULFILLED", "PARTIALLY_REFUNDED", "NONE_REQUESTED", OrderStatus.SHIPPED, OrderEventType.UPDATED),
        ("FULFILLED", "FULLY_REFUNDED", "NONE_REQUESTED", OrderStatus.REFUNDED, OrderEventType.UPDATED),
        ("NOT_STARTED", "FAILED", "NONE_REQUESTED", OrderStatus.FAILED, OrderEventType.UPDATED),
        ("NOT_STARTED", "PAID", "IN_PROGRESS", OrderStatus.PROCESSING, OrderEventType.CANCELLATION_REQUESTED),
        ("NOT_STARTED", "FULLY_REFUNDED", "CANCELED", OrderStatus.CANCELLED, OrderEventType.CANCELLED),
        ("SOMETHING_NEW", "PAID", "NONE_REQUESTED", OrderStatus.UNKNOWN, OrderEventType.UPDATED),
    ],
)
@pytest.mark.usefixtures("seller_known")
def test_order_states_map_to_status_and_event_type(
    api: respx.MockRouter, fulfilment: str, payment: str, cancel: str, status: OrderStatus, event_type: OrderEventType
) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    order.update(
        orderFulfillmentStatus=fulfilment,
        orderPaymentStatus=payment,
        cancelStatus={"cancelState": cancel, "cancelRequests": []},
    )
    mock_order(api, order)
    one_conversation(
        api,
        summary("c1", "2025-03-05T09:00:00.000Z", reference_type="ORDER", reference_id=ORDER_ID),
        [message("m1", "2025-03-05T09:00:00.000Z")],
    )
    [event] = poll().order_events
    assert (event.order.status, event.event_type) == (status, event_type)
    assert event.order.channel_status == f"{fulfilment}/{payment}/{cancel}"


@pytest.mark.parametrize(
    ("initiator", "event_type"),
    [
        ("Buyer", OrderEventType.CANCELLATION_REQUESTED),
        ("Seller", OrderEventType.UPDATED),
    ],
)
@pytest.mark.usefixtures("seller_known")
def test_only_a_buyers_pending_cancellation_is_a_cancellation_request(
    api: respx.MockRouter, initiator: str, event_type: OrderEventType
) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    order.update(
        orderFulfillmentStatus="NOT_STARTED",
        cancelStatus={
            "cancelState": "IN_PROGRESS",
            "cancelRequests": [
                {
                    "cancelInitiator": initiator,
                    "cancelReason": "BUYER_ASKED_CANCEL",
                    "cancelRequestId": "5000123456",
                    "cancelRequestState": "REQUESTED",
                    "cancelRequestedDate": "2025-03-04T15:00:00.000Z",
                }
            ],
        },
    )
    mock_order(api, order)
    one_conversation(
        api,
        summary("c1", "2025-03-05T09:00:00.000Z", reference_type="ORDER", reference_id=ORDER_ID),
        [message("m1", "2025-03-05T09:00:00.000Z")],
    )
    [event] = poll().order_events
    assert event.event_type == event_type


@pytest.mark.usefixtures("seller_known")
def test_an_order_reference_links_the_message_and_adds_an_order_event(api: respx.MockRouter) -> None:
    order_route, _ = mock_order(api)
    one_conversation(
        api,
        summary("c1", "2025-03-05T09:00:00.000Z", reference_type="ORDER", reference_id=ORDER_ID),
        [message("m1", "2025-03-05T09:00:00.000Z")],
    )
    result = poll()
    assert result.messages[0].order_ref == ORDER_ID
    [event] = result.order_events
    assert event.event_type == OrderEventType.UPDATED
    assert event.event_id == f"getorder:{ORDER_ID}:2025-03-04T16:02:44.000Z"
    assert event.occurred_at == datetime(2025, 3, 4, 16, 2, 44, tzinfo=UTC)
    assert event.order.tracking_number == "00340434161234567890"
    assert raw(f"order_{ORDER_ID}.json") in result.raw_pages
    assert raw(f"shipping_fulfillments_{ORDER_ID}.json") in result.raw_pages
    assert order_route.call_count == 1


@pytest.mark.usefixtures("seller_known")
def test_order_lookups_are_bounded_per_poll(api: respx.MockRouter) -> None:
    refs = [f"12-00000-{n:05d}" for n in range(MAX_ORDER_LOOKUPS + 2)]
    conversations = [
        summary(f"c{n}", f"2025-03-05T09:0{n}:00.000Z", reference_type="ORDER", reference_id=ref)
        for n, ref in enumerate(refs)
    ]
    api.get(CONVERSATIONS_PATH).mock(return_value=listing(conversations))
    api.get(path__regex=r"^/commerce/message/v1/conversation/c\d+$").mock(return_value=thread([]))
    orders = api.get(path__regex=r"^/sell/fulfillment/v1/order/12-00000-\d+$").mock(return_value=httpx.Response(404))
    result = poll()
    assert orders.call_count == MAX_ORDER_LOOKUPS == 5
    assert result.order_events == []  # none found: no event, no failure


def test_an_unknown_order_is_none(api: respx.MockRouter) -> None:
    api.get("/sell/fulfillment/v1/order/99-99999-99999").mock(return_value=httpx.Response(404))
    api.get("/sell/fulfillment/v1/order/12-345").mock(
        return_value=httpx.Response(400, content=raw("error_404_order.json"))
    )
    assert fetch("99-99999-99999") is None
    assert fetch("12-345") is None  # eBay's 400 "Invalid order ID" (errorId 32100)


def test_an_order_lookup_that_fails_is_a_channel_error(api: respx.MockRouter) -> None:
    route = api.get(ORDER_PATH).mock(
        return_value=httpx.Response(
            500,
            json={
                "errors": [
                    {
                        "errorId": 30500,
                        "domain": "API_FULFILLMENT",
                        "category": "APPLICATION",
                        "message": "System error",
                    }
                ]
            },
        )
    )
    sleeps = Sleeps()
    with pytest.raises(ChannelError) as failed:
        fetch(sleeps=sleeps)
    assert failed.value.details["status"] == 500
    assert route.call_count == 5 and len(sleeps) == 4  # a GET is retried with backoff


def test_an_order_lookup_refused_is_a_channel_error_with_ebays_message(api: respx.MockRouter) -> None:
    api.get(ORDER_PATH).mock(
        return_value=httpx.Response(
            401,
            json={
                "errors": [
                    {
                        "errorId": 1001,
                        "domain": "OAuth",
                        "category": "REQUEST",
                        "message": "Invalid access token",
                        "longMessage": "Invalid access token. Check the value of the Authorization HTTP request "
                        "header.",
                    }
                ]
            },
        )
    )
    with pytest.raises(ChannelError, match="1001: Invalid access token") as refused:
        fetch()
    assert refused.value.details["status"] == 401
    assert api["token"].call_count == 2  # a 401 fetches a new token once


def test_an_order_of_the_wrong_shape_is_malformed(api: respx.MockRouter) -> None:
    order = sample(f"order_{ORDER_ID}.json")
    order["pricingSummary"]["total"]["value"] = "lots"
    mock_order(api, order)
    with pytest.raises(MalformedPayload, match=ORDER_ID):
        fetch()


# --- replies ------------------------------------------------------------------------------------


def reply(body: str, thread_id: str = C1, sleeps: Sleeps | None = None) -> str:
    with http_client(sleeps) as http:
        return CONNECTOR.send_reply(STORE, http, thread_id, body)


def test_a_reply_is_sent_into_the_conversation(api: respx.MockRouter) -> None:
    route = api.post(SEND_PATH).mock(return_value=httpx.Response(201, content=raw("send_message_created.json")))
    text = "Hello, yes: we can ship to a DHL Packstation. Please add your Postnummer to the address."
    assert reply(text) == "2000000000031"
    request = route.calls.last.request
    assert json.loads(request.content) == {"conversationId": C1, "messageText": text}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_reply_of_2000_characters_is_sent_and_a_longer_one_is_not(api: respx.MockRouter) -> None:
    route = api.post(SEND_PATH).mock(return_value=httpx.Response(201, content=raw("send_message_created.json")))
    reply("x" * 2000)
    with pytest.raises(ChannelError, match="at most 2000 characters, not 2001"):
        reply("x" * 2001)
    with pytest.raises(ChannelError, match="needs some text"):
        reply("  \n ")
    assert route.call_count == 1


def test_a_reply_refused_by_ebay_quotes_its_error(api: respx.MockRouter) -> None:
    api.post(SEND_PATH).mock(return_value=httpx.Response(400, content=raw("error_355013.json")))
    with pytest.raises(ChannelError, match="355013: The messageText string exceeds") as refused:
        reply("Thanks for your patience.")
    assert refused.value.details["status"] == 400


def test_a_reply_is_never_sent_twice_after_a_5xx(api: respx.MockRouter) -> None:
    route = api.post(SEND_PATH).mock(return_value=httpx.Response(503))
    with pytest.raises(ChannelError):
        reply("Thanks for your patience.")
    assert route.call_count == 1


def test_a_reply_answer_without_message_id_is_malformed(api: respx.MockRouter) -> None:
    body = sample("send_message_created.json")
    del body["messageId"]
    api.post(SEND_PATH).mock(return_value=httpx.Response(201, json=body))
    with pytest.raises(MalformedPayload, match="messageId"):
        reply("Thanks for your patience.")


def test_a_reply_needs_the_conversation_id(api: respx.MockRouter) -> None:
    with pytest.raises(ChannelError, match="conversation id"):
        reply("Thanks.", thread_id="")


# --- check_credentials --------------------------------------------------------------------------


def test_check_credentials_labels_the_account_with_the_sellers_username(api: respx.MockRouter) -> None:
    conversations = api.get(CONVERSATIONS_PATH).mock(return_value=httpx.Response(200, content=PAGE_1))
    orders = api.get(ORDERS_PATH).mock(return_value=httpx.Response(200, content=raw("orders_limit1.json")))
    with http_client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == SELLER
    assert params(conversations) == {"conversation_type": "FROM_MEMBERS", "limit": "1"}
    assert params(orders) == {"limit": "1"}
    assert known_seller(STORE) == SELLER


def test_check_credentials_refused_is_a_channel_error(api: respx.MockRouter) -> None:
    api.get(CONVERSATIONS_PATH).mock(
        return_value=httpx.Response(
            403,
            json={
                "errors": [
                    {
                        "errorId": 1100,
                        "domain": "ACCESS",
                        "category": "REQUEST",
                        "message": "Access denied",
                        "longMessage": "Insufficient permissions to fulfill the request.",
                    }
                ]
            },
        )
    )
    with http_client() as http, pytest.raises(ChannelError, match="1100: Access denied") as refused:
        CONNECTOR.check_credentials(STORE, http)
    assert refused.value.details["status"] == 403


# --- HTTP failures and bad payloads -------------------------------------------------------------


@pytest.mark.usefixtures("seller_known")
def test_429_is_retried_after_the_retry_after_delay(api: respx.MockRouter) -> None:
    listed = api.get(CONVERSATIONS_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), listing([])]
    )
    sleeps = Sleeps()
    result = poll(cursor="2025-03-05T09:00:00Z", http=http_client(sleeps))
    assert listed.call_count == 2 and sleeps == [7.0]
    assert result.next_cursor == "2025-03-05T09:00:00Z"


@pytest.mark.usefixtures("seller_known")
def test_a_listing_failure_is_a_channel_error(api: respx.MockRouter) -> None:
    api.get(CONVERSATIONS_PATH).mock(
        return_value=httpx.Response(
            400,
            json={
                "errors": [
                    {
                        "errorId": 355005,
                        "domain": "API_MESSAGE",
                        "category": "REQUEST",
                        "message": "Invalid date format used for one or both date filters.",
                    }
                ]
            },
        )
    )
    with pytest.raises(ChannelError, match="getConversations failed: HTTP 400: 355005"):
        poll()


@pytest.mark.usefixtures("seller_known")
def test_invalid_json_is_malformed(api: respx.MockRouter) -> None:
    api.get(CONVERSATIONS_PATH).mock(return_value=httpx.Response(200, content=b"<html>maintenance</html>"))
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        poll()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"conversations": {}},
        {"conversations": ["1000000123456"]},
        {"conversations": [{"conversationTitle": "no id"}]},
        {"conversations": [{"conversationId": "c1", "latestMessage": {"createdDate": "yesterday"}}]},
        {"conversations": [{"conversationId": "c1", "latestMessage": "hello"}]},
        {"conversations": [], "next": 2},
        {"conversations": [], "total": "3"},
    ],
)
@pytest.mark.usefixtures("seller_known")
def test_a_listing_of_the_wrong_shape_is_malformed(api: respx.MockRouter, body: Any) -> None:
    api.get(CONVERSATIONS_PATH).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload):
        poll()


def _without_message_id(m: dict[str, Any]) -> None:
    del m["messageId"]


def _bad_date(m: dict[str, Any]) -> None:
    m["createdDate"] = "04.03.2025"


def _without_sender(m: dict[str, Any]) -> None:
    del m["senderUsername"]


def _body_not_text(m: dict[str, Any]) -> None:
    m["messageBody"] = {"html": "<p>hi</p>"}


@pytest.mark.parametrize("damage", [_without_message_id, _bad_date, _without_sender, _body_not_text])
@pytest.mark.usefixtures("seller_known")
def test_a_message_of_the_wrong_shape_is_malformed(api: respx.MockRouter, damage: Any) -> None:
    bad = message("m1", "2025-03-05T09:00:00.000Z")
    damage(bad)
    one_conversation(api, summary("c1", "2025-03-05T09:00:00.000Z"), [bad])
    with pytest.raises(MalformedPayload):
        poll()


@pytest.mark.usefixtures("seller_known")
def test_messages_that_are_not_a_list_are_malformed(api: respx.MockRouter) -> None:
    api.get(CONVERSATIONS_PATH).mock(return_value=listing([summary("c1", "2025-03-05T09:00:00.000Z")]))
    api.get(f"{CONVERSATIONS_PATH}/c1").mock(return_value=httpx.Response(200, json={"messages": "none"}))
    with pytest.raises(MalformedPayload, match="'messages' is not a list"):
        poll()
