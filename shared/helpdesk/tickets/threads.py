"""Threading inbound messages into tickets, and reading tickets back. Plain Python.

One timeline per buyer problem. A message joins, in this order of evidence:

1. the ticket of its channel thread (same store, same thread id);
2. the ticket holding a message it answers (e-mail ``References`` / ``In-Reply-To``);
3. a ticket still being worked on about the same order, in its own store or a store it is linked
   to (an e-mail inbox serving a Shopify shop: the buyer's e-mail about "#1001" joins the ticket
   that order's cancellation opened);
4. the buyer's e-mail: a ticket still being worked on from the same address about the same order,
   in any store (the buyer wrote to another of the seller's inboxes).

Otherwise it opens a new ticket. An e-mail that names no order but comes from a buyer with exactly
one recent order in the linked stores is treated as being about that order. Each message keeps its
own channel and store on the timeline. Every write is conditional (see the DynamoDB adapter): two
consumers racing on one thread end up with one ticket, a message delivered twice is stored once,
and a ticket changed under our feet is re-read and the change re-applied.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, DuplicateMessage, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    InboundMessage,
    Message,
    MessageDirection,
    Order,
    Priority,
    QueuePage,
    SlaPolicy,
    Ticket,
    TicketStatus,
    TicketView,
)
from helpdesk.sla import timers as sla_timers
from helpdesk.sla.ports import SlaTimers
from helpdesk.tickets.ports import QueueScope, TicketRepository

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.01
BACKOFF_CAP_SECONDS = 0.25
MAX_PAGE = 100
MAX_REFERENCES_LOOKED_UP = 5
MAX_MERGE_HOPS = 5
RECENT_ORDER_WINDOW = timedelta(days=60)
_DONE = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True)
class ReceiveResult:
    ticket_id: str
    message_id: str
    created_ticket: bool
    duplicate: bool


class _TicketReader(Protocol):
    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None: ...


class _ViewReader(Protocol):
    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None: ...


def found_ticket(repository: _TicketReader, tenant_id: str, ticket_id: str) -> Ticket:
    """The tenant's ticket, or NotFound (404: another tenant's ticket does not exist for this one)."""
    ticket = repository.get_ticket(tenant_id, ticket_id)
    if ticket is None:
        raise NotFound("ticket not found", ticket_id=ticket_id)
    return ticket


class _OrderReader(Protocol):
    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None: ...


def ticket_order(repository: _OrderReader, ticket: Ticket) -> Order | None:
    """The order the ticket is about: its latest order ref, in the ticket's store (None without one)."""
    if not ticket.order_refs:
        return None
    return repository.get_order(ticket.tenant_id, ticket.store_id, ticket.order_refs[-1])


def found_view(repository: _ViewReader, tenant_id: str, ticket_id: str) -> TicketView:
    """The tenant's ticket with its timeline, or NotFound."""
    view = repository.get_ticket_view(tenant_id, ticket_id)
    if view is None:
        raise NotFound("ticket not found", ticket_id=ticket_id)
    return view


