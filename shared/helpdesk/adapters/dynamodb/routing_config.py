"""Routing settings: agents (and their assigned counts), teams, aging steps, rules, SLA policy specs,
proactive messages and policy snippets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from helpdesk.adapters import keys
from helpdesk.adapters.dynamodb.base import _DESER, _SER, TableAccess, _s, batch_write, from_item, to_item
from helpdesk.core.models import (
    Agent,
    Team,
)

if TYPE_CHECKING:  # routing config is read by the intake only: webhook functions never import it
    from helpdesk.replies.drafting import PolicySnippet
    from helpdesk.replies.proactive import Nudge
    from helpdesk.routing.aging import AgingStep
    from helpdesk.routing.rule_schema import RoutingRule
    from helpdesk.sla.policies import SlaPolicySpec


class RoutingConfigRecords(TableAccess):
    def put_agent(self, agent: Agent) -> None:
        self._put(to_item(agent, PK=keys.tenant_pk(agent.tenant_id), SK=keys.agent_sk(agent.agent_id), entity="agent"))

    def list_agents(self, tenant_id: str) -> list[Agent]:
        return [from_item(Agent, i) for i in self._by_prefix(tenant_id, "AGENT#")]

    def replace_agents(self, tenant_id: str, agents: Sequence[Agent]) -> None:
        """The tenant's agents become exactly ``agents`` (written; the ones left out deleted)."""
        self._replace(
            tenant_id,
            keys.AGENT_PREFIX,
            {
                keys.agent_sk(a.agent_id): to_item(
                    a, PK=keys.tenant_pk(tenant_id), SK=keys.agent_sk(a.agent_id), entity="agent"
                )
                for a in agents
            },
        )

    def put_team(self, team: Team) -> None:
        self._put(to_item(team, PK=keys.tenant_pk(team.tenant_id), SK=keys.team_sk(team.team_id), entity="team"))

    def list_teams(self, tenant_id: str) -> list[Team]:
        return [from_item(Team, i) for i in self._by_prefix(tenant_id, keys.TEAM_PREFIX)]

    def replace_teams(self, tenant_id: str, teams: Sequence[Team]) -> None:
        self._replace(
            tenant_id,
            keys.TEAM_PREFIX,
            {
                keys.team_sk(t.team_id): to_item(
                    t, PK=keys.tenant_pk(tenant_id), SK=keys.team_sk(t.team_id), entity="team"
                )
                for t in teams
            },
        )

    def get_aging_steps(self, tenant_id: str) -> list[AgingStep] | None:
        """The tenant's aging steps; None when it never set any (the default steps apply)."""
        from helpdesk.routing.aging import AgingStep

        item = self._get(keys.tenant_pk(tenant_id), keys.AGING_SK)
        if item is None:
            return None
        return [AgingStep.model_validate(step) for step in _DESER.deserialize(item["steps"])]

    def put_aging_steps(self, tenant_id: str, steps: Sequence[AgingStep]) -> None:
        """All the tenant's steps in one item: replacing them is one write, never half done."""
        plain = [json.loads(step.model_dump_json(exclude_none=True), parse_float=Decimal) for step in steps]
        self._put(
            {
                "PK": _s(keys.tenant_pk(tenant_id)),
                "SK": _s(keys.AGING_SK),
                "entity": _s("aging_steps"),
                "steps": _SER.serialize(plain),
            }
        )

    def list_nudges(self, tenant_id: str) -> list[Nudge]:
        from helpdesk.replies.proactive import Nudge

        return [Nudge.model_validate(n) for n in self._config_list(tenant_id, keys.NUDGES_SK)]

    def put_nudges(self, tenant_id: str, nudges: Sequence[Nudge]) -> None:
        self._put_config_list(tenant_id, keys.NUDGES_SK, "nudges", nudges)

    def list_snippets(self, tenant_id: str) -> list[PolicySnippet]:
        from helpdesk.replies.drafting import PolicySnippet

        return [PolicySnippet.model_validate(n) for n in self._config_list(tenant_id, keys.SNIPPETS_SK)]

    def put_snippets(self, tenant_id: str, snippets: Sequence[PolicySnippet]) -> None:
        self._put_config_list(tenant_id, keys.SNIPPETS_SK, "policy_snippets", snippets)

    def _config_list(self, tenant_id: str, sk: str) -> list[Any]:
        item = self._get(keys.tenant_pk(tenant_id), sk)
        return list(_DESER.deserialize(item["items"])) if item else []

    def _put_config_list(self, tenant_id: str, sk: str, entity: str, models: Sequence[BaseModel]) -> None:
        """A whole admin list in one item: replacing it is one write, never half done."""
        plain = [json.loads(m.model_dump_json(exclude_none=True), parse_float=Decimal) for m in models]
        self._put(
            {"PK": _s(keys.tenant_pk(tenant_id)), "SK": _s(sk), "entity": _s(entity), "items": _SER.serialize(plain)}
        )

    def mark_assigned(self, tenant_id: str, agent_id: str, at: datetime) -> None:
        """Round-robin bookkeeping: when the agent last got a ticket (only if the agent exists)."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"PK": _s(keys.tenant_pk(tenant_id)), "SK": _s(keys.agent_sk(agent_id))},
                UpdateExpression="SET last_assigned_at = :at",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":at": _s(at.isoformat())},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def count_assigned(self, tenant_id: str, agent_id: str) -> int:
        """Tickets in the agent's queue (a COUNT Query on the agent's queue partition)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.AGENT_QUEUE,
            "Select": "COUNT",
            "KeyConditionExpression": "agent_queue_pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(keys.agent_queue_pk(tenant_id, agent_id))},
        }
        total = 0
        while True:
            answer = self._db.query(**params)
            total += answer.get("Count", 0)
            if "LastEvaluatedKey" not in answer:
                return total
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def put_rule(self, rule: RoutingRule) -> None:
        self._put(to_item(rule, PK=keys.tenant_pk(rule.tenant_id), SK=keys.rule_sk(rule.rule_id), entity="rule"))

    def list_rules(self, tenant_id: str) -> list[RoutingRule]:
        from helpdesk.routing.rule_schema import RoutingRule

        return [from_item(RoutingRule, i) for i in self._by_prefix(tenant_id, "RULE#")]

    def replace_rules(self, tenant_id: str, rules: Sequence[RoutingRule]) -> None:
        """The tenant's rules become exactly ``rules`` (new and changed written, dropped deleted)."""
        self._replace(
            tenant_id,
            "RULE#",
            {
                keys.rule_sk(r.rule_id): to_item(
                    r, PK=keys.tenant_pk(tenant_id), SK=keys.rule_sk(r.rule_id), entity="rule"
                )
                for r in rules
            },
        )

    def replace_policy_specs(self, tenant_id: str, policies: Sequence[SlaPolicySpec]) -> None:
        self._replace(
            tenant_id,
            "SLAPOLICY#",
            {
                keys.policy_spec_sk(p.policy_id): to_item(
                    p, PK=keys.tenant_pk(tenant_id), SK=keys.policy_spec_sk(p.policy_id), entity="sla_policy_spec"
                )
                for p in policies
            },
        )

    def _replace(self, tenant_id: str, prefix: str, items: dict[str, dict[str, Any]]) -> None:
        stale = [i["SK"]["S"] for i in self._by_prefix(tenant_id, prefix) if i["SK"]["S"] not in items]
        requests = [{"PutRequest": {"Item": item}} for item in items.values()]
        requests += [{"DeleteRequest": {"Key": {"PK": _s(keys.tenant_pk(tenant_id)), "SK": _s(sk)}}} for sk in stale]
        batch_write(self._db, self._table, requests)

    def put_policy_spec(self, tenant_id: str, policy: SlaPolicySpec) -> None:
        self._put(
            to_item(
                policy, PK=keys.tenant_pk(tenant_id), SK=keys.policy_spec_sk(policy.policy_id), entity="sla_policy_spec"
            )
        )

    def list_policy_specs(self, tenant_id: str) -> list[SlaPolicySpec]:
        from helpdesk.sla.policies import SlaPolicySpec

        return [from_item(SlaPolicySpec, i) for i in self._by_prefix(tenant_id, "SLAPOLICY#")]
