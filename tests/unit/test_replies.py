"""Replies: stale-timeline refusal, macro rendering, queued → sent / failed / retried, first response
at the channel's acceptance, SLA timer stopped or re-armed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.core.errors import ChannelError, Conflict, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    Agent,
    DeliveryStatus,
    Macro,
    Message,
    MessageDirection,
    Order,
    Store,
    Ticket,
    TicketStatus,
)
from helpdesk.replies.agent_replies import (
    DispatchService,
    MacroIncomplete,
    ReplyNotQueued,
    ReplyRequest,
    ReplyService,
    RetryLater,
    StaleTimeline,
    answered,
    retryable,
)
from helpdesk.sla.calendars import BusinessCalendar
from helpdesk.sla.policies import SlaPolicySpec
from tests.fakes.repository import InMemoryRepository
from tests.fakes.sla_timers import RecordingSlaTimers
from tests.unit.builders import NOW, TENANT, make_store, make_ticket

WORKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
POLICY = SlaPolicySpec(
    policy_id="standard",
    name="Standard",
    first_response_minutes=240,
    next_response_minutes=480,
    calendar=BusinessCalendar.model_validate(
        {"time_zone": "Europe/Berlin", "periods": {d: [{"start": "09:00", "end": "18:00"}] for d in WORKDAYS}}
    ),
)


class Repo(InMemoryRepository):
    """The fake with the delivery log the reply dispatcher writes to."""

    def claim_delivery(self, reply: Message) -> bool:
        stored = self.messages[(reply.tenant_id, reply.ticket_id)]
        index = next(i for i, m in enumerate(stored) if m.message_id == reply.message_id)
        if stored[index].delivery_status != DeliveryStatus.QUEUED:
            return False
        stored[index] = stored[index].model_copy(update={"delivery_status": DeliveryStatus.SENDING})
        return True

    def record_delivery(self, previous: Ticket, updated: Ticket, reply: Message, events: Any = ()) -> None:
        stored = self.messages[(reply.tenant_id, reply.ticket_id)]
        index = next(i for i, m in enumerate(stored) if m.message_id == reply.message_id)
        if stored[index].delivery_status == DeliveryStatus.SENT:
            raise Conflict("already sent")
        self.update_ticket(previous, updated, events)
        stored[index] = reply.model_copy(deep=True)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=5)  # every id a new millisecond: storage order is id order
        return self.now


class Queue:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, str]] = []

    def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        self.published.append((tenant_id, ticket_id, message_id))


class Channel:
    def __init__(self, *errors: ChannelError) -> None:
        self.errors = list(errors)
        self.sent: list[tuple[str, str, str | None]] = []

    def send(self, store: Store, ticket: Ticket, reply: Message, answering: Message | None) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((ticket.ticket_id, reply.body, answering.message_id if answering else None))
        return f"channel-{len(self.sent)}"


class Macros:
    def __init__(self, *macros: Macro) -> None:
        self.macros = {m.macro_id: m for m in macros}

    def get_macro(self, tenant_id: str, macro_id: str) -> Macro | None:
        return self.macros.get(macro_id) if tenant_id == TENANT else None


@pytest.fixture
def world() -> dict[str, Any]:
    repo = Repo()
    repo.stores[(TENANT, "s1")] = make_store(default_language="de")
    repo.agents.append(Agent(tenant_id=TENANT, agent_id="anna", name="Anna Berg", email="anna@shop.example"))
    clock = Clock(NOW)
    ticket = make_ticket(
        assignee_id="anna",
        language="de",
        customer_name="Max Muster",
        order_refs=["1001"],
        sla_policy_id="standard",
        first_response_due_at=NOW + timedelta(hours=4),
    )
    repo.create_ticket(ticket, inbound(ticket, clock(), "Wo ist mein Paket?"))
    queue, channel, timers = Queue(), Channel(), RecordingSlaTimers()
    macros = Macros(
        Macro(
            tenant_id=TENANT,
            macro_id="wismo",
            name="WISMO",
            tags=["wismo"],
            bodies={
                "en": "Hi {{ customer.first_name }}",
                "de": "Hallo {{ customer.first_name }}, Ihre Bestellung {{ order.ref }}: {{ order.tracking_url }}",
            },
        )
    )
    service = ReplyService(repo, repo, macros, queue, clock=clock)
    dispatch = DispatchService(repo, repo, channel, timers, clock=clock)
    return {
        "repo": repo,
        "clock": clock,
        "queue": queue,
        "channel": channel,
        "timers": timers,
        "service": service,
        "dispatch": dispatch,
        "ticket": ticket,
    }


def inbound(ticket: Ticket, at: datetime, body: str) -> Message:
    return Message(
        tenant_id=TENANT,
        ticket_id=ticket.ticket_id,
        message_id=new_id(at),
        direction=MessageDirection.INBOUND,
        channel=ticket.channel,
        store_id=ticket.store_id,
        channel_message_id=f"cm-{new_id(at)}",
        channel_thread_id="thread-1",
        author="Max",
        body=body,
        created_at=at,
    )


def timeline(world: dict[str, Any]) -> list[Message]:
    view = world["repo"].get_ticket_view(TENANT, world["ticket"].ticket_id)
    return view.messages


def newest_id(world: dict[str, Any]) -> str:
    return max(m.message_id for m in timeline(world))


def test_a_reply_is_stored_queued_and_published(world: dict[str, Any]) -> None:
    reply = world["service"].reply(
        TENANT,
        "anna",
        world["ticket"].ticket_id,
        ReplyRequest(body="Ist unterwegs.", last_seen_message_id=newest_id(world)),
    )
    assert reply.delivery_status == DeliveryStatus.QUEUED and reply.author_id == "anna"
    assert reply.channel_thread_id == "thread-1"
    assert world["queue"].published == [(TENANT, world["ticket"].ticket_id, reply.message_id)]
    ticket = world["repo"].get_ticket(TENANT, world["ticket"].ticket_id)
    assert ticket.first_responded_at is None, "answered only once the channel accepts it"
    assert ticket.last_agent_action_at is not None, "the assignee acted: aging starts over"


def test_a_reply_on_a_stale_timeline_is_refused_unless_forced(world: dict[str, Any]) -> None:
    seen = newest_id(world)
    repo, ticket = world["repo"], world["ticket"]
    stored = repo.get_ticket(TENANT, ticket.ticket_id)
    repo.append_message(
        stored,
        stored.model_copy(update={"message_count": 2}),
        inbound(ticket, world["clock"](), "Hallo? Storniere bitte!"),
    )
    with pytest.raises(StaleTimeline) as refused:
        world["service"].reply(TENANT, "anna", ticket.ticket_id, ReplyRequest(body="x", last_seen_message_id=seen))
    assert [u["direction"] for u in refused.value.details["unseen"]] == ["inbound"]
    assert world["queue"].published == []
    forced = world["service"].reply(
        TENANT, "anna", ticket.ticket_id, ReplyRequest(body="Wird storniert.", last_seen_message_id=seen, force=True)
    )
    assert forced.delivery_status == DeliveryStatus.QUEUED


def test_my_own_entries_do_not_make_my_view_stale(world: dict[str, Any]) -> None:
    seen = newest_id(world)
    first = world["service"].reply(
        TENANT, "anna", world["ticket"].ticket_id, ReplyRequest(body="Eins", last_seen_message_id=seen)
    )
    second = world["service"].reply(
        TENANT, "anna", world["ticket"].ticket_id, ReplyRequest(body="Zwei", last_seen_message_id=seen)
    )
    assert second.message_id > first.message_id


def test_an_unknown_seen_entry_is_a_bad_request(world: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not on this ticket"):
        world["service"].reply(
            TENANT, "anna", world["ticket"].ticket_id, ReplyRequest(body="x", last_seen_message_id="01ZZZZ")
        )


def test_a_macro_is_rendered_in_the_ticket_language_and_its_tags_added(world: dict[str, Any]) -> None:
    world["repo"].orders[(TENANT, "s1", "1001")] = Order(
        tenant_id=TENANT,
        store_id="s1",
        channel=world["ticket"].channel,
        order_ref="1001",
        tracking_url="https://track.example/1001",
    )
    reply = world["service"].reply(
        TENANT, "anna", world["ticket"].ticket_id, ReplyRequest(macro_id="wismo", last_seen_message_id=newest_id(world))
    )
    assert reply.body == "Hallo Max, Ihre Bestellung 1001: https://track.example/1001"
    assert reply.macro_id == "wismo"
    assert "wismo" in world["repo"].get_ticket(TENANT, world["ticket"].ticket_id).tags


def test_a_macro_missing_values_is_refused_with_what_is_missing(world: dict[str, Any]) -> None:
    with pytest.raises(MacroIncomplete) as refused:
        world["service"].reply(
            TENANT,
            "anna",
            world["ticket"].ticket_id,
            ReplyRequest(macro_id="wismo", last_seen_message_id=newest_id(world)),
        )
    assert refused.value.details["missing"] == ["tracking_url"]
    edited = world["service"].reply(
        TENANT,
        "anna",
        world["ticket"].ticket_id,
        ReplyRequest(
            macro_id="wismo", body="Hallo Max, die Sendungsnummer folgt morgen.", last_seen_message_id=newest_id(world)
        ),
    )
    assert edited.body.endswith("folgt morgen.") and edited.macro_id == "wismo"


def test_unknown_macro_and_ticket_are_not_found(world: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        world["service"].reply(
            TENANT, "anna", world["ticket"].ticket_id, ReplyRequest(macro_id="nope", last_seen_message_id="x")
        )
    with pytest.raises(NotFound):
        world["service"].reply("other-tenant", "anna", world["ticket"].ticket_id, ReplyRequest(body="x", force=True))


def test_a_request_needs_text_and_a_seen_entry() -> None:
    with pytest.raises(ValueError, match="body or a macro_id"):
        ReplyRequest(body="  ", last_seen_message_id="x")
    with pytest.raises(ValueError, match="last_seen_message_id"):
        ReplyRequest(body="hello")


def send(world: dict[str, Any], body: str = "Ist unterwegs.", **request: Any) -> Message:
    reply = world["service"].reply(
        TENANT,
        "anna",
        world["ticket"].ticket_id,
        ReplyRequest(body=body, last_seen_message_id=newest_id(world), **request),
    )
    return reply


def stored_reply(world: dict[str, Any], message_id: str) -> Message:
    return next(m for m in timeline(world) if m.message_id == message_id)


def test_dispatch_records_the_first_response_at_the_channels_acceptance(world: dict[str, Any]) -> None:
    world["repo"].policy_specs[TENANT] = [POLICY]
    reply = send(world)
    before = world["repo"].get_ticket(TENANT, world["ticket"].ticket_id)
    result = world["dispatch"].dispatch(TENANT, before.ticket_id, reply.message_id, final_attempt=False)
    assert result.outcome == "sent"
    sent = stored_reply(world, reply.message_id)
    assert sent.delivery_status == DeliveryStatus.SENT and sent.channel_message_id == "channel-1"
    ticket = world["repo"].get_ticket(TENANT, before.ticket_id)
    assert ticket.first_responded_at == sent.sent_at > reply.created_at
    assert ticket.status == TicketStatus.WAITING_ON_CUSTOMER
    assert ticket.sla_timer_version == before.sla_timer_version + 1, "the running first-response timer is stale"
    assert ticket.next_response_due_at is None and ticket.sla_due_at is None
    assert world["timers"].requests == [], "nothing owed: no timer until the buyer writes"
    again = world["dispatch"].dispatch(TENANT, before.ticket_id, reply.message_id, final_attempt=False)
    assert again.outcome == "already_sent" and len(world["channel"].sent) == 1


def test_a_reply_that_keeps_the_ticket_open_re_arms_the_next_response_timer(world: dict[str, Any]) -> None:
    world["repo"].policy_specs[TENANT] = [POLICY]
    reply = send(world, status_after="open")
    world["dispatch"].dispatch(TENANT, world["ticket"].ticket_id, reply.message_id, final_attempt=False)
    ticket = world["repo"].get_ticket(TENANT, world["ticket"].ticket_id)
    assert ticket.status == TicketStatus.OPEN
    # Friday 1 March 2024 13:00 Berlin + 480 business minutes (09-18) = Monday 4 March 12:00 Berlin.
    assert ticket.next_response_due_at.replace(microsecond=0) == datetime(2024, 3, 4, 11, 0, tzinfo=UTC)
    [timer] = world["timers"].requests
    assert timer.deadline == "next_response" and timer.timer_version == str(ticket.sla_timer_version)
    assert timer.due_at == "2024-03-04T11:00:00Z"


def test_a_buyer_message_after_the_reply_was_written_stays_owed(world: dict[str, Any]) -> None:
    reply = send(world)
    repo, ticket = world["repo"], world["ticket"]
    stored = repo.get_ticket(TENANT, ticket.ticket_id)
    late = inbound(ticket, world["clock"](), "Noch eine Frage")
    repo.append_message(stored, stored.model_copy(update={"status": TicketStatus.OPEN}), late)
    world["dispatch"].dispatch(TENANT, ticket.ticket_id, reply.message_id, final_attempt=False)
    after = repo.get_ticket(TENANT, ticket.ticket_id)
    assert after.status == TicketStatus.OPEN
    assert after.first_responded_at is not None
    assert after.next_response_due_at == late.created_at + timedelta(hours=24)  # the default target
    assert world["timers"].requests[-1].deadline == "next_response"


def test_a_refused_reply_is_failed_with_the_channels_error_and_can_be_retried(world: dict[str, Any]) -> None:
    world["channel"].errors.append(
        ChannelError("mirakl answered HTTP 400", channel="mirakl", status=400, body='{"message": "Thread is closed"}')
    )
    reply = send(world)
    result = world["dispatch"].dispatch(TENANT, world["ticket"].ticket_id, reply.message_id, final_attempt=False)
    assert result.outcome == "failed"
    failed = stored_reply(world, reply.message_id)
    assert failed.delivery_status == DeliveryStatus.FAILED and "Thread is closed" in failed.delivery_error
    events = [m.body for m in timeline(world) if m.direction == MessageDirection.EVENT]
    assert any("was not sent" in e and "Thread is closed" in e for e in events)
    ticket = world["repo"].get_ticket(TENANT, world["ticket"].ticket_id)
    assert ticket.first_responded_at is None, "a reply that never left is no response"
    retried = world["service"].retry(TENANT, "anna", ticket.ticket_id, reply.message_id)
    assert retried.delivery_status == DeliveryStatus.QUEUED
    assert world["queue"].published[-1][2] == reply.message_id
    assert world["dispatch"].dispatch(TENANT, ticket.ticket_id, reply.message_id, final_attempt=False).outcome == "sent"
    with pytest.raises(Conflict, match="only a failed reply"):
        world["service"].retry(TENANT, "anna", ticket.ticket_id, reply.message_id)


def test_an_unreachable_channel_is_retried_by_the_queue_then_failed_on_the_last_attempt(world: dict[str, Any]) -> None:
    unreachable = ChannelError("mirakl unreachable", channel="mirakl", reached=False)
    world["channel"].errors.extend([unreachable, unreachable])
    reply = send(world)
    with pytest.raises(RetryLater):
        world["dispatch"].dispatch(TENANT, world["ticket"].ticket_id, reply.message_id, final_attempt=False)
    noted = stored_reply(world, reply.message_id)
    assert noted.delivery_status == DeliveryStatus.QUEUED and noted.delivery_attempts == 1
    result = world["dispatch"].dispatch(TENANT, world["ticket"].ticket_id, reply.message_id, final_attempt=True)
    assert result.outcome == "failed"
    assert stored_reply(world, reply.message_id).delivery_attempts == 2


def test_which_channel_errors_are_retried() -> None:
    assert retryable(ChannelError("x", status=429))
    assert retryable(ChannelError("x", status=503))
    assert retryable(ChannelError("x", reached=False))
    assert not retryable(ChannelError("x", status=500)), "may have been processed: never sent twice"
    assert not retryable(ChannelError("timeout after sending", retried=0))
    assert not retryable(ChannelError("x", status=400))


def test_answered_resolves_without_a_deadline() -> None:
    ticket = make_ticket(status=TicketStatus.OPEN, sla_warned_at=NOW)
    done = answered(ticket, NOW, TicketStatus.RESOLVED, POLICY)
    assert done.status == TicketStatus.RESOLVED and done.first_responded_at == NOW
    assert done.sla_due_at is None and done.sla_warned_at is None
    assert done.sla_timer_version == ticket.sla_timer_version + 1


def test_a_reply_is_handed_to_the_channel_once_whatever_the_queue_redelivers(world: dict[str, Any]) -> None:
    reply = send(world)
    repo = world["repo"]
    assert repo.claim_delivery(stored_reply(world, reply.message_id)), "a concurrent dispatch took it"
    result = world["dispatch"].dispatch(TENANT, world["ticket"].ticket_id, reply.message_id, final_attempt=False)
    # The other dispatch never recorded an outcome (it crashed or timed out): it may have been sent.
    assert result.outcome == "failed" and world["channel"].sent == []
    failed = stored_reply(world, reply.message_id)
    assert failed.delivery_status == DeliveryStatus.FAILED and "may have reached the buyer" in failed.delivery_error


def test_a_claim_lost_to_a_concurrent_dispatch_sends_nothing(world: dict[str, Any]) -> None:
    reply = send(world)
    world["repo"].claim_delivery = lambda _reply: False  # type: ignore[method-assign]
    result = world["dispatch"].dispatch(TENANT, world["ticket"].ticket_id, reply.message_id, final_attempt=False)
    assert result.outcome == "already_claimed" and world["channel"].sent == []


def test_a_reply_whose_queue_message_was_lost_can_be_retried_after_a_while(world: dict[str, Any]) -> None:
    class BrokenQueue(Queue):
        def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
            raise ConnectionError("sqs unreachable")

    service = ReplyService(world["repo"], world["repo"], Macros(), BrokenQueue(), clock=world["clock"])
    with pytest.raises(ReplyNotQueued) as refused:
        service.reply(TENANT, "anna", world["ticket"].ticket_id, ReplyRequest(body="Hallo", force=True))
    stored = stored_reply(world, refused.value.details["message_id"])
    assert stored.delivery_status == DeliveryStatus.FAILED and "not queued" in stored.delivery_error
    retried = world["service"].retry(TENANT, "anna", world["ticket"].ticket_id, stored.message_id)
    assert retried.delivery_status == DeliveryStatus.QUEUED

    queued = send(world)
    with pytest.raises(Conflict, match="queued for over 5 minutes"):
        world["service"].retry(TENANT, "anna", world["ticket"].ticket_id, queued.message_id)
    world["clock"].now += timedelta(minutes=6)
    assert (
        world["service"].retry(TENANT, "anna", world["ticket"].ticket_id, queued.message_id).delivery_status
        == DeliveryStatus.QUEUED
    )


def test_a_reply_sent_after_its_ticket_was_merged_leaves_the_source_closed(world: dict[str, Any]) -> None:
    reply = send(world, status_after="open")
    repo = world["repo"]
    stored = repo.get_ticket(TENANT, world["ticket"].ticket_id)
    repo.update_ticket(stored, stored.model_copy(update={"status": TicketStatus.CLOSED, "merged_into": "other"}))
    world["dispatch"].dispatch(TENANT, world["ticket"].ticket_id, reply.message_id, final_attempt=False)
    after = repo.get_ticket(TENANT, world["ticket"].ticket_id)
    assert after.status == TicketStatus.CLOSED and not after.status.in_queue
    assert world["timers"].requests == []
