"""Ticket actions (helpdesk.tickets.actions) on the in-memory repository: one audit event per change,
optimistic-lock retries, SLA timer versions, snooze and wake-up, merge (resumable, threads follow),
split, and bulk (per-ticket outcomes, idempotent)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from helpdesk.core.errors import Conflict, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    Agent,
    DeliveryStatus,
    Message,
    MessageDirection,
    Priority,
    Team,
    Ticket,
    TicketStatus,
)
from helpdesk.replies.agent_replies import stale_entries
from helpdesk.routing.aging import AgingService
from helpdesk.tickets.actions import (
    BulkAction,
    BulkRequest,
    ReplyInFlight,
    TicketActions,
    TicketChanges,
    TicketMerged,
    copy_id,
)
from helpdesk.tickets.ports import QueueScope
from helpdesk.tickets.threads import TicketService
from tests.fakes.repository import InMemoryRepository
from tests.fakes.sla_timers import RecordingSlaTimers
from tests.unit.builders import NOW, TENANT, make_inbound, make_ticket

LATER = NOW + timedelta(minutes=10)


@pytest.fixture
def actions(repo: InMemoryRepository, timers: RecordingSlaTimers) -> TicketActions:
    repo.agents = [agent("agent-1"), agent("agent-2"), agent("gone", active=False)]
    repo.put_team(Team(tenant_id=TENANT, team_id="billing", name="Billing"))
    return TicketActions(repo, timers, clock=lambda: LATER)


def agent(agent_id: str, **extra: Any) -> Agent:
    return Agent(tenant_id=TENANT, agent_id=agent_id, name=agent_id, email=f"{agent_id}@seller.example", **extra)


def received(
    service: TicketService,
    repo: InMemoryRepository,
    *bodies: str,
    thread: str = "thread-1",
    order_ref: str | None = None,
    email: str = "buyer@example.com",
    start: int = 0,
) -> Ticket:
    """A ticket holding the buyer's messages (one channel thread), as the intake stores it."""
    result = None
    for i, body in enumerate(bodies):
        result = service.receive(
            make_inbound(
                channel_message_id=f"{thread}-m{i}",
                channel_thread_id=thread,
                body=body,
                order_ref=order_ref,
                buyer_email=email,
                received_at=NOW + timedelta(minutes=start + i),
            )
        )
    assert result is not None
    return stored(repo, result.ticket_id)


def stored(repo: InMemoryRepository, ticket_id: str) -> Ticket:
    return repo.tickets[(TENANT, ticket_id)].model_copy(deep=True)


def events(repo: InMemoryRepository, ticket_id: str) -> list[str]:
    return [m.body for m in repo.messages[(TENANT, ticket_id)] if m.direction == MessageDirection.EVENT]


def bodies(repo: InMemoryRepository, ticket_id: str) -> list[str]:
    timeline = sorted(repo.messages[(TENANT, ticket_id)], key=lambda m: (m.created_at, m.message_id))
    return [m.body for m in timeline if m.direction != MessageDirection.EVENT]


def queue_ids(repo: InMemoryRepository, scope: str = QueueScope.TENANT, scope_id: str | None = None) -> list[str]:
    return [t.ticket_id for t in repo.list_queue(TENANT, scope, scope_id, 100, None).tickets]


# --- PATCH: assign, team, priority, status, tags ------------------------------------------------


def test_one_request_changes_several_fields_with_one_audit_event(
    repo: InMemoryRepository, actions: TicketActions
) -> None:
    ticket = make_ticket(tags=["cancellation_request"], aging_level=2)
    repo.set_ticket(ticket)
    with pytest.raises(ValidationError, match="added and removed"):
        TicketChanges(tags_add=["VIP"], tags_remove=["vip"])
    changes = TicketChanges(assignee_id="agent-2", team_id="billing", priority="high", tags_add=["VIP "])
    updated = actions.change(TENANT, "agent-1", ticket.ticket_id, changes)
    assert (updated.assignee_id, updated.team_id, updated.priority) == ("agent-2", "billing", Priority.HIGH)
    assert updated.tags == ["cancellation_request", "vip"]
    assert updated.last_agent_action_at == LATER and updated.aging_level == 0  # the aging clock restarts
    assert events(repo, ticket.ticket_id) == [
        "agent-1: assigned to agent-2; team none → billing; priority normal → high; tags +vip"
    ]
    event = repo.messages[(TENANT, ticket.ticket_id)][-1]
    assert (event.author, event.author_id) == ("agent-1", "agent-1")
    assert repo.agents[1].last_assigned_at == LATER  # round-robin bookkeeping, as the intake does
    assert queue_ids(repo, QueueScope.AGENT, "agent-2") == [ticket.ticket_id]
    assert queue_ids(repo, QueueScope.TEAM, "billing") == [ticket.ticket_id]


