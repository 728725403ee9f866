"""Admin side of routing: a tenant's rules and SLA policies as whole, validated lists, and the dry
run that shows what would happen to a message (intent, rules fired and why, the SLA policy and due
time) without changing anything. Plain Python."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import Field, ValidationError

from helpdesk.errors import HelpdeskError
from helpdesk.ids import new_id
from helpdesk.intake import IntakeDecision, decide
from helpdesk.models import Channel, InboundMessage, Model, OrderStatus, Tenant, Ticket
from helpdesk.rules import (
    AgentAvailability,
    OrderFacts,
    RoutingRule,
    RuleOutcome,
    validate_rules,
)
from helpdesk.sla_policy import SlaPolicySpec
from helpdesk.ticketing import utc_now

MAX_POLICIES = 100


class PoliciesInvalid(HelpdeskError):
    code = "invalid_sla_policies"
    status = 422


class RoutingConfigRepository(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def list_rules(self, tenant_id: str) -> list[RoutingRule]: ...

    def replace_rules(self, tenant_id: str, rules: Sequence[RoutingRule]) -> None: ...

    def list_policy_specs(self, tenant_id: str) -> list[SlaPolicySpec]: ...

    def replace_policy_specs(self, tenant_id: str, policies: Sequence[SlaPolicySpec]) -> None: ...


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
        if not isinstance(raw, list) or len(raw) > MAX_POLICIES:
            raise PoliciesInvalid(f"SLA policies must be a JSON list of at most {MAX_POLICIES}", errors=[])
        policies, errors, seen = [], [], set()
        for index, item in enumerate(raw):
            try:
                policy = SlaPolicySpec.model_validate(item)
            except ValidationError as exc:
                errors.append({"index": index, "messages": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                                            for e in exc.errors()]})
                continue
            if policy.policy_id in seen:
                errors.append({"index": index, "messages": [f"policy_id {policy.policy_id!r} is used twice"]})
                continue
            seen.add(policy.policy_id)
            policies.append(policy)
        if errors:
            raise PoliciesInvalid(f"{len(errors)} of {len(raw)} SLA policies are not valid", errors=errors)
        self._repo.replace_policy_specs(tenant_id, policies)
        return policies

    def dry_run(self, tenant_id: str, request: DryRunRequest,
                agents: Sequence[AgentAvailability] = ()) -> DryRunAnswer:
        now = self._clock()
        tenant = self._repo.get_tenant(tenant_id)
        time_zone = tenant.time_zone if tenant else "UTC"
        rules = (validate_rules(request.rules, tenant_id=tenant_id) if request.rules is not None
                 else self.rules(tenant_id))
        ticket = Ticket(tenant_id=tenant_id, ticket_id=new_id(now), store_id=request.store_id,
                        channel=request.channel, subject=request.subject or request.body[:80],
                        language=request.language, created_at=now, updated_at=now)
        inbound = InboundMessage(tenant_id=tenant_id, store_id=request.store_id, channel=request.channel,
                                 channel_message_id="dry-run", subject=request.subject, body=request.body,
                                 language=request.language, received_at=now,
                                 cancellation_requested=request.cancellation_requested)
        order = None
        if request.order_status or request.order_total is not None:
            order = OrderFacts(status=request.order_status or OrderStatus.UNKNOWN, total=request.order_total,
                               currency=request.order_currency)
        decision = decide(ticket, inbound, rules=rules, policies=self.policies(tenant_id), agents=list(agents),
                          order=order, now=now, time_zone=time_zone)
        return DryRunAnswer(decision=decision, rules=decision.rule_outcome)
