"""TikTok Shop connector: webhook signature and topics, signed API calls with a refreshed token, chat
polling, replies and order lookups, on respx-mocked HTTP with the documented payloads under
infrastructure/local/samples/tiktok."""

from __future__ import annotations

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
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.oauth import clear_token_cache
from helpdesk.channels.tiktok import (
    CONNECTOR,
    MAX_CONVERSATION_PAGES,
    TikTokConnector,
    api_signature,
    authorized_shops,
    webhook_secret,
    webhook_shop_id,
    webhook_signature,
)
from helpdesk.core.errors import ChannelError, ChannelRateLimited, InvalidCursor, InvalidSignature, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "infrastructure/local/samples/tiktok"
API = "https://open-api.tiktokglobalshop.com"
TOKEN_URL = "https://auth.tiktok-shops.com/api/v2/token/refresh"
CONVERSATIONS = f"{API}/customer_service/202309/conversations"
ORDERS = f"{API}/order/202309/orders"
SHOPS = f"{API}/authorization/202309/shops"
APP_KEY = "29a39h1lm5qtm"
APP_SECRET = "a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0"
CIPHER = "GCP_XF90igAAAABh00qsWgtvOiGFNqyubMt3"
REFRESH = "NTUxZTNhYTQ2ZDk2YmRmZWNmYWY2YWY2YzkxNGYwNjQ3YjkzYTllYjA0YmNlMw"
CREDENTIALS = {
    "app_key": APP_KEY,
    "app_secret": APP_SECRET,
    "refresh_token": REFRESH,
    "shop_cipher": CIPHER,
    "shop_id": "7494049642642441621",
}
WEBHOOK_SECRET = f"{APP_KEY}:{APP_SECRET}"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
WALL = NOW.timestamp()
RAW_KEY = "raw/t1/tiktok/s1/2024/03/01/tiktok-7327112393057371910"
ORDER_ID = "576486316948490001"
CONV_A, CONV_B = "7494560109732334261", "7494560109732334270"
STORE = Store(
    tenant_id="t1",
    store_id="tts-uk",
    channel=Channel.TIKTOK,
    display_name="Coffee Corner UK",
    secret_name="helpdesk/t1/tts-uk",
    created_at=NOW,
)


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(raw(name)))


TOKEN = sample("token_refresh.json")["data"]["access_token"]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    clear_token_cache()


def http_client(
    credentials: dict[str, str] | None = None, sleeps: Sleeps | None = None, clock: Clock | None = None
) -> ChannelHttpClient:
    """Like CONNECTOR.client() with a fixed wall clock, recorded retry waits and no rate-limit waits."""
    return CONNECTOR.client(
        STORE,
        credentials or CREDENTIALS,
        wall=lambda: WALL,
        clock=clock or Clock(),
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(1),
        rate_limit=None,
    )


def mock_token(**overrides: Any) -> respx.Route:
    body = sample("token_refresh.json")
    body["data"].update(overrides)
    return respx.get(TOKEN_URL).mock(return_value=httpx.Response(200, json=body))


def envelope(data: dict[str, Any], code: int = 0, message: str = "Success", status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "data": data, "message": message, "request_id": "r-1"})


def assert_signed(request: httpx.Request, *, body: bytes = b"", cipher: str | None = CIPHER) -> None:
    """Re-derives ``sign`` the way the docs describe it, independently of the module's function."""
    params = dict(request.url.params)
    sign = params.pop("sign")
    assert params["app_key"] == APP_KEY
    assert params["timestamp"] == str(int(WALL))
    assert params.get("shop_cipher") == cipher
    assert "access_token" not in params
    assert request.headers["x-tts-access-token"] == TOKEN
    assert "Bearer" not in request.headers.get("authorization", "")
    pairs = "".join(key + params[key] for key in sorted(params))
    message = (APP_SECRET + request.url.path + pairs).encode() + body + APP_SECRET.encode()
    assert sign == hmac.new(APP_SECRET.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(body: bytes) -> dict[str, str]:
    return {
        "Authorization": hmac.new(APP_SECRET.encode(), APP_KEY.encode() + body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


def parse(payload: dict[str, Any] | bytes) -> ParsedDelivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return CONNECTOR.parse(STORE, signed_headers(body), body, RAW_KEY, NOW)


# --- module -----------------------------------------------------------------------------------


def test_the_module_exposes_a_tiktok_connector() -> None:
    assert isinstance(CONNECTOR, TikTokConnector)
    assert CONNECTOR.channel == Channel.TIKTOK.value == "tiktok"


# --- webhook signature --------------------------------------------------------------------------


def test_webhook_signature_matches_the_docs_golden_vector() -> None:
    # tts-webhooks-overview: app key "abcdef", app secret "123", this exact payload.
    payload = (
        b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
        b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
        b'"order_status":"UNPAID","update_time":1718305585}}'
    )
    signature = "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"
    assert webhook_signature("abcdef", "123", payload) == signature
    CONNECTOR.verify({"Authorization": signature}, payload, webhook_secret("abcdef", "123"))


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
def test_verify_accepts_the_signed_sample_whatever_the_header_case(name: str) -> None:
    body = raw("webhook_order_status_change.json")
    assert CONNECTOR.verify({name: signed_headers(body)["Authorization"]}, body, WEBHOOK_SECRET) is None


def test_verify_accepts_an_uppercase_hex_digest() -> None:
    body = raw("webhook_new_message.json")
    CONNECTOR.verify({"Authorization": signed_headers(body)["Authorization"].upper()}, body, WEBHOOK_SECRET)


def test_verify_rejects_a_signature_made_with_another_secret() -> None:
    body = raw("webhook_order_status_change.json")
    forged = webhook_signature(APP_KEY, "not-the-app-secret", body)
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"Authorization": forged}, body, WEBHOOK_SECRET)


def test_verify_rejects_a_signature_of_the_body_alone() -> None:
    body = raw("webhook_order_status_change.json")
    body_only = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()  # app_key left out
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"Authorization": body_only}, body, WEBHOOK_SECRET)


def test_verify_rejects_a_changed_body() -> None:
    body = raw("webhook_order_status_change.json")
    signature = signed_headers(body)["Authorization"]
    tampered = body.replace(b"AWAITING_SHIPMENT", b"CANCEL")
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"Authorization": signature}, tampered, WEBHOOK_SECRET)


def test_verify_rejects_a_bearer_prefixed_signature() -> None:
    body = raw("webhook_order_status_change.json")
    with pytest.raises(InvalidSignature):
        CONNECTOR.verify({"Authorization": "Bearer " + signed_headers(body)["Authorization"]}, body, WEBHOOK_SECRET)


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "   "}, {"X-Other": "x"}])
def test_verify_rejects_a_missing_signature(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature, match="missing Authorization"):
        CONNECTOR.verify(headers, raw("webhook_order_status_change.json"), WEBHOOK_SECRET)


