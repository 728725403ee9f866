"""What agents do to tickets: assign, team, priority, status, tags, snooze, merge, split, and the same
in bulk. Plain Python; the conditional writes are the repository's (``adapters.ticket_moves``).

Every action is done for the caller's tenant (a ticket of another tenant is simply not found), on
the ticket as stored now (optimistic lock on ``version``: a concurrent change is re-read and the
action re-applied), and writes **one** timeline event naming the agent and everything that changed
("agent-1: assigned to agent-2; priority normal → high; tags +vip"): the audit trail. An action
that finds the ticket already as asked writes nothing (``unchanged``), so repeating it is harmless.
A ticket merged into another is refused (409 ``ticket_merged``): its conversation lives on there.

**SLA timer.** Resolving, closing or merging a ticket bumps ``sla_timer_version``: the running
timer finds itself stale at its next step and records nothing. Parking it (snoozed, waiting on the
customer) leaves the version: the timer's own condition (status new / open / pending) makes a step
reached while parked a no-op that ends it, and a buyer message that brings the ticket back before
then lets it carry on. A ticket an agent or the wake-up brings back into the queue gets a fresh timer
(version bumped, started after the write) if its deadline is still ahead and not breached; a
deadline that passed meanwhile is left as it is: the ticket sorts first in the queue and no breach
is recorded for the parked time.

**Snooze.** Status ``snoozed`` until ``snoozed_until`` (future, at most 90 days): out of the queues,
in the sparse ``Snoozed`` index instead. The tenant's aging run (``wake_snoozed``) sets due tickets
back to open with an event; a buyer's message wakes it earlier (``helpdesk.tickets.threads``).

**Merge** (source into target), three writes, each safe to repeat, so retrying a merge that crashed
half-way finishes it instead of duplicating anything:

1. the source is closed with ``merged_into`` = target and an event, its channel-thread pointers are
   moved to the target, and the target is checked to exist and not be merged itself — one
   transaction (3 + threads items), so later messages of the source's threads go to the target.
   A source with a reply still on its way (delivery ``queued`` / ``sending``: the dispatcher sends it
   on the source's channel thread) is refused (409 ``reply_in_flight``) until it is sent or failed.
   Whether the source was owed an answer (``owes_answer``) is recorded in its merge event's id, so a
   retry knows it after the source is closed;
2. the source's messages (not its events) are copied into the target's partition with their
   original ``created_at`` and ids made of the merge time, the copy's position in the source's
   timeline and a hash of the original id (``copy_id``): newer than everything stored before the
   merge, sorting among themselves in timeline order (the replies' stale-timeline check compares
   ids), and the same on a retry: a repeated copy overwrites, never duplicates; BatchWriteItem, 25 a
   request, no transaction;
3. the target gets the source's order refs, tags, buyer e-mail (if it had none) and message count,
   with an event whose id is derived from the source: when it is already there the merge is done.
   The target keeps its assignee. It keeps its status and deadline too unless the source was owed
   an answer: then that answer is owed on the target (``take_owed_deadline``): back in the queue
   (open) if it was not, and its deadline the earlier of the two owed ones (with the breach / warning
   already recorded for it), under a new timer version and a timer started after the write.

**Split**: an inbound message moves to a new ticket (status new, the message's store and channel,
the ticket's buyer, order refs, team and priority, and the deadline the buyer was already waiting
under — splitting never buys time). One transaction: the message item is deleted from the old
partition and written in the new one with its id, the channel-message marker points to the new
ticket, an event on each. Later messages of the channel thread still join the old ticket (the
thread pointer stays); replies from the new ticket go through the message's thread.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, HelpdeskError, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    ID_PATTERN,
    Message,
    MessageDirection,
    Model,
    Priority,
    Ticket,
    TicketStatus,
    TicketView,
)
from helpdesk.sla import timers as sla_timers
from helpdesk.sla.ports import SlaTimers
from helpdesk.tickets.ports import ActionsRepository, SnoozeRepository
from helpdesk.tickets.threads import found_ticket, found_view

MAX_ATTEMPTS = 5
MAX_SNOOZE = timedelta(days=90)
MAX_BULK = 100
WAKE_BATCH = 500
SYSTEM = "system"  # author of the events nobody in particular caused (a snooze ending)
_DONE = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
_TAG = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # the ids' Crockford base32 (helpdesk.core.ids)
_POSITION = 4  # chars of a copy's position in its id: 32**4 copies per merge
_IN_FLIGHT = frozenset({"queued", "sending"})  # reply delivery states the dispatcher may still act on
_OWED = ":owed"  # suffix of the source's merge-event seed when the source was owed an answer


def _tag(value: str) -> str:
    value = value.strip().lower()
    if not _TAG.match(value):
        raise ValueError(
            "a tag is 1-64 lower-case letters, digits, '_', '.', ':' or '-', starting with a letter or digit"
        )
    return value


Tag = Annotated[str, AfterValidator(_tag)]
TicketId = Annotated[str, Field(pattern=ID_PATTERN)]
SettableStatus = Literal["new", "open", "pending", "waiting_on_customer", "resolved", "closed"]


class TicketMerged(Conflict):
    """The ticket was merged into another one: act on that one."""

    code = "ticket_merged"


class ReplyInFlight(Conflict):
    """The source of a merge has a reply being sent on its channel thread: merge once it is sent or failed."""

    code = "reply_in_flight"


# --- requests and answers -----------------------------------------------------------------------


class TicketChanges(Model):
    """Fields to change; a field left out stays as it is. ``null`` clears the assignee or the team."""

    assignee_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="An active agent of the tenant; null unassigns"
    )
    team_id: str | None = Field(default=None, pattern=ID_PATTERN, description="null: no team")
    priority: Priority | None = None
    status: SettableStatus | None = Field(default=None, description="To snooze, use the snooze action")
    tags_add: list[Tag] = Field(default_factory=list, max_length=50, description="Lower-cased")
    tags_remove: list[Tag] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _something_to_change(self) -> TicketChanges:
        for name in ("priority", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if set(self.tags_add) & set(self.tags_remove):
            raise ValueError("a tag cannot be added and removed at once")
        if not self.requested():
            raise ValueError("nothing to change")
        return self

    def requested(self) -> set[str]:
        """The fields this request changes (empty tag lists change nothing)."""
        return {
            name
            for name in self.model_fields_set
            if not (name in ("tags_add", "tags_remove") and not getattr(self, name))
        }


class SnoozeRequest(Model):
    until: AwareDatetime = Field(description="When the ticket comes back (future, at most 90 days ahead)")


class MergeRequest(Model):
    source_ticket_id: TicketId = Field(description="The ticket merged into this one; it is closed")


class BulkAction(TicketChanges):
    snooze_until: AwareDatetime | None = Field(default=None, description="Snooze every ticket until then")

    @model_validator(mode="after")
    def _snooze_or_status(self) -> BulkAction:
        if self.snooze_until is not None and self.status is not None:
            raise ValueError("snooze_until and status cannot be combined")
        if "snooze_until" in self.model_fields_set and self.snooze_until is None:
            raise ValueError("snooze_until cannot be null")
        return self


class BulkRequest(Model):
    ticket_ids: list[TicketId] = Field(min_length=1, max_length=MAX_BULK)
    action: BulkAction


class BulkOutcome(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID = "invalid"


class BulkResult(Model):
    ticket_id: str
    outcome: BulkOutcome
    error: str | None = None


class BulkResponse(Model):
    results: list[BulkResult]


# --- ports --------------------------------------------------------------------------------------


# --- the service --------------------------------------------------------------------------------


class TicketActions:
    def __init__(
        self, repository: ActionsRepository, timers: SlaTimers, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._repo = repository
        self._timers = timers
        self._clock = clock

    # --- assign, team, priority, status, tags, snooze ------------------------------------------

    def change(self, tenant_id: str, agent_id: str, ticket_id: str, changes: TicketChanges) -> Ticket:
        """Apply the changes; the ticket as it is afterwards (unchanged: as it was)."""
        self._check_assignee(tenant_id, changes)
        return self._apply(tenant_id, agent_id, ticket_id, changes, None)[0]

    def snooze(self, tenant_id: str, agent_id: str, ticket_id: str, until: datetime) -> Ticket:
        self._check_snooze(until)
        return self._apply(tenant_id, agent_id, ticket_id, None, until)[0]

    def bulk(self, tenant_id: str, agent_id: str, request: BulkRequest) -> BulkResponse:
        """The action on each ticket on its own: one ticket failing does not stop the others. A wrong
        action (unknown assignee, snooze time out of range) is refused for all (ValueError)."""
        action = request.action
        self._check_assignee(tenant_id, action)
        if action.snooze_until is not None:
            self._check_snooze(action.snooze_until)
        changes = action if action.requested() - {"snooze_until"} else None
        results = []
        for ticket_id in dict.fromkeys(request.ticket_ids):
            try:
                _, changed = self._apply(tenant_id, agent_id, ticket_id, changes, action.snooze_until)
            except NotFound as exc:
                results.append(BulkResult(ticket_id=ticket_id, outcome=BulkOutcome.NOT_FOUND, error=exc.message))
            except TicketMerged as exc:
                results.append(BulkResult(ticket_id=ticket_id, outcome=BulkOutcome.INVALID, error=exc.message))
            except Conflict as exc:
                results.append(BulkResult(ticket_id=ticket_id, outcome=BulkOutcome.CONFLICT, error=exc.message))
            except (ValueError, HelpdeskError) as exc:
                results.append(BulkResult(ticket_id=ticket_id, outcome=BulkOutcome.INVALID, error=str(exc)))
            else:
                outcome = BulkOutcome.UPDATED if changed else BulkOutcome.UNCHANGED
                results.append(BulkResult(ticket_id=ticket_id, outcome=outcome))
        return BulkResponse(results=results)

    def _apply(
        self,
        tenant_id: str,
        agent_id: str,
        ticket_id: str,
        changes: TicketChanges | None,
        snooze_until: datetime | None,
    ) -> tuple[Ticket, bool]:
        for _ in range(MAX_ATTEMPTS):
            ticket = self._ticket(tenant_id, ticket_id)
            now = self._clock()
            updated = ticket.model_copy(deep=True)
            parts = edit(updated, changes, snooze_until, now)
            if not parts:
                return ticket, False
            updated.updated_at = now
            rearm = timer_transition(ticket, updated, now)
            event = agent_event(updated, now, agent_id, parts)
            try:
                self._repo.update_ticket(ticket, updated, [event])
            except Conflict:
                continue  # changed meanwhile: apply to what is there now
            if updated.assignee_id and updated.assignee_id != ticket.assignee_id:
                self._repo.mark_assigned(tenant_id, updated.assignee_id, now)
            if rearm:
                self._start_timer(updated)
            return updated, True
        raise Conflict("the ticket kept changing; try again", ticket_id=ticket_id)

    def _check_assignee(self, tenant_id: str, changes: TicketChanges) -> None:
        """The assignee is an active agent, the team one of the tenant's teams (400 otherwise)."""
        if changes.assignee_id is not None:
            active = {a.agent_id for a in self._repo.list_agents(tenant_id) if a.active}
            if changes.assignee_id not in active:
                raise ValueError(f"{changes.assignee_id!r} is not an active agent of this helpdesk")
        if changes.team_id is not None and changes.team_id not in {t.team_id for t in self._repo.list_teams(tenant_id)}:
            raise ValueError(f"no team {changes.team_id!r} (an admin creates it under /teams)")

    def _check_snooze(self, until: datetime) -> None:
        now = self._clock()
        if until <= now:
            raise ValueError("snooze until a time in the future")
        if until - now > MAX_SNOOZE:
            raise ValueError(f"snooze for at most {MAX_SNOOZE.days} days")

    # --- merge ----------------------------------------------------------------------------------

    def merge(self, tenant_id: str, agent_id: str, target_id: str, source_id: str) -> Ticket:
        """Merge ``source_id`` into ``target_id``; the target as it is afterwards. Repeating a merge
        (or retrying one that failed half-way) finishes it; nothing is copied twice."""
        if source_id == target_id:
            raise ValueError("a ticket cannot be merged into itself")
        for _ in range(MAX_ATTEMPTS):
            self._ticket(tenant_id, target_id)  # exists and is not merged itself (else 404 / 409)
            source_view = self._view(tenant_id, source_id)
            source = source_view.ticket
            if source.merged_into and source.merged_into != target_id:
                raise TicketMerged(
                    f"ticket {source_id} was already merged into {source.merged_into}",
                    ticket_id=source_id,
                    merged_into=source.merged_into,
                )
            now = self._clock()
            if source.merged_into is None:
                _refuse_reply_in_flight(source_view)
                owed = owes_answer(source)
                prefix = new_id(now)[:10]
                closed = source.model_copy(deep=True)
                closed.status = TicketStatus.CLOSED
                closed.merged_into = target_id
                closed.snoozed_until = None
                closed.updated_at = now
                closed.sla_timer_version = source.sla_timer_version + 1  # its timer is stale from now on
                event = agent_event(
                    closed,
                    now,
                    agent_id,
                    [f"merged into ticket {target_id}"],
                    message_id=derived_id(prefix, _into_seed(target_id, owed)),
                )
                try:
                    self._repo.close_merged_source(source, closed, event, _threads(source_view))
                except Conflict:
                    continue  # a message arrived, or the target was merged meanwhile: look again
            else:
                prefix, owed = _merge_prefix(source_view, target_id)
            target_view = self._view(tenant_id, target_id)
            marker = derived_id(prefix, f"merged-from:{source_id}")
            if any(m.message_id == marker for m in target_view.messages):
                return target_view.ticket  # merged before: done
            # In the source's timeline order (the view's): the copies' ids sort the same way.
            originals = [m for m in source_view.messages if m.direction != MessageDirection.EVENT]
            copies = [
                m.model_copy(update={"ticket_id": target_id, "message_id": copy_id(prefix, position, m.message_id)})
                for position, m in enumerate(originals)
            ]
            self._repo.copy_messages(copies)
            current = target_view.ticket
            merged = current.model_copy(deep=True)
            parts = [f"merged ticket {source_id} into this one ({len(copies)} messages)"]
            refs = [r for r in source.order_refs if r not in merged.order_refs]
            tags = [t for t in source.tags if t not in merged.tags]
            merged.order_refs.extend(refs)
            merged.tags.extend(tags)
            if refs:
                parts.append("order refs +" + " +".join(refs))
            if tags:
                parts.append("tags +" + " +".join(tags))
            if merged.customer_email is None and source.customer_email:
                merged.customer_email = source.customer_email
                merged.customer_name = merged.customer_name or source.customer_name
            merged.message_count += sum(1 for m in copies if m.direction == MessageDirection.INBOUND)
            merged.last_message_at = max(filter(None, [current.last_message_at, source.last_message_at]), default=None)
            merged.updated_at = now
            rearm = False
            if owed:
                sla_parts, rearm = take_owed_deadline(current, source, merged, now)
                parts.extend(sla_parts)
            event = agent_event(merged, now, agent_id, parts, message_id=marker)
            try:
                self._repo.update_ticket(current, merged, [event])
            except Conflict:
                continue  # copies are repeatable: re-read the target and finish
            if rearm:
                self._start_timer(merged)
            return merged
        raise Conflict(
            "the tickets kept changing during the merge; try again (it resumes where it stopped)",
            ticket_id=target_id,
            source_ticket_id=source_id,
        )

    # --- split ----------------------------------------------------------------------------------

    def split(self, tenant_id: str, agent_id: str, ticket_id: str, message_id: str) -> Ticket:
        """Move one buyer message into a new ticket; the new ticket."""
        for _ in range(MAX_ATTEMPTS):
            view = self._view(tenant_id, ticket_id)
            ticket = view.ticket
            _refuse_merged(ticket)
            moved = next((m for m in view.messages if m.message_id == message_id), None)
            if moved is None:
                raise NotFound("message not found on this ticket", ticket_id=ticket_id, message_id=message_id)
            if moved.direction != MessageDirection.INBOUND:
                raise ValueError("only a buyer message can be split into a new ticket")
            inbound = [m for m in view.messages if m.direction == MessageDirection.INBOUND]
            if len(inbound) < 2:
                raise Conflict("the ticket's only buyer message cannot be split off", ticket_id=ticket_id)
            now = self._clock()
            new_ticket = Ticket(
                tenant_id=tenant_id,
                ticket_id=new_id(now),
                store_id=moved.store_id,
                channel=moved.channel,
                subject=_subject(moved.body, ticket.subject),
                status=TicketStatus.NEW,
                priority=ticket.priority,
                language=moved.language or ticket.language,
                team_id=ticket.team_id,
                customer_email=ticket.customer_email,
                customer_name=ticket.customer_name,
                channel_thread_id=moved.channel_thread_id,
                order_refs=list(ticket.order_refs),
                sla_policy_id=ticket.sla_policy_id,
                first_response_due_at=ticket.sla_due_at or sla_timers.first_response_due(moved.created_at, None),
                sla_timer_version=1,
                message_count=1,
                created_at=now,
                updated_at=now,
                last_message_at=moved.created_at,
            )
            new_message = moved.model_copy(update={"ticket_id": new_ticket.ticket_id})
            updated = ticket.model_copy(deep=True)
            rest = [m for m in inbound if m.message_id != message_id]
            updated.message_count = max(0, ticket.message_count - 1)
            updated.last_message_at = max(m.created_at for m in rest)
            updated.updated_at = now
            event = agent_event(
                updated, now, agent_id, [f"message {message_id} split into new ticket {new_ticket.ticket_id}"]
            )
            new_event = agent_event(
                new_ticket, now, agent_id, [f"split from ticket {ticket_id} (message {message_id})"]
            )
            try:
                self._repo.split_message(ticket, updated, event, moved, new_ticket, new_message, new_event)
            except Conflict:
                continue
            self._start_timer(new_ticket)
            return new_ticket
        raise Conflict("the ticket kept changing; try again", ticket_id=ticket_id)

    # --- wake-ups -------------------------------------------------------------------------------

    def wake_due(self, tenant_id: str) -> list[str]:
        return wake_snoozed(self._repo, self._timers, tenant_id, self._clock())

    # --- helpers --------------------------------------------------------------------------------

    def _ticket(self, tenant_id: str, ticket_id: str) -> Ticket:
        ticket = found_ticket(self._repo, tenant_id, ticket_id)
        _refuse_merged(ticket)
        return ticket

    def _view(self, tenant_id: str, ticket_id: str) -> TicketView:
        return found_view(self._repo, tenant_id, ticket_id)

    def _start_timer(self, ticket: Ticket) -> None:
        request = sla_timers.timer_request(ticket)
        if request is not None:
            self._timers.start(request)


