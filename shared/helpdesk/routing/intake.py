"""The intake workflow's steps (infrastructure/statemachines/intake.asl.json runs them as Lambda tasks):

* ``enrich`` — the ticket's order context: the order stored from the channel's events, refreshed
  from the channel's order API when it is missing or older than ``ORDER_FRESHNESS``. A channel
  failure or an unknown order leaves the ticket usable and says so (``order_status``);
* ``decide`` — intent → rules → SLA policy → due times (``helpdesk.routing.decision.decide``) on the ticket as
  it is now, applied with a conditional write (a concurrent change is re-read and decided again);
  a changed deadline bumps the timer version, and the step returns the SLA timer to (re)start, which
  the workflow starts with a Step Functions service integration (the older version's timer then
  finds itself stale and does nothing);
* ``failed`` — the Catch path: the reason is recorded on the ticket, which stays in its queue with
  the deadline it had, so nothing is stuck or lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, HelpdeskError, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    Automation,
    InboundMessage,
    Message,
    MessageDirection,
    Store,
    Tenant,
    Ticket,
    TicketView,
)
from helpdesk.languages.detection import DEFAULT_LANGUAGES, DetectedLanguage, customer_language
from helpdesk.languages.ports import LanguageDetector
from helpdesk.routing.decision import IntakeDecision, decide
from helpdesk.routing.ports import IntakeRepository
from helpdesk.routing.rules import AgentAvailability, CustomerHistory, OrderFacts
from helpdesk.sla import timers as sla_timers
from helpdesk.sla.calendars import BusinessCalendar, is_open
from helpdesk.sla.policies import SlaPolicySpec
from helpdesk.sla.timers import TimerRequest
from helpdesk.tickets.ports import OrderSource
from helpdesk.tickets.threads import found_ticket, found_view, ticket_order

ORDER_FRESHNESS = timedelta(minutes=15)
MAX_ATTEMPTS = 5
CANCELLATION_SIGNAL_TAG = "cancellation_request"  # set by tickets.threads from a channel's own signal


class IntakeService:
    def __init__(
        self,
        repository: IntakeRepository,
        orders: OrderSource | None = None,
        clock: Callable[[], datetime] = utc_now,
        languages: LanguageDetector | None = None,
        *,
        timer_input: Callable[[TimerRequest], dict[str, Any]],
    ) -> None:
        """``timer_input`` shapes the SLA timer execution's input (the storage adapter adds the ticket
        item's key the timer updates)."""
        self._repo = repository
        self._timer_input = timer_input
        self._orders = orders
        self._clock = clock
        self._languages = languages

    # --- enrich -------------------------------------------------------------------------------

    def enrich(self, tenant_id: str, ticket_id: str) -> dict[str, Any]:
        ticket = self._ticket(tenant_id, ticket_id)
        if not ticket.order_refs:
            return {"order_status": "no_order"}
        ref = ticket.order_refs[-1]
        stored = self._repo.get_order(tenant_id, ticket.store_id, ref)
        fresh = (
            stored is not None and stored.updated_at is not None and self._clock() - stored.updated_at < ORDER_FRESHNESS
        )
        store = self._repo.get_store(tenant_id, ticket.store_id)
        if fresh or self._orders is None or store is None:
            return {"order_status": "stored" if stored else "not_found", "order_ref": ref}
        try:
            fetched = self._orders.fetch(store, ref)
        except HelpdeskError as exc:
            return {
                "order_status": "stored" if stored else "unavailable",
                "order_ref": ref,
                "order_error": exc.message[:300],
            }
        if fetched is None:
            return {"order_status": "stored" if stored else "not_found", "order_ref": ref}
        self._repo.upsert_order(fetched)
        return {"order_status": "refreshed", "order_ref": ref}

    # --- decide -------------------------------------------------------------------------------

    def decide(self, tenant_id: str, ticket_id: str, message_id: str | None = None) -> dict[str, Any]:
        tenant = self._repo.get_tenant(tenant_id)
        time_zone = tenant.time_zone if tenant else "UTC"
        rules = self._repo.list_rules(tenant_id)
        policies = self._repo.list_policy_specs(tenant_id)
        now = self._clock()
        agents = self._availability(tenant_id, now)
        for _ in range(MAX_ATTEMPTS):
            view = found_view(self._repo, tenant_id, ticket_id)
            ticket = view.ticket
            inbound = self._inbound(view, message_id)
            spoken = self._language(tenant, ticket, inbound)
            inbound = inbound.model_copy(update={"language": spoken.language})
            order = self._order_facts(ticket)
            decision = decide(
                ticket,
                inbound,
                rules=rules,
                policies=policies,
                agents=agents,
                order=order,
                customer=self._history(ticket),
                now=now,
                time_zone=time_zone,
                owed_since=owed_since(view),
                business_hours=business_hours(policies, tenant, self._store(ticket), now),
            )
            updated = decision.apply_to(ticket)
            updated.intake_error = None
            if spoken.source == "detected" or ticket.language is None:
                updated.language = spoken.language  # the ticket's language is the customer's
            if decision.due is not None:
                updated.sla_warn_at = decision.due.warn_at
            rearm = updated.sla_due_at != ticket.sla_due_at
            if rearm:
                updated.sla_timer_version += 1
                updated.sla_breached_at = None
                updated.sla_warned_at = None
            updated.updated_at = now
            if updated.assignee_id and updated.assignee_id != ticket.assignee_id:
                updated.last_agent_action_at = now  # the aging clock starts at the assignment
                updated.aging_level = 0
            event = timeline_event(updated, now, routing_summary(decision, ticket, updated, spoken))
            try:
                self._repo.update_ticket(ticket, updated, [event])
            except Conflict:
                continue  # a message or an agent changed it: decide again on what is there now
            if updated.assignee_id and updated.assignee_id != ticket.assignee_id:
                self._repo.mark_assigned(tenant_id, updated.assignee_id, now)
            timer = self._timer(updated) if rearm else None
            automation = {
                "answers": decision.macro_ids,
                "acknowledgements": decision.acknowledgements,
                "draft": decision.draft,
            }
            return {
                "intent": decision.intent.value,
                "language": updated.language,
                "priority": decision.priority.value,
                "sla_policy_id": decision.sla_policy_id,
                "assignee_id": updated.assignee_id,
                "team_id": updated.team_id,
                "fired_rules": decision.fired_rules,
                "timer": timer,
                "automate": bool(decision.macro_ids or decision.acknowledgements or decision.draft),
                "automation": automation,
            }
        raise Conflict("the ticket kept changing during intake", ticket_id=ticket_id)

    def failed(self, tenant_id: str, ticket_id: str, error: str) -> dict[str, Any]:
        for _ in range(MAX_ATTEMPTS):
            ticket = self._repo.get_ticket(tenant_id, ticket_id)
            if ticket is None:
                return {"recorded": False}
            updated = ticket.model_copy(deep=True)
            updated.intake_error = (error or "intake failed")[:500]
            try:
                self._repo.update_ticket(ticket, updated)
                return {"recorded": True}
            except Conflict:
                continue
        return {"recorded": False}

    # --- helpers ------------------------------------------------------------------------------

    def _language(self, tenant: Tenant | None, ticket: Ticket, inbound: InboundMessage) -> DetectedLanguage:
        store = self._repo.get_store(ticket.tenant_id, inbound.store_id)
        return customer_language(
            self._languages,
            f"{inbound.subject or ''}\n{inbound.body}",
            allowed=tenant.languages if tenant else DEFAULT_LANGUAGES,
            channel_hint=inbound.language or ticket.language,
            store_language=store.default_language if store else None,
        )

    def _store(self, ticket: Ticket) -> Store | None:
        return self._repo.get_store(ticket.tenant_id, ticket.store_id)

    def _ticket(self, tenant_id: str, ticket_id: str) -> Ticket:
        return found_ticket(self._repo, tenant_id, ticket_id)

    @staticmethod
    def _inbound(view: TicketView, message_id: str | None) -> InboundMessage:
        inbound = [m for m in view.messages if m.direction == MessageDirection.INBOUND]
        if not inbound:
            raise NotFound("ticket has no buyer message", ticket_id=view.ticket.ticket_id)
        message = next((m for m in inbound if m.message_id == message_id), inbound[-1])
        ticket = view.ticket
        return InboundMessage(
            tenant_id=ticket.tenant_id,
            store_id=message.store_id,
            channel=message.channel,
            channel_message_id=message.channel_message_id or message.message_id,
            channel_thread_id=message.channel_thread_id,
            subject=ticket.subject,
            body=message.body,
            language=message.language or ticket.language,
            buyer_email=ticket.customer_email,
            received_at=message.created_at,
            cancellation_requested=CANCELLATION_SIGNAL_TAG in ticket.tags,
        )

    def _order_facts(self, ticket: Ticket) -> OrderFacts | None:
        order = ticket_order(self._repo, ticket)
        return OrderFacts.from_order(order) if order else None

    def _history(self, ticket: Ticket) -> CustomerHistory:
        if not ticket.customer_email:
            return CustomerHistory()
        earlier = [
            t
            for t in self._repo.find_tickets_by_email(ticket.tenant_id, ticket.customer_email)
            if t.ticket_id != ticket.ticket_id and t.created_at < ticket.created_at
        ]
        return CustomerHistory(earlier_tickets=len(earlier))

    def _availability(self, tenant_id: str, now: datetime) -> list[AgentAvailability]:
        available = []
        for agent in self._repo.list_agents(tenant_id):
            if not agent.active:
                continue
            on_shift = True
            if agent.shift:
                on_shift = is_open(BusinessCalendar.model_validate(agent.shift), now)
            available.append(
                AgentAvailability(
                    agent_id=agent.agent_id,
                    languages=agent.languages,
                    team_ids=agent.team_ids,
                    on_shift=on_shift,
                    open_tickets=self._repo.count_assigned(tenant_id, agent.agent_id),
                    last_assigned_at=agent.last_assigned_at,
                )
            )
        return available

    def _timer(self, ticket: Ticket) -> dict[str, Any] | None:
        request = sla_timers.timer_request(ticket)
        if request is None:
            return None
        return {"name": request.execution_name, "input": self._timer_input(request)}


