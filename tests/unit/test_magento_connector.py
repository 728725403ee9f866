"""Magento 2 / Adobe Commerce connector: order lookup by increment id with shipment tracking, and the
credential check, on respx-mocked HTTP with the documented payloads under
infrastructure/local/samples/magento."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.magento import CONNECTOR, MagentoConnector
from helpdesk.core.errors import ChannelError, MalformedPayload
from helpdesk.core.models import Channel, OrderStatus, Store
from tests.unit.builders import NOW

SAMPLES = Path(__file__).resolve().parents[2] / "infrastructure/local/samples/magento"
SITE = "https://magento.example.com"
REST = f"{SITE}/rest/V1"
TOKEN = "p7xk2m9q4w8e1r5t3y6u0i2o4p6a8s0d"
STORE = Store(
    tenant_id="t1",
    store_id="m1",
    channel=Channel.MAGENTO,
    display_name="Luma on Magento",
    base_url=SITE,
    secret_name="helpdesk/t1/m1",
    created_at=NOW,
)
F = "searchCriteria[filter_groups][0][filters][0]"
NOT_AUTHORIZED = {
    "message": "The consumer isn't authorized to access %resources.",
    "parameters": {"resources": "Magento_Sales::actions_view"},
}


def sample(name: str) -> Any:
    return copy.deepcopy(json.loads((SAMPLES / name).read_text()))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(store: Store = STORE) -> ChannelHttpClient:
    http = CONNECTOR.client(store, {"access_token": TOKEN})
    http._sleep = Sleeps()
    return http


def the_order(**changes: Any) -> dict[str, Any]:
    order = sample("orders_search_increment_id.json")["items"][0]
    order.update(changes)
    return order


def found(*orders: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"items": list(orders), "search_criteria": {}, "total_count": len(orders)})


def shipments(*items: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"items": list(items), "search_criteria": {}, "total_count": len(items)})


def the_shipment(**changes: Any) -> dict[str, Any]:
    shipment = sample("shipments_search_order_id.json")["items"][0]
    shipment.update(changes)
    return shipment


def mock_lookup(
    order: dict[str, Any] | None = None, *shipment_items: dict[str, Any]
) -> tuple[respx.Route, respx.Route]:
    orders = respx.get(f"{REST}/orders").mock(return_value=found(order or the_order()))
    ships = respx.get(f"{REST}/shipments").mock(
        return_value=shipments(*shipment_items)
        if shipment_items
        else httpx.Response(200, content=(SAMPLES / "shipments_search_order_id.json").read_bytes())
    )
    return orders, ships


def test_the_module_exposes_a_magento_connector() -> None:
    assert isinstance(CONNECTOR, MagentoConnector) and CONNECTOR.channel == Channel.MAGENTO.value == "magento"


# --- client -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "api"),
    [
        (SITE, REST),
        (f"{SITE}/", REST),
        (f"{SITE}/rest", REST),
        (f"{SITE}/rest/V1", REST),
        (f"{SITE}/rest/default", f"{SITE}/rest/default/V1"),
        (f"{SITE}/rest/default/V1/", f"{SITE}/rest/default/V1"),
        (f"{SITE}/shop", f"{SITE}/shop/rest/V1"),
    ],
)
@respx.mock
def test_client_sends_the_integration_token_as_bearer_to_the_rest_api(base_url: str, api: str) -> None:
    route = respx.get(f"{api}/store/storeConfigs").mock(return_value=httpx.Response(200, json=[]))
    with CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), {"access_token": TOKEN}) as http:
        assert isinstance(http._bucket, TokenBucket) and (http._bucket.rate, http._bucket.burst) == (5.0, 5)
        http.get("/V1/store/storeConfigs")
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_client_names_the_missing_token() -> None:
    with pytest.raises(ChannelError, match=r"credentials\['access_token'\]"):
        CONNECTOR.client(STORE, {})


@pytest.mark.parametrize("base_url", [None, "http://magento.example.com", "magento.example.com"])
def test_a_bearer_token_is_never_sent_without_https(base_url: str | None) -> None:
    with pytest.raises(ChannelError):
        CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), {"access_token": TOKEN})


def test_plain_http_is_allowed_on_localhost() -> None:
    with CONNECTOR.client(STORE.model_copy(update={"base_url": "http://localhost:8081"}), {"access_token": TOKEN}) as h:
        assert str(h._http.base_url).rstrip("/") == "http://localhost:8081/rest"


# --- check_credentials --------------------------------------------------------------------------


@respx.mock
def test_check_credentials_labels_the_default_store_view_and_probes_orders() -> None:
    configs = respx.get(f"{REST}/store/storeConfigs").mock(
        return_value=httpx.Response(200, json=sample("store_configs.json"))
    )
    probe = respx.get(f"{REST}/orders").mock(return_value=found())
    with client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "https://magento.example.com"
    assert configs.call_count == 1
    assert probe.calls.last.request.url.params["searchCriteria[pageSize]"] == "1"


@respx.mock
def test_refused_credentials_raise_magentos_message_with_its_parameters() -> None:
    respx.get(f"{REST}/store/storeConfigs").mock(
        return_value=httpx.Response(
            401,
            json={
                "message": "The consumer isn't authorized to access %resources.",
                "parameters": {"resources": "Magento_Backend::store"},
            },
        )
    )
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 401
    assert "The consumer isn't authorized to access Magento_Backend::store." in caught.value.message
    assert TOKEN not in caught.value.message


@respx.mock
def test_a_token_without_order_access_fails_the_check() -> None:
    respx.get(f"{REST}/store/storeConfigs").mock(return_value=httpx.Response(200, json=sample("store_configs.json")))
    respx.get(f"{REST}/orders").mock(return_value=httpx.Response(401, json=NOT_AUTHORIZED))
    with client() as http, pytest.raises(ChannelError, match="Magento_Sales::actions_view"):
        CONNECTOR.check_credentials(STORE, http)


@respx.mock
def test_an_empty_store_list_is_malformed() -> None:
    respx.get(f"{REST}/store/storeConfigs").mock(return_value=httpx.Response(200, json=[]))
    with client() as http, pytest.raises(MalformedPayload, match="store views"):
        CONNECTOR.check_credentials(STORE, http)


# --- fetch_order --------------------------------------------------------------------------------


@respx.mock
def test_fetch_order_searches_the_increment_id_and_reads_the_shipment_tracking() -> None:
    orders, ships = mock_lookup()
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    params = orders.calls.last.request.url.params
    assert (params[f"{F}[field]"], params[f"{F}[value]"], params[f"{F}[condition_type]"]) == (
        "increment_id",
        "000000003",
        "eq",
    )
    ship_params = ships.calls.last.request.url.params
    assert (ship_params[f"{F}[field]"], ship_params[f"{F}[value]"], ship_params[f"{F}[condition_type]"]) == (
        "order_id",
        "3",
        "eq",
    )
    assert order is not None
    assert (order.channel, order.order_ref, order.store_id) == (Channel.MAGENTO, "000000003", "m1")
    assert order.status == OrderStatus.SHIPPED and order.channel_status == "processing"
    assert (order.currency, order.total) == ("USD", Decimal("165"))
    assert order.buyer_email == "jdoe@example.com" and order.buyer_name == "Jane Doe"
    assert [(i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.items] == [
        ("WS12-M-Orange", "Radiant Tee-M-Orange", 1, Decimal("22"), Decimal("22")),
        ("240-LV08", "Advanced Pilates & Yoga (Strength)", 1, Decimal("18"), Decimal("18")),
        (
            "24-WG080-24-WG084-24-WG088-24-WG082-blue-24-WG086",
            "Sprite Yoga Companion Kit",
            1,
            Decimal("68"),
            Decimal("68"),
        ),
        ("MH01-S-Gray", "Chaz Kangeroo Hoodie", 1, Decimal("52"), Decimal("52")),
    ]  # bundle and configurable children are left out
    assert (order.carrier, order.tracking_number) == ("United Parcel Service", "1Y-9876543210")
    assert order.tracking_url == "https://www.ups.com/track?tracknum=1Y-9876543210"
    assert order.shipped_at == datetime(2017, 8, 21, 22, 40, 1, tzinfo=UTC)
    assert order.ordered_at == datetime(2017, 8, 21, 22, 22, 19, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 8, 21, 22, 40, 1, tzinfo=UTC)
    assert order.delivered_at is None


@pytest.mark.parametrize("ref", ["#000000003", "3", "#3"])
@respx.mock
def test_a_short_number_is_also_tried_zero_padded_in_the_same_call(ref: str) -> None:
    orders, _ = mock_lookup()
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ref)
    params = orders.calls.last.request.url.params
    assert orders.call_count == 1
    if ref.lstrip("#") == "3":
        assert (params[f"{F}[value]"], params[f"{F}[condition_type]"]) == ("3,000000003", "in")
    assert order is not None and order.order_ref == "000000003"


@respx.mock
def test_a_prefixed_increment_id_is_searched_as_given() -> None:
    orders, _ = mock_lookup(the_order(increment_id="2000000117"))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "2000000117")
    assert orders.calls.last.request.url.params[f"{F}[condition_type]"] == "eq"
    assert order is not None and order.order_ref == "2000000117"


@respx.mock
def test_no_such_order_is_none_and_no_shipment_is_asked_for() -> None:
    orders = respx.get(f"{REST}/orders").mock(return_value=found())
    ships = respx.get(f"{REST}/shipments").mock(return_value=shipments())
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "000000999") is None
    assert orders.call_count == 1 and ships.call_count == 0


@pytest.mark.parametrize("ref", ["", " # ", "1,2"])
def test_a_reference_that_cannot_be_searched_is_none_without_a_call(ref: str) -> None:
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ref) is None
        assert http.attempts == 0


@pytest.mark.parametrize(
    ("state", "shipped", "status"),
    [
        ("new", False, OrderStatus.PENDING),
        ("pending_payment", False, OrderStatus.PENDING),
        ("processing", False, OrderStatus.PROCESSING),
        ("processing", True, OrderStatus.SHIPPED),
        ("complete", True, OrderStatus.COMPLETED),
        ("complete", False, OrderStatus.COMPLETED),
        ("holded", False, OrderStatus.ON_HOLD),
        ("payment_review", False, OrderStatus.ON_HOLD),
        ("canceled", False, OrderStatus.CANCELLED),
        ("closed", True, OrderStatus.REFUNDED),
        ("something_custom", False, OrderStatus.UNKNOWN),
    ],
)
@respx.mock
def test_states_map_to_order_statuses(state: str, shipped: bool, status: OrderStatus) -> None:
    respx.get(f"{REST}/orders").mock(return_value=found(the_order(state=state, status=state)))
    respx.get(f"{REST}/shipments").mock(return_value=shipments(the_shipment()) if shipped else shipments())
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    assert order is not None and order.status == status and order.channel_status == state


@respx.mock
def test_a_custom_status_is_kept_next_to_the_state() -> None:
    mock_lookup(the_order(state="processing", status="fraud"))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    assert order is not None and order.channel_status == "processing/fraud"


@respx.mock
def test_an_order_not_shipped_yet_has_no_tracking() -> None:
    respx.get(f"{REST}/orders").mock(return_value=found(the_order()))
    respx.get(f"{REST}/shipments").mock(return_value=shipments())
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    assert order is not None and order.status == OrderStatus.PROCESSING
    assert (order.carrier, order.tracking_number, order.tracking_url, order.shipped_at) == (None, None, None, None)


@respx.mock
def test_the_newest_shipment_with_a_track_wins() -> None:
    older = the_shipment(entity_id=3, created_at="2017-08-21 22:40:01")
    newer = the_shipment(
        entity_id=4,
        created_at="2017-08-23 09:00:00",
        tracks=[
            {"track_number": "", "title": "Federal Express", "carrier_code": "fedex"},
            {
                "track_number": "794644790138",
                "title": "Federal Express",
                "carrier_code": "fedex",
                "created_at": "2017-08-23 09:00:00",
            },
        ],
    )
    mock_lookup(the_order(), older, newer)
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    assert order is not None
    assert (order.carrier, order.tracking_number) == ("Federal Express", "794644790138")
    assert order.tracking_url == "https://www.fedex.com/fedextrack/?trknbr=794644790138"
    assert order.shipped_at == datetime(2017, 8, 23, 9, 0, tzinfo=UTC)


@respx.mock
def test_a_carrier_magento_does_not_know_has_no_tracking_url() -> None:
    mock_lookup(the_order(), the_shipment(tracks=[{"track_number": "LC-55 01", "title": "", "carrier_code": "custom"}]))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    assert order is not None
    assert (order.carrier, order.tracking_number, order.tracking_url) == ("custom", "LC-55 01", None)


@respx.mock
def test_a_guest_order_takes_the_buyer_from_the_addresses() -> None:
    guest = the_order(customer_firstname=None, customer_lastname=None, customer_email=None, customer_is_guest=1)
    guest["billing_address"].update(firstname="Ann", lastname="Guest", email="ann.guest@example.com")
    mock_lookup(guest)
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    assert order is not None and (order.buyer_name, order.buyer_email) == ("Ann Guest", "ann.guest@example.com")
    del guest["billing_address"]
    mock_lookup(guest)
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "000000003")
    assert order is not None and (order.buyer_name, order.buyer_email) == ("Jane Doe", "jdoe@example.com")


@respx.mock
def test_a_refused_lookup_raises_with_the_reason() -> None:
    respx.get(f"{REST}/orders").mock(return_value=httpx.Response(401, json=NOT_AUTHORIZED))
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http, "000000003")
    assert caught.value.details["status"] == 401
    assert "isn't authorized to access Magento_Sales::actions_view." in caught.value.message


@respx.mock
def test_a_wrong_base_url_is_an_error_not_a_missing_order() -> None:
    respx.get(f"{REST}/orders").mock(
        return_value=httpx.Response(404, json={"message": "Request does not match any route."})
    )
    with client() as http, pytest.raises(ChannelError, match="does not match any route") as caught:
        CONNECTOR.fetch_order(STORE, http, "000000003")
    assert caught.value.details["status"] == 404


@respx.mock
def test_list_parameters_are_filled_in_by_position() -> None:
    respx.get(f"{REST}/orders").mock(
        return_value=httpx.Response(
            400, json={"message": '"%1" is not a valid condition type.', "parameters": ["between"]}
        )
    )
    with client() as http, pytest.raises(ChannelError, match='"between" is not a valid condition type'):
        CONNECTOR.fetch_order(STORE, http, "000000003")


@respx.mock
def test_a_5xx_is_retried_then_raised() -> None:
    route = respx.get(f"{REST}/orders").mock(return_value=httpx.Response(503))
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http, "000000003")
    assert route.call_count == 5 and caught.value.details["status"] == 503


@respx.mock
def test_a_failing_shipment_search_fails_the_lookup() -> None:
    respx.get(f"{REST}/orders").mock(return_value=found(the_order()))
    respx.get(f"{REST}/shipments").mock(
        return_value=httpx.Response(
            401,
            json={
                "message": "The consumer isn't authorized to access %resources.",
                "parameters": {"resources": "Magento_Sales::shipment"},
            },
        )
    )
    with client() as http, pytest.raises(ChannelError, match="Magento_Sales::shipment"):
        CONNECTOR.fetch_order(STORE, http, "000000003")


@pytest.mark.parametrize("body", [{"total_count": 0}, {"items": {}}, []])
@respx.mock
def test_a_search_answer_of_the_wrong_shape_is_malformed(body: Any) -> None:
    respx.get(f"{REST}/orders").mock(return_value=httpx.Response(200, json=body))
    with client() as http, pytest.raises(MalformedPayload, match="items"):
        CONNECTOR.fetch_order(STORE, http, "000000003")


@pytest.mark.parametrize("changes", [{"grand_total": "lots"}, {"created_at": "yesterday"}, {"items": [7]}])
@respx.mock
def test_an_unreadable_order_is_malformed_with_its_increment_id(changes: dict[str, Any]) -> None:
    mock_lookup(the_order(**changes))
    with client() as http, pytest.raises(MalformedPayload, match="000000003"):
        CONNECTOR.fetch_order(STORE, http, "000000003")


@respx.mock
def test_an_order_without_entity_id_is_malformed() -> None:
    order = the_order()
    del order["entity_id"]
    respx.get(f"{REST}/orders").mock(return_value=found(order))
    with client() as http, pytest.raises(MalformedPayload, match="entity_id"):
        CONNECTOR.fetch_order(STORE, http, "000000003")
