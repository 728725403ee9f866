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
from helpdesk.config import client, settings
from helpdesk.http_api import install_error_handlers
from helpdesk.identity import Identity, identity_from_event
from helpdesk.models import QueuePage, TicketView
from helpdesk.observability import logger_for
from helpdesk.ticketing import TicketService

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


# --- macros -------------------------------------------------------------------------------------


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
