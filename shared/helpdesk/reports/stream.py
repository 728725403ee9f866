"""What follows a ticket's change, read from the table's stream (``functions/ticket_events``). Plain
Python over ports.

For each batch of ticket and message changes (old and new images as models):

* **report aggregates** (``helpdesk.reports.aggregates``): the facts each change carries (created, first
  response, next response, resolution, breach, rating, backlog in/out), per day in the tenant's time
  zone and per dimension value, summed over the whole batch and written once per key — at peak a
  batch of hundreds of changes is a few dozen writes, so reports cost the same whatever the volume
  and read a bounded number of items;
* **breaches list**: a breach is recorded with what the manager needs to see;
* **satisfaction requests** (``helpdesk.reports.csat``): a ticket entering *resolved* on a channel that
  allows it gets the one-click rating request (once).

A batch that fails is delivered again by the stream; the aggregate writes are idempotent per batch
(see ``ReportSink.apply``), the breach record is a put, the survey is requested at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from helpdesk.core.models import Message, MessageDirection, Store, Ticket, TicketStatus
from helpdesk.reports.aggregates import Increment, breached_now, merge, reply_increments, ticket_increments
from helpdesk.reports.ports import EventsRepository, ReportSink, Surveys


@dataclass(frozen=True)
class TicketChange:
    old: Ticket | None
    new: Ticket | None


@dataclass(frozen=True)
class MessageChange:
    old: Message | None
    new: Message


class TicketEventProcessor:
    def __init__(
        self,
        repository: EventsRepository,
        reports: ReportSink,
        surveys: Surveys | None = None,
        should_request: Callable[[Ticket | None, Ticket, Store], str | None] | None = None,
    ) -> None:
        self._repo = repository
        self._reports = reports
        self._surveys = surveys
        self._should_request = should_request
        self._zones: dict[str, str] = {}

    def process(self, changes: Sequence[TicketChange | MessageChange], batch_id: str) -> dict[str, Any]:
        increments: list[Increment] = []
        latest: dict[tuple[str, str], Ticket] = {}
        breaches = 0
        surveys: list[str] = []
        for change in changes:
            if isinstance(change, TicketChange):
                ticket = change.new or change.old
                if ticket is None:
                    continue
                zone = self._zone(ticket.tenant_id)
                increments += ticket_increments(change.old, change.new, zone)
                if change.new is not None:
                    latest[(ticket.tenant_id, ticket.ticket_id)] = change.new
                    breaches += self._breach(change, zone)
                    surveys += self._survey(change)
            elif change.new.direction == MessageDirection.OUTBOUND:
                key = (change.new.tenant_id, change.new.ticket_id)
                ticket = latest.get(key) or self._repo.get_ticket(*key)
                if ticket is not None:
                    increments += reply_increments(change.old, change.new, ticket, self._zone(ticket.tenant_id))
        merged = merge(increments)
        if merged:
            self._reports.apply(merged, batch_id)
        return {
            "changes": len(changes),
            "increments": len(increments),
            "writes": len(merged),
            "breaches": breaches,
            "surveys": surveys,
        }

    def _breach(self, change: TicketChange, zone: str) -> int:
        new = change.new
        if new is None or new.sla_breached_at is None or not breached_now(change.old, new):
            return 0
        self._reports.record_breach(new.tenant_id, new.sla_breached_at.astimezone(ZoneInfo(zone)).date(), new)
        return 1

    def _survey(self, change: TicketChange) -> list[str]:
        new, old = change.new, change.old
        if self._surveys is None or self._should_request is None or new is None:
            return []
        if new.status != TicketStatus.RESOLVED or (old is not None and old.status == TicketStatus.RESOLVED):
            return []  # only a ticket entering resolved may be asked (no store read for every change)
        store = self._repo.get_store(new.tenant_id, new.store_id)
        if store is None or self._should_request(change.old, new, store) is not None:
            return []
        return [self._surveys.request(new.tenant_id, new.ticket_id)]

    def _zone(self, tenant_id: str) -> str:
        if tenant_id not in self._zones:
            tenant = self._repo.get_tenant(tenant_id)
            self._zones[tenant_id] = tenant.time_zone if tenant else "UTC"
        return self._zones[tenant_id]


def batch_id(sequence_numbers: Sequence[str], now: datetime) -> str:
    """One id per stream batch, the same when the stream delivers the batch again."""
    import hashlib

    if not sequence_numbers:
        return f"empty-{now.isoformat()}"
    return hashlib.sha256("|".join(sequence_numbers).encode()).hexdigest()[:32]
