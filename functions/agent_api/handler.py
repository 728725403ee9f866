"""The agents' HTTP API (API Gateway HTTP API with a JWT authorizer in front).

Every route takes the tenant and agent from the verified token's claims, never from the request;
a ticket of another tenant is simply not found (404), so existence does not leak. Routes stay thin:
read the request, call a domain service from ``helpdesk``, return its model. The OpenAPI document is
generated from these routes (``enable_validation``), served at ``/swagger`` and committed as
``docs/openapi.json`` (``make openapi``; a test fails when the two drift).

Sections: queues and views · ticket reads · ticket actions · collaboration · replies · macros.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query

from helpdesk.adapters.aws import StepFunctionsSlaTimers
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.outbound import DynamoMacros, SqsReplyQueue
from helpdesk.config import client, settings
from helpdesk.errors import Conflict, NotFound
from helpdesk.http_api import install_error_handlers
from helpdesk.identity import Identity, identity_from_event
from helpdesk.ids import new_id
from helpdesk.macros import MacroCreate, MacroSpec, RenderedMacro
from helpdesk.models import Macro, Message, QueuePage, TicketView
from helpdesk.observability import logger_for
from helpdesk.replies import ReplyRequest, ReplyService
from helpdesk.ticketing import TicketService, utc_now

logger = logger_for("agent-api")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)
app.enable_swagger(path="/swagger", title="Helpdesk agent API", version="1.0.0",
                   description="Queues, tickets, replies and collaboration for a seller's agents. "
                               "Every route needs an agent's bearer token (JWT).")


@lru_cache(maxsize=1)
def repository() -> DynamoRepository:
    return DynamoRepository(client("dynamodb"), settings().table_name)


@lru_cache(maxsize=1)
def tickets() -> TicketService:
    return TicketService(repository(), StepFunctionsSlaTimers(client("stepfunctions"),
                                                              settings().sla_state_machine_arn))


def identity() -> Identity:
    """Who is calling, from the claims API Gateway's JWT authorizer verified."""
    return identity_from_event(app.current_event.raw_event)


# --- queues and views ---------------------------------------------------------------------------


@app.get("/tickets")
def list_queue(
    team_id: Annotated[str | None, Query(max_length=128)] = None,
    assignee_id: Annotated[str | None, Query(max_length=128, description="An agent id, or 'me'")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> QueuePage:
    """Open tickets, soonest SLA deadline first (tenant-wide, one team's, or one agent's queue)."""
    me = identity()
    if assignee_id == "me":
        assignee_id = me.agent_id
    return tickets().queue(me.tenant_id, team_id=team_id, assignee_id=assignee_id, limit=limit, cursor=cursor)


# --- ticket reads -------------------------------------------------------------------------------


@app.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> TicketView:
    """One ticket with its whole timeline."""
    return tickets().ticket_view(identity().tenant_id, ticket_id)


# --- ticket actions -----------------------------------------------------------------------------


# --- collaboration ------------------------------------------------------------------------------


# --- replies ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def replies() -> ReplyService:
    macros = DynamoMacros(client("dynamodb"), settings().table_name)
    queue = SqsReplyQueue(client("sqs"), settings().outbound_queue_url)
    return ReplyService(repository(), repository(), macros, queue)


@app.post("/tickets/<ticket_id>/replies")
def reply(ticket_id: str, request: ReplyRequest) -> tuple[Message, int]:
    """Answer the buyer through the ticket's channel. The reply is stored (delivery_status "queued")
    and sent by the dispatcher; the timeline then shows it "sent" or "failed" with the channel's
    error. With `macro_id` and no `body`, the macro is rendered for this ticket (422
    `macro_incomplete` lists the placeholders the ticket has no value for). Refused with 409
    `stale_timeline` when somebody else added to the timeline after `last_seen_message_id`, unless
    `force`."""
    me = identity().require_writer()
    return replies().reply(me.tenant_id, me.agent_id, ticket_id, request), 202


@app.post("/tickets/<ticket_id>/replies/<message_id>/retry")
def retry_reply(ticket_id: str, message_id: str) -> tuple[Message, int]:
    """Send a failed reply again (after checking it did not reach the buyer)."""
    me = identity().require_writer()
    return replies().retry(me.tenant_id, me.agent_id, ticket_id, message_id), 202


@app.get("/tickets/<ticket_id>/macros/<macro_id>/preview")
def preview_macro(ticket_id: str, macro_id: str) -> RenderedMacro:
    """The macro as a reply on this ticket would say it, in the ticket's language when the macro has
    it, with the placeholders the ticket has no value for."""
    me = identity()
    return replies().preview(me.tenant_id, me.agent_id, ticket_id, macro_id)


# --- macros -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def macro_store() -> DynamoMacros:
    return DynamoMacros(client("dynamodb"), settings().table_name)


@app.get("/macros")
def list_macros() -> list[Macro]:
    """The tenant's macros, by name."""
    return sorted(macro_store().list_macros(identity().tenant_id), key=lambda m: m.name.lower())


@app.post("/macros")
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
