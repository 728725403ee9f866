"""Thin order webhooks on moto: BigCommerce's documented callbacks carry an order id (and at most a
status), never the order. The ingest consumer completes them from BigCommerce's order API (mocked at
the httpx transport with the documented ``GET /v2/orders/{id}`` answers) before storing the order, so
the open ticket on that order shows its items, totals and tracking; when BigCommerce fails, what the
callback carried is stored all the same and the failure is logged."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.channels.bigcommerce import WEBHOOK_TOKEN_HEADER
from helpdesk.core.ids import new_id
from helpdesk.core.models import Channel, Message, MessageDirection, OrderStatus, Store, Ticket
from infrastructure.local.http import build_event
from infrastructure.local.stack import LocalStack
from tests.conftest import ROOT
from tests.integration.conftest import drain_ingest_queue

SAMPLES = ROOT / "infrastructure/local/samples/bigcommerce"
API = "https://api.bigcommerce.com/stores/abc123"
TOKEN = "bc-access-token-0123456789"


class BigCommerceStore:
    def __init__(self, stack: LocalStack, repo: DynamoRepository) -> None:
        self.stack = stack
        self.tenant_id = f"t-{uuid.uuid4().hex[:10]}"
        self.store_id = "bc-main"
        self.secret = uuid.uuid4().hex
        secret_name = f"helpdesk/{self.tenant_id}/{self.store_id}"
        stack.client("secretsmanager").create_secret(
            Name=secret_name,
            SecretString=json.dumps({"webhook_secret": self.secret, "store_hash": "abc123", "access_token": TOKEN}),
        )
        repo.put_store(
            Store(
                tenant_id=self.tenant_id,
                store_id=self.store_id,
                channel=Channel.BIGCOMMERCE,
                display_name="BigCommerce shop",
                base_url=API,
                secret_name=secret_name,
                created_at=datetime.now(UTC),
            )
        )

    def deliver(self, sample: str, order_id: int, **data: Any) -> dict[str, Any]:
        """One of BigCommerce's documented callbacks, about ``order_id``, through the webhook function."""
        callback = json.loads((SAMPLES / sample).read_text())
        callback["data"].update(id=order_id, **data)
        body = json.dumps(callback).encode()
        headers = {"content-type": "application/json", WEBHOOK_TOKEN_HEADER.lower(): self.secret}
        path = f"/webhooks/{self.tenant_id}/bigcommerce/{self.store_id}"
        event = build_event(
            "POST",
            path,
            "",
            headers,
            body,
            "/webhooks/{tenant_id}/{channel}/{store_id}",
            {"tenant_id": self.tenant_id, "channel": "bigcommerce", "store_id": self.store_id},
            None,
        )
        response = self.stack.functions["WebhookFunction"].invoke(event)
        assert response["statusCode"] == 202, response
        return json.loads(response["body"])


@pytest.fixture
def shop(stack: LocalStack, repo: DynamoRepository) -> BigCommerceStore:
    drain_ingest_queue(stack)  # nothing of other tests' left on the queue
    return BigCommerceStore(stack, repo)


def _open_ticket_on(repo: DynamoRepository, shop: BigCommerceStore, order_ref: str) -> Ticket:
    """A buyer's open ticket about the order (written as the ticket service stores one)."""
    now = datetime.now(UTC)
    ticket = Ticket(
        tenant_id=shop.tenant_id,
        ticket_id=new_id(now),
        store_id=shop.store_id,
        channel=Channel.BIGCOMMERCE,
        subject="Has my order shipped?",
        order_refs=[order_ref],
        first_response_due_at=now,
        message_count=1,
        created_at=now,
        updated_at=now,
        last_message_at=now,
    )
    repo.create_ticket(
        ticket,
        Message(
            tenant_id=shop.tenant_id,
            ticket_id=ticket.ticket_id,
            message_id=new_id(now),
            direction=MessageDirection.INBOUND,
            channel=Channel.BIGCOMMERCE,
            store_id=shop.store_id,
            channel_message_id=f"m-{ticket.ticket_id}",
            author="Jane",
            body="Has it shipped?",
            created_at=now,
        ),
    )
    return ticket


def _documented_order_247(api: respx.MockRouter) -> dict[str, respx.Route]:
    return {
        name: api.get(f"{API}{path}").mock(return_value=httpx.Response(200, content=(SAMPLES / sample).read_bytes()))
        for name, path, sample in (
            ("order", "/v2/orders/247", "order_247.json"),
            ("products", "/v2/orders/247/products", "order_247_products.json"),
            ("shipments", "/v2/orders/247/shipments", "order_247_shipments.json"),
        )
    }


def _logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == message]


