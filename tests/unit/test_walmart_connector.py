"""Walmart connector: notification authentication (Basic credentials / HMAC), ORDER_UPDATES and legacy
order notifications, the client-credentials token, order lookups and subscription management, on
respx-mocked HTTP with the samples under infrastructure/local/samples/walmart."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helpdesk.channels.base import ParsedDelivery
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.oauth import clear_token_cache
from helpdesk.channels.walmart import (
    CONNECTOR,
    SERVICE_NAME,
    WEBHOOK_AUTH_HEADER,
    WEBHOOK_USER,
    WalmartConnector,
    walmart_auth,
)
from helpdesk.core.errors import ChannelError, InvalidSignature, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "infrastructure/local/samples/walmart"
BASE = "https://marketplace.walmartapis.com"
CLIENT_ID = "c7291c6b-7290-4e1c-9c5a-0f3f4a6b8d21"
CLIENT_SECRET = "AKeyOnlyTheSellerKnows-0123456789"
SECRET = "wm-webhook-secret-123"
CALLBACK = "https://hooks.helpdesk.example.com/webhooks/t1/walmart/wm-us"
PO, CUSTOMER_ORDER = "1815367951431", "4372135469400"
RAW_KEY = "raw/t1/walmart/wm-us/2021/06/16/walmart-6a2f8d41-3b7e-4f0c-8e55-1d9c4b7a2f30"
NOW = datetime(2021, 6, 16, 12, 0, tzinfo=UTC)
TOKEN = json.loads((SAMPLES / "token.json").read_text())["access_token"]
STORE = Store(
    tenant_id="t1",
    store_id="wm-us",
    channel=Channel.WALMART,
    display_name="Coffee Corner on Walmart",
    secret_name="helpdesk/t1/wm-us",
    created_at=NOW,
)
CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_secret": SECRET}
WALMART = WalmartConnector(clock=lambda: NOW)


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    clear_token_cache()


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> Any:
    return copy.deepcopy(json.loads(raw(name)))


def parse(payload: Any) -> ParsedDelivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return CONNECTOR.parse(STORE, {}, body, RAW_KEY, NOW)


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def http_client(sleeps: Sleeps | None = None) -> ChannelHttpClient:
    """What CONNECTOR.client() builds, without the token bucket and with recorded (not real) sleeps."""
    return ChannelHttpClient(
        BASE,
        channel="walmart",
        headers={"Accept": "application/json"},
        auth=walmart_auth(CLIENT_ID, CLIENT_SECRET, "t1/wm-us:" + CLIENT_ID),
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(3),
    )


def mock_token() -> respx.Route:
    return respx.post(f"{BASE}/v3/token").mock(return_value=httpx.Response(200, content=raw("token.json")))


def test_the_module_exposes_a_walmart_connector() -> None:
    assert isinstance(CONNECTOR, WalmartConnector)
    assert CONNECTOR.channel == Channel.WALMART.value == "walmart"


# --- delivery authentication --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        basic(WEBHOOK_USER, SECRET),
        f"Basic {basic(WEBHOOK_USER, SECRET)}",
        f"basic  {basic(WEBHOOK_USER, SECRET)} ",
        basic("seller-chosen-user", SECRET),
    ],
)
def test_verify_accepts_basic_credentials_carrying_the_secret(value: str) -> None:
    body = raw("webhook_po_created.json")
    assert CONNECTOR.verify({WEBHOOK_AUTH_HEADER: value}, body, SECRET) is None
    CONNECTOR.verify({WEBHOOK_AUTH_HEADER.lower(): value}, body, SECRET)


def test_verify_reads_the_authorization_header_of_a_subscription_made_by_hand() -> None:
    CONNECTOR.verify({"Authorization": f"Basic {basic('abc', SECRET)}"}, b"{}", SECRET)


def test_verify_accepts_an_hmac_of_the_raw_body_in_hex_or_base64() -> None:
    body = raw("webhook_order_updates_po_created.json")
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    for value in (digest.hex(), digest.hex().upper(), base64.b64encode(digest).decode()):
        CONNECTOR.verify({WEBHOOK_AUTH_HEADER: value}, body, SECRET)


@pytest.mark.parametrize(
    "value",
    [
        basic(WEBHOOK_USER, "wm-webhook-secret-124"),
        basic(WEBHOOK_USER, ""),
        basic(SECRET, "x"),
        basic(SECRET, ""),
        f"Bearer {SECRET}",
        SECRET,
        "Basic",
        "Basic !!!",
        "sïgnature",
        hmac.new(b"another-secret", b"{}", hashlib.sha256).hexdigest(),
    ],
)
def test_verify_rejects_other_credentials(value: str) -> None:
    with pytest.raises(InvalidSignature, match="does not carry"):
        CONNECTOR.verify({WEBHOOK_AUTH_HEADER: value}, b"{}", SECRET)


def test_verify_rejects_an_hmac_of_another_body() -> None:
    body = raw("webhook_po_created.json")
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({WEBHOOK_AUTH_HEADER: signature}, body.replace(b"CREATED", b"CREATEX"), SECRET)


@pytest.mark.parametrize(
    "headers", [{}, {WEBHOOK_AUTH_HEADER: ""}, {WEBHOOK_AUTH_HEADER: "  "}, {"Content-Type": "application/json"}]
)
def test_verify_rejects_a_missing_header(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature, match=f"missing {WEBHOOK_AUTH_HEADER}"):
        CONNECTOR.verify(headers, b"{}", SECRET)


def test_verify_refuses_everything_without_a_secret() -> None:
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({WEBHOOK_AUTH_HEADER: basic(WEBHOOK_USER, "")}, b"{}", "")


# --- ping and delivery id -----------------------------------------------------------------------


def test_walmart_never_pings() -> None:
    assert CONNECTOR.is_ping({}, raw("webhook_po_created.json")) is False
    assert CONNECTOR.is_ping({}, b"") is False


def test_delivery_id_is_the_event_id() -> None:
    assert CONNECTOR.delivery_id({}, raw("webhook_intent_to_cancel.json")) == (
        "walmart-6a2f8d41-3b7e-4f0c-8e55-1d9c4b7a2f30"
    )
    assert CONNECTOR.delivery_id({}, raw("webhook_order_updates_fraud_cancel.json")) == (
        "walmart-8e1b4d6f-2a9c-4b3e-8f7d-5c0a1e9b3d44"
    )


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"source": {}}', b'{"source": {"eventId": "../x"}}', b'{"source": {"eventId": 12}}']
)
def test_delivery_id_falls_back_to_a_digest(body: bytes) -> None:
    assert CONNECTOR.delivery_id({}, body) == "walmart-sha-" + hashlib.sha256(body).hexdigest()[:32]


# --- PO_CREATED ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["webhook_po_created.json", "webhook_order_updates_po_created.json"])
def test_a_new_purchase_order_is_a_created_event(name: str) -> None:
    parsed = CONNECTOR.parse(STORE, {}, raw(name), RAW_KEY, NOW)

    assert parsed.messages == []
    assert len(parsed.order_events) == 1
    event = parsed.order_events[0]
    assert event.event_type is OrderEventType.CREATED
    assert (event.tenant_id, event.store_id, event.channel) == ("t1", "wm-us", Channel.WALMART)
    assert event.event_id == f"PO_CREATED:{PO}:{sample(name)['source']['eventId']}"
    assert event.occurred_at == datetime(2021, 6, 15, 22, 33, 31, 512000, tzinfo=UTC)
    assert event.raw_s3_key == RAW_KEY
    order = event.order
    assert order.order_ref == CUSTOMER_ORDER  # the number the buyer sees
    assert order.status is OrderStatus.PENDING
    assert order.channel_status == "CREATED"
    assert [(i.sku, i.name, i.quantity) for i in order.items] == [
        ("YHY-FN25200B2", "Mac Sports Heavy Duty Steel Double Decker Collapsible Yard Cart Wagon, Purple", 1),
        ("YHY-FN25200B3", "Mac Sports Wagon Canopy, Purple", 2),
    ]
    assert [(i.unit_price, i.total) for i in order.items] == [(None, None), (None, None)]  # no prices notified
    assert order.ordered_at == datetime(2021, 6, 15, 22, 33, 27, tzinfo=UTC)
    assert order.updated_at == datetime(2021, 6, 15, 22, 33, 30, tzinfo=UTC)
    assert (order.total, order.buyer_email, order.tracking_number) == (None, None, None)
    # estimatedDeliveryDate: one date, not a window
    assert order.delivery_earliest == order.delivery_latest == datetime(2021, 6, 25, 19, 0, 0, tzinfo=UTC)


def test_the_purchase_order_id_is_the_ref_when_no_customer_order_id_is_given() -> None:
    payload = sample("webhook_po_created.json")
    del payload["payload"]["customerOrderId"]
    assert parse(payload).order_events[0].order.order_ref == PO


def test_epoch_millisecond_dates_are_read_too() -> None:
    payload = sample("webhook_order_updates_po_created.json")
    payload["payload"]["order"]["orderDate"] = 1623796407000
    payload["payload"]["order"]["orderLines"][0]["statusDate"] = "1623835855623"
    order = parse(payload).order_events[0].order
    assert order.ordered_at == datetime(2021, 6, 15, 22, 33, 27, tzinfo=UTC)
    assert order.updated_at == datetime(2021, 6, 16, 9, 30, 55, 623000, tzinfo=UTC)


def test_a_new_purchase_order_may_carry_its_estimate_in_shipping_info_as_epoch_milliseconds() -> None:
    payload = sample("webhook_order_updates_po_created.json")
    order = payload["payload"]["order"]
    del order["estimatedDeliveryDate"]
    order["shippingInfo"] = {"estimatedDeliveryDate": 1624734000000, "estimatedShipDate": 1623906000000}
    parsed = parse(payload).order_events[0].order
    assert parsed.delivery_earliest == parsed.delivery_latest == datetime(2021, 6, 26, 19, 0, 0, tzinfo=UTC)


def test_a_new_purchase_order_without_an_estimate_has_no_delivery_window() -> None:
    payload = sample("webhook_po_created.json")
    del payload["payload"]["estimatedDeliveryDate"]
    order = parse(payload).order_events[0].order
    assert (order.delivery_earliest, order.delivery_latest) == (None, None)


def test_the_sub_event_type_may_sit_directly_in_the_payload() -> None:
    payload = sample("webhook_order_updates_po_created.json")
    payload["payload"]["subEventType"] = payload["payload"].pop("meta")["subEventType"]
    assert parse(payload).order_events[0].event_type is OrderEventType.CREATED


def test_an_event_without_id_gets_one_from_its_order_and_time() -> None:
    payload = sample("webhook_po_created.json")
    del payload["source"]["eventId"]
    assert parse(payload).order_events[0].event_id == f"PO_CREATED:{PO}:PO_CREATED:{PO}:2021-06-15T22:33:31.512Z"


# --- INTENT_TO_CANCEL ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["webhook_intent_to_cancel.json", "webhook_order_updates_intent_to_cancel.json"])
def test_an_intent_to_cancel_is_a_cancellation_request_message(name: str) -> None:
    parsed = CONNECTOR.parse(STORE, {}, raw(name), RAW_KEY, NOW)

    assert len(parsed.order_events) == 1 and len(parsed.messages) == 1
    event = parsed.order_events[0]
    assert event.event_type is OrderEventType.CANCELLATION_REQUESTED
    assert event.order.order_ref == CUSTOMER_ORDER
    assert event.order.status is OrderStatus.UNKNOWN  # only asked: nothing is cancelled yet
    assert event.order.items == []
    assert event.occurred_at == datetime(2021, 6, 16, 8, 2, 11, 204000, tzinfo=UTC)

    message = parsed.messages[0]
    assert message.cancellation_requested is True
    assert (message.tenant_id, message.store_id, message.channel) == ("t1", "wm-us", Channel.WALMART)
    assert message.channel_thread_id == f"walmart-order:{PO}"
    assert message.channel_message_id == f"walmart-intent-to-cancel:{PO}:2"
    assert message.order_ref == CUSTOMER_ORDER
    assert message.subject == f"Cancellation request for Walmart order {CUSTOMER_ORDER}"
    assert message.body == (
        f"The buyer asked Walmart to cancel this line of order {CUSTOMER_ORDER} (purchase order {PO}) "
        "before it ships:\n"
        "- line 2: Mac Sports Wagon Canopy, Purple × 2 — reason: CUSTOMER_REQUESTED_SELLER_TO_CANCEL "
        "(Ordered by mistake)"
    )
    assert message.received_at == event.occurred_at
    assert message.raw_s3_key == RAW_KEY
    assert (message.buyer_email, message.buyer_name) == (None, None)


def test_both_envelopes_give_the_same_message_id() -> None:
    legacy = parse(raw("webhook_intent_to_cancel.json")).messages[0]
    updates = parse(raw("webhook_order_updates_intent_to_cancel.json")).messages[0]
    assert legacy.channel_message_id == updates.channel_message_id


def test_a_whole_order_cancellation_request_lists_every_line() -> None:
    payload = sample("webhook_intent_to_cancel.json")
    first = copy.deepcopy(payload["payload"]["orderLines"][0])
    first.update(lineNumber="1", productName="Yard Cart", quantity={"unitOfMeasure": "EACH", "measurementValue": "1"})
    del first["cancelSubReasonCodeDescription"]
    payload["payload"]["orderLines"].insert(0, first)
    message = parse(payload).messages[0]
    assert message.channel_message_id == f"walmart-intent-to-cancel:{PO}:1-2"
    assert message.body.splitlines() == [
        f"The buyer asked Walmart to cancel these 2 lines of order {CUSTOMER_ORDER} (purchase order {PO}) "
        "before it ships:",
        "- line 1: Yard Cart × 1 — reason: CUSTOMER_REQUESTED_SELLER_TO_CANCEL",
        "- line 2: Mac Sports Wagon Canopy, Purple × 2 — reason: CUSTOMER_REQUESTED_SELLER_TO_CANCEL "
        "(Ordered by mistake)",
    ]


def test_a_cancellation_request_without_lines_names_the_order() -> None:
    payload = sample("webhook_order_updates_intent_to_cancel.json")
    payload["payload"]["order"]["orderLines"] = []
    message = parse(payload).messages[0]
    assert message.body == (
        f"The buyer asked Walmart to cancel order {CUSTOMER_ORDER} (purchase order {PO}) before it ships."
    )
    assert message.channel_message_id == f"walmart-intent-to-cancel:{PO}:order"


# --- cancellations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("webhook_po_line_autocancelled.json", "PO_LINE_AUTOCANCELLED"),
        ("webhook_order_updates_po_line_autocancelled.json", "PO_LINE_AUTOCANCELLED"),
        ("webhook_order_updates_fraud_cancel.json", "FRAUD_CANCEL"),
    ],
)
def test_cancellations_are_cancelled_events_that_leave_the_order_to_fetch_order(name: str, kind: str) -> None:
    parsed = parse(raw(name))
    assert parsed.messages == []
    event = parsed.order_events[0]
    assert event.event_type is OrderEventType.CANCELLED
    assert event.event_id == f"{kind}:{PO}:{sample(name)['source']['eventId']}"
    assert event.order.order_ref == CUSTOMER_ORDER
    # Possibly only some lines: the stored status and items stay (merged as "no change").
    assert event.order.status is OrderStatus.UNKNOWN
    assert event.order.items == []
    assert (event.order.delivery_earliest, event.order.delivery_latest) == (None, None)  # the promise is unchanged


# --- malformed notifications --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "no 'source'"),
        (b'{"payload": {}}', "no 'source'"),
        (b'{"source": {"eventType": "OFFER_UNPUBLISHED"}, "payload": {}}', "unsupported Walmart event type"),
        (b'{"source": {"eventType": "BUY_BOX_CHANGED"}, "payload": {}}', "unsupported Walmart event type"),
        (b'{"source": {"eventType": "PO_CREATED"}}', "no 'payload' object"),
        (
            b'{"source": {"eventType": "ORDER_UPDATES"}, "payload": {"meta": {"subEventType": "PO_SHIPPED"}}}',
            "unsupported Walmart order update",
        ),
        (
            b'{"source": {"eventType": "ORDER_UPDATES"}, "payload": {"meta": {"subEventType": "PO_CREATED"}}}',
            "no order object",
        ),
        (b'{"source": {"eventType": "PO_CREATED"}, "payload": {"customerOrderId": "1"}}', "purchaseOrderId"),
    ],
)
def test_unreadable_notifications_are_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse(body)
    assert reason in caught.value.message
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"purchaseOrderId": "18/../15"}, "not an order id"),
        ({"customerOrderId": True}, "not an order id"),
        ({"orderLines": {"line": 1}}, "could not be read"),
        ({"orderLines": ["line 1"]}, "could not be read"),
        ({"orderDate": "yesterday"}, "could not be read"),
        (
            {"orderLines": [{"lineNumber": "1", "productName": "x", "quantity": {"measurementValue": "one"}}]},
            "could not be read",
        ),
        (
            {"orderLines": [{"lineNumber": "1", "productName": "x", "quantity": {"measurementValue": "1.5"}}]},
            "could not be read",
        ),
        ({"orderLines": [{"lineNumber": "1", "productName": 7}]}, "could not be read"),
        ({"estimatedDeliveryDate": "next week"}, "could not be read"),
        ({"estimatedDeliveryDate": None, "shippingInfo": "Value"}, "could not be read"),
    ],
)
def test_wrongly_shaped_orders_are_malformed(change: dict[str, Any], reason: str) -> None:
    payload = sample("webhook_po_created.json")
    payload["payload"].update(change)
    with pytest.raises(MalformedPayload, match=reason):
        parse(payload)


def test_a_bad_event_time_is_malformed() -> None:
    payload = sample("webhook_intent_to_cancel.json")
    payload["source"]["eventTime"] = "last tuesday"
    with pytest.raises(MalformedPayload, match="could not be read"):
        parse(payload)


# --- client and token ---------------------------------------------------------------------------


@respx.mock
def test_client_gets_a_token_and_sends_walmart_headers() -> None:
    token = mock_token()
    api = respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(200, content=raw("subscriptions_list.json"))
    )
    credentials = CREDENTIALS | {"consumer_channel_type": "0f3e4dd4-0514-4990-b1c6-6fd72b4f5d08"}
    with CONNECTOR.client(STORE, credentials) as http:
        assert isinstance(http._bucket, TokenBucket)
        assert (http._bucket.rate, http._bucket.burst) == (5.0, 5)
        http.get("/v3/webhooks/subscriptions")
        http.get("/v3/webhooks/subscriptions")

    assert token.call_count == 1  # cached for the next request
    token_request = token.calls.last.request
    assert token_request.headers["Authorization"] == "Basic " + basic(CLIENT_ID, CLIENT_SECRET)
    assert token_request.headers["Accept"] == "application/json"
    assert token_request.headers["WM_SVC.NAME"] == SERVICE_NAME
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_request.content == b"grant_type=client_credentials"
    uuid.UUID(token_request.headers["WM_QOS.CORRELATION_ID"])

    first, second = (call.request for call in api.calls)
    assert first.headers["WM_SEC.ACCESS_TOKEN"] == TOKEN
    assert first.headers["WM_SVC.NAME"] == "Walmart Marketplace"
    assert first.headers["Accept"] == "application/json"
    assert first.headers["Authorization"] == "Basic " + basic(CLIENT_ID, CLIENT_SECRET)
    assert first.headers["WM_CONSUMER.CHANNEL.TYPE"] == "0f3e4dd4-0514-4990-b1c6-6fd72b4f5d08"
    correlation_ids = {
        token_request.headers["WM_QOS.CORRELATION_ID"],
        first.headers["WM_QOS.CORRELATION_ID"],
        second.headers["WM_QOS.CORRELATION_ID"],
    }
    assert len(correlation_ids) == 3  # one per request
    assert all(str(uuid.UUID(c)) == c for c in correlation_ids)


@respx.mock
def test_client_uses_the_store_base_url_for_the_sandbox() -> None:
    token = respx.post("https://sandbox.walmartapis.com/v3/token").mock(
        return_value=httpx.Response(200, content=raw("token.json"))
    )
    api = respx.get("https://sandbox.walmartapis.com/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(200, json={"events": []})
    )
    store = STORE.model_copy(update={"base_url": "https://sandbox.walmartapis.com/"})
    with CONNECTOR.client(store, CREDENTIALS) as http:
        http.get("/v3/webhooks/subscriptions")
    assert token.called and api.called


@pytest.mark.parametrize(
    ("credentials", "key"),
    [
        ({"client_secret": CLIENT_SECRET}, "client_id"),
        ({"client_id": CLIENT_ID}, "client_secret"),
        ({"client_id": " ", "client_secret": CLIENT_SECRET}, "client_id"),
    ],
)
def test_client_needs_the_api_key_pair(credentials: dict[str, str], key: str) -> None:
    with pytest.raises(ChannelError, match=key) as caught:
        CONNECTOR.client(STORE, credentials)
    assert CLIENT_SECRET not in caught.value.message


@respx.mock
def test_refused_api_keys_are_a_channel_error_401() -> None:
    respx.post(f"{BASE}/v3/token").mock(
        return_value=httpx.Response(
            401, json={"error": "invalid_client", "error_description": "Client authentication failed"}
        )
    )
    api = respx.get(f"{BASE}/v3/webhooks/subscriptions")
    with pytest.raises(ChannelError) as caught:
        CONNECTOR.check_credentials(STORE, http_client())
    assert caught.value.details["status"] == 401
    assert "Client authentication failed" in caught.value.message
    assert CLIENT_SECRET not in caught.value.message
    assert not api.called


# --- credentials check --------------------------------------------------------------------------


@respx.mock
def test_check_credentials_names_the_partner() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(200, content=raw("subscriptions_list.json"))
    )
    assert CONNECTOR.check_credentials(STORE, http_client()) == "Walmart seller 10000000359"


@respx.mock
def test_check_credentials_without_subscriptions_names_the_store() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(404, content=raw("error_not_found.json"))
    )
    assert CONNECTOR.check_credentials(STORE, http_client()) == "Walmart seller (Coffee Corner on Walmart)"


@respx.mock
def test_check_credentials_refused_by_the_api() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(
            403, json={"errors": [{"code": "FORBIDDEN.GMP_GATEWAY_API", "message": "Forbidden", "category": "DATA"}]}
        )
    )
    with pytest.raises(ChannelError, match=r"FORBIDDEN\.GMP_GATEWAY_API: Forbidden") as caught:
        CONNECTOR.check_credentials(STORE, http_client())
    assert caught.value.details["status"] == 403
    assert "body" not in caught.value.details  # subscription answers may hold credentials


# --- order lookup -------------------------------------------------------------------------------


@respx.mock
def test_fetch_order_by_customer_order_number() -> None:
    mock_token()
    listing = respx.get(f"{BASE}/v3/orders").mock(
        return_value=httpx.Response(200, content=raw("orders_by_customer_order.json"))
    )
    single = respx.get(f"{BASE}/v3/orders/{CUSTOMER_ORDER}")

    order = WALMART.fetch_order(STORE, http_client(), CUSTOMER_ORDER)

    assert order is not None
    assert not single.called
    params = listing.calls.last.request.url.params
    assert params["customerOrderId"] == CUSTOMER_ORDER
    assert params["createdStartDate"] == "2020-12-18T12:00:00Z"  # 180 days back, the API's limit
    assert params["limit"] == "100"
    assert (order.tenant_id, order.store_id, order.channel) == ("t1", "wm-us", Channel.WALMART)
    assert order.order_ref == CUSTOMER_ORDER
    assert order.status is OrderStatus.SHIPPED
    assert order.channel_status == "Shipped"
    assert order.currency == "USD"
    assert order.total == Decimal("5.34")  # item price plus tax
    assert [(i.sku, i.quantity, i.unit_price, i.total) for i in order.items] == [
        ("YHY-FN25200B2", 1, Decimal("5"), Decimal("5"))
    ]
    assert order.items[0].name == "Mac Sports Heavy Duty Steel Double Decker Collapsible Yard Cart Wagon, Purple"
    assert order.buyer_email == "7d9f02968955480499c84c5871ad1401@relay.walmart.com"
    assert order.buyer_name == "Donald Ashley"
    assert (order.carrier, order.tracking_number) == ("USPS", "435678956435467")
    assert order.tracking_url == "https://www.walmart.com/tracking?tracking_id=435678956435467&order_id=1815367951431"
    assert order.shipped_at == datetime(2021, 6, 16, 9, 30, 55, tzinfo=UTC)
    assert order.ordered_at == datetime(2021, 6, 15, 22, 33, 27, tzinfo=UTC)
    assert order.updated_at == datetime(2021, 6, 16, 9, 30, 55, 623000, tzinfo=UTC)
    assert order.delivered_at is None
    # shippingInfo.estimatedDeliveryDate 1624647600000 (one date: the window of a one-PO order is that day)
    assert order.delivery_earliest == order.delivery_latest == datetime(2021, 6, 25, 19, 0, 0, tzinfo=UTC)


@respx.mock
def test_fetch_order_by_purchase_order_id() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/orders").mock(return_value=httpx.Response(404, content=raw("error_not_found.json")))
    single = respx.get(f"{BASE}/v3/orders/{PO}").mock(return_value=httpx.Response(200, content=raw("order.json")))
    order = WALMART.fetch_order(STORE, http_client(), PO)
    assert order is not None and single.called
    assert order.order_ref == CUSTOMER_ORDER  # the buyer's number, whatever it was looked up by


@respx.mock
def test_an_empty_listing_also_falls_back_to_the_purchase_order() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/orders").mock(
        return_value=httpx.Response(200, json={"list": {"meta": {"totalCount": 0}, "elements": {"order": []}}})
    )
    respx.get(f"{BASE}/v3/orders/{PO}").mock(return_value=httpx.Response(200, content=raw("order.json")))
    order = WALMART.fetch_order(STORE, http_client(), f" {PO} ")
    assert order is not None and order.tracking_number == "435678956435467"


@respx.mock
def test_a_missing_order_is_none() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/orders").mock(return_value=httpx.Response(404, content=raw("error_not_found.json")))
    respx.get(f"{BASE}/v3/orders/9999999999999").mock(
        return_value=httpx.Response(404, content=raw("error_not_found.json"))
    )
    assert WALMART.fetch_order(STORE, http_client(), "9999999999999") is None


@pytest.mark.parametrize("ref", ["", "   ", "../orders", "12 34", "#"])
@respx.mock
def test_a_ref_that_is_not_an_order_number_is_none_without_a_request(ref: str) -> None:
    assert WALMART.fetch_order(STORE, http_client(), ref) is None
    assert respx.calls.call_count == 0


def order_line(
    number: str,
    status: str,
    *,
    amount: str = "10.00",
    tracking: dict[str, Any] | None = None,
    status_date: int = 1623835855000,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": status, "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "1"}}
    if tracking:
        entry["trackingInfo"] = tracking
    return {
        "lineNumber": number,
        "item": {"productName": f"Item {number}", "sku": f"SKU-{number}"},
        "charges": {
            "charge": [
                {
                    "chargeType": "PRODUCT",
                    "chargeName": "ItemPrice",
                    "chargeAmount": {"currency": "USD", "amount": Decimal(amount)},
                    "tax": {"taxName": "Tax1", "taxAmount": {"currency": "USD", "amount": Decimal("1.00")}},
                }
            ]
        },
        "orderLineQuantity": {"unitOfMeasurement": "EACH", "amount": "1"},
        "statusDate": status_date,
        "orderLineStatuses": {"orderLineStatus": [entry]},
    }


def api_order(*lines: dict[str, Any], po: str = PO) -> dict[str, Any]:
    order = sample("order.json")["order"]
    order["purchaseOrderId"] = po
    order["orderLines"]["orderLine"] = list(lines)
    return order


@pytest.mark.parametrize(
    ("statuses", "expected", "channel_status"),
    [
        (["Created"], OrderStatus.PENDING, "Created"),
        (["Created", "Acknowledged"], OrderStatus.PROCESSING, "Created, Acknowledged"),
        (["Acknowledged", "Shipped"], OrderStatus.SHIPPED, "Acknowledged, Shipped"),
        (["Shipped", "Cancelled"], OrderStatus.SHIPPED, "Shipped, Cancelled"),
        (["Delivered", "Delivered"], OrderStatus.DELIVERED, "Delivered"),
        (["Delivered", "Cancelled"], OrderStatus.DELIVERED, "Delivered, Cancelled"),
        (["Delivered", "Shipped"], OrderStatus.SHIPPED, "Shipped, Delivered"),
        (["Cancelled", "Cancelled"], OrderStatus.CANCELLED, "Cancelled"),
        (["Created", "Refunded"], OrderStatus.UNKNOWN, "Created, Refunded"),
    ],
)
@respx.mock
def test_the_order_status_comes_from_the_line_statuses(
    statuses: list[str], expected: OrderStatus, channel_status: str
) -> None:
    mock_token()
    lines = [order_line(str(n), s, status_date=1623835855000 + n * 1000) for n, s in enumerate(statuses, 1)]
    respx.get(f"{BASE}/v3/orders").mock(
        return_value=httpx.Response(
            200, json=json.loads(json.dumps({"list": {"elements": {"order": [api_order(*lines)]}}}, default=str))
        )
    )
    order = WALMART.fetch_order(STORE, http_client(), CUSTOMER_ORDER)
    assert order is not None
    assert order.status is expected
    assert order.channel_status == channel_status
    if expected is OrderStatus.DELIVERED:  # the last delivered line's status date
        last = max(n for n, s in enumerate(statuses, 1) if s == "Delivered")
        assert order.delivered_at == datetime.fromtimestamp((1623835855000 + last * 1000) / 1000, UTC)
    else:
        assert order.delivered_at is None


@respx.mock
def test_the_purchase_orders_of_one_customer_order_are_one_order() -> None:
    mock_token()
    early = {
        "shipDateTime": 1623835855000,
        "carrierName": {"carrier": "USPS"},
        "trackingNumber": "9400100000000000000001",
        "trackingURL": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000001",
    }
    late = {
        "shipDateTime": 1623922255000,
        "carrierName": {"otherCarrier": "OnTrac"},
        "trackingNumber": "C11223344556677",
        "trackingURL": None,
    }
    first = api_order(order_line("1", "Shipped", amount="20.00", tracking=early), po="1815367951431")
    second = api_order(order_line("1", "Shipped", amount="5.50", tracking=late), po="1815367951432")
    second["orderDate"] = 1623796500000
    respx.get(f"{BASE}/v3/orders").mock(
        return_value=httpx.Response(
            200, json=json.loads(json.dumps({"list": {"elements": {"order": [first, second]}}}, default=str))
        )
    )

    order = WALMART.fetch_order(STORE, http_client(), CUSTOMER_ORDER)

    assert order is not None
    assert [i.sku for i in order.items] == ["SKU-1", "SKU-1"]
    assert order.total == Decimal("27.50")  # 20 + 1 tax + 5.50 + 1 tax
    assert (order.carrier, order.tracking_number, order.tracking_url) == ("OnTrac", "C11223344556677", None)
    assert order.shipped_at == datetime(2021, 6, 17, 9, 30, 55, tzinfo=UTC)
    assert order.ordered_at == datetime(2021, 6, 15, 22, 33, 27, tzinfo=UTC)  # the earliest


@respx.mock
def test_the_delivery_window_spans_the_estimates_of_every_purchase_order() -> None:
    mock_token()
    first = api_order(order_line("1", "Acknowledged"), po="1815367951431")
    second = api_order(order_line("1", "Acknowledged"), po="1815367951432")
    third = api_order(order_line("1", "Acknowledged"), po="1815367951433")
    second["shippingInfo"]["estimatedDeliveryDate"] = 1624906800000  # 2021-06-28T19:00:00Z
    del third["shippingInfo"]["estimatedDeliveryDate"]
    respx.get(f"{BASE}/v3/orders").mock(
        return_value=httpx.Response(
            200, json=json.loads(json.dumps({"list": {"elements": {"order": [first, second, third]}}}, default=str))
        )
    )

    order = WALMART.fetch_order(STORE, http_client(), CUSTOMER_ORDER)

    assert order is not None
    assert order.delivery_earliest == datetime(2021, 6, 25, 19, 0, 0, tzinfo=UTC)
    assert order.delivery_latest == datetime(2021, 6, 28, 19, 0, 0, tzinfo=UTC)


@respx.mock
def test_a_server_error_is_retried_then_a_channel_error() -> None:
    mock_token()
    sleeps = Sleeps()
    route = respx.get(f"{BASE}/v3/orders").mock(
        return_value=httpx.Response(
            500, json={"errors": [{"code": "SYSTEM_ERROR", "message": "Internal error", "category": "SYSTEM"}]}
        )
    )
    with pytest.raises(ChannelError) as caught:
        WALMART.fetch_order(STORE, http_client(sleeps), CUSTOMER_ORDER)
    assert caught.value.details["status"] == 500
    assert route.call_count == 5 and len(sleeps) == 4


@respx.mock
def test_a_401_fetches_a_new_token_once_then_is_a_channel_error() -> None:
    tokens = iter(["old-token", "new-token"])
    token = respx.post(f"{BASE}/v3/token").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"access_token": next(tokens), "token_type": "Bearer", "expires_in": 900}
        )
    )
    api = respx.get(f"{BASE}/v3/orders").mock(return_value=httpx.Response(401, content=raw("error_unauthorized.json")))
    with pytest.raises(ChannelError) as caught:
        WALMART.fetch_order(STORE, http_client(), CUSTOMER_ORDER)
    assert caught.value.details["status"] == 401
    assert "UNAUTHORIZED: Unauthorized token or invalid consumer channel type." in caught.value.message
    assert token.call_count == 2
    assert [c.request.headers["WM_SEC.ACCESS_TOKEN"] for c in api.calls] == ["old-token", "new-token"]


@respx.mock
def test_a_429_is_retried() -> None:
    mock_token()
    sleeps = Sleeps()
    respx.get(f"{BASE}/v3/orders").mock(
        side_effect=[
            httpx.Response(429, content=raw("error_rate_limited.json"), headers={"x-current-token-count": "0"}),
            httpx.Response(200, content=raw("orders_by_customer_order.json")),
        ]
    )
    order = WALMART.fetch_order(STORE, http_client(sleeps), CUSTOMER_ORDER)
    assert order is not None and len(sleeps) == 1


@respx.mock
def test_an_unreadable_order_is_malformed() -> None:
    mock_token()
    broken = sample("order.json")
    broken["order"]["orderLines"]["orderLine"][0]["charges"]["charge"][0]["chargeAmount"]["amount"] = "five"
    respx.get(f"{BASE}/v3/orders").mock(
        return_value=httpx.Response(200, json={"list": {"elements": {"order": [broken["order"]]}}})
    )
    with pytest.raises(MalformedPayload, match="could not be read"):
        WALMART.fetch_order(STORE, http_client(), CUSTOMER_ORDER)


# --- subscriptions ------------------------------------------------------------------------------


EXPECTED_SPEC = {
    "eventType": "ORDER_UPDATES",
    "eventVersion": "V1",
    "resourceName": "ORDER",
    "eventUrl": CALLBACK,
    "authDetails": {
        "authMethod": "BASIC_AUTH",
        "userName": "helpdesk",
        "password": SECRET,
        "authHeaderName": "X-Helpdesk-Webhook-Auth",
    },
    "headers": {"content-type": "application/json"},
    "status": "ACTIVE",
}


@respx.mock
def test_register_webhooks_subscribes_order_updates_with_basic_auth() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(return_value=httpx.Response(200, json={"events": []}))
    create = respx.post(f"{BASE}/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(200, content=raw("subscription_created.json"))
    )

    ids = CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, SECRET)

    assert ids == ["620b45a0-b321-11ea-ac13-1f88d6025b7d"]
    assert json.loads(create.calls.last.request.content) == {"events": [EXPECTED_SPEC]}
    # What Walmart will then send is exactly what verify accepts.
    header = {WEBHOOK_AUTH_HEADER: basic(EXPECTED_SPEC["authDetails"]["userName"], SECRET)}
    CONNECTOR.verify(header, raw("webhook_order_updates_po_created.json"), SECRET)


@respx.mock
def test_register_webhooks_updates_an_existing_subscription_for_the_same_url() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(200, content=raw("subscriptions_list.json"))
    )
    create = respx.post(f"{BASE}/v3/webhooks/subscriptions")
    update = respx.patch(f"{BASE}/v3/webhooks/subscriptions/343ba4d0-b322-11ea-b385-0127e9b85538").mock(
        return_value=httpx.Response(
            200, json={"events": [{"subscriptionId": "343ba4d0-b322-11ea-b385-0127e9b85538", "status": "ACTIVE"}]}
        )
    )
    ids = CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, SECRET)
    assert ids == ["343ba4d0-b322-11ea-b385-0127e9b85538"]
    assert json.loads(update.calls.last.request.content) == EXPECTED_SPEC
    assert not create.called


@respx.mock
def test_a_failed_subscription_is_not_retried_and_keeps_the_secret_out_of_the_error() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(return_value=httpx.Response(404))
    create = respx.post(f"{BASE}/v3/webhooks/subscriptions").mock(
        return_value=httpx.Response(
            503, json={"errors": [{"code": "SYSTEM_ERROR", "message": f"could not store password {SECRET}"}]}
        )
    )
    with pytest.raises(ChannelError) as caught:
        CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, SECRET)
    assert create.call_count == 1
    assert caught.value.details["status"] == 503
    assert "body" not in caught.value.details


@respx.mock
def test_a_subscription_answer_without_ids_is_an_error() -> None:
    mock_token()
    respx.get(f"{BASE}/v3/webhooks/subscriptions").mock(return_value=httpx.Response(200, json={"events": []}))
    respx.post(f"{BASE}/v3/webhooks/subscriptions").mock(return_value=httpx.Response(200, json={"events": []}))
    with pytest.raises(ChannelError, match="created 0 subscriptions for 1"):
        CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, SECRET)


def test_register_webhooks_needs_a_secret() -> None:
    with pytest.raises(ChannelError, match="secret"):
        CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, "")


@respx.mock
def test_remove_webhooks_deletes_each_and_ignores_those_already_gone() -> None:
    mock_token()
    ok = respx.delete(f"{BASE}/v3/webhooks/subscriptions/343ba4d0-b322-11ea-b385-0127e9b85538").mock(
        return_value=httpx.Response(200, content=raw("subscription_deleted.json"))
    )
    gone = respx.delete(f"{BASE}/v3/webhooks/subscriptions/620b45a0-b321-11ea-ac13-1f88d6025b7d").mock(
        return_value=httpx.Response(404, content=raw("error_not_found.json"))
    )
    CONNECTOR.remove_webhooks(
        STORE, http_client(), ["343ba4d0-b322-11ea-b385-0127e9b85538", "620b45a0-b321-11ea-ac13-1f88d6025b7d"]
    )
    assert ok.call_count == 1 and gone.call_count == 1


@respx.mock
def test_remove_webhooks_refused_is_a_channel_error() -> None:
    mock_token()
    respx.delete(f"{BASE}/v3/webhooks/subscriptions/343ba4d0-b322-11ea-b385-0127e9b85538").mock(
        return_value=httpx.Response(
            400, json={"errors": [{"code": "INVALID_REQUEST_PARAM", "message": "Invalid subscriptionId"}]}
        )
    )
    with pytest.raises(ChannelError, match="INVALID_REQUEST_PARAM: Invalid subscriptionId") as caught:
        CONNECTOR.remove_webhooks(STORE, http_client(), ["343ba4d0-b322-11ea-b385-0127e9b85538"])
    assert caught.value.details["status"] == 400