def test_verify_rejects_a_non_ascii_signature_without_crashing() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        CONNECTOR.verify({"Authorization": "sïgnature"}, b"{}", WEBHOOK_SECRET)


@pytest.mark.parametrize("secret", [APP_SECRET, "", ":" + APP_SECRET, APP_KEY + ":"])
def test_verify_needs_the_app_key_and_secret_and_never_echoes_them(secret: str) -> None:
    body = raw("webhook_order_status_change.json")
    with pytest.raises(InvalidSignature) as refused:
        CONNECTOR.verify(signed_headers(body), body, secret)
    assert APP_SECRET not in refused.value.message


# --- ping, delivery id, shop id -----------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"{}", raw("webhook_new_conversation.json")])
def test_tiktok_never_pings(body: bytes) -> None:
    assert CONNECTOR.is_ping({}, body) is False


def test_delivery_id_is_the_notification_id() -> None:
    assert CONNECTOR.delivery_id({}, raw("webhook_order_status_change.json")) == "tiktok-7327112393057371910"
    assert CONNECTOR.delivery_id({}, b'{"tts_notification_id": 7327112393057371919}') == "tiktok-7327112393057371919"


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": 1, "shop_id": "1"}',
        b'{"tts_notification_id": "../x"}',
        b'{"tts_notification_id": ""}',
        b"not json",
        b'["a"]',
    ],
)
def test_delivery_id_falls_back_to_a_digest_of_the_body(body: bytes) -> None:
    expected = "tiktok-sha-" + hashlib.sha256(body).hexdigest()[:32]
    assert CONNECTOR.delivery_id({}, body) == expected


def test_webhook_shop_id_is_given_to_the_caller() -> None:
    assert webhook_shop_id(raw("webhook_order_status_change.json")) == "7494049642642441621"
    assert CONNECTOR.webhook_shop_id(b'{"shop_id": 7494049642642441621}') == "7494049642642441621"
    assert webhook_shop_id(b'{"type": 1}') is None
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        webhook_shop_id(b"shop_id=1")


# --- webhook topics -----------------------------------------------------------------------------


def test_order_status_change_becomes_an_order_event() -> None:
    parsed = CONNECTOR.parse(STORE, {}, raw("webhook_order_status_change.json"), RAW_KEY, NOW)
    assert parsed.messages == []
    [event] = parsed.order_events
    assert (event.tenant_id, event.store_id, event.channel) == ("t1", "tts-uk", Channel.TIKTOK)
    assert event.event_type is OrderEventType.UPDATED
    assert event.event_id == f"order_status:{ORDER_ID}:AWAITING_SHIPMENT:1709293795"
    assert event.occurred_at == datetime(2024, 3, 1, 11, 49, 55, tzinfo=UTC)
    assert event.raw_s3_key == RAW_KEY
    order = event.order
    assert order.order_ref == ORDER_ID
    assert (order.status, order.channel_status) == (OrderStatus.PROCESSING, "AWAITING_SHIPMENT")
    assert order.updated_at == datetime(2024, 3, 1, 11, 49, 55, tzinfo=UTC)
    assert (order.total, order.items, order.buyer_email, order.tracking_number) == (None, [], None, None)


@pytest.mark.parametrize(
    ("raw_status", "status", "event_type"),
    [
        ("UNPAID", OrderStatus.PENDING, OrderEventType.CREATED),
        ("ON_HOLD", OrderStatus.ON_HOLD, OrderEventType.UPDATED),
        ("AWAITING_COLLECTION", OrderStatus.PROCESSING, OrderEventType.UPDATED),
        ("PARTIALLY_SHIPPING", OrderStatus.PROCESSING, OrderEventType.UPDATED),
        ("IN_TRANSIT", OrderStatus.SHIPPED, OrderEventType.SHIPPED),
        ("DELIVERED", OrderStatus.DELIVERED, OrderEventType.DELIVERED),
        ("COMPLETED", OrderStatus.COMPLETED, OrderEventType.UPDATED),
        ("CANCEL", OrderStatus.CANCELLED, OrderEventType.CANCELLED),  # the webhook's spelling
        ("CANCELLED", OrderStatus.CANCELLED, OrderEventType.CANCELLED),
        ("SOMETHING_NEW", OrderStatus.UNKNOWN, OrderEventType.UPDATED),
    ],
)
def test_order_statuses_map_to_status_and_event_type(
    raw_status: str, status: OrderStatus, event_type: OrderEventType
) -> None:
    payload = sample("webhook_order_status_change.json")
    payload["data"]["order_status"] = raw_status
    [event] = parse(payload).order_events
    assert (event.order.status, event.event_type, event.order.channel_status) == (status, event_type, raw_status)


def test_a_buyer_cancellation_request_opens_a_ticket_and_flags_the_order() -> None:
    parsed = parse(raw("webhook_cancellation_status_change.json"))
    [event] = parsed.order_events
    assert event.event_type is OrderEventType.CANCELLATION_REQUESTED
    assert event.event_id == "cancellation:4035318504086604100:CANCELLATION_REQUEST_PENDING"
    assert event.order.order_ref == ORDER_ID
    assert event.order.status is OrderStatus.UNKNOWN  # not cancelled yet: the stored status stays
    assert event.occurred_at == datetime(2024, 3, 1, 11, 45, tzinfo=UTC)
    [message] = parsed.messages
    assert message.cancellation_requested is True
    assert message.channel_message_id == "cancel-4035318504086604100"
    assert message.channel_thread_id == f"order-{ORDER_ID}"
    assert message.order_ref == ORDER_ID
    assert message.subject == f"Cancellation request for order {ORDER_ID}"
    assert "asked to cancel" in message.body and ORDER_ID in message.body
    assert message.received_at == datetime(2024, 3, 1, 11, 45, tzinfo=UTC)
    assert message.raw_s3_key == RAW_KEY


@pytest.mark.parametrize(
    ("role", "cancel_status", "event_type", "status"),
    [
        ("BUYER", "CANCELLATION_REQUEST_SUCCESS", OrderEventType.CANCELLED, OrderStatus.CANCELLED),
        ("BUYER", "CANCELLATION_REQUEST_COMPLETE", OrderEventType.CANCELLED, OrderStatus.CANCELLED),
        ("BUYER", "CANCELLATION_REQUEST_CANCELLED", OrderEventType.UPDATED, OrderStatus.UNKNOWN),
        ("SELLER", "CANCELLATION_REQUEST_PENDING", OrderEventType.UPDATED, OrderStatus.UNKNOWN),
        ("SYSTEM", "CANCELLATION_REQUEST_COMPLETE", OrderEventType.CANCELLED, OrderStatus.CANCELLED),
    ],
)
def test_other_cancellation_changes_open_no_ticket(
    role: str, cancel_status: str, event_type: OrderEventType, status: OrderStatus
) -> None:
    payload = sample("webhook_cancellation_status_change.json")
    payload["data"].update(cancellations_role=role, cancel_status=cancel_status)
    parsed = parse(payload)
    assert parsed.messages == []
    [event] = parsed.order_events
    assert (event.event_type, event.order.status) == (event_type, status)
    assert event.occurred_at == datetime(2024, 3, 1, 11, 50, tzinfo=UTC)  # the notification's timestamp