def wake_snoozed(repository: SnoozeRepository, timers: SlaTimers | None, tenant_id: str, now: datetime) -> list[str]:
    """Snoozed tickets whose time has come back to open, each with an event; the ids woken."""
    woken = []
    for ticket_id in repository.list_snoozed_due(tenant_id, now, WAKE_BATCH):
        for _ in range(MAX_ATTEMPTS):
            ticket = repository.get_ticket(tenant_id, ticket_id)
            if (
                ticket is None
                or ticket.status != TicketStatus.SNOOZED
                or ticket.snoozed_until is None
                or ticket.snoozed_until > now
            ):
                break  # woken by a message, changed by an agent, or snoozed again meanwhile
            updated = ticket.model_copy(deep=True)
            updated.status = TicketStatus.OPEN
            updated.snoozed_until = None
            updated.updated_at = now
            rearm = timer_transition(ticket, updated, now)
            event = agent_event(
                updated, now, SYSTEM, [f"Snooze until {ticket.snoozed_until.isoformat()} ended: back in the queue"]
            )
            try:
                repository.update_ticket(ticket, updated, [event])
            except Conflict:
                continue
            woken.append(ticket_id)
            request = sla_timers.timer_request(updated) if rearm else None
            if request is not None and timers is not None:
                timers.start(request)
            break
    return woken


