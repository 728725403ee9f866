"""Working together: internal notes with @mentions, presence (viewing, typing), the mentioned agents' notifications."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from helpdesk.api.access import caller
from helpdesk.api.agent.common import Cursor, created
from helpdesk.core.models import Message
from helpdesk.platform import wiring
from helpdesk.tickets.collaboration import NoteRequest, Notification, NotificationPage, PresenceRequest, Viewers

router = Router()


@router.post("/tickets/<ticket_id>/notes", responses=created(Message, "The note"))
def add_note(ticket_id: str, request: NoteRequest) -> tuple[Message, int]:
    """An internal note (never sent to the buyer). `@agent-id` in the body and `mentions` notify those
    agents; an unknown name is refused (422 `unknown_mention`). A note by the assignee restarts the
    aging clock; notes never change the SLA."""
    me = caller(router).require_writer()
    return wiring.collaboration().add_note(me.tenant_id, me.agent_id, ticket_id, request), 201


@router.post("/tickets/<ticket_id>/presence")
def record_presence(ticket_id: str, request: PresenceRequest) -> Viewers:
    """Heartbeat: the caller is viewing (or typing in) the ticket for the next minute; answers who else is."""
    me = caller(router)
    if request.typing:
        me.require_writer()
    return wiring.collaboration().record_presence(me.tenant_id, me.agent_id, ticket_id, request.typing)


@router.get("/me/notifications")
def list_notifications(
    unread: Annotated[bool, Query(description="Only those not marked read")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Cursor = None,
) -> NotificationPage:
    """The caller's notifications (mentions in notes), newest first; kept 90 days."""
    me = caller(router)
    return wiring.collaboration().notifications(
        me.tenant_id, me.agent_id, unread_only=unread, limit=limit, cursor=cursor
    )


@router.post("/me/notifications/<notification_id>/read")
def mark_notification_read(notification_id: str) -> Notification:
    """Mark one of the caller's notifications read."""
    me = caller(router)
    return wiring.collaboration().mark_read(me.tenant_id, me.agent_id, notification_id)