def test_a_buyer_return_request_opens_a_ticket() -> None:
    parsed = parse(raw("webhook_return_status_change.json"))
    [event] = parsed.order_events
    assert event.event_type is OrderEventType.UPDATED
    assert event.order.order_ref == "576486316948490002"
    assert event.order.status is OrderStatus.UNKNOWN
    [message] = parsed.messages
    assert message.cancellation_requested is False
    assert message.channel_message_id == "return-4035318504086604200"
    assert message.channel_thread_id == "order-576486316948490002"
    assert message.subject == "Return and refund request for order 576486316948490002"
    assert message.received_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("return_type", "return_status", "event_type"),
    [
        ("REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", OrderEventType.REFUNDED),
        ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", OrderEventType.REFUNDED),
        ("REPLACEMENT", "REPLACEMENT_REQUEST_REFUND_SUCCESS", OrderEventType.REFUNDED),
        ("REPLACEMENT", "REPLACEMENT_REQUEST_COMPLETE", OrderEventType.UPDATED),
        ("RETURN_AND_REFUND", "AWAITING_BUYER_SHIP", OrderEventType.UPDATED),
        ("REFUND", "REFUND_OR_RETURN_REQUEST_REJECT", OrderEventType.UPDATED),
    ],
)
def test_return_progress_is_an_order_event_without_a_ticket(
    return_type: str, return_status: str, event_type: OrderEventType
) -> None:
    payload = sample("webhook_return_status_change.json")
    payload["data"].update(return_type=return_type, return_status=return_status)
    parsed = parse(payload)
    assert parsed.messages == []
    [event] = parsed.order_events
    assert event.event_type is event_type
    assert event.order.status is OrderStatus.UNKNOWN  # a refund may cover some lines only


def test_a_package_update_flags_every_order_of_the_package_once() -> None:
    payload = sample("webhook_package_update.json")
    payload["data"]["package_list"].append({"package_id": "999", "order_id_list": [ORDER_ID]})
    events = parse(payload).order_events
    assert [e.order.order_ref for e in events] == [ORDER_ID, "576486316948490003"]
    assert {e.event_type for e in events} == {OrderEventType.UPDATED}
    assert {e.order.status for e in events} == {OrderStatus.UNKNOWN}
    assert events[0].event_id == f"package:1153132168123859123:{ORDER_ID}:COMBINE:1709293795"


def test_a_recipient_address_update_flags_the_order() -> None:
    [event] = parse(raw("webhook_recipient_address_update.json")).order_events
    assert (event.event_type, event.order.order_ref, event.order.status) == (
        OrderEventType.UPDATED,
        ORDER_ID,
        OrderStatus.UNKNOWN,
    )
    assert event.order.updated_at == datetime(2024, 3, 1, 11, 49, 55, tzinfo=UTC)


def test_a_new_buyer_message_becomes_an_inbound_message() -> None:
    [message] = parse(raw("webhook_new_message.json")).messages
    assert message.channel_message_id == "7494560109732334290"
    assert message.channel_thread_id == CONV_A
    assert message.body == "Hi, can I still change the colour to blue?"
    assert message.received_at == datetime(2024, 3, 1, 11, 49, 50, tzinfo=UTC)
    assert (message.order_ref, message.buyer_name, message.raw_s3_key) == (None, None, RAW_KEY)
    assert (message.tenant_id, message.store_id, message.channel) == ("t1", "tts-uk", Channel.TIKTOK)


@pytest.mark.parametrize(
    "change",
    [
        {"sender": {"im_user_id": "1", "role": "SHOP"}},
        {"sender": {"im_user_id": "1", "role": "CUSTOMER_SERVICE"}},
        {"sender": {"im_user_id": "1", "role": "ROBOT"}},
        {"is_visible": False},
        {"type": "BUYER_ENTER_FROM_PRODUCT", "content": '{"product_id": "1"}'},
    ],
)
def test_new_messages_that_are_not_the_buyer_speaking_are_skipped(change: dict[str, Any]) -> None:
    payload = sample("webhook_new_message.json")
    payload["data"].update(change)
    assert parse(payload) == ParsedDelivery()


@pytest.mark.parametrize(
    ("kind", "content", "body", "order_ref"),
    [
        ("ORDER_CARD", '{"order_id": "576486316948490001"}', "[order card] Order 576486316948490001", ORDER_ID),
        ("LOGISTICS_CARD", '{"order_id": "5764", "package_id": "1"}', "[logistics card] Order 5764", "5764"),
        ("PRODUCT_CARD", '{"product_id": "1729582718312380123"}', "[product card] Product 1729582718312380123", None),
        ("COUPON_CARD", '{"coupon_id": "7262992004278206762"}', "[coupon card] Coupon 7262992004278206762", None),
        ("EMOTICONS", '{"content": "[smile]"}', "[smile]", None),
    ],
)
def test_new_message_cards_are_described(kind: str, content: str, body: str, order_ref: str | None) -> None:
    payload = sample("webhook_new_message.json")
    payload["data"].update(type=kind, content=content)
    [message] = parse(payload).messages
    assert (message.body, message.order_ref) == (body, order_ref)


def test_a_new_image_message_is_not_downloaded() -> None:
    payload = sample("webhook_new_message.json")
    payload["data"].update(type="IMAGE", content='{"height": "290", "url": "https://img.example/x", "width": "304"}')
    [message] = parse(payload).messages
    assert message.body.startswith("[image]\n")
    assert "not imported" in message.body and "https://img.example/x" not in message.body
    assert message.attachments == []


def test_a_blank_buyer_text_is_not_a_message() -> None:
    payload = sample("webhook_new_message.json")
    payload["data"]["content"] = '{"content": "  "}'
    assert parse(payload).messages == []


@pytest.mark.parametrize(
    "name",
    [
        "webhook_new_conversation.json",
        "webhook_seller_deauthorization.json",
        "webhook_upcoming_authorization_expiration.json",
    ],
)
def test_topics_without_content_produce_nothing(name: str) -> None:
    assert parse(raw(name)) == ParsedDelivery()