# --- pure helpers ---------------------------------------------------------------------------------


def edit(ticket: Ticket, changes: TicketChanges | None, snooze_until: datetime | None, now: datetime) -> list[str]:
    """Apply the request to ``ticket`` (a copy) and say what changed; [] when it already was so."""
    parts: list[str] = []
    fields = changes.requested() if changes else set()
    if changes and "assignee_id" in fields and changes.assignee_id != ticket.assignee_id:
        before, ticket.assignee_id = ticket.assignee_id, changes.assignee_id
        if ticket.assignee_id:
            ticket.last_agent_action_at = now  # the aging clock starts at the assignment
            ticket.aging_level = 0
            parts.append(f"assigned to {ticket.assignee_id}" + (f" (was {before})" if before else ""))
        else:
            parts.append(f"unassigned (was {before})")
    if changes and "team_id" in fields and changes.team_id != ticket.team_id:
        before, ticket.team_id = ticket.team_id, changes.team_id
        parts.append(f"team {before or 'none'} → {ticket.team_id or 'none'}")
    if changes and changes.priority is not None and changes.priority != ticket.priority:
        parts.append(f"priority {ticket.priority.value} → {changes.priority.value}")
        ticket.priority = changes.priority
    if changes and changes.status is not None and changes.status != ticket.status:
        parts.append(f"status {ticket.status.value} → {changes.status}")
        ticket.status = TicketStatus(changes.status)
        ticket.snoozed_until = None
    if changes:
        added = [t for t in dict.fromkeys(changes.tags_add) if t not in ticket.tags]
        removed = [t for t in dict.fromkeys(changes.tags_remove) if t in ticket.tags]
        if added or removed:
            ticket.tags = [t for t in ticket.tags if t not in removed] + added
            parts.append("tags " + " ".join([f"+{t}" for t in added] + [f"-{t}" for t in removed]))
    if snooze_until is not None and (ticket.status != TicketStatus.SNOOZED or ticket.snoozed_until != snooze_until):
        parts.append(
            f"snoozed until {snooze_until.isoformat()}"
            + (f" (was {ticket.status.value})" if ticket.status != TicketStatus.SNOOZED else "")
        )
        ticket.status = TicketStatus.SNOOZED
        ticket.snoozed_until = snooze_until
    return parts


