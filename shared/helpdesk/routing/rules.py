"""Seller-defined routing rules: data in, decisions out. Pure Python, no I/O.

A rule is JSON the seller writes (or the rules screen writes for them): conditions, optional
``any_of`` groups, and actions. The models below validate that JSON strictly when it is saved, so
that a rule that could never work (an unknown field, ``gt`` on a channel, a regex that does not
compile) is refused with a message naming the problem instead of silently never firing.

Evaluation is a pure function: ``evaluate(rules, context)`` says what WOULD happen to a ticket
(tags, priority, SLA policy, team, assignee, macros, spam) and why, and changes nothing. The ticket
service applies the outcome; the rules screen's dry run shows it.

Decisions that shape behaviour (each one is repeated where it is implemented):

* Rules run in ``position`` order, ties broken by ``rule_id``, so the order never depends on how
  they were stored. Disabled rules are skipped.
* A rule fires when every condition holds and every ``any_of`` group has at least one condition that
  holds. A rule without conditions fires always (a catch-all, e.g. a default team at the end).
* Later rules see what earlier rules did to tags and priority, so rules can chain (one tags "vip",
  a later one routes on the tag). Scalar results (priority, SLA policy, team, assignee) are
  last-writer-wins; a rule that must have the last word uses ``stop``.
* A condition on a value the ticket does not have (no order, no known language) is false, except
  ``exists: false``: a rule never fires on data it cannot see.
* Keywords match accent- and case-insensitively ("stornieren" finds "STORNIEREN", "annulee" finds
  "annulée") as substrings, so a German keyword also finds compounds ("stornierung" in
  "Bestellstornierung"); word boundaries need ``matches``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    Field,
    field_validator,
)

from helpdesk.core.models import InboundMessage, Intent, Order, OrderStatus, Priority, Ticket
from helpdesk.core.text import fold, strip_accents
from helpdesk.languages.tags import comparable_tag, primary_language
from helpdesk.routing.rule_schema import (
    _F,
    _O,
    MAX_TEXT_SCANNED,
    PRIORITY_RANK,
    WEEKDAYS,
    Action,
    ActionType,
    Condition,
    ConditionField,
    RoutingRule,
    _order,
    _show,
    _Strict,
    language_name,
    normalise_tag,
)

# --- context ------------------------------------------------------------------------------------------


class AgentAvailability(_Strict):
    """An agent as assignment sees them now. ``on_shift`` comes from the caller (rota, presence)."""

    agent_id: str
    languages: list[str] = Field(default_factory=list)
    team_ids: list[str] = Field(default_factory=list)
    on_shift: bool
    open_tickets: int = Field(default=0, ge=0)
    last_assigned_at: AwareDatetime | None = None

    def speaks(self, language: str) -> bool:
        return primary_language(language) in {primary_language(code) for code in self.languages}


class OrderFacts(_Strict):
    """What conditions may ask about the ticket's order."""

    status: OrderStatus = OrderStatus.UNKNOWN
    total: Decimal | None = None
    currency: str | None = None
    has_tracking: bool = Field(default=False, description="A tracking number or URL is known")

    @classmethod
    def from_order(cls, order: Order) -> OrderFacts:
        return cls(
            status=order.status,
            total=order.total,
            currency=order.currency,
            has_tracking=bool(order.tracking_number or order.tracking_url),
        )


class CustomerHistory(_Strict):
    earlier_tickets: int = Field(default=0, ge=0, description="Tickets of this customer before this one")
    repeat_buyer: bool | None = Field(default=None, description="None when unknown")


