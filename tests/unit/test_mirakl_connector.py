"""Mirakl connector: inbox polling (M11), the orders threads are about (OR11) and replies (M12),
on respx-mocked HTTP with the documented payloads under infrastructure/local/samples/mirakl."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helpdesk.channels import poll_connector
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.mirakl import CONNECTOR, MAX_PAGES, MiraklConnector
from helpdesk.core.errors import ChannelError, InvalidCursor, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store

SAMPLES = Path(__file__).resolve().parents[2] / "infrastructure/local/samples/mirakl"
BASE = "https://marketplace.example.com"
THREADS = f"{BASE}/api/inbox/threads"
ORDERS = f"{BASE}/api/orders"
API_KEY = "8b3a0ad5-2a6b-4d6f-9d5e-0c1f2e3d4a5b"
NOW = datetime(2019, 4, 5, 12, 0, 0, tzinfo=UTC)
THREAD_1 = "702c3e56-dcca-41e2-b6bd-72ba3fa809be"
ORDER_ID = "Order_00010-A"
STORE = Store(
    tenant_id="t1",
    store_id="mirakl-us",
    channel=Channel.MIRAKL,
    display_name="Coffee Corner on Marketplace US",
    base_url=BASE,
    secret_name="helpdesk/t1/mirakl-us",
    created_at=NOW,
)


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(raw(name)))


PAGE_1, PAGE_2, ORDERS_BODY = raw("m11_threads_page1.json"), raw("m11_threads_page2.json"), raw("or11_orders.json")
TOKEN_1 = json.loads(PAGE_1)["next_page_token"]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def http_client(sleeps: Sleeps | None = None) -> ChannelHttpClient:
    """Like CONNECTOR.client() but without real sleeping (rate limit and retry waits are recorded)."""
    return ChannelHttpClient(
        BASE,
        channel="mirakl",
        headers={"Authorization": API_KEY, "Accept": "application/json"},
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(1),
    )


def mock_two_pages() -> tuple[respx.Route, respx.Route]:
    threads = respx.get(THREADS).mock(
        side_effect=[httpx.Response(200, content=PAGE_1), httpx.Response(200, content=PAGE_2)]
    )
    orders = respx.get(ORDERS).mock(return_value=httpx.Response(200, content=ORDERS_BODY))
    return threads, orders


def page(threads: list[dict[str, Any]], token: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"data": threads}
    if token:
        body["next_page_token"] = token
    return httpx.Response(200, json=body)


def thread(thread_id: str, updated: str, *, sender: str = "CUSTOMER_USER", order: str | None = None) -> dict[str, Any]:
    return {
        "id": thread_id,
        "date_created": updated,
        "date_updated": updated,
        "entities": [{"id": order, "label": order, "type": "MMP_ORDER"}] if order else [],
        "topic": {"type": "FREE_TEXT", "value": "Question"},
        "messages": [
            {
                "id": f"{thread_id}-m",
                "body": "Hello, any news?",
                "date_created": updated,
                "from": {"type": sender, "display_name": "Buyer"},
                "to": [{"type": "SHOP"}],
                "attachments": [],
            }
        ],
    }


def poll(cursor: str | None = None, http: ChannelHttpClient | None = None, now: datetime = NOW):
    with http or http_client() as client:
        return CONNECTOR.poll(STORE, client, cursor, now)


# --- client -------------------------------------------------------------------------------------


def test_registry_returns_the_mirakl_poll_connector() -> None:
    connector = poll_connector("mirakl")
    assert isinstance(connector, MiraklConnector) and connector.channel == Channel.MIRAKL.value


@pytest.mark.parametrize("base_url", [BASE, f"{BASE}/", f"{BASE}/api", f"{BASE}/api/"])
@respx.mock
def test_client_sends_the_bare_shop_key_to_the_instance(base_url: str) -> None:
    route = respx.get(THREADS).mock(return_value=page([]))
    store = STORE.model_copy(update={"base_url": base_url})
    with CONNECTOR.client(store, {"api_key": API_KEY}) as http:
        assert isinstance(http._bucket, TokenBucket)
        assert (http._bucket.rate, http._bucket.burst) == (5.0, 5)
        http.get("/api/inbox/threads")
    request = route.calls.last.request
    assert request.headers["Authorization"] == API_KEY  # no "Bearer"
    assert request.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("base_url", "credentials"), [(None, {"api_key": API_KEY}), (BASE, {}), (BASE, {"api_key": " "})]
)
def test_client_needs_a_base_url_and_an_api_key(base_url: str | None, credentials: dict[str, str]) -> None:
    with pytest.raises(ChannelError):
        CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), credentials)


# --- polling: paging, window, cursor ------------------------------------------------------------


@respx.mock
def test_poll_follows_next_page_token_across_two_pages() -> None:
    threads, _ = mock_two_pages()
    result = poll()
    assert threads.call_count == 2
    first, second = (call.request.url.params for call in threads.calls)
    assert "page_token" not in first
    assert second["page_token"] == TOKEN_1
    assert second["updated_since"] == first["updated_since"]  # filters repeated with the token
    assert PAGE_1 in result.raw_pages and PAGE_2 in result.raw_pages
    assert [m.channel_message_id for m in result.messages][-1] == "6f2c1d0e-3b7a-4a51-8e0f-9c2d4b6a1e03"  # page 2


@respx.mock
def test_updated_since_is_sent_from_the_cursor() -> None:
    threads = respx.get(THREADS).mock(return_value=page([]))
    poll(cursor="2019-04-03T10:30:00.460Z")
    params = threads.calls.last.request.url.params
    assert params["updated_since"] == "2019-04-03T10:30:00Z"  # whole seconds, rounded down: inclusive
    assert params["with_messages"] == "true"
    assert params["limit"] == "50"
    assert params["sort"] == "date,ASC"


@respx.mock
def test_first_poll_looks_back_seven_days() -> None:
    threads = respx.get(THREADS).mock(return_value=page([]))
    result = poll(cursor=None)
    assert threads.calls.last.request.url.params["updated_since"] == "2019-03-29T12:00:00Z"
    assert result.next_cursor is None and result.messages == []


@respx.mock
def test_only_the_customers_messages_become_inbound_messages() -> None:
    mock_two_pages()
    messages = poll().messages
    assert [m.channel_message_id for m in messages] == [
        "6f2c1d0e-3b7a-4a51-8e0f-9c2d4b6a1e01",  # buyer, thread 1
        "6f2c1d0e-3b7a-4a51-8e0f-9c2d4b6a1e02",  # buyer again (the shop's reply between is skipped)
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c01",  # buyer, offer question
        "6f2c1d0e-3b7a-4a51-8e0f-9c2d4b6a1e03",  # buyer, page 2 (the operator's message is skipped)
    ]
    first = messages[0]
    assert first.channel == Channel.MIRAKL
    assert (first.tenant_id, first.store_id) == ("t1", "mirakl-us")
    assert first.channel_thread_id == THREAD_1
    assert first.order_ref == ORDER_ID
    assert first.buyer_name == "Smith Taylor"
    assert first.subject == "Espresso machine arrived damaged"
    assert first.body.startswith("Hello, the espresso machine arrived today")
    assert first.received_at == datetime(2019, 4, 3, 8, 15, tzinfo=UTC)
    assert first.received_at.tzinfo is not None
    assert first.attachments == []  # listed by Mirakl, downloaded later
    offer_question = messages[2]
    assert offer_question.order_ref is None and offer_question.buyer_name == "Ana Lopez"


@respx.mock
def test_cursor_advances_to_the_newest_date_updated() -> None:
    mock_two_pages()
    assert poll(cursor="2019-04-01T00:00:00Z").next_cursor == "2019-04-05T09:00:00Z"


@respx.mock
def test_cursor_never_moves_backwards_and_is_unchanged_when_nothing_is_new() -> None:
    respx.get(THREADS).mock(
        side_effect=[
            page([thread("t-old", "2019-04-05T09:00:00Z")]),  # the boundary thread, fetched again
            page([]),
        ]
    )
    cursor = "2019-04-05T09:00:00Z"
    assert poll(cursor=cursor).next_cursor == cursor
    assert poll(cursor=cursor).next_cursor == cursor
    later = "2019-04-05T11:00:00.250Z"
    respx.get(THREADS).mock(return_value=page([thread("t-x", "2019-04-05T10:00:00Z")]))
    assert poll(cursor=later).next_cursor == later


@respx.mock
def test_messages_from_before_the_window_are_not_imported_again() -> None:
    old_and_new = thread("t1", "2019-04-05T09:00:00Z")
    old = dict(old_and_new["messages"][0], id="old", date_created="2019-04-01T08:00:00Z")
    old_and_new["messages"].insert(0, old)
    respx.get(THREADS).mock(return_value=page([old_and_new]))
    messages = poll(cursor="2019-04-05T08:00:00Z").messages
    assert [m.channel_message_id for m in messages] == ["t1-m"]


@respx.mock
def test_poll_stops_after_twenty_pages_with_the_cursor_at_the_newest_fetched_thread() -> None:
    counter = iter(range(1, 100))

    def endless(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return page([thread(f"t{n}", f"2019-04-0{1 + n // 10}T{n % 10:02d}:00:00Z")], token=f"token-{n}")

    threads = respx.get(THREADS).mock(side_effect=endless)
    result = poll(cursor="2019-03-31T00:00:00Z")
    assert threads.call_count == MAX_PAGES == 20
    assert len(result.messages) == 20 and len(result.raw_pages) == 20
    assert result.next_cursor == "2019-04-03T00:00:00Z"  # thread 20, the last one fetched
    assert threads.calls.last.request.url.params["page_token"] == "token-19"


@respx.mock
def test_a_cut_short_listing_that_is_not_oldest_first_keeps_the_cursor() -> None:
    counter = iter(range(99, 0, -1))

    def newest_first(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return page([thread(f"t{n}", f"2019-04-{n // 24 + 1:02d}T{n % 24:02d}:00:00Z")], token=f"token-{n}")

    respx.get(THREADS).mock(side_effect=newest_first)
    result = poll(cursor="2019-03-31T00:00:00Z")
    assert len(result.messages) == 20
    assert result.next_cursor == "2019-03-31T00:00:00Z"  # the older threads are not skipped


def test_a_cursor_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        poll(cursor="page-3")


# --- orders (OR11) ------------------------------------------------------------------------------


@respx.mock
def test_orders_of_order_threads_are_fetched_once_and_mapped() -> None:
    _, orders = mock_two_pages()
    result = poll()
    assert orders.call_count == 1  # page 2's thread is about the same order: not fetched again
    params = orders.calls.last.request.url.params
    assert params["order_ids"] == ORDER_ID and params["max"] == "100"
    assert ORDERS_BODY in result.raw_pages
    [event] = result.order_events
    assert event.event_type == OrderEventType.DELIVERED
    assert event.event_id == "or11:Order_00010-A:2019-04-02T14:59:58Z"
    assert event.occurred_at == datetime(2019, 4, 2, 14, 59, 58, tzinfo=UTC)
    order = event.order
    assert (order.channel, order.order_ref) == (Channel.MIRAKL, ORDER_ID)
    assert order.status == OrderStatus.DELIVERED and order.channel_status == "RECEIVED"
    assert order.currency == "USD"
    assert order.total == Decimal("173") and isinstance(order.total, Decimal)
    assert order.buyer_name == "Smith Taylor" and order.buyer_email is None
    assert (order.carrier, order.tracking_number) == ("UPS", "2344")
    assert order.tracking_url == "https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=2344"
    assert order.ordered_at == datetime(2019, 4, 2, 14, 18, 43, tzinfo=UTC)
    assert order.shipped_at == datetime(2019, 4, 2, 14, 58, 39, tzinfo=UTC)
    assert order.delivered_at == datetime(2019, 4, 2, 14, 59, 58, tzinfo=UTC)
    [item] = order.items
    assert (item.sku, item.quantity) == ("S2000", 3)
    assert item.name == "Breville Cafe Roma Stainless Espresso/Cappuccino Machine - ESP8C"
    assert (item.unit_price, item.total) == (Decimal("55"), Decimal("173"))


@respx.mock
def test_the_delivery_window_is_or11_delivery_date_not_the_shipping_deadline() -> None:
    mock_two_pages()
    [event] = poll().order_events
    assert event.order.delivery_earliest == datetime(2019, 9, 2, 8, 7, 22, 326000, tzinfo=UTC)
    assert event.order.delivery_latest == datetime(2019, 9, 3, 8, 7, 22, 326000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (None, (None, None)),
        ({"earliest": None, "latest": "2019-09-03T08:07:22Z"}, (None, datetime(2019, 9, 3, 8, 7, 22, tzinfo=UTC))),
        ({"earliest": "2019-09-02T10:00:00+02:00"}, (datetime(2019, 9, 2, 8, tzinfo=UTC), None)),
    ],
)
@respx.mock
def test_a_missing_or_partial_delivery_window_leaves_the_unknown_bound_empty(
    window: dict[str, Any] | None, expected: tuple[datetime | None, datetime | None]
) -> None:
    body = sample("or11_orders.json")
    if window is None:
        del body["orders"][0]["delivery_date"]
    else:
        body["orders"][0]["delivery_date"] = window
    respx.get(THREADS).mock(return_value=page([thread("t1", "2019-04-05T09:00:00Z", order=ORDER_ID)]))
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    [event] = poll().order_events
    assert (event.order.delivery_earliest, event.order.delivery_latest) == expected
    assert event.order.delivery_latest is None or event.order.delivery_latest.tzinfo is not None


@pytest.mark.parametrize("window", ["2019-09-03", {"earliest": "next week"}, {"latest": 1567498042}])
@respx.mock
def test_a_delivery_window_of_the_wrong_shape_is_malformed(window: Any) -> None:
    body = sample("or11_orders.json")
    body["orders"][0]["delivery_date"] = window
    respx.get(THREADS).mock(return_value=page([thread("t1", "2019-04-05T09:00:00Z", order=ORDER_ID)]))
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload, match="OR11 order Order_00010-A could not be read"):
        poll()


@pytest.mark.parametrize(
    ("state", "status", "event_type"),
    [
        ("STAGING", OrderStatus.PENDING, OrderEventType.UPDATED),
        ("WAITING_ACCEPTANCE", OrderStatus.PENDING, OrderEventType.UPDATED),
        ("WAITING_DEBIT_PAYMENT", OrderStatus.PENDING, OrderEventType.UPDATED),
        ("SHIPPING", OrderStatus.PROCESSING, OrderEventType.UPDATED),
        ("SHIPPED", OrderStatus.SHIPPED, OrderEventType.SHIPPED),
        ("TO_COLLECT", OrderStatus.SHIPPED, OrderEventType.SHIPPED),
        ("CLOSED", OrderStatus.COMPLETED, OrderEventType.UPDATED),
        ("REFUSED", OrderStatus.CANCELLED, OrderEventType.CANCELLED),
        ("CANCELED", OrderStatus.CANCELLED, OrderEventType.CANCELLED),
        ("SOMETHING_NEW", OrderStatus.UNKNOWN, OrderEventType.UPDATED),
    ],
)
@respx.mock
def test_order_states_map_to_status_and_event_type(state: str, status: OrderStatus, event_type: OrderEventType) -> None:
    body = sample("or11_orders.json")
    body["orders"][0]["order_state"] = state
    respx.get(THREADS).mock(return_value=page([thread("t1", "2019-04-05T09:00:00Z", order=ORDER_ID)]))
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    [event] = poll().order_events
    assert (event.order.status, event.event_type, event.order.channel_status) == (status, event_type, state)


@respx.mock
def test_order_ids_are_sent_comma_separated_one_call_per_page() -> None:
    respx.get(THREADS).mock(
        return_value=page(
            [
                thread("a", "2019-04-05T09:00:00Z", order="O-1-A"),
                thread("b", "2019-04-05T09:01:00Z", order="O-2-A"),
                thread("c", "2019-04-05T09:02:00Z", order="O-1-A"),
            ]
        )
    )
    orders = respx.get(ORDERS).mock(return_value=httpx.Response(200, json={"orders": [], "total_count": 0}))
    poll()
    assert orders.call_count == 1
    assert orders.calls.last.request.url.params["order_ids"] == "O-1-A,O-2-A"


# --- replies (M12) ------------------------------------------------------------------------------


def multipart_parts(request: httpx.Request) -> dict[str, tuple[str, bytes]]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    return {
        part.get_param("name", header="content-disposition"): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_parts()
    }


@respx.mock
def test_reply_posts_a_multipart_message_input_and_returns_the_message_id() -> None:
    route = respx.post(f"{THREADS}/{THREAD_1}/message").mock(
        return_value=httpx.Response(201, content=raw("m12_reply_created.json"))
    )
    with http_client() as http:
        message_id = CONNECTOR.send_reply(STORE, http, THREAD_1, "Bonjour, un remplacement part aujourd'hui.")
    assert message_id == "873f1cb5-a7a2-4e07-8e0e-12eb64e93ece"
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["Authorization"] == API_KEY
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    assert list(parts) == ["message_input"]
    content_type, payload = parts["message_input"]
    assert content_type == "application/json"
    assert json.loads(payload) == {"body": "Bonjour, un remplacement part aujourd'hui.", "to": [{"type": "CUSTOMER"}]}


@respx.mock
def test_a_reply_refused_by_mirakl_raises_its_message() -> None:
    respx.post(f"{THREADS}/{THREAD_1}/message").mock(
        return_value=httpx.Response(
            400, json={"status": 400, "message": "The thread has reached the maximum of 1000 messages"}
        )
    )
    with http_client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.send_reply(STORE, http, THREAD_1, "Thanks for your patience.")
    assert "maximum of 1000 messages" in caught.value.message
    assert caught.value.details["status"] == 400


@respx.mock
def test_a_reply_is_never_sent_twice_after_a_5xx() -> None:
    route = respx.post(f"{THREADS}/{THREAD_1}/message").mock(return_value=httpx.Response(503))
    with http_client() as http, pytest.raises(ChannelError):
        CONNECTOR.send_reply(STORE, http, THREAD_1, "Thanks for your patience.")
    assert route.call_count == 1


@respx.mock
def test_a_reply_mirakl_would_refuse_is_not_sent() -> None:
    route = respx.post(f"{THREADS}/{THREAD_1}/message").mock(return_value=httpx.Response(201, json={}))
    with http_client() as http, pytest.raises(ChannelError, match="3 to 50000"):
        CONNECTOR.send_reply(STORE, http, THREAD_1, " k ")
    assert route.call_count == 0


@respx.mock
def test_a_reply_answer_without_message_id_is_malformed() -> None:
    respx.post(f"{THREADS}/{THREAD_1}/message").mock(return_value=httpx.Response(201, json={"thread_id": THREAD_1}))
    with http_client() as http, pytest.raises(MalformedPayload, match="message_id"):
        CONNECTOR.send_reply(STORE, http, THREAD_1, "Thanks for your patience.")


# --- HTTP failures and bad payloads -------------------------------------------------------------


@respx.mock
def test_429_is_retried_after_the_retry_after_delay() -> None:
    threads = respx.get(THREADS).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), page([])])
    sleeps = Sleeps()
    result = poll(cursor="2019-04-05T09:00:00Z", http=http_client(sleeps))
    assert threads.call_count == 2 and sleeps == [3.0]
    assert result.next_cursor == "2019-04-05T09:00:00Z"


@respx.mock
def test_401_raises_a_channel_error() -> None:
    respx.get(THREADS).mock(return_value=httpx.Response(401, json={"status": 401, "message": "Unauthorized"}))
    with pytest.raises(ChannelError) as caught:
        poll()
    assert caught.value.details["status"] == 401 and "Unauthorized" in caught.value.message


@respx.mock
def test_an_or11_failure_fails_the_poll() -> None:
    respx.get(THREADS).mock(return_value=page([thread("t1", "2019-04-05T09:00:00Z", order=ORDER_ID)]))
    respx.get(ORDERS).mock(return_value=httpx.Response(403, text="Forbidden"))
    with pytest.raises(ChannelError, match="OR11"):
        poll()


@respx.mock
def test_invalid_json_raises_malformed_payload() -> None:
    respx.get(THREADS).mock(return_value=httpx.Response(200, content=b"<html>maintenance</html>"))
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        poll()


def _without_message_id(t: dict[str, Any]) -> None:
    del t["messages"][0]["id"]


def _bad_date(t: dict[str, Any]) -> None:
    t["date_updated"] = "yesterday"


def _messages_not_a_list(t: dict[str, Any]) -> None:
    t["messages"] = "none"


def _without_sender(t: dict[str, Any]) -> None:
    del t["messages"][0]["from"]


@pytest.mark.parametrize(
    "body", [[], {"threads": []}, {"data": {}}, {"data": ["t1"]}, {"data": [], "next_page_token": 7}]
)
@respx.mock
def test_a_page_of_the_wrong_shape_is_malformed(body: Any) -> None:
    respx.get(THREADS).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload):
        poll()


@pytest.mark.parametrize("damage", [_without_message_id, _bad_date, _messages_not_a_list, _without_sender])
@respx.mock
def test_a_thread_of_the_wrong_shape_is_malformed(damage: Any) -> None:
    bad = thread("t1", "2019-04-05T09:00:00Z")
    damage(bad)
    respx.get(THREADS).mock(return_value=page([bad]))
    with pytest.raises(MalformedPayload):
        poll()


@respx.mock
def test_an_order_of_the_wrong_shape_is_malformed() -> None:
    body = sample("or11_orders.json")
    body["orders"][0]["total_price"] = "a lot"
    respx.get(THREADS).mock(return_value=page([thread("t1", "2019-04-05T09:00:00Z", order=ORDER_ID)]))
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload, match="Order_00010-A"):
        poll()