def timer_transition(before: Ticket, after: Ticket, now: datetime) -> bool:
    """Bump ``after.sla_timer_version`` as the status change needs (module docstring); True when a
    fresh timer must be started once ``after`` is stored."""
    if after.status in _DONE and before.status not in _DONE:
        after.sla_timer_version = before.sla_timer_version + 1  # the running timer is stale now
        return False
    if not before.status.in_queue and after.status.in_queue:
        due = after.sla_due_at
        if due is not None and due > now and after.sla_breached_at is None:
            after.sla_timer_version = before.sla_timer_version + 1
            return True
    return False


def agent_event(
    ticket: Ticket, at: datetime, agent_id: str, parts: Sequence[str], message_id: str | None = None
) -> Message:
    """The audit entry: who changed what, as one timeline event ("agent-1: assigned to agent-2; ...")."""
    system = agent_id == SYSTEM
    return Message(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.ticket_id,
        message_id=message_id or new_id(at),
        direction=MessageDirection.EVENT,
        channel=ticket.channel,
        store_id=ticket.store_id,
        author=agent_id,
        author_id=None if system else agent_id,
        body=("" if system else f"{agent_id}: ") + "; ".join(parts),
        created_at=at,
    )


def owes_answer(ticket: Ticket) -> bool:
    """An agent still owes the buyer an answer: the ticket is in a queue, or snoozed with a deadline
    (parked, it comes back by itself). Waiting on the customer, resolved or closed: nothing owed."""
    return ticket.status.in_queue or (ticket.status == TicketStatus.SNOOZED and ticket.sla_due_at is not None)


