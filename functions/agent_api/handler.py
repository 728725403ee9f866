"""The agents' HTTP API (API Gateway HTTP API with a JWT authorizer in front).

Every route takes the tenant and agent from the verified token's claims, never from the request;
a ticket of another tenant is simply not found (404), so existence does not leak. Routes stay thin:
read the request, call a domain service from ``helpdesk``, return its model. The OpenAPI document is
generated from these routes (``enable_validation``), served at ``/swagger`` and committed as
``docs/openapi.json`` (``make openapi``; a test fails when the two drift).

Sections: queues and views · ticket reads · ticket actions · collaboration · replies · macros.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import ValidationError

from helpdesk.adapters.aws import StepFunctionsSlaTimers
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.inbox_store import NoteStore, NotificationStore, PresenceStore, QueueStore, ViewStore
from helpdesk.adapters.language_services import drafter, translation_service
from helpdesk.adapters.outbound import DynamoMacros, SqsReplyQueue
from helpdesk.adapters.report_store import ReportStore
from helpdesk.adapters.ticket_moves import TicketMoves
from helpdesk.automation import AutomationService, DraftRequest
from helpdesk.collaboration import (
    CollaborationService,
    NoteRequest,
    Notification,
    NotificationPage,
    PresenceRequest,
    Viewers,
)
from helpdesk.config import client, settings
from helpdesk.errors import Conflict, NotFound
from helpdesk.http_api import install_error_handlers
from helpdesk.identity import AgentDirectory, Identity, identity_from_event
from helpdesk.ids import new_id
from helpdesk.inbox import InboxService, QueueFilter, SavedView, SlaFilter, TicketDetail, ViewCounts, ViewList, ViewSpec
from helpdesk.macros import MacroCreate, MacroSpec, RenderedMacro
from helpdesk.models import (
    ID_PATTERN,
    AgentRole,
    Channel,
    Draft,
    Intent,
    Macro,
    Message,
    QueuePage,
    Ticket,
    TicketStatus,
    Translation,
)
from helpdesk.multilingual import ReplyTranslationRequest
from helpdesk.observability import logger_for
from helpdesk.replies import ReplyRequest, ReplyService
from helpdesk.report_service import Backlog, ReportService
from helpdesk.reports import BreachPage, Dimension, Period, ReportQuery, ReportRow, to_csv
from helpdesk.ticket_actions import (
    BulkRequest,
    BulkResponse,
    MergeRequest,
    SnoozeRequest,
    TicketActions,
    TicketChanges,
)
from helpdesk.ticketing import utc_now

logger = logger_for("agent-api")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)
app.configure_openapi(
    title="Helpdesk agent API", version="1.0.0",
    description="Queues, tickets, replies and collaboration for a seller's agents. Every route needs an agent's "
                "bearer token (a JWT carrying the tenant, the agent id as `sub` and the role); the tenant always "
                "comes from the token. Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`; "
                "validation errors are 422 with the fields; another tenant's ticket is 404.",
    security_schemes={"agentJwt": HTTPBearer(bearerFormat="JWT")}, security=[{"agentJwt": []}])
app.enable_swagger(path="/swagger", title="Helpdesk agent API", version="1.0.0",
                   security_schemes={"agentJwt": HTTPBearer(bearerFormat="JWT")}, security=[{"agentJwt": []}])


@lru_cache(maxsize=1)
def repository() -> DynamoRepository:
    return DynamoRepository(client("dynamodb"), settings().table_name)


def created(model: type, description: str) -> dict[int, dict[str, Any]]:
    """OpenAPI for a route answering 201 (the default documented answer is 200)."""
    return {201: {"description": description, "content": {"application/json": {"model": model}}}}


def accepted(model: type, description: str) -> dict[int, dict[str, Any]]:
    """OpenAPI for a route answering 202: accepted, the work continues asynchronously."""
    return {202: {"description": description, "content": {"application/json": {"model": model}}}}


@lru_cache(maxsize=1)
def agent_directory() -> AgentDirectory:
    return AgentDirectory(repository())


def identity() -> Identity:
    """Who is calling, from the claims API Gateway's JWT authorizer verified, confirmed against the
    tenant's agent list (a deactivated or removed agent is refused before the token expires)."""
    return agent_directory().confirm(identity_from_event(app.current_event.raw_event))