def test_the_same_request_again_changes_nothing_and_writes_no_event(
    repo: InMemoryRepository, actions: TicketActions
) -> None:
    ticket = make_ticket()
    repo.set_ticket(ticket)
    changes = TicketChanges(assignee_id="agent-2", tags_add=["vip"])
    first = actions.change(TENANT, "agent-1", ticket.ticket_id, changes)
    again = actions.change(TENANT, "agent-1", ticket.ticket_id, changes)
    assert again.version == first.version
    assert len(events(repo, ticket.ticket_id)) == 1


def test_unassign_and_remove_the_team_with_null(repo: InMemoryRepository, actions: TicketActions) -> None:
    ticket = make_ticket(assignee_id="agent-2", team_id="billing", tags=["vip", "late"])
    repo.set_ticket(ticket)
    changes = TicketChanges.model_validate({"assignee_id": None, "team_id": None, "tags_remove": ["VIP"]})
    updated = actions.change(TENANT, "agent-1", ticket.ticket_id, changes)
    assert (updated.assignee_id, updated.team_id, updated.tags) == (None, None, ["late"])
    assert events(repo, ticket.ticket_id) == ["agent-1: unassigned (was agent-2); team billing → none; tags -vip"]
    assert queue_ids(repo, QueueScope.AGENT, "agent-2") == []
    assert queue_ids(repo) == [ticket.ticket_id]  # still owed an answer


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"assignee_id": "nobody"}, "not an active agent"),
        ({"assignee_id": "gone"}, "not an active agent"),
        ({"team_id": "sales"}, "no team 'sales'"),
    ],
)
def test_only_an_active_agent_and_an_existing_team_can_be_set(
    repo: InMemoryRepository, actions: TicketActions, changes: dict[str, str], error: str
) -> None:
    ticket = make_ticket()
    repo.set_ticket(ticket)
    repo.put_team(Team(tenant_id="someone-else", team_id="sales", name="Another tenant's team"))
    with pytest.raises(ValueError, match=error):
        actions.change(TENANT, "agent-1", ticket.ticket_id, TicketChanges.model_validate(changes))
    assert stored(repo, ticket.ticket_id) == ticket and events(repo, ticket.ticket_id) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tags_add": []},
        {"status": "snoozed"},
        {"priority": None},
        {"status": None},
        {"tags_add": ["no spaces"]},
        {"tags_add": ["-leading-dash"]},
        {"assignee_id": "bad id!"},
        {"subject": "not a field"},
    ],
)
def test_bad_changes_are_refused_by_the_model(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TicketChanges.model_validate(body)


def test_resolving_leaves_the_queue_and_makes_the_running_timer_stale(
    repo: InMemoryRepository, actions: TicketActions, timers: RecordingSlaTimers
) -> None:
    ticket = make_ticket(assignee_id="agent-1", status=TicketStatus.OPEN)
    repo.set_ticket(ticket)
    resolved = actions.change(TENANT, "agent-1", ticket.ticket_id, TicketChanges(status="resolved"))
    assert resolved.status == TicketStatus.RESOLVED
    assert resolved.sla_timer_version == ticket.sla_timer_version + 1
    assert queue_ids(repo) == [] and queue_ids(repo, QueueScope.AGENT, "agent-1") == []
    assert timers.requests == []
    assert events(repo, ticket.ticket_id) == ["agent-1: status open → resolved"]
    closed = actions.change(TENANT, "agent-1", ticket.ticket_id, TicketChanges(status="closed"))
    assert closed.sla_timer_version == resolved.sla_timer_version  # already stopped


def test_reopening_rearms_the_timer_only_while_the_deadline_is_ahead(
    repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    ahead = make_ticket(
        ticket_id="T-AHEAD",
        status=TicketStatus.RESOLVED,
        sla_timer_version=2,
        first_response_due_at=NOW + timedelta(hours=3),
    )
    passed = make_ticket(
        ticket_id="T-PASSED",
        status=TicketStatus.RESOLVED,
        sla_timer_version=2,
        first_response_due_at=NOW - timedelta(hours=3),
    )
    breached = make_ticket(
        ticket_id="T-BREACHED",
        status=TicketStatus.CLOSED,
        sla_timer_version=2,
        first_response_due_at=NOW + timedelta(hours=3),
        sla_breached_at=NOW,
    )
    for ticket in (ahead, passed, breached):
        repo.set_ticket(ticket)
    actions = TicketActions(repo, timers, clock=lambda: LATER)
    reopened = [
        actions.change(TENANT, "agent-1", t.ticket_id, TicketChanges(status="open")) for t in (ahead, passed, breached)
    ]
    assert [t.sla_timer_version for t in reopened] == [3, 2, 2]
    assert [(r.ticket_id, r.timer_version, r.deadline) for r in timers.requests] == [("T-AHEAD", "3", "first_response")]
    assert sorted(queue_ids(repo)) == ["T-AHEAD", "T-BREACHED", "T-PASSED"]  # all owed an answer again


def test_a_concurrent_change_is_reread_and_both_survive(repo: InMemoryRepository, actions: TicketActions) -> None:
    ticket = make_ticket()
    repo.set_ticket(ticket)

    def colleague_sets_priority() -> None:
        current = stored(repo, ticket.ticket_id)
        current.priority = Priority.URGENT
        current.version += 1
        repo.set_ticket(current)

    repo.before_next("update_ticket", colleague_sets_priority)
    updated = actions.change(TENANT, "agent-1", ticket.ticket_id, TicketChanges(tags_add=["vip"]))
    assert (updated.priority, updated.tags, updated.version) == (Priority.URGENT, ["vip"], ticket.version + 2)
    assert repo.call_names().count("update_ticket") == 2


def test_a_ticket_that_keeps_changing_is_a_conflict(repo: InMemoryRepository, actions: TicketActions) -> None:
    ticket = make_ticket()
    repo.set_ticket(ticket)
    repo.fail_next("update_ticket", Conflict("changed"), times=5)
    with pytest.raises(Conflict):
        actions.change(TENANT, "agent-1", ticket.ticket_id, TicketChanges(priority="low"))


def test_another_tenants_ticket_is_not_found(repo: InMemoryRepository, actions: TicketActions) -> None:
    ticket = make_ticket(tenant_id="other")
    repo.set_ticket(ticket)
    with pytest.raises(NotFound):
        actions.change(TENANT, "agent-1", ticket.ticket_id, TicketChanges(priority="low"))
    with pytest.raises(NotFound):
        actions.snooze(TENANT, "agent-1", ticket.ticket_id, LATER + timedelta(days=1))
    assert stored_other(repo, ticket) == ticket


def stored_other(repo: InMemoryRepository, ticket: Ticket) -> Ticket:
    return repo.tickets[(ticket.tenant_id, ticket.ticket_id)]


# --- snooze and wake-up ---------------------------------------------------------------------------


def test_a_snoozed_ticket_leaves_the_queues_and_the_aging_run_brings_it_back(
    repo: InMemoryRepository, timers: RecordingSlaTimers
) -> None:
    repo.agents = [agent("agent-1")]
    ticket = make_ticket(
        assignee_id="agent-1", status=TicketStatus.OPEN, first_response_due_at=NOW + timedelta(hours=5)
    )
    repo.set_ticket(ticket)
    until = NOW + timedelta(hours=2)
    snoozed = TicketActions(repo, timers, clock=lambda: LATER).snooze(TENANT, "agent-1", ticket.ticket_id, until)
    assert (snoozed.status, snoozed.snoozed_until) == (TicketStatus.SNOOZED, until)
    assert snoozed.sla_timer_version == ticket.sla_timer_version  # parked: the timer's status check pauses it
    assert queue_ids(repo) == [] and queue_ids(repo, QueueScope.AGENT, "agent-1") == []
    assert events(repo, ticket.ticket_id) == [f"agent-1: snoozed until {until.isoformat()} (was open)"]

    early = AgingService(repo, clock=lambda: until - timedelta(minutes=1), timers=timers).run(TENANT)
    assert early.woken == [] and stored(repo, ticket.ticket_id).status == TicketStatus.SNOOZED
    report = AgingService(repo, clock=lambda: until, timers=timers).run(TENANT)
    assert report.woken == [ticket.ticket_id] and report.as_dict()["woken"] == [ticket.ticket_id]
    woken = stored(repo, ticket.ticket_id)
    assert (woken.status, woken.snoozed_until) == (TicketStatus.OPEN, None)
    assert queue_ids(repo, QueueScope.AGENT, "agent-1") == [ticket.ticket_id]
    assert events(repo, ticket.ticket_id)[-1] == f"Snooze until {until.isoformat()} ended: back in the queue"
    assert repo.messages[(TENANT, ticket.ticket_id)][-1].author == "system"
    # The deadline is still ahead: a fresh timer for a new version (the old one may have ended stale).
    assert woken.sla_timer_version == ticket.sla_timer_version + 1
    assert [(r.timer_version, r.due_at) for r in timers.requests] == [
        (str(woken.sla_timer_version), "2024-03-01T17:00:00Z")
    ]
    assert AgingService(repo, clock=lambda: until + timedelta(hours=1), timers=timers).run(TENANT).woken == []


def test_snoozing_again_moves_the_wake_up_and_the_same_snooze_is_unchanged(
    repo: InMemoryRepository, actions: TicketActions
) -> None:
    ticket = make_ticket()
    repo.set_ticket(ticket)
    actions.snooze(TENANT, "agent-1", ticket.ticket_id, NOW + timedelta(days=1))
    moved = actions.snooze(TENANT, "agent-1", ticket.ticket_id, NOW + timedelta(days=2))
    same = actions.snooze(TENANT, "agent-1", ticket.ticket_id, NOW + timedelta(days=2))
    assert moved.snoozed_until == NOW + timedelta(days=2) and same.version == moved.version
    assert len(events(repo, ticket.ticket_id)) == 2
    assert repo.list_snoozed_due(TENANT, NOW + timedelta(days=1, hours=1), 10) == []


@pytest.mark.parametrize("until", [LATER, LATER - timedelta(minutes=1), LATER + timedelta(days=90, seconds=1)])
def test_snooze_must_be_in_the_future_and_within_90_days(
    repo: InMemoryRepository, actions: TicketActions, until: Any
) -> None:
    ticket = make_ticket()
    repo.set_ticket(ticket)
    with pytest.raises(ValueError, match=r"future|90 days"):
        actions.snooze(TENANT, "agent-1", ticket.ticket_id, until)
    assert stored(repo, ticket.ticket_id) == ticket


def test_a_buyer_message_wakes_a_snoozed_ticket_before_its_time(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions, timers: RecordingSlaTimers
) -> None:
    ticket = received(service, repo, "Where is my parcel?")
    actions.snooze(TENANT, "agent-1", ticket.ticket_id, NOW + timedelta(days=3))
    service.receive(make_inbound(channel_message_id="later", body="Any news?", received_at=NOW + timedelta(hours=1)))
    back = stored(repo, ticket.ticket_id)
    assert (back.status, back.snoozed_until) == (TicketStatus.OPEN, None)
    assert queue_ids(repo) == [ticket.ticket_id]
    assert AgingService(repo, clock=lambda: NOW + timedelta(days=4), timers=timers).run(TENANT).woken == []


def test_status_changes_out_of_snooze_clear_the_wake_up(repo: InMemoryRepository, actions: TicketActions) -> None:
    ticket = make_ticket(status=TicketStatus.SNOOZED, snoozed_until=NOW + timedelta(days=1))
    repo.set_ticket(ticket)
    updated = actions.change(TENANT, "agent-1", ticket.ticket_id, TicketChanges(status="open"))
    assert (updated.status, updated.snoozed_until) == (TicketStatus.OPEN, None)
    assert repo.list_snoozed_due(TENANT, NOW + timedelta(days=2), 10) == []


# --- merge ------------------------------------------------------------------------------------------


def merge_pair(service: TicketService, repo: InMemoryRepository) -> tuple[Ticket, Ticket]:
    target = received(service, repo, "Where is order 1001?", "Hello?", thread="t-target", order_ref="1001")
    source = received(
        service, repo, "Also, invoice for 1002 please", thread="t-source", order_ref="1002", email="buyer@example.com"
    )
    current = stored(repo, source.ticket_id)
    current.tags = ["invoice"]
    current.version += 1
    repo.set_ticket(current)
    return target, stored(repo, source.ticket_id)


def test_merge_joins_the_timelines_and_closes_the_source(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target, source = merge_pair(service, repo)
    merged = actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert merged.order_refs == ["1001", "1002"] and merged.tags == ["invoice"]
    assert merged.message_count == 3
    # Original times kept (the timeline sorts by them), new ids unique to the target.
    assert bodies(repo, target.ticket_id) == ["Where is order 1001?", "Also, invoice for 1002 please", "Hello?"]
    ids = [m.message_id for m in repo.messages[(TENANT, target.ticket_id)]]
    assert len(ids) == len(set(ids))
    source_ids = {m.message_id for m in repo.messages[(TENANT, source.ticket_id)]}
    assert not source_ids & set(ids)
    closed = stored(repo, source.ticket_id)
    assert (closed.status, closed.merged_into) == (TicketStatus.CLOSED, target.ticket_id)
    assert closed.sla_timer_version == source.sla_timer_version + 1
    assert queue_ids(repo) == [target.ticket_id]
    assert events(repo, source.ticket_id) == [f"agent-1: merged into ticket {target.ticket_id}"]
    assert events(repo, target.ticket_id) == [
        f"agent-1: merged ticket {source.ticket_id} into this one (1 messages); order refs +1002; tags +invoice"
    ]


def test_later_messages_of_the_source_thread_go_to_the_target(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target, source = merge_pair(service, repo)
    actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert repo.threads[(TENANT, "s1", "t-source")] == target.ticket_id
    result = service.receive(
        make_inbound(
            channel_message_id="t-source-late",
            channel_thread_id="t-source",
            body="Still need that invoice",
            received_at=NOW + timedelta(hours=2),
        )
    )
    assert result.ticket_id == target.ticket_id and not result.created_ticket
    assert bodies(repo, target.ticket_id)[-1] == "Still need that invoice"


def test_threading_follows_a_chain_of_merges(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    first = received(service, repo, "one", thread="a")
    second = received(service, repo, "two", thread="b", start=1)
    third = received(service, repo, "three", thread="c", start=2)
    actions.merge(TENANT, "agent-1", second.ticket_id, first.ticket_id)
    actions.merge(TENANT, "agent-1", third.ticket_id, second.ticket_id)
    # The first thread's pointer was moved twice; an e-mail quoting the first message (References)
    # finds the first ticket by its marker and follows merged_into along the chain.
    assert repo.threads[(TENANT, "s1", "a")] == third.ticket_id
    result = service.receive(
        make_inbound(
            channel_message_id="quote",
            channel_thread_id=None,
            references=["a-m0"],
            body="re: one",
            received_at=NOW + timedelta(hours=1),
        )
    )
    assert result.ticket_id == third.ticket_id
    assert bodies(repo, third.ticket_id) == ["one", "two", "three", "re: one"]


def test_repeating_a_merge_duplicates_nothing(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target, source = merge_pair(service, repo)
    first = actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    again = actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert again.version == first.version
    assert len(repo.messages[(TENANT, target.ticket_id)]) == 4  # 3 messages + 1 event


def test_a_merge_that_crashed_half_way_is_finished_by_a_retry(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target, source = merge_pair(service, repo)
    repo.fail_next("update_ticket", RuntimeError("Lambda timed out"))  # after the source closed and the copies
    with pytest.raises(RuntimeError):
        actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert stored(repo, source.ticket_id).merged_into == target.ticket_id
    assert stored(repo, target.ticket_id).order_refs == ["1001"]  # not finished
    merged = actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert merged.order_refs == ["1001", "1002"] and merged.message_count == 3
    assert bodies(repo, target.ticket_id) == ["Where is order 1001?", "Also, invoice for 1002 please", "Hello?"]
    assert len(events(repo, target.ticket_id)) == 1 and len(events(repo, source.ticket_id)) == 1
    copy_ids = [
        m.message_id for m in repo.messages[(TENANT, target.ticket_id)] if m.body == "Also, invoice for 1002 please"
    ]
    event_id = next(
        m.message_id for m in repo.messages[(TENANT, source.ticket_id)] if m.direction == MessageDirection.EVENT
    )
    original = next(
        m.message_id for m in repo.messages[(TENANT, source.ticket_id)] if m.direction == MessageDirection.INBOUND
    )
    assert copy_ids == [copy_id(event_id[:10], 0, original)]  # the same ids both times


def test_merge_refusals(repo: InMemoryRepository, service: TicketService, actions: TicketActions) -> None:
    target, source = merge_pair(service, repo)
    other = received(service, repo, "third", thread="t-other")
    foreign = make_ticket(tenant_id="someone-else", ticket_id="FOREIGN")
    repo.set_ticket(foreign)
    with pytest.raises(ValueError, match="itself"):
        actions.merge(TENANT, "agent-1", target.ticket_id, target.ticket_id)
    with pytest.raises(NotFound):
        actions.merge(TENANT, "agent-1", target.ticket_id, "FOREIGN")
    with pytest.raises(NotFound):
        actions.merge(TENANT, "agent-1", "FOREIGN", source.ticket_id)
    actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    with pytest.raises(TicketMerged) as already:
        actions.merge(TENANT, "agent-1", other.ticket_id, source.ticket_id)
    assert already.value.status == 409 and already.value.code == "ticket_merged"
    with pytest.raises(TicketMerged):  # into a merged ticket: merge into the one it went to
        actions.merge(TENANT, "agent-1", source.ticket_id, other.ticket_id)
    with pytest.raises(TicketMerged):  # nor change a merged ticket
        actions.change(TENANT, "agent-1", source.ticket_id, TicketChanges(status="open"))
    assert stored(repo, other.ticket_id).merged_into is None


def test_the_target_merged_meanwhile_stops_the_merge(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target, source = merge_pair(service, repo)

    def target_merged_elsewhere() -> None:
        current = stored(repo, target.ticket_id)
        current.merged_into, current.status = "ELSEWHERE", TicketStatus.CLOSED
        repo.set_ticket(current)

    repo.before_next("close_merged_source", target_merged_elsewhere)
    with pytest.raises(TicketMerged):
        actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert stored(repo, source.ticket_id).merged_into is None


def test_merged_copies_sort_in_timeline_order_so_a_reply_after_the_merge_is_not_stale(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target = received(service, repo, "Where is order 1001?", thread="t-target")
    seen_before = repo.messages[(TENANT, target.ticket_id)][-1].message_id
    source = received(service, repo, *[f"follow-up {i}" for i in range(8)], thread="t-source", start=1)
    actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    view = repo.get_ticket_view(TENANT, target.ticket_id)
    assert view is not None
    said = [m for m in view.messages if m.direction != MessageDirection.EVENT]
    assert [m.body for m in said] == ["Where is order 1001?", *[f"follow-up {i}" for i in range(8)]]
    copies = [m.message_id for m in said[1:]]
    assert copies == sorted(copies)  # ids in timeline order
    assert all(c > seen_before for c in copies)  # and newer than anything stored before the merge
    # The agent names the newest entry (max id among buyer messages, replies and notes): not stale.
    newest = max(m.message_id for m in said)
    assert newest == said[-1].message_id
    assert stale_entries(view, newest, "agent-1") == []
    # Whoever read the timeline before the merge has not seen the merged-in messages.
    assert [m.message_id for m in stale_entries(view, seen_before, "agent-1")] == copies


def test_merge_refuses_a_source_whose_reply_is_on_its_way(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target, source = merge_pair(service, repo)
    reply = Message(
        tenant_id=TENANT,
        ticket_id=source.ticket_id,
        message_id=new_id(NOW),
        channel=source.channel,
        direction=MessageDirection.OUTBOUND,
        store_id=source.store_id,
        channel_thread_id="t-source",
        author="agent-2",
        author_id="agent-2",
        body="Here is your invoice",
        created_at=NOW,
        delivery_status=DeliveryStatus.QUEUED,
    )
    repo.messages[(TENANT, source.ticket_id)].append(reply)
    for state in ("queued", "sending"):
        reply.delivery_status = DeliveryStatus(state)
        with pytest.raises(ReplyInFlight, match="sent or failed") as refused:
            actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
        assert (refused.value.status, refused.value.code) == (409, "reply_in_flight")
        assert refused.value.details["message_ids"] == [reply.message_id]
        assert stored(repo, source.ticket_id) == source  # not closed, threads not moved, nothing copied
        assert repo.threads[(TENANT, "s1", "t-source")] == source.ticket_id
        assert bodies(repo, target.ticket_id) == ["Where is order 1001?", "Hello?"]
    reply.delivery_status = DeliveryStatus.FAILED  # the outcome is known: the merge may go on
    merged = actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert stored(repo, source.ticket_id).merged_into == target.ticket_id
    assert "Here is your invoice" in bodies(repo, target.ticket_id) and merged.order_refs == ["1001", "1002"]


def test_an_owed_source_merged_into_a_waiting_target_puts_the_answer_back_in_the_queue(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions, timers: RecordingSlaTimers
) -> None:
    target = received(service, repo, "Where is order 1001?", thread="t-target")
    answered = stored(repo, target.ticket_id)
    answered.status, answered.first_responded_at = TicketStatus.WAITING_ON_CUSTOMER, NOW + timedelta(minutes=2)
    answered.next_response_due_at, answered.sla_timer_version = None, answered.sla_timer_version + 1
    answered.version += 1
    repo.set_ticket(answered)
    source = received(service, repo, "And the invoice for 1002?", thread="t-source", start=5)
    assert queue_ids(repo) == [source.ticket_id]
    timers.requests.clear()

    merged = actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    assert merged.status == TicketStatus.OPEN
    assert merged.sla_due_at == merged.next_response_due_at == source.first_response_due_at  # answered once
    assert merged.first_responded_at == answered.first_responded_at
    assert merged.sla_timer_version == answered.sla_timer_version + 1
    assert stored(repo, target.ticket_id) == merged
    assert queue_ids(repo) == [target.ticket_id]  # the owed answer is in the queue, under the target
    assert [(r.ticket_id, r.timer_version, r.deadline, r.due_at) for r in timers.requests] == [
        (target.ticket_id, str(merged.sla_timer_version), "next_response", "2024-03-02T12:05:00Z")
    ]
    assert events(repo, target.ticket_id) == [
        f"agent-1: merged ticket {source.ticket_id} into this one (1 messages); status waiting_on_customer → open "
        f"(ticket {source.ticket_id} is owed an answer); answer due 2024-03-02T12:05:00+00:00 "
        f"(ticket {source.ticket_id}'s deadline)"
    ]


LATE = NOW + timedelta(hours=1)
EARLY = NOW + timedelta(minutes=30)
WARNED = NOW + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("target_fields", "source_fields", "expected", "timer"),
    [
        # both owed: the earlier deadline wins, with the warning already recorded for it
        (
            {"status": TicketStatus.OPEN, "first_response_due_at": LATE, "sla_warn_at": LATE},
            {"first_response_due_at": EARLY, "sla_warned_at": WARNED},
            {"status": TicketStatus.OPEN, "sla_due_at": EARLY, "sla_warned_at": WARNED, "sla_warn_at": None, "bump": 1},
            True,
        ),
        # the target's own deadline comes first: nothing changes, its timer runs on
        (
            {"status": TicketStatus.OPEN, "first_response_due_at": EARLY},
            {"first_response_due_at": LATE},
            {"status": TicketStatus.OPEN, "sla_due_at": EARLY, "bump": 0},
            False,
        ),
        # the source's deadline passed and its breach was recorded: carried over, no second breach
        (
            {"status": TicketStatus.RESOLVED, "first_responded_at": NOW, "sla_breached_at": NOW - timedelta(days=2)},
            {"first_response_due_at": NOW - timedelta(minutes=1), "sla_breached_at": NOW},
            {
                "status": TicketStatus.OPEN,
                "sla_due_at": NOW - timedelta(minutes=1),
                "sla_breached_at": NOW,
                "sla_breach_inherited_at": NOW,
                "bump": 1,
            },  # reports count it on the source only
            False,
        ),
        # a source waiting on the customer owes nothing: the target stays as it is
        (
            {"status": TicketStatus.WAITING_ON_CUSTOMER, "first_responded_at": NOW},
            {"status": TicketStatus.WAITING_ON_CUSTOMER, "first_responded_at": NOW, "first_response_due_at": EARLY},
            {"status": TicketStatus.WAITING_ON_CUSTOMER, "sla_due_at": None, "bump": 0},
            False,
        ),
        # a snoozed source still owes its answer; a snoozed target comes back with its own earlier deadline
        (
            {"status": TicketStatus.SNOOZED, "snoozed_until": LATE, "first_response_due_at": EARLY},
            {"status": TicketStatus.SNOOZED, "snoozed_until": LATE, "first_response_due_at": LATE},
            {"status": TicketStatus.OPEN, "sla_due_at": EARLY, "snoozed_until": None, "bump": 1},
            True,
        ),
    ],
)
def test_the_merged_ticket_owes_the_earliest_owed_deadline(
    repo: InMemoryRepository,
    actions: TicketActions,
    timers: RecordingSlaTimers,
    target_fields: dict[str, Any],
    source_fields: dict[str, Any],
    expected: dict[str, Any],
    timer: bool,
) -> None:
    target = make_ticket(ticket_id="TARGET", sla_timer_version=3, **target_fields)
    source = make_ticket(ticket_id="SOURCE", sla_timer_version=7, **source_fields)
    repo.set_ticket(target)
    repo.set_ticket(source)
    merged = actions.merge(TENANT, "agent-1", "TARGET", "SOURCE")
    bump = expected.pop("bump")
    assert {name: getattr(merged, name) for name in expected} == expected
    assert merged.sla_timer_version == target.sla_timer_version + bump
    assert stored(repo, "SOURCE").sla_timer_version == 8  # the source's own timer is stale
    started = [(r.ticket_id, r.timer_version) for r in timers.requests]
    assert started == ([("TARGET", str(merged.sla_timer_version))] if timer else [])


def test_a_merge_retried_after_a_crash_still_hands_over_the_owed_answer(
    repo: InMemoryRepository, actions: TicketActions, timers: RecordingSlaTimers
) -> None:
    target = make_ticket(ticket_id="TARGET", status=TicketStatus.WAITING_ON_CUSTOMER, first_responded_at=NOW)
    source = make_ticket(ticket_id="SOURCE", status=TicketStatus.OPEN, first_response_due_at=EARLY)
    repo.set_ticket(target)
    repo.set_ticket(source)
    repo.fail_next("update_ticket", RuntimeError("Lambda timed out"))  # the source is closed already
    with pytest.raises(RuntimeError):
        actions.merge(TENANT, "agent-1", "TARGET", "SOURCE")
    assert stored(repo, "SOURCE").status == TicketStatus.CLOSED and stored(repo, "TARGET") == target
    merged = actions.merge(TENANT, "agent-1", "TARGET", "SOURCE")
    assert (merged.status, merged.sla_due_at, merged.sla_timer_version) == (
        TicketStatus.OPEN,
        EARLY,
        target.sla_timer_version + 1,
    )
    assert [r.ticket_id for r in timers.requests] == ["TARGET"]


# --- split ------------------------------------------------------------------------------------------


def test_split_moves_a_buyer_message_into_a_new_ticket(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions, timers: RecordingSlaTimers
) -> None:
    ticket = received(service, repo, "Where is order 1001?", "Unrelated: do you sell gift cards?", order_ref="1001")
    moved = next(m for m in repo.messages[(TENANT, ticket.ticket_id)] if m.body.startswith("Unrelated"))
    timers.requests.clear()
    new = actions.split(TENANT, "agent-1", ticket.ticket_id, moved.message_id)
    assert new.ticket_id != ticket.ticket_id
    assert (new.status, new.store_id, new.channel, new.customer_email, new.order_refs) == (
        TicketStatus.NEW,
        ticket.store_id,
        ticket.channel,
        "buyer@example.com",
        ["1001"],
    )
    assert new.subject == "Unrelated: do you sell gift cards?"
    assert new.first_response_due_at == ticket.first_response_due_at  # the wait it already had
    assert bodies(repo, new.ticket_id) == ["Unrelated: do you sell gift cards?"]
    assert repo.messages[(TENANT, new.ticket_id)][0].message_id == moved.message_id
    assert bodies(repo, ticket.ticket_id) == ["Where is order 1001?"]
    old = stored(repo, ticket.ticket_id)
    assert old.message_count == 1 and old.last_message_at == NOW
    assert events(repo, ticket.ticket_id) == [
        f"agent-1: message {moved.message_id} split into new ticket {new.ticket_id}"
    ]
    assert events(repo, new.ticket_id) == [
        f"agent-1: split from ticket {ticket.ticket_id} (message {moved.message_id})"
    ]
    assert repo.channel_messages[(TENANT, "s1", "thread-1-m1")] == (new.ticket_id, moved.message_id)
    assert sorted(queue_ids(repo)) == sorted([ticket.ticket_id, new.ticket_id])
    assert [r.ticket_id for r in timers.requests] == [new.ticket_id]


def test_a_message_that_came_in_through_a_merge_can_be_split_off(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    target, source = merge_pair(service, repo)
    actions.merge(TENANT, "agent-1", target.ticket_id, source.ticket_id)
    copy = next(m for m in repo.messages[(TENANT, target.ticket_id)] if m.body.startswith("Also, invoice"))
    new = actions.split(TENANT, "agent-1", target.ticket_id, copy.message_id)
    assert bodies(repo, new.ticket_id) == ["Also, invoice for 1002 please"]
    assert bodies(repo, target.ticket_id) == ["Where is order 1001?", "Hello?"]
    assert repo.channel_messages[(TENANT, "s1", "t-source-m0")] == (new.ticket_id, copy.message_id)


def test_split_refusals(repo: InMemoryRepository, service: TicketService, actions: TicketActions) -> None:
    single = received(service, repo, "only message", thread="single")
    (only,) = repo.messages[(TENANT, single.ticket_id)]
    with pytest.raises(Conflict, match="only buyer message"):
        actions.split(TENANT, "agent-1", single.ticket_id, only.message_id)
    actions.change(TENANT, "agent-1", single.ticket_id, TicketChanges(priority="low"))
    event = repo.messages[(TENANT, single.ticket_id)][-1]
    with pytest.raises(ValueError, match="buyer message"):
        actions.split(TENANT, "agent-1", single.ticket_id, event.message_id)
    with pytest.raises(NotFound):
        actions.split(TENANT, "agent-1", single.ticket_id, "NO-SUCH-MESSAGE")
    with pytest.raises(NotFound):
        actions.split("someone-else", "agent-1", single.ticket_id, only.message_id)
    assert repo.ticket_count(TENANT) == 1


# --- bulk -------------------------------------------------------------------------------------------


def test_bulk_reports_each_ticket_and_is_idempotent(
    repo: InMemoryRepository, service: TicketService, actions: TicketActions
) -> None:
    plain = make_ticket(ticket_id="A")
    tagged = make_ticket(ticket_id="B", assignee_id="agent-2", tags=["vip"])
    foreign = make_ticket(ticket_id="C", tenant_id="someone-else")
    merged = make_ticket(ticket_id="D", status=TicketStatus.CLOSED, merged_into="A")
    for ticket in (plain, tagged, foreign, merged):
        repo.set_ticket(ticket)
    request = BulkRequest(
        ticket_ids=["A", "B", "C", "D", "A"], action=BulkAction(assignee_id="agent-2", tags_add=["vip"])
    )
    first = actions.bulk(TENANT, "agent-1", request)
    assert [(r.ticket_id, r.outcome.value) for r in first.results] == [
        ("A", "updated"),
        ("B", "unchanged"),
        ("C", "not_found"),
        ("D", "invalid"),
    ]
    assert "merged into A" in (first.results[3].error or "")
    second = actions.bulk(TENANT, "agent-1", request)
    assert [r.outcome.value for r in second.results] == ["unchanged", "unchanged", "not_found", "invalid"]
    assert stored(repo, "A").assignee_id == "agent-2" and stored(repo, "A").tags == ["vip"]
    assert events(repo, "A") == ["agent-1: assigned to agent-2; tags +vip"]
    assert repo.tickets[("someone-else", "C")] == foreign


def test_bulk_snooze_and_conflicts(repo: InMemoryRepository, actions: TicketActions) -> None:
    for ticket_id in ("A", "B"):
        repo.set_ticket(make_ticket(ticket_id=ticket_id))
    until = NOW + timedelta(days=1)
    repo.fail_next("update_ticket", Conflict("changed"), times=5)  # A keeps changing; B is fine
    answer = actions.bulk(
        TENANT, "agent-1", BulkRequest(ticket_ids=["A", "B"], action=BulkAction(snooze_until=until, priority="low"))
    )
    assert [(r.ticket_id, r.outcome.value) for r in answer.results] == [("A", "conflict"), ("B", "updated")]
    assert (stored(repo, "B").status, stored(repo, "B").priority) == (TicketStatus.SNOOZED, Priority.LOW)
    assert events(repo, "B") == [f"agent-1: priority normal → low; snoozed until {until.isoformat()} (was new)"]


def test_a_wrong_bulk_action_is_refused_for_all(repo: InMemoryRepository, actions: TicketActions) -> None:
    repo.set_ticket(make_ticket(ticket_id="A"))
    with pytest.raises(ValueError, match="not an active agent"):
        actions.bulk(TENANT, "agent-1", BulkRequest(ticket_ids=["A"], action=BulkAction(assignee_id="nobody")))
    with pytest.raises(ValueError, match="future"):
        actions.bulk(TENANT, "agent-1", BulkRequest(ticket_ids=["A"], action=BulkAction(snooze_until=NOW)))
    assert events(repo, "A") == []


@pytest.mark.parametrize(
    "body",
    [
        {"ticket_ids": [], "action": {"priority": "low"}},
        {"ticket_ids": [f"T{i}" for i in range(101)], "action": {"priority": "low"}},
        {"ticket_ids": ["A"], "action": {}},
        {"ticket_ids": ["A"], "action": {"status": "open", "snooze_until": "2030-01-01T00:00:00Z"}},
        {"ticket_ids": ["A"], "action": {"snooze_until": "2030-01-01T00:00:00"}},  # no time zone
        {"ticket_ids": ["A"], "action": {"snooze_until": None}},
    ],
)
def test_bad_bulk_requests_are_refused_by_the_model(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BulkRequest.model_validate(body)
