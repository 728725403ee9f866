"""One ticket: its detail and the agents' actions on it (assign, status, tags, snooze, merge, split, bulk)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from helpdesk.api.access import caller
from helpdesk.api.agent.common import created
from helpdesk.core.models import Ticket
from helpdesk.platform import wiring
from helpdesk.tickets.actions import BulkRequest, BulkResponse, MergeRequest, SnoozeRequest, TicketChanges
from helpdesk.tickets.collaboration import Viewers
from helpdesk.tickets.inbox import TicketDetail

router = Router()


@router.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> TicketDetail:
    """One ticket: its whole timeline (buyer messages with original and translated text, replies,
    notes, events), the order it is about, the buyer's other orders and tickets, and the other agents
    viewing it. Opening a ticket marks the caller as viewing it for a minute."""
    me = caller(router)
    return wiring.inbox().ticket_detail(me.tenant_id, me.agent_id, ticket_id)


@router.get("/tickets/<ticket_id>/presence")
def get_presence(ticket_id: str) -> Viewers:
    """The other agents viewing or typing in the ticket right now."""
    me = caller(router)
    return wiring.collaboration().viewers(me.tenant_id, me.agent_id, ticket_id)


@router.post("/tickets/bulk")  # static: matched before /tickets/<ticket_id>
def bulk_action(request: BulkRequest) -> BulkResponse:
    """One action on up to 100 tickets: the fields of PATCH /tickets/{ticket_id}, or `snooze_until`.
    Each ticket on its own; the answer says per ticket `updated`, `unchanged` (already so: sending the
    same bulk twice changes nothing the second time), `not_found`, `conflict` (kept changing) or
    `invalid` (e.g. merged into another ticket), with an `error`. An invalid action (unknown assignee
    or team, snooze time out of range) is refused for all with 400."""
    me = caller(router).require_writer()
    return wiring.ticket_actions().bulk(me.tenant_id, me.agent_id, request)


@router.patch("/tickets/<ticket_id>")
def change_ticket(ticket_id: str, changes: TicketChanges) -> Ticket:
    """Assign (`assignee_id`, an active agent; null unassigns), set the team (one of the tenant's
    teams; null: none), priority, status (not snoozed: see snooze) and tags (`tags_add` /
    `tags_remove`, lower-cased), several at once; an unknown agent or team is 400. One timeline event
    lists what changed and who changed it. Assigning restarts the aging clock; resolving or closing
    takes the ticket out of the queues and stops its SLA timer; reopening restarts the timer if the
    deadline is still ahead. A merged ticket is 409 `ticket_merged`."""
    me = caller(router).require_writer()
    return wiring.ticket_actions().change(me.tenant_id, me.agent_id, ticket_id, changes)


@router.post("/tickets/<ticket_id>/snooze")
def snooze_ticket(ticket_id: str, request: SnoozeRequest) -> Ticket:
    """Out of the queues until `until` (future, at most 90 days ahead; else 400); then back to open
    with an event (the aging run wakes it), or earlier when the buyer writes."""
    me = caller(router).require_writer()
    return wiring.ticket_actions().snooze(me.tenant_id, me.agent_id, ticket_id, request.until)


@router.post("/tickets/<ticket_id>/merge")
def merge_ticket(ticket_id: str, request: MergeRequest) -> Ticket:
    """Merge `source_ticket_id` into this ticket: its messages join this timeline, its order refs and
    tags are added, it is closed (`merged_into`) and later messages of its conversation come here. An
    event on both timelines. If the source still owed the buyer an answer, this ticket is reopened
    under the earlier deadline. 400 for the ticket itself, 409 `ticket_merged` when either was merged
    already (into another ticket), 409 `reply_in_flight` while a reply of the source is being sent.
    Repeating a merge finishes it if it stopped half-way."""
    me = caller(router).require_writer()
    return wiring.ticket_actions().merge(me.tenant_id, me.agent_id, ticket_id, request.source_ticket_id)


@router.post("/tickets/<ticket_id>/messages/<message_id>/split", responses=created(Ticket, "The new ticket"))
def split_message(ticket_id: str, message_id: str) -> tuple[Ticket, int]:
    """Move a buyer message into a new ticket (status new, same store, buyer and order refs, the
    deadline the buyer was already waiting under); the new ticket. An event on both timelines. 400
    for a message that is not the buyer's, 409 for the ticket's only buyer message."""
    me = caller(router).require_writer()
    return wiring.ticket_actions().split(me.tenant_id, me.agent_id, ticket_id, message_id), 201
