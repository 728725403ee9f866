"""The in-memory repository honours the TicketRepository contract the service relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helpdesk.core.errors import Conflict, DuplicateMessage, InvalidCursor
from helpdesk.core.models import Channel, Message, MessageDirection, Order, TicketStatus
from helpdesk.tickets.ports import QueueScope, TicketRepository
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, STORE, TENANT, make_ticket


def message(ticket_id: str, channel_message_id: str, thread: str | None = "thread-1") -> Message:
    return Message(
        tenant_id=TENANT,
        ticket_id=ticket_id,
        message_id=f"msg-{channel_message_id}",
        direction=MessageDirection.INBOUND,
        channel=Channel.WOOCOMMERCE,
        store_id=STORE,
        channel_message_id=channel_message_id,
        channel_thread_id=thread,
        author="buyer",
        body="hi",
        created_at=NOW,
    )


@pytest.fixture
def stored() -> tuple[InMemoryRepository, str]:
    repo = InMemoryRepository()
    ticket = make_ticket(ticket_id="T1", channel_thread_id="thread-1", order_refs=["727"])
    repo.create_ticket(ticket, message("T1", "m-1"))
    return repo, "T1"


def test_the_fake_satisfies_the_protocol() -> None:
    repo: TicketRepository = InMemoryRepository()
    assert repo.get_store(TENANT, STORE) is None


def test_create_refuses_a_stored_channel_message(stored: tuple[InMemoryRepository, str]) -> None:
    repo, _ = stored
    with pytest.raises(DuplicateMessage):
        repo.create_ticket(make_ticket(ticket_id="T2", channel_thread_id="other"), message("T2", "m-1", "other"))
    assert repo.ticket_count(TENANT) == 1


def test_create_refuses_a_claimed_thread(stored: tuple[InMemoryRepository, str]) -> None:
    repo, _ = stored
    with pytest.raises(Conflict):
        repo.create_ticket(make_ticket(ticket_id="T2", channel_thread_id="thread-1"), message("T2", "m-2"))
    assert repo.find_message(TENANT, STORE, "m-2") is None


def test_append_bumps_the_version_and_records_the_message(stored: tuple[InMemoryRepository, str]) -> None:
    repo, ticket_id = stored
    previous = repo.get_ticket(TENANT, ticket_id)
    updated = previous.model_copy(deep=True)
    updated.message_count = 2
    repo.append_message(previous, updated, message(ticket_id, "m-2"))
    assert updated.version == 2
    assert repo.get_ticket(TENANT, ticket_id).version == 2
    assert repo.find_message(TENANT, STORE, "m-2") == (ticket_id, "msg-m-2")


def test_append_refuses_a_stale_ticket(stored: tuple[InMemoryRepository, str]) -> None:
    repo, ticket_id = stored
    stale = repo.get_ticket(TENANT, ticket_id)
    repo.resolve(TENANT, ticket_id)  # someone else wrote version 2
    with pytest.raises(Conflict):
        repo.append_message(stale, stale.model_copy(deep=True), message(ticket_id, "m-2"))
    assert repo.find_message(TENANT, STORE, "m-2") is None
    assert repo.get_ticket(TENANT, ticket_id).status is TicketStatus.RESOLVED


def test_append_refuses_a_stored_message(stored: tuple[InMemoryRepository, str]) -> None:
    repo, ticket_id = stored
    previous = repo.get_ticket(TENANT, ticket_id)
    with pytest.raises(DuplicateMessage):
        repo.append_message(previous, previous.model_copy(deep=True), message(ticket_id, "m-1"))


def test_reads_are_copies(stored: tuple[InMemoryRepository, str]) -> None:
    repo, ticket_id = stored
    repo.get_ticket(TENANT, ticket_id).subject = "changed"
    repo.find_tickets_by_order(TENANT, STORE, "727")[0].tags.append("x")
    ticket = repo.get_ticket(TENANT, ticket_id)
    assert ticket.subject == "Where is my parcel?" and ticket.tags == []


def test_lookups_by_order_thread_and_email(stored: tuple[InMemoryRepository, str]) -> None:
    repo, ticket_id = stored
    assert [t.ticket_id for t in repo.find_tickets_by_order(TENANT, STORE, "727")] == [ticket_id]
    assert repo.find_tickets_by_order(TENANT, "other-store", "727") == []
    assert repo.find_tickets_by_order("other-tenant", STORE, "727") == []
    assert repo.find_ticket_by_thread(TENANT, STORE, "thread-1").ticket_id == ticket_id
    assert repo.find_tickets_by_email(TENANT, "x@example.com") == []


def test_queue_cursor_is_bound_to_its_queue(stored: tuple[InMemoryRepository, str]) -> None:
    repo, _ = stored
    with pytest.raises(InvalidCursor):
        repo.list_queue(TENANT, QueueScope.TEAM, "billing", 10, "tenant::0")


def test_upsert_order_keeps_the_newer_version() -> None:
    repo = InMemoryRepository()
    t = datetime(2024, 1, 1, tzinfo=UTC)
    order = Order(tenant_id=TENANT, store_id=STORE, channel=Channel.WOOCOMMERCE, order_ref="727", updated_at=t)
    assert repo.upsert_order(order) is True
    assert repo.upsert_order(order.model_copy(update={"updated_at": t - timedelta(seconds=1)})) is False
    assert repo.upsert_order(order.model_copy(update={"updated_at": t + timedelta(seconds=1)})) is True
    assert repo.orders[(TENANT, STORE, "727")].updated_at == t + timedelta(seconds=1)
