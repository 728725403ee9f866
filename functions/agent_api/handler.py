"""The agents' HTTP API (API Gateway HTTP API with a JWT authorizer in front).

Every route takes the tenant and agent from the verified token's claims, never from the request;
a ticket of another tenant is simply not found (404), so existence does not leak. The routes live in
``helpdesk.api.agent`` (one Powertools ``Router`` per area: queues and views, tickets, notes, replies,
reports, macros); this file assembles them. The OpenAPI document is generated from the routes
(``enable_validation``), served at ``/swagger`` and committed as ``docs/openapi.json`` (``make openapi``;
a test fails when the two drift).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from helpdesk.api.agent import macros, notes, queues, replies, reports, tickets
from helpdesk.api.error_handlers import install_error_handlers
from helpdesk.platform.observability import logger_for

logger = logger_for("agent-api")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)
app.configure_openapi(
    title="Helpdesk agent API",
    version="1.0.0",
    description="Queues, tickets, replies and collaboration for a seller's agents. Every route needs an agent's "
    "bearer token (a JWT carrying the tenant, the agent id as `sub` and the role); the tenant always "
    'comes from the token. Errors are `{"error": {"code", "message", "details"?}}`; '
    "validation errors are 422 with the fields; another tenant's ticket is 404.",
    security_schemes={"agentJwt": HTTPBearer(bearerFormat="JWT")},
    security=[{"agentJwt": []}],
)
app.enable_swagger(
    path="/swagger",
    title="Helpdesk agent API",
    version="1.0.0",
    security_schemes={"agentJwt": HTTPBearer(bearerFormat="JWT")},
    security=[{"agentJwt": []}],
)
for area in (queues, tickets, notes, replies, reports, macros):
    app.include_router(area.router)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
