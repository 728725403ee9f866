"""Shopify Admin API half: client, credential check, order lookup by name, webhook subscription and
removal, on respx-mocked HTTP with the documented payloads under infrastructure/local/samples/shopify."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.shopify import API_VERSION, CONNECTOR, WEBHOOK_TOPICS
from helpdesk.core.errors import ChannelError, ChannelRateLimited, MalformedPayload
from helpdesk.core.models import Channel, OrderStatus, Store
from tests.unit.builders import NOW

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "infrastructure/local/samples/shopify"
API = f"https://jsmith.myshopify.com/admin/api/{API_VERSION}"
TOKEN = "shpat_0123456789abcdef0123456789abcdef"
CALLBACK = "https://helpdesk.example.com/webhooks/shopify/t1/s1"
STORE = Store(
    tenant_id="t1",
    store_id="s1",
    channel=Channel.SHOPIFY,
    display_name="Demo Shopify shop",
    base_url="https://jsmith.myshopify.com",
    secret_name="helpdesk/t1/s1",
    created_at=NOW,
)


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((SAMPLES / name).read_text()))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(store: Store = STORE, sleeps: Sleeps | None = None, **credentials: str) -> ChannelHttpClient:
    """CONNECTOR.client() with retry waits recorded instead of slept."""
    http = CONNECTOR.client(store, credentials or {"access_token": TOKEN})
    http._sleep = sleeps if sleeps is not None else Sleeps()
    return http


def orders_answer(*orders: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"orders": list(orders)})


def the_order(**changes: Any) -> dict[str, Any]:
    order = sample("orders_by_name.json")["orders"][0]
    order.update(changes)
    return order


# --- client -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    ["https://jsmith.myshopify.com", "jsmith.myshopify.com", "jsmith", "https://JSmith.myshopify.com/admin/", None],
)
@respx.mock
def test_client_targets_the_versioned_admin_api_of_the_shop(base_url: str | None) -> None:
    shop = httpx.Response(200, content=(SAMPLES / "shop.json").read_bytes())
    route = respx.get(f"{API}/shop.json").mock(return_value=shop)
    store = STORE.model_copy(update={"base_url": base_url})
    with CONNECTOR.client(store, {"access_token": TOKEN, "shop_domain": "jsmith.myshopify.com"}) as http:
        assert isinstance(http._bucket, TokenBucket)
        assert (http._bucket.rate, http._bucket.burst) == (2.0, 40)
        http.get("/shop.json")
    request = route.calls.last.request
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert "authorization" not in request.headers
    assert API_VERSION == "2026-07"


def test_client_needs_the_access_token_and_names_the_missing_key() -> None:
    with pytest.raises(ChannelError, match=r"credentials\['access_token'\]") as caught:
        CONNECTOR.client(STORE, {"shop_domain": "jsmith.myshopify.com"})
    assert TOKEN not in caught.value.message


@pytest.mark.parametrize(
    "base_url",
    [
        "https://evil.example.com",
        "https://jsmith.myshopify.com.evil.example",
        "https://shop.jsmith.com/admin",
        "not a shop!",
    ],
)
def test_client_never_sends_the_token_outside_myshopify_com(base_url: str) -> None:
    with pytest.raises(ChannelError, match=r"myshopify\.com"):
        CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), {"access_token": TOKEN})


@respx.mock
def test_a_store_whose_base_url_is_its_own_domain_uses_the_shop_domain() -> None:
    route = respx.get(f"{API}/shop.json").mock(return_value=httpx.Response(200, json=sample("shop.json")))
    store = STORE.model_copy(update={"base_url": "https://shop.apple.com"})
    with CONNECTOR.client(store, {"access_token": TOKEN, "shop_domain": "https://jsmith.myshopify.com"}) as http:
        assert CONNECTOR.check_credentials(store, http) == "John Smith Test Store"
    assert route.call_count == 1


def test_client_needs_a_shop_domain_somewhere() -> None:
    with pytest.raises(ChannelError, match="shop_domain"):
        CONNECTOR.client(STORE.model_copy(update={"base_url": None}), {"access_token": TOKEN})


# --- check_credentials --------------------------------------------------------------------------


@respx.mock
def test_check_credentials_returns_the_shop_name() -> None:
    respx.get(f"{API}/shop.json").mock(return_value=httpx.Response(200, content=(SAMPLES / "shop.json").read_bytes()))
    with client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "John Smith Test Store"


@respx.mock
def test_refused_credentials_raise_shopifys_reason_and_status() -> None:
    respx.get(f"{API}/shop.json").mock(
        return_value=httpx.Response(
            401, json={"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
        )
    )
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 401
    assert "Invalid API key or access token" in caught.value.message
    assert TOKEN not in caught.value.message


@respx.mock
def test_a_missing_scope_is_a_403_channel_error() -> None:
    respx.get(f"{API}/shop.json").mock(
        return_value=httpx.Response(
            403, json={"errors": "[API] This action requires merchant approval for read_orders scope."}
        )
    )
    with client() as http, pytest.raises(ChannelError, match="read_orders scope") as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 403


# --- fetch_order --------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["#9999", "9999", " #9999 "])
@respx.mock
def test_fetch_order_looks_the_order_up_by_name_among_all_statuses(ref: str) -> None:
    route = respx.get(f"{API}/orders.json").mock(return_value=orders_answer(the_order()))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ref)
    assert route.call_count == 1
    params = route.calls.last.request.url.params
    assert (params["name"], params["status"]) == ("#9999", "any")
    assert "name=%239999" in str(route.calls.last.request.url)
    assert order is not None
    assert (order.channel, order.order_ref, order.tenant_id, order.store_id) == (Channel.SHOPIFY, "9999", "t1", "s1")
    assert order.status == OrderStatus.SHIPPED and order.channel_status == "paid/fulfilled"
    assert (order.currency, order.total) == ("USD", Decimal("404.95"))
    assert order.buyer_email == "jon@example.com" and order.buyer_name == "John Smith"
    assert (order.carrier, order.tracking_number) == ("UPS", "1z827wk74630")
    assert order.tracking_url == "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630"
    assert order.shipped_at is not None and order.shipped_at.isoformat() == "2022-01-03T15:15:00+00:00"
    assert order.ordered_at is not None and order.ordered_at.isoformat() == "2022-01-01T00:00:00+00:00"
    first = order.items[0]
    assert (first.sku, first.name, first.quantity, first.unit_price) == (
        "SKU2006-001",
        "Aviator sunglasses",
        1,
        Decimal("89.99"),
    )


@respx.mock
def test_a_lookup_and_a_webhook_of_the_same_order_agree() -> None:
    raw = the_order()
    respx.get(f"{API}/orders.json").mock(return_value=orders_answer(raw))
    with client() as http:
        looked_up = CONNECTOR.fetch_order(STORE, http, "#9999")
    headers = {"X-Shopify-Topic": "orders/updated", "X-Shopify-Shop-Domain": "jsmith.myshopify.com"}
    delivered = CONNECTOR.parse(STORE, headers, json.dumps(raw).encode(), "raw/k", NOW)
    assert looked_up == delivered.order_events[0].order


@respx.mock
def test_a_cancelled_order_is_cancelled_on_lookup() -> None:
    respx.get(f"{API}/orders.json").mock(
        return_value=orders_answer(the_order(cancelled_at="2022-01-04T09:00:00-05:00", cancel_reason="customer"))
    )
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "9999")
    assert order is not None and order.status == OrderStatus.CANCELLED


@respx.mock
def test_an_order_name_with_another_prefix_is_found_on_the_second_query() -> None:
    route = respx.get(f"{API}/orders.json").mock(
        side_effect=[orders_answer(), orders_answer(the_order(name="EU-1001"))]
    )
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "EU-1001")
    assert [c.request.url.params["name"] for c in route.calls] == ["#EU-1001", "EU-1001"]
    assert order is not None and order.order_ref == "EU-1001"


@respx.mock
def test_no_order_of_that_name_is_none() -> None:
    route = respx.get(f"{API}/orders.json").mock(return_value=orders_answer())
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "#4242") is None
    assert route.call_count == 2


@respx.mock
def test_an_order_with_a_similar_name_is_never_returned() -> None:
    respx.get(f"{API}/orders.json").mock(return_value=orders_answer(the_order(name="#99990"), the_order(name="#999")))
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "#9999") is None


def test_an_empty_reference_is_none_without_a_call() -> None:
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, " # ") is None
        assert http.attempts == 0


@respx.mock
def test_a_refused_lookup_raises_a_channel_error() -> None:
    respx.get(f"{API}/orders.json").mock(
        return_value=httpx.Response(
            401, json={"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
        )
    )
    with client() as http, pytest.raises(ChannelError, match="Invalid API key") as caught:
        CONNECTOR.fetch_order(STORE, http, "9999")
    assert caught.value.details["status"] == 401


@respx.mock
def test_a_5xx_on_lookup_is_retried_then_raised() -> None:
    route = respx.get(f"{API}/orders.json").mock(return_value=httpx.Response(503))
    sleeps = Sleeps()
    with client(sleeps=sleeps) as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http, "9999")
    assert route.call_count == 5 and len(sleeps) == 4
    assert caught.value.details["status"] == 503


@respx.mock
def test_429_waits_for_retry_after() -> None:
    route = respx.get(f"{API}/orders.json").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2.0"}, json={"errors": "Exceeded 2 calls per second"}),
            httpx.Response(429, headers={"Retry-After": "2"}, json={"errors": "Exceeded 2 calls per second"}),
            orders_answer(the_order()),
        ]
    )
    sleeps = Sleeps()
    with client(sleeps=sleeps) as http:
        assert CONNECTOR.fetch_order(STORE, http, "9999") is not None
    assert route.call_count == 3 and sleeps[-1] == 2.0


@respx.mock
def test_429_until_the_retries_run_out_is_rate_limited() -> None:
    respx.get(f"{API}/orders.json").mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    with client() as http, pytest.raises(ChannelRateLimited):
        CONNECTOR.fetch_order(STORE, http, "9999")


@pytest.mark.parametrize("body", [{"order": {}}, {"orders": {}}, []])
@respx.mock
def test_an_orders_answer_of_the_wrong_shape_is_malformed(body: Any) -> None:
    respx.get(f"{API}/orders.json").mock(return_value=httpx.Response(200, json=body))
    with client() as http, pytest.raises(MalformedPayload, match="orders"):
        CONNECTOR.fetch_order(STORE, http, "9999")


@respx.mock
def test_an_unreadable_order_is_malformed_with_its_name() -> None:
    respx.get(f"{API}/orders.json").mock(return_value=orders_answer(the_order(total_price="lots")))
    with client() as http, pytest.raises(MalformedPayload, match="9999"):
        CONNECTOR.fetch_order(STORE, http, "9999")


# --- webhooks -----------------------------------------------------------------------------------


def created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)["webhook"]
    answer = sample("webhook_created.json")
    answer["webhook"].update(
        id=8589934000 + WEBHOOK_TOPICS.index(body["topic"]), topic=body["topic"], address=body["address"]
    )
    return httpx.Response(201, json=answer)


@respx.mock
def test_register_subscribes_every_parsed_topic_as_json_and_returns_the_ids() -> None:
    route = respx.post(f"{API}/webhooks.json").mock(side_effect=created)
    with client() as http:
        ids = CONNECTOR.register_webhooks(STORE, http, CALLBACK, secret="ignored")
    assert ids == [str(8589934000 + i) for i in range(8)]
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies == [{"webhook": {"topic": topic, "address": CALLBACK, "format": "json"}} for topic in WEBHOOK_TOPICS]
    assert {b["webhook"]["topic"] for b in bodies} == {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "fulfillments/create",
        "fulfillments/update",
    }
    assert all(call.request.headers["X-Shopify-Access-Token"] == TOKEN for call in route.calls)


def test_every_registered_topic_is_one_parse_accepts() -> None:
    for topic in WEBHOOK_TOPICS:
        body = the_order() if topic.startswith("orders/") else {"id": 1, "order_id": 2, "status": "pending"}
        parsed = CONNECTOR.parse(
            STORE,
            {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": "jsmith.myshopify.com"},
            json.dumps(body).encode(),
            "raw/k",
            NOW,
        )
        assert parsed.order_events


@respx.mock
def test_a_topic_already_subscribed_returns_the_existing_subscription() -> None:
    def post(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["webhook"]["topic"] == "orders/paid":
            return httpx.Response(422, json={"errors": {"address": ["for this topic has already been taken"]}})
        return created(request)

    respx.post(f"{API}/webhooks.json").mock(side_effect=post)
    listing = respx.get(f"{API}/webhooks.json").mock(
        return_value=httpx.Response(
            200, json={"webhooks": [{"id": 4759306, "address": CALLBACK, "topic": "orders/paid", "format": "json"}]}
        )
    )
    with client() as http:
        ids = CONNECTOR.register_webhooks(STORE, http, CALLBACK, secret="")
    assert ids[2] == "4759306" and len(ids) == 8
    assert listing.calls.last.request.url.params["topic"] == "orders/paid"
    assert listing.calls.last.request.url.params["address"] == CALLBACK


@respx.mock
def test_a_refused_subscription_raises_shopifys_field_errors() -> None:
    respx.post(f"{API}/webhooks.json").mock(
        return_value=httpx.Response(422, json={"errors": {"address": ["protocol http:// is not supported"]}})
    )
    with client() as http, pytest.raises(ChannelError, match="address protocol http:// is not supported") as caught:
        CONNECTOR.register_webhooks(STORE, http, "http://insecure.example.com/hook", secret="")
    assert caught.value.details["status"] == 422


@respx.mock
def test_a_subscription_answer_without_an_id_is_malformed() -> None:
    respx.post(f"{API}/webhooks.json").mock(return_value=httpx.Response(201, json={"webhook": {"topic": "x"}}))
    with client() as http, pytest.raises(MalformedPayload, match=r"webhook\.id"):
        CONNECTOR.register_webhooks(STORE, http, CALLBACK, secret="")


@respx.mock
def test_remove_deletes_each_subscription_and_tolerates_one_already_gone() -> None:
    first = respx.delete(f"{API}/webhooks/8589934879.json").mock(return_value=httpx.Response(200, json={}))
    gone = respx.delete(f"{API}/webhooks/4759306.json").mock(
        return_value=httpx.Response(404, json={"errors": "Not Found"})
    )
    with client() as http:
        assert CONNECTOR.remove_webhooks(STORE, http, ["8589934879", "4759306"]) is None
    assert first.call_count == 1 and gone.call_count == 1
    assert first.calls.last.request.headers["X-Shopify-Access-Token"] == TOKEN


@respx.mock
def test_a_refused_removal_raises() -> None:
    respx.delete(f"{API}/webhooks/1.json").mock(return_value=httpx.Response(403, json={"errors": "Forbidden"}))
    with client() as http, pytest.raises(ChannelError, match="Forbidden") as caught:
        CONNECTOR.remove_webhooks(STORE, http, ["1"])
    assert caught.value.details["status"] == 403


def test_a_webhook_id_that_is_not_a_number_is_refused_without_a_call() -> None:
    with client() as http, pytest.raises(ChannelError, match="not a Shopify webhook id"):
        CONNECTOR.remove_webhooks(STORE, http, ["../shop"])
    assert http.attempts == 0


# --- import time --------------------------------------------------------------------------------