def test_a_numeric_string_type_is_accepted() -> None:
    payload = sample("webhook_order_status_change.json")
    payload["type"] = "1"
    assert len(parse(payload).order_events) == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"type": 2, "data": {}}, "unsupported TikTok Shop webhook type 2"),
        ({"type": 5, "data": {}}, "unsupported TikTok Shop webhook type 5"),
        ({"type": 99, "data": {}}, "unsupported TikTok Shop webhook type 99"),
        ({"data": {}}, "no numeric 'type'"),
        ({"type": True, "data": {}}, "no numeric 'type'"),
        ({"type": "ORDER_STATUS_CHANGE", "data": {}}, "no numeric 'type'"),
        ({"type": 1}, "type 1 has no 'data' object"),
        ({"type": 1, "data": "x"}, "type 1 has no 'data' object"),
        ({"type": 1, "data": {"order_status": "UNPAID"}}, "has no 'order_id'"),
        ({"type": 1, "data": {"order_id": "1"}}, "has no 'order_status'"),
        (
            {"type": 1, "data": {"order_id": "1", "order_status": "UNPAID", "update_time": "yesterday"}},
            "update_time is not a Unix time",
        ),
        ({"type": 1, "timestamp": -5, "data": {"order_id": "1", "order_status": "UNPAID"}}, "timestamp is not a Unix"),
        ({"type": 4, "data": {"package_list": "p"}}, "no 'package_list'"),
        ({"type": 4, "data": {"package_list": [{"package_id": "1"}]}}, "package 1 has no 'order_id_list'"),
        ({"type": 11, "data": {"order_id": "1", "cancel_id": "2"}}, "cancellation 2 has no 'cancel_status'"),
        ({"type": 12, "data": {"order_id": "1"}}, "has no 'return_id'"),
        (
            {
                "type": 14,
                "data": {
                    "conversation_id": "1",
                    "message_id": "2",
                    "type": "TEXT",
                    "content": "{",
                    "create_time": 1,
                    "sender": {"role": "BUYER"},
                },
            },
            "content is not valid JSON",
        ),
        (
            {
                "type": 14,
                "data": {"conversation_id": "1", "message_id": "2", "type": "TEXT", "content": "{}", "create_time": 1},
            },
            "message 2 has no 'sender'",
        ),
        (
            {
                "type": 14,
                "data": {
                    "conversation_id": "1",
                    "message_id": "2",
                    "type": "TEXT",
                    "content": '{"content": "a"}',
                    "sender": {"role": "BUYER"},
                },
            },
            "message 2 create_time is not a Unix time",
        ),
        ({"type": 14, "data": {"message_id": "2"}}, "NEW_MESSAGE data has no 'conversation_id'"),
    ],
)
def test_malformed_webhooks_say_why(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse(payload)


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload, match="webhook body"):
        parse(body)


# --- client, signing and tokens -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "named"), [("app_key", "app_key"), ("app_secret", "app_secret"), ("refresh_token", "refresh_token")]
)
def test_client_names_a_missing_credential(missing: str, named: str) -> None:
    credentials = {k: v for k, v in CREDENTIALS.items() if k != missing}
    with pytest.raises(ChannelError, match=named) as refused:
        CONNECTOR.client(STORE, credentials)
    assert APP_SECRET not in refused.value.message and REFRESH not in refused.value.message


def test_client_has_the_connector_rate_limit() -> None:
    with CONNECTOR.client(STORE, CREDENTIALS) as http:
        assert isinstance(http._bucket, TokenBucket)
        assert (http._bucket.rate, http._bucket.burst) == (10.0, 10)


def test_api_signature_follows_the_documented_recipe() -> None:
    params = {"timestamp": "1709294400", "app_key": "k", "ids": "1", "sign": "old", "access_token": "t"}
    message = b"s/order/202309/ordersapp_keykids1timestamp1709294400{}s"
    assert (
        api_signature("s", "/order/202309/orders", params, b"{}") == hmac.new(b"s", message, hashlib.sha256).hexdigest()
    )


@respx.mock
def test_requests_are_signed_with_a_refreshed_token_fetched_once() -> None:
    token = mock_token()
    orders = respx.get(ORDERS).mock(return_value=httpx.Response(200, content=raw("orders.json")))
    with http_client() as http:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert token.call_count == 1
    params = token.calls.last.request.url.params
    assert dict(params) == {
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "refresh_token": REFRESH,
        "grant_type": "refresh_token",
    }
    assert "x-tts-access-token" not in token.calls.last.request.headers
    for call in orders.calls:
        assert_signed(call.request)
        assert call.request.url.params["ids"] == ORDER_ID


@respx.mock
def test_the_token_is_refreshed_when_its_epoch_expiry_nears() -> None:
    tokens = iter([TOKEN, "ROW_second_token"])
    body = sample("token_refresh.json")
    body["data"]["access_token_expire_in"] = int(WALL) + 3600  # an epoch time, one hour from now

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**body, "data": {**body["data"], "access_token": next(tokens)}})

    token = respx.get(TOKEN_URL).mock(side_effect=answer)
    orders = respx.get(ORDERS).mock(return_value=envelope({"orders": []}))
    clock = Clock()
    with http_client(clock=clock) as http:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
        clock.now += 3600 - 120
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
        assert token.call_count == 1
        clock.now += 90  # within a minute of the expiry
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert token.call_count == 2
    assert orders.calls.last.request.headers["x-tts-access-token"] == "ROW_second_token"


@respx.mock
def test_a_refused_refresh_token_is_a_401_channel_error_with_tiktoks_reason() -> None:
    respx.get(TOKEN_URL).mock(return_value=envelope({}, code=105002, message="Expired credentials"))
    orders = respx.get(ORDERS).mock(return_value=envelope({"orders": []}))
    with http_client() as http, pytest.raises(ChannelError, match="Expired credentials") as refused:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert refused.value.details["status"] == 401
    assert REFRESH not in refused.value.message and APP_SECRET not in refused.value.message
    assert orders.call_count == 0


@respx.mock
def test_a_token_endpoint_http_error_is_a_channel_error() -> None:
    respx.get(TOKEN_URL).mock(return_value=httpx.Response(400, json={"code": 36004004, "message": "invalid app"}))
    with http_client() as http, pytest.raises(ChannelError, match="invalid app") as refused:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert refused.value.details["status"] == 401


@respx.mock
def test_a_bare_access_token_is_used_without_refreshing() -> None:
    token = mock_token()
    orders = respx.get(ORDERS).mock(return_value=envelope({"orders": []}))
    credentials = {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": TOKEN, "shop_cipher": CIPHER}
    with http_client(credentials) as http:
        assert CONNECTOR.fetch_order(STORE, http, ORDER_ID) is None
    assert token.call_count == 0
    assert_signed(orders.calls.last.request)


@respx.mock
def test_a_401_fetches_a_new_token_and_re_signs_the_request() -> None:
    mock_token()
    orders = respx.get(ORDERS).mock(
        side_effect=[
            httpx.Response(401, json={"code": 105001, "message": "x"}),
            httpx.Response(200, content=raw("orders.json")),
        ]
    )
    with http_client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ORDER_ID) is not None
    assert orders.call_count == 2
    assert_signed(orders.calls.last.request)
    assert orders.calls.last.request.url.params.get_list("sign") == [orders.calls.last.request.url.params["sign"]]


