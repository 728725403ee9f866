"""Access patterns of docs/data-model.md not covered by the handler tests, on moto."""

from __future__ import annotations

from datetime import UTC, datetime

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.models import Channel, InboundMessage, Tenant
from helpdesk.ticketing import TicketService
from tests.integration.conftest import Seller


class _NoTimers:
    def start(self, request: object) -> None:
        pass


def test_tickets_by_buyer_email_across_orders(repo: DynamoRepository, seller: Seller) -> None:
    service = TicketService(repo, _NoTimers())
    ids = {
        service.receive(InboundMessage(
            tenant_id=seller.tenant_id, store_id=seller.store_id, channel=Channel.WOOCOMMERCE,
            channel_message_id=f"e-{n}", channel_thread_id=f"order-{n}", order_ref=str(n),
            buyer_email="Anna.Rossi@Example.IT", body=f"about order {n}", received_at=datetime.now(UTC),
        )).ticket_id
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
