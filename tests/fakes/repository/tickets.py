"""Tickets and messages: threading lookups, version-checked writes, views and queues, agents' assigned counts."""

from __future__ import annotations

from typing import Any

from helpdesk.core.errors import Conflict, DuplicateMessage, InvalidCursor
from helpdesk.core.models import (
    Message,
    QueuePage,
    Ticket,
    TicketView,
)
from helpdesk.tickets.ports import QueueScope
from tests.fakes.repository.base import MAX_LOOKUP, InMemoryTable


class TicketRecords(InMemoryTable):
    def find_message(self, tenant_id: str, store_id: str, channel_message_id: str) -> tuple[str, str] | None:
        self._enter("find_message", tenant_id, store_id, channel_message_id)
        return self.channel_messages.get((tenant_id, store_id, channel_message_id))

    def find_ticket_by_thread(self, tenant_id: str, store_id: str, thread_id: str) -> Ticket | None:
        self._enter("find_ticket_by_thread", tenant_id, store_id, thread_id)
        ticket_id = self.threads.get((tenant_id, store_id, thread_id))
        return self._copy(tenant_id, ticket_id) if ticket_id else None

    def find_tickets_by_order(self, tenant_id: str, store_id: str, order_ref: str) -> list[Ticket]:
        self._enter("find_tickets_by_order", tenant_id, store_id, order_ref)
        found = [
            t
            for (tenant, _), t in self.tickets.items()
            if tenant == tenant_id and t.store_id == store_id and order_ref in t.order_refs
        ]
        found.sort(key=lambda t: (t.created_at, t.ticket_id), reverse=True)
        return [t.model_copy(deep=True) for t in found[:MAX_LOOKUP]]

    def find_tickets_by_email(self, tenant_id: str, email: str) -> list[Ticket]:
        self._enter("find_tickets_by_email", tenant_id, email)
        found = [
            t for (tenant, _), t in self.tickets.items() if tenant == tenant_id and t.customer_email == email.lower()
        ]
        found.sort(key=lambda t: (t.created_at, t.ticket_id), reverse=True)
        return [t.model_copy(deep=True) for t in found[:MAX_LOOKUP]]

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None:
        self._enter("get_ticket", tenant_id, ticket_id)
        return self._copy(tenant_id, ticket_id)

    def create_ticket(self, ticket: Ticket, message: Message) -> None:
        self._enter("create_ticket", ticket, message)
        dedup = self._dedup_key(message)
        if dedup in self.channel_messages:
            raise DuplicateMessage("channel message already stored")
        if (ticket.tenant_id, ticket.ticket_id) in self.tickets:
            raise Conflict("ticket id already taken")
        thread = (ticket.tenant_id, ticket.store_id, ticket.channel_thread_id) if ticket.channel_thread_id else None
        if thread is not None and thread in self.threads:
            raise Conflict("thread already claimed by another ticket")
        self.tickets[(ticket.tenant_id, ticket.ticket_id)] = ticket.model_copy(deep=True)
        self.messages[(ticket.tenant_id, ticket.ticket_id)].append(message.model_copy(deep=True))
        self.channel_messages[dedup] = (ticket.ticket_id, message.message_id)
        if thread is not None:
            self.threads[thread] = ticket.ticket_id

    def append_message(self, previous: Ticket, updated: Ticket, message: Message) -> None:
        self._enter("append_message", previous, updated, message)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        dedup = self._dedup_key(message)
        if dedup in self.channel_messages:
            raise DuplicateMessage("channel message already stored")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        if stored is None or stored.version != previous.version:
            raise Conflict("ticket changed since it was read")
        thread = None
        if message.channel_thread_id and message.channel_thread_id != previous.channel_thread_id:
            thread = (updated.tenant_id, message.store_id, message.channel_thread_id)
            owner = self.threads.get(thread)
            if owner is not None and owner != updated.ticket_id:
                raise Conflict("thread belongs to another ticket")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        self.messages[(updated.tenant_id, updated.ticket_id)].append(message.model_copy(deep=True))
        self.channel_messages[dedup] = (updated.ticket_id, message.message_id)
        if thread is not None:
            self.threads[thread] = updated.ticket_id

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Any = ()) -> None:
        self._enter("update_ticket", previous, updated)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        if stored is None or stored.version != previous.version:
            raise Conflict("ticket changed since it was read")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        self.messages[(updated.tenant_id, updated.ticket_id)].extend(e.model_copy(deep=True) for e in events)

    def list_agents(self, tenant_id: str) -> list:
        return [a.model_copy(deep=True) for a in self.agents if a.tenant_id == tenant_id]

    def count_assigned(self, tenant_id: str, agent_id: str) -> int:
        return sum(
            1
            for (tenant, _), t in self.tickets.items()
            if tenant == tenant_id and t.assignee_id == agent_id and t.status.in_queue
        )

    def mark_assigned(self, tenant_id: str, agent_id: str, at: Any) -> None:
        for agent in self.agents:
            if agent.tenant_id == tenant_id and agent.agent_id == agent_id:
                agent.last_assigned_at = at

    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None:
        self._enter("get_ticket_view", tenant_id, ticket_id)
        ticket = self._copy(tenant_id, ticket_id)
        if ticket is None:
            return None
        messages = sorted(self.messages[(tenant_id, ticket_id)], key=lambda m: (m.created_at, m.message_id))
        return TicketView(ticket=ticket, messages=[m.model_copy(deep=True) for m in messages])

    def list_queue(self, tenant_id: str, scope: str, scope_id: str | None, limit: int, cursor: str | None) -> QueuePage:
        self._enter("list_queue", tenant_id, scope, scope_id, limit, cursor)
        in_scope = {
            QueueScope.TENANT: lambda t: True,
            QueueScope.TEAM: lambda t: t.team_id == scope_id,
            QueueScope.AGENT: lambda t: t.assignee_id == scope_id,
        }[scope]
        queued = sorted(
            (
                t
                for (tenant, _), t in self.tickets.items()
                if tenant == tenant_id and t.status.in_queue and t.sla_due_at is not None and in_scope(t)
            ),
            key=lambda t: (t.sla_due_at, t.ticket_id),
        )
        prefix = f"{scope}:{scope_id or ''}:"
        start = 0
        if cursor:
            if not cursor.startswith(prefix) or not cursor[len(prefix) :].isdigit():
                raise InvalidCursor("cursor belongs to another queue")
            start = int(cursor[len(prefix) :])
        page = queued[start : start + limit]
        more = start + limit < len(queued)
        return QueuePage(
            tickets=[t.model_copy(deep=True) for t in page], next_cursor=f"{prefix}{start + limit}" if more else None
        )
