"""The inbox and collaboration stores: queue plans, saved views, presence, notes, notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helpdesk.core.models import (
    Message,
    QueuePage,
    Ticket,
)
from helpdesk.tickets.collaboration import NOTIFICATION_TTL, Notification, NotificationPage, PresenceEntry
from helpdesk.tickets.inbox import QueuePlan, SavedView
from tests.fakes.repository.base import InboxState, InMemoryTable, _offset


class InboxRecords(InMemoryTable):
    @property
    def inbox(self) -> InboxState:
        state = self.__dict__.get("_inbox")
        if state is None:
            state = self.__dict__["_inbox"] = InboxState()
        return state

    def _plan_tickets(self, tenant_id: str, plan: QueuePlan, now: datetime) -> list[Ticket]:
        mine = [t for (tenant, _), t in self.tickets.items() if tenant == tenant_id]
        if plan.index == "status":
            found = [t for t in mine if t.status.value == plan.partition]
            found.sort(key=lambda t: (t.updated_at, t.ticket_id), reverse=True)
        else:
            in_partition = {
                "tenant": lambda t: True,
                "team": lambda t: t.team_id == plan.partition,
                "agent": lambda t: t.assignee_id == plan.partition,
            }[plan.index]
            found = [t for t in mine if t.status.in_queue and t.sla_due_at is not None and in_partition(t)]
            if plan.due == "passed":
                found = [t for t in found if t.sla_due_at < now]
            elif plan.due == "ahead":
                found = [t for t in found if t.sla_due_at >= now]
            found.sort(key=lambda t: (t.sla_due_at, t.ticket_id))
        return [t.model_copy(deep=True) for t in found if plan.filters.matches(t, now)]

    def queue_page(self, tenant_id: str, plan: QueuePlan, limit: int, cursor: str | None, now: datetime) -> QueuePage:
        self._enter("queue_page", tenant_id, plan, limit, cursor)
        found = self._plan_tickets(tenant_id, plan, now)
        prefix = f"inbox:{tenant_id}:{plan.index}:{plan.partition or ''}:"
        start = _offset(cursor, prefix)
        more = start + limit < len(found)
        return QueuePage(tickets=found[start : start + limit], next_cursor=f"{prefix}{start + limit}" if more else None)

    def count_queue(self, tenant_id: str, plan: QueuePlan, now: datetime, budget: int) -> tuple[int, bool]:
        self._enter("count_queue", tenant_id, plan)
        total = len(self._plan_tickets(tenant_id, plan, now))
        return min(total, budget), total > budget

    def get_view(self, tenant_id: str, owner_id: str, view_id: str, shared: bool) -> SavedView | None:
        view = self.inbox.views.get((tenant_id, "shared" if shared else owner_id, view_id))
        return view.model_copy(deep=True) if view else None

    def list_views(self, tenant_id: str, owner_id: str) -> list[SavedView]:
        return [
            v.model_copy(deep=True)
            for (tenant, owner, _), v in self.inbox.views.items()
            if tenant == tenant_id and owner in (owner_id, "shared")
        ]

    def put_view(self, view: SavedView, previous: SavedView | None = None) -> None:
        if previous is not None:
            self.delete_view(previous)
        key = (view.tenant_id, "shared" if view.shared else view.owner_id, view.view_id)
        self.inbox.views[key] = view.model_copy(deep=True)

    def delete_view(self, view: SavedView) -> None:
        self.inbox.views.pop((view.tenant_id, "shared" if view.shared else view.owner_id, view.view_id), None)

    def touch_presence(
        self,
        tenant_id: str,
        ticket_id: str,
        agent_id: str,
        seen_at: datetime,
        expires_at: datetime,
        typing: bool | None = None,
    ) -> None:
        key = (tenant_id, ticket_id, agent_id)
        before = self.inbox.presence.get(key)
        typing_until = before.typing_until if before is not None and typing is None else None
        if typing:
            typing_until = expires_at
        self.inbox.presence[key] = PresenceEntry(
            agent_id=agent_id, seen_at=seen_at, expires_at=expires_at, typing_until=typing_until
        )

    def list_presence(self, tenant_id: str, ticket_id: str) -> list[PresenceEntry]:
        return [
            p.model_copy()
            for (tenant, ticket, _), p in self.inbox.presence.items()
            if (tenant, ticket) == (tenant_id, ticket_id)
        ]

    def add_note(self, note: Message) -> None:
        self._enter("add_note", note)
        self.messages[(note.tenant_id, note.ticket_id)].append(note.model_copy(deep=True))

    def put_notifications(self, notifications: Any) -> None:
        for n in notifications:
            self.inbox.notifications[(n.tenant_id, n.agent_id, n.notification_id)] = n.model_copy(deep=True)

    def list_notifications(
        self, tenant_id: str, agent_id: str, unread_only: bool, limit: int, cursor: str | None, now: datetime
    ) -> NotificationPage:
        found = sorted(
            (
                n
                for (tenant, agent, _), n in self.inbox.notifications.items()
                if (tenant, agent) == (tenant_id, agent_id)
                and n.created_at + NOTIFICATION_TTL > now
                and not (unread_only and n.read_at is not None)
            ),
            key=lambda n: n.notification_id,
            reverse=True,
        )
        prefix = f"notify:{tenant_id}:{agent_id}:"
        start = _offset(cursor, prefix)
        more = start + limit < len(found)
        return NotificationPage(
            notifications=[n.model_copy() for n in found[start : start + limit]],
            next_cursor=f"{prefix}{start + limit}" if more else None,
        )

    def mark_read(self, tenant_id: str, agent_id: str, notification_id: str, at: datetime) -> Notification | None:
        stored = self.inbox.notifications.get((tenant_id, agent_id, notification_id))
        if stored is None:
            return None
        if stored.read_at is None:
            stored.read_at = at
        return stored.model_copy()
