"""Amazon: buyer e-mails through the relay, ORDER_CHANGE notifications (incl. buyer cancellation
requests), and SP-API order lookups / credential checks with an LWA token — on respx-mocked HTTP with
the samples under infrastructure/local/samples/amazon."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from helpdesk.channels import amazon, api_connector
from helpdesk.channels.amazon import (
    CONNECTOR,
    AmazonConnector,
    buyer_text,
    is_relay_email,
    lwa_auth_class,
    notification_id,
    notification_seller,
    parse_notification,
    relay_inbound,
)
from helpdesk.channels.email import build_reply, parse_mime
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.oauth import clear_token_cache
from helpdesk.core.errors import ChannelError, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "infrastructure/local/samples/amazon"
NOW = datetime(2024, 3, 5, 16, 0, tzinfo=UTC)
RAW_KEY = "raw/t1/amazon/amz-us/2024/03/05/x"
BASE = "https://sellingpartnerapi-na.amazon.com"
TOKEN_URL = "https://api.amazon.com/auth/o2/token"
ORDER_ID = "114-3941689-8772232"
ORDER_URL = f"{BASE}/orders/v0/orders/{ORDER_ID}"
ITEMS_URL = f"{ORDER_URL}/orderItems"
PARTICIPATIONS_URL = f"{BASE}/sellers/v1/marketplaceParticipations"
CREDENTIALS = {
    "refresh_token": "Atzr|IwEBIExampleRefreshToken",
    "lwa_client_id": "amzn1.application-oa2-client.abc",
    "lwa_client_secret": "amzn1.oa2-cs.v1.secret",
    "region": "na",
    "seller_id": "A3TH9S8BH6GOGM",
}
STORE = Store(
    tenant_id="t1",
    store_id="amz-us",
    channel=Channel.AMAZON,
    display_name="Demo Coffee on Amazon.com",
    secret_name="helpdesk/t1/amz-us",
    created_at=NOW,
)


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(raw(name)))


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    clear_token_cache()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def http_client(sleeps: Sleeps | None = None, key: str = "helpdesk/t1/amz-us") -> ChannelHttpClient:
    """Like CONNECTOR.client() but without real sleeping (retry waits are recorded)."""
    auth = lwa_auth_class()(
        key,
        refresh_token=CREDENTIALS["refresh_token"],
        client_id=CREDENTIALS["lwa_client_id"],
        client_secret=CREDENTIALS["lwa_client_secret"],
    )
    return ChannelHttpClient(
        BASE,
        channel="amazon",
        headers={"Accept": "application/json"},
        auth=auth,
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(1),
    )


def mock_token(*tokens: str) -> respx.Route:
    values = iter(tokens or ("Atza|token-1",))
    return respx.post(TOKEN_URL).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={"access_token": next(values), "refresh_token": "Atzr|x", "token_type": "bearer", "expires_in": 3600},
        )
    )


def unauthorized(code: str = "Unauthorized") -> httpx.Response:
    return httpx.Response(
        403,
        json={
            "errors": [
                {
                    "code": code,
                    "message": "Access to requested resource is denied.",
                    "details": "The access token you provided has expired.",
                }
            ]
        },
    )


# --- the e-mail relay -----------------------------------------------------------------------------


def relay(name: str):
    return parse_mime(raw(name))


def inbound(name: str, **kwargs: Any):
    return relay_inbound(STORE, relay(name), raw_s3_key=RAW_KEY, received_at=NOW, attachments=[], **kwargs)


@pytest.mark.parametrize("name", ["relay_inquiry_en.eml", "relay_message_it.eml", "relay_reply_de.eml"])
def test_relay_samples_are_relay_emails(name: str) -> None:
    assert is_relay_email(relay(name))


@pytest.mark.parametrize(
    ("sender", "relayed"),
    [
        ("x1y2z3@marketplace.amazon.de", True),
        ("x1y2z3@marketplace.amazon.co.uk", True),
        ("x1y2z3@marketplace.amazon.com.br", True),
        ("x1y2z3@marketplace.amazon.co.jp", True),
        ("X1Y2Z3@Marketplace.Amazon.FR", True),
        ("x1y2z3@marketplace.amazon.de.evil.example", False),  # look-alike domain
        ("x1y2z3@evil-marketplace.amazon.de.example", False),
        ("x1y2z3@amazon.de", False),
        ("donotreply@marketplace.amazon.de", False),  # Amazon's own notices, not a buyer
        ("no-reply@marketplace.amazon.it", False),
        ("jane@example.com", False),
    ],
)
def test_relay_sender_domains(sender: str, relayed: bool) -> None:
    p = parse_mime(f"From: Buyer <{sender}>\nSubject: hi\nMessage-ID: <r@x>\n\nhello".encode())
    assert is_relay_email(p) is relayed


def test_relay_alias_in_reply_to_only() -> None:
    p = parse_mime(b"From: Forwarder <fw@example.com>\nReply-To: abc123@marketplace.amazon.es\nSubject: x\n\nhola")
    assert is_relay_email(p) and amazon.relay_alias(p) == "abc123@marketplace.amazon.es"


def test_relay_inquiry_keeps_only_the_buyers_words() -> None:
    m = inbound("relay_inquiry_en.eml")
    assert m.channel == Channel.AMAZON and (m.tenant_id, m.store_id) == ("t1", "amz-us")
    assert m.body == (
        "Hi,\n\nmy order was supposed to arrive yesterday but the tracking still says "
        '"label created".\nCould you please check what is going on? I need it before the weekend.'
        "\n\nThanks,\nJane"
    )
    assert m.order_ref == ORDER_ID
    assert m.channel_thread_id == f"amazon-order:{ORDER_ID}"
    assert m.reply_to == m.buyer_email == "k3v9x2qwp7hz1mf@marketplace.amazon.com"
    assert m.buyer_name == "Jane Doe"  # " - Amazon Marketplace" removed
    assert m.subject == f"Inquiry from Amazon customer Jane Doe (Order: {ORDER_ID})"
    assert m.channel_message_id == "0100018e0a1b2c3d-4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8-000000@email.amazonses.com"
    assert m.raw_s3_key == RAW_KEY and not m.cancellation_requested


def test_relay_message_without_order_id_threads_on_the_email() -> None:
    """The real Italian layout: localised markers, no order id anywhere."""
    m = inbound("relay_message_it.eml")
    assert m.body == "Confermo, va bene la sostituzione. Grazie mille e buon lavoro!"
    assert m.order_ref is None
    assert m.channel_thread_id == m.channel_message_id  # nothing better to thread on
    assert m.buyer_name == "Acquirente Amazon" and m.reply_to == "a0952547w2gonh17wevw@marketplace.amazon.it"
    assert m.subject == "Messaggio dall'acquirente"


def test_relay_reply_drops_the_quoted_seller_text() -> None:
    m = inbound("relay_reply_de.eml")
    assert m.body == (
        "Hallo,\n\nvielen Dank für die schnelle Antwort. Bitte stornieren Sie die Bestellung doch,\n"
        "ich habe die Mühle inzwischen im Laden gekauft.\n\nViele Grüße\nMax Mustermann"
    )
    assert m.order_ref == "302-7788990-1122334"
    assert m.channel_thread_id == "amazon-order:302-7788990-1122334"
    assert m.references == ["4b3c2d1e0f9a8b7c@mail.demo-kaffee.de"]
    assert m.buyer_name == "Max Mustermann"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "intro\n------------- Message: -------------\nhello\n------------- End message -------------\nfooter",
            "hello",
        ),
        (
            "------------- Begin message -------------\nhola\n\nEl lun, 4 mar 2024, Tienda escribió:\n> viejo\n"
            "------------- Finalizar mensaje -------------",
            "hola",
        ),
        (
            "Where is my order?\n------------- End message -------------\nFor Your Information: Amazon retains...",
            "Where is my order?",
        ),
        ("No template at all\n\nOn Mon, 4 Mar 2024, Shop wrote:\n> old", "No template at all"),
        ("x\n------------- Message: -------------\n\n------------- End message -------------", ""),
    ],
)
def test_buyer_text_between_markers(text: str, expected: str) -> None:
    assert buyer_text(text) == expected


def test_relay_with_empty_frame_falls_back_to_the_subject() -> None:
    body = "------------- Message: -------------\n\n------------- End message -------------\n"
    p = parse_mime(
        (
            "From: B <b1@marketplace.amazon.com>\nSubject: Order 111-2223334-4445556\nMessage-ID: <e@x>\n\n" + body
        ).encode()
    )
    m = relay_inbound(STORE, p, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[])
    assert m.body == "Order 111-2223334-4445556" and m.order_ref == "111-2223334-4445556"


def test_not_a_relay_email_is_malformed_for_relay_inbound() -> None:
    p = parse_mime(b"From: jane@example.com\nSubject: x\nMessage-ID: <n@x>\n\nhello")
    with pytest.raises(MalformedPayload, match="not an Amazon relay"):
        relay_inbound(STORE, p, raw_s3_key=RAW_KEY, received_at=NOW, attachments=[])


def test_reply_to_a_relay_message_goes_to_the_alias() -> None:
    m = inbound("relay_inquiry_en.eml")
    message_id, data = build_reply(
        from_address="support@demo-coffee.com",
        from_name="Demo Coffee",
        to_address=m.reply_to or "",
        subject=m.subject,
        body_text="Hi Jane, it ships today.",
        in_reply_to=m.channel_message_id,
        references=m.references,
        message_id_domain="demo-coffee.com",
    )
    out = parse_mime(data)
    assert out.to == ["k3v9x2qwp7hz1mf@marketplace.amazon.com"]
    assert out.subject == f"Re: Inquiry from Amazon customer Jane Doe (Order: {ORDER_ID})"
    assert out.in_reply_to == m.channel_message_id and out.message_id == message_id


# --- ORDER_CHANGE notifications -------------------------------------------------------------------


def test_notification_id_and_seller() -> None:
    body = raw("order_change_buyer_cancel.json")
    assert notification_id(body) == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert notification_seller(body) == ("A3TH9S8BH6GOGM", "ATVPDKIKX0DER")


def test_buyer_cancellation_request() -> None:
    parsed = parse_notification(STORE, raw("order_change_buyer_cancel.json"), raw_s3_key=RAW_KEY, received_at=NOW)
    [event] = parsed.order_events
    assert event.event_type == OrderEventType.CANCELLATION_REQUESTED
    assert event.event_id == "order-change:d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert event.occurred_at == datetime(2024, 3, 5, 9, 13, 58, 284000, tzinfo=UTC)
    order = event.order
    assert (order.order_ref, order.channel, order.status, order.channel_status) == (
        "903-8868176-2219830",
        Channel.AMAZON,
        OrderStatus.PROCESSING,
        "Unshipped",
    )
    assert order.ordered_at == datetime(2024, 3, 4, 19, 42, 4, 284000, tzinfo=UTC)
    assert order.items == []  # the notification has no titles or prices: the stored order keeps its items
    [message] = parsed.messages
    assert message.cancellation_requested
    assert message.channel_message_id == "order-change:d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert message.channel_thread_id == "amazon-order:903-8868176-2219830"
    assert message.order_ref == "903-8868176-2219830"
    assert message.body == (
        "The buyer asked to cancel Amazon order 903-8868176-2219830.\n"
        "Reason given by Amazon: Buyer Requested Cancel\nItems: ESP-DLX-15"
    )
    assert message.subject == "Cancellation request for order 903-8868176-2219830"
    assert message.received_at == event.occurred_at and message.raw_s3_key == RAW_KEY


def test_cancellation_request_quotes_the_buyers_reason_and_needs_no_reason_text() -> None:
    payload = sample("order_change_buyer_cancel.json")
    change = payload["Payload"]["OrderChangeNotification"]
    change["OrderChangeTrigger"]["ChangeReason"] = "BuyerRequestedChange"
    change["Summary"]["OrderItems"][0].pop("IsBuyerRequestedCancel")
    change["Summary"]["OrderItems"][0]["BuyerRequestedCancel"] = {
        "IsBuyerRequestedCancel": "true",
        "BuyerCancelReason": "Found cheaper somewhere else.",
    }
    parsed = parse_notification(STORE, json.dumps(payload).encode(), raw_s3_key=RAW_KEY, received_at=NOW)
    assert parsed.order_events[0].event_type == OrderEventType.CANCELLATION_REQUESTED
    assert "Buyer's reason: Found cheaper somewhere else." in parsed.messages[0].body


def test_buyer_requested_change_that_is_not_a_cancellation() -> None:
    payload = sample("order_change_buyer_cancel.json")
    change = payload["Payload"]["OrderChangeNotification"]
    change["OrderChangeTrigger"]["ChangeReason"] = "Buyer Requested Address Change"
    change["Summary"]["OrderItems"][0]["IsBuyerRequestedCancel"] = False
    parsed = parse_notification(STORE, json.dumps(payload).encode(), raw_s3_key=RAW_KEY, received_at=NOW)
    assert parsed.messages == [] and parsed.order_events[0].event_type == OrderEventType.UPDATED


def test_order_status_change_to_shipped() -> None:
    parsed = parse_notification(STORE, raw("order_change_shipped.json"), raw_s3_key=RAW_KEY, received_at=NOW)
    assert parsed.messages == []
    [event] = parsed.order_events
    assert event.event_type == OrderEventType.SHIPPED
    assert event.order.status == OrderStatus.SHIPPED and event.order.order_ref == ORDER_ID
    assert event.order.updated_at == datetime(2024, 3, 5, 14, 2, 19, tzinfo=UTC)


def test_order_change_carries_the_promised_delivery_window() -> None:
    parsed = parse_notification(STORE, raw("order_change_shipped.json"), raw_s3_key=RAW_KEY, received_at=NOW)
    order = parsed.order_events[0].order
    assert order.delivery_earliest == datetime(2024, 3, 7, 8, 0, 0, tzinfo=UTC)
    assert order.delivery_latest == datetime(2024, 3, 12, 7, 59, 59, tzinfo=UTC)


def test_order_change_without_a_delivery_window_leaves_it_unknown() -> None:
    payload = sample("order_change_shipped.json")
    summary = payload["Payload"]["OrderChangeNotification"]["Summary"]
    del summary["EarliestDeliveryDate"]
    summary["LatestDeliveryDate"] = None
    order = parse_notification(STORE, json.dumps(payload), raw_s3_key=RAW_KEY, received_at=NOW).order_events[0].order
    assert (order.delivery_earliest, order.delivery_latest) == (None, None)


@pytest.mark.parametrize(
    ("status", "easy_ship", "expected", "event"),
    [
        ("Pending", None, OrderStatus.PENDING, OrderEventType.UPDATED),
        ("PendingAvailability", None, OrderStatus.PENDING, OrderEventType.UPDATED),
        ("Unshipped", None, OrderStatus.PROCESSING, OrderEventType.UPDATED),
        ("PartiallyShipped", None, OrderStatus.PROCESSING, OrderEventType.UPDATED),
        ("Shipped", None, OrderStatus.SHIPPED, OrderEventType.SHIPPED),
        ("Shipped", "Delivered", OrderStatus.DELIVERED, OrderEventType.DELIVERED),
        ("InvoiceUnconfirmed", None, OrderStatus.SHIPPED, OrderEventType.SHIPPED),
        ("Canceled", None, OrderStatus.CANCELLED, OrderEventType.CANCELLED),
        ("Unfulfillable", None, OrderStatus.FAILED, OrderEventType.UPDATED),
        ("SomethingNew", None, OrderStatus.UNKNOWN, OrderEventType.UPDATED),
    ],
)
def test_status_mapping(status: str, easy_ship: str | None, expected: OrderStatus, event: OrderEventType) -> None:
    payload = sample("order_change_shipped.json")
    summary = payload["Payload"]["OrderChangeNotification"]["Summary"]
    summary["OrderStatus"] = status
    if easy_ship:
        summary["EasyShipShipmentStatus"] = easy_ship
    parsed = parse_notification(STORE, json.dumps(payload), raw_s3_key=RAW_KEY, received_at=NOW)
    assert (parsed.order_events[0].order.status, parsed.order_events[0].event_type) == (expected, event)
    assert parsed.order_events[0].order.channel_status == status


def test_camel_case_envelope_and_missing_times() -> None:
    payload = sample("order_change_shipped.json")
    camel = {k[0].lower() + k[1:]: v for k, v in payload.items()}
    camel["notificationMetadata"] = {k[0].lower() + k[1:]: v for k, v in camel["notificationMetadata"].items()}
    camel["payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = None
    parsed = parse_notification(STORE, json.dumps(camel), raw_s3_key=RAW_KEY, received_at=NOW)
    assert parsed.order_events[0].occurred_at == datetime(2024, 3, 5, 14, 2, 31, 118000, tzinfo=UTC)  # EventTime
    assert notification_id(json.dumps(camel)) == "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def _broken(mutate) -> bytes:
    payload = sample("order_change_buyer_cancel.json")
    mutate(payload)
    return json.dumps(payload).encode()


def _change(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["Payload"]["OrderChangeNotification"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_broken(lambda p: p.update(NotificationType="FBA_OUTBOUND_SHIPMENT_STATUS")), "unsupported notification type"),
        (_broken(lambda p: p.pop("Payload")), "Payload.OrderChangeNotification"),
        (_broken(lambda p: p["NotificationMetadata"].pop("NotificationId")), "NotificationId"),
        (_broken(lambda p: _change(p).update(AmazonOrderId="12345")), "Amazon order id"),
        (_broken(lambda p: _change(p).pop("Summary")), "'Summary' and 'OrderChangeTrigger'"),
        (_broken(lambda p: _change(p).pop("OrderChangeType")), "OrderChangeType"),
        (_broken(lambda p: _change(p)["Summary"].update(OrderItems={})), "OrderItems"),
        (_broken(lambda p: _change(p)["Summary"].update(PurchaseDate="last week")), "could not be read"),
        (_broken(lambda p: _change(p)["Summary"].update(LatestDeliveryDate="soon")), "could not be read"),
    ],
)
def test_malformed_notifications(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse_notification(STORE, body, raw_s3_key=RAW_KEY, received_at=NOW)


def test_notification_seller_needs_a_seller_id() -> None:
    with pytest.raises(MalformedPayload, match="SellerId"):
        notification_seller(_broken(lambda p: _change(p).pop("SellerId")))
    with pytest.raises(MalformedPayload, match="unsupported notification type"):
        notification_seller(_broken(lambda p: p.update(NotificationType="ANY_OFFER_CHANGED")))


# --- SP-API client, LWA token ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("na", "https://sellingpartnerapi-na.amazon.com"),
        ("eu", "https://sellingpartnerapi-eu.amazon.com"),
        ("FE", "https://sellingpartnerapi-fe.amazon.com"),
    ],
)
def test_regional_endpoints(region: str, url: str) -> None:
    with CONNECTOR.client(STORE, {**CREDENTIALS, "region": region}) as http:
        assert str(http._http.base_url).rstrip("/") == url
        assert isinstance(http._bucket, TokenBucket) and (http._bucket.rate, http._bucket.burst) == (0.5, 30)


def test_store_base_url_overrides_the_region() -> None:
    store = STORE.model_copy(update={"base_url": "https://sandbox.sellingpartnerapi-eu.amazon.com/"})
    creds = {k: v for k, v in CREDENTIALS.items() if k != "region"}
    with CONNECTOR.client(store, creds) as http:
        assert str(http._http.base_url).rstrip("/") == "https://sandbox.sellingpartnerapi-eu.amazon.com"


@pytest.mark.parametrize("missing", ["refresh_token", "lwa_client_id", "lwa_client_secret", "region"])
def test_client_names_a_missing_credential(missing: str) -> None:
    creds = {**CREDENTIALS, missing: " "}
    with pytest.raises(ChannelError, match=f"'{missing}'") as error:
        CONNECTOR.client(STORE, creds)
    assert CREDENTIALS["lwa_client_secret"] not in str(error.value)


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ChannelError, match="na, eu or fe"):
        CONNECTOR.client(STORE, {**CREDENTIALS, "region": "us-east-1"})


@respx.mock
def test_lwa_token_request_and_access_token_header() -> None:
    token = respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, content=raw("lwa_token.json")))
    participations = httpx.Response(200, content=raw("marketplace_participations.json"))
    api = respx.get(PARTICIPATIONS_URL).mock(return_value=participations)
    with CONNECTOR.client(STORE, CREDENTIALS) as http:
        CONNECTOR.check_credentials(STORE, http)
        CONNECTOR.check_credentials(STORE, http)
    assert token.call_count == 1  # cached for the hour
    form = parse_qs(token.calls.last.request.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [CREDENTIALS["refresh_token"]],
        "client_id": [CREDENTIALS["lwa_client_id"]],
        "client_secret": [CREDENTIALS["lwa_client_secret"]],
    }
    assert token.calls.last.request.headers["content-type"] == "application/x-www-form-urlencoded"
    request = api.calls.last.request
    assert request.headers["x-amz-access-token"] == "Atza|IwEBIExampleAccessToken"
    assert "authorization" not in request.headers


@respx.mock
def test_expired_token_403_fetches_a_new_token_once() -> None:
    token = mock_token("Atza|old", "Atza|new")
    api = respx.get(PARTICIPATIONS_URL).mock(
        side_effect=lambda request: (
            httpx.Response(200, content=raw("marketplace_participations.json"))
            if request.headers["x-amz-access-token"] == "Atza|new"
            else unauthorized()
        )
    )
    with http_client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "Amazon.com, Amazon.ca"
    assert token.call_count == 2 and api.call_count == 2


@respx.mock
def test_refused_access_is_a_channel_error_with_amazons_message() -> None:
    token = mock_token("Atza|1", "Atza|2")
    respx.get(PARTICIPATIONS_URL).mock(return_value=unauthorized())
    with http_client() as http, pytest.raises(ChannelError, match="Access to requested resource is denied") as error:
        CONNECTOR.check_credentials(STORE, http)
    assert error.value.details["status"] == 403
    assert token.call_count == 2  # one fresh token tried, then given up


@respx.mock
def test_a_403_for_a_missing_role_does_not_refetch_the_token() -> None:
    token = mock_token()
    respx.get(PARTICIPATIONS_URL).mock(return_value=unauthorized("AccessDenied"))
    with http_client() as http, pytest.raises(ChannelError) as error:
        CONNECTOR.check_credentials(STORE, http)
    assert error.value.details["status"] == 403 and token.call_count == 1


@respx.mock
def test_refused_refresh_token_is_a_401_channel_error() -> None:
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "error_description": "The request has an invalid grant parameter : refresh_token",
                "error": "invalid_grant",
            },
        )
    )
    with http_client() as http, pytest.raises(ChannelError, match="invalid grant parameter") as error:
        CONNECTOR.check_credentials(STORE, http)
    assert error.value.details["status"] == 401
    assert CREDENTIALS["refresh_token"] not in str(error.value)


@respx.mock
def test_check_credentials_label_lists_participating_marketplaces() -> None:
    mock_token()
    respx.get(PARTICIPATIONS_URL).mock(return_value=httpx.Response(200, content=raw("marketplace_participations.json")))
    with http_client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "Amazon.com, Amazon.ca"  # Amazon.com.mx: not participating


# --- order lookups --------------------------------------------------------------------------------


@respx.mock
def test_fetch_order_with_paged_items() -> None:
    mock_token()
    respx.get(ORDER_URL).mock(return_value=httpx.Response(200, content=raw("get_order.json")))
    items = respx.get(ITEMS_URL).mock(
        side_effect=[
            httpx.Response(200, content=raw("get_order_items_page1.json")),
            httpx.Response(200, content=raw("get_order_items_page2.json")),
        ]
    )
    with http_client() as http:
        order = CONNECTOR.fetch_order(STORE, http, f" {ORDER_ID} ")
    assert order is not None
    first, second = (call.request.url.params for call in items.calls)
    assert "NextToken" not in first and second["NextToken"] == "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"
    assert (order.tenant_id, order.store_id, order.channel) == ("t1", "amz-us", Channel.AMAZON)
    assert order.order_ref == ORDER_ID
    assert (order.status, order.channel_status) == (OrderStatus.SHIPPED, "Shipped")
    assert (order.currency, order.total) == ("USD", Decimal("219.97"))
    assert [(i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.items] == [
        ("ESP-DLX-15", "Espresso Machine Deluxe 15 bar, stainless steel", 1, Decimal("189.99"), Decimal("189.99")),
        ("MILK-JUG-350", "Milk frothing jug 350 ml", 2, Decimal("14.99"), Decimal("29.98")),
    ]
    assert order.buyer_email == "k3v9x2qwp7hz1mf@marketplace.amazon.com"  # the anonymised alias
    assert order.buyer_name == "Jane Doe"
    assert order.ordered_at == datetime(2024, 3, 2, 11, 20, 45, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 3, 5, 14, 2, 19, tzinfo=UTC)
    assert order.carrier is None and order.tracking_number is None  # not in Orders API v0
    assert order.delivery_earliest == datetime(2024, 3, 6, 8, 0, 0, tzinfo=UTC)  # EarliestDeliveryDate
    assert order.delivery_latest == datetime(2024, 3, 9, 7, 59, 59, tzinfo=UTC)  # LatestDeliveryDate


@respx.mock
def test_fetch_order_without_restricted_buyer_info() -> None:
    mock_token()
    body = sample("get_order.json")
    del body["payload"]["BuyerInfo"]
    body["payload"]["OrderStatus"] = "Pending"
    del body["payload"]["OrderTotal"]
    respx.get(ORDER_URL).mock(return_value=httpx.Response(200, json=body))
    respx.get(ITEMS_URL).mock(
        return_value=httpx.Response(200, json={"payload": {"AmazonOrderId": ORDER_ID, "OrderItems": []}})
    )
    with http_client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert order is not None and order.buyer_email is None and order.total is None
    assert order.status == OrderStatus.PENDING and order.items == []


@respx.mock
def test_fetch_order_of_an_fba_order_has_no_delivery_window() -> None:
    mock_token()
    body = sample("get_order.json")
    body["payload"]["FulfillmentChannel"] = "AFN"  # "only returned for seller-fulfilled orders"
    for key in ("EarliestShipDate", "LatestShipDate", "EarliestDeliveryDate", "LatestDeliveryDate"):
        del body["payload"][key]
    respx.get(ORDER_URL).mock(return_value=httpx.Response(200, json=body))
    respx.get(ITEMS_URL).mock(return_value=httpx.Response(200, content=raw("get_order_items_page2.json")))
    with http_client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert order is not None and (order.delivery_earliest, order.delivery_latest) == (None, None)


@respx.mock
def test_fetch_order_with_a_bad_delivery_date_is_malformed() -> None:
    mock_token()
    body = sample("get_order.json")
    body["payload"]["EarliestDeliveryDate"] = 1709712000
    respx.get(ORDER_URL).mock(return_value=httpx.Response(200, json=body))
    respx.get(ITEMS_URL).mock(return_value=httpx.Response(200, content=raw("get_order_items_page2.json")))
    with http_client() as http, pytest.raises(MalformedPayload, match="getOrder 114-3941689-8772232 could not be read"):
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)


@respx.mock
def test_fetch_order_404_is_none() -> None:
    mock_token()
    respx.get(ORDER_URL).mock(
        return_value=httpx.Response(404, json={"errors": [{"code": "NotFound", "message": "Order not found"}]})
    )
    with http_client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ORDER_ID) is None


@pytest.mark.parametrize("ref", ["1001", "#1001", "Order_00010-A", "", "114-3941689-87722321"])
@respx.mock
def test_fetch_order_for_a_non_amazon_reference_makes_no_call(ref: str) -> None:
    route = respx.get(url__regex=r".*").mock(return_value=httpx.Response(500))
    with http_client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ref) is None
    assert route.call_count == 0


@respx.mock
def test_fetch_order_5xx_is_a_channel_error_after_retries() -> None:
    mock_token()
    route = respx.get(ORDER_URL).mock(
        return_value=httpx.Response(
            503, json={"errors": [{"code": "ServiceUnavailable", "message": "Service temporarily unavailable"}]}
        )
    )
    sleeps = Sleeps()
    with http_client(sleeps) as http, pytest.raises(ChannelError) as error:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert error.value.details["status"] == 503
    assert route.call_count == 5 and len(sleeps) == 4  # GET is idempotent: retried with backoff


@respx.mock
def test_fetch_order_401_is_a_channel_error() -> None:
    mock_token("Atza|1", "Atza|2")
    respx.get(ORDER_URL).mock(
        return_value=httpx.Response(
            401, json={"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}
        )
    )
    with http_client() as http, pytest.raises(ChannelError, match="HTTP 401") as error:
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert error.value.details["status"] == 401


@respx.mock
def test_fetch_order_retries_a_429_honouring_retry_after() -> None:
    mock_token()
    respx.get(ORDER_URL).mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "2", "x-amzn-RateLimit-Limit": "0.5"},
                json={"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]},
            ),
            httpx.Response(200, content=raw("get_order.json")),
        ]
    )
    respx.get(ITEMS_URL).mock(return_value=httpx.Response(200, content=raw("get_order_items_page2.json")))
    sleeps = Sleeps()
    with http_client(sleeps) as http:
        order = CONNECTOR.fetch_order(STORE, http, ORDER_ID)
    assert order is not None and sleeps == [2.0]


@respx.mock
def test_malformed_order_answer() -> None:
    mock_token()
    respx.get(ORDER_URL).mock(return_value=httpx.Response(200, json={"errors": []}))
    with http_client() as http, pytest.raises(MalformedPayload, match="no 'payload'"):
        CONNECTOR.fetch_order(STORE, http, ORDER_ID)


# --- module ---------------------------------------------------------------------------------------


def test_connector_shape() -> None:
    assert isinstance(CONNECTOR, AmazonConnector) and CONNECTOR.channel == "amazon"
    assert api_connector("amazon") is CONNECTOR
    assert not hasattr(CONNECTOR, "send_reply")  # replies are e-mails to the relay alias
    assert amazon.LwaAuth is lwa_auth_class()
