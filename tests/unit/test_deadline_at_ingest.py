"""The deadline set when a message is stored is the one the intake will settle on (so its SLA timer
is usually the only one started), and the intake counts from the first unanswered buyer message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from helpdesk.core.ids import new_id
from helpdesk.core.models import Channel, DeliveryStatus, Intent, Message, MessageDirection, TicketView
from helpdesk.routing.intake import owed_since
from helpdesk.sla.policies import SlaPolicySpec
from helpdesk.tickets.threads import TicketService
from tests.fakes.repository import InMemoryRepository
from tests.fakes.sla_timers import RecordingSlaTimers
from tests.fakes.sleep import RecordingSleep
from tests.unit.builders import NOW, TENANT, make_inbound, make_store, make_ticket

STANDARD = SlaPolicySpec(
    policy_id="standard", name="Standard", first_response_minutes=480, next_response_minutes=240, warning_ratio=0.75
)
CANCELLATIONS = SlaPolicySpec(
    policy_id="cancellations",
    name="Cancellations",
    first_response_minutes=60,
    next_response_minutes=60,
    intents=[Intent.CANCELLATION],
)


def spec_repo(*specs: SlaPolicySpec) -> InMemoryRepository:
    repo = InMemoryRepository()
    repo.policy_specs[TENANT] = list(specs)
    return repo


def service(repo: InMemoryRepository) -> tuple[TicketService, RecordingSlaTimers]:
    repo.put_store(make_store())
    timers = RecordingSlaTimers()
    return TicketService(repo, timers, clock=lambda: NOW, sleep=RecordingSleep()), timers


def test_a_new_ticket_gets_the_tenants_catch_all_policy_and_its_warning_point() -> None:
    repo = spec_repo(STANDARD, CANCELLATIONS)
    tickets, timers = service(repo)
    tickets.receive(make_inbound())
    ticket = repo.only_ticket(TENANT)
    assert ticket.sla_policy_id is None, "the intake names the policy (a rule may choose another)"
    assert ticket.first_response_due_at == NOW + timedelta(minutes=480)
    assert ticket.sla_warn_at == NOW + timedelta(minutes=360)
    [timer] = timers.requests
    assert timer.due_at == "2024-03-01T20:00:00Z" and timer.warn_at == "2024-03-01T18:00:00Z"


def test_a_channel_cancellation_signal_gets_the_cancellation_policy_at_once() -> None:
    repo = spec_repo(STANDARD, CANCELLATIONS)
    tickets, _ = service(repo)
    tickets.receive(make_inbound(cancellation_requested=True))
    ticket = repo.only_ticket(TENANT)
    assert ticket.first_response_due_at == NOW + timedelta(minutes=60)


def test_without_policies_the_foundation_default_applies() -> None:
    repo = spec_repo()
    tickets, _ = service(repo)
    tickets.receive(make_inbound())
    assert repo.only_ticket(TENANT).first_response_due_at == NOW + timedelta(hours=24)


def message(direction: MessageDirection, at: datetime, **fields: Any) -> Message:
    return Message(
        tenant_id=TENANT,
        ticket_id="t",
        message_id=new_id(at),
        direction=direction,
        channel=Channel.WOOCOMMERCE,
        store_id="s1",
        author="x",
        body="x",
        created_at=at,
        **fields,
    )


def test_the_buyer_waits_from_the_first_message_after_the_last_accepted_reply() -> None:
    first, second = NOW, NOW + timedelta(minutes=30)
    view = TicketView(
        ticket=make_ticket(),
        messages=[message(MessageDirection.INBOUND, first), message(MessageDirection.INBOUND, second)],
    )
    assert owed_since(view) == first, "a second message does not push the first-response deadline back"
    queued = message(MessageDirection.OUTBOUND, NOW + timedelta(hours=1), delivery_status=DeliveryStatus.QUEUED)
    assert owed_since(view.model_copy(update={"messages": [*view.messages, queued]})) == first
    sent_at = NOW + timedelta(hours=1, seconds=5)
    sent = queued.model_copy(update={"delivery_status": DeliveryStatus.SENT, "sent_at": sent_at})
    later = message(MessageDirection.INBOUND, NOW + timedelta(hours=2))
    assert owed_since(view.model_copy(update={"messages": [*view.messages, sent, later]})) == later.created_at
    assert owed_since(view.model_copy(update={"messages": [*view.messages, sent]})) is None
    by_channel = message(MessageDirection.OUTBOUND, NOW + timedelta(hours=3))  # answered on the channel itself
    assert owed_since(view.model_copy(update={"messages": [*view.messages, later, by_channel]})) is None
    assert owed_since(TicketView(ticket=make_ticket(), messages=[])) is None


def test_a_buyer_writing_to_a_parked_unanswered_ticket_gets_a_running_timer_again() -> None:
    from helpdesk.core.models import TicketStatus

    repo = spec_repo(STANDARD)
    tickets, timers = service(repo)
    tickets.receive(make_inbound())
    first = repo.only_ticket(TENANT)
    repo.update_ticket(
        first, first.model_copy(update={"status": TicketStatus.SNOOZED, "snoozed_until": NOW + timedelta(days=1)})
    )
    tickets.receive(make_inbound(channel_message_id="m-2", received_at=NOW + timedelta(hours=2)))
    woken = repo.only_ticket(TENANT)
    assert woken.status == TicketStatus.OPEN and woken.sla_timer_version == 2
    assert woken.first_response_due_at == first.first_response_due_at, "a parked ticket keeps its deadline"
    assert [t.timer_version for t in timers.requests] == ["1", "2"]

    closed = repo.only_ticket(TENANT)
    repo.update_ticket(closed, closed.model_copy(update={"status": TicketStatus.CLOSED}))
    later = NOW + timedelta(days=30)
    tickets.receive(make_inbound(channel_message_id="m-3", received_at=later))
    reopened = repo.only_ticket(TENANT)
    assert reopened.status == TicketStatus.OPEN and reopened.sla_timer_version == 3
    assert reopened.first_response_due_at == later + timedelta(minutes=480), "a new conversation, a new deadline"
    assert timers.requests[-1].due_at == (later + timedelta(minutes=480)).strftime("%Y-%m-%dT%H:%M:%SZ")
