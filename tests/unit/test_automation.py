"""Automatic answers, acknowledgements and drafts the rules ask for (helpdesk.replies.automatic_answers), on the
in-memory repository: what is sent, what becomes a draft instead, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.core.models import (
    Automation,
    Channel,
    DeliveryStatus,
    Draft,
    Intent,
    Macro,
    Message,
    MessageDirection,
    Order,
    OrderStatus,
    TicketStatus,
)
from helpdesk.replies.agent_replies import DispatchService
from helpdesk.replies.automatic_answers import AutomationPlan, AutomationService, DraftNotAvailable
from helpdesk.replies.drafting import DraftUnavailable, LocalDrafter
from tests.fakes.repository import InMemoryRepository
from tests.fakes.sla_timers import RecordingSlaTimers
from tests.unit.builders import TENANT, make_store, make_ticket
from tests.unit.test_nudges import Macros, Queue
from tests.unit.test_replies import Repo

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
WISMO = Macro(
    tenant_id=TENANT,
    macro_id="wismo",
    name="WISMO",
    tags=["wismo", "auto-answered"],
    bodies={
        "it": "{{ store.greeting }} {{ customer.first_name }}, ordine {{ order.ref }}: {{ order.carrier }} "
        "{{ order.tracking_url }}",
        "en": "Hi {{ customer.first_name }}, order {{ order.ref }}: {{ order.carrier }} {{ order.tracking_url }}",
    },
)
ACK = Macro(tenant_id=TENANT, macro_id="ack", name="Ack", bodies={"it": "Abbiamo ricevuto il suo messaggio."})
GERMAN_ONLY = Macro(tenant_id=TENANT, macro_id="de-only", name="DE", bodies={"de": "Ihre Bestellung {{ order.ref }}"})


def seeded(language: str = "it", **order: Any) -> tuple[InMemoryRepository, str]:
    repo = Repo()
    repo.put_store(make_store(greetings={"it": "Gentile"}))
    ticket = make_ticket(
        language=language, customer_name="Giulia Rossi", order_refs=["1001"], intent=Intent.WISMO, message_count=1
    )
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
            channel_thread_id="th-1",
            author="Giulia",
            body="Dov'è il mio ordine?",
            created_at=NOW - timedelta(minutes=1),
        ),
    )
    fields: dict[str, Any] = dict(
        tenant_id=TENANT,
        store_id=ticket.store_id,
        channel=Channel.WOOCOMMERCE,
        order_ref="1001",
        status=OrderStatus.SHIPPED,
        carrier="BRT",
        tracking_url="https://brt.example/084123",
    )
    fields.update(order)
    repo.upsert_order(Order(**fields))
    return repo, ticket.ticket_id


def automation(repo: InMemoryRepository, queue: Queue, drafter: Any = None) -> AutomationService:
    return AutomationService(repo, Macros(WISMO, ACK, GERMAN_ONLY), queue, drafter=drafter, clock=lambda: NOW)


def outbound(repo: InMemoryRepository, ticket_id: str) -> list[Message]:
    view = repo.get_ticket_view(TENANT, ticket_id)
    assert view is not None
    return [m for m in view.messages if m.direction == MessageDirection.OUTBOUND]


def test_an_automatic_answer_is_queued_in_the_buyers_language_once_per_ticket() -> None:
    repo, ticket_id = seeded()
    queue = Queue()
    result = automation(repo, queue).run(TENANT, ticket_id, AutomationPlan(answers=["wismo"]))
    (reply,) = outbound(repo, ticket_id)
    assert reply.body == "Gentile Giulia, ordine 1001: BRT https://brt.example/084123"
    assert (reply.automation, reply.language, reply.delivery_status) == (Automation.ANSWER, "it", DeliveryStatus.QUEUED)
    assert reply.status_after == TicketStatus.WAITING_ON_CUSTOMER and reply.channel_thread_id == "th-1"
    assert result["sent"] == [{"macro_id": "wismo", "automation": "answer", "message_id": reply.message_id}]
    ticket = repo.get_ticket(TENANT, ticket_id)
    assert ticket.automated == ["wismo"] and "auto-answered" in ticket.tags
    assert queue.published == [(TENANT, ticket_id, reply.message_id)]

    again = automation(repo, queue).run(TENANT, ticket_id, AutomationPlan(answers=["wismo"]))
    assert again["sent"] == [] and again["skipped"] == ["wismo: already sent on this ticket"]
    assert len(outbound(repo, ticket_id)) == 1


def test_a_missing_value_or_language_makes_a_draft_not_an_answer() -> None:
    repo, ticket_id = seeded(tracking_url=None)
    result = automation(repo, Queue()).run(TENANT, ticket_id, AutomationPlan(answers=["wismo"]))
    assert outbound(repo, ticket_id) == [] and result["skipped"] == ["wismo: no value for tracking_url"]
    draft = repo.get_ticket(TENANT, ticket_id).draft
    assert draft is not None and draft.macro_id == "wismo" and draft.missing == ["tracking_url"]
    assert draft.note == "not sent automatically: no value for tracking_url"
    events = [m.body for m in repo.get_ticket_view(TENANT, ticket_id).messages if m.direction == MessageDirection.EVENT]
    assert events == ["Automatic answer wismo not sent: no value for tracking_url; prepared as a draft"]

    repo2, ticket2 = seeded()
    result = automation(repo2, Queue()).run(TENANT, ticket2, AutomationPlan(answers=["de-only"]))
    assert outbound(repo2, ticket2) == [] and result["skipped"] == ["de-only: the macro has no it text"]
    assert repo2.get_ticket(TENANT, ticket2).draft.language == "de"


def test_an_acknowledgement_is_sent_but_is_not_a_response() -> None:
    repo, ticket_id = seeded()
    queue = Queue()
    automation(repo, queue).run(TENANT, ticket_id, AutomationPlan(acknowledgements=["ack"]))
    (ack,) = outbound(repo, ticket_id)
    assert ack.automation == Automation.ACKNOWLEDGEMENT and ack.status_after is None

    class Channel_:
        def send(self, store: Any, ticket: Any, reply: Any, answering: Any) -> str:
            return "channel-1"

    timers = RecordingSlaTimers()
    before = repo.get_ticket(TENANT, ticket_id)
    DispatchService(repo, repo, Channel_(), timers, clock=lambda: NOW).dispatch(
        TENANT, ticket_id, ack.message_id, final_attempt=False
    )
    after = repo.get_ticket(TENANT, ticket_id)
    assert outbound(repo, ticket_id)[0].delivery_status == DeliveryStatus.SENT
    assert after.first_responded_at is None and after.status == before.status
    assert after.sla_timer_version == before.sla_timer_version, "the SLA timer keeps running"
    assert timers.requests == []


def test_drafts_from_a_macro_or_the_drafter_never_replace_an_agents_draft() -> None:
    repo, ticket_id = seeded()
    automation(repo, Queue(), LocalDrafter()).run(TENANT, ticket_id, AutomationPlan(draft="ai"))
    draft = repo.get_ticket(TENANT, ticket_id).draft
    assert draft is not None and draft.language == "it" and draft.created_by == "system"
    assert "https://brt.example/084123" in draft.body
    assert outbound(repo, ticket_id) == [], "a draft is never sent"

    mine = automation(repo, Queue(), LocalDrafter()).prepare_draft(TENANT, "anna", ticket_id, "wismo")
    assert mine.created_by == "anna" and mine.source == "macro"
    automation(repo, Queue(), LocalDrafter()).run(TENANT, ticket_id, AutomationPlan(draft="ai"))
    assert repo.get_ticket(TENANT, ticket_id).draft == mine, "a rule does not overwrite the agent's draft"
    assert automation(repo, Queue()).discard_draft(TENANT, ticket_id).draft is None


def test_a_drafter_that_fails_says_why() -> None:
    class Down:
        name = "bedrock"

        def draft(self, context: Any, now: datetime) -> Draft:
            raise DraftUnavailable("ThrottlingException", retryable=True)

    repo, ticket_id = seeded()
    with pytest.raises(DraftNotAvailable, match="AI draft not prepared: ThrottlingException"):
        automation(repo, Queue(), Down()).prepare_draft(TENANT, "anna", ticket_id, None)
    automation(repo, Queue(), Down()).run(TENANT, ticket_id, AutomationPlan(draft="ai"))
    events = [m.body for m in repo.get_ticket_view(TENANT, ticket_id).messages if m.direction == MessageDirection.EVENT]
    assert events == ["AI draft not prepared: ThrottlingException"]


def test_nothing_happens_on_a_resolved_or_merged_ticket() -> None:
    repo, ticket_id = seeded()
    repo.resolve(TENANT, ticket_id)
    result = automation(repo, Queue()).run(TENANT, ticket_id, AutomationPlan(answers=["wismo"]))
    assert result["sent"] == [] and result["skipped"] == ["ticket is resolved"]
