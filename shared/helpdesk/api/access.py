"""Who is calling either HTTP API: the verified token's claims confirmed against the tenant's agent list,
consulted on every call (one list per warm function, so the setup API's agent-list change is seen by the
next call of that function at once, by the others within ``AgentDirectory``'s 30 s)."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler.api_gateway import Router

from helpdesk.api.identity import AgentDirectory, Identity, identity_from_event
from helpdesk.platform import wiring


@lru_cache(maxsize=1)
def agent_directory() -> AgentDirectory:
    return AgentDirectory(wiring.repository())


def caller(router: Router) -> Identity:
    """Who is calling, from the claims API Gateway's JWT authorizer verified, confirmed against the
    tenant's agent list (a deactivated or removed agent is refused before the token expires)."""
    return agent_directory().confirm(identity_from_event(router.current_event.raw_event))