def take_owed_deadline(target: Ticket, source: Ticket, merged: Ticket, now: datetime) -> tuple[list[str], bool]:
    """The source of a merge was owed an answer: make ``merged`` (a copy of ``target``) owe it.

    ``merged`` is back in the queue (open) if ``target`` was not, and its ``sla_due_at`` is the
    earlier of the owed deadlines — the target's (only if it owed one itself) and the source's —
    set on the field ``sla_due_at`` reads (first response while the target was never answered, else
    next response), with the breach / warning state recorded for that deadline (the target's stale
    ones go). Then the timer version is bumped. What changed for the audit event, and True when a
    timer must be started once ``merged`` is stored (``sla_timers.timer_request`` then decides: none for a
    breach already recorded; a deadline of the source already passed is recorded as breached). The
    target's own parked deadline coming back follows ``timer_transition`` (no breach for the parked
    time). Nothing changes when the target is in a queue and its own deadline comes first."""
    target_due = target.sla_due_at if owes_answer(target) else None
    source_due = source.sla_due_at
    takes_source = source_due is not None and (target_due is None or source_due < target_due)
    parts: list[str] = []
    if not target.status.in_queue:
        parts.append(f"status {target.status.value} → open (ticket {source.ticket_id} is owed an answer)")
        merged.status = TicketStatus.OPEN
        merged.snoozed_until = None
    elif not takes_source:
        return parts, False  # in a queue, its own deadline first: its timer runs on
    if not takes_source and target_due is not None:
        return parts, timer_transition(target, merged, now)  # its own deadline, back from parking
    owner = source if takes_source else None  # None: no deadline owed anywhere
    due = source_due if takes_source else None
    if merged.first_responded_at is None:
        merged.first_response_due_at = due
    else:
        merged.next_response_due_at = due
    merged.sla_breached_at = owner.sla_breached_at if owner else None
    if owner is not None and owner.sla_breached_at is not None:
        merged.sla_breach_inherited_at = owner.sla_breached_at  # the source's breach: counted there already
    merged.sla_warned_at = owner.sla_warned_at if owner else None
    merged.sla_warn_at = owner.sla_warn_at if owner else None
    merged.sla_timer_version = target.sla_timer_version + 1
    if due is not None:
        parts.append(f"answer due {due.isoformat()} (ticket {source.ticket_id}'s deadline)")
    return parts, due is not None