@respx.mock
def test_retries_after_a_5xx_are_signed_again() -> None:
    mock_token()
    orders = respx.get(ORDERS).mock(side_effect=[httpx.Response(503), httpx.Response(200, content=raw("orders.json"))])
    sleeps = Sleeps()
    with http_client(sleeps=sleeps) as http:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert orders.call_count == 2 and len(sleeps) == 1
    for call in orders.calls:
        assert_signed(call.request)


@respx.mock
def test_429_is_retried_after_the_retry_after_delay() -> None:
    mock_token()
    orders = respx.get(ORDERS).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), envelope({"orders": []})]
    )
    sleeps = Sleeps()
    with http_client(sleeps=sleeps) as http:
        assert CONNECTOR.fetch_order(STORE, http, ORDER_ID) is None
    assert orders.call_count == 2 and sleeps == [2.0]


@respx.mock
def test_the_rate_limit_code_in_a_200_answer_is_channel_rate_limited() -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=envelope({}, code=36009002, message="Too many requests"))
    with http_client() as http, pytest.raises(ChannelRateLimited, match="Too many requests") as limited:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert limited.value.details["status"] == 429


@respx.mock
def test_a_shop_scoped_call_without_a_shop_cipher_is_refused_before_sending() -> None:
    mock_token()
    orders = respx.get(ORDERS).mock(return_value=envelope({"orders": []}))
    credentials = {k: v for k, v in CREDENTIALS.items() if k != "shop_cipher"}
    with http_client(credentials) as http, pytest.raises(ChannelError, match=r"credentials\['shop_cipher'\]"):
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert orders.call_count == 0


# --- check_credentials and authorized shops -----------------------------------------------------


@respx.mock
def test_check_credentials_names_the_authorized_shop_without_needing_a_cipher() -> None:
    mock_token()
    shops = respx.get(SHOPS).mock(return_value=httpx.Response(200, content=raw("authorized_shops.json")))
    credentials = {k: v for k, v in CREDENTIALS.items() if k != "shop_cipher"}
    with http_client(credentials) as http:
        assert CONNECTOR.check_credentials(STORE, http) == "Coffee Corner UK"
        [shop] = authorized_shops(http)
    assert shop["cipher"] == CIPHER and shop["id"] == "7494049642642441621" and shop["region"] == "GB"
    assert_signed(shops.calls.last.request, cipher=None)


@respx.mock
def test_check_credentials_refused_quotes_tiktok() -> None:
    mock_token()
    respx.get(SHOPS).mock(return_value=httpx.Response(200, content=raw("error_envelope.json")))
    with http_client() as http, pytest.raises(ChannelError, match="Expired credentials") as refused:
        CONNECTOR.check_credentials(STORE, http)
    assert refused.value.details["status"] == 401
    assert refused.value.details["code"] == 105002


@respx.mock
def test_check_credentials_without_any_shop_is_refused() -> None:
    mock_token()
    respx.get(SHOPS).mock(return_value=envelope({"shops": []}))
    with http_client() as http, pytest.raises(ChannelError, match="no shop") as refused:
        CONNECTOR.check_credentials(STORE, http)
    assert refused.value.details["status"] == 403


# --- orders -------------------------------------------------------------------------------------


@respx.mock
def test_fetch_order_maps_the_documented_order() -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=httpx.Response(200, content=raw("orders.json")))
    with http_client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert order is not None
    assert (order.tenant_id, order.store_id, order.channel, order.order_ref) == (
        "t1",
        "tts-uk",
        Channel.TIKTOK,
        ORDER_ID,
    )
    assert (order.status, order.channel_status) == (OrderStatus.SHIPPED, "IN_TRANSIT")
    assert order.currency == "GBP"
    assert order.total == Decimal("58.47") and isinstance(order.total, Decimal)
    assert [(i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.items] == [
        ("GRIND-CER-01", "Ceramic Burr Coffee Grinder (Black)", 2, Decimal("24.99"), Decimal("49.98")),
        ("FILTER-100", "Paper Filters (100 pack)", 1, Decimal("4.50"), Decimal("4.50")),
    ]
    assert order.buyer_email == "v2b2v5@chat.seller.tiktok.com"
    assert order.buyer_name == "Albert Jones"
    assert (order.carrier, order.tracking_number, order.tracking_url) == ("Royal Mail", "JX123456789GB", None)
    assert order.ordered_at == datetime(2024, 2, 20, 10, 0, tzinfo=UTC)
    assert order.shipped_at == datetime(2024, 2, 28, 16, 30, tzinfo=UTC)  # collection_time
    assert order.delivered_at is None
    assert order.updated_at == datetime(2024, 2, 28, 16, 30, tzinfo=UTC)
    # delivery_sla_time: the deliver-by date; TikTok gives no earliest date, and delivery_due_time
    # (2024-03-08 12:00, the auto-cancel deadline) is not a promise
    assert (order.delivery_earliest, order.delivery_latest) == (None, datetime(2024, 3, 6, 23, 59, 59, tzinfo=UTC))


@pytest.mark.parametrize(
    ("sla", "required", "expected"),
    [
        (None, 1709856000, datetime(2024, 3, 8, 0, 0, tzinfo=UTC)),  # the delivery option's required time
        (0, "1709856000", datetime(2024, 3, 8, 0, 0, tzinfo=UTC)),
        (1709683200, 1709856000, datetime(2024, 3, 6, 0, 0, tzinfo=UTC)),  # delivery_sla_time first
        (None, None, None),  # delivery_due_time alone is not a delivery promise
    ],
)
@respx.mock
def test_the_promised_delivery_date_falls_back_to_the_delivery_options_required_time(
    sla: Any, required: Any, expected: datetime | None
) -> None:
    mock_token()
    body = sample("orders.json")
    body["data"]["orders"][0].update(delivery_sla_time=sla, delivery_option_required_delivery_time=required)
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with http_client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert (order.delivery_earliest, order.delivery_latest) == (None, expected)


@pytest.mark.parametrize(
    ("raw_status", "status"),
    [
        ("UNPAID", OrderStatus.PENDING),
        ("ON_HOLD", OrderStatus.ON_HOLD),
        ("AWAITING_SHIPMENT", OrderStatus.PROCESSING),
        ("PARTIALLY_SHIPPING", OrderStatus.PROCESSING),
        ("AWAITING_COLLECTION", OrderStatus.PROCESSING),
        ("DELIVERED", OrderStatus.DELIVERED),
        ("COMPLETED", OrderStatus.COMPLETED),
        ("CANCELLED", OrderStatus.CANCELLED),
        ("NEW_STATUS", OrderStatus.UNKNOWN),
    ],
)
@respx.mock
def test_fetched_order_statuses_map_to_canonical_ones(raw_status: str, status: OrderStatus) -> None:
    mock_token()
    body = sample("orders.json")
    body["data"]["orders"][0]["status"] = raw_status
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with http_client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert (order.status, order.channel_status) == (status, raw_status)


@respx.mock
def test_a_shipped_order_without_collection_time_uses_the_ship_time_and_fallbacks() -> None:
    mock_token()
    body = sample("orders.json")
    order = body["data"]["orders"][0]
    order.update(
        collection_time=None,
        tracking_number="",
        shipping_provider="",
        buyer_email="masked",
        delivery_time=1709193600,
        status="DELIVERED",
    )
    order["recipient_address"]["name"] = ""
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with http_client() as http:
        fetched = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert fetched.shipped_at == datetime(2024, 2, 27, 9, 0, tzinfo=UTC)  # rts_time
    assert fetched.delivered_at == datetime(2024, 2, 29, 8, 0, tzinfo=UTC)
    assert (fetched.carrier, fetched.tracking_number) == ("Royal Mail", "JX123456789GB")  # from the lines
    assert fetched.buyer_email is None  # not an address: dropped rather than refusing the order
    assert fetched.buyer_name == "Albert Jones"  # first + last name


@respx.mock
def test_an_awaiting_collection_order_is_not_shipped_yet() -> None:
    mock_token()
    body = sample("orders.json")
    body["data"]["orders"][0].update(status="AWAITING_COLLECTION", collection_time=None)
    respx.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    with http_client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ORDER_ID).shipped_at is None


