"""One timeline per buyer problem: which ticket a new message joins (unit tier, in-memory repo)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk.core.models import Channel, Order, OrderStatus, TicketStatus
from helpdesk.tickets.threads import TicketService
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, TENANT, make_inbound, make_store

SHOP = "shopify-1"
INBOX = "mail-1"
MIRAKL = "mirakl-fr"


@pytest.fixture(autouse=True)
def stores(repo: InMemoryRepository) -> None:
    repo.put_store(make_store(store_id=SHOP, channel=Channel.SHOPIFY))
    repo.put_store(make_store(store_id=INBOX, channel=Channel.EMAIL, linked_store_ids=[SHOP]))
    repo.put_store(make_store(store_id=MIRAKL, channel=Channel.MIRAKL))


def shop_note(**overrides):
    fields = dict(
        store_id=SHOP,
        channel=Channel.SHOPIFY,
        channel_message_id="order-1001-note",
        channel_thread_id="order-1001",
        order_ref="1001",
        buyer_email="anna@example.com",
        body="Please cancel, I ordered twice",
    )
    return make_inbound(**{**fields, **overrides})


def email(**overrides):
    fields = dict(
        store_id=INBOX,
        channel=Channel.EMAIL,
        channel_message_id="<a1@mail.example>",
        channel_thread_id="<a1@mail.example>",
        buyer_email="anna@example.com",
        order_ref=None,
        body="Hello, any news?",
        received_at=NOW + timedelta(hours=1),
    )
    return make_inbound(**{**fields, **overrides})


def test_same_channel_thread_joins_the_same_ticket(service: TicketService, repo: InMemoryRepository) -> None:
    first = service.receive(email())
    second = service.receive(email(channel_message_id="<a2@mail.example>", body="Still waiting"))
    assert second.ticket_id == first.ticket_id and repo.ticket_count(TENANT) == 1


def test_an_email_answering_a_stored_message_joins_its_ticket(service: TicketService, repo: InMemoryRepository) -> None:
    first = service.receive(email())
    # The buyer's client started a new thread root but kept In-Reply-To / References.
    reply = email(
        channel_message_id="<a3@mail.example>",
        channel_thread_id="<other-root@mail.example>",
        references=["<unknown@mail.example>", "<a1@mail.example>"],
    )
    assert service.receive(reply).ticket_id == first.ticket_id


def test_email_about_an_order_of_a_linked_store_merges_into_that_orders_ticket(
    service: TicketService, repo: InMemoryRepository
) -> None:
    opened = service.receive(shop_note())
    merged = service.receive(email(order_ref="1001", body="About order #1001: did you cancel it?"))
    assert merged.ticket_id == opened.ticket_id and not merged.created_ticket
    view = service.ticket_view(TENANT, opened.ticket_id)
    assert [(m.channel, m.store_id) for m in view.messages] == [(Channel.SHOPIFY, SHOP), (Channel.EMAIL, INBOX)]
    # Later mails of that e-mail thread follow without naming the order again.
    follow_up = email(channel_message_id="<a4@mail.example>", body="Hello?")
    assert service.receive(follow_up).ticket_id == opened.ticket_id


def test_same_buyer_email_and_same_order_merges_across_unlinked_stores(
    service: TicketService, repo: InMemoryRepository
) -> None:
    opened = service.receive(
        make_inbound(
            store_id=MIRAKL,
            channel=Channel.MIRAKL,
            channel_thread_id="th-9",
            channel_message_id="mk-1",
            order_ref="Order_00010-A",
            buyer_email="bob@example.com",
        )
    )
    repo.put_store(make_store(store_id="mail-2", channel=Channel.EMAIL))  # not linked to the marketplace
    merged = service.receive(email(store_id="mail-2", buyer_email="bob@example.com", order_ref="Order_00010-A"))
    assert merged.ticket_id == opened.ticket_id


def test_an_order_ticket_already_resolved_is_not_reopened_by_a_new_problem(
    service: TicketService, repo: InMemoryRepository
) -> None:
    opened = service.receive(shop_note())
    repo.resolve(TENANT, opened.ticket_id)
    fresh = service.receive(email(order_ref="1001"))
    assert fresh.created_ticket and fresh.ticket_id != opened.ticket_id


def test_same_buyer_without_the_same_order_gets_its_own_ticket(
    service: TicketService, repo: InMemoryRepository
) -> None:
    service.receive(shop_note())
    other = service.receive(email(order_ref="2002", body="A question about order 2002"))
    assert other.created_ticket and repo.ticket_count(TENANT) == 2


def test_email_naming_no_order_is_about_the_buyers_only_recent_order(
    service: TicketService, repo: InMemoryRepository
) -> None:
    repo.upsert_order(
        Order(
            tenant_id=TENANT,
            store_id=SHOP,
            channel=Channel.SHOPIFY,
            order_ref="1001",
            status=OrderStatus.PROCESSING,
            buyer_email="anna@example.com",
            ordered_at=NOW - timedelta(days=3),
        )
    )
    opened = service.receive(shop_note())
    merged = service.receive(email())
    assert merged.ticket_id == opened.ticket_id
    assert repo.only_ticket(TENANT).order_refs == ["1001"]


def test_two_recent_orders_leave_the_email_unattached(service: TicketService, repo: InMemoryRepository) -> None:
    for ref, days in (("1001", 3), ("1002", 10)):
        repo.upsert_order(
            Order(
                tenant_id=TENANT,
                store_id=SHOP,
                channel=Channel.SHOPIFY,
                order_ref=ref,
                buyer_email="anna@example.com",
                ordered_at=NOW - timedelta(days=days),
            )
        )
    service.receive(shop_note())
    result = service.receive(email())
    assert result.created_ticket
    ticket = repo.tickets[(TENANT, result.ticket_id)]
    assert ticket.order_refs == [] and ticket.status == TicketStatus.NEW


def test_an_old_order_is_not_inferred(service: TicketService, repo: InMemoryRepository) -> None:
    repo.upsert_order(
        Order(
            tenant_id=TENANT,
            store_id=SHOP,
            channel=Channel.SHOPIFY,
            order_ref="900",
            buyer_email="anna@example.com",
            ordered_at=NOW - timedelta(days=200),
        )
    )
    result = service.receive(email())
    assert repo.tickets[(TENANT, result.ticket_id)].order_refs == []
