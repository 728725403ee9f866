"""The queues and saved views: the SLA-sorted queue with its filters, views and their counts."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from helpdesk.api.access import caller
from helpdesk.api.agent.common import Cursor, Limit, created
from helpdesk.core.models import (
    ID_PATTERN,
    AgentRole,
    Channel,
    Intent,
    QueuePage,
    TicketStatus,
)
from helpdesk.platform import wiring
from helpdesk.tickets.inbox import QueueFilter, SavedView, SlaFilter, ViewCounts, ViewList, ViewSpec

router = Router()


@router.get("/tickets")
def list_queue(
    store_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    channel: Annotated[Channel | None, Query()] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    intent: Annotated[Intent | None, Query()] = None,
    status: Annotated[
        TicketStatus | None,
        Query(
            description="new/open/pending: the SLA-sorted queue; waiting_on_customer/snoozed/resolved/closed: "
            "newest change first"
        ),
    ] = None,
    assignee_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="An agent id, 'me', or 'none' (unassigned)")
    ] = None,
    team_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    language: Annotated[str | None, Query(min_length=2, max_length=35)] = None,
    sla: Annotated[
        SlaFilter | None,
        Query(description="breached: deadline passed; near_breach: warning point passed, deadline not"),
    ] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> QueuePage:
    """Open tickets, soonest SLA deadline first, narrowed by any of the filters (a team and an agent
    together are refused). A page may hold fewer tickets than `limit` when filters skip many: keep
    following `next_cursor` until it is null."""
    me = caller(router)
    filters = QueueFilter(
        store_id=store_id,
        channel=channel,
        tag=tag,
        intent=intent,
        status=status,
        assignee_id=assignee_id,
        team_id=team_id,
        language=language,
        sla=sla,
    )
    return wiring.inbox().queue(me.tenant_id, me.agent_id, filters, limit, cursor)


@router.get("/views")
def list_views() -> ViewList:
    """The built-in views (mine, unassigned, breached, open), then the caller's and the shared saved views."""
    me = caller(router)
    return wiring.inbox().views(me.tenant_id, me.agent_id)


@router.post("/views", responses=created(SavedView, "The saved view"))
def create_view(spec: ViewSpec) -> tuple[SavedView, int]:
    """Save a view (a name and queue filters); `shared` makes it visible to every agent of the tenant."""
    me = caller(router).require_writer()
    return wiring.inbox().create_view(me.tenant_id, me.agent_id, spec), 201


@router.get("/views/counts")
def view_counts() -> ViewCounts:
    """How many tickets each view holds (built-ins and saved views); `capped` when a count stopped early
    (at most 200 tickets are read per view, 20,800 per call)."""
    me = caller(router)
    return wiring.inbox().counts(me.tenant_id, me.agent_id)


@router.get("/views/<view_id>")
def get_view(view_id: str) -> SavedView:
    """One view (built-in, the caller's, or shared)."""
    me = caller(router)
    return wiring.inbox().get_view(me.tenant_id, me.agent_id, view_id)


@router.put("/views/<view_id>")
def replace_view(view_id: str, spec: ViewSpec) -> SavedView:
    """Replace a saved view's name, filters and sharing (its owner; a shared view also an admin)."""
    me = caller(router).require_writer()
    return wiring.inbox().update_view(me.tenant_id, me.agent_id, view_id, spec, admin=me.role == AgentRole.ADMIN)


@router.delete("/views/<view_id>")
def delete_view(view_id: str) -> dict[str, str]:
    """Delete a saved view (its owner; a shared view also an admin)."""
    me = caller(router).require_writer()
    view = wiring.inbox().delete_view(me.tenant_id, me.agent_id, view_id, admin=me.role == AgentRole.ADMIN)
    return {"deleted": view.view_id}


@router.get("/views/<view_id>/tickets")
def view_tickets(view_id: str, limit: Limit = 25, cursor: Cursor = None) -> QueuePage:
    """The view's queue ("me" in a view means the caller)."""
    me = caller(router)
    return wiring.inbox().view_tickets(me.tenant_id, me.agent_id, view_id, limit, cursor)
