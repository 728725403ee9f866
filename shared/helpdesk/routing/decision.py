"""Ticket intake: what a new ticket or a new buyer message changes on the ticket. Plain Python.

One decision composes the pieces, in this order (each step sees what the previous decided):

1. **intent** — the multilingual classifier (``helpdesk.routing.intent``), with the channel's own signal
   (Amazon buyer cancellation request, Walmart INTENT_TO_CANCEL, TikTok cancel request) forcing a
   cancellation;
2. **rules** — the seller's routing rules (``helpdesk.routing.rules``): tags, priority, SLA policy, team,
   assignee (round-robin / least-loaded among agents on shift who speak the language), macros, spam;
3. **SLA policy** — the one a rule named, else the most specific policy for the intent, channel,
   store and priority (``helpdesk.sla.policies``); cancellations get the shortest through an
   intent-scoped policy, which floats them to the top of every queue (queues sort by due time);
4. **due times** — first response (not answered yet) or next response (answered before), in the
   policy's business hours, capped by a marketplace-imposed deadline, with the near-breach warning
   point.

The result says what changes and why (matched phrases, fired rules, the policy and its source), so
the ticket's timeline can show it. Applying it (a conditional write, re-arming the SLA timer with a
new timer version) is the caller's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from helpdesk.core.models import InboundMessage, Intent, Model, Priority, Ticket
from helpdesk.routing import intent as intent_classifier
from helpdesk.routing.rule_schema import RoutingRule
from helpdesk.routing.rules import AgentAvailability, CustomerHistory, OrderFacts, RuleContext, RuleOutcome, evaluate
from helpdesk.sla.policies import DueKind, DueTimes, SlaPolicySpec, compute_due, select_policy

CANCELLATION_TAG = "cancellation"


class IntakeDecision(Model):
    intent: Intent
    intent_confidence: float
    intent_evidence: list[str] = Field(default_factory=list)
    tags: list[str]
    priority: Priority
    team_id: str | None = None
    assignee_id: str | None = None
    assignment_reason: str | None = None
    macro_ids: list[str] = Field(default_factory=list)
    acknowledgements: list[str] = Field(default_factory=list)
    draft: str | None = None
    spam: bool = False
    fired_rules: list[str] = Field(default_factory=list)
    sla_policy_id: str | None = None
    sla_policy_source: str = Field(description="rule, selected, or none (the default target applies)")
    due: DueTimes | None = None
    due_kind: str = "first"
    rule_outcome: RuleOutcome = Field(exclude=True, description="The rules' full explained outcome (dry run)")

    def apply_to(self, ticket: Ticket) -> Ticket:
        """The ticket with this decision applied (the version is the caller's to bump)."""
        updated = ticket.model_copy(deep=True)
        updated.intent = self.intent
        updated.tags = list(self.tags)
        updated.priority = self.priority
        updated.team_id = self.team_id
        updated.assignee_id = self.assignee_id
        updated.sla_policy_id = self.sla_policy_id
        if self.due is not None:
            if self.due_kind == "first":
                updated.first_response_due_at = self.due.due_at
            else:
                updated.next_response_due_at = self.due.due_at
        return updated


def decide(
    ticket: Ticket,
    inbound: InboundMessage,
    *,
    rules: Sequence[RoutingRule],
    policies: Sequence[SlaPolicySpec],
    agents: Sequence[AgentAvailability] = (),
    order: OrderFacts | None = None,
    customer: CustomerHistory | None = None,
    now: datetime,
    time_zone: str = "UTC",
    owed_since: datetime | None = None,
    business_hours: bool | None = None,
) -> IntakeDecision:
    """``owed_since``: the buyer message the deadline counts from — the first one not answered yet
    (a second message before any reply does not push the first-response deadline back); defaults to
    ``inbound.received_at``."""
    found = intent_classifier.classify_message(inbound)
    context = RuleContext.for_inbound(
        ticket,
        inbound,
        intent=found.intent,
        order=order,
        customer=customer or CustomerHistory(),
        now=now,
        time_zone=time_zone,
        agents=list(agents),
        business_hours=business_hours,
    )
    outcome = evaluate(list(rules), context)
    tags = list(outcome.tags)
    if found.intent == Intent.CANCELLATION and CANCELLATION_TAG not in tags:
        tags.append(CANCELLATION_TAG)  # agents filter on it whatever the seller's rules say
    by_id = {p.policy_id: p for p in policies}
    policy: SlaPolicySpec | None
    if outcome.sla_policy_id and outcome.sla_policy_id in by_id:
        policy, source = by_id[outcome.sla_policy_id], "rule"
    else:
        policy = select_policy(
            list(policies),
            intent=found.intent,
            channel=ticket.channel,
            store_id=ticket.store_id,
            priority=outcome.priority,
        )
        source = "selected" if policy else "none"
    kind: DueKind = "first" if ticket.first_responded_at is None else "next"
    due = compute_due(policy, received_at=owed_since or inbound.received_at, kind=kind) if policy else None
    return IntakeDecision(
        intent=found.intent,
        intent_confidence=found.confidence,
        intent_evidence=list(found.matched),
        tags=tags,
        priority=outcome.priority,
        team_id=outcome.team_id,
        assignee_id=outcome.assignee_id,
        assignment_reason=outcome.assignment_reason,
        macro_ids=list(outcome.macro_ids),
        acknowledgements=list(outcome.acknowledgements),
        draft=outcome.draft,
        spam=outcome.spam,
        fired_rules=outcome.fired_rule_ids,
        sla_policy_id=policy.policy_id if policy else None,
        sla_policy_source=source,
        due=due,
        due_kind=kind,
        rule_outcome=outcome,
    )