def derived_id(prefix: str, seed: str) -> str:
    """An id shaped like ``ids.new_id`` (10 time chars + 16 chars) whose tail comes from ``seed``:
    the same merge writes the same ids on a retry."""
    return prefix + _hash_chars(seed, 16)


def copy_id(prefix: str, position: int, original_id: str) -> str:
    """The id of the ``position``-th copied message of a merge (10 time chars + 4 position chars + 12
    hash chars, ``ids.new_id``'s shape): copies sort in the order of their positions, after anything
    stored before the merge time, and a retry of the merge writes the same ids."""
    if not 0 <= position < 32**_POSITION:
        raise ValueError(f"a merge copies at most {32**_POSITION} messages")
    digits = "".join(_ALPHABET[(position >> (5 * i)) & 31] for i in reversed(range(_POSITION)))
    return prefix + digits + _hash_chars(f"copy:{original_id}", 26 - 10 - _POSITION)


def _hash_chars(seed: str, length: int) -> str:
    value = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:10], "big")
    return "".join(_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(length)))


def _into_seed(target_id: str, owed: bool) -> str:
    return f"merged-into:{target_id}" + (_OWED if owed else "")


def _merge_prefix(source_view: TicketView, target_id: str) -> tuple[str, bool]:
    """The time part of the ids a merge writes and whether the source was owed an answer, read back
    from the source's merge event."""
    for owed in (False, True):
        tail = derived_id("", _into_seed(target_id, owed))
        for message in source_view.messages:
            if message.direction == MessageDirection.EVENT and message.message_id.endswith(tail):
                return message.message_id[: -len(tail)], owed
    return new_id(source_view.ticket.updated_at)[:10], False  # merged by other means: its last change


