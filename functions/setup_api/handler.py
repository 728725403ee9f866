"""Seller setup API: connect a store, list stores with health, pause/resume, rotate credentials,
disconnect; the routing settings (rules, SLA policies, agents, teams, aging steps); proactive messages
and policy snippets. Admin agents only; the tenant comes from the verified token. The routes live in
``helpdesk.api.setup`` (one Powertools ``Router`` per area); this file assembles them. Credentials never
reach a log."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from helpdesk.api.error_handlers import install_error_handlers
from helpdesk.api.setup import automation, routing, stores
from helpdesk.platform.observability import logger_for

logger = logger_for("setup-api")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)
for area in (routing, automation, stores):
    app.include_router(area.router)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