@pytest.mark.parametrize(
    "response",
    [envelope({"orders": []}), envelope({}), httpx.Response(404), envelope({"orders": [{"id": "576486316948490009"}]})],
)
@respx.mock
def test_fetch_order_returns_none_for_no_such_order(response: httpx.Response) -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=response)
    with http_client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ORDER_ID) is None


@respx.mock
def test_fetch_order_5xx_is_a_channel_error_after_retries() -> None:
    mock_token()
    orders = respx.get(ORDERS).mock(return_value=httpx.Response(500))
    with http_client() as http, pytest.raises(ChannelError) as failed:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert failed.value.details["status"] == 500 and orders.call_count == 5


@respx.mock
def test_fetch_order_refused_access_is_a_401_channel_error() -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=httpx.Response(200, content=raw("error_envelope.json")))
    with http_client() as http, pytest.raises(ChannelError, match="Expired credentials") as refused:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert refused.value.details["status"] == 401
    assert refused.value.details["request_id"] == "202403011200000101890810281E8C70B8"


@respx.mock
def test_another_business_error_keeps_tiktoks_message() -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=envelope({}, code=21011001, message="order not exist"))
    with http_client() as http, pytest.raises(ChannelError, match="order not exist") as refused:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert refused.value.details["status"] == 400


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"<html>"),
        httpx.Response(200, json={"data": {}}),
        envelope({"orders": [{"id": ORDER_ID, "payment": {"total_amount": "abc"}}]}),
        envelope({"orders": [{"id": ORDER_ID, "create_time": "soon"}]}),
        envelope({"orders": [{"id": ORDER_ID, "delivery_sla_time": "next week"}]}),
        envelope({"orders": "x"}),
    ],
)
@respx.mock
def test_an_unreadable_order_answer_is_malformed(answer: httpx.Response) -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=answer)
    with http_client() as http, pytest.raises(MalformedPayload):
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)


# --- polling ------------------------------------------------------------------------------------


def messages_url(conversation_id: str) -> str:
    return f"{CONVERSATIONS}/{conversation_id}/messages"


def mock_chat() -> tuple[respx.Route, respx.Route, respx.Route]:
    mock_token()
    conversations = respx.get(CONVERSATIONS).mock(
        side_effect=[
            httpx.Response(200, content=raw("conversations_page1.json")),
            httpx.Response(200, content=raw("conversations_page2.json")),
        ]
    )
    a = respx.get(messages_url(CONV_A)).mock(return_value=httpx.Response(200, content=raw("messages_page.json")))
    b = respx.get(messages_url(CONV_B)).mock(return_value=httpx.Response(200, content=raw("messages_page_b.json")))
    return conversations, a, b


def poll(cursor: str | None = None, now: datetime = NOW):
    with http_client() as http:
        return CONNECTOR.poll(STORE, http, cursor, now)


@respx.mock
def test_poll_reads_the_conversations_with_new_messages_and_keeps_the_buyers() -> None:
    conversations, a, b = mock_chat()
    result = poll(cursor="2024-03-01T09:00:00Z")
    assert conversations.call_count == 2
    first, second = (call.request.url.params for call in conversations.calls)
    assert first["page_size"] == "20" and "page_token" not in first
    assert second["page_token"] == "1612353423"
    assert a.call_count == 1 and b.call_count == 1  # the February conversation is not opened
    params = a.calls.last.request.url.params
    assert params["page_size"] == "10"
    assert "sort_order" not in params and "sort_field" not in params
    for route in (conversations, a, b):
        for call in route.calls:
            assert_signed(call.request)
    assert [m.channel_message_id for m in result.messages] == [
        "7494560109732334266",  # ORDER_CARD
        "7494560109732334267",  # IMAGE
        "7494560109732334269",  # TEXT (the shop's reply and the system marker are skipped)
        "7494560109732334277",  # conversation B (its hidden buyer message is skipped)
    ]
    card, image, text, other = result.messages
    assert card.body == f"[order card] Order {ORDER_ID}"
    assert image.body.startswith("[image]")
    assert text.body == "Can you also confirm it ships before Friday?"
    assert text.received_at == datetime(2024, 3, 1, 11, 40, tzinfo=UTC)
    assert {m.channel_thread_id for m in (card, image, text)} == {CONV_A}
    assert {m.order_ref for m in (card, image, text)} == {ORDER_ID}  # the conversation's order card
    assert {m.buyer_name for m in (card, image, text)} == {"Albert"}
    assert (other.channel_thread_id, other.order_ref, other.buyer_name) == (CONV_B, None, "maria.k")
    assert other.body == "Hello, where is my order 576486316948490002?"
    assert {m.channel for m in result.messages} == {Channel.TIKTOK}
    assert result.order_events == []
    assert result.next_cursor == "2024-03-01T11:40:00Z"
    assert result.raw_pages == [
        raw("conversations_page1.json"),
        raw("messages_page.json"),
        raw("messages_page_b.json"),
        raw("conversations_page2.json"),
    ]


