"""What the setup API's routers share: the caller, who must be an admin of the tenant."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from helpdesk.api import access
from helpdesk.api.identity import Identity


def admin(router: Router) -> Identity:
    """An admin of the tenant, by the token and by the tenant's agent list (active, still an admin)."""
    return access.caller(router).require_admin()
