"""Agents working together on a ticket: internal notes with @mentions, the mentioned agents'
notifications, and who is looking at a ticket right now. Plain Python.

**Notes** are timeline entries (direction ``note``) the buyer never sees. Mentions are the
``@agent-id`` tokens of the body plus any listed explicitly; each must name an active agent of the
tenant, otherwise the note is refused (422 ``unknown_mention`` with the names) before anything is
written. A note by the ticket's assignee is an action on it: the aging clock restarts
(``last_agent_action_at``, ``aging_level = 0``) in the same conditional write as the note. Notes
never touch the SLA: the buyer is still waiting for an answer.

**Notifications**: one record per mentioned agent (not the author), in that agent's own partition,
newest first, kept 90 days (DynamoDB TTL); the agent lists them and marks them read.

**Presence** (collision detection): an agent viewing or typing in a ticket leaves a record that
expires after ``PRESENCE_TTL``. DynamoDB's TTL deletes expired items lazily (up to days later), so
readers ignore records whose ``expires_at`` has passed; the caller is never listed among the viewers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, field_validator

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, HelpdeskError, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import ID_PATTERN, Agent, Message, MessageDirection, Model, Ticket
from helpdesk.tickets.ports import CollaborationRepository, NoteLog, NotificationLog, PresenceLog
from helpdesk.tickets.threads import found_ticket

PRESENCE_TTL = timedelta(seconds=60)
NOTIFICATION_TTL = timedelta(days=90)
MAX_NOTE = 20_000
MAX_MENTIONS = 50
EXCERPT = 200
MAX_ATTEMPTS = 5
MAX_PAGE = 100

# "@agent-7", not an e-mail address ("jane@shop.example"); sentence punctuation after the name is
# not part of it ("ask @agent-7." mentions agent-7).
_MENTION = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9_](?:[A-Za-z0-9_.:-]*[A-Za-z0-9_])?)")


class UnknownMention(HelpdeskError):
    code = "unknown_mention"
    status = 422


class NoteRequest(Model):
    body: str = Field(min_length=1, max_length=MAX_NOTE, description="The note; `@agent-id` mentions an agent")
    mentions: list[str] = Field(
        default_factory=list,
        max_length=MAX_MENTIONS,
        description="Agent ids to notify besides those @mentioned in the body",
    )

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the note is empty")
        return value

    @field_validator("mentions")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(ID_PATTERN, v)]
        if bad:
            raise ValueError(f"not agent ids: {', '.join(bad)}")
        return value


class Notification(Model):
    notification_id: str
    tenant_id: str
    agent_id: str = Field(description="Who is notified")
    kind: Literal["mention"] = "mention"
    ticket_id: str
    message_id: str = Field(description="The note that mentions the agent")
    author_id: str
    excerpt: str
    created_at: datetime
    read_at: datetime | None = None


class NotificationPage(Model):
    notifications: list[Notification]
    next_cursor: str | None = None


class PresenceRequest(Model):
    typing: bool = Field(default=False, description="Typing a reply or note (else only viewing)")


class PresenceEntry(Model):
    """A stored presence record (one per agent and ticket, refreshed by each heartbeat)."""

    agent_id: str
    seen_at: datetime
    expires_at: datetime
    typing_until: datetime | None = None


class Viewer(Model):
    agent_id: str
    typing: bool
    seen_at: datetime


class Viewers(Model):
    viewers: list[Viewer] = Field(description="Other agents viewing or typing in the ticket right now")


# --- pure decisions -----------------------------------------------------------------------------


def parse_mentions(body: str) -> list[str]:
    """The ``@name`` tokens of a note, in order, each once."""
    return list(dict.fromkeys(_MENTION.findall(body)))


def resolve_mentions(names: Iterable[str], agents: Sequence[Agent]) -> list[str]:
    """Agent ids for the mentioned names (case-insensitive); UnknownMention lists the others."""
    by_name = {a.agent_id.lower(): a.agent_id for a in agents if a.active}
    found: list[str] = []
    unknown: list[str] = []
    for name in dict.fromkeys(names):
        agent_id = by_name.get(name.lower())
        if agent_id is None:
            unknown.append(name)
        elif agent_id not in found:
            found.append(agent_id)
    if unknown:
        raise UnknownMention(
            "no active agent of this tenant is called " + ", ".join(f"@{n}" for n in unknown), names=unknown
        )
    return found


def active_viewers(entries: Iterable[PresenceEntry], me: str, now: datetime) -> list[Viewer]:
    """Other agents whose presence has not expired; those typing first, then the most recent."""
    viewers = [
        Viewer(agent_id=e.agent_id, typing=e.typing_until is not None and e.typing_until > now, seen_at=e.seen_at)
        for e in entries
        if e.agent_id != me and e.expires_at > now
    ]
    return sorted(viewers, key=lambda v: (not v.typing, -v.seen_at.timestamp(), v.agent_id))


# --- ports --------------------------------------------------------------------------------------


# --- the service --------------------------------------------------------------------------------


class CollaborationService:
    def __init__(
        self,
        repository: CollaborationRepository,
        notes: NoteLog,
        notifications: NotificationLog,
        presence: PresenceLog,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._repo = repository
        self._notes = notes
        self._notifications = notifications
        self._presence = presence
        self._clock = clock

    # --- notes --------------------------------------------------------------------------------

    def add_note(self, tenant_id: str, agent_id: str, ticket_id: str, request: NoteRequest) -> Message:
        ticket = self._ticket(tenant_id, ticket_id)
        agents = self._repo.list_agents(tenant_id)
        mentioned = resolve_mentions([*parse_mentions(request.body), *request.mentions], agents)
        author = next((a.name for a in agents if a.agent_id == agent_id), agent_id)
        now = self._clock()
        note = Message(
            tenant_id=tenant_id,
            ticket_id=ticket_id,
            message_id=new_id(now),
            direction=MessageDirection.NOTE,
            channel=ticket.channel,
            store_id=ticket.store_id,
            author=author,
            author_id=agent_id,
            body=request.body,
            mentions=mentioned,
            created_at=now,
        )
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                ticket = self._ticket(tenant_id, ticket_id)
            if ticket.assignee_id != agent_id:
                self._notes.add_note(note)
                break
            # The assignee acted on the ticket: the aging rules' clock starts again.
            updated = ticket.model_copy(deep=True)
            updated.last_agent_action_at = now
            updated.aging_level = 0
            updated.updated_at = now
            try:
                self._repo.update_ticket(ticket, updated, [note])
                break
            except Conflict:
                continue
        else:
            raise Conflict("the ticket kept changing while the note was being added", ticket_id=ticket_id)
        excerpt = request.body.strip()[:EXCERPT]
        self._notifications.put_notifications(
            [
                Notification(
                    notification_id=new_id(now),
                    tenant_id=tenant_id,
                    agent_id=recipient,
                    ticket_id=ticket_id,
                    message_id=note.message_id,
                    author_id=agent_id,
                    excerpt=excerpt,
                    created_at=now,
                )
                for recipient in mentioned
                if recipient != agent_id
            ]
        )
        return note

    # --- notifications ------------------------------------------------------------------------

    def notifications(
        self, tenant_id: str, agent_id: str, *, unread_only: bool = False, limit: int = 25, cursor: str | None = None
    ) -> NotificationPage:
        return self._notifications.list_notifications(
            tenant_id, agent_id, unread_only, max(1, min(limit, MAX_PAGE)), cursor, self._clock()
        )

    def mark_read(self, tenant_id: str, agent_id: str, notification_id: str) -> Notification:
        marked = self._notifications.mark_read(tenant_id, agent_id, notification_id, self._clock())
        if marked is None:
            raise NotFound("notification not found", notification_id=notification_id)
        return marked

    # --- presence -----------------------------------------------------------------------------

    def record_presence(self, tenant_id: str, agent_id: str, ticket_id: str, typing: bool) -> Viewers:
        """The agent is on the ticket (typing or not) for the next ``PRESENCE_TTL``; who else is."""
        self._ticket(tenant_id, ticket_id)
        now = self._clock()
        self._presence.touch_presence(tenant_id, ticket_id, agent_id, now, now + PRESENCE_TTL, typing)
        return Viewers(viewers=active_viewers(self._presence.list_presence(tenant_id, ticket_id), agent_id, now))

    def viewers(self, tenant_id: str, agent_id: str, ticket_id: str) -> Viewers:
        self._ticket(tenant_id, ticket_id)
        return Viewers(
            viewers=active_viewers(self._presence.list_presence(tenant_id, ticket_id), agent_id, self._clock())
        )

    def _ticket(self, tenant_id: str, ticket_id: str) -> Ticket:
        return found_ticket(self._repo, tenant_id, ticket_id)