class RuleContext(_Strict):
    """Everything a rule may look at, gathered by the caller; evaluation reads nothing else."""

    ticket: Ticket
    subject: str | None = Field(default=None, description="The inbound message's subject; else the ticket's")
    body: str = Field(default="", description="The inbound message text")
    intent: Intent | None = Field(default=None, description="The intent classifier's result; else the ticket's")
    cancellation_signal: bool = False
    order: OrderFacts | None = None
    customer: CustomerHistory = Field(default_factory=CustomerHistory)
    now: AwareDatetime
    time_zone: str = "UTC"
    agents: list[AgentAvailability] = Field(default_factory=list)
    business_hours: bool | None = Field(
        default=None, description="Whether now is inside the seller's business hours; None when no calendar is set"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone {value!r} (use an IANA name like "Europe/Berlin")') from None
        return value

    @classmethod
    def for_inbound(cls, ticket: Ticket, inbound: InboundMessage, **more: Any) -> RuleContext:
        """The context of a buyer's message: subject, body, language fallback and the channel's cancellation flag."""
        if ticket.language is None and inbound.language:
            ticket = ticket.model_copy(update={"language": inbound.language})
        fields: dict[str, Any] = {
            "subject": inbound.subject,
            "body": inbound.body,
            "cancellation_signal": inbound.cancellation_requested,
            **more,
        }
        return cls(ticket=ticket, **fields)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(ZoneInfo(self.time_zone))


# --- outcome ------------------------------------------------------------------------------------------


class FiredRule(_Strict):
    rule_id: str
    name: str
    matched: list[str] = Field(description="Each condition that held, with the value it saw")
    actions: list[str] = Field(description="What each action did")


class SkippedRule(_Strict):
    rule_id: str
    name: str
    reason: str


class RuleOutcome(_Strict):
    """What the rules WOULD do: the final ticket routing and the trail that explains it."""

    fired: list[FiredRule] = Field(default_factory=list)
    skipped: list[SkippedRule] = Field(default_factory=list)
    stopped_by: str | None = None
    tags: list[str]
    priority: Priority
    sla_policy_id: str | None = None
    team_id: str | None = None
    assignee_id: str | None = None
    assignment_reason: str | None = None
    no_eligible_agent: bool = False
    macro_ids: list[str] = Field(default_factory=list, description="send_macro: automatic answers")
    acknowledgements: list[str] = Field(default_factory=list, description="acknowledge: macros sent as acknowledgement")
    draft: str | None = Field(default=None, description="The draft to prepare: a macro id, or 'ai' (draft_reply)")
    spam: bool = False

    @property
    def fired_rule_ids(self) -> list[str]:
        return [rule.rule_id for rule in self.fired]


# --- evaluation ---------------------------------------------------------------------------------------


class _State:
    """The routing as it stands after the rules evaluated so far."""

    def __init__(self, ticket: Ticket) -> None:
        self.tags = [normalise_tag(tag) for tag in ticket.tags]
        self.priority = ticket.priority
        self.sla_policy_id = ticket.sla_policy_id
        self.team_id = ticket.team_id
        self.assignee_id = ticket.assignee_id
        self.assignment_reason: str | None = None
        self.no_eligible_agent = False
        self.macro_ids: list[str] = []
        self.acknowledgements: list[str] = []
        self.draft: str | None = None
        self.spam = False


_MISSING = object()


def _order_currency(context: RuleContext, state: _State) -> Any:
    order = context.order
    return order.currency.strip().upper() if order and order.currency else None


# How each field's actual value is read from the ticket being routed (None: the ticket has none).
_READERS: dict[ConditionField, Callable[[RuleContext, _State], Any]] = {
    _F.CHANNEL: lambda context, state: context.ticket.channel,
    _F.STORE_ID: lambda context, state: context.ticket.store_id,
    _F.LANGUAGE: lambda context, state: comparable_tag(context.ticket.language) if context.ticket.language else None,
    _F.INTENT: lambda context, state: context.intent or context.ticket.intent,
    # Empty is a value: "has none of these" holds on an untagged ticket.
    _F.TAGS: lambda context, state: list(state.tags),
    _F.SUBJECT: lambda context, state: context.subject if context.subject is not None else context.ticket.subject,
    _F.BODY: lambda context, state: context.body,
    _F.ORDER_STATUS: lambda context, state: context.order.status if context.order else None,
    _F.ORDER_TOTAL: lambda context, state: context.order.total if context.order else None,
    _F.ORDER_CURRENCY: _order_currency,
    _F.CUSTOMER_EARLIER_TICKETS: lambda context, state: context.customer.earlier_tickets,
    _F.CUSTOMER_REPEAT_BUYER: lambda context, state: context.customer.repeat_buyer,
    _F.TIME_OF_DAY: lambda context, state: context.local_now.time().replace(tzinfo=None),
    _F.WEEKDAY: lambda context, state: WEEKDAYS[context.local_now.weekday()],
    _F.PRIORITY: lambda context, state: state.priority,
    _F.CANCELLATION_SIGNAL: lambda context, state: context.cancellation_signal,
    _F.ORDER_HAS_TRACKING: lambda context, state: context.order.has_tracking if context.order else None,
    _F.BUSINESS_HOURS: lambda context, state: context.business_hours,
}


def _actual(field: ConditionField, context: RuleContext, state: _State) -> Any:
    """The ticket's value for ``field`` in the form operands take, or ``_MISSING``."""
    value = _READERS[field](context, state)
    if value is None or (isinstance(value, str) and not value.strip()):
        return _MISSING
    return value


def _ordered(field: ConditionField, value: Any) -> Any:
    return PRIORITY_RANK[value] if field is _F.PRIORITY else value


def _same(field: ConditionField, actual: Any, expected: Any) -> bool:
    if field is _F.LANGUAGE:
        # "de" covers "de-AT"; "de-AT" covers only itself.
        return actual == expected or actual.startswith(f"{expected}-")
    return bool(actual == expected)


def _holds(condition: Condition, actual: Any) -> bool:
    """Whether ``condition`` holds for a present value (missing values are handled by the caller)."""
    field, op, operand = condition.field, condition.op, condition.operand
    if field is _F.TAGS:
        tags = set(actual)
        if op is _O.CONTAINS_ANY:
            return bool(tags.intersection(operand))
        if op is _O.CONTAINS_ALL:
            return tags.issuperset(operand)
        return not tags.intersection(operand)  # not_in: none of them
    if field in (_F.SUBJECT, _F.BODY):
        text = actual[:MAX_TEXT_SCANNED]
        if op is _O.MATCHES:
            return operand.search(strip_accents(text)) is not None
        folded = fold(text)
        found = [keyword in folded for keyword in operand]
        return any(found) if op is _O.CONTAINS_ANY else all(found)
    match op:
        case _O.EQ:
            return _same(field, actual, operand)
        case _O.NE:
            return not _same(field, actual, operand)
        case _O.IN:
            return any(_same(field, actual, item) for item in operand)
        case _O.NOT_IN:
            return not any(_same(field, actual, item) for item in operand)
        case _O.GT:
            return bool(_ordered(field, actual) > _ordered(field, operand))
        case _O.GTE:
            return bool(_ordered(field, actual) >= _ordered(field, operand))
        case _O.LT:
            return bool(_ordered(field, actual) < _ordered(field, operand))
        case _O.LTE:
            return bool(_ordered(field, actual) <= _ordered(field, operand))
    raise AssertionError(f"operator {op} on {field} passed validation but has no evaluation")  # pragma: no cover


def _show_actual(field: ConditionField, actual: Any) -> str:
    if actual is _MISSING:
        return "none"
    if field in (_F.SUBJECT, _F.BODY):
        text = " ".join(actual.split())
        return repr(text if len(text) <= 60 else text[:57] + "...")
    if field is _F.TIME_OF_DAY:
        return actual.strftime("%H:%M")
    if isinstance(actual, list):
        return _show(actual)
    return str(actual)


def _check(condition: Condition, context: RuleContext, state: _State) -> tuple[bool, str]:
    actual = _actual(condition.field, context, state)
    if condition.op is _O.EXISTS:
        held = (actual is not _MISSING and actual != []) == condition.operand
    else:
        held = actual is not _MISSING and _holds(condition, actual)
    return held, f"{condition.describe()} (actual: {_show_actual(condition.field, actual)})"


def _match(rule: RoutingRule, context: RuleContext, state: _State) -> tuple[bool, list[str]]:
    """(fired, explanation): the conditions that held, or the first one that did not."""
    matched: list[str] = []
    for condition in rule.conditions:
        held, text = _check(condition, context, state)
        if not held:
            return False, [f"not met: {text}"]
        matched.append(text)
    for index, group in enumerate(rule.any_of):
        seen = []
        for condition in group:
            held, text = _check(condition, context, state)
            if held:
                matched.append(f"any_of[{index}]: {text}")
                break
            seen.append(text)
        else:
            return False, [f"not met: any_of[{index}], none of: {'; '.join(seen)}"]
    return True, matched


def _round_robin_key(agent: AgentAvailability) -> tuple[bool, float, str]:
    """Never assigned first, then the longest since the last assignment, then agent id (a stable choice)."""
    when = agent.last_assigned_at
    return when is not None, when.timestamp() if when else 0.0, agent.agent_id


def _pick(kind: ActionType, team_id: str, context: RuleContext) -> tuple[AgentAvailability | None, str]:
    """The agent round robin / least loaded picks in ``team_id``, and the sentence that explains it."""
    language = context.ticket.language
    team = [agent for agent in context.agents if team_id in agent.team_ids]
    on_shift = [agent for agent in team if agent.on_shift]
    # An unknown language filters nobody out: we cannot hold the ticket back for data we lack.
    eligible = [agent for agent in on_shift if language is None or agent.speaks(language)]
    who = f"{language_name(language)} speakers" if language else "agents (language unknown)"
    if not eligible:
        reasons = [f"{len(team)} in team"]
        if len(on_shift) < len(team):
            reasons.append(f"{len(team) - len(on_shift)} off shift")
        if language and len(eligible) < len(on_shift):
            reasons.append(f"{len(on_shift) - len(eligible)} on shift without {language_name(language)}")
        return None, f"no {who} on shift in team {team_id} ({', '.join(reasons)}); left unassigned in the team"
    ordered = sorted(eligible, key=_round_robin_key)
    if kind is ActionType.ASSIGN_LEAST_LOADED:
        chosen = min(ordered, key=lambda agent: agent.open_tickets)  # min keeps the first: round-robin order
        return chosen, (
            f"least loaded ({chosen.open_tickets} open) among {len(eligible)} {who} on shift in team {team_id}"
        )
    return ordered[0], f"round robin among {len(eligible)} {who} on shift in team {team_id}"


def _apply(action: Action, rule: RoutingRule, context: RuleContext, state: _State) -> str:
    """Apply one action to the state; return what it did, for the outcome's trail."""
    kind, operand = action.type, action.operand
    match kind:
        case ActionType.ADD_TAGS | ActionType.REMOVE_TAGS:
            return _change_tags(kind, operand, state)
        case ActionType.SET_PRIORITY:
            state.priority = operand
            return f"set_priority {operand}"
        case ActionType.SET_SLA_POLICY:
            state.sla_policy_id = operand
            return f"set_sla_policy {operand}"
        case ActionType.ASSIGN_TEAM:
            return _set_team(operand, rule, state)
        case ActionType.ASSIGN_AGENT:
            state.assignee_id = operand
            state.no_eligible_agent = False
            state.assignment_reason = f"assigned to agent {operand} by rule {rule.rule_id}"
            return f"assign_agent {operand}"
        case ActionType.ASSIGN_ROUND_ROBIN | ActionType.ASSIGN_LEAST_LOADED:
            return _assign_in_team(kind, operand or state.team_id, rule, context, state)
        case ActionType.SEND_MACRO:
            if operand not in state.macro_ids:
                state.macro_ids.append(operand)
            return f"send_macro {operand}"
        case ActionType.ACKNOWLEDGE:
            if operand not in state.acknowledgements:
                state.acknowledgements.append(operand)
            return f"acknowledge {operand}"
        case ActionType.DRAFT_MACRO:
            state.draft = operand  # last writer wins: one draft per ticket
            return f"draft_macro {operand}"
        case ActionType.DRAFT_REPLY:
            state.draft = "ai"
            return "draft_reply (AI drafter)"
        case ActionType.CLOSE_AS_SPAM:
            state.spam = True
            return "close_as_spam"
        case ActionType.STOP:
            return "stop"
    raise AssertionError(f"action {kind} has no implementation")  # pragma: no cover


def _change_tags(kind: ActionType, tags: list[str], state: _State) -> str:
    if kind is ActionType.ADD_TAGS:
        added = [tag for tag in tags if tag not in state.tags]
        state.tags.extend(added)
        return f"add_tags {_show(added)}" if added else "add_tags: already tagged"
    removed = [tag for tag in state.tags if tag in tags]
    state.tags = [tag for tag in state.tags if tag not in tags]
    return f"remove_tags {_show(removed)}" if removed else "remove_tags: none present"


def _assign_in_team(
    kind: ActionType, team_id: str | None, rule: RoutingRule, context: RuleContext, state: _State
) -> str:
    """Round robin or least loaded among the team's eligible agents (the action's team, else the one set)."""
    if team_id is None:
        state.assignee_id = None
        state.no_eligible_agent = True
        state.assignment_reason = f"rule {rule.rule_id} asked for {kind} but no team is set; left unassigned"
        return f"{kind}: no team"
    state.team_id = team_id
    chosen, reason = _pick(kind, team_id, context)
    state.assignee_id = chosen.agent_id if chosen else None
    state.no_eligible_agent = chosen is None
    state.assignment_reason = reason
    return f"{kind} {team_id}: {chosen.agent_id if chosen else 'no eligible agent'}"


def _set_team(team_id: str, rule: RoutingRule, state: _State) -> str:
    # Routing to another team takes the ticket from whoever held it: an agent of the old team
    # should not keep a ticket the seller's rules send elsewhere.
    if team_id != state.team_id and state.assignee_id is not None:
        state.assignee_id = None
        state.no_eligible_agent = False
        state.assignment_reason = f"moved to team {team_id} by rule {rule.rule_id}; previous assignee removed"
    state.team_id = team_id
    return f"assign_team {team_id}"


def evaluate(rules: Sequence[RoutingRule], context: RuleContext) -> RuleOutcome:
    """Run the tenant's rules over one ticket and return what WOULD happen. Pure: changes nothing.

    Within a rule, actions apply in the order listed; ``stop`` ends evaluation after the rule's
    remaining actions. ``close_as_spam`` also ends evaluation and cancels any macro and assignee
    chosen so far: answering or routing spam costs the seller and tells the sender the address works.
    The caller persists the outcome and, after a round-robin or least-loaded assignment, bumps the
    chosen agent's ``last_assigned_at`` so that the next ticket goes to someone else.
    """
    tenant_id = context.ticket.tenant_id
    foreign = [rule.rule_id for rule in rules if rule.tenant_id != tenant_id]
    if foreign:
        raise ValueError(f"rules {foreign} do not belong to tenant {tenant_id}")
    state = _State(context.ticket)
    fired: list[FiredRule] = []
    skipped: list[SkippedRule] = []
    stopped_by: str | None = None
    for rule in sorted(rules, key=_order):
        if stopped_by is not None:
            skipped.append(
                SkippedRule(
                    rule_id=rule.rule_id, name=rule.name, reason=f"not evaluated: rule {stopped_by} stopped processing"
                )
            )
            continue
        if not rule.enabled:
            skipped.append(SkippedRule(rule_id=rule.rule_id, name=rule.name, reason="disabled"))
            continue
        matches, explanation = _match(rule, context, state)
        if not matches:
            skipped.append(SkippedRule(rule_id=rule.rule_id, name=rule.name, reason=explanation[0]))
            continue
        done = [_apply(action, rule, context, state) for action in rule.actions]
        fired.append(FiredRule(rule_id=rule.rule_id, name=rule.name, matched=explanation, actions=done))
        if state.spam or any(action.type is ActionType.STOP for action in rule.actions):
            stopped_by = rule.rule_id
    if state.spam:
        state.macro_ids = []
        state.acknowledgements = []
        state.draft = None
        state.assignee_id = None
        state.no_eligible_agent = False
        state.assignment_reason = "closed as spam: not assigned, no macro sent"
    return RuleOutcome(
        fired=fired,
        skipped=skipped,
        stopped_by=stopped_by,
        tags=state.tags,
        priority=state.priority,
        sla_policy_id=state.sla_policy_id,
        team_id=state.team_id,
        assignee_id=state.assignee_id,
        assignment_reason=state.assignment_reason,
        no_eligible_agent=state.no_eligible_agent,
        macro_ids=state.macro_ids,
        acknowledgements=state.acknowledgements,
        draft=state.draft,
        spam=state.spam,
    )


def dry_run(rules: Sequence[RoutingRule], context: RuleContext) -> RuleOutcome:
    """What the rules screen's "test" button shows: exactly ``evaluate``, which never changes anything."""
    return evaluate(rules, context)