def business_hours(
    policies: Sequence[SlaPolicySpec], tenant: Tenant | None, store: Store | None, now: datetime
) -> bool | None:
    """Whether ``now`` is in the seller's business hours (the ``business_hours`` rule condition):
    the calendar of the store's SLA policy, else of the tenant's default policy; None when neither
    has one (a rule on business hours then never fires)."""
    by_id = {p.policy_id: p for p in policies}
    for policy_id in (store.sla_policy_id if store else None, tenant.default_sla_policy_id if tenant else None):
        policy = by_id.get(policy_id or "")
        if policy is not None and policy.calendar is not None:
            return is_open(policy.calendar, now)
    return None


def owed_since(view: TicketView) -> datetime | None:
    """When the buyer started waiting: their first message after the last reply the channel
    accepted (or after nothing, before the first response)."""
    last_reply = max(
        (
            m.sent_at or m.created_at
            for m in view.messages
            if m.direction == MessageDirection.OUTBOUND
            and m.delivery_status != "failed"
            and (m.sent_at is not None or m.delivery_status is None)
            and m.automation not in (Automation.ACKNOWLEDGEMENT, Automation.NUDGE, Automation.SURVEY)
        ),
        default=None,
    )
    waiting = [
        m.created_at
        for m in view.messages
        if m.direction == MessageDirection.INBOUND and (last_reply is None or m.created_at > last_reply)
    ]
    return min(waiting) if waiting else None


