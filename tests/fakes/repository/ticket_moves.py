"""Merge, split and snooze writes (``helpdesk.tickets.actions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helpdesk.core.errors import Conflict
from helpdesk.core.models import (
    Message,
    Ticket,
    TicketStatus,
)
from tests.fakes.repository.base import InMemoryTable


class TicketMoveRecords(InMemoryTable):
    def close_merged_source(self, previous: Ticket, updated: Ticket, event: Message, threads: Any) -> None:
        self._enter("close_merged_source", previous, updated, event, threads)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        target = self.tickets.get((updated.tenant_id, updated.merged_into or ""))
        if target is None or target.merged_into:
            raise Conflict("the target is gone or merged itself")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        if stored is None or stored.version != previous.version:
            raise Conflict("ticket changed since it was read")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        self.messages[(updated.tenant_id, updated.ticket_id)].append(event.model_copy(deep=True))
        for store_id, thread_id in threads:
            key = (updated.tenant_id, store_id, thread_id)
            if self.threads.get(key) == previous.ticket_id:
                self.threads[key] = target.ticket_id

    def copy_messages(self, messages: Any) -> None:
        self._enter("copy_messages", messages)
        for message in messages:
            timeline = self.messages[(message.tenant_id, message.ticket_id)]
            timeline[:] = [m for m in timeline if m.message_id != message.message_id]
            timeline.append(message.model_copy(deep=True))

    def split_message(
        self,
        previous: Ticket,
        updated: Ticket,
        event: Message,
        moved: Message,
        new_ticket: Ticket,
        new_message: Message,
        new_event: Message,
    ) -> None:
        self._enter("split_message", previous, updated, moved, new_ticket)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        old_timeline = self.messages[(previous.tenant_id, previous.ticket_id)]
        marker = self._dedup_key(moved)
        if (
            stored is None
            or stored.version != previous.version
            or not any(m.message_id == moved.message_id for m in old_timeline)
            or (new_ticket.tenant_id, new_ticket.ticket_id) in self.tickets
        ):
            raise Conflict("the ticket changed since it was read")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        old_timeline[:] = [m for m in old_timeline if m.message_id != moved.message_id]
        old_timeline.append(event.model_copy(deep=True))
        self.tickets[(new_ticket.tenant_id, new_ticket.ticket_id)] = new_ticket.model_copy(deep=True)
        self.messages[(new_ticket.tenant_id, new_ticket.ticket_id)].extend(
            [new_message.model_copy(deep=True), new_event.model_copy(deep=True)]
        )
        self.channel_messages[marker] = (new_ticket.ticket_id, new_message.message_id)

    def list_snoozed_due(self, tenant_id: str, now: datetime, limit: int) -> list[str]:
        self._enter("list_snoozed_due", tenant_id, now, limit)
        due = sorted(
            (
                t
                for (tenant, _), t in self.tickets.items()
                if tenant == tenant_id
                and t.status == TicketStatus.SNOOZED
                and t.snoozed_until is not None
                and t.snoozed_until <= now
            ),
            key=lambda t: (t.snoozed_until, t.ticket_id),
        )
        return [t.ticket_id for t in due[:limit]]