class TicketService:
    def __init__(
        self,
        repository: TicketRepository,
        timers: SlaTimers,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._repo = repository
        self._timers = timers
        self._clock = clock
        self._sleep = sleep

    # --- inbound ------------------------------------------------------------------------------

    def receive(self, inbound: InboundMessage) -> ReceiveResult:
        """Thread one canonical inbound message into a ticket and (re)arm its SLA timer."""
        store = self._repo.get_store(inbound.tenant_id, inbound.store_id)
        if store is None:
            raise NotFound("store not found", store_id=inbound.store_id)
        stores = [store.store_id, *(s for s in store.linked_store_ids if s != store.store_id)]
        existing = self._repo.find_message(inbound.tenant_id, inbound.store_id, inbound.channel_message_id)
        if existing:
            return self._already_stored(inbound.tenant_id, *existing)
        if inbound.order_ref is None and inbound.buyer_email and store.linked_store_ids:
            inbound = self._with_inferred_order(inbound, stores)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                # Full jitter: racing consumers spread out instead of colliding again.
                self._sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
            if attempt:
                existing = self._repo.find_message(inbound.tenant_id, inbound.store_id, inbound.channel_message_id)
                if existing:
                    return self._already_stored(inbound.tenant_id, *existing)
            ticket = self._find_ticket(inbound, stores)
            try:
                if ticket is None:
                    return self._open_ticket(inbound)
                return self._append(ticket, inbound)
            except DuplicateMessage:
                continue  # stored by a concurrent delivery: the next pass reports it
            except Conflict:
                continue  # thread claimed or ticket changed meanwhile: re-read and re-apply
        raise Conflict("ticket kept changing while a message was being added", channel=inbound.channel.value)

    def _already_stored(self, tenant_id: str, ticket_id: str, message_id: str) -> ReceiveResult:
        # A redelivery after a crash between the write and the timer start must still leave the
        # ticket with a running timer: starting the same timer version again is a no-op.
        ticket = self._repo.get_ticket(tenant_id, ticket_id)
        if ticket is not None:
            self._arm_timer(ticket)
        return ReceiveResult(ticket_id, message_id, created_ticket=False, duplicate=True)

    def _find_ticket(self, inbound: InboundMessage, stores: list[str]) -> Ticket | None:
        tenant = inbound.tenant_id
        if inbound.channel_thread_id:
            ticket = self._repo.find_ticket_by_thread(tenant, inbound.store_id, inbound.channel_thread_id)
            if ticket is not None:
                return self._merged_into(ticket)
        for reference in reversed(inbound.references[-MAX_REFERENCES_LOOKED_UP:]):
            stored = self._repo.find_message(tenant, inbound.store_id, reference)
            if stored is not None:
                ticket = self._repo.get_ticket(tenant, stored[0])
                if ticket is not None:
                    return self._merged_into(ticket)
        if inbound.order_ref:
            active = [
                t
                for store_id in stores
                for t in self._repo.find_tickets_by_order(tenant, store_id, inbound.order_ref)
                if t.status not in _DONE
            ]
            if active:
                return max(active, key=lambda t: t.updated_at)
        if inbound.buyer_email and inbound.order_ref:
            same_order = [
                t
                for t in self._repo.find_tickets_by_email(tenant, inbound.buyer_email)
                if t.status not in _DONE and inbound.order_ref in t.order_refs
            ]
            if same_order:
                return max(same_order, key=lambda t: t.updated_at)
        return None

    def _merged_into(self, ticket: Ticket) -> Ticket:
        """A merged ticket's conversation continues on the ticket it was merged into (followed along a
        short chain: that one may have been merged too)."""
        for _ in range(MAX_MERGE_HOPS):
            if not ticket.merged_into:
                break
            target = self._repo.get_ticket(ticket.tenant_id, ticket.merged_into)
            if target is None:
                break
            ticket = target
        return ticket

    def _with_inferred_order(self, inbound: InboundMessage, stores: list[str]) -> InboundMessage:
        """The buyer's only recent order in the linked stores, when the message names none."""
        since = inbound.received_at - RECENT_ORDER_WINDOW
        orders = [
            o
            for o in self._repo.find_orders_by_email(inbound.tenant_id, inbound.buyer_email or "")
            if o.store_id in stores and (o.ordered_at or o.updated_at or since) >= since
        ]
        if len({(o.store_id, o.order_ref) for o in orders}) != 1:
            return inbound
        return inbound.model_copy(update={"order_ref": orders[0].order_ref})

    def _policy_for(self, inbound: InboundMessage) -> SlaPolicy | None:
        store = self._repo.get_store(inbound.tenant_id, inbound.store_id)
        if store is None:
            raise NotFound("store not found", store_id=inbound.store_id)
        if store.sla_policy_id:
            return self._repo.get_sla_policy(inbound.tenant_id, store.sla_policy_id)
        return None

    def _deadline(self, inbound: InboundMessage, kind: str) -> tuple[datetime, datetime | None]:
        """When an answer to ``inbound`` is due (``kind``: "first" or "next" response) and its warning
        point: the deadline the intake will most likely settle on — the tenant's most specific SLA
        policy for the channel and store (intent not known yet; a channel's cancellation signal
        counts) — so the timer started now is usually the one that runs and the intake re-arms only
        when the intent or a rule changes the policy. Without such a policy: the store's foundation
        policy (or the default target), warning point left to ``sla_timers.warning_point``."""
        from helpdesk.core.models import Intent
        from helpdesk.sla.policies import compute_due, select_policy

        cancellation = inbound.cancellation_requested
        spec = select_policy(
            self._repo.list_policy_specs(inbound.tenant_id),
            intent=Intent.CANCELLATION if cancellation else None,
            channel=inbound.channel,
            store_id=inbound.store_id,
            priority=Priority.HIGH if cancellation else Priority.NORMAL,
        )
        if spec is not None:
            due = compute_due(spec, received_at=inbound.received_at, kind="first" if kind == "first" else "next")
            return due.due_at, due.warn_at
        policy = self._policy_for(inbound)
        if kind == "first":
            return sla_timers.first_response_due(inbound.received_at, policy), None
        target = policy.target if policy else sla_timers.DEFAULT_TARGET
        return inbound.received_at + timedelta(minutes=target.next_response_minutes), None

    def _open_ticket(self, inbound: InboundMessage) -> ReceiveResult:
        now = self._clock()
        policy = self._policy_for(inbound)
        due_at, warn_at = self._deadline(inbound, "first")
        ticket_id = new_id(now)
        ticket = Ticket(
            tenant_id=inbound.tenant_id,
            ticket_id=ticket_id,
            store_id=inbound.store_id,
            channel=inbound.channel,
            subject=inbound.subject or _subject_from(inbound.body),
            status=TicketStatus.NEW,
            priority=Priority.HIGH if inbound.cancellation_requested else Priority.NORMAL,
            tags=["cancellation_request"] if inbound.cancellation_requested else [],
            language=inbound.language,
            customer_email=inbound.buyer_email,
            customer_name=inbound.buyer_name,
            channel_thread_id=inbound.channel_thread_id,
            order_refs=[inbound.order_ref] if inbound.order_ref else [],
            # The policy is the intake's to name (a rule may pick one); only its deadline is set now.
            sla_policy_id=policy.policy_id if policy else None,
            first_response_due_at=due_at,
            sla_warn_at=warn_at,
            sla_timer_version=1,
            message_count=1,
            created_at=now,
            updated_at=now,
            last_message_at=inbound.received_at,
        )
        message = self._message_for(ticket, inbound, now)
        self._repo.create_ticket(ticket, message)
        self._arm_timer(ticket)
        return ReceiveResult(ticket.ticket_id, message.message_id, created_ticket=True, duplicate=False)

    def _append(self, ticket: Ticket, inbound: InboundMessage) -> ReceiveResult:
        now = self._clock()
        updated = ticket.model_copy(deep=True)
        updated.message_count += 1
        updated.updated_at = now
        updated.last_message_at = max(filter(None, [ticket.last_message_at, inbound.received_at]))
        if inbound.order_ref and inbound.order_ref not in updated.order_refs:
            updated.order_refs.append(inbound.order_ref)
        if inbound.cancellation_requested and "cancellation_request" not in updated.tags:
            updated.tags.append("cancellation_request")
        rearm = False
        if ticket.status in (
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
            TicketStatus.WAITING_ON_CUSTOMER,
            TicketStatus.SNOOZED,
        ):
            updated.status = TicketStatus.OPEN  # the buyer wrote: back in the queues
            updated.snoozed_until = None
        if ticket.first_responded_at is not None and (
            ticket.next_response_due_at is None or not ticket.status.in_queue
        ):
            # The buyer wrote again after being answered: a next-response deadline starts now.
            updated.next_response_due_at, updated.sla_warn_at = self._deadline(inbound, "next")
            updated.sla_breached_at = None
            updated.sla_warned_at = None
            updated.sla_timer_version += 1
            rearm = True
        elif ticket.first_responded_at is None and not ticket.status.in_queue:
            # Never answered and parked (snoozed, waiting, resolved, closed): its timer may have
            # ended while it was out of the queue. A closed conversation starts a new first-response
            # deadline from this message; a parked one keeps the deadline it had. Either way a new
            # timer version runs.
            if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
                updated.first_response_due_at, updated.sla_warn_at = self._deadline(inbound, "first")
                updated.sla_breached_at = None
                updated.sla_warned_at = None
            updated.sla_timer_version += 1
            rearm = True
        message = self._message_for(updated, inbound, now)
        self._repo.append_message(ticket, updated, message)
        if rearm:
            self._arm_timer(updated)
        return ReceiveResult(ticket.ticket_id, message.message_id, created_ticket=False, duplicate=False)

    @staticmethod
    def _message_for(ticket: Ticket, inbound: InboundMessage, now: datetime) -> Message:
        return Message(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.ticket_id,
            # Ids sort in the order entries were stored (a late-polled message gets a newer id than
            # a reply written before it arrived, whatever its received time): what the reply's
            # stale-timeline check compares. The timeline itself sorts by ``created_at``.
            message_id=new_id(now),
            direction=MessageDirection.INBOUND,
            channel=inbound.channel,
            store_id=inbound.store_id,
            channel_message_id=inbound.channel_message_id,
            channel_thread_id=inbound.channel_thread_id,
            author=inbound.buyer_name or inbound.buyer_email or "buyer",
            body=inbound.body,
            language=inbound.language,
            attachments=inbound.attachments,
            raw_s3_key=inbound.raw_s3_key,
            created_at=inbound.received_at,
        )

    def _arm_timer(self, ticket: Ticket) -> None:
        request = sla_timers.timer_request(ticket)
        if request is not None:
            self._timers.start(request)

    # --- agent reads --------------------------------------------------------------------------

    def queue(
        self,
        tenant_id: str,
        *,
        team_id: str | None = None,
        assignee_id: str | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> QueuePage:
        """Open tickets, soonest SLA deadline first, for the tenant, one team or one agent."""
        limit = max(1, min(limit, MAX_PAGE))
        if team_id and assignee_id:
            raise ValueError("filter by team or by assignee, not both")
        if team_id:
            return self._repo.list_queue(tenant_id, QueueScope.TEAM, team_id, limit, cursor)
        if assignee_id:
            return self._repo.list_queue(tenant_id, QueueScope.AGENT, assignee_id, limit, cursor)
        return self._repo.list_queue(tenant_id, QueueScope.TENANT, None, limit, cursor)

    def ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView:
        return found_view(self._repo, tenant_id, ticket_id)


def _subject_from(body: str) -> str:
    first_line = body.strip().splitlines()[0] if body.strip() else ""
    return first_line[:80] + ("…" if len(first_line) > 80 else "")
