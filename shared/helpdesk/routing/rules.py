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

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    field_validator,
    model_validator,
)

from helpdesk.core.errors import HelpdeskError
from helpdesk.core.models import ID_PATTERN, Channel, InboundMessage, Intent, Order, OrderStatus, Priority, Ticket
from helpdesk.languages.detection import normalise_language, primary_language

# --- limits -------------------------------------------------------------------------------------------
# Rules run on every inbound message, and Python's ``re`` has no timeout: patterns and inputs are
# capped and patterns with nested quantifiers are refused, which keeps a seller's regex from
# stalling ingestion (catastrophic backtracking).

MAX_REGEX_LENGTH = 200
MAX_TEXT_SCANNED = 20_000  # characters of subject/body a condition looks at
MAX_LIST_VALUES = 100
MAX_KEYWORD_LENGTH = 100
MAX_CONDITIONS = 50
MAX_ANY_OF_GROUPS = 10
MAX_ACTIONS = 20
MAX_RULES = 500
# A group that holds a quantifier and is itself repeated: (a+)+, (\w*\s?)*, (x+){2,}.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


class _Strict(BaseModel):
    """Rules are stored data: unknown keys are errors, and a validated rule does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- vocabulary ---------------------------------------------------------------------------------------


class ConditionField(StrEnum):
    CHANNEL = "channel"
    STORE_ID = "store_id"
    LANGUAGE = "language"
    INTENT = "intent"
    TAGS = "tags"
    SUBJECT = "subject"
    BODY = "body"
    ORDER_STATUS = "order_status"
    ORDER_TOTAL = "order_total"
    ORDER_CURRENCY = "order_currency"
    CUSTOMER_EARLIER_TICKETS = "customer_earlier_tickets"
    CUSTOMER_REPEAT_BUYER = "customer_repeat_buyer"
    TIME_OF_DAY = "time_of_day"
    WEEKDAY = "weekday"
    PRIORITY = "priority"
    CANCELLATION_SIGNAL = "cancellation_signal"
    ORDER_HAS_TRACKING = "order_has_tracking"
    BUSINESS_HOURS = "business_hours"


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS_ANY = "contains_any"
    CONTAINS_ALL = "contains_all"
    MATCHES = "matches"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EXISTS = "exists"


class ActionType(StrEnum):
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    SET_PRIORITY = "set_priority"
    SET_SLA_POLICY = "set_sla_policy"
    ASSIGN_TEAM = "assign_team"
    ASSIGN_AGENT = "assign_agent"
    ASSIGN_ROUND_ROBIN = "assign_round_robin"
    ASSIGN_LEAST_LOADED = "assign_least_loaded"
    SEND_MACRO = "send_macro"
    DRAFT_MACRO = "draft_macro"
    ACKNOWLEDGE = "acknowledge"
    DRAFT_REPLY = "draft_reply"
    CLOSE_AS_SPAM = "close_as_spam"
    STOP = "stop"


_F = ConditionField
_FIELD_NAMES = frozenset(member.value for member in ConditionField)
_OPERATOR_NAMES = frozenset(member.value for member in Operator)
_ACTION_NAMES = frozenset(member.value for member in ActionType)
_O = Operator
_EQUALITY = (_O.EQ, _O.NE, _O.IN, _O.NOT_IN)
_ORDERING = (_O.GT, _O.GTE, _O.LT, _O.LTE)
_TEXT = (_O.CONTAINS_ANY, _O.CONTAINS_ALL, _O.MATCHES, _O.EXISTS)

# Which operators make sense on which field. ``exists`` only where the value can be missing.
ALLOWED_OPERATORS: dict[ConditionField, tuple[Operator, ...]] = {
    _F.CHANNEL: _EQUALITY,
    _F.STORE_ID: _EQUALITY,
    _F.LANGUAGE: (*_EQUALITY, _O.EXISTS),
    _F.INTENT: (*_EQUALITY, _O.EXISTS),
    # On a list field: contains_any/contains_all as named; not_in = "has none of these"; exists = "has any tag".
    _F.TAGS: (_O.CONTAINS_ANY, _O.CONTAINS_ALL, _O.NOT_IN, _O.EXISTS),
    _F.SUBJECT: _TEXT,
    _F.BODY: _TEXT,
    _F.ORDER_STATUS: (*_EQUALITY, _O.EXISTS),
    _F.ORDER_TOTAL: (_O.EQ, _O.NE, *_ORDERING, _O.EXISTS),
    _F.ORDER_CURRENCY: (*_EQUALITY, _O.EXISTS),
    _F.CUSTOMER_EARLIER_TICKETS: (_O.EQ, _O.NE, *_ORDERING),
    _F.CUSTOMER_REPEAT_BUYER: (_O.EQ, _O.NE, _O.EXISTS),
    _F.TIME_OF_DAY: _ORDERING,
    _F.WEEKDAY: _EQUALITY,
    # Priorities compare by urgency: low < normal < high < urgent.
    _F.PRIORITY: (*_EQUALITY, *_ORDERING),
    _F.CANCELLATION_SIGNAL: (_O.EQ, _O.NE),
    _F.ORDER_HAS_TRACKING: (_O.EQ, _O.NE),
    _F.BUSINESS_HOURS: (_O.EQ, _O.NE),
}

PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}
# Full English names, in ``date.weekday()`` order (the spelling business calendars use); the
# three-letter forms are accepted too.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {**{name: name for name in WEEKDAYS}, **{name[:3]: name for name in WEEKDAYS}}
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ID = re.compile(ID_PATTERN)
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "hu": "Hungarian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sv": "Swedish",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "zh": "Chinese",
}


# --- text helpers -------------------------------------------------------------------------------------


def strip_accents(text: str) -> str:
    """``annulée`` → ``annulee``: decompose, then drop the combining marks."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """The form keywords are compared in: no accents, case-folded (ß → ss), whitespace runs as one space."""
    return " ".join(strip_accents(text).casefold().split())


def language_name(code: str) -> str:
    primary = primary_language(code)
    return LANGUAGE_NAMES.get(primary, f"'{primary}'")


def normalise_tag(tag: str) -> str:
    return tag.strip().lower()


def _check_regex(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ValueError(f"regex is {len(pattern)} characters long; the limit is {MAX_REGEX_LENGTH}")
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(
            "regex repeats a group that itself holds a quantifier (like (a+)+), which can take "
            "exponential time; rewrite it without the nested repetition"
        )
    try:
        return re.compile(strip_accents(pattern), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"regex does not compile: {exc}") from None


# --- conditions ---------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _enum_value(enum: type[StrEnum], normalise: Callable[[str], str] = str.lower) -> Callable[[Any], StrEnum]:
    def coerce(value: Any) -> StrEnum:
        if isinstance(value, str):
            try:
                return enum(normalise(value.strip()))
            except ValueError:
                pass
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"{_show(value)} is not one of: {allowed}")

    return coerce


def _text_value(pattern: re.Pattern[str], what: str, normalise: Callable[[str], str]) -> Callable[[Any], str]:
    def coerce(value: Any) -> str:
        if isinstance(value, str) and pattern.match(normalise(value)):
            return normalise(value)
        raise ValueError(f"{_show(value)} is not {what}")

    return coerce


def _decimal_value(value: Any) -> Decimal:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise ValueError(f"{_show(value)} is not a number")


def _count_value(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"{_show(value)} is not a whole number of tickets (0 or more)")


def _bool_value(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{_show(value)} is not true or false")


def _time_value(value: Any) -> time:
    match = _TIME_OF_DAY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{_show(value)} is not a time of day as HH:MM (24-hour, e.g. "08:30")')
    return time(int(match.group(1)), int(match.group(2)))


def _weekday_value(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES[value.strip().lower()]
    raise ValueError(f"{_show(value)} is not a weekday (monday ... sunday, or mon ... sun)")


def _keyword_value(value: Any) -> str:
    if isinstance(value, str) and fold(value) and len(value) <= MAX_KEYWORD_LENGTH:
        return fold(value)
    raise ValueError(f"{_show(value)} is not a keyword (a non-blank text of at most {MAX_KEYWORD_LENGTH} characters)")


def _tag_value(value: Any) -> str:
    if isinstance(value, str) and normalise_tag(value) and len(value) <= MAX_KEYWORD_LENGTH:
        return normalise_tag(value)
    raise ValueError(f"{_show(value)} is not a tag (a non-blank text of at most {MAX_KEYWORD_LENGTH} characters)")


def _id_value(value: Any) -> str:
    if isinstance(value, str) and _ID.match(value):
        return value
    raise ValueError(f"{_show(value)} is not an id (letters, digits and _ . : -)")


# How each field's values are read from JSON into what evaluation compares.
_SCALAR: dict[ConditionField, Callable[[Any], Any]] = {
    _F.CHANNEL: _enum_value(Channel),
    _F.STORE_ID: _id_value,
    _F.LANGUAGE: _text_value(_LANGUAGE, 'a language code like "de" or "de-AT"', normalise_language),
    _F.INTENT: _enum_value(Intent),
    _F.TAGS: _tag_value,
    _F.SUBJECT: _keyword_value,
    _F.BODY: _keyword_value,
    _F.ORDER_STATUS: _enum_value(OrderStatus),
    _F.ORDER_TOTAL: _decimal_value,
    _F.ORDER_CURRENCY: _text_value(_CURRENCY, 'a currency code like "EUR"', lambda text: text.strip().upper()),
    _F.CUSTOMER_EARLIER_TICKETS: _count_value,
    _F.CUSTOMER_REPEAT_BUYER: _bool_value,
    _F.TIME_OF_DAY: _time_value,
    _F.WEEKDAY: _weekday_value,
    _F.PRIORITY: _enum_value(Priority),
    _F.CANCELLATION_SIGNAL: _bool_value,
    _F.ORDER_HAS_TRACKING: _bool_value,
    _F.BUSINESS_HOURS: _bool_value,
}


class Condition(_Strict):
    """``{"field": "order_total", "op": "gt", "value": 100}``.

    ``value`` is kept exactly as the seller wrote it (so saved rules read back unchanged); the
    validated, normalised operand evaluation uses is computed once, when the model is validated.
    ``exists`` takes ``true``/``false`` and defaults to ``true``.
    """

    field: ConditionField
    op: Operator = Operator.EQ
    value: JsonValue = None

    _operand: Any = PrivateAttr(default=None)

    @field_validator("field", mode="before")
    @classmethod
    def _known_field(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in _FIELD_NAMES:
            raise ValueError(f"unknown field {_show(value)}; known fields: {', '.join(ConditionField)}")
        return value

    @field_validator("op", mode="before")
    @classmethod
    def _known_operator(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in _OPERATOR_NAMES:
            raise ValueError(f"unknown operator {_show(value)}; known operators: {', '.join(Operator)}")
        return value

    @model_validator(mode="after")
    def _check_operand(self) -> Condition:
        allowed = ALLOWED_OPERATORS[self.field]
        if self.op not in allowed:
            raise ValueError(
                f"field '{self.field}' does not support operator '{self.op}'; use one of: {', '.join(allowed)}"
            )
        try:
            self._operand = self._read_operand()
        except ValueError as exc:
            raise ValueError(f"field '{self.field}' with operator '{self.op}': {exc}") from None
        return self

    def _read_operand(self) -> Any:
        value, op = self.value, self.op
        if op is Operator.EXISTS:
            return True if value is None else _bool_value(value)
        if value is None:
            raise ValueError("needs a value")
        if op is Operator.MATCHES:
            if not isinstance(value, str) or not value:
                raise ValueError(f"{_show(value)} is not a regex (a non-empty text)")
            return _check_regex(value)
        coerce = _SCALAR[self.field]
        if op in (Operator.IN, Operator.NOT_IN, Operator.CONTAINS_ANY, Operator.CONTAINS_ALL):
            if not isinstance(value, list) or not value:
                raise ValueError(f"needs a non-empty list of values, got {_show(value)}")
            if len(value) > MAX_LIST_VALUES:
                raise ValueError(f"has {len(value)} values; the limit is {MAX_LIST_VALUES}")
            return [coerce(item) for item in value]
        if isinstance(value, list):
            raise ValueError(f"needs a single value, got the list {_show(value)} (use 'in' for a list)")
        return coerce(value)

    @property
    def operand(self) -> Any:
        """The validated value evaluation compares with (enum, Decimal, time, compiled regex, folded keywords)."""
        return self._operand

    def describe(self) -> str:
        value = "" if self.op is Operator.EXISTS and self.value is None else f" {_show(self.value)}"
        return f"{self.field} {self.op}{value}"


# --- actions ------------------------------------------------------------------------------------------

# Action types that choose an assignee: one per rule at most.
_ASSIGNING = frozenset({ActionType.ASSIGN_AGENT, ActionType.ASSIGN_ROUND_ROBIN, ActionType.ASSIGN_LEAST_LOADED})
# Action types a rule may hold once: twice would be a contradiction or a typo.
_ONCE = frozenset(
    {
        ActionType.SET_PRIORITY,
        ActionType.SET_SLA_POLICY,
        ActionType.ASSIGN_TEAM,
        ActionType.CLOSE_AS_SPAM,
        ActionType.STOP,
    }
)


class Action(_Strict):
    """``{"type": "set_priority", "value": "urgent"}``.

    Values per type: tags (a non-empty list) for add/remove_tags; a priority for set_priority; an
    id for set_sla_policy, assign_team, assign_agent; a macro id for send_macro, draft_macro and
    acknowledge; an optional team id for assign_round_robin / assign_least_loaded (none: the team
    chosen so far, by an earlier action or on the ticket); nothing for draft_reply, close_as_spam and stop.

    Automatic replies (the intake carries them out, ``helpdesk.replies.automatic_answers``): ``send_macro`` answers
    the buyer with the macro in their language when every placeholder has a value (else it becomes the
    ticket's draft); ``acknowledge`` sends the macro as an acknowledgement, which does not count as a
    response (the SLA keeps running); ``draft_macro`` and ``draft_reply`` (the AI drafter) prepare a
    draft that only an agent sends. Each macro is sent at most once per ticket.
    """

    type: ActionType
    value: JsonValue = None

    _operand: Any = PrivateAttr(default=None)

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in _ACTION_NAMES:
            raise ValueError(f"unknown action {_show(value)}; known actions: {', '.join(ActionType)}")
        return value

    @model_validator(mode="after")
    def _check_value(self) -> Action:
        try:
            self._operand = self._read_value()
        except ValueError as exc:
            raise ValueError(f"action '{self.type}': {exc}") from None
        return self

    def _read_value(self) -> Any:
        kind, value = self.type, self.value
        if kind in (ActionType.ADD_TAGS, ActionType.REMOVE_TAGS):
            if not isinstance(value, list) or not value:
                raise ValueError(f"needs a non-empty list of tags, got {_show(value)}")
            if len(value) > MAX_LIST_VALUES:
                raise ValueError(f"has {len(value)} tags; the limit is {MAX_LIST_VALUES}")
            return list(dict.fromkeys(_tag_value(tag) for tag in value))
        if kind is ActionType.SET_PRIORITY:
            return _enum_value(Priority)(value)
        if kind in (ActionType.ASSIGN_ROUND_ROBIN, ActionType.ASSIGN_LEAST_LOADED):
            return None if value is None else _id_value(value)
        if kind in (ActionType.CLOSE_AS_SPAM, ActionType.STOP, ActionType.DRAFT_REPLY):
            if value is not None:
                raise ValueError(f"takes no value, got {_show(value)}")
            return None
        return _id_value(value)  # set_sla_policy, assign_team, assign_agent, send/draft_macro, acknowledge

    @property
    def operand(self) -> Any:
        return self._operand


# --- rules --------------------------------------------------------------------------------------------


class RoutingRule(_Strict):
    """One seller rule. Fires when all ``conditions`` hold and each ``any_of`` group has one that holds."""

    tenant_id: str = Field(pattern=ID_PATTERN)
    rule_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    position: int = Field(default=0, ge=0, description="Lower runs first; ties by rule_id")
    enabled: bool = True
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    any_of: list[list[Condition]] = Field(
        default_factory=list,
        max_length=MAX_ANY_OF_GROUPS,
        description="Groups of alternatives: each group needs at least one condition that holds",
    )
    actions: list[Action] = Field(min_length=1, max_length=MAX_ACTIONS)

    @field_validator("any_of")
    @classmethod
    def _groups_not_empty(cls, groups: list[list[Condition]]) -> list[list[Condition]]:
        for index, group in enumerate(groups):
            if not group:
                raise ValueError(f"any_of group {index} is empty; a group needs at least one condition")
            if len(group) > MAX_CONDITIONS:
                raise ValueError(f"any_of group {index} has {len(group)} conditions; the limit is {MAX_CONDITIONS}")
        return groups

    @model_validator(mode="after")
    def _actions_consistent(self) -> RoutingRule:
        kinds = [action.type for action in self.actions]
        for kind in _ONCE:
            if kinds.count(kind) > 1:
                raise ValueError(f"action '{kind}' appears {kinds.count(kind)} times; a rule may hold it once")
        assigning = [kind for kind in kinds if kind in _ASSIGNING]
        if len(assigning) > 1:
            raise ValueError(f"a rule may choose the assignee once, got {', '.join(assigning)}")
        return self


class RulesInvalid(HelpdeskError):
    """The rules sent to be saved (or dry-run) are not valid; ``details.errors`` says which and why."""

    code = "invalid_rules"
    status = 422


def validate_rules(raw: Sequence[Any], *, tenant_id: str | None = None) -> list[RoutingRule]:
    """Validate a seller's rules (parsed JSON) and return them in evaluation order.

    Raises ``RulesInvalid`` (422) listing every bad rule by index and rule id, each with all its
    messages, so the rules screen can mark them all at once rather than one per save. Rule ids must
    be unique. With ``tenant_id`` (the caller's tenant, from the token), rules without a tenant get
    it and rules naming another tenant are refused.
    """
    from helpdesk.core.validation import validate_list

    if isinstance(raw, str | bytes):
        raise RulesInvalid("rules must be a JSON list", errors=[])
    rules = validate_list(
        list(raw) if isinstance(raw, Sequence) else raw,
        RoutingRule,
        "rule_id",
        what="rules",
        limit=MAX_RULES,
        error=RulesInvalid,
        tenant_id=tenant_id,
        noun="rule",
    )
    return sorted(rules, key=_order)


def _order(rule: RoutingRule) -> tuple[int, str]:
    return rule.position, rule.rule_id


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
    _F.LANGUAGE: lambda context, state: (
        normalise_language(context.ticket.language) if context.ticket.language else None
    ),
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
