"""The routing rules' schema: the fields a condition reads, the operators and actions, how each JSON
value is read, and the validation of a rule list (every problem reported at once). Pure Python; the
evaluation is ``helpdesk.routing.rules``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    field_validator,
    model_validator,
)

from helpdesk.core.errors import HelpdeskError
from helpdesk.core.models import ID_PATTERN, Channel, Intent, OrderStatus, Priority
from helpdesk.core.text import fold, strip_accents
from helpdesk.languages.tags import comparable_tag, primary_language

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


# --- names and tags -------------------------------------------------------------------------------------


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
    _F.LANGUAGE: _text_value(_LANGUAGE, 'a language code like "de" or "de-AT"', comparable_tag),
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
