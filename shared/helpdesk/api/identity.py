"""Who is calling an HTTP API: the claims API Gateway's JWT authorizer verified (Cognito in AWS,
the local stack's own signed tokens locally). The tenant always comes from here, never from the
request body or path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from helpdesk.core.errors import Forbidden, Unauthorized
from helpdesk.core.models import Agent, AgentRole

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


_RANK = {AgentRole.READ_ONLY: 0, AgentRole.AGENT: 1, AgentRole.ADMIN: 2}


def confirm(identity: Identity, agents: Sequence[Agent]) -> Identity:
    """The token says who the caller was when it was issued (an hour's validity in Cognito); the
    tenant's agent list says who may act now. Once a tenant has agents, the caller must be one of
    them and active, and acts with the lesser of the token's and the record's role (a demotion in
    either place counts at once). A tenant with no agents yet (setting up) is not checked."""
    if not agents:
        return identity
    record = next((a for a in agents if a.agent_id == identity.agent_id), None)
    if record is None:
        raise Forbidden("this agent is not in the tenant's agent list")
    if not record.active:
        raise Forbidden("this agent has been deactivated")
    role = min(identity.role, record.role, key=_RANK.__getitem__)
    return identity if role == identity.role else replace(identity, role=role)


class AgentLister(Protocol):
    def list_agents(self, tenant_id: str) -> list[Agent]: ...


class AgentDirectory:
    """The tenant's agents for ``confirm``, read once per ``ttl_seconds`` in a warm function (one
    Query; a change of the agent list is seen within that time)."""

    def __init__(
        self, repository: AgentLister, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._repo, self._ttl, self._clock = repository, ttl_seconds, clock
        self._cache: dict[str, tuple[float, list[Agent]]] = {}
        self._lock = threading.Lock()

    def agents(self, tenant_id: str) -> list[Agent]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        agents = self._repo.list_agents(tenant_id)
        with self._lock:
            self._cache[tenant_id] = (now, agents)
        return agents

    def forget(self, tenant_id: str) -> None:
        """After this function changed the agent list itself."""
        with self._lock:
            self._cache.pop(tenant_id, None)

    def confirm(self, identity: Identity) -> Identity:
        return confirm(identity, self.agents(identity.tenant_id))
