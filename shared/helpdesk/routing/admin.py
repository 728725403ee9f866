"""Admin side of routing: a tenant's rules and SLA policies as whole, validated lists, and the dry
run that shows what would happen to a message (intent, rules fired and why, the SLA policy and due
time) without changing anything. Plain Python."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import HelpdeskError
from helpdesk.core.ids import new_id
from helpdesk.core.models import Agent, AgentRole, Channel, InboundMessage, Model, OrderStatus, Team, Ticket
from helpdesk.core.validation import Refused, problems_of, validate_list
from helpdesk.routing.aging import DEFAULT_STEPS, AgingStep
from helpdesk.routing.decision import IntakeDecision, decide
from helpdesk.routing.ports import RoutingConfigRepository
from helpdesk.routing.rule_schema import RoutingRule, validate_rules
from helpdesk.routing.rules import AgentAvailability, OrderFacts, RuleOutcome
from helpdesk.sla.calendars import BusinessCalendar
from helpdesk.sla.policies import SlaPolicySpec

MAX_POLICIES = 100
MAX_AGENTS = 500
MAX_TEAMS = 100
MAX_AGING_STEPS = 10
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
T = TypeVar("T", bound=BaseModel)


class PoliciesInvalid(HelpdeskError):
    code = "invalid_sla_policies"
    status = 422


class AgentsInvalid(HelpdeskError):
    code = "invalid_agents"
    status = 422


class TeamsInvalid(HelpdeskError):
    code = "invalid_teams"
    status = 422


class AgingStepsInvalid(HelpdeskError):
    code = "invalid_aging_steps"
    status = 422


class DryRunRequest(Model):
    """A message as it could arrive, and optionally rules to try before saving them."""

    channel: Channel
    store_id: str = "dry-run"
    subject: str | None = None
    body: str = Field(min_length=1, max_length=20_000)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")
    cancellation_requested: bool = False
    order_status: OrderStatus | None = None
    order_total: Decimal | None = None
    order_currency: str | None = None
    rules: list[dict[str, Any]] | None = Field(default=None, description="Unsaved rules to try instead")


class DryRunAnswer(Model):
    decision: IntakeDecision
    rules: RuleOutcome = Field(description="Every rule: fired (with the conditions that matched) or skipped")


class AgingSteps(Model):
    """The steps the tenant's aging run applies, and whether the tenant set them or they are the defaults."""

    steps: list[AgingStep]
    source: Literal["tenant", "default"] = Field(
        description="tenant: saved by an admin (an empty list turns aging off); default: none saved yet"
    )