def timeline_event(ticket: Ticket, at: datetime, text: str) -> Message:
    """A system entry on the ticket's timeline (why it was routed, reassigned, escalated)."""
    return Message(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.ticket_id,
        message_id=new_id(at),
        direction=MessageDirection.EVENT,
        channel=ticket.channel,
        store_id=ticket.store_id,
        author="system",
        body=text,
        created_at=at,
    )


def routing_summary(
    decision: IntakeDecision, before: Ticket, after: Ticket, spoken: DetectedLanguage | None = None
) -> str:
    parts = [
        f"Intent {decision.intent.value} ({decision.intent_confidence:.2f}"
        + (f"; matched {', '.join(decision.intent_evidence[:5])}" if decision.intent_evidence else "")
        + ")"
    ]
    if spoken is not None:
        parts.append(
            f"language {spoken.language} ("
            + (f"detected {spoken.confidence:.2f}" if spoken.source == "detected" else f"from the {spoken.source}")
            + ")"
        )
    if decision.fired_rules:
        parts.append(f"rules fired: {', '.join(decision.fired_rules)}")
    if after.priority != before.priority:
        parts.append(f"priority {before.priority.value} → {after.priority.value}")
    if after.team_id != before.team_id:
        parts.append(f"team {after.team_id}")
    if after.assignee_id != before.assignee_id:
        parts.append(
            f"assigned to {after.assignee_id}"
            + (f" ({decision.assignment_reason})" if decision.assignment_reason else "")
        )
    if decision.sla_policy_id:
        due = after.sla_due_at
        parts.append(
            f"SLA {decision.sla_policy_id} ({decision.sla_policy_source})" + (f", due {due.isoformat()}" if due else "")
        )
    return "Routed: " + "; ".join(parts)


def event_ids(event: Mapping[str, Any]) -> tuple[str, str, str | None]:
    try:
        return str(event["tenant_id"]), str(event["ticket_id"]), event.get("message_id")
    except KeyError as exc:
        raise ValueError(f"intake event lacks {exc.args[0]!r}") from None
