"""Etsy connector: OAuth refresh and x-api-key, receipts polling (buyer notes, order events, offset
paging with overlap, cursor), receipt lookup, credential check and the refused reply, on
respx-mocked HTTP with the documented payloads under infrastructure/local/samples/etsy."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from helpdesk.channels.etsy import (
    API_BASE,
    CONNECTOR,
    MAX_PAGES,
    OAUTH_ENDPOINT,
    REPLY_UNSUPPORTED,
    EtsyConnector,
    EtsyHttpClient,
    clear_rotated_tokens,
)
from helpdesk.channels.http import ChannelHttpClient, TokenBucket
from helpdesk.channels.oauth import clear_token_cache
from helpdesk.core.errors import ChannelError, InvalidCursor, MalformedPayload
from helpdesk.core.models import Channel, OrderEventType, OrderStatus, Store

SAMPLES = Path(__file__).resolve().parents[2] / "infrastructure/local/samples/etsy"
SHOP_ID = "23574688"
SHOP = f"{API_BASE}/v3/application/shops/{SHOP_ID}"
RECEIPTS = f"{SHOP}/receipts"
KEYSTRING, SHARED_SECRET = "1aa2bb33c44d55eeeeee6fff", "s3cr3tsh4r3d"
REFRESH = "12345678.stored-refresh-token"
CREDENTIALS = {"keystring": KEYSTRING, "shared_secret": SHARED_SECRET, "refresh_token": REFRESH, "shop_id": SHOP_ID}
NOW = datetime(2026, 7, 16, 12, 0, tzinfo=UTC)
STORE = Store(
    tenant_id="t1",
    store_id="etsy-1",
    channel=Channel.ETSY,
    display_name="IronworksModels on Etsy",
    secret_name="helpdesk/t1/etsy-1",
    created_at=NOW,
)
TOKEN = json.loads((SAMPLES / "oauth_token_refreshed.json").read_text())


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> Any:
    return copy.deepcopy(json.loads(raw(name)))


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    clear_token_cache()
    clear_rotated_tokens()


@pytest.fixture
def token_route() -> respx.Route:
    return respx.post(OAUTH_ENDPOINT).mock(return_value=httpx.Response(200, json=TOKEN))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(sleeps: Sleeps | None = None, **kwargs: Any) -> ChannelHttpClient:
    """CONNECTOR.client() with retry and rate-limit waits recorded instead of slept."""
    http = CONNECTOR.client(STORE, CREDENTIALS, **kwargs)
    http._sleep = sleeps if sleeps is not None else Sleeps()
    http._bucket._sleep = Sleeps()
    return http


BASE_RECEIPT = sample("receipts_page.json")["results"][0]


def receipt(receipt_id: int, updated: int, *, note: str | None = None, **changes: Any) -> dict[str, Any]:
    r = copy.deepcopy(BASE_RECEIPT)
    r.update(
        receipt_id=receipt_id, updated_timestamp=updated, update_timestamp=updated, message_from_buyer=note, **changes
    )
    return r


def page(receipts: list[dict[str, Any]], count: int | None = None) -> httpx.Response:
    return httpx.Response(200, json={"count": len(receipts) if count is None else count, "results": receipts})


def poll(cursor: str | None = None, http: ChannelHttpClient | None = None):
    with http or client() as h:
        return CONNECTOR.poll(STORE, h, cursor, NOW)


# --- client and auth ----------------------------------------------------------------------------


def test_the_module_exposes_an_etsy_connector() -> None:
    assert isinstance(CONNECTOR, EtsyConnector) and CONNECTOR.channel == Channel.ETSY.value == "etsy"


@pytest.mark.parametrize("missing", ["keystring", "shared_secret", "refresh_token", "shop_id"])
def test_client_names_the_missing_credential(missing: str) -> None:
    credentials = {k: v for k, v in CREDENTIALS.items() if k != missing}
    with pytest.raises(ChannelError, match=rf"credentials\['{missing}'\]") as caught:
        CONNECTOR.client(STORE, credentials)
    assert SHARED_SECRET not in caught.value.message and REFRESH not in caught.value.message


def test_the_shop_id_must_be_numeric() -> None:
    with pytest.raises(ChannelError, match="numeric shop id"):
        CONNECTOR.client(STORE, {**CREDENTIALS, "shop_id": "IronworksModels"})


@respx.mock
def test_requests_carry_keystring_and_shared_secret_and_a_refreshed_bearer_token(token_route: respx.Route) -> None:
    shop = respx.get(SHOP).mock(return_value=httpx.Response(200, content=raw("shop.json")))
    with client() as http:
        assert isinstance(http, EtsyHttpClient) and http.shop_id == SHOP_ID
        assert isinstance(http._bucket, TokenBucket) and (http._bucket.rate, http._bucket.burst) == (4.0, 4)
        CONNECTOR.check_credentials(STORE, http)
        CONNECTOR.check_credentials(STORE, http)
    assert token_route.call_count == 1  # cached for the next request
    token_request = token_route.calls.last.request
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["refresh_token"],
        "client_id": [KEYSTRING],
        "refresh_token": [REFRESH],
    }
    assert token_request.headers["x-api-key"] == f"{KEYSTRING}:{SHARED_SECRET}"
    api_request = shop.calls.last.request
    assert api_request.headers["x-api-key"] == f"{KEYSTRING}:{SHARED_SECRET}"
    assert api_request.headers["Authorization"] == f"Bearer {TOKEN['access_token']}"


@respx.mock
def test_a_rotated_refresh_token_is_handed_over_and_used_next_time(token_route: respx.Route) -> None:
    respx.get(SHOP).mock(return_value=httpx.Response(200, content=raw("shop.json")))
    rotated: list[str] = []
    with client(on_refresh_token=rotated.append) as http:
        CONNECTOR.check_credentials(STORE, http)
    assert rotated == [TOKEN["refresh_token"]]
    clear_token_cache()  # the access token expired: the next client must refresh again
    with client(on_refresh_token=rotated.append) as http:
        CONNECTOR.check_credentials(STORE, http)
    second = parse_qs(token_route.calls.last.request.content.decode())
    assert second["refresh_token"] == [TOKEN["refresh_token"]]  # the rotated one, not the stored one
    assert rotated == [TOKEN["refresh_token"]]  # unchanged token: not reported twice


@respx.mock
def test_a_refused_refresh_token_is_a_401_with_etsys_reason() -> None:
    respx.post(OAUTH_ENDPOINT).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "refresh_token is invalid"}
        )
    )
    respx.get(SHOP).mock(return_value=httpx.Response(200, content=raw("shop.json")))
    with client() as http, pytest.raises(ChannelError, match="refresh_token is invalid") as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 401
    assert REFRESH not in caught.value.message


# --- check_credentials --------------------------------------------------------------------------


@respx.mock
def test_check_credentials_returns_the_shop_name(token_route: respx.Route) -> None:
    respx.get(SHOP).mock(return_value=httpx.Response(200, content=raw("shop.json")))
    with client() as http:
        assert CONNECTOR.check_credentials(STORE, http) == "IronworksModels"


@respx.mock
def test_a_token_etsy_refuses_is_refreshed_once_then_a_channel_error(token_route: respx.Route) -> None:
    shop = respx.get(SHOP).mock(return_value=httpx.Response(401, json={"error": "invalid_token"}))
    with client() as http, pytest.raises(ChannelError, match="invalid_token") as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 401
    assert token_route.call_count == 2 and shop.call_count == 2


@respx.mock
def test_a_bare_keystring_refusal_is_quoted(token_route: respx.Route) -> None:
    respx.get(SHOP).mock(
        return_value=httpx.Response(403, json={"error": "Shared secret is required in x-api-key header"})
    )
    with client() as http, pytest.raises(ChannelError, match="Shared secret is required") as caught:
        CONNECTOR.check_credentials(STORE, http)
    assert caught.value.details["status"] == 403


def test_calls_need_the_etsy_client_that_knows_the_shop() -> None:
    with ChannelHttpClient(API_BASE, channel="etsy") as http, pytest.raises(ChannelError, match="shop id"):
        CONNECTOR.check_credentials(STORE, http)


# --- fetch_order --------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["4117291123", "#4117291123"])
@respx.mock
def test_fetch_order_gets_the_receipt_and_maps_it(token_route: respx.Route, ref: str) -> None:
    route = respx.get(f"{RECEIPTS}/4117291123").mock(
        return_value=httpx.Response(200, content=raw("receipt_4117291123.json"))
    )
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, ref)
    assert route.call_count == 1
    assert order is not None
    assert (order.channel, order.order_ref, order.store_id) == (Channel.ETSY, "4117291123", "etsy-1")
    assert order.status == OrderStatus.SHIPPED and order.channel_status == "Completed"
    assert (order.currency, order.total) == ("EUR", Decimal("18.67"))
    assert [(i.sku, i.name, i.quantity, i.unit_price, i.total) for i in order.items] == [
        ("M18", "Motorbike with sidecar M18", 1, Decimal("20.75"), Decimal("20.75"))
    ]
    assert order.buyer_email is None and order.buyer_name == "Lena Schmidt"
    assert (order.carrier, order.tracking_number, order.tracking_url) == ("DHL Germany", "00340434626839404910", None)
    assert order.shipped_at == datetime(2026, 7, 15, 11, 12, 45, tzinfo=UTC)
    assert order.ordered_at == datetime.fromtimestamp(1784082920, UTC)
    assert order.updated_at == datetime.fromtimestamp(1784113965, UTC)


@respx.mock
def test_an_unknown_receipt_is_none(token_route: respx.Route) -> None:
    respx.get(f"{RECEIPTS}/999").mock(return_value=httpx.Response(404, json={"error": "Receipt not found"}))
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, "#999") is None


@pytest.mark.parametrize("ref", ["", "#", "R-123", "12 34"])
def test_a_reference_that_is_not_a_receipt_id_is_none_without_a_call(ref: str) -> None:
    with client() as http:
        assert CONNECTOR.fetch_order(STORE, http, ref) is None
        assert http.attempts == 0


@respx.mock
def test_a_refused_lookup_raises_with_the_reason(token_route: respx.Route) -> None:
    respx.get(f"{RECEIPTS}/4117291123").mock(
        return_value=httpx.Response(403, json={"error": "The application does not have the transactions_r scope"})
    )
    with client() as http, pytest.raises(ChannelError, match="transactions_r") as caught:
        CONNECTOR.fetch_order(STORE, http, "4117291123")
    assert caught.value.details["status"] == 403


@respx.mock
def test_a_5xx_on_lookup_is_retried_then_raised(token_route: respx.Route) -> None:
    route = respx.get(f"{RECEIPTS}/4117291123").mock(return_value=httpx.Response(500, json={"error": "oops"}))
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.fetch_order(STORE, http, "4117291123")
    assert route.call_count == 5 and caught.value.details["status"] == 500


@pytest.mark.parametrize(
    ("status", "is_shipped", "shipments", "expected"),
    [
        ("open", False, [], OrderStatus.PENDING),
        ("payment processing", False, [], OrderStatus.PENDING),
        ("paid", False, [], OrderStatus.PROCESSING),
        ("Paid", True, [], OrderStatus.SHIPPED),
        (
            "paid",
            False,
            [{"carrier_name": "USPS", "tracking_code": "9400", "shipment_notification_timestamp": 1}],
            OrderStatus.SHIPPED,
        ),
        ("partially refunded", False, [], OrderStatus.PROCESSING),
        ("completed", True, [], OrderStatus.SHIPPED),
        ("Completed", False, [], OrderStatus.COMPLETED),
        ("canceled", False, [], OrderStatus.CANCELLED),
        ("fully refunded", True, [], OrderStatus.REFUNDED),
        ("something new", False, [], OrderStatus.UNKNOWN),
    ],
)
@respx.mock
def test_status_is_mapped_from_status_and_shipping(
    token_route: respx.Route, status: str, is_shipped: bool, shipments: list[dict[str, Any]], expected: OrderStatus
) -> None:
    body = receipt(3012345678, 1784000500, status=status, is_shipped=is_shipped, shipments=shipments)
    respx.get(f"{RECEIPTS}/3012345678").mock(return_value=httpx.Response(200, json=body))
    with client() as http:
        order = CONNECTOR.fetch_order(STORE, http, "3012345678")
    assert order is not None and order.status == expected and order.channel_status == status


# --- replies ------------------------------------------------------------------------------------


def test_replies_are_refused_without_calling_etsy() -> None:
    with client() as http, pytest.raises(ChannelError) as caught:
        CONNECTOR.send_reply(STORE, http, "etsy-receipt:3012345678", "Happy to gift-wrap it!")
    assert caught.value.message == REPLY_UNSUPPORTED == "Etsy has no API to answer buyers; reply from the e-mail thread"
    assert http.attempts == 0


# --- polling ------------------------------------------------------------------------------------


@respx.mock
def test_first_poll_reads_a_week_of_receipts_oldest_first(token_route: respx.Route) -> None:
    route = respx.get(RECEIPTS).mock(return_value=httpx.Response(200, content=raw("receipts_page.json")))
    result = poll()
    params = route.calls.last.request.url.params
    assert params["min_last_modified"] == str(int((NOW - timedelta(days=7)).timestamp()))
    assert (params["sort_on"], params["sort_order"]) == ("updated", "asc")
    assert (params["limit"], params["offset"]) == ("100", "0")
    assert result.raw_pages == [raw("receipts_page.json")]
    assert result.next_cursor == "1784113965"


@respx.mock
def test_a_buyer_note_becomes_an_inbound_message_threaded_on_the_receipt(token_route: respx.Route) -> None:
    respx.get(RECEIPTS).mock(return_value=httpx.Response(200, content=raw("receipts_page.json")))
    [message] = poll().messages
    assert (message.channel, message.tenant_id, message.store_id) == (Channel.ETSY, "t1", "etsy-1")
    assert message.channel_message_id == "receipt-3012345678-note"
    assert message.channel_thread_id == "etsy-receipt:3012345678"
    assert message.order_ref == "3012345678"
    assert message.body == "Could you gift-wrap it? It's for my father's birthday on the 20th."
    assert message.buyer_name == "Marie Dupont" and message.buyer_email == "marie.dupont@example.com"
    assert message.subject == "Etsy order 3012345678: note from the buyer"
    assert message.received_at == datetime.fromtimestamp(1784000000, UTC)


@respx.mock
def test_every_receipt_becomes_an_updated_order_event(token_route: respx.Route) -> None:
    respx.get(RECEIPTS).mock(return_value=httpx.Response(200, content=raw("receipts_page.json")))
    events = poll().order_events
    assert [(e.event_type, e.event_id) for e in events] == [
        (OrderEventType.UPDATED, "receipt:3012345678:1784000500"),
        (OrderEventType.UPDATED, "receipt:4117291123:1784113965"),
    ]
    first = events[0].order
    assert first.status == OrderStatus.PROCESSING and (first.currency, first.total) == ("EUR", Decimal("42.40"))
    assert [(i.sku, i.quantity, i.unit_price, i.total) for i in first.items] == [
        ("T22", 2, Decimal("15"), Decimal("30")),
        (None, 1, Decimal("7.5"), Decimal("7.5")),
    ]
    assert events[0].occurred_at == datetime.fromtimestamp(1784000500, UTC)
    assert events[1].order.tracking_number == "00340434626839404910"


@respx.mock
def test_later_polls_start_a_minute_before_the_cursor_and_advance_it(token_route: respx.Route) -> None:
    route = respx.get(RECEIPTS).mock(return_value=page([receipt(1, 1784200000), receipt(2, 1784200100)]))
    result = poll(cursor="1784199990")
    assert route.calls.last.request.url.params["min_last_modified"] == "1784199930"
    assert result.next_cursor == "1784200100"


@respx.mock
def test_the_cursor_never_moves_backwards_and_stays_when_nothing_is_new(token_route: respx.Route) -> None:
    respx.get(RECEIPTS).mock(side_effect=[page([receipt(1, 1784199950)]), page([])])
    assert poll(cursor="1784199990").next_cursor == "1784199990"  # the overlap re-read an older receipt
    assert poll(cursor="1784199990").next_cursor == "1784199990"
    respx.get(RECEIPTS).mock(return_value=page([]))
    assert poll(cursor=None).next_cursor is None


@respx.mock
def test_pages_overlap_and_the_overlap_is_not_emitted_twice(token_route: respx.Route) -> None:
    receipts = [receipt(1000 + n, 1784200000 + n) for n in range(230)]

    def listing(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return page(receipts[offset : offset + limit], count=len(receipts))

    route = respx.get(RECEIPTS).mock(side_effect=listing)
    result = poll(cursor="1784199990")
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "90", "180"]
    assert len(result.order_events) == 230 and len({e.event_id for e in result.order_events}) == 230
    assert result.next_cursor == "1784200229" and len(result.raw_pages) == 3


@respx.mock
def test_a_listing_that_shifted_between_pages_stops_at_the_last_complete_page(token_route: respx.Route) -> None:
    first = [receipt(1000 + n, 1784200000 + n) for n in range(100)]
    # Between the two requests eleven receipts already paged over were modified: everything moved
    # eleven places to the left, so the page no longer starts with the previous page's last ten.
    shifted = [receipt(1000 + n, 1784200000 + n) for n in range(101, 201)]
    respx.get(RECEIPTS).mock(side_effect=[page(first, count=300), page(shifted, count=300)])
    result = poll(cursor="1784199990")
    assert result.next_cursor == "1784200099"  # the last receipt of the page known to be complete
    assert len(result.order_events) == 200  # what was read is still delivered


@respx.mock
def test_paging_stops_after_the_page_bound_with_the_cursor_at_the_newest_receipt(token_route: respx.Route) -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return page([receipt(1000 + n, 1784200000 + n) for n in range(offset, offset + 100)], count=100_000)

    route = respx.get(RECEIPTS).mock(side_effect=endless)
    result = poll(cursor="1784199990")
    assert route.call_count == MAX_PAGES == 20
    assert result.next_cursor == str(1784200000 + 19 * 90 + 99)


@respx.mock
def test_a_cut_short_listing_that_is_not_oldest_first_keeps_the_cursor(token_route: respx.Route) -> None:
    def newest_first(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        return page([receipt(9000 - n, 1784300000 - n) for n in range(offset, offset + 100)], count=100_000)

    respx.get(RECEIPTS).mock(side_effect=newest_first)
    assert poll(cursor="1784199990").next_cursor == "1784199990"


@respx.mock
def test_an_empty_or_blank_note_is_not_a_message(token_route: respx.Route) -> None:
    respx.get(RECEIPTS).mock(return_value=page([receipt(1, 1784200000, note=""), receipt(2, 1784200001, note="  ")]))
    result = poll(cursor="1784199990")
    assert result.messages == [] and len(result.order_events) == 2


@respx.mock
def test_a_buyer_email_that_is_not_an_address_is_dropped(token_route: respx.Route) -> None:
    respx.get(RECEIPTS).mock(return_value=page([receipt(1, 1784200000, note="Hi", buyer_email="n/a")]))
    result = poll(cursor="1784199990")
    assert result.messages[0].buyer_email is None and result.order_events[0].order.buyer_email is None


@respx.mock
def test_429_is_retried_after_the_retry_after_delay(token_route: respx.Route) -> None:
    route = respx.get(RECEIPTS).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "3", "x-remaining-this-second": "0"}), page([])]
    )
    sleeps = Sleeps()
    poll(cursor="1784199990", http=client(sleeps))
    assert route.call_count == 2 and sleeps == [3.0]


def test_a_cursor_that_is_not_a_timestamp_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        poll(cursor="2026-07-16T12:00:00Z")


@pytest.mark.parametrize(
    "body", [[], {"count": 1}, {"results": []}, {"count": "1", "results": []}, {"count": 1, "results": {}}]
)
@respx.mock
def test_a_page_of_the_wrong_shape_is_malformed(token_route: respx.Route, body: Any) -> None:
    respx.get(RECEIPTS).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload):
        poll()


def _no_id(r: dict[str, Any]) -> None:
    del r["receipt_id"]


def _bad_updated(r: dict[str, Any]) -> None:
    r["updated_timestamp"] = "yesterday"


def _note_not_text(r: dict[str, Any]) -> None:
    r["message_from_buyer"] = {"text": "hi"}


def _bad_money(r: dict[str, Any]) -> None:
    r["grandtotal"] = {"amount": "42.40", "divisor": 100, "currency_code": "EUR"}


def _zero_divisor(r: dict[str, Any]) -> None:
    r["grandtotal"]["divisor"] = 0


def _shipments_not_a_list(r: dict[str, Any]) -> None:
    r["shipments"] = "none"


@pytest.mark.parametrize(
    "damage", [_no_id, _bad_updated, _note_not_text, _bad_money, _zero_divisor, _shipments_not_a_list]
)
@respx.mock
def test_a_receipt_of_the_wrong_shape_is_malformed(token_route: respx.Route, damage: Any) -> None:
    bad = receipt(3012345678, 1784200000, note="Hi")
    damage(bad)
    respx.get(RECEIPTS).mock(return_value=page([bad]))
    with pytest.raises(MalformedPayload):
        poll(cursor="1784199990")


@respx.mock
def test_a_refused_listing_fails_the_poll(token_route: respx.Route) -> None:
    respx.get(RECEIPTS).mock(return_value=httpx.Response(403, json={"error": "Insufficient scope: transactions_r"}))
    with pytest.raises(ChannelError, match="transactions_r") as caught:
        poll()
    assert caught.value.details["status"] == 403
