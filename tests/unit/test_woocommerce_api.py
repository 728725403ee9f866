"""WooCommerce REST API half: client, credential check, order lookup, webhook creation and removal, on
respx-mocked HTTP with the documented payloads under infrastructure/local/samples/woocommerce."""

from __future__ import annotations

import base64
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.woocommerce import CONNECTOR, WEBHOOK_TOPICS
from helpdesk.core.errors import ChannelError, MalformedPayload
from helpdesk.core.models import Channel, OrderStatus, Store
from tests.unit.builders import NOW

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "infrastructure/local/samples/woocommerce"
SITE = "https://example.com"
API = f"{SITE}/wp-json/wc/v3"
KEY, SECRET = "ck_4f5c0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b", "cs_0a9b8c7d6e5f40312a3b4c5d6e7f8091a2b3c4d5"
CREDENTIALS = {"consumer_key": KEY, "consumer_secret": SECRET, "webhook_secret": "whsec-1"}
CALLBACK = "https://helpdesk.example.com/webhooks/woocommerce/t1/s1"
STORE = Store(
    tenant_id="t1",
    store_id="s1",
    channel=Channel.WOOCOMMERCE,
    display_name="Demo shop",
    base_url=SITE,
    secret_name="helpdesk/t1/s1",
    created_at=NOW,
)
INVALID_ID = {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}
CANNOT_VIEW = {
    "code": "woocommerce_rest_cannot_view",
    "message": "Sorry, you cannot list resources.",
    "data": {"status": 401},
}


def sample(name: str) -> Any:
    return copy.deepcopy(json.loads((SAMPLES / name).read_text()))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(store: Store = STORE, sleeps: Sleeps | None = None) -> ChannelHttpClient:
    http = CONNECTOR.client(store, CREDENTIALS)
    http._sleep = sleeps if sleeps is not None else Sleeps()
    return http


def order_727(**changes: Any) -> dict[str, Any]:
    order = sample("order_727.json")
    order.update(changes)
    return order


# --- client -------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", [SITE, f"{SITE}/", f"{SITE}/wp-json", f"{SITE}/wp-json/wc/v3/"])
@respx.mock
def test_client_sends_basic_auth_to_the_v3_api(base_url: str) -> None:
    route = respx.get(f"{API}/orders/727").mock(return_value=httpx.Response(200, json=order_727()))
    with CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), CREDENTIALS) as http:
        assert isinstance(http._bucket, TokenBucket) and (http._bucket.rate, http._bucket.burst) == (5.0, 5)
        http.get("/wp-json/wc/v3/orders/727")
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert KEY not in str(request.url)


@respx.mock
def test_a_site_in_a_subdirectory_keeps_its_path() -> None:
    route = respx.get("https://example.com/shop/wp-json/wc/v3/orders/727").mock(
        return_value=httpx.Response(200, json=order_727())
    )
    with client(STORE.model_copy(update={"base_url": "https://example.com/shop"})) as http:
        assert CONNECTOR.fetch_order(STORE, http, "727") is not None
    assert route.call_count == 1


@pytest.mark.parametrize("missing", ["consumer_key", "consumer_secret"])
def test_client_names_the_missing_credential(missing: str) -> None:
    credentials = {k: v for k, v in CREDENTIALS.items() if k != missing}
    with pytest.raises(ChannelError, match=missing) as caught:
        CONNECTOR.client(STORE, credentials)
    assert SECRET not in caught.value.message


@pytest.mark.parametrize("base_url", ["http://example.com", None, "example.com"])
def test_keys_are_never_sent_without_https(base_url: str | None) -> None:
    with pytest.raises(ChannelError):
        CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), CREDENTIALS)


def test_plain_http_is_allowed_on_localhost_for_the_local_stack() -> None:
    with CONNECTOR.client(STORE.model_copy(update={"base_url": "http://localhost:8080"}), CREDENTIALS) as http:
        assert str(http._http.base_url) == "http://localhost:8080"


# --- check_credentials --------------------------------------------------------------------------


@respx.mock
def test_check_credentials_asks_only_for_the_site_url_and_returns_it() -> None:
    route = respx.get(f"{API}/system_status").mock(
        return_value=httpx.Response(200, json=sample("system_status_site_url.json"))
    )
    with client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "https://example.com"
    assert route.calls.last.request.url.params["_fields"] == "environment.site_url,environment.home_url"


@respx.mock
def test_refused_credentials_raise_woocommerces_message_and_status() -> None:
    respx.get(f"{API}/system_status").mock(return_value=httpx.Response(401, json=CANNOT_VIEW))
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 401
    assert "Sorry, you cannot list resources. (woocommerce_rest_cannot_view)" in caught.value.message
    assert SECRET not in caught.value.message


