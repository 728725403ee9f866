"""TicketService: threading inbound messages into tickets, SLA timers, retries, queue reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk.core.errors import Conflict, DuplicateMessage, NotFound
from helpdesk.core.models import MessageDirection, Priority, TicketStatus
from helpdesk.sla.timers import FIRST_RESPONSE, NEXT_RESPONSE
from helpdesk.tickets import threads
from helpdesk.tickets.ports import QueueScope
from helpdesk.tickets.threads import TicketService
from tests.fakes.repository import InMemoryRepository
from tests.fakes.sla_timers import RecordingSlaTimers
from tests.fakes.sleep import RecordingSleep
from tests.unit.builders import NOW, STORE, TENANT, make_inbound, make_policy, make_store

DAY = timedelta(hours=24)


# --- opening a ticket ---------------------------------------------------------------------------


def test_a_new_message_opens_a_ticket_due_in_24_hours_by_default(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    received = NOW - timedelta(minutes=5)
    result = service.receive(make_inbound(received_at=received, order_ref="727"))

    assert result.created_ticket is True and result.duplicate is False
    ticket = repo.only_ticket(TENANT)
    assert ticket.ticket_id == result.ticket_id and len(ticket.ticket_id) == 26
    assert ticket.status is TicketStatus.NEW
    assert ticket.priority is Priority.NORMAL
    assert ticket.tags == []
    assert ticket.first_response_due_at == received + DAY  # from when the buyer wrote, not from now
    assert ticket.sla_policy_id is None
    assert ticket.sla_timer_version == 1
    assert ticket.message_count == 1 and ticket.version == 1
    assert ticket.channel_thread_id == "thread-1"
    assert ticket.order_refs == ["727"]
    assert ticket.customer_email == "buyer@example.com" and ticket.customer_name == "Jane Buyer"
    assert ticket.subject == "Where is my parcel?"  # first line of the body when there is no subject
    assert (ticket.created_at, ticket.updated_at, ticket.last_message_at) == (NOW, NOW, received)

    view = service.ticket_view(TENANT, result.ticket_id)
    assert [m.message_id for m in view.messages] == [result.message_id]
    message = view.messages[0]
    assert message.direction is MessageDirection.INBOUND
    assert message.channel_message_id == "m-1"
    assert message.author == "Jane Buyer"
    assert message.body == "Where is my parcel?\nIt has been a week."
    assert message.created_at == received

    assert len(timers.requests) == 1
    request = timers.requests[0]
    assert request.tenant_id == TENANT and request.ticket_id == result.ticket_id
    assert request.timer_version == "1"
    assert request.deadline == FIRST_RESPONSE
    assert request.due_at == "2024-03-02T11:55:00Z"


def test_the_store_sla_policy_sets_the_first_response_deadline(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    repo.put_sla_policy(make_policy(first=90, following=240))
    repo.put_store(make_store(sla_policy_id="fast"))

    result = service.receive(make_inbound())

    ticket = repo.get_ticket(TENANT, result.ticket_id)
    assert ticket is not None
    assert ticket.sla_policy_id == "fast"
    assert ticket.first_response_due_at == NOW + timedelta(minutes=90)
    assert timers.requests[0].due_at == "2024-03-01T13:30:00Z"


def test_a_store_policy_that_no_longer_exists_falls_back_to_the_default(
    service: TicketService, repo: InMemoryRepository
) -> None:
    repo.put_store(make_store(sla_policy_id="deleted-policy"))
    result = service.receive(make_inbound())
    ticket = repo.get_ticket(TENANT, result.ticket_id)
    assert ticket is not None
    assert ticket.sla_policy_id is None
    assert ticket.first_response_due_at == NOW + DAY


def test_an_explicit_subject_is_kept_and_long_first_lines_are_shortened(
    service: TicketService, repo: InMemoryRepository
) -> None:
    first = service.receive(make_inbound(subject="Order #727: note from the buyer"))
    long_line = "x" * 100
    second = service.receive(make_inbound(channel_message_id="m-2", channel_thread_id="t-2", body=long_line))
    assert repo.get_ticket(TENANT, first.ticket_id).subject == "Order #727: note from the buyer"
    assert repo.get_ticket(TENANT, second.ticket_id).subject == "x" * 80 + "…"


def test_the_author_falls_back_to_the_email_then_to_buyer(service: TicketService) -> None:
    a = service.receive(make_inbound(buyer_name=None))
    b = service.receive(
        make_inbound(channel_message_id="m-2", channel_thread_id="t-2", buyer_name=None, buyer_email=None)
    )
    assert service.ticket_view(TENANT, a.ticket_id).messages[0].author == "buyer@example.com"
    assert service.ticket_view(TENANT, b.ticket_id).messages[0].author == "buyer"


def test_a_cancellation_request_is_high_priority_and_tagged(service: TicketService, repo: InMemoryRepository) -> None:
    result = service.receive(make_inbound(cancellation_requested=True))
    ticket = repo.get_ticket(TENANT, result.ticket_id)
    assert ticket.priority is Priority.HIGH
    assert ticket.tags == ["cancellation_request"]


def test_a_cancellation_request_on_an_existing_ticket_adds_the_tag_once(
    service: TicketService, repo: InMemoryRepository
) -> None:
    first = service.receive(make_inbound())
    service.receive(make_inbound(channel_message_id="m-2", cancellation_requested=True))
    service.receive(make_inbound(channel_message_id="m-3", cancellation_requested=True))
    ticket = repo.get_ticket(TENANT, first.ticket_id)
    assert ticket.tags == ["cancellation_request"]
    assert ticket.message_count == 3


def test_an_unknown_store_is_not_found_and_nothing_is_stored(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    with pytest.raises(NotFound):
        service.receive(make_inbound(store_id="ghost-store"))
    assert repo.ticket_count(TENANT) == 0
    assert repo.channel_messages == {}
    assert timers.requests == []


# --- duplicates ---------------------------------------------------------------------------------


def test_the_same_channel_message_twice_is_stored_once(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    first = service.receive(make_inbound())
    again = service.receive(make_inbound(body="Where is my parcel? (redelivered)"))

    assert again.duplicate is True and again.created_ticket is False
    assert (again.ticket_id, again.message_id) == (first.ticket_id, first.message_id)
    assert repo.ticket_count(TENANT) == 1
    ticket = repo.only_ticket(TENANT)
    assert ticket.message_count == 1 and ticket.version == 1
    assert len(service.ticket_view(TENANT, first.ticket_id).messages) == 1
    # The redelivery re-arms the same timer (same execution name), which Step Functions ignores.
    assert len(timers.requests) == 2
    assert timers.execution_names[0] == timers.execution_names[1]
    assert timers.requests[0] == timers.requests[1]


def test_a_redelivery_of_a_resolved_ticket_message_starts_no_timer(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    first = service.receive(make_inbound())
    repo.resolve(TENANT, first.ticket_id)
    again = service.receive(make_inbound())
    assert again.duplicate is True
    assert len(timers.requests) == 1
    assert repo.get_ticket(TENANT, first.ticket_id).status is TicketStatus.RESOLVED


def test_a_concurrent_delivery_of_the_same_message_is_reported_as_duplicate(
    repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    service = TicketService(repo, timers, clock=lambda: NOW, sleep=RecordingSleep())
    other_consumer = TicketService(repo, RecordingSlaTimers(), clock=lambda: NOW, sleep=RecordingSleep())
    # Both consumers see "not stored yet"; the other one writes first.
    repo.before_next("create_ticket", lambda: other_consumer.receive(make_inbound()))

    result = service.receive(make_inbound())

    assert result.duplicate is True and result.created_ticket is False
    assert repo.ticket_count(TENANT) == 1
    assert repo.only_ticket(TENANT).message_count == 1


# --- threading ----------------------------------------------------------------------------------


def test_a_second_message_in_the_thread_is_appended(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    first = service.receive(make_inbound())
    later = NOW + timedelta(hours=2)
    second = service.receive(make_inbound(channel_message_id="m-2", body="Any news?", received_at=later))

    assert second.created_ticket is False and second.duplicate is False
    assert second.ticket_id == first.ticket_id and second.message_id != first.message_id
    ticket = repo.only_ticket(TENANT)
    assert ticket.message_count == 2
    assert ticket.version == 2
    assert ticket.last_message_at == later
    # Not answered yet: the first-response deadline and its timer stay as they were.
    assert ticket.first_response_due_at == NOW + DAY
    assert ticket.sla_timer_version == 1
    assert len(timers.requests) == 1
    assert [m.body for m in service.ticket_view(TENANT, first.ticket_id).messages] == [
        "Where is my parcel?\nIt has been a week.",
        "Any news?",
    ]


def test_a_late_arriving_older_message_does_not_move_last_message_at_back(
    service: TicketService, repo: InMemoryRepository
) -> None:
    service.receive(make_inbound())
    service.receive(make_inbound(channel_message_id="m-0", received_at=NOW - timedelta(hours=1)))
    assert repo.only_ticket(TENANT).last_message_at == NOW


def test_a_message_from_another_thread_about_the_same_order_joins_the_open_ticket(
    service: TicketService, repo: InMemoryRepository
) -> None:
    first = service.receive(make_inbound(channel_thread_id="order-727", order_ref="727"))
    second = service.receive(
        make_inbound(
            channel_message_id="mail-1",
            channel_thread_id="mail-thread-9",
            order_ref="727",
            body="I also wrote by e-mail",
        )
    )

    assert second.ticket_id == first.ticket_id and second.created_ticket is False
    ticket = repo.only_ticket(TENANT)
    assert ticket.message_count == 2
    assert ticket.order_refs == ["727"]
    # The new thread now leads to the same ticket.
    assert repo.find_ticket_by_thread(TENANT, STORE, "mail-thread-9").ticket_id == first.ticket_id


def test_a_message_naming_a_second_order_adds_the_order_ref(service: TicketService, repo: InMemoryRepository) -> None:
    service.receive(make_inbound(order_ref="727"))
    service.receive(make_inbound(channel_message_id="m-2", order_ref="728"))
    assert repo.only_ticket(TENANT).order_refs == ["727", "728"]


def test_the_most_recently_updated_open_ticket_for_the_order_is_joined(
    service: TicketService, repo: InMemoryRepository
) -> None:
    older = service.receive(make_inbound(channel_thread_id="a", order_ref="727"))
    newer = service.receive(make_inbound(channel_message_id="m-2", channel_thread_id="b", order_ref="999"))
    # Ticket "newer" later also mentions order 727 and is the most recently updated one.
    ticket = repo.get_ticket(TENANT, newer.ticket_id)
    ticket.order_refs.append("727")
    ticket.updated_at = ticket.updated_at + timedelta(minutes=1)
    repo.set_ticket(ticket)

    joined = service.receive(make_inbound(channel_message_id="m-3", channel_thread_id="c", order_ref="727"))
    assert joined.ticket_id == newer.ticket_id != older.ticket_id


@pytest.mark.parametrize("status", [TicketStatus.RESOLVED, TicketStatus.CLOSED])
def test_a_finished_ticket_for_the_order_is_not_joined(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers, status: TicketStatus
) -> None:
    first = service.receive(make_inbound(channel_thread_id="order-727", order_ref="727"))
    repo.resolve(TENANT, first.ticket_id, status)

    second = service.receive(
        make_inbound(channel_message_id="mail-1", channel_thread_id="mail-thread-9", order_ref="727")
    )

    assert second.created_ticket is True and second.ticket_id != first.ticket_id
    assert repo.ticket_count(TENANT) == 2
    assert repo.get_ticket(TENANT, first.ticket_id).message_count == 1
    assert len(timers.requests) == 2


def test_a_message_in_the_thread_of_a_resolved_ticket_reopens_it(
    service: TicketService, repo: InMemoryRepository
) -> None:
    first = service.receive(make_inbound())
    repo.resolve(TENANT, first.ticket_id)
    second = service.receive(make_inbound(channel_message_id="m-2"))
    assert second.ticket_id == first.ticket_id
    ticket = repo.only_ticket(TENANT)
    assert ticket.status is TicketStatus.OPEN
    assert ticket.message_count == 2


def test_a_buyer_writing_after_an_answer_starts_a_next_response_timer(
    service: TicketService, repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    repo.put_sla_policy(make_policy(first=60, following=120))
    repo.put_store(make_store(sla_policy_id="fast"))
    first = service.receive(make_inbound())
    answered = repo.get_ticket(TENANT, first.ticket_id)
    answered.first_responded_at = NOW + timedelta(minutes=30)
    answered.status = TicketStatus.WAITING_ON_CUSTOMER
    answered.version += 1
    repo.set_ticket(answered)

    reply_at = NOW + timedelta(hours=3)
    service.receive(make_inbound(channel_message_id="m-2", received_at=reply_at))

    ticket = repo.only_ticket(TENANT)
    assert ticket.status is TicketStatus.OPEN
    assert ticket.next_response_due_at == reply_at + timedelta(minutes=120)
    assert ticket.sla_timer_version == 2
    assert len(timers.requests) == 2
    request = timers.requests[-1]
    assert request.deadline == NEXT_RESPONSE
    assert request.timer_version == "2"
    assert request.due_at == "2024-03-01T17:00:00Z"
    assert timers.execution_names[0] != timers.execution_names[1]


# --- concurrency --------------------------------------------------------------------------------


def test_a_conflict_on_the_first_append_is_retried(
    service: TicketService, repo: InMemoryRepository, sleeps: RecordingSleep
) -> None:
    first = service.receive(make_inbound())
    assert sleeps.delays == []  # no waiting when nothing collides
    repo.fail_next("append_message", Conflict("ticket changed"))

    second = service.receive(make_inbound(channel_message_id="m-2"))

    assert second.ticket_id == first.ticket_id and second.duplicate is False
    assert repo.call_names().count("append_message") == 2
    ticket = repo.only_ticket(TENANT)
    assert ticket.message_count == 2 and ticket.version == 2
    # One jittered pause before the second attempt, within the first backoff step.
    assert len(sleeps.delays) == 1
    assert 0 <= sleeps.delays[0] <= threads.BACKOFF_BASE_SECONDS * 2


def test_a_ticket_changed_by_someone_else_is_reread_and_the_change_reapplied(
    service: TicketService, repo: InMemoryRepository
) -> None:
    first = service.receive(make_inbound())

    def agent_assigns_ticket() -> None:
        ticket = repo.get_ticket(TENANT, first.ticket_id)
        ticket.assignee_id = "agent-7"
        ticket.version += 1
        repo.set_ticket(ticket)

    repo.before_next("append_message", agent_assigns_ticket)
    service.receive(make_inbound(channel_message_id="m-2"))

    ticket = repo.only_ticket(TENANT)
    assert ticket.assignee_id == "agent-7"  # the concurrent change survives
    assert ticket.message_count == 2
    assert ticket.version == 3


def test_two_consumers_racing_on_one_thread_end_up_with_one_ticket(
    repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    service = TicketService(repo, timers, clock=lambda: NOW, sleep=RecordingSleep())
    other_consumer = TicketService(repo, RecordingSlaTimers(), clock=lambda: NOW, sleep=RecordingSleep())
    repo.before_next("create_ticket", lambda: other_consumer.receive(make_inbound(channel_message_id="m-other")))

    result = service.receive(make_inbound())

    assert result.created_ticket is False  # the thread was claimed meanwhile: appended instead
    assert repo.ticket_count(TENANT) == 1
    assert repo.only_ticket(TENANT).message_count == 2


def test_a_ticket_that_keeps_changing_gives_up_with_conflict(
    service: TicketService, repo: InMemoryRepository, sleeps: RecordingSleep
) -> None:
    service.receive(make_inbound())
    repo.fail_next("append_message", Conflict("ticket changed"), times=threads.MAX_ATTEMPTS)

    with pytest.raises(Conflict):
        service.receive(make_inbound(channel_message_id="m-2"))
    assert repo.call_names().count("append_message") == threads.MAX_ATTEMPTS
    assert repo.only_ticket(TENANT).message_count == 1
    # A pause before every attempt but the first, each within its (capped) exponential bound.
    assert len(sleeps.delays) == threads.MAX_ATTEMPTS - 1
    for attempt, delay in enumerate(sleeps.delays, start=1):
        bound = min(threads.BACKOFF_CAP_SECONDS, threads.BACKOFF_BASE_SECONDS * 2**attempt)
        assert 0 <= delay <= bound
    assert max(sleeps.delays) <= threads.BACKOFF_CAP_SECONDS


def test_a_duplicate_raised_by_the_write_is_reported_on_the_next_pass(
    service: TicketService, repo: InMemoryRepository
) -> None:
    first = service.receive(make_inbound())
    concurrent = TicketService(repo, RecordingSlaTimers(), clock=lambda: NOW, sleep=RecordingSleep())
    repo.before_next("append_message", lambda: concurrent.receive(make_inbound(channel_message_id="m-2")))
    result = service.receive(make_inbound(channel_message_id="m-2"))
    assert result.duplicate is True and result.ticket_id == first.ticket_id
    assert repo.only_ticket(TENANT).message_count == 2


def test_other_errors_are_not_retried(service: TicketService, repo: InMemoryRepository) -> None:
    repo.fail_next("create_ticket", RuntimeError("database down"))
    with pytest.raises(RuntimeError):
        service.receive(make_inbound())
    assert repo.call_names().count("create_ticket") == 1


def test_duplicate_message_error_is_swallowed_only_until_the_marker_is_found(
    service: TicketService, repo: InMemoryRepository
) -> None:
    # A DuplicateMessage without the dedup marker ever appearing must not loop forever.
    repo.fail_next("create_ticket", DuplicateMessage("dup"), times=threads.MAX_ATTEMPTS)
    with pytest.raises(Conflict):
        service.receive(make_inbound())


# --- agent reads --------------------------------------------------------------------------------


@pytest.mark.parametrize(("asked", "used"), [(0, 1), (-5, 1), (1, 1), (25, 25), (100, 100), (101, 100), (10_000, 100)])
def test_queue_clamps_the_page_size(service: TicketService, repo: InMemoryRepository, asked: int, used: int) -> None:
    service.queue(TENANT, limit=asked)
    assert repo.calls[-1] == ("list_queue", (TENANT, QueueScope.TENANT, None, used, None))


def test_queue_scopes(service: TicketService, repo: InMemoryRepository) -> None:
    service.queue(TENANT, team_id="billing", cursor="team:billing:0")
    service.queue(TENANT, assignee_id="agent-7")
    service.queue(TENANT)
    scopes = [args[1:3] for name, args in repo.calls if name == "list_queue"]
    assert scopes == [(QueueScope.TEAM, "billing"), (QueueScope.AGENT, "agent-7"), (QueueScope.TENANT, None)]
    assert repo.calls[0][1][4] == "team:billing:0"  # the cursor is handed through untouched


def test_queue_rejects_team_and_assignee_together(service: TicketService, repo: InMemoryRepository) -> None:
    with pytest.raises(ValueError, match="not both"):
        service.queue(TENANT, team_id="billing", assignee_id="agent-7")
    assert "list_queue" not in repo.call_names()


def test_queue_lists_open_tickets_soonest_deadline_first(service: TicketService, repo: InMemoryRepository) -> None:
    late = service.receive(make_inbound(channel_message_id="a", channel_thread_id="a"))
    early = service.receive(
        make_inbound(channel_message_id="b", channel_thread_id="b", received_at=NOW - timedelta(hours=5))
    )
    done = service.receive(
        make_inbound(channel_message_id="c", channel_thread_id="c", received_at=NOW - timedelta(hours=9))
    )
    repo.resolve(TENANT, done.ticket_id)

    page = service.queue(TENANT)
    assert [t.ticket_id for t in page.tickets] == [early.ticket_id, late.ticket_id]
    assert page.next_cursor is None


def test_queue_pages_with_the_cursor_it_returned(service: TicketService) -> None:
    ids = [
        service.receive(
            make_inbound(channel_message_id=f"m{i}", channel_thread_id=f"t{i}", received_at=NOW + timedelta(minutes=i))
        ).ticket_id
        for i in range(3)
    ]
    first = service.queue(TENANT, limit=2)
    assert [t.ticket_id for t in first.tickets] == ids[:2] and first.next_cursor
    second = service.queue(TENANT, limit=2, cursor=first.next_cursor)
    assert [t.ticket_id for t in second.tickets] == ids[2:] and second.next_cursor is None


def test_ticket_view_of_an_unknown_ticket_is_not_found(service: TicketService) -> None:
    with pytest.raises(NotFound):
        service.ticket_view(TENANT, "01HQNOPE000000000000000000")


def test_tickets_are_isolated_per_tenant(service: TicketService, repo: InMemoryRepository) -> None:
    repo.put_store(make_store(tenant_id="t2"))
    a = service.receive(make_inbound())
    b = service.receive(make_inbound(tenant_id="t2"))  # same store id, thread and message id
    assert a.ticket_id != b.ticket_id and b.created_ticket is True and b.duplicate is False
    with pytest.raises(NotFound):
        service.ticket_view("t2", a.ticket_id)