def _refuse_reply_in_flight(view: TicketView) -> None:
    """A reply the dispatcher may still send goes out on the source's thread: merging now would
    strand it (its outcome recorded on a closed ticket, the answer missing from the target)."""
    pending = [
        m.message_id
        for m in view.messages
        if m.direction == MessageDirection.OUTBOUND and m.delivery_status in _IN_FLIGHT
    ]
    if pending:
        raise ReplyInFlight(
            f"ticket {view.ticket.ticket_id} has a reply being sent; merge it once the reply is sent or failed",
            ticket_id=view.ticket.ticket_id,
            message_ids=pending,
        )


def _threads(view: TicketView) -> list[tuple[str, str]]:
    """(store, channel thread) pairs the ticket's buyer messages came through."""
    pairs = [(view.ticket.store_id, view.ticket.channel_thread_id)] if view.ticket.channel_thread_id else []
    pairs += [
        (m.store_id, m.channel_thread_id)
        for m in view.messages
        if m.direction == MessageDirection.INBOUND and m.channel_thread_id
    ]
    return list(dict.fromkeys(pairs))


def _refuse_merged(ticket: Ticket) -> None:
    if ticket.merged_into:
        raise TicketMerged(
            f"ticket {ticket.ticket_id} was merged into {ticket.merged_into}",
            ticket_id=ticket.ticket_id,
            merged_into=ticket.merged_into,
        )


def _subject(body: str, fallback: str) -> str:
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    if not first:
        return fallback
    return first[:80] + ("…" if len(first) > 80 else "")
