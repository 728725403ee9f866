"""helpdesk.tickets.collaboration: notes with @mentions, notifications, presence with expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from helpdesk.core.errors import Conflict, NotFound
from helpdesk.core.models import Agent, MessageDirection
from helpdesk.tickets.collaboration import (
    NOTIFICATION_TTL,
    PRESENCE_TTL,
    CollaborationService,
    NoteRequest,
    PresenceEntry,
    UnknownMention,
    active_viewers,
    parse_mentions,
    resolve_mentions,
)
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, TENANT, make_ticket

SECOND = timedelta(seconds=1)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _agent(agent_id: str, **changes: Any) -> Agent:
    fields: dict[str, Any] = {
        "tenant_id": TENANT,
        "agent_id": agent_id,
        "name": agent_id.title(),
        "email": f"{agent_id}@shop.example",
    }
    fields.update(changes)
    return Agent(**fields)


@pytest.fixture
def repo() -> InMemoryRepository:
    repo = InMemoryRepository()
    repo.agents = [
        _agent("agent-1", name="Ann"),
        _agent("agent-2", name="Bob"),
        _agent("Carla.M"),
        _agent("gone", active=False),
    ]
    repo.set_ticket(
        make_ticket(ticket_id="T1", assignee_id="agent-1", aging_level=2, last_agent_action_at=NOW - timedelta(hours=5))
    )
    return repo


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(repo: InMemoryRepository, clock: Clock) -> CollaborationService:
    return CollaborationService(repo, repo, repo, repo, clock=clock)


# --- mentions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("@agent-2 can you check?", ["agent-2"]),
        ("ask @agent-2.", ["agent-2"]),  # sentence punctuation is not part of the name
        ("(@agent-2, @Carla.M)", ["agent-2", "Carla.M"]),
        ("@agent-2 and again @agent-2", ["agent-2"]),
        ("buyer wrote from jane@shop.example", []),  # an e-mail address is no mention
        ("meet @ 5pm", []),
        ("line one\n@agent-1: see line two", ["agent-1"]),
    ],
)
def test_mentions_are_parsed_from_the_body(body: str, names: list[str]) -> None:
    assert parse_mentions(body) == names


def test_mentions_resolve_case_insensitively_to_active_agents() -> None:
    agents = [_agent("agent-1"), _agent("Carla.M"), _agent("gone", active=False)]
    assert resolve_mentions(["AGENT-1", "carla.m", "agent-1"], agents) == ["agent-1", "Carla.M"]
    with pytest.raises(UnknownMention) as refused:
        resolve_mentions(["agent-1", "nobody", "gone"], agents)
    assert refused.value.details == {"names": ["nobody", "gone"]}
    assert "@nobody" in refused.value.message and refused.value.status == 422


def test_a_note_request_is_checked() -> None:
    with pytest.raises(ValidationError):
        NoteRequest(body="   ")
    with pytest.raises(ValidationError):
        NoteRequest(body="x", mentions=["not an id!"])
    with pytest.raises(ValidationError):
        NoteRequest(body="x", extra=1)  # type: ignore[call-arg]


# --- notes --------------------------------------------------------------------------------------


def test_a_note_by_a_colleague_is_on_the_timeline_and_leaves_the_ticket_alone(
    service: CollaborationService, repo: InMemoryRepository
) -> None:
    before = repo.get_ticket(TENANT, "T1")
    note = service.add_note(TENANT, "agent-2", "T1", NoteRequest(body="@agent-1 buyer called, see order"))
    assert note.direction is MessageDirection.NOTE
    assert (note.author, note.author_id, note.mentions, note.created_at) == ("Bob", "agent-2", ["agent-1"], NOW)
    assert [m.message_id for m in repo.messages[(TENANT, "T1")]] == [note.message_id]
    assert repo.get_ticket(TENANT, "T1") == before  # aging and SLA untouched, version unchanged


def test_a_note_by_the_assignee_restarts_aging_but_not_the_sla(
    service: CollaborationService, repo: InMemoryRepository
) -> None:
    before = repo.get_ticket(TENANT, "T1")
    note = service.add_note(TENANT, "agent-1", "T1", NoteRequest(body="waiting for the warehouse"))
    after = repo.get_ticket(TENANT, "T1")
    assert (after.last_agent_action_at, after.aging_level, after.updated_at) == (NOW, 0, NOW)
    assert after.version == before.version + 1
    sla_fields = (
        "first_response_due_at",
        "next_response_due_at",
        "first_responded_at",
        "sla_timer_version",
        "sla_breached_at",
        "sla_warned_at",
        "status",
    )
    assert [getattr(after, f) for f in sla_fields] == [getattr(before, f) for f in sla_fields]
    assert [m.message_id for m in repo.messages[(TENANT, "T1")]] == [note.message_id]


def test_a_conflicting_change_is_re_read_and_the_note_kept(
    service: CollaborationService, repo: InMemoryRepository
) -> None:
    def colleague_tags_it() -> None:
        ticket = repo.get_ticket(TENANT, "T1")
        ticket.tags.append("vip")
        ticket.version += 1
        repo.set_ticket(ticket)

    repo.before_next("update_ticket", colleague_tags_it)
    service.add_note(TENANT, "agent-1", "T1", NoteRequest(body="on it"))
    after = repo.get_ticket(TENANT, "T1")
    assert after.tags == ["vip"] and after.aging_level == 0
    assert len(repo.messages[(TENANT, "T1")]) == 1
    assert repo.call_names().count("update_ticket") == 2


def test_a_ticket_that_keeps_changing_gives_up_with_conflict(
    service: CollaborationService, repo: InMemoryRepository
) -> None:
    repo.fail_next("update_ticket", Conflict("changed"), times=10)
    with pytest.raises(Conflict):
        service.add_note(TENANT, "agent-1", "T1", NoteRequest(body="on it"))
    assert repo.messages[(TENANT, "T1")] == []


def test_mentioned_agents_are_notified_but_not_the_author(
    service: CollaborationService, repo: InMemoryRepository
) -> None:
    note = service.add_note(TENANT, "agent-1", "T1", NoteRequest(body="@agent-2 @agent-1 look", mentions=["carla.m"]))
    assert note.mentions == ["agent-2", "agent-1", "Carla.M"]
    bob = service.notifications(TENANT, "agent-2").notifications
    assert [(n.ticket_id, n.message_id, n.author_id, n.excerpt, n.read_at) for n in bob] == [
        ("T1", note.message_id, "agent-1", "@agent-2 @agent-1 look", None)
    ]
    assert len(service.notifications(TENANT, "Carla.M").notifications) == 1
    assert service.notifications(TENANT, "agent-1").notifications == []


def test_an_unknown_mention_writes_nothing(service: CollaborationService, repo: InMemoryRepository) -> None:
    with pytest.raises(UnknownMention) as refused:
        service.add_note(TENANT, "agent-1", "T1", NoteRequest(body="@agent-2 and @ghost", mentions=["gone"]))
    assert refused.value.details == {"names": ["ghost", "gone"]}
    assert repo.messages[(TENANT, "T1")] == []
    assert repo.inbox.notifications == {}


def test_a_note_on_an_unknown_ticket_is_not_found(service: CollaborationService) -> None:
    with pytest.raises(NotFound):
        service.add_note(TENANT, "agent-1", "nope", NoteRequest(body="x"))
    with pytest.raises(NotFound):
        service.add_note("other-tenant", "agent-1", "T1", NoteRequest(body="x"))


# --- notifications ------------------------------------------------------------------------------


def test_notifications_newest_first_paged_unread_and_read(service: CollaborationService, clock: Clock) -> None:
    ids = []
    for n in range(5):
        clock.now = NOW + n * SECOND
        ids.append(service.add_note(TENANT, "agent-1", "T1", NoteRequest(body=f"@agent-2 #{n}")).message_id)
    first = service.notifications(TENANT, "agent-2", limit=2)
    second = service.notifications(TENANT, "agent-2", limit=2, cursor=first.next_cursor)
    third = service.notifications(TENANT, "agent-2", limit=2, cursor=second.next_cursor)
    pages = [[n.excerpt for n in p.notifications] for p in (first, second, third)]
    assert pages == [["@agent-2 #4", "@agent-2 #3"], ["@agent-2 #2", "@agent-2 #1"], ["@agent-2 #0"]]
    assert third.next_cursor is None

    newest = first.notifications[0]
    clock.now = NOW + timedelta(minutes=5)
    read = service.mark_read(TENANT, "agent-2", newest.notification_id)
    assert read.read_at == clock.now
    clock.now += timedelta(minutes=5)
    assert service.mark_read(TENANT, "agent-2", newest.notification_id).read_at == NOW + timedelta(minutes=5)
    unread = service.notifications(TENANT, "agent-2", unread_only=True).notifications
    assert [n.excerpt for n in unread] == ["@agent-2 #3", "@agent-2 #2", "@agent-2 #1", "@agent-2 #0"]


def test_only_the_recipient_reads_or_marks_a_notification(service: CollaborationService) -> None:
    service.add_note(TENANT, "agent-1", "T1", NoteRequest(body="@agent-2 hi"))
    notification = service.notifications(TENANT, "agent-2").notifications[0]
    with pytest.raises(NotFound):
        service.mark_read(TENANT, "agent-1", notification.notification_id)
    with pytest.raises(NotFound):
        service.mark_read("other-tenant", "agent-2", notification.notification_id)
    assert service.notifications("other-tenant", "agent-2").notifications == []


def test_notifications_are_gone_after_ninety_days(service: CollaborationService, clock: Clock) -> None:
    service.add_note(TENANT, "agent-1", "T1", NoteRequest(body="@agent-2 hi"))
    clock.now = NOW + NOTIFICATION_TTL + SECOND
    assert service.notifications(TENANT, "agent-2").notifications == []


# --- presence -----------------------------------------------------------------------------------


def _entry(agent_id: str, seen: datetime, typing: bool = False) -> PresenceEntry:
    return PresenceEntry(
        agent_id=agent_id,
        seen_at=seen,
        expires_at=seen + PRESENCE_TTL,
        typing_until=seen + PRESENCE_TTL if typing else None,
    )


def test_active_viewers_ignore_me_and_expired_records() -> None:
    entries = [
        _entry("me", NOW),
        _entry("reader", NOW - 10 * SECOND),
        _entry("typist", NOW - 50 * SECOND, True),
        _entry("left", NOW - PRESENCE_TTL),
    ]  # expired exactly now: gone, even if TTL has not deleted it
    viewers = active_viewers(entries, "me", NOW)
    assert [(v.agent_id, v.typing) for v in viewers] == [("typist", True), ("reader", False)]
    later = active_viewers(entries, "me", NOW + 15 * SECOND)
    assert [v.agent_id for v in later] == ["reader"]


def test_presence_heartbeats_and_typing(service: CollaborationService, clock: Clock) -> None:
    assert service.record_presence(TENANT, "agent-1", "T1", typing=False).viewers == []
    clock.now = NOW + 5 * SECOND
    seen_by_2 = service.record_presence(TENANT, "agent-2", "T1", typing=True).viewers
    assert [(v.agent_id, v.typing) for v in seen_by_2] == [("agent-1", False)]
    seen_by_1 = service.viewers(TENANT, "agent-1", "T1").viewers
    assert [(v.agent_id, v.typing, v.seen_at) for v in seen_by_1] == [("agent-2", True, NOW + 5 * SECOND)]
    clock.now = NOW + 10 * SECOND
    service.record_presence(TENANT, "agent-2", "T1", typing=False)  # stopped typing, still there
    assert [(v.agent_id, v.typing) for v in service.viewers(TENANT, "agent-1", "T1").viewers] == [("agent-2", False)]
    clock.now = NOW + 10 * SECOND + PRESENCE_TTL
    assert service.viewers(TENANT, "agent-1", "T1").viewers == []


def test_presence_on_an_unknown_ticket_is_not_found(service: CollaborationService, repo: InMemoryRepository) -> None:
    with pytest.raises(NotFound):
        service.record_presence("other-tenant", "agent-1", "T1", typing=True)
    with pytest.raises(NotFound):
        service.viewers("other-tenant", "agent-1", "T1")
    assert repo.inbox.presence == {}
