"""Who is calling an HTTP API: the claims API Gateway's JWT authorizer verified (Cognito in AWS,
the local stack's own signed tokens locally). The tenant always comes from here, never from the
request body or path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpdesk.errors import Forbidden, Unauthorized
from helpdesk.models import AgentRole

TENANT_CLAIM = "custom:tenant_id"
ROLE_CLAIM = "custom:role"


@dataclass(frozen=True)
class Identity:
    tenant_id: str
    agent_id: str
    role: AgentRole

    def require_admin(self) -> Identity:
        if self.role != AgentRole.ADMIN:
            raise Forbidden("this needs an admin")
        return self

    def require_writer(self) -> Identity:
        """Agents and admins change tickets; a read-only token only reads."""
        if self.role == AgentRole.READ_ONLY:
            raise Forbidden("a read-only token cannot change anything")
        return self


def identity_from_event(raw_event: dict[str, Any]) -> Identity:
    context = raw_event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    tenant_id, agent_id, role = claims.get(TENANT_CLAIM), claims.get("sub"), claims.get(ROLE_CLAIM, "agent")
    if not tenant_id or not agent_id:
        raise Unauthorized("a verified agent token is required")
    try:
        return Identity(tenant_id, agent_id, AgentRole(role))
    except ValueError:
        raise Unauthorized("token carries an unknown role") from None
