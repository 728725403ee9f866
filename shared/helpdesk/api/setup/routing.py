"""Routing settings (admins): rules and their dry run, SLA policies, agents, teams, aging steps."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from helpdesk.api import access
from helpdesk.api.setup.common import admin
from helpdesk.core.models import Agent, Team
from helpdesk.platform import wiring
from helpdesk.routing.admin import AgingSteps, DryRunAnswer, DryRunRequest
from helpdesk.routing.rule_schema import RoutingRule
from helpdesk.sla.policies import SlaPolicySpec

router = Router()


@router.get("/rules")
def list_rules() -> list[RoutingRule]:
    """The tenant's routing rules, in evaluation order."""
    return wiring.routing_admin().rules(admin(router).tenant_id)


@router.put("/rules")
def replace_rules(rules: list[dict[str, Any]]) -> list[RoutingRule]:
    """Replace the whole ordered rule list (every invalid rule is reported at once, 422)."""
    return wiring.routing_admin().replace_rules(admin(router).tenant_id, rules)


@router.post("/rules/dry-run")
def dry_run(request: DryRunRequest) -> DryRunAnswer:
    """Which rules would fire for this message, the intent, the SLA policy and due time (nothing is changed)."""
    return wiring.routing_admin().dry_run(admin(router).tenant_id, request)


@router.get("/sla-policies")
def list_policies() -> list[SlaPolicySpec]:
    return wiring.routing_admin().policies(admin(router).tenant_id)


@router.put("/sla-policies")
def replace_policies(policies: list[dict[str, Any]]) -> list[SlaPolicySpec]:
    """Replace the SLA policies (targets, business-hours calendar, intents/channels/stores/priorities)."""
    return wiring.routing_admin().replace_policies(admin(router).tenant_id, policies)


@router.get("/agents")
def list_agents() -> list[Agent]:
    """The tenant's agents: languages, teams, working hours (shift), role, active."""
    return wiring.routing_admin().agents(admin(router).tenant_id)


@router.put("/agents")
def replace_agents(agents: list[dict[str, Any]]) -> list[Agent]:
    """Replace the whole agent list: language codes, teams that exist (``/teams``), the shift as a
    business-hours calendar, unique ids and e-mails (every invalid agent is reported at once, 422)."""
    caller = admin(router)
    replaced = wiring.routing_admin().replace_agents(caller.tenant_id, agents, caller_id=caller.agent_id)
    access.agent_directory().forget(caller.tenant_id)
    return replaced


@router.get("/teams")
def list_teams() -> list[Team]:
    """The tenant's teams (rules, aging steps and agents name them)."""
    return wiring.routing_admin().teams(admin(router).tenant_id)


@router.put("/teams")
def replace_teams(teams: list[dict[str, Any]]) -> list[Team]:
    """Replace the whole team list; a team still named by an agent or an aging step is not dropped (422)."""
    return wiring.routing_admin().replace_teams(admin(router).tenant_id, teams)


@router.get("/aging-steps")
def get_aging_steps() -> AgingSteps:
    """What the aging run does with stalled assigned tickets: the tenant's steps, or the defaults."""
    return wiring.routing_admin().aging_steps(admin(router).tenant_id)


@router.put("/aging-steps")
def replace_aging_steps(steps: list[dict[str, Any]]) -> AgingSteps:
    """Replace the aging steps (reassign / escalate after minutes without an action by the assignee;
    ``[]`` turns aging off); every invalid step is reported at once (422)."""
    return wiring.routing_admin().replace_aging_steps(admin(router).tenant_id, steps)
