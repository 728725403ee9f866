"""Access patterns of docs/data-model.md not covered by the handler tests, on moto."""

from __future__ import annotations

from datetime import UTC, datetime

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Channel, InboundMessage, Tenant
from helpdesk.tickets.threads import TicketService
from tests.integration.conftest import Seller


class _NoTimers:
    def start(self, request: object) -> None:
        pass


def test_tickets_by_buyer_email_across_orders(repo: DynamoRepository, seller: Seller) -> None:
    service = TicketService(repo, _NoTimers())
    ids = {
        service.receive(
            InboundMessage(
                tenant_id=seller.tenant_id,
                store_id=seller.store_id,
                channel=Channel.WOOCOMMERCE,
                channel_message_id=f"e-{n}",
                channel_thread_id=f"order-{n}",
                order_ref=str(n),
                buyer_email="Anna.Rossi@Example.IT",
                body=f"about order {n}",
                received_at=datetime.now(UTC),
            )
        ).ticket_id
        for n in (1, 2)
    }
    found = repo.find_tickets_by_email(seller.tenant_id, "anna.rossi@example.it")
    assert {t.ticket_id for t in found} == ids and len(ids) == 2
    assert repo.find_tickets_by_email("another-tenant", "anna.rossi@example.it") == []


def test_tenant_profile_and_store_listing(repo: DynamoRepository, seller: Seller) -> None:
    repo.put_tenant(Tenant(tenant_id=seller.tenant_id, name="Shop", created_at=datetime.now(UTC)))
    tenant = repo.get_tenant(seller.tenant_id)
    assert tenant is not None and tenant.name == "Shop"
    assert [s.store_id for s in repo.list_stores(seller.tenant_id)] == [seller.store_id]
    assert repo.list_stores("another-tenant") == []


def test_a_partial_order_event_merges_into_the_stored_order(repo: DynamoRepository, seller: Seller) -> None:
    from decimal import Decimal

    from helpdesk.core.models import Order, OrderItem, OrderStatus

    now = datetime.now(UTC)
    full = Order(
        tenant_id=seller.tenant_id,
        store_id=seller.store_id,
        channel=Channel.SHOPIFY,
        order_ref="1001",
        status=OrderStatus.PROCESSING,
        currency="EUR",
        total=Decimal("89.99"),
        buyer_name="Jon Snow",
        items=[OrderItem(sku="A", name="Boots", quantity=1)],
        updated_at=now,
    )
    assert repo.upsert_order(full)
    from datetime import timedelta

    shipped = Order(
        tenant_id=seller.tenant_id,
        store_id=seller.store_id,
        channel=Channel.SHOPIFY,
        order_ref="1001",
        status=OrderStatus.SHIPPED,
        carrier="UPS",
        tracking_number="1Z999",
        updated_at=now + timedelta(minutes=5),
    )
    assert repo.upsert_order(shipped)
    stored = repo.get_order(seller.tenant_id, seller.store_id, "1001")
    assert stored is not None
    assert (stored.status, stored.carrier, stored.tracking_number) == (OrderStatus.SHIPPED, "UPS", "1Z999")
    assert (stored.total, stored.buyer_name, [i.sku for i in stored.items]) == (Decimal("89.99"), "Jon Snow", ["A"])
    stale = full.model_copy(update={"status": OrderStatus.CANCELLED, "updated_at": now - timedelta(hours=1)})
    assert not repo.upsert_order(stale)
    after = repo.get_order(seller.tenant_id, seller.store_id, "1001")
    assert after is not None and after.status == OrderStatus.SHIPPED


def test_orders_by_buyer_email_newest_first_and_apart_from_tickets(repo: DynamoRepository, seller: Seller) -> None:
    from helpdesk.core.models import Order

    for ref, day in (("100", 1), ("#1001", 20), ("101", 5)):
        repo.upsert_order(
            Order(
                tenant_id=seller.tenant_id,
                store_id=seller.store_id,
                channel=Channel.WOOCOMMERCE,
                order_ref=ref,
                buyer_email="Anna.Rossi@Example.IT",
                ordered_at=datetime(2026, 11, day, tzinfo=UTC),
            )
        )
    TicketService(repo, _NoTimers()).receive(
        InboundMessage(
            tenant_id=seller.tenant_id,
            store_id=seller.store_id,
            channel=Channel.WOOCOMMERCE,
            channel_message_id="o-1",
            channel_thread_id="order-100",
            order_ref="100",
            buyer_email="anna.rossi@example.it",
            body="where is it?",
            received_at=datetime.now(UTC),
        )
    )
    orders = repo.find_orders_by_email(seller.tenant_id, "anna.rossi@example.it")
    assert [o.order_ref for o in orders] == ["#1001", "101", "100"]
    assert len(repo.find_tickets_by_email(seller.tenant_id, "anna.rossi@example.it")) == 1
    assert repo.find_orders_by_email("another-tenant", "anna.rossi@example.it") == []