class RoutingAdmin:
    def __init__(self, repository: RoutingConfigRepository, clock: Callable[[], datetime] = utc_now) -> None:
        self._repo = repository
        self._clock = clock

    def rules(self, tenant_id: str) -> list[RoutingRule]:
        return sorted(self._repo.list_rules(tenant_id), key=lambda r: (r.position, r.rule_id))

    def replace_rules(self, tenant_id: str, raw: Sequence[Any]) -> list[RoutingRule]:
        rules = validate_rules(raw, tenant_id=tenant_id)  # RulesInvalid (422) names every bad rule
        self._repo.replace_rules(tenant_id, rules)
        return rules

    def policies(self, tenant_id: str) -> list[SlaPolicySpec]:
        return sorted(self._repo.list_policy_specs(tenant_id), key=lambda p: p.policy_id)

    def replace_policies(self, tenant_id: str, raw: Sequence[Any]) -> list[SlaPolicySpec]:
        policies = validate_list(
            raw,
            SlaPolicySpec,
            "policy_id",
            what="SLA policies",
            noun="policy",
            limit=MAX_POLICIES,
            error=PoliciesInvalid,
        )
        self._repo.replace_policy_specs(tenant_id, policies)
        return policies

    # --- agents, teams, aging steps -------------------------------------------------------------

    def agents(self, tenant_id: str) -> list[Agent]:
        return sorted(self._repo.list_agents(tenant_id), key=lambda a: a.agent_id)

    def replace_agents(self, tenant_id: str, raw: Sequence[Any], caller_id: str | None = None) -> list[Agent]:
        """The whole agent list: languages are language codes, teams exist, a shift is a valid
        business-hours calendar, ids and e-mails are unique. Round-robin bookkeeping
        (``last_assigned_at``) is the product's, not the admin's: kept from the stored agents.
        The agent list decides who may use the APIs (``identity.confirm``): an admin (``caller_id``)
        cannot send a list that leaves themselves out, inactive or no longer an admin."""
        teams = {t.team_id for t in self._repo.list_teams(tenant_id)}
        emails: dict[str, str] = {}

        def check(agent: Agent) -> list[str]:
            problems = [
                f"team_ids: no team {team!r} (create it under /teams first)"
                for team in agent.team_ids
                if team not in teams
            ]
            owner = emails.setdefault(agent.email.lower(), agent.agent_id)
            if owner != agent.agent_id:
                problems.append(f"email: also the e-mail of agent {owner!r}")
            return problems

        agents = validate_list(
            raw,
            _agent,
            "agent_id",
            what="agents",
            noun="agent",
            limit=MAX_AGENTS,
            error=AgentsInvalid,
            tenant_id=tenant_id,
            check=check,
        )
        if caller_id is not None and agents:
            me = next((a for a in agents if a.agent_id == caller_id), None)
            if me is None or not me.active or me.role != AgentRole.ADMIN:
                raise AgentsInvalid(
                    f"the list must keep you ({caller_id!r}) as an active admin: the agent list decides "
                    "who may use the APIs, and you would lock yourself out",
                    tenant_id=tenant_id,
                )
        assigned = {a.agent_id: a.last_assigned_at for a in self._repo.list_agents(tenant_id)}
        agents = [a.model_copy(update={"last_assigned_at": assigned.get(a.agent_id)}) for a in agents]
        self._repo.replace_agents(tenant_id, agents)
        return sorted(agents, key=lambda a: a.agent_id)

    def teams(self, tenant_id: str) -> list[Team]:
        return sorted(self._repo.list_teams(tenant_id), key=lambda t: t.team_id)

    def replace_teams(self, tenant_id: str, raw: Sequence[Any]) -> list[Team]:
        """The whole team list. A team still named by an agent or an aging step cannot be dropped."""
        teams = validate_list(
            raw, _team, "team_id", what="teams", noun="team", limit=MAX_TEAMS, error=TeamsInvalid, tenant_id=tenant_id
        )
        kept = {t.team_id for t in teams}
        members: dict[str, list[str]] = {}
        for agent in self._repo.list_agents(tenant_id):
            for team in agent.team_ids:
                members.setdefault(team, []).append(agent.agent_id)
        steps = self._repo.get_aging_steps(tenant_id) or []
        errors = []
        for team in sorted({t.team_id for t in self._repo.list_teams(tenant_id)} - kept):
            users = [f"agent {a}" for a in sorted(members.get(team, []))]
            users += [f"aging step {s.step_id}" for s in steps if s.team_id == team]
            if users:
                errors.append({"team_id": team, "messages": [f"still used by {', '.join(users)}: change those first"]})
        if errors:
            raise TeamsInvalid(f"{len(errors)} teams left out are still in use", errors=errors)
        self._repo.replace_teams(tenant_id, teams)
        return sorted(teams, key=lambda t: t.team_id)

    def aging_steps(self, tenant_id: str) -> AgingSteps:
        stored = self._repo.get_aging_steps(tenant_id)
        if stored is None:
            return AgingSteps(steps=list(DEFAULT_STEPS), source="default")
        return AgingSteps(steps=sorted(stored, key=lambda s: s.after_minutes), source="tenant")

    def replace_aging_steps(self, tenant_id: str, raw: Sequence[Any]) -> AgingSteps:
        """The steps a stalled ticket goes through, each once, in order of ``after_minutes`` (which
        must differ); ``team_id`` only for an escalation, naming a team that exists. ``[]``: no aging."""
        teams = {t.team_id for t in self._repo.list_teams(tenant_id)}
        waits: dict[int, str] = {}

        def check(step: AgingStep) -> list[str]:
            problems = []
            if step.team_id is not None and step.action != "escalate":
                problems.append("team_id: only an escalation moves the ticket to a team")
            elif step.team_id is not None and step.team_id not in teams:
                problems.append(f"team_id: no team {step.team_id!r} (create it under /teams first)")
            other = waits.setdefault(step.after_minutes, step.step_id)
            if other != step.step_id:
                problems.append(f"after_minutes: step {other!r} already waits {step.after_minutes} minutes")
            return problems

        steps = validate_list(
            raw,
            AgingStep,
            "step_id",
            what="aging steps",
            noun="step",
            limit=MAX_AGING_STEPS,
            error=AgingStepsInvalid,
            check=check,
        )
        steps = sorted(steps, key=lambda s: s.after_minutes)
        self._repo.put_aging_steps(tenant_id, steps)
        return AgingSteps(steps=steps, source="tenant")

    def dry_run(self, tenant_id: str, request: DryRunRequest, agents: Sequence[AgentAvailability] = ()) -> DryRunAnswer:
        now = self._clock()
        tenant = self._repo.get_tenant(tenant_id)
        time_zone = tenant.time_zone if tenant else "UTC"
        rules = (
            validate_rules(request.rules, tenant_id=tenant_id) if request.rules is not None else self.rules(tenant_id)
        )
        ticket = Ticket(
            tenant_id=tenant_id,
            ticket_id=new_id(now),
            store_id=request.store_id,
            channel=request.channel,
            subject=request.subject or request.body[:80],
            language=request.language,
            created_at=now,
            updated_at=now,
        )
        inbound = InboundMessage(
            tenant_id=tenant_id,
            store_id=request.store_id,
            channel=request.channel,
            channel_message_id="dry-run",
            subject=request.subject,
            body=request.body,
            language=request.language,
            received_at=now,
            cancellation_requested=request.cancellation_requested,
        )
        order = None
        if request.order_status or request.order_total is not None:
            order = OrderFacts(
                status=request.order_status or OrderStatus.UNKNOWN,
                total=request.order_total,
                currency=request.order_currency,
            )
        decision = decide(
            ticket,
            inbound,
            rules=rules,
            policies=self.policies(tenant_id),
            agents=list(agents),
            order=order,
            now=now,
            time_zone=time_zone,
        )
        return DryRunAnswer(decision=decision, rules=decision.rule_outcome)


def _agent(data: dict[str, Any]) -> Agent:
    """An agent as an admin sets it: language codes normalised (``de-AT``, ``de``), at least one;
    the shift, when given, a valid business-hours calendar (stored in its normal form)."""
    agent = Agent.model_validate(data)
    languages = list(dict.fromkeys(code.strip().lower().replace("_", "-") for code in agent.languages))
    problems = [
        f"languages: {code!r} is not a language code like 'de' or 'de-AT'"
        for code in languages
        if not _LANGUAGE.match(code)
    ]
    if not languages:
        problems.append("languages: give at least one language the agent answers in")
    shift = None
    if agent.shift is not None:
        try:
            shift = BusinessCalendar.model_validate(agent.shift).model_dump(mode="json")
        except ValidationError as exc:
            problems.extend(f"shift.{message}" for message in problems_of(exc))
    if problems:
        raise Refused(problems)
    return agent.model_copy(update={"languages": languages, "shift": shift})


def _team(data: dict[str, Any]) -> Team:
    team = Team.model_validate(data)
    try:
        ZoneInfo(team.time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Refused(
            [f"time_zone: unknown time zone {team.time_zone!r}: use an IANA name such as 'Europe/Berlin'"]
        ) from None
    return team
