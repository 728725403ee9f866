"""Who may call the APIs: the verified token, confirmed against the tenant's agent list (an agent
deactivated or removed, or demoted, counts before the token expires)."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.api.identity import AgentDirectory, Identity, confirm, identity_from_event
from helpdesk.core.errors import Forbidden, Unauthorized
from helpdesk.core.models import Agent, AgentRole
from tests.unit.builders import TENANT


def person(agent_id: str, **fields: Any) -> Agent:
    return Agent(
        tenant_id=TENANT, agent_id=agent_id, name=agent_id.title(), email=f"{agent_id}@seller.example", **fields
    )


def event(claims: dict[str, str]) -> dict[str, Any]:
    return {"requestContext": {"authorizer": {"jwt": {"claims": claims}}}}


def test_the_token_gives_tenant_agent_and_role() -> None:
    found = identity_from_event(event({"custom:tenant_id": TENANT, "sub": "ada", "custom:role": "admin"}))
    assert found == Identity(TENANT, "ada", AgentRole.ADMIN)
    assert identity_from_event(event({"custom:tenant_id": TENANT, "sub": "ada"})).role == AgentRole.AGENT


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"sub": "ada"},
        {"custom:tenant_id": TENANT},
        {"custom:tenant_id": TENANT, "sub": "ada", "custom:role": "owner"},
    ],
)
def test_a_token_without_tenant_agent_or_known_role_is_refused(claims: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        identity_from_event(event(claims))


def test_a_tenant_still_being_set_up_is_not_checked() -> None:
    caller = Identity(TENANT, "ada", AgentRole.ADMIN)
    assert confirm(caller, []) is caller


def test_an_active_agent_on_the_list_passes() -> None:
    caller = Identity(TENANT, "ada", AgentRole.ADMIN)
    assert confirm(caller, [person("ada", role=AgentRole.ADMIN), person("bob")]) == caller


@pytest.mark.parametrize(
    ("agents", "reason"),
    [
        ([person("bob")], "not in the tenant's agent list"),
        ([person("ada", active=False, role=AgentRole.ADMIN), person("bob")], "deactivated"),
    ],
)
def test_a_removed_or_deactivated_agent_is_refused(agents: list[Agent], reason: str) -> None:
    with pytest.raises(Forbidden, match=reason):
        confirm(Identity(TENANT, "ada", AgentRole.ADMIN), agents)


@pytest.mark.parametrize(
    ("token", "record", "acts_as"),
    [
        (AgentRole.ADMIN, AgentRole.AGENT, AgentRole.AGENT),  # demoted on the list: the token's admin is gone
        (AgentRole.ADMIN, AgentRole.READ_ONLY, AgentRole.READ_ONLY),
        (AgentRole.READ_ONLY, AgentRole.ADMIN, AgentRole.READ_ONLY),  # demoted in Cognito: the token says so
        (AgentRole.AGENT, AgentRole.AGENT, AgentRole.AGENT),
    ],
)
def test_the_caller_acts_with_the_lesser_role(token: AgentRole, record: AgentRole, acts_as: AgentRole) -> None:
    assert confirm(Identity(TENANT, "ada", token), [person("ada", role=record)]).role == acts_as


class CountingRepository:
    def __init__(self) -> None:
        self.agents: dict[str, list[Agent]] = {}
        self.reads = 0

    def list_agents(self, tenant_id: str) -> list[Agent]:
        self.reads += 1
        return list(self.agents.get(tenant_id, []))


def test_the_directory_reads_the_list_once_per_interval_and_sees_a_change_after_it() -> None:
    repo, now = CountingRepository(), [1000.0]
    repo.agents[TENANT] = [person("ada")]
    directory = AgentDirectory(repo, ttl_seconds=30, clock=lambda: now[0])
    caller = Identity(TENANT, "ada", AgentRole.AGENT)
    assert directory.confirm(caller) == caller
    repo.agents[TENANT] = [person("ada", active=False)]
    now[0] += 29
    assert directory.confirm(caller) == caller and repo.reads == 1  # the cached list, one Query so far
    now[0] += 2
    with pytest.raises(Forbidden, match="deactivated"):
        directory.confirm(caller)
    assert repo.reads == 2


def test_the_directory_forgets_a_tenant_whose_list_it_changed() -> None:
    repo = CountingRepository()
    directory = AgentDirectory(repo, clock=lambda: 0.0)
    assert directory.agents(TENANT) == []
    repo.agents[TENANT] = [person("bob")]
    directory.forget(TENANT)
    with pytest.raises(Forbidden, match="not in the tenant's agent list"):
        directory.confirm(Identity(TENANT, "ada", AgentRole.ADMIN))
    assert directory.agents("other-tenant") == [] and repo.reads == 3