@respx.mock
def test_a_first_poll_looks_back_seven_days() -> None:
    mock_chat()
    result = poll(cursor=None)
    ids = [m.channel_message_id for m in result.messages]
    assert ids[0] == "7494560109732334264"  # 28 February: inside the 7-day window
    assert result.next_cursor == "2024-03-01T11:40:00Z"


@respx.mock
def test_messages_older_than_the_cursor_are_not_imported_again() -> None:
    mock_chat()
    result = poll(cursor="2024-03-01T11:30:00Z")
    # Window starts 15 minutes before the cursor: 11:15. Conversation B (latest 11:00) is not opened.
    assert [m.channel_message_id for m in result.messages] == ["7494560109732334269"]
    assert result.next_cursor == "2024-03-01T11:40:00Z"


@respx.mock
def test_the_cursor_never_moves_backwards_and_is_unchanged_when_nothing_is_new() -> None:
    mock_token()
    respx.get(CONVERSATIONS).mock(return_value=httpx.Response(200, content=raw("conversations_page2.json")))
    assert poll(cursor="2024-03-01T11:40:00Z").next_cursor == "2024-03-01T11:40:00Z"
    respx.get(CONVERSATIONS).mock(return_value=httpx.Response(200, content=raw("conversations_page1.json")))
    respx.get(messages_url(CONV_A)).mock(return_value=httpx.Response(200, content=raw("messages_page.json")))
    respx.get(messages_url(CONV_B)).mock(return_value=httpx.Response(200, content=raw("messages_page_b.json")))
    later = "2024-03-01T11:45:30.250000Z"
    assert poll(cursor=later).next_cursor == later  # the boundary conversation is read again, cursor kept


def conversation(conversation_id: str, latest: int) -> dict[str, Any]:
    return {
        "id": conversation_id,
        "create_time": latest,
        "can_send_message": True,
        "unread_count": 1,
        "participants": [{"role": "BUYER", "nickname": "b", "im_user_id": "1", "user_id": "2"}],
        "latest_message": {
            "id": f"{conversation_id}-m",
            "type": "TEXT",
            "create_time": latest,
            "content": '{"content": "hi"}',
            "is_visible": True,
            "sender": {"role": "BUYER", "im_user_id": "1", "nickname": "b"},
        },
    }


def message(message_id: str, at: int, text: str = "hi", role: str = "BUYER") -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "TEXT",
        "create_time": at,
        "content": json.dumps({"content": text}),
        "is_visible": True,
        "sender": {"role": role, "im_user_id": "1", "nickname": "b"},
    }


def mock_messages(side_effect: Any = None) -> respx.Route:
    def latest_only(request: httpx.Request) -> httpx.Response:
        conversation_id = request.url.path.split("/")[-2]
        return envelope({"messages": [message(f"{conversation_id}-m", 1709290000)], "next_page_token": ""})

    return respx.get(url__regex=rf"{CONVERSATIONS}/[^/]+/messages").mock(side_effect=side_effect or latest_only)