def test_a_thin_order_callback_stores_the_full_order_the_open_ticket_shows(
    stack: LocalStack, repo: DynamoRepository, shop: BigCommerceStore
) -> None:
    ticket = _open_ticket_on(repo, shop, "247")
    assert repo.get_order(shop.tenant_id, ticket.store_id, "247") is None

    receipt = shop.deliver("webhook_order_updated.json", 247)  # {"scope": "store/order/updated", "data": {id}}
    assert (receipt["messages"], receipt["order_events"]) == (0, 1)
    with respx.mock(assert_all_called=True) as bigcommerce:
        routes = _documented_order_247(bigcommerce)
        assert drain_ingest_queue(stack) == 1
    assert routes["order"].calls.last.request.headers["X-Auth-Token"] == TOKEN

    # What the ticket on that order now shows: the order as BigCommerce answered it.
    order = repo.get_order(shop.tenant_id, ticket.store_id, ticket.order_refs[-1])
    assert order is not None
    assert (order.status, order.channel_status) == (OrderStatus.PROCESSING, "Awaiting Fulfillment")
    assert (order.currency, order.total) == ("USD", Decimal("1008.74"))
    assert [(i.sku, i.quantity) for i in order.items] == [("S-ORAN", 1), ("OTL", 2)]
    assert (order.buyer_email, order.buyer_name) == ("janedoe@email.com", "Jane Doe")
    assert (order.carrier, order.tracking_number) == ("USPS", "EJ958083578UK")
    assert order.updated_at == datetime(2019, 6, 20, 16, 7, 8, tzinfo=UTC)  # BigCommerce's date_modified
    # ... found by the buyer's e-mail too (the index a later e-mail from her is threaded with).
    assert [o.order_ref for o in repo.find_orders_by_email(shop.tenant_id, "janedoe@email.com")] == ["247"]
    assert repo.get_ticket(shop.tenant_id, ticket.ticket_id) == ticket  # the ticket itself is untouched


def test_when_bigcommerce_fails_the_callback_is_stored_as_it_came_and_the_failure_logged(
    stack: LocalStack, repo: DynamoRepository, shop: BigCommerceStore, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = _open_ticket_on(repo, shop, "247")
    shop.deliver("webhook_order_updated.json", 247)
    with respx.mock(assert_all_called=True) as bigcommerce:
        _documented_order_247(bigcommerce)
        drain_ingest_queue(stack)
    caplog.clear()

    # The order ships; BigCommerce's statusUpdated callback arrives while the API refuses the token.
    shop.deliver("webhook_order_status_updated.json", 247, status={"previous_status_id": 11, "new_status_id": 2})
    refused = [{"status": 401, "message": "You are not authorised to access this resource."}]
    with respx.mock(assert_all_called=True) as bigcommerce:
        route = bigcommerce.get(f"{API}/v2/orders/247").mock(return_value=httpx.Response(401, json=refused))
        assert drain_ingest_queue(stack) == 1
    assert route.call_count == 1  # a 401 is not retried

    order = repo.get_order(shop.tenant_id, ticket.store_id, "247")
    assert order is not None
    assert (order.status, order.channel_status) == (OrderStatus.SHIPPED, "Shipped")  # what the callback said
    assert [(i.sku, i.quantity) for i in order.items] == [("S-ORAN", 1), ("OTL", 2)]  # kept from before
    assert order.tracking_number == "EJ958083578UK"
    (warning,) = _logged(caplog, "order refresh failed; stored what the event carried")
    assert warning.levelno == logging.WARNING
    fields = {name: getattr(warning, name) for name in ("tenant_id", "store_id", "order_ref", "error")}
    assert fields == {
        "tenant_id": shop.tenant_id,
        "store_id": "bc-main",
        "order_ref": "247",
        "error": "BigCommerce get order 247 failed: HTTP 401: You are not authorised to access this resource.",
    }


def test_an_order_bigcommerce_does_not_know_keeps_what_the_callback_said(
    stack: LocalStack, repo: DynamoRepository, shop: BigCommerceStore, caplog: pytest.LogCaptureFixture
) -> None:
    shop.deliver("webhook_order_status_updated.json", 999)
    caplog.clear()
    with respx.mock(assert_all_called=True) as bigcommerce:
        bigcommerce.get(f"{API}/v2/orders/999").mock(
            return_value=httpx.Response(404, content=(SAMPLES / "error_v2_not_found.json").read_bytes())
        )
        drain_ingest_queue(stack)
    order = repo.get_order(shop.tenant_id, shop.store_id, "999")
    assert order is not None and (order.status, order.channel_status, order.items) == (
        OrderStatus.PROCESSING,
        "Awaiting Fulfillment",
        [],
    )
    assert _logged(caplog, "order refresh failed; stored what the event carried") == []