@respx.mock
def test_a_status_answer_without_environment_is_malformed() -> None:
    respx.get(f"{API}/system_status").mock(return_value=httpx.Response(200, json={"settings": {}}))
    with client() as http, pytest.raises(MalformedPayload, match="environment"):
        CONNECTOR.check_credentials(STORE, http)


# --- fetch_order --------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["727", "#727", " # 727 "])
@respx.mock
def test_fetch_order_gets_the_order_by_id_and_maps_it(ref: str) -> None:
    route = respx.get(f"{API}/orders/727").mock(return_value=httpx.Response(200, json=order_727()))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ref)
    assert route.call_count == 1
    assert order is not None
    assert (order.channel, order.order_ref, order.status) == (Channel.WOOCOMMERCE, "727", OrderStatus.PROCESSING)
    assert (order.currency, order.total) == ("USD", Decimal("29.35"))
    assert order.buyer_email == "john.doe@example.com" and order.buyer_name == "John Doe"
    assert [(i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.items] == [
        (None, "Woo Single #1", 2, Decimal("3"), Decimal("6.00")),
        ("Bar3", "Ship Your Idea &ndash; Color: Black, Size: M Test", 1, Decimal("12"), Decimal("12.00")),
    ]
    assert order.ordered_at is not None and order.ordered_at.isoformat() == "2017-03-22T19:28:02+00:00"


@respx.mock
def test_a_lookup_and_a_webhook_of_the_same_order_agree() -> None:
    raw = order_727()
    respx.get(f"{API}/orders/727").mock(return_value=httpx.Response(200, json=raw))
    with client() as http:
        looked_up = CONNECTOR.fetch_order(STORE, http, "727")
    delivered = CONNECTOR.parse(STORE, {"X-WC-Webhook-Topic": "order.updated"}, json.dumps(raw).encode(), "raw/k", NOW)
    assert looked_up == delivered.order_events[0].order


@respx.mock
def test_no_such_order_is_none_without_a_search() -> None:
    route = respx.get(f"{API}/orders/4242").mock(return_value=httpx.Response(404, json=INVALID_ID))
    search = respx.get(f"{API}/orders").mock(return_value=httpx.Response(200, json=[]))
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "#4242") is None
    assert route.call_count == 1 and search.call_count == 0


@respx.mock
def test_an_order_whose_number_differs_from_its_id_is_not_taken_and_the_number_is_searched() -> None:
    respx.get(f"{API}/orders/1050").mock(return_value=httpx.Response(200, json=order_727(id=1050, number="2210")))
    search = respx.get(f"{API}/orders").mock(
        return_value=httpx.Response(200, json=[order_727(id=1377, number="10500"), order_727(id=1388, number="1050")])
    )
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "1050")
    assert search.calls.last.request.url.params["search"] == "1050"
    assert order is not None and order.order_ref == "1050"


@respx.mock
def test_a_number_that_is_not_numeric_is_searched() -> None:
    search = respx.get(f"{API}/orders").mock(return_value=httpx.Response(200, json=[order_727(number="WC-727")]))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "#WC-727")
    assert search.call_count == 1 and search.calls.last.request.url.params["per_page"] == "20"
    assert order is not None and order.order_ref == "WC-727"


@respx.mock
def test_a_search_without_that_exact_number_is_none() -> None:
    respx.get(f"{API}/orders").mock(return_value=httpx.Response(200, json=[order_727(number="WC-7270")]))
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "WC-727") is None


def test_an_empty_reference_is_none_without_a_call() -> None:
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "#") is None
        assert http.attempts == 0


@respx.mock
def test_a_refused_lookup_raises_with_the_reason() -> None:
    respx.get(f"{API}/orders/727").mock(
        return_value=httpx.Response(
            401,
            json={
                "code": "woocommerce_rest_cannot_view",
                "message": "Sorry, you cannot view this resource.",
                "data": {"status": 401},
            },
        )
    )
    with client() as http, pytest.raises(ChannelError, match="cannot view this resource") as caught:
        CONNECTOR.fetch_order(STORE, http, "727")
    assert caught.value.details["status"] == 401


@respx.mock
def test_a_5xx_on_lookup_is_retried_then_raised() -> None:
    route = respx.get(f"{API}/orders/727").mock(return_value=httpx.Response(502, text="Bad Gateway"))
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http, "727")
    assert route.call_count == 5 and caught.value.details["status"] == 502


@respx.mock
def test_an_unreadable_order_is_malformed_with_its_number() -> None:
    respx.get(f"{API}/orders/727").mock(return_value=httpx.Response(200, json=order_727(total="a lot")))
    with client() as http, pytest.raises(MalformedPayload, match="727"):
        CONNECTOR.fetch_order(STORE, http, "727")


