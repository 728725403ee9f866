"""Proactive messages: which order changes trigger which nudge, where the message goes, once per order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from helpdesk.core.models import (
    Automation,
    Channel,
    DeliveryStatus,
    Macro,
    Message,
    MessageDirection,
    Order,
    OrderStatus,
    TicketStatus,
)
from helpdesk.replies.proactive import Nudge, NudgeEvent, NudgeService, applies, triggered
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import TENANT, make_store, make_ticket

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
SHIPPED_MACRO = Macro(
    tenant_id=TENANT,
    macro_id="shipped",
    name="Shipped",
    bodies={
        "en": "{{ order.ref }} is on its way with {{ order.carrier }}: {{ order.tracking_url }}",
        "de": "{{ order.ref }} ist mit {{ order.carrier }} unterwegs: {{ order.tracking_url }}",
    },
)


def order(**changes: Any) -> Order:
    fields: dict[str, Any] = dict(
        tenant_id=TENANT,
        store_id="s1",
        channel=Channel.WOOCOMMERCE,
        order_ref="1001",
        status=OrderStatus.PROCESSING,
        buyer_email="max@example.de",
        buyer_name="Max Muster",
    )
    fields.update(changes)
    return Order(**fields)


def shipped() -> Order:
    return order(status=OrderStatus.SHIPPED, carrier="DHL", tracking_url="https://dhl.example/00340434")


class Macros:
    def __init__(self, *macros: Macro) -> None:
        self._macros = {m.macro_id: m for m in macros}

    def get_macro(self, tenant_id: str, macro_id: str) -> Macro | None:
        return self._macros.get(macro_id)

    def list_macros(self, tenant_id: str) -> list[Macro]:
        return list(self._macros.values())


class Queue:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, str]] = []

    def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        self.published.append((tenant_id, ticket_id, message_id))


class Repo(InMemoryRepository):
    def __init__(self, nudges: list[Nudge]) -> None:
        super().__init__()
        self.nudges = nudges

    def list_nudges(self, tenant_id: str) -> list[Nudge]:
        return self.nudges


NUDGE = Nudge(nudge_id="shipped", name="Order shipped", event=NudgeEvent.SHIPPED, macro_id="shipped")


def service(repo: Repo, queue: Queue) -> NudgeService:
    return NudgeService(repo, Macros(SHIPPED_MACRO), queue, clock=lambda: NOW)


def test_what_an_order_change_means_for_the_buyer() -> None:
    assert triggered(order(), shipped()) == {NudgeEvent.SHIPPED}
    assert triggered(None, shipped()) == {NudgeEvent.SHIPPED}
    assert triggered(shipped(), shipped()) == set(), "a redelivered event is no news"
    assert triggered(order(status=OrderStatus.DELIVERED), shipped()) == set(), "never backwards"
    assert triggered(shipped(), order(status=OrderStatus.DELIVERED)) == {NudgeEvent.DELIVERED}
    promised = shipped().model_copy(update={"delivery_latest": NOW})
    assert triggered(promised, promised.model_copy(update={"delivery_latest": NOW + timedelta(days=2)})) == {
        NudgeEvent.DELAYED
    }
    assert triggered(promised, promised.model_copy(update={"delivery_latest": NOW + timedelta(hours=3)})) == set()


def test_an_order_seen_for_the_first_time_is_news_only_if_it_just_happened() -> None:
    assert triggered(None, shipped().model_copy(update={"shipped_at": NOW - timedelta(hours=3)}), NOW) == {
        NudgeEvent.SHIPPED
    }
    old_delivery = order(
        status=OrderStatus.DELIVERED, delivered_at=NOW - timedelta(days=60), updated_at=NOW - timedelta(minutes=1)
    )
    assert triggered(None, old_delivery, NOW) == set(), "no 'your order was delivered' two months later"


def test_a_nudge_applies_to_its_stores_and_channels_only() -> None:
    store = make_store()
    assert applies(NUDGE, store, NudgeEvent.SHIPPED)
    assert not applies(NUDGE, store, NudgeEvent.DELIVERED)
    assert not applies(NUDGE.model_copy(update={"store_ids": ["other"]}), store, NudgeEvent.SHIPPED)
    assert not applies(NUDGE.model_copy(update={"channels": [Channel.MIRAKL]}), store, NudgeEvent.SHIPPED)
    assert not applies(NUDGE.model_copy(update={"enabled": False}), store, NudgeEvent.SHIPPED)


def test_a_shipped_order_without_a_conversation_opens_a_resolved_ticket_with_the_message() -> None:
    repo, queue = Repo([NUDGE]), Queue()
    repo.put_store(make_store(default_language="de"))
    outcome = service(repo, queue).on_order_change([NUDGE], order(), shipped())
    assert len(outcome) == 1 and outcome[0].startswith("shipped: queued on new ticket")
    ticket = repo.only_ticket(TENANT)
    assert ticket.status == TicketStatus.RESOLVED and ticket.customer_email == "max@example.de"
    assert ticket.automated == ["shipped:1001"] and ticket.order_refs == ["1001"]
    (message,) = repo.get_ticket_view(TENANT, ticket.ticket_id).messages
    assert message.automation == Automation.NUDGE and message.delivery_status == DeliveryStatus.QUEUED
    assert message.body == "1001 ist mit DHL unterwegs: https://dhl.example/00340434" and message.language == "de"
    assert queue.published == [(TENANT, ticket.ticket_id, message.message_id)]

    again = service(repo, queue).on_order_change([NUDGE], order(), shipped())
    assert again == ["shipped: already sent for this order"] and len(queue.published) == 1


def test_an_existing_conversation_gets_the_message_in_the_buyers_language() -> None:
    repo, queue = Repo([NUDGE]), Queue()
    repo.put_store(make_store(default_language="de"))
    ticket = make_ticket(order_refs=["1001"], language="en", status=TicketStatus.WAITING_ON_CUSTOMER, message_count=1)
    repo.create_ticket(
        ticket,
        Message(
            tenant_id=TENANT,
            ticket_id=ticket.ticket_id,
            message_id="01A",
            direction=MessageDirection.INBOUND,
            channel=ticket.channel,
            store_id=ticket.store_id,
            channel_message_id="m-1",
            author="Max",
            body="Where is my order?",
            created_at=NOW - timedelta(days=1),
        ),
    )
    outcome = service(repo, queue).on_order_change([NUDGE], order(), shipped())
    assert outcome == [f"shipped: queued on ticket {ticket.ticket_id}"]
    view = repo.get_ticket_view(TENANT, ticket.ticket_id)
    (message,) = [m for m in view.messages if m.automation == Automation.NUDGE]
    assert message.body.startswith("1001 is on its way with DHL") and message.status_after is None
    assert view.ticket.status == TicketStatus.WAITING_ON_CUSTOMER, "a nudge changes no status"


def test_marketplaces_without_a_conversation_and_missing_values_are_reported_not_sent() -> None:
    repo, queue = Repo([NUDGE]), Queue()
    repo.put_store(make_store(channel=Channel.MIRAKL))
    assert service(repo, queue).on_order_change([NUDGE], order(channel=Channel.MIRAKL), shipped()) == [
        "shipped: not sent: no conversation with the buyer on mirakl about this order yet"
    ]
    repo2 = Repo([NUDGE])
    repo2.put_store(make_store())
    without_link = shipped().model_copy(update={"tracking_url": None})
    assert service(repo2, queue).on_order_change([NUDGE], order(), without_link) == [
        "shipped: not sent: no value for tracking_url"
    ]
    assert queue.published == []