@respx.mock
def test_a_newest_first_listing_cut_short_by_the_page_bound_keeps_the_cursor() -> None:
    mock_token()
    counter = iter(range(10_000))

    def endless(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return envelope({"conversations": [conversation(f"c{n}", 1709290000 - n)], "next_page_token": f"t{n}"})

    conversations = respx.get(CONVERSATIONS).mock(side_effect=endless)
    mock_messages()
    cursor = "2024-02-29T00:00:00Z"
    result = poll(cursor=cursor)
    assert conversations.call_count == MAX_CONVERSATION_PAGES
    assert len(result.messages) == MAX_CONVERSATION_PAGES
    assert result.next_cursor == cursor  # conversations not listed yet may be newer than the cursor


@respx.mock
def test_an_oldest_first_listing_cut_short_advances_to_the_newest_read() -> None:
    mock_token()
    counter = iter(range(10_000))

    def endless(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return envelope({"conversations": [conversation(f"c{n}", 1709200000 + n)], "next_page_token": f"t{n}"})

    respx.get(CONVERSATIONS).mock(side_effect=endless)
    mock_messages()
    result = poll(cursor="2024-02-29T00:00:00Z")
    newest = datetime.fromtimestamp(1709200000 + MAX_CONVERSATION_PAGES - 1, tz=UTC)
    assert result.next_cursor == newest.isoformat().replace("+00:00", "Z")


@respx.mock
def test_listing_stops_once_a_newest_first_list_reaches_older_conversations() -> None:
    mock_token()
    conversations = respx.get(CONVERSATIONS).mock(
        side_effect=[
            envelope(
                {
                    "conversations": [conversation("new", 1709290000), conversation("old", 1700000000)],
                    "next_page_token": "more",
                }
            ),
        ]
    )
    mock_messages()
    result = poll(cursor="2024-02-29T00:00:00Z")
    assert conversations.call_count == 1
    assert result.next_cursor == datetime.fromtimestamp(1709290000, tz=UTC).isoformat().replace("+00:00", "Z")


@respx.mock
def test_messages_are_paged_down_to_the_window_only() -> None:
    mock_token()
    respx.get(CONVERSATIONS).mock(
        return_value=envelope({"conversations": [conversation("c1", 1709290000)], "next_page_token": ""})
    )
    pages = mock_messages(
        side_effect=[
            envelope({"messages": [message("m3", 1709290000), message("m2", 1709280000)], "next_page_token": "p2"}),
            envelope({"messages": [message("m1", 1709270000), message("m0", 1709000000)], "next_page_token": "p3"}),
        ]
    )
    result = poll(cursor="2024-03-01T00:00:00Z")  # window from 2024-02-29T23:45Z = 1709250300
    assert pages.call_count == 2
    assert pages.calls.last.request.url.params["page_token"] == "p2"
    assert [m.channel_message_id for m in result.messages] == ["m1", "m2", "m3"]  # oldest first
    assert result.next_cursor == datetime.fromtimestamp(1709290000, tz=UTC).isoformat().replace("+00:00", "Z")


@respx.mock
def test_a_conversation_longer_than_the_page_bound_keeps_the_cursor() -> None:
    mock_token()
    respx.get(CONVERSATIONS).mock(
        return_value=envelope({"conversations": [conversation("c1", 1709290000)], "next_page_token": ""})
    )
    counter = iter(range(1000))

    def busy(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return envelope({"messages": [message(f"m{n}", 1709290000 - n)], "next_page_token": f"p{n}"})

    pages = mock_messages(side_effect=busy)
    result = poll(cursor="2024-03-01T00:00:00Z")
    assert pages.call_count == 5
    assert len(result.messages) == 5
    assert result.next_cursor == "2024-03-01T00:00:00Z"


def test_a_cursor_that_is_not_a_date_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        poll(cursor="page-3")


@respx.mock
def test_a_poll_error_is_a_channel_error_with_tiktoks_message() -> None:
    mock_token()
    respx.get(CONVERSATIONS).mock(return_value=envelope({}, code=105002, message="Expired credentials"))
    with pytest.raises(ChannelError, match=r"Get Conversations failed.*Expired credentials"):
        poll(cursor="2024-03-01T09:00:00Z")


@pytest.mark.parametrize(
    "bad",
    [
        {"conversations": "x"},
        {"conversations": [{"latest_message": {"create_time": 1709290000}}]},
        {"conversations": [{"id": "c", "latest_message": {"create_time": "noon"}}]},
        {"conversations": [], "next_page_token": 5},
    ],
)
@respx.mock
def test_an_unreadable_conversation_page_is_malformed(bad: dict[str, Any]) -> None:
    mock_token()
    respx.get(CONVERSATIONS).mock(return_value=envelope(bad))
    with pytest.raises(MalformedPayload):
        poll(cursor="2024-03-01T09:00:00Z")


@respx.mock
def test_a_message_with_unreadable_content_is_malformed() -> None:
    mock_token()
    respx.get(CONVERSATIONS).mock(return_value=envelope({"conversations": [conversation("c1", 1709290000)]}))
    broken = {**message("m1", 1709290000), "content": "{not json"}
    mock_messages(side_effect=[envelope({"messages": [broken], "next_page_token": ""})])
    with pytest.raises(MalformedPayload, match="message m1 content is not valid JSON"):
        poll(cursor="2024-03-01T09:00:00Z")


@respx.mock
def test_an_unsupported_buyer_message_type_points_to_seller_center() -> None:
    mock_token()
    respx.get(CONVERSATIONS).mock(return_value=envelope({"conversations": [conversation("c1", 1709290000)]}))
    odd = {**message("m1", 1709290000), "type": "GIFT_CARD", "content": '{"gift": "x"}'}
    mock_messages(
        side_effect=[
            envelope(
                {
                    "messages": [odd],
                    "next_page_token": "",
                    "unsupported_msg_tips": "Please check this message in Seller Center.\n",
                }
            )
        ]
    )
    [inbound] = poll(cursor="2024-03-01T09:00:00Z").messages
    assert inbound.body == "[GIFT_CARD message] Please check this message in Seller Center."


# --- replies ------------------------------------------------------------------------------------


@respx.mock
def test_reply_posts_a_signed_text_message_and_returns_its_id() -> None:
    mock_token()
    route = respx.post(messages_url(CONV_A)).mock(return_value=httpx.Response(200, content=raw("send_message.json")))
    with http_client() as http:
        message_id = CONNECTOR.send_reply(STORE, http, CONV_A, "Bonjour Albert, oui — expédié vendredi.")
    assert message_id == "7494560109732334300"
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    payload = json.loads(request.content)
    assert payload["type"] == "TEXT"
    assert json.loads(payload["content"]) == {"content": "Bonjour Albert, oui — expédié vendredi."}
    assert_signed(request, body=request.content)  # the JSON body is part of the signature


@respx.mock
def test_a_reply_is_never_sent_twice_after_a_5xx() -> None:
    mock_token()
    route = respx.post(messages_url(CONV_A)).mock(return_value=httpx.Response(503))
    with http_client() as http, pytest.raises(ChannelError):
        CONNECTOR.send_reply(STORE, http, CONV_A, "Thanks for your patience.")
    assert route.call_count == 1


@respx.mock
def test_a_reply_refused_by_tiktok_raises_its_message() -> None:
    mock_token()
    respx.post(messages_url(CONV_A)).mock(return_value=envelope({}, code=12019001, message="contains sensitive words"))
    with http_client() as http, pytest.raises(ChannelError, match="contains sensitive words"):
        CONNECTOR.send_reply(STORE, http, CONV_A, "Thanks for your patience.")


@pytest.mark.parametrize(("body", "reason"), [("x" * 2001, "at most 2000"), ("   ", "cannot be empty")])
@respx.mock
def test_a_reply_tiktok_would_refuse_is_not_sent(body: str, reason: str) -> None:
    route = respx.post(messages_url(CONV_A)).mock(return_value=httpx.Response(200, content=raw("send_message.json")))
    with http_client() as http, pytest.raises(ChannelError, match=reason):
        CONNECTOR.send_reply(STORE, http, CONV_A, body)
    assert route.call_count == 0


@respx.mock
def test_a_reply_of_exactly_2000_characters_is_sent() -> None:
    mock_token()
    respx.post(messages_url(CONV_A)).mock(return_value=httpx.Response(200, content=raw("send_message.json")))
    with http_client() as http:
        assert CONNECTOR.send_reply(STORE, http, CONV_A, "y" * 2000) == "7494560109732334300"


@respx.mock
def test_a_reply_answer_without_message_id_is_malformed() -> None:
    mock_token()
    respx.post(messages_url(CONV_A)).mock(return_value=envelope({}))
    with http_client() as http, pytest.raises(MalformedPayload, match="message_id"):
        CONNECTOR.send_reply(STORE, http, CONV_A, "Thanks for your patience.")


@respx.mock
def test_a_reply_on_an_order_thread_opens_the_buyers_conversation() -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=httpx.Response(200, content=raw("orders.json")))
    create = respx.post(CONVERSATIONS).mock(return_value=httpx.Response(200, content=raw("create_conversation.json")))
    send = respx.post(messages_url("7106888323922608389")).mock(
        return_value=httpx.Response(200, content=raw("send_message.json"))
    )
    with http_client() as http:
        message_id = CONNECTOR.send_reply(STORE, http, f"order-{ORDER_ID}", "We cancelled it, refund on its way.")
    assert message_id == "7494560109732334300"
    assert json.loads(create.calls.last.request.content) == {"buyer_user_id": "7494560109732338459"}
    assert_signed(create.calls.last.request, body=create.calls.last.request.content)
    assert json.loads(json.loads(send.calls.last.request.content)["content"]) == {
        "content": "We cancelled it, refund on its way."
    }


@respx.mock
def test_a_reply_on_an_order_thread_for_an_unknown_order_is_refused() -> None:
    mock_token()
    respx.get(ORDERS).mock(return_value=envelope({"orders": []}))
    create = respx.post(CONVERSATIONS).mock(return_value=httpx.Response(200, content=raw("create_conversation.json")))
    with http_client() as http, pytest.raises(ChannelError, match="no buyer") as refused:
        CONNECTOR.send_reply(STORE, http, "order-123", "Hello")
    assert refused.value.details["status"] == 404 and create.call_count == 0
