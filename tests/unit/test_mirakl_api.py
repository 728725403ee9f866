"""Mirakl account check (A01) and order lookup (OR11), on respx-mocked HTTP with the documented
payloads under infrastructure/local/samples/mirakl."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helpdesk.channels.http import ChannelHttpClient
from helpdesk.channels.mirakl import CONNECTOR
from helpdesk.core.errors import ChannelError, MalformedPayload
from helpdesk.core.models import Channel, OrderStatus, Store

SAMPLES = Path(__file__).resolve().parents[2] / "infrastructure/local/samples/mirakl"
BASE = "https://marketplace.example.com"
ACCOUNT = f"{BASE}/api/account"
ORDERS = f"{BASE}/api/orders"
API_KEY = "8b3a0ad5-2a6b-4d6f-9d5e-0c1f2e3d4a5b"
ORDER_ID = "Order_00010-A"
NOW = datetime(2019, 4, 5, 12, 0, 0, tzinfo=UTC)
STORE = Store(
    tenant_id="t1",
    store_id="mirakl-us",
    channel=Channel.MIRAKL,
    display_name="Coffee Corner on Marketplace US",
    base_url=BASE,
    secret_name="helpdesk/t1/mirakl-us",
    created_at=NOW,
)


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((SAMPLES / name).read_text()))


def client() -> ChannelHttpClient:
    http = CONNECTOR.client(STORE, {"api_key": API_KEY})
    http._sleep = lambda seconds: None
    http._rng = random.Random(1)
    return http


# --- check_credentials (A01) --------------------------------------------------------------------


@respx.mock
def test_check_credentials_returns_the_shop_name_from_a01() -> None:
    route = respx.get(ACCOUNT).mock(return_value=httpx.Response(200, json=sample("a01_account.json")))
    with client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "Coffee Corner"
    assert route.calls.last.request.headers["Authorization"] == API_KEY


@respx.mock
def test_a_shop_without_a_name_is_labelled_by_its_id() -> None:
    account = sample("a01_account.json")
    del account["shop_name"]
    respx.get(ACCOUNT).mock(return_value=httpx.Response(200, json=account))
    with client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "2001"


@respx.mock
def test_a_refused_shop_key_raises_mirakls_message_and_status() -> None:
    respx.get(ACCOUNT).mock(return_value=httpx.Response(401, json={"status": 401, "message": "Unauthorized"}))
    with client() as http, pytest.raises(ChannelError, match=r"A01.*Unauthorized") as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 401
    assert API_KEY not in caught.value.message


@respx.mock
def test_an_account_answer_without_name_or_id_is_malformed() -> None:
    respx.get(ACCOUNT).mock(return_value=httpx.Response(200, json={"shop_state": "OPEN"}))
    with client() as http, pytest.raises(MalformedPayload, match="shop_name"):
        CONNECTOR.check_credentials(STORE, http)


# --- fetch_order (OR11) -------------------------------------------------------------------------


@respx.mock
def test_fetch_order_reads_or11_with_the_poll_mapping() -> None:
    route = respx.get(ORDERS).mock(return_value=httpx.Response(200, json=sample("or11_orders.json")))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, f" {ORDER_ID} ")
    params = route.calls.last.request.url.params
    assert params["order_ids"] == ORDER_ID and params["max"] == "100"
    assert order is not None
    assert (order.channel, order.order_ref, order.store_id) == (Channel.MIRAKL, ORDER_ID, "mirakl-us")
    assert order.status == OrderStatus.DELIVERED and order.channel_status == "RECEIVED"
    assert (order.currency, order.total) == ("USD", Decimal("173"))
    assert (order.carrier, order.tracking_number) == ("UPS", "2344")
    assert order.buyer_name == "Smith Taylor"
    assert [(i.sku, i.quantity) for i in order.items] == [("S2000", 3)]


@respx.mock
def test_a_lookup_and_a_poll_of_the_same_order_agree() -> None:
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=sample("or11_orders.json")))
    thread = {
        "id": "t1",
        "date_created": "2019-04-05T09:00:00Z",
        "date_updated": "2019-04-05T09:00:00Z",
        "entities": [{"id": ORDER_ID, "type": "MMP_ORDER"}],
        "messages": [],
    }
    respx.get(f"{BASE}/api/inbox/threads").mock(return_value=httpx.Response(200, json={"data": [thread]}))
    with client() as http:
        looked_up = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
        polled = CONNECTOR.poll(STORE, http, "2019-04-05T00:00:00Z", NOW).order_events[0].order
    assert looked_up == polled


@respx.mock
def test_an_order_or11_does_not_list_is_none() -> None:
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json={"orders": [], "total_count": 0}))
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "Order_99999-A") is None


@respx.mock
def test_a_404_is_no_such_order() -> None:
    respx.get(ORDERS).mock(return_value=httpx.Response(404, json={"status": 404, "message": "Not Found"}))
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "Order_99999-A") is None


@respx.mock
def test_only_the_order_with_that_exact_id_is_returned() -> None:
    body = sample("or11_orders.json")
    body["orders"][0]["order_id"] = "Order_00010-B"
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ORDER_ID) is None


@pytest.mark.parametrize("ref", ["", "  ", "Order_1-A,Order_2-A"])
def test_a_reference_or11_cannot_take_is_none_without_a_call(ref: str) -> None:
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ref) is None
        assert http.attempts == 0


@respx.mock
def test_a_refused_lookup_raises_with_the_reason() -> None:
    respx.get(ORDERS).mock(return_value=httpx.Response(401, json={"status": 401, "message": "Unauthorized"}))
    with client() as http, pytest.raises(ChannelError, match=r"OR11.*Unauthorized") as caught:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert caught.value.details["status"] == 401


@respx.mock
def test_a_5xx_on_lookup_is_retried_then_raised() -> None:
    route = respx.get(ORDERS).mock(return_value=httpx.Response(500, json={"message": "Internal error"}))
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert route.call_count == 5 and caught.value.details["status"] == 500


@respx.mock
def test_an_unreadable_order_is_malformed_with_its_id() -> None:
    body = sample("or11_orders.json")
    body["orders"][0]["total_price"] = "a lot"
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with client() as http, pytest.raises(MalformedPayload, match=ORDER_ID):
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)


@respx.mock
def test_an_answer_without_orders_is_malformed() -> None:
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json={"total_count": 0}))
    with client() as http, pytest.raises(MalformedPayload, match="orders"):
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)


def test_mirakl_offers_no_webhook_registration() -> None:
    assert not hasattr(CONNECTOR, "register_webhooks") and not hasattr(CONNECTOR, "remove_webhooks")
