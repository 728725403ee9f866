"""Routing administration: agents, teams, aging steps."""

from __future__ import annotations

from typing import Any

from tests.fakes.repository.base import InMemoryTable


class RoutingConfigRecords(InMemoryTable):
    @property
    def teams(self) -> dict[tuple[str, str], Any]:
        return self.__dict__.setdefault("_teams", {})

    @property
    def aging_steps(self) -> dict[str, list[Any]]:
        return self.__dict__.setdefault("_aging_steps", {})

    def replace_agents(self, tenant_id: str, agents: list[Any]) -> None:
        self._enter("replace_agents", tenant_id, agents)
        self.agents = [a for a in self.agents if a.tenant_id != tenant_id] + [a.model_copy(deep=True) for a in agents]

    def put_team(self, team: Any) -> None:
        self.teams[(team.tenant_id, team.team_id)] = team.model_copy(deep=True)

    def list_teams(self, tenant_id: str) -> list[Any]:
        return [t.model_copy(deep=True) for (tenant, _), t in sorted(self.teams.items()) if tenant == tenant_id]

    def replace_teams(self, tenant_id: str, teams: list[Any]) -> None:
        self._enter("replace_teams", tenant_id, teams)
        for key in [k for k in self.teams if k[0] == tenant_id]:
            del self.teams[key]
        for team in teams:
            self.put_team(team)

    def get_aging_steps(self, tenant_id: str) -> list[Any] | None:
        steps = self.aging_steps.get(tenant_id)
        return None if steps is None else [step.model_copy() for step in steps]

    def put_aging_steps(self, tenant_id: str, steps: list[Any]) -> None:
        self._enter("put_aging_steps", tenant_id, steps)
        self.aging_steps[tenant_id] = [step.model_copy() for step in steps]