# --- queues and views ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def inbox() -> InboxService:
    db, table = client("dynamodb"), settings().table_name
    return InboxService(repository(), QueueStore(db, table), ViewStore(db, table), PresenceStore(db, table),
                        translations=translation_service())


Limit = Annotated[int, Query(ge=1, le=100, description="Tickets per page")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")]


@app.get("/tickets")
def list_queue(
    store_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    channel: Annotated[Channel | None, Query()] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    intent: Annotated[Intent | None, Query()] = None,
    status: Annotated[TicketStatus | None, Query(
        description="new/open/pending: the SLA-sorted queue; waiting_on_customer/snoozed/resolved/closed: "
                    "newest change first")] = None,
    assignee_id: Annotated[str | None, Query(
        pattern=ID_PATTERN, description="An agent id, 'me', or 'none' (unassigned)")] = None,
    team_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    language: Annotated[str | None, Query(min_length=2, max_length=35)] = None,
    sla: Annotated[SlaFilter | None, Query(
        description="breached: deadline passed; near_breach: warning point passed, deadline not")] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> QueuePage:
    """Open tickets, soonest SLA deadline first, narrowed by any of the filters (a team and an agent
    together are refused). A page may hold fewer tickets than `limit` when filters skip many: keep
    following `next_cursor` until it is null."""
    me = identity()
    filters = QueueFilter(store_id=store_id, channel=channel, tag=tag, intent=intent, status=status,
                          assignee_id=assignee_id, team_id=team_id, language=language, sla=sla)
    return inbox().queue(me.tenant_id, me.agent_id, filters, limit, cursor)


@app.get("/views")
def list_views() -> ViewList:
    """The built-in views (mine, unassigned, breached, open), then the caller's and the shared saved views."""
    me = identity()
    return inbox().views(me.tenant_id, me.agent_id)


@app.post("/views", responses=created(SavedView, "The saved view"))
def create_view(spec: ViewSpec) -> tuple[SavedView, int]:
    """Save a view (a name and queue filters); `shared` makes it visible to every agent of the tenant."""
    me = identity().require_writer()
    return inbox().create_view(me.tenant_id, me.agent_id, spec), 201


@app.get("/views/counts")
def view_counts() -> ViewCounts:
    """How many tickets each view holds (built-ins and saved views); `capped` when a count stopped early
    (at most 200 tickets are read per view, 20,800 per call)."""
    me = identity()
    return inbox().counts(me.tenant_id, me.agent_id)


@app.get("/views/<view_id>")
def get_view(view_id: str) -> SavedView:
    """One view (built-in, the caller's, or shared)."""
    me = identity()
    return inbox().get_view(me.tenant_id, me.agent_id, view_id)


@app.put("/views/<view_id>")
def replace_view(view_id: str, spec: ViewSpec) -> SavedView:
    """Replace a saved view's name, filters and sharing (its owner; a shared view also an admin)."""
    me = identity().require_writer()
    return inbox().update_view(me.tenant_id, me.agent_id, view_id, spec, admin=me.role == AgentRole.ADMIN)


@app.delete("/views/<view_id>")
def delete_view(view_id: str) -> dict[str, str]:
    """Delete a saved view (its owner; a shared view also an admin)."""
    me = identity().require_writer()
    view = inbox().delete_view(me.tenant_id, me.agent_id, view_id, admin=me.role == AgentRole.ADMIN)
    return {"deleted": view.view_id}


@app.get("/views/<view_id>/tickets")
def view_tickets(view_id: str, limit: Limit = 25, cursor: Cursor = None) -> QueuePage:
    """The view's queue ("me" in a view means the caller)."""
    me = identity()
    return inbox().view_tickets(me.tenant_id, me.agent_id, view_id, limit, cursor)


# --- ticket reads -------------------------------------------------------------------------------


@app.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> TicketDetail:
    """One ticket: its whole timeline (buyer messages with original and translated text, replies,
    notes, events), the order it is about, the buyer's other orders and tickets, and the other agents
    viewing it. Opening a ticket marks the caller as viewing it for a minute."""
    me = identity()
    return inbox().ticket_detail(me.tenant_id, me.agent_id, ticket_id)


@app.get("/tickets/<ticket_id>/presence")
def get_presence(ticket_id: str) -> Viewers:
    """The other agents viewing or typing in the ticket right now."""
    me = identity()
    return collaboration().viewers(me.tenant_id, me.agent_id, ticket_id)


# --- ticket actions -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def ticket_actions() -> TicketActions:
    return TicketActions(TicketMoves(client("dynamodb"), settings().table_name),
                         StepFunctionsSlaTimers(client("stepfunctions"), settings().sla_state_machine_arn))


@app.post("/tickets/bulk")  # static: matched before /tickets/<ticket_id>
def bulk_action(request: BulkRequest) -> BulkResponse:
    """One action on up to 100 tickets: the fields of PATCH /tickets/{ticket_id}, or `snooze_until`.
    Each ticket on its own; the answer says per ticket `updated`, `unchanged` (already so: sending the
    same bulk twice changes nothing the second time), `not_found`, `conflict` (kept changing) or
    `invalid` (e.g. merged into another ticket), with an `error`. An invalid action (unknown assignee
    or team, snooze time out of range) is refused for all with 400."""
    me = identity().require_writer()
    return ticket_actions().bulk(me.tenant_id, me.agent_id, request)


@app.patch("/tickets/<ticket_id>")
def change_ticket(ticket_id: str, changes: TicketChanges) -> Ticket:
    """Assign (`assignee_id`, an active agent; null unassigns), set the team (one of the tenant's
    teams; null: none), priority, status (not snoozed: see snooze) and tags (`tags_add` /
    `tags_remove`, lower-cased), several at once; an unknown agent or team is 400. One timeline event
    lists what changed and who changed it. Assigning restarts the aging clock; resolving or closing
    takes the ticket out of the queues and stops its SLA timer; reopening restarts the timer if the
    deadline is still ahead. A merged ticket is 409 `ticket_merged`."""
    me = identity().require_writer()
    return ticket_actions().change(me.tenant_id, me.agent_id, ticket_id, changes)


@app.post("/tickets/<ticket_id>/snooze")
def snooze_ticket(ticket_id: str, request: SnoozeRequest) -> Ticket:
    """Out of the queues until `until` (future, at most 90 days ahead; else 400); then back to open
    with an event (the aging run wakes it), or earlier when the buyer writes."""
    me = identity().require_writer()
    return ticket_actions().snooze(me.tenant_id, me.agent_id, ticket_id, request.until)


@app.post("/tickets/<ticket_id>/merge")
def merge_ticket(ticket_id: str, request: MergeRequest) -> Ticket:
    """Merge `source_ticket_id` into this ticket: its messages join this timeline, its order refs and
    tags are added, it is closed (`merged_into`) and later messages of its conversation come here. An
    event on both timelines. If the source still owed the buyer an answer, this ticket is reopened
    under the earlier deadline. 400 for the ticket itself, 409 `ticket_merged` when either was merged
    already (into another ticket), 409 `reply_in_flight` while a reply of the source is being sent.
    Repeating a merge finishes it if it stopped half-way."""
    me = identity().require_writer()
    return ticket_actions().merge(me.tenant_id, me.agent_id, ticket_id, request.source_ticket_id)


@app.post("/tickets/<ticket_id>/messages/<message_id>/split", responses=created(Ticket, "The new ticket"))
def split_message(ticket_id: str, message_id: str) -> tuple[Ticket, int]:
    """Move a buyer message into a new ticket (status new, same store, buyer and order refs, the
    deadline the buyer was already waiting under); the new ticket. An event on both timelines. 400
    for a message that is not the buyer's, 409 for the ticket's only buyer message."""
    me = identity().require_writer()
    return ticket_actions().split(me.tenant_id, me.agent_id, ticket_id, message_id), 201


# --- collaboration ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def collaboration() -> CollaborationService:
    db, table = client("dynamodb"), settings().table_name
    return CollaborationService(repository(), NoteStore(db, table), NotificationStore(db, table),
                                PresenceStore(db, table))


@app.post("/tickets/<ticket_id>/notes", responses=created(Message, "The note"))
def add_note(ticket_id: str, request: NoteRequest) -> tuple[Message, int]:
    """An internal note (never sent to the buyer). `@agent-id` in the body and `mentions` notify those
    agents; an unknown name is refused (422 `unknown_mention`). A note by the assignee restarts the
    aging clock; notes never change the SLA."""
    me = identity().require_writer()
    return collaboration().add_note(me.tenant_id, me.agent_id, ticket_id, request), 201


@app.post("/tickets/<ticket_id>/presence")
def record_presence(ticket_id: str, request: PresenceRequest) -> Viewers:
    """Heartbeat: the caller is viewing (or typing in) the ticket for the next minute; answers who else is."""
    me = identity()
    if request.typing:
        me.require_writer()
    return collaboration().record_presence(me.tenant_id, me.agent_id, ticket_id, request.typing)


@app.get("/me/notifications")
def list_notifications(
    unread: Annotated[bool, Query(description="Only those not marked read")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Cursor = None,
) -> NotificationPage:
    """The caller's notifications (mentions in notes), newest first; kept 90 days."""
    me = identity()
    return collaboration().notifications(me.tenant_id, me.agent_id, unread_only=unread, limit=limit, cursor=cursor)


@app.post("/me/notifications/<notification_id>/read")
def mark_notification_read(notification_id: str) -> Notification:
    """Mark one of the caller's notifications read."""
    me = identity()
    return collaboration().mark_read(me.tenant_id, me.agent_id, notification_id)


# --- replies ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def replies() -> ReplyService:
    macros = DynamoMacros(client("dynamodb"), settings().table_name)
    queue = SqsReplyQueue(client("sqs"), settings().outbound_queue_url)
    return ReplyService(repository(), repository(), macros, queue, translations=translation_service())


@app.post("/tickets/<ticket_id>/replies", responses=accepted(Message, "The reply, queued for sending"))
def reply(ticket_id: str, request: ReplyRequest) -> tuple[Message, int]:
    """Answer the buyer through the ticket's channel. The reply is stored (delivery_status "queued")
    and sent by the dispatcher; the timeline then shows it "sent" or "failed" with the channel's
    error. With `macro_id` and no `body`, the macro is rendered for this ticket (422
    `macro_incomplete` lists the placeholders the ticket has no value for). Refused with 409
    `stale_timeline` when somebody else added to the timeline after `last_seen_message_id`, unless
    `force`."""
    me = identity().require_writer()
    return replies().reply(me.tenant_id, me.agent_id, ticket_id, request), 202


@app.post("/tickets/<ticket_id>/replies/<message_id>/retry", responses=accepted(Message, "The reply, queued again"))
def retry_reply(ticket_id: str, message_id: str) -> tuple[Message, int]:
    """Send a failed reply again (after checking it did not reach the buyer)."""
    me = identity().require_writer()
    return replies().retry(me.tenant_id, me.agent_id, ticket_id, message_id), 202


@app.post("/tickets/<ticket_id>/replies/translation")
def translate_reply(ticket_id: str, request: ReplyTranslationRequest) -> Translation:
    """The reply the agent wrote, translated into the buyer's language for review before sending
    (order and tracking numbers, URLs, e-mail addresses, product names and the store's name are left
    exactly as written). `provider` says who translated it; `translated: false` means it was not
    (no provider, or it failed: `note` says why) and `text` is the original. Send the reviewed text as
    the reply's `translation`; both versions are kept."""
    me = identity().require_writer()
    return replies().translate(me.tenant_id, me.agent_id, ticket_id, request)


@lru_cache(maxsize=1)
def automation() -> AutomationService:
    macros = DynamoMacros(client("dynamodb"), settings().table_name)
    queue = SqsReplyQueue(client("sqs"), settings().outbound_queue_url)
    return AutomationService(repository(), macros, queue, drafter=drafter(), snippets=repository())


@app.post("/tickets/<ticket_id>/draft", responses=created(Draft, "The draft, kept on the ticket"))
def prepare_draft(ticket_id: str, request: DraftRequest) -> tuple[Draft, int]:
    """Prepare a first draft in the buyer's language: from `macro_id`, or by the drafter (Amazon
    Bedrock in AWS, built from the seller's macros and the order data offline) given the thread, the
    order and the seller's policy snippets. Never sent: the agent edits it and replies. 503
    `draft_unavailable` says why none could be prepared."""
    me = identity().require_writer()
    return automation().prepare_draft(me.tenant_id, me.agent_id, ticket_id, request.macro_id), 201


@app.delete("/tickets/<ticket_id>/draft")
def discard_draft(ticket_id: str) -> Ticket:
    """Throw the ticket's draft away."""
    me = identity().require_writer()
    return automation().discard_draft(me.tenant_id, ticket_id)


@app.get("/tickets/<ticket_id>/macros/<macro_id>/preview")
def preview_macro(ticket_id: str, macro_id: str) -> RenderedMacro:
    """The macro as a reply on this ticket would say it, in the ticket's language when the macro has
    it, with the placeholders the ticket has no value for."""
    me = identity()
    return replies().preview(me.tenant_id, me.agent_id, ticket_id, macro_id)


# --- reports ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def report_service() -> ReportService:
    return ReportService(ReportStore(client("dynamodb"), settings().table_name), repository())


Day = Annotated[date, Query(description="A day in the tenant's time zone (YYYY-MM-DD)")]


@app.get("/reports", responses={200: {"description": "One row per period and dimension value (JSON), or CSV",
                                      "content": {"application/json": {"model": list[ReportRow]},
                                                  "text/csv": {"schema": {"type": "string"}}}}})
def get_report(start: Day, end: Day,
               period: Annotated[Period, Query(description="day, week (ISO), month or total")] = "day",
               group_by: Annotated[Dimension, Query(description="all, policy, store, channel, team, agent, "
                                                                "intent or language")] = "all",
               format: Annotated[Literal["json", "csv"], Query(description="csv: a download")] = "json",
               ) -> Response[Any]:
    """First, next response and resolution times (median, p90, mean), SLA compliance, breaches,
    volumes, backlog change, WISMO share and CSAT — per day, ISO week, month or the whole range, for
    the tenant or per policy, store, channel, team, agent, intent or language (days in the tenant's
    time zone). Admin only. Reads one stored item per day and dimension value, whatever the volume."""
    me = identity().require_admin()
    try:
        query = ReportQuery(start=start, end=end, period=period, group_by=group_by)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    rows = report_service().report(me.tenant_id, query)
    if format == "csv":
        return Response(status_code=200, content_type="text/csv; charset=utf-8", body=to_csv(rows), headers={
            "Content-Disposition": f'attachment; filename="report-{group_by}-{period}-{start}-{end}.csv"'})
    return Response(status_code=200, content_type="application/json",
                    body=json.dumps([r.model_dump(mode="json") for r in rows]))


@app.get("/reports/backlog")
def get_backlog(start: Day, end: Day) -> Backlog:
    """Tickets owing an answer at the end of each day of the range (admin only)."""
    me = identity().require_admin()
    return report_service().backlog(me.tenant_id, start, end)


@app.get("/reports/breaches")
def get_breaches(start: Day, end: Day, limit: Limit = 25, cursor: Cursor = None) -> BreachPage:
    """SLA breaches in the range, newest first: ticket, store, channel, policy, agent, the deadline missed."""
    me = identity().require_admin()
    return report_service().breaches(me.tenant_id, start, end, limit, cursor)


# --- macros -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def macro_store() -> DynamoMacros:
    return DynamoMacros(client("dynamodb"), settings().table_name)


@app.get("/macros")
def list_macros() -> list[Macro]:
    """The tenant's macros, by name."""
    return sorted(macro_store().list_macros(identity().tenant_id), key=lambda m: m.name.lower())


@app.post("/macros", responses=created(Macro, "The new macro"))
def create_macro(spec: MacroCreate) -> tuple[Macro, int]:
    """A new macro (admin). Bodies are validated as templates now; `macro_id` is generated when left out."""
    me = identity().require_admin()
    macro = spec.to_macro(me.tenant_id, spec.macro_id or new_id(utc_now()).lower())
    if not macro_store().create_macro(macro):
        raise Conflict("a macro with this id exists", macro_id=macro.macro_id)
    return macro, 201


@app.get("/macros/<macro_id>")
def get_macro(macro_id: str) -> Macro:
    """One macro."""
    macro = macro_store().get_macro(identity().tenant_id, macro_id)
    if macro is None:
        raise NotFound("macro not found", macro_id=macro_id)
    return macro


@app.put("/macros/<macro_id>")
def replace_macro(macro_id: str, spec: MacroSpec) -> Macro:
    """Replace a macro's name, bodies and tags (admin)."""
    me = identity().require_admin()
    if macro_store().get_macro(me.tenant_id, macro_id) is None:
        raise NotFound("macro not found", macro_id=macro_id)
    macro = spec.to_macro(me.tenant_id, macro_id)
    macro_store().put_macro(macro)
    return macro


@app.delete("/macros/<macro_id>")
def delete_macro(macro_id: str) -> tuple[dict[str, str], int]:
    """Delete a macro (admin). Replies already sent from it keep its id."""
    me = identity().require_admin()
    if not macro_store().delete_macro(me.tenant_id, macro_id):
        raise NotFound("macro not found", macro_id=macro_id)
    return {"deleted": macro_id}, 200


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