@respx.mock
def test_an_answer_that_is_not_json_is_malformed() -> None:
    respx.get(f"{API}/orders/727").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    with client() as http, pytest.raises(MalformedPayload, match="not valid JSON"):
        CONNECTOR.fetch_order(STORE, http, "727")


# --- webhooks -----------------------------------------------------------------------------------


def created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    answer = sample("webhook_created.json")
    answer.update(
        id=140 + WEBHOOK_TOPICS.index(body["topic"]),
        name=body["name"],
        topic=body["topic"],
        delivery_url=body["delivery_url"],
    )
    return httpx.Response(201, json=answer)


def test_the_subscribed_topics_are_exactly_the_parsed_ones() -> None:
    assert set(WEBHOOK_TOPICS) == {"order.created", "order.updated", "order.deleted", "order.restored"}
    for topic in WEBHOOK_TOPICS:
        parsed = CONNECTOR.parse(STORE, {"X-WC-Webhook-Topic": topic}, json.dumps(order_727()).encode(), "k", NOW)
        assert parsed.order_events


@respx.mock
def test_register_creates_one_active_signed_webhook_per_topic() -> None:
    route = respx.post(f"{API}/webhooks").mock(side_effect=created)
    with client() as http:
        ids = CONNECTOR.register_webhooks(STORE, http, CALLBACK, secret="whsec-1")
    assert ids == ["140", "141", "142", "143"]
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies == [
        {"name": f"Helpdesk {topic}", "topic": topic, "delivery_url": CALLBACK, "secret": "whsec-1", "status": "active"}
        for topic in WEBHOOK_TOPICS
    ]
    assert all(call.request.headers["Authorization"].startswith("Basic ") for call in route.calls)


def test_register_needs_a_secret() -> None:
    with client() as http, pytest.raises(ChannelError, match="secret"):
        CONNECTOR.register_webhooks(STORE, http, CALLBACK, secret="")


@respx.mock
def test_a_failed_registration_deletes_the_webhooks_already_created() -> None:
    def post(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["topic"] == "order.deleted":
            return httpx.Response(
                400,
                json={"code": "rest_invalid_param", "message": "Invalid parameter(s): topic", "data": {"status": 400}},
            )
        return created(request)

    respx.post(f"{API}/webhooks").mock(side_effect=post)
    undo = respx.delete(url__regex=rf"{API}/webhooks/\d+").mock(return_value=httpx.Response(200, json={}))
    with client() as http, pytest.raises(ChannelError, match="Invalid parameter") as caught:
        CONNECTOR.register_webhooks(STORE, http, CALLBACK, secret="whsec-1")
    assert caught.value.details["status"] == 400
    assert [c.request.url.path for c in undo.calls] == ["/wp-json/wc/v3/webhooks/140", "/wp-json/wc/v3/webhooks/141"]
    assert all(c.request.url.params["force"] == "true" for c in undo.calls)


@respx.mock
def test_a_webhook_post_that_fails_with_5xx_is_not_repeated() -> None:
    route = respx.post(f"{API}/webhooks").mock(return_value=httpx.Response(503))
    with client() as http, pytest.raises(ChannelError):
        CONNECTOR.register_webhooks(STORE, http, CALLBACK, secret="whsec-1")
    assert route.call_count == 1


@respx.mock
def test_remove_force_deletes_each_webhook_and_tolerates_one_already_gone() -> None:
    deleted = httpx.Response(200, json=sample("webhook_created.json"))
    first = respx.delete(f"{API}/webhooks/142").mock(return_value=deleted)
    gone = respx.delete(f"{API}/webhooks/143").mock(
        return_value=httpx.Response(
            404, json={"code": "woocommerce_rest_webhook_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}
        )
    )
    with client() as http:
        assert CONNECTOR.remove_webhooks(STORE, http, ["142", "143"]) is None
    assert first.calls.last.request.url.params["force"] == "true"
    assert gone.call_count == 1


@respx.mock
def test_a_refused_removal_raises() -> None:
    respx.delete(f"{API}/webhooks/142").mock(
        return_value=httpx.Response(
            401,
            json={
                "code": "woocommerce_rest_cannot_delete",
                "message": "Sorry, you are not allowed to delete this resource.",
                "data": {"status": 401},
            },
        )
    )
    with client() as http, pytest.raises(ChannelError, match="not allowed to delete") as caught:
        CONNECTOR.remove_webhooks(STORE, http, ["142"])
    assert caught.value.details["status"] == 401


def test_a_webhook_id_that_is_not_a_number_is_refused_without_a_call() -> None:
    with client() as http, pytest.raises(ChannelError, match="not a WooCommerce webhook id"):
        CONNECTOR.remove_webhooks(STORE, http, ["1?force=false"])
    assert http.attempts == 0


# --- import time --------------------------------------------------------------------------------
