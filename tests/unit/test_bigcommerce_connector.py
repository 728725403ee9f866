"""BigCommerce connector: hook-header authenticity (and the Standard Webhooks signature), thin order and
shipment callbacks, order lookups in REST v2 and webhook management in REST v3, on respx-mocked HTTP
with the documented payloads under infrastructure/local/samples/bigcommerce."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from helpdesk.channels.base import ParsedDelivery
from helpdesk.channels.bigcommerce import (
    CONNECTOR,
    SCOPES,
    STATUS_NAMES,
    WEBHOOK_TOKEN_HEADER,
    BigCommerceConnector,
    _auth_class,
    store_hash,
    verify_signature,
)
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.core.errors import ChannelError, ChannelRateLimited, InvalidSignature, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "infrastructure/local/samples/bigcommerce"
HASH = "abc123"
BASE = f"https://api.bigcommerce.com/stores/{HASH}"
TOKEN = "bc-access-token-0123456789"
SECRET = "bc-webhook-secret-123"
CLIENT_SECRET = "bc-app-client-secret-xyz"
CALLBACK = "https://hooks.helpdesk.example.com/webhooks/t1/bigcommerce/bc-main"
RAW_KEY = "raw/t1/bigcommerce/bc-main/2019/06/25/bc-dd70c0976e06b67aaf671e73f49dcb79230ebf9d-1561479335"
NOW = datetime(2019, 6, 25, 16, 0, tzinfo=UTC)
STORE = Store(
    tenant_id="t1",
    store_id="bc-main",
    channel=Channel.BIGCOMMERCE,
    display_name="Demo BigCommerce store",
    base_url=BASE,
    secret_name="helpdesk/t1/bc-main",
    created_at=NOW,
)
CREDENTIALS = {"store_hash": HASH, "access_token": TOKEN, "webhook_secret": SECRET}
WEBHOOKS = {
    "store/order/created": "webhook_order_created.json",
    "store/order/updated": "webhook_order_updated.json",
    "store/order/statusUpdated": "webhook_order_status_updated.json",
    "store/order/archived": "webhook_order_archived.json",
    "store/shipment/created": "webhook_shipment_created.json",
    "store/shipment/updated": "webhook_shipment_updated.json",
}


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> Any:
    return copy.deepcopy(json.loads(raw(name)))


def parse(payload: Any, store: Store = STORE) -> ParsedDelivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return CONNECTOR.parse(store, {WEBHOOK_TOKEN_HEADER: SECRET}, body, RAW_KEY, NOW)


def status_callback(new_status: int, previous: int = 11) -> dict[str, Any]:
    payload = sample("webhook_order_status_updated.json")
    payload["data"]["status"] = {"previous_status_id": previous, "new_status_id": new_status}
    return payload


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def http_client(sleeps: Sleeps | None = None) -> ChannelHttpClient:
    """What CONNECTOR.client() builds, without the token bucket and with recorded (not real) sleeps."""
    return ChannelHttpClient(
        BASE,
        channel="bigcommerce",
        headers={"Accept": "application/json"},
        auth=_auth_class()(TOKEN),
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(7),
    )


def standard_signature(message_id: str, timestamp: int, body: bytes, secret: str = CLIENT_SECRET) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def test_the_module_exposes_a_bigcommerce_connector() -> None:
    assert isinstance(CONNECTOR, BigCommerceConnector)
    assert CONNECTOR.channel == Channel.BIGCOMMERCE.value == "bigcommerce"


# --- authenticity -------------------------------------------------------------------------------


def test_verify_accepts_the_hook_header_carrying_the_secret() -> None:
    body = raw("webhook_order_created.json")
    assert CONNECTOR.verify({WEBHOOK_TOKEN_HEADER: SECRET}, body, SECRET) is None
    CONNECTOR.verify({WEBHOOK_TOKEN_HEADER.lower(): f"  {SECRET} "}, body, SECRET)
    CONNECTOR.verify({WEBHOOK_TOKEN_HEADER.upper(): SECRET}, body, SECRET)


@pytest.mark.parametrize("token", ["bc-webhook-secret-124", "BC-WEBHOOK-SECRET-123", SECRET + "x", "sécret"])
def test_verify_rejects_another_token(token: str) -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({WEBHOOK_TOKEN_HEADER: token}, raw("webhook_order_created.json"), SECRET)


@pytest.mark.parametrize(
    "headers", [{}, {WEBHOOK_TOKEN_HEADER: ""}, {WEBHOOK_TOKEN_HEADER: "   "}, {"Content-Type": "application/json"}]
)
def test_verify_rejects_a_missing_token(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature, match=f"missing {WEBHOOK_TOKEN_HEADER}"):
        CONNECTOR.verify(headers, raw("webhook_order_created.json"), SECRET)


def test_verify_refuses_everything_when_the_store_has_no_secret() -> None:
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({WEBHOOK_TOKEN_HEADER: ""}, b"{}", "")
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({WEBHOOK_TOKEN_HEADER: "anything"}, b"{}", "")


def test_a_standard_webhooks_signature_is_checked_when_no_token_header_is_sent() -> None:
    body = raw("webhook_order_created.json")
    stamp = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_signature("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", stamp, body),
    }
    CONNECTOR.verify(headers, body, CLIENT_SECRET)
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify(headers, body + b" ", CLIENT_SECRET)
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify(headers, body, "another-client-secret")
    # A token header, when present, is what counts: a wrong one is not rescued by a signature.
    with pytest.raises(InvalidSignature, match=WEBHOOK_TOKEN_HEADER):
        CONNECTOR.verify({**headers, WEBHOOK_TOKEN_HEADER: "wrong"}, body, CLIENT_SECRET)


def test_verify_signature_accepts_any_matching_v1_signature_of_a_rotation_list() -> None:
    body = b'{"scope":"store/order/updated"}'
    signatures = " ".join(
        [
            standard_signature("msg_1", 1_700_000_000, body, "old-secret"),
            "v1a,c29tZS1lZDI1NTE5LXNpZ25hdHVyZQ==",
            standard_signature("msg_1", 1_700_000_000, body),
        ]
    )
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": "1700000000", "Webhook-Signature": signatures}
    verify_signature(headers, body, CLIENT_SECRET, now=1_700_000_100)


@pytest.mark.parametrize(
    ("timestamp", "now", "reason"),
    [
        ("1700000000", 1_700_000_301, "too far"),
        ("1700000000", 1_699_999_600, "too far"),
        ("17000x0000", 1_700_000_000, "not a Unix time"),
    ],
)
def test_verify_signature_refuses_replays_and_bad_timestamps(timestamp: str, now: int, reason: str) -> None:
    body = b"{}"
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": timestamp,
        "webhook-signature": standard_signature("msg_1", 1_700_000_000, body),
    }
    with pytest.raises(InvalidSignature, match=reason):
        verify_signature(headers, body, CLIENT_SECRET, now=now)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_signature_needs_all_three_headers(missing: str) -> None:
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": standard_signature("msg_1", 1_700_000_000, b"{}"),
    }
    del headers[missing]
    with pytest.raises(InvalidSignature, match="missing"):
        verify_signature(headers, b"{}", CLIENT_SECRET, now=1_700_000_000)


# --- ping and delivery id -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WEBHOOKS.values()))
def test_bigcommerce_never_pings(name: str) -> None:
    assert CONNECTOR.is_ping({WEBHOOK_TOKEN_HEADER: SECRET}, raw(name)) is False
    assert CONNECTOR.is_ping({}, b"") is False


def test_delivery_id_is_the_callback_hash_with_its_time() -> None:
    assert CONNECTOR.delivery_id({}, raw("webhook_order_created.json")) == (
        "bc-dd70c0976e06b67aaf671e73f49dcb79230ebf9d-1561479335"
    )
    # Same data hash, another event time: another delivery (the hash alone may repeat per order).
    later = sample("webhook_order_created.json") | {"created_at": 1561479999}
    assert CONNECTOR.delivery_id({}, json.dumps(later).encode()).endswith("-1561479999")


def test_delivery_id_prefers_the_standard_webhook_id() -> None:
    headers = {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}
    assert CONNECTOR.delivery_id(headers, raw("webhook_order_created.json")) == "bc-msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b"not json"),
        ({}, b"[]"),
        ({}, b'{"hash": "../../x", "created_at": 1}'),
        ({}, b'{"hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d"}'),
        ({"webhook-id": "a/b"}, b"{}"),
    ],
)
def test_delivery_id_falls_back_to_a_digest(headers: dict[str, str], body: bytes) -> None:
    assert CONNECTOR.delivery_id(headers, body) == "bc-sha-" + hashlib.sha256(body).hexdigest()[:32]


# --- parsing the documented callbacks -----------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "event_type", "order_ref"),
    [
        ("store/order/created", OrderEventType.CREATED, "250"),
        ("store/order/updated", OrderEventType.UPDATED, "250"),
        ("store/order/archived", OrderEventType.DELETED, "250"),
        ("store/shipment/created", OrderEventType.SHIPPED, "251"),
        ("store/shipment/updated", OrderEventType.SHIPPED, "251"),
    ],
)
def test_thin_callbacks_become_thin_order_events(scope: str, event_type: OrderEventType, order_ref: str) -> None:
    payload = sample(WEBHOOKS[scope])
    parsed = CONNECTOR.parse(STORE, {WEBHOOK_TOKEN_HEADER: SECRET}, raw(WEBHOOKS[scope]), RAW_KEY, NOW)

    assert parsed.messages == []
    assert len(parsed.order_events) == 1
    event = parsed.order_events[0]
    assert event.event_type is event_type
    assert (event.tenant_id, event.store_id, event.channel) == ("t1", "bc-main", Channel.BIGCOMMERCE)
    assert event.occurred_at == datetime.fromtimestamp(payload["created_at"], UTC)
    assert event.raw_s3_key == RAW_KEY
    assert event.event_id.startswith(f"{scope}:{order_ref}:") and event.event_id.endswith(str(payload["created_at"]))
    order = event.order
    assert order.order_ref == order_ref
    # The callback knows nothing else: everything is left for fetch_order (merged as "no change").
    assert order.status is OrderStatus.UNKNOWN
    assert order.channel_status is None
    assert order.items == []
    assert (order.total, order.currency, order.buyer_email, order.tracking_number) == (None, None, None, None)
    assert (order.ordered_at, order.updated_at) == (None, None)


def test_the_documented_status_update_is_awaiting_fulfillment() -> None:
    event = CONNECTOR.parse(STORE, {}, raw("webhook_order_status_updated.json"), RAW_KEY, NOW).order_events[0]
    assert event.event_type is OrderEventType.UPDATED
    assert event.order.order_ref == "250"
    assert event.order.status is OrderStatus.PROCESSING
    assert event.order.channel_status == "Awaiting Fulfillment"
    assert event.event_id == "store/order/statusUpdated:250:11:1561479335"
    assert event.occurred_at == datetime(2019, 6, 25, 16, 15, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status_id", "status", "event_type"),
    [
        (0, OrderStatus.FAILED, OrderEventType.UPDATED),
        (1, OrderStatus.PENDING, OrderEventType.UPDATED),
        (2, OrderStatus.SHIPPED, OrderEventType.SHIPPED),
        (3, OrderStatus.PROCESSING, OrderEventType.UPDATED),
        (4, OrderStatus.REFUNDED, OrderEventType.REFUNDED),
        (5, OrderStatus.CANCELLED, OrderEventType.CANCELLED),
        (6, OrderStatus.FAILED, OrderEventType.UPDATED),
        (7, OrderStatus.PENDING, OrderEventType.UPDATED),
        (8, OrderStatus.PROCESSING, OrderEventType.UPDATED),
        (9, OrderStatus.PROCESSING, OrderEventType.UPDATED),
        (10, OrderStatus.COMPLETED, OrderEventType.UPDATED),
        (11, OrderStatus.PROCESSING, OrderEventType.UPDATED),
        (12, OrderStatus.ON_HOLD, OrderEventType.UPDATED),
        (13, OrderStatus.ON_HOLD, OrderEventType.UPDATED),
        (14, OrderStatus.UNKNOWN, OrderEventType.UPDATED),  # a partial refund keeps the stored status
    ],
)
def test_every_status_id_is_mapped(status_id: int, status: OrderStatus, event_type: OrderEventType) -> None:
    event = parse(status_callback(status_id)).order_events[0]
    assert event.order.status is status
    assert event.event_type is event_type
    assert event.order.channel_status == STATUS_NAMES[status_id]


def test_all_fifteen_documented_status_names() -> None:
    assert [STATUS_NAMES[i] for i in range(15)] == [
        "Incomplete",
        "Pending",
        "Shipped",
        "Partially Shipped",
        "Refunded",
        "Cancelled",
        "Declined",
        "Awaiting Payment",
        "Awaiting Pickup",
        "Awaiting Shipment",
        "Completed",
        "Awaiting Fulfillment",
        "Manual Verification Required",
        "Disputed",
        "Partially Refunded",
    ]


def test_an_undocumented_status_id_is_unknown_but_kept() -> None:
    event = parse(status_callback(42)).order_events[0]
    assert event.order.status is OrderStatus.UNKNOWN
    assert event.order.channel_status == "status 42"


def test_a_callback_without_created_at_happens_when_received() -> None:
    payload = sample("webhook_order_created.json")
    del payload["created_at"]
    event = parse(payload).order_events[0]
    assert event.occurred_at == NOW
    assert event.event_id == "store/order/created:250:"


def test_string_ids_are_accepted() -> None:
    payload = sample("webhook_shipment_created.json")
    payload["data"]["orderId"] = "251"
    assert parse(payload).order_events[0].order.order_ref == "251"


# --- the producer must be this store ------------------------------------------------------------


@pytest.mark.parametrize("producer", ["stores/zzz999", "stores/abc1234", "stores/", "abc123", None, 42])
def test_a_callback_from_another_store_is_refused(producer: Any) -> None:
    payload = sample("webhook_order_created.json")
    payload["producer"] = producer
    with pytest.raises(MalformedPayload, match="producer"):
        parse(payload)


def test_the_producer_is_not_checked_when_the_store_hash_is_unknown() -> None:
    payload = sample("webhook_order_created.json")
    payload["producer"] = "stores/zzz999"
    store = STORE.model_copy(update={"base_url": None})
    assert parse(payload, store).order_events[0].order.order_ref == "250"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (BASE, HASH),
        (f"{BASE}/", HASH),
        (f"{BASE}/v3", HASH),
        ("https://api.bigcommerce.com/stores/", None),
        ("https://my-awesome.store", None),
        (None, None),
    ],
)
def test_store_hash_comes_from_the_base_url(base_url: str | None, expected: str | None) -> None:
    assert store_hash(STORE.model_copy(update={"base_url": base_url})) == expected


# --- malformed callbacks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"scope": "store/product/updated", "data": {"type": "product", "id": 1}}', "unsupported"),
        (b'{"scope": "store/order/message/created"}', "unsupported"),
        (b'{"data": {"type": "order", "id": 1}}', "unsupported"),
    ],
)
def test_unreadable_callbacks_are_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        CONNECTOR.parse(STORE.model_copy(update={"base_url": None}), {}, body, RAW_KEY, NOW)
    assert reason in caught.value.message
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("name", "change", "reason"),
    [
        ("webhook_order_created.json", {"data": None}, "no 'data' object"),
        ("webhook_order_created.json", {"data": {"type": "order"}}, "data.id"),
        ("webhook_order_created.json", {"data": {"type": "order", "id": "two"}}, "data.id"),
        ("webhook_order_created.json", {"data": {"type": "order", "id": True}}, "data.id"),
        ("webhook_order_created.json", {"data": {"type": "order", "id": -3}}, "data.id"),
        ("webhook_order_created.json", {"data": {"type": "cart", "id": 3}}, "type is 'cart'"),
        ("webhook_order_created.json", {"created_at": "yesterday"}, "created_at"),
        ("webhook_order_status_updated.json", {"data": {"type": "order", "id": 250}}, "new_status_id"),
        (
            "webhook_order_status_updated.json",
            {"data": {"type": "order", "id": 250, "status": {"new_status_id": "5"}}},
            "new_status_id",
        ),
        ("webhook_shipment_created.json", {"data": {"type": "shipment", "id": 12}}, "data.orderId"),
        ("webhook_shipment_created.json", {"data": {"type": "shipment", "orderId": 251}}, "data.id"),
    ],
)
def test_wrongly_shaped_callbacks_are_malformed(name: str, change: dict[str, Any], reason: str) -> None:
    payload = sample(name) | change
    with pytest.raises(MalformedPayload, match=reason):
        parse(payload)


# --- client -------------------------------------------------------------------------------------


@respx.mock
def test_client_sends_the_token_to_the_store_api() -> None:
    route = respx.get(f"{BASE}/v2/store").mock(return_value=httpx.Response(200, content=raw("store.json")))
    with CONNECTOR.client(STORE.model_copy(update={"base_url": None}), CREDENTIALS) as http:
        assert isinstance(http._bucket, TokenBucket)
        assert (http._bucket.rate, http._bucket.burst) == (4.0, 4)
        http.get("/v2/store")
    request = route.calls.last.request
    assert request.headers["X-Auth-Token"] == TOKEN
    assert request.headers["Accept"] == "application/json"


@respx.mock
def test_client_takes_the_store_hash_and_host_from_the_base_url() -> None:
    route = respx.get("http://127.0.0.1:4599/stores/abc123/v2/store").mock(return_value=httpx.Response(200, json={}))
    store = STORE.model_copy(update={"base_url": "http://127.0.0.1:4599/stores/abc123"})
    with CONNECTOR.client(store, {"access_token": TOKEN}) as http:
        http.get("/v2/store")
    assert route.called


@pytest.mark.parametrize(
    ("base_url", "credentials", "reason"),
    [
        (None, {"access_token": TOKEN}, "store_hash"),
        (None, {"store_hash": HASH}, "access_token"),
        (None, {"store_hash": HASH, "access_token": "  "}, "access_token"),
        (BASE, {"store_hash": "zzz999", "access_token": TOKEN}, "does not match"),
        (None, {"store_hash": "abc/../x", "access_token": TOKEN}, "not a store hash"),
    ],
)
def test_client_needs_a_store_hash_and_a_token(base_url: str | None, credentials: dict[str, str], reason: str) -> None:
    with pytest.raises(ChannelError, match=reason) as caught:
        CONNECTOR.client(STORE.model_copy(update={"base_url": base_url}), credentials)
    assert TOKEN not in caught.value.message


# --- order lookup -------------------------------------------------------------------------------


def mock_order_247(shipments: httpx.Response | None = None) -> dict[str, respx.Route]:
    return {
        "order": respx.get(f"{BASE}/v2/orders/247").mock(
            return_value=httpx.Response(200, content=raw("order_247.json"))
        ),
        "products": respx.get(f"{BASE}/v2/orders/247/products").mock(
            return_value=httpx.Response(200, content=raw("order_247_products.json"))
        ),
        "shipments": respx.get(f"{BASE}/v2/orders/247/shipments").mock(
            return_value=shipments or httpx.Response(200, content=raw("order_247_shipments.json"))
        ),
    }


@respx.mock
def test_fetch_order_maps_the_documented_order() -> None:
    routes = mock_order_247()
    order = CONNECTOR.fetch_order(STORE, http_client(), "247")

    assert order is not None
    assert (order.tenant_id, order.store_id, order.channel) == ("t1", "bc-main", Channel.BIGCOMMERCE)
    assert order.order_ref == "247"
    assert order.status is OrderStatus.PROCESSING  # 11 Awaiting Fulfillment
    assert order.channel_status == "Awaiting Fulfillment"
    assert order.currency == "USD"
    assert order.total == Decimal("1008.74")
    assert [(i.sku, i.name, i.quantity) for i in order.items] == [
        ("S-ORAN", "Fog Linen Chambray Towel - Beige Stripe", 1),
        ("OTL", "Orbit Terrarium - Large", 2),
    ]
    assert [(i.unit_price, i.total) for i in order.items] == [
        (Decimal("65.2300"), Decimal("65.2300")),
        (Decimal("118.0000"), Decimal("236.0000")),
    ]
    assert order.buyer_email == "janedoe@email.com"
    assert order.buyer_name == "Jane Doe"
    # The newest of the two documented shipments (17:22:31 beats 17:22:08).
    assert order.tracking_number == "EJ958083578UK"
    assert order.carrier == "USPS"
    assert order.tracking_url == (
        "https://trkcnfrm1.smi.usps.com/PTSInternetWeb/InterLabelInquiry.do?strOrigTrackNum=EJ958083578US"
    )
    assert order.shipped_at == datetime(2019, 3, 11, 17, 22, 31, tzinfo=UTC)
    assert order.ordered_at == datetime(2019, 6, 20, 16, 7, 8, tzinfo=UTC)
    assert order.updated_at == datetime(2019, 6, 20, 16, 7, 8, tzinfo=UTC)
    assert order.delivered_at is None
    for name in ("products", "shipments"):
        params = routes[name].calls.last.request.url.params
        assert (params["limit"], params["page"]) == ("250", "1")
    assert routes["order"].calls.last.request.headers["X-Auth-Token"] == TOKEN


@respx.mock
def test_fetch_order_prefers_a_custom_tracking_link_and_the_transactional_currency() -> None:
    order_body = sample("order_247.json") | {"currency_code": "EUR", "default_currency_code": "USD"}
    shipments = sample("order_247_shipments.json")
    shipments[1].update(
        tracking_link="https://track.example.com/EJ958083578UK",
        shipping_provider_display_name="",
        tracking_carrier="royal-mail",
    )
    mock_order_247(httpx.Response(200, json=shipments))
    respx.get(f"{BASE}/v2/orders/247").mock(return_value=httpx.Response(200, json=order_body))
    order = CONNECTOR.fetch_order(STORE, http_client(), "#247")
    assert order is not None
    assert order.currency == "USD"
    assert (order.carrier, order.tracking_url) == ("royal-mail", "https://track.example.com/EJ958083578UK")


@respx.mock
def test_an_order_without_shipments_has_no_tracking() -> None:
    mock_order_247(httpx.Response(204))
    order = CONNECTOR.fetch_order(STORE, http_client(), "247")
    assert order is not None
    assert (order.carrier, order.tracking_number, order.tracking_url, order.shipped_at) == (None, None, None, None)


@respx.mock
def test_a_shipped_order_with_its_ship_date() -> None:
    mock_order_247()
    body = sample("order_247.json") | {
        "status_id": 2,
        "status": "Shipped",
        "date_shipped": "Fri, 21 Jun 2019 09:00:00 +0200",
    }
    respx.get(f"{BASE}/v2/orders/247").mock(return_value=httpx.Response(200, json=body))
    order = CONNECTOR.fetch_order(STORE, http_client(), "247")
    assert order is not None
    assert (order.status, order.channel_status) == (OrderStatus.SHIPPED, "Shipped")


@pytest.mark.parametrize(
    ("items_shipped", "expected"), [(11, OrderStatus.SHIPPED), (3, OrderStatus.PROCESSING), (0, OrderStatus.PROCESSING)]
)
@respx.mock
def test_a_partially_refunded_order_reads_its_fulfilment(items_shipped: int, expected: OrderStatus) -> None:
    mock_order_247()
    body = sample("order_247.json") | {"status_id": 14, "status": "Partially Refunded", "items_shipped": items_shipped}
    respx.get(f"{BASE}/v2/orders/247").mock(return_value=httpx.Response(200, json=body))
    order = CONNECTOR.fetch_order(STORE, http_client(), "247")
    assert order is not None and order.status is expected


@respx.mock
def test_fetch_order_follows_the_product_pages() -> None:
    mock_order_247()
    product = sample("order_247_products.json")[0]
    first = [product | {"id": n} for n in range(250)]
    pages = respx.get(f"{BASE}/v2/orders/247/products").mock(
        side_effect=[httpx.Response(200, json=first), httpx.Response(200, json=[product | {"id": 999}])]
    )
    order = CONNECTOR.fetch_order(STORE, http_client(), "247")
    assert order is not None and len(order.items) == 251
    assert [c.request.url.params["page"] for c in pages.calls] == ["1", "2"]


@respx.mock
def test_a_missing_order_is_none() -> None:
    respx.get(f"{BASE}/v2/orders/999").mock(return_value=httpx.Response(404, content=raw("error_v2_not_found.json")))
    products = respx.get(f"{BASE}/v2/orders/999/products").mock(return_value=httpx.Response(200, json=[]))
    assert CONNECTOR.fetch_order(STORE, http_client(), "999") is None
    assert not products.called


@pytest.mark.parametrize("ref", ["", "  ", "ABC-1", "12a", "../1", "#"])
@respx.mock
def test_a_ref_that_is_not_an_order_number_is_none_without_a_request(ref: str) -> None:
    assert CONNECTOR.fetch_order(STORE, http_client(), ref) is None
    assert respx.calls.call_count == 0


@respx.mock
def test_refused_credentials_are_a_channel_error_with_the_reason() -> None:
    respx.get(f"{BASE}/v2/orders/247").mock(
        return_value=httpx.Response(
            401, json=[{"status": 401, "message": "You are not authorized to access this resource."}]
        )
    )
    with pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http_client(), "247")
    assert caught.value.details["status"] == 401
    assert "You are not authorized" in caught.value.message
    assert TOKEN not in caught.value.message


@respx.mock
def test_a_server_error_is_retried_then_a_channel_error() -> None:
    sleeps = Sleeps()
    route = respx.get(f"{BASE}/v2/orders/247").mock(
        return_value=httpx.Response(
            500,
            json={
                "status": 500,
                "title": "Internal Server Error",
                "type": "/api-docs/getting-started/api-status-codes",
            },
        )
    )
    with pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http_client(sleeps), "247")
    assert caught.value.details["status"] == 500
    assert route.call_count == 5 and len(sleeps) == 4


@respx.mock
def test_a_429_waits_for_the_quota_reset_header() -> None:
    sleeps = Sleeps()
    limited = httpx.Response(
        429,
        headers={
            "X-Rate-Limit-Time-Reset-Ms": "1500",
            "X-Rate-Limit-Requests-Left": "0",
            "X-Rate-Limit-Time-Window-Ms": "30000",
            "X-Rate-Limit-Requests-Quota": "150",
        },
    )
    route = respx.get(f"{BASE}/v2/store").mock(side_effect=[limited, httpx.Response(200, content=raw("store.json"))])
    assert CONNECTOR.check_credentials(STORE, http_client(sleeps)) == "BigCommerce"
    assert route.call_count == 2
    assert sleeps == [2.0]  # ceil(1500 ms) as Retry-After


@respx.mock
def test_a_429_that_never_ends_is_rate_limited() -> None:
    respx.get(f"{BASE}/v2/store").mock(return_value=httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "10"}))
    sleeps = Sleeps()
    with pytest.raises(ChannelRateLimited):
        CONNECTOR.check_credentials(STORE, http_client(sleeps))
    assert sleeps == [1.0, 1.0, 1.0, 1.0]


@respx.mock
def test_an_unreadable_order_is_malformed() -> None:
    mock_order_247()
    respx.get(f"{BASE}/v2/orders/247").mock(
        return_value=httpx.Response(200, json=sample("order_247.json") | {"date_created": "20/06/2019"})
    )
    with pytest.raises(MalformedPayload, match="could not be read"):
        CONNECTOR.fetch_order(STORE, http_client(), "247")


# --- credentials check --------------------------------------------------------------------------


@respx.mock
def test_check_credentials_names_the_store() -> None:
    route = respx.get(f"{BASE}/v2/store").mock(return_value=httpx.Response(200, content=raw("store.json")))
    assert CONNECTOR.check_credentials(STORE, http_client()) == "BigCommerce"
    assert route.calls.last.request.headers["X-Auth-Token"] == TOKEN


@respx.mock
def test_check_credentials_refused() -> None:
    respx.get(f"{BASE}/v2/store").mock(return_value=httpx.Response(401, content=raw("error_v3_unauthorized.json")))
    with pytest.raises(ChannelError) as caught:
        CONNECTOR.check_credentials(STORE, http_client())
    assert caught.value.details["status"] == 401
    assert "not a valid combination for this store" in caught.value.message


# --- webhook registration -----------------------------------------------------------------------


def created_hook(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    answer = sample("hook_created.json")
    answer["data"].update(
        id=20000000 + SCOPES.index(body["scope"]),
        scope=body["scope"],
        destination=body["destination"],
        headers=body["headers"],
    )
    return httpx.Response(200, json=answer)


@respx.mock
def test_register_webhooks_creates_one_hook_per_scope_with_the_secret_header() -> None:
    respx.get(f"{BASE}/v3/hooks").mock(return_value=httpx.Response(200, json={"data": [], "meta": {}}))
    create = respx.post(f"{BASE}/v3/hooks").mock(side_effect=created_hook)

    ids = CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, SECRET)

    assert ids == [str(20000000 + i) for i in range(len(SCOPES))]
    bodies = [json.loads(c.request.content) for c in create.calls]
    assert [b["scope"] for b in bodies] == list(SCOPES)
    assert SCOPES == (
        "store/order/created",
        "store/order/updated",
        "store/order/statusUpdated",
        "store/order/archived",
        "store/shipment/created",
        "store/shipment/updated",
    )
    for body in bodies:
        assert body == {
            "scope": body["scope"],
            "destination": CALLBACK,
            "is_active": True,
            "headers": {WEBHOOK_TOKEN_HEADER: SECRET},
        }
    assert create.calls.last.request.headers["X-Auth-Token"] == TOKEN


@respx.mock
def test_register_webhooks_reuses_an_existing_hook_for_the_same_scope_and_destination() -> None:
    respx.get(f"{BASE}/v3/hooks").mock(return_value=httpx.Response(200, content=raw("hooks_list.json")))
    create = respx.post(f"{BASE}/v3/hooks").mock(side_effect=created_hook)
    update = respx.put(f"{BASE}/v3/hooks/18048287").mock(
        return_value=httpx.Response(200, content=raw("hook_created.json"))
    )

    ids = CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, SECRET)

    assert ids[0] == "18048287"
    assert json.loads(update.calls.last.request.content) == {
        "scope": "store/order/created",
        "destination": CALLBACK,
        "is_active": True,
        "headers": {WEBHOOK_TOKEN_HEADER: SECRET},
    }
    assert create.call_count == len(SCOPES) - 1
    assert "store/order/created" not in [json.loads(c.request.content)["scope"] for c in create.calls]


@respx.mock
def test_a_failed_registration_removes_the_hooks_it_created_and_is_not_retried() -> None:
    respx.get(f"{BASE}/v3/hooks").mock(return_value=httpx.Response(200, json={"data": []}))
    answers = [
        created_hook,
        created_hook,
        lambda request: httpx.Response(
            503, json={"status": 503, "title": "Service Unavailable", "errors": {"headers": SECRET}}
        ),
    ]
    create = respx.post(f"{BASE}/v3/hooks").mock(side_effect=lambda request: answers.pop(0)(request))
    deleted = respx.delete(url__regex=rf"{BASE}/v3/hooks/\d+").mock(
        return_value=httpx.Response(200, content=raw("hook_deleted.json"))
    )

    with pytest.raises(ChannelError) as caught:
        CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, SECRET)

    assert caught.value.details["status"] == 503
    assert "body" not in caught.value.details  # hook answers echo the secret header
    assert SECRET not in str(caught.value.details) and SECRET not in caught.value.message
    assert create.call_count == 3  # the failed POST was not repeated
    assert sorted(c.request.url.path.rsplit("/", 1)[1] for c in deleted.calls) == ["20000000", "20000001"]


@respx.mock
def test_an_invalid_destination_is_refused_with_bigcommerce_reason() -> None:
    respx.get(f"{BASE}/v3/hooks").mock(return_value=httpx.Response(200, json={"data": []}))
    respx.post(f"{BASE}/v3/hooks").mock(return_value=httpx.Response(422, content=raw("error_v3_unprocessable.json")))
    with pytest.raises(ChannelError, match="JSON data is missing or invalid") as caught:
        CONNECTOR.register_webhooks(STORE, http_client(), "http://localhost:8080/hook", SECRET)
    assert caught.value.details["status"] == 422
    assert "destination" in caught.value.message


def test_register_webhooks_needs_a_secret() -> None:
    with pytest.raises(ChannelError, match="secret"):
        CONNECTOR.register_webhooks(STORE, http_client(), CALLBACK, "")


@respx.mock
def test_remove_webhooks_deletes_each_and_ignores_those_already_gone() -> None:
    gone = respx.delete(f"{BASE}/v3/hooks/18048287").mock(
        return_value=httpx.Response(404, content=raw("error_v3_hook_not_found.json"))
    )
    ok = respx.delete(f"{BASE}/v3/hooks/18048288").mock(
        return_value=httpx.Response(200, content=raw("hook_deleted.json"))
    )
    CONNECTOR.remove_webhooks(STORE, http_client(), ["18048287", "18048288"])
    assert gone.call_count == 1 and ok.call_count == 1


@respx.mock
def test_remove_webhooks_refused_is_a_channel_error() -> None:
    respx.delete(f"{BASE}/v3/hooks/18048287").mock(
        return_value=httpx.Response(
            403, json={"status": 403, "title": "Unauthorized Access. You do not have permission to make this request."}
        )
    )
    with pytest.raises(ChannelError, match="do not have permission") as caught:
        CONNECTOR.remove_webhooks(STORE, http_client(), ["18048287"])
    assert caught.value.details["status"] == 403
