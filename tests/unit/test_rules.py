"""rules.py: seller routing rules as validated data, evaluated in order into an explainable outcome."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from helpdesk.core.models import Channel, Intent, OrderStatus, Priority
from helpdesk.core.text import fold
from helpdesk.routing.rule_schema import MAX_REGEX_LENGTH, Condition, RoutingRule, RulesInvalid, validate_rules
from helpdesk.routing.rules import AgentAvailability, CustomerHistory, OrderFacts, RuleContext, dry_run, evaluate
from tests.unit.builders import TENANT, make_inbound, make_ticket

# A Monday, 10:00 in Berlin (UTC+1 in winter).
MONDAY_NINE_UTC = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
EARLY = datetime(2024, 3, 4, 7, 0, tzinfo=UTC)


def rule(
    rule_id: str, actions: list[dict[str, Any]], conditions: list[dict[str, Any]] | None = None, **extra: Any
) -> RoutingRule:
    return RoutingRule.model_validate(
        {
            "tenant_id": TENANT,
            "rule_id": rule_id,
            "name": rule_id.title(),
            "conditions": conditions or [],
            "actions": actions,
            **extra,
        }
    )


def tagging(rule_id: str, tag: str, *conditions: dict[str, Any], **extra: Any) -> RoutingRule:
    """A rule that adds one tag when its conditions hold: which rules fired shows in the tags."""
    return rule(rule_id, [{"type": "add_tags", "value": [tag]}], list(conditions), **extra)


def agent(
    agent_id: str,
    languages: list[str],
    *,
    on_shift: bool = True,
    open_tickets: int = 0,
    last: datetime | None = None,
    teams: tuple[str, ...] = ("marketplace",),
) -> AgentAvailability:
    return AgentAvailability(
        agent_id=agent_id,
        languages=languages,
        team_ids=list(teams),
        on_shift=on_shift,
        open_tickets=open_tickets,
        last_assigned_at=last,
    )


def context(**overrides: Any) -> RuleContext:
    ticket_fields = overrides.pop("ticket", {})
    fields: dict[str, Any] = {
        "ticket": make_ticket(**ticket_fields),
        "body": "Hello",
        "now": MONDAY_NINE_UTC,
        "time_zone": "Europe/Berlin",
    }
    fields.update(overrides)
    return RuleContext(**fields)


def messages(exc: pytest.ExceptionInfo[RulesInvalid]) -> list[str]:
    return [message for error in exc.value.details["errors"] for message in error["messages"]]


# --- the seed scenario ----------------------------------------------------------------------------------

SEED_RULES = [
    {
        "rule_id": "mirakl-cancellations",
        "name": "Marketplace cancellations",
        "position": 10,
        "conditions": [
            {"field": "channel", "op": "eq", "value": "mirakl"},
            {"field": "language", "op": "eq", "value": "de"},
        ],
        "any_of": [
            [
                {"field": "intent", "op": "eq", "value": "cancellation"},
                {"field": "cancellation_signal", "op": "eq", "value": True},
                {"field": "body", "op": "contains_any", "value": ["stornieren", "stornierung"]},
            ]
        ],
        "actions": [
            {"type": "add_tags", "value": ["cancellation"]},
            {"type": "set_priority", "value": "urgent"},
            {"type": "set_sla_policy", "value": "cancellation-2h"},
            {"type": "assign_round_robin", "value": "marketplace"},
            {"type": "stop"},
        ],
    },
    {
        "rule_id": "catch-all",
        "name": "Everything else",
        "position": 99,
        "actions": [{"type": "assign_team", "value": "general"}],
    },
]

SEED_AGENTS = [
    agent("anna", ["de", "en"], last=MONDAY_NINE_UTC - timedelta(minutes=5)),
    agent("bernd", ["de"], last=MONDAY_NINE_UTC - timedelta(hours=2)),  # waited longest among those eligible
    agent("claudia", ["de"], on_shift=False),  # never assigned: would win if on shift
    agent("francois", ["fr"]),  # never assigned: would win if he spoke German
]


def seed_context(**overrides: Any) -> RuleContext:
    ticket = make_ticket(channel=Channel.MIRAKL, language="de", subject="Bestellung 4711")
    inbound = make_inbound(
        channel=Channel.MIRAKL,
        subject="Bestellung 4711",
        body="Bitte STORNIEREN Sie meine Bestellung, ich brauche sie nicht mehr.",
    )
    fields: dict[str, Any] = {
        "intent": Intent.CANCELLATION,
        "now": MONDAY_NINE_UTC,
        "time_zone": "Europe/Berlin",
        "agents": SEED_AGENTS,
        "order": OrderFacts(status=OrderStatus.PROCESSING, total=Decimal("89.90"), currency="EUR"),
    }
    fields.update(overrides)
    return RuleContext.for_inbound(ticket, inbound, **fields)


def test_german_cancellation_on_mirakl_is_tagged_urgent_and_round_robined_to_a_german_speaker_on_shift() -> None:
    outcome = evaluate(validate_rules(SEED_RULES, tenant_id=TENANT), seed_context())

    assert outcome.tags == ["cancellation"]
    assert outcome.priority is Priority.URGENT
    assert outcome.sla_policy_id == "cancellation-2h"
    assert outcome.team_id == "marketplace"
    assert outcome.assignee_id == "bernd"  # not claudia (off shift), not francois (French)
    assert outcome.assignment_reason == "round robin among 2 German speakers on shift in team marketplace"
    assert outcome.no_eligible_agent is False
    assert outcome.fired_rule_ids == ["mirakl-cancellations"]
    assert outcome.stopped_by == "mirakl-cancellations"
    assert outcome.skipped[0].rule_id == "catch-all"
    assert outcome.skipped[0].reason == "not evaluated: rule mirakl-cancellations stopped processing"
    assert outcome.fired[0].matched == [
        "channel eq 'mirakl' (actual: mirakl)",
        "language eq 'de' (actual: de)",
        "any_of[0]: intent eq 'cancellation' (actual: cancellation)",
    ]
    assert outcome.fired[0].actions[3] == "assign_round_robin marketplace: bernd"
    assert outcome.spam is False and outcome.macro_ids == []


def test_the_seed_rule_also_fires_on_the_keyword_alone_and_not_on_a_french_ticket() -> None:
    rules = validate_rules(SEED_RULES, tenant_id=TENANT)
    keyword_only = seed_context(intent=Intent.OTHER)
    outcome = evaluate(rules, keyword_only)
    assert outcome.fired_rule_ids == ["mirakl-cancellations"]
    assert outcome.fired[0].matched[-1].startswith("any_of[0]: body contains_any ['stornieren', 'stornierung']")

    french = seed_context().model_copy(update={"ticket": make_ticket(channel=Channel.MIRAKL, language="fr")})
    outcome = evaluate(rules, french)
    assert outcome.fired_rule_ids == ["catch-all"]
    assert outcome.skipped[0].reason == "not met: language eq 'de' (actual: fr)"
    assert outcome.team_id == "general" and outcome.assignee_id is None


def test_dry_run_is_evaluate_and_changes_nothing() -> None:
    rules = validate_rules(SEED_RULES, tenant_id=TENANT)
    ctx = seed_context()
    before = ctx.model_dump()
    assert dry_run(rules, ctx) == evaluate(rules, ctx)
    assert ctx.model_dump() == before
    assert ctx.ticket.tags == [] and ctx.ticket.priority is Priority.NORMAL


# --- order, stop, disabled, chaining --------------------------------------------------------------------


def test_rules_run_by_position_not_list_order_and_later_rules_overwrite_scalars() -> None:
    rules = [
        rule("b-late", [{"type": "set_priority", "value": "low"}], position=20),
        rule("a-early", [{"type": "set_priority", "value": "high"}], position=10),
    ]
    outcome = evaluate(rules, context())
    assert outcome.fired_rule_ids == ["a-early", "b-late"]
    assert outcome.priority is Priority.LOW


def test_equal_positions_run_by_rule_id() -> None:
    rules = [tagging("zeta", "z"), tagging("alpha", "a")]
    assert evaluate(rules, context()).tags == ["a", "z"]


def test_stop_keeps_the_rest_of_its_own_actions_and_skips_later_rules() -> None:
    rules = [
        rule("first", [{"type": "stop"}, {"type": "add_tags", "value": ["seen"]}], position=1),
        rule("second", [{"type": "add_tags", "value": ["never"]}], position=2),
    ]
    outcome = evaluate(rules, context())
    assert outcome.tags == ["seen"]
    assert outcome.fired_rule_ids == ["first"]
    assert outcome.stopped_by == "first"


def test_disabled_rules_are_skipped_and_say_so() -> None:
    rules = [rule("off", [{"type": "set_priority", "value": "urgent"}], enabled=False)]
    outcome = evaluate(rules, context())
    assert outcome.priority is Priority.NORMAL
    assert outcome.fired == []
    assert [(s.rule_id, s.reason) for s in outcome.skipped] == [("off", "disabled")]


def test_later_rules_see_tags_and_priority_set_by_earlier_rules() -> None:
    rules = [
        rule(
            "tag-vip",
            [{"type": "add_tags", "value": ["VIP"]}, {"type": "set_priority", "value": "high"}],
            [{"field": "customer_earlier_tickets", "op": "gte", "value": 5}],
            position=1,
        ),
        rule(
            "route-vip",
            [{"type": "assign_team", "value": "vip-desk"}],
            [
                {"field": "tags", "op": "contains_any", "value": ["vip"]},
                {"field": "priority", "op": "gte", "value": "high"},
            ],
            position=2,
        ),
    ]
    outcome = evaluate(rules, context(customer=CustomerHistory(earlier_tickets=7)))
    assert outcome.fired_rule_ids == ["tag-vip", "route-vip"]
    assert outcome.tags == ["vip"]
    assert outcome.team_id == "vip-desk"
    assert evaluate(rules, context(customer=CustomerHistory(earlier_tickets=4))).fired == []


def test_remove_tags_and_tag_conditions() -> None:
    rules = [
        rule(
            "untag",
            [{"type": "remove_tags", "value": ["Cancellation_Request"]}],
            [{"field": "tags", "op": "contains_all", "value": ["cancellation_request", "b2b"]}],
            position=1,
        ),
        rule(
            "untagged-only",
            [{"type": "add_tags", "value": ["clean"]}],
            [{"field": "tags", "op": "not_in", "value": ["cancellation_request"]}],
            position=2,
        ),
    ]
    outcome = evaluate(rules, context(ticket={"tags": ["cancellation_request", "b2b"]}))
    assert outcome.tags == ["b2b", "clean"]
    assert outcome.fired[0].actions == ["remove_tags ['cancellation_request']"]
    only_one = evaluate(rules, context(ticket={"tags": ["cancellation_request"]}))
    assert only_one.fired == [] and only_one.tags == ["cancellation_request"]
    # "has none of these" holds on a ticket without tags at all.
    assert evaluate(rules, context()).tags == ["clean"]


def test_rules_of_another_tenant_are_refused() -> None:
    stranger = RoutingRule(tenant_id="t2", rule_id="r", name="R", actions=[{"type": "stop"}])
    with pytest.raises(ValueError, match="do not belong to tenant t1"):
        evaluate([stranger], context())


# --- conditions -----------------------------------------------------------------------------------------


def test_any_of_groups_need_one_match_each_and_all_groups_must_hold() -> None:
    rules = [
        rule(
            "eu-big",
            [{"type": "add_tags", "value": ["eu-big"]}],
            any_of=[
                [
                    {"field": "order_currency", "op": "eq", "value": "eur"},
                    {"field": "order_currency", "op": "eq", "value": "GBP"},
                ],
                [
                    {"field": "order_total", "op": "gte", "value": 500},
                    {"field": "customer_repeat_buyer", "op": "eq", "value": True},
                ],
            ],
        )
    ]
    big_gbp = OrderFacts(total=Decimal("640"), currency="GBP")
    outcome = evaluate(rules, context(order=big_gbp))
    assert outcome.tags == ["eu-big"]
    assert outcome.fired[0].matched == [
        "any_of[0]: order_currency eq 'GBP' (actual: GBP)",
        "any_of[1]: order_total gte 500 (actual: 640)",
    ]
    small_eur_repeat = context(
        order=OrderFacts(total=Decimal("20"), currency="EUR"), customer=CustomerHistory(repeat_buyer=True)
    )
    assert evaluate(rules, small_eur_repeat).tags == ["eu-big"]
    small_usd = evaluate(rules, context(order=OrderFacts(total=Decimal("900"), currency="USD")))
    assert small_usd.tags == []
    assert small_usd.skipped[0].reason == (
        "not met: any_of[0], none of: order_currency eq 'eur' (actual: USD); order_currency eq 'GBP' (actual: USD)"
    )


@pytest.mark.parametrize(
    ("op", "value", "fires"),
    [
        ("gt", 100, True),
        ("gt", "100.50", False),
        ("gte", 100.5, True),
        ("lt", 101, True),
        ("lte", 100.49, False),
        ("eq", "100.5", True),
        ("ne", 100.5, False),
    ],
)
def test_order_total_compares_as_a_decimal(op: str, value: Any, fires: bool) -> None:
    rules = [tagging("total", "hit", {"field": "order_total", "op": op, "value": value})]
    outcome = evaluate(rules, context(order=OrderFacts(total=Decimal("100.50"), currency="EUR")))
    assert (outcome.tags == ["hit"]) is fires


def test_conditions_on_missing_data_are_false_except_exists_false() -> None:
    conditions = [
        {"field": "order_total", "op": "lt", "value": 10},
        {"field": "order_status", "op": "ne", "value": "shipped"},
        {"field": "language", "op": "not_in", "value": ["fr"]},
        {"field": "intent", "op": "exists"},
    ]
    rules = [rule(f"r{i}", [{"type": "add_tags", "value": [f"r{i}"]}], [c]) for i, c in enumerate(conditions)]
    rules.append(
        rule(
            "no-order",
            [{"type": "add_tags", "value": ["no-order"]}],
            [{"field": "order_status", "op": "exists", "value": False}],
        )
    )
    outcome = evaluate(rules, context())
    assert outcome.tags == ["no-order"]
    assert outcome.skipped[0].reason == "not met: order_total lt 10 (actual: none)"


def test_time_of_day_is_read_in_the_tenant_time_zone() -> None:
    office_hours = [
        rule(
            "office",
            [{"type": "assign_team", "value": "day-shift"}],
            [
                {"field": "time_of_day", "op": "gte", "value": "08:00"},
                {"field": "time_of_day", "op": "lt", "value": "18:00"},
                {"field": "weekday", "op": "in", "value": ["mon", "Tuesday", "wed", "thu", "fri"]},
            ],
        )
    ]
    # 07:00 UTC is 08:00 in Berlin (open) but 02:00 in New York (closed) and 16:00 in Tokyo (open).
    assert evaluate(office_hours, context(now=EARLY, time_zone="Europe/Berlin")).team_id == "day-shift"
    closed = evaluate(office_hours, context(now=EARLY, time_zone="America/New_York"))
    assert closed.team_id is None
    assert closed.skipped[0].reason == "not met: time_of_day gte '08:00' (actual: 02:00)"
    assert evaluate(office_hours, context(now=EARLY, time_zone="Asia/Tokyo")).team_id == "day-shift"
    # 23:30 UTC on Friday is already Saturday in Berlin: the weekday follows the tenant's clock too.
    friday_night = datetime(2024, 3, 8, 23, 30, tzinfo=UTC)
    late = [
        rule(
            "weekend",
            [{"type": "add_tags", "value": ["weekend"]}],
            [{"field": "weekday", "op": "in", "value": ["sat", "sun"]}],
        )
    ]
    assert evaluate(late, context(now=friday_night, time_zone="Europe/Berlin")).tags == ["weekend"]
    assert evaluate(late, context(now=friday_night, time_zone="UTC")).tags == []


def test_keywords_match_regardless_of_accents_and_case() -> None:
    rules = [
        rule(
            "annul",
            [{"type": "add_tags", "value": ["cancel"]}],
            [{"field": "body", "op": "contains_all", "value": ["annulée", "COMMANDE"]}],
        ),
        rule(
            "strasse",
            [{"type": "add_tags", "value": ["address"]}],
            [{"field": "subject", "op": "contains_any", "value": ["strasse"]}],
        ),
    ]
    ctx = context(body="Je veux ANNULEE ma commande", subject="Neue Straße")
    assert evaluate(rules, ctx).tags == ["cancel", "address"]
    missing_one = context(body="Je veux annuler", subject="Hallo")
    assert evaluate(rules, missing_one).tags == []
    assert fold("  Crème   BRÛLÉE ") == "creme brulee"


def test_keywords_match_inside_compound_words_and_regex_keeps_word_boundaries() -> None:
    rules = [
        rule(
            "substring",
            [{"type": "add_tags", "value": ["storno"]}],
            [{"field": "body", "op": "contains_any", "value": ["stornierung"]}],
        ),
        rule(
            "word",
            [{"type": "add_tags", "value": ["order-number"]}],
            [{"field": "body", "op": "matches", "value": r"\bbestellung\s+\d{3,}\b"}],
        ),
    ]
    outcome = evaluate(rules, context(body="Bitte die Bestellstornierung für BESTELLUNG 4711 prüfen"))
    assert outcome.tags == ["storno", "order-number"]
    assert evaluate(rules, context(body="Bestellungen 12")).tags == []


def test_regex_ignores_accents_and_case() -> None:
    rules = [
        rule(
            "rx",
            [{"type": "add_tags", "value": ["rx"]}],
            [{"field": "subject", "op": "matches", "value": r"^rembours[eé]"}],
        )
    ]
    assert evaluate(rules, context(subject="REMBOURSÉ ?")).tags == ["rx"]
    assert evaluate(rules, context(subject="pas remboursé")).tags == []


def test_language_prefix_and_channel_and_store_conditions() -> None:
    rules = [
        tagging("de-any", "de", {"field": "language", "op": "eq", "value": "DE"}),
        tagging("de-at", "at", {"field": "language", "op": "eq", "value": "de-AT"}),
        rule(
            "shop",
            [{"type": "add_tags", "value": ["shop"]}],
            [
                {"field": "channel", "op": "in", "value": ["shopify", "woocommerce"]},
                {"field": "store_id", "op": "ne", "value": "s2"},
            ],
        ),
    ]
    assert evaluate(rules, context(ticket={"language": "de-AT"})).tags == ["de", "at", "shop"]
    assert evaluate(rules, context(ticket={"language": "de"})).tags == ["de", "shop"]


# --- assignment -----------------------------------------------------------------------------------------


def test_least_loaded_picks_fewest_open_tickets_ties_by_round_robin_order() -> None:
    rules = [rule("ll", [{"type": "assign_least_loaded", "value": "marketplace"}])]
    now = MONDAY_NINE_UTC
    agents = [
        agent("busy", ["en"], open_tickets=9),
        agent("recent", ["en"], open_tickets=2, last=now - timedelta(minutes=1)),
        agent("waiting", ["en"], open_tickets=2, last=now - timedelta(hours=3)),
        agent("idle-off", ["en"], open_tickets=0, on_shift=False),
    ]
    outcome = evaluate(rules, context(ticket={"language": "en"}, agents=agents))
    assert outcome.assignee_id == "waiting"
    assert outcome.assignment_reason == "least loaded (2 open) among 3 English speakers on shift in team marketplace"


def test_round_robin_prefers_never_assigned_then_agent_id() -> None:
    rules = [rule("rr", [{"type": "assign_round_robin", "value": "marketplace"}])]
    agents = [agent("zoe", ["en"]), agent("adam", ["en"]), agent("old", ["en"], last=EARLY)]
    assert evaluate(rules, context(ticket={"language": "en"}, agents=agents)).assignee_id == "adam"


def test_no_eligible_agent_keeps_the_team_without_assignee_and_says_why() -> None:
    rules = [rule("rr", [{"type": "assign_round_robin", "value": "marketplace"}])]
    agents = [
        agent("claudia", ["de"], on_shift=False),
        agent("francois", ["fr"]),
        agent("other-team", ["de"], teams=("b2b",)),
    ]
    outcome = evaluate(rules, context(ticket={"language": "de", "assignee_id": "someone"}, agents=agents))
    assert outcome.team_id == "marketplace"
    assert outcome.assignee_id is None
    assert outcome.no_eligible_agent is True
    assert outcome.assignment_reason == (
        "no German speakers on shift in team marketplace (2 in team, 1 off shift, "
        "1 on shift without German); left unassigned in the team"
    )


def test_round_robin_without_a_team_value_uses_the_team_chosen_so_far() -> None:
    rules = [rule("team", [{"type": "assign_team", "value": "b2b"}, {"type": "assign_round_robin"}])]
    agents = [agent("ben", ["en"], teams=("b2b",)), agent("mia", ["en"])]
    outcome = evaluate(rules, context(agents=agents))
    assert (outcome.team_id, outcome.assignee_id) == ("b2b", "ben")
    assert outcome.assignment_reason == "round robin among 1 agents (language unknown) on shift in team b2b"
    no_team = evaluate([rule("rr", [{"type": "assign_round_robin"}])], context(agents=agents))
    assert no_team.assignee_id is None and no_team.no_eligible_agent is True
    assert no_team.assignment_reason == "rule rr asked for assign_round_robin but no team is set; left unassigned"


def test_assign_agent_and_moving_team_clears_the_previous_assignee() -> None:
    direct = evaluate([rule("vip", [{"type": "assign_agent", "value": "lead-1"}])], context())
    assert direct.assignee_id == "lead-1"
    assert direct.assignment_reason == "assigned to agent lead-1 by rule vip"
    moved = evaluate(
        [rule("move", [{"type": "assign_team", "value": "b2b"}])],
        context(ticket={"team_id": "general", "assignee_id": "anna"}),
    )
    assert (moved.team_id, moved.assignee_id) == ("b2b", None)
    same = evaluate(
        [rule("same", [{"type": "assign_team", "value": "general"}])],
        context(ticket={"team_id": "general", "assignee_id": "anna"}),
    )
    assert same.assignee_id == "anna"


# --- spam and macros ------------------------------------------------------------------------------------


def test_spam_closes_stops_and_cancels_macros_and_assignment() -> None:
    rules = [
        rule(
            "welcome",
            [{"type": "send_macro", "value": "auto-ack"}, {"type": "assign_agent", "value": "anna"}],
            position=1,
        ),
        rule(
            "spam",
            [{"type": "close_as_spam"}, {"type": "add_tags", "value": ["spam"]}],
            [{"field": "body", "op": "contains_any", "value": ["crypto giveaway", "viagra"]}],
            position=2,
        ),
        rule("after", [{"type": "send_macro", "value": "never"}], position=3),
    ]
    outcome = evaluate(rules, context(body="Huge CRYPTO   giveaway for you"))
    assert outcome.spam is True
    assert outcome.macro_ids == []
    assert outcome.assignee_id is None
    assert outcome.tags == ["spam"]
    assert outcome.stopped_by == "spam"
    assert outcome.assignment_reason == "closed as spam: not assigned, no macro sent"
    legit = evaluate(rules, context(body="Where is my order?"))
    assert (legit.spam, legit.macro_ids, legit.assignee_id) == (False, ["auto-ack", "never"], "anna")


# --- validation -----------------------------------------------------------------------------------------


def test_unknown_field_is_rejected_with_the_known_fields() -> None:
    with pytest.raises(ValidationError, match="unknown field 'colour'; known fields: channel, store_id"):
        Condition(field="colour", op="eq", value="red")


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"field": "channel", "op": "gt", "value": "mirakl"},
            "field 'channel' does not support operator 'gt'; use one of: eq, ne, in, not_in",
        ),
        (
            {"field": "order_total", "op": "contains_any", "value": ["1"]},
            "field 'order_total' does not support operator 'contains_any'",
        ),
        ({"field": "channel", "op": "eq", "value": "myspace"}, "'myspace' is not one of: mirakl, amazon"),
        ({"field": "order_total", "op": "gt", "value": "lots"}, "'lots' is not a number"),
        ({"field": "order_total", "op": "gt", "value": True}, "true is not a number"),
        ({"field": "time_of_day", "op": "gte", "value": "25:00"}, "is not a time of day as HH:MM"),
        ({"field": "weekday", "op": "eq", "value": "someday"}, "'someday' is not a weekday"),
        ({"field": "language", "op": "in", "value": "de"}, "needs a non-empty list of values, got 'de'"),
        ({"field": "language", "op": "eq", "value": ["de"]}, "needs a single value, got the list ['de']"),
        ({"field": "intent", "op": "eq"}, "field 'intent' with operator 'eq': needs a value"),
        ({"field": "body", "op": "matches", "value": "(unclosed"}, "regex does not compile: missing )"),
        ({"field": "body", "op": "matches", "value": "(a+)+$"}, "nested repetition"),
        (
            {"field": "body", "op": "matches", "value": "a" * (MAX_REGEX_LENGTH + 1)},
            f"regex is {MAX_REGEX_LENGTH + 1} characters long; the limit is {MAX_REGEX_LENGTH}",
        ),
        ({"field": "body", "op": "sounds_like", "value": "x"}, "unknown operator 'sounds_like'"),
        ({"field": "order_currency", "op": "eq", "value": "euro"}, "'euro' is not a currency code"),
    ],
)
def test_invalid_conditions_are_rejected_with_clear_messages(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Condition.model_validate(condition)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ([{"type": "set_priority", "value": "asap"}], "action 'set_priority': 'asap' is not one of: urgent"),
        ([{"type": "add_tags", "value": "vip"}], "action 'add_tags': needs a non-empty list of tags"),
        ([{"type": "stop", "value": True}], "action 'stop': takes no value"),
        ([{"type": "teleport"}], "unknown action 'teleport'"),
        (
            [{"type": "assign_agent", "value": "a"}, {"type": "assign_round_robin", "value": "t"}],
            "a rule may choose the assignee once",
        ),
        (
            [{"type": "set_priority", "value": "low"}, {"type": "set_priority", "value": "high"}],
            "action 'set_priority' appears 2 times",
        ),
        ([], "List should have at least 1 item"),
    ],
)
def test_invalid_actions_are_rejected(actions: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RoutingRule.model_validate({"tenant_id": TENANT, "rule_id": "r", "name": "R", "actions": actions})


def test_validate_rules_reports_every_bad_rule_with_its_index_and_id() -> None:
    raw = [
        SEED_RULES[0],
        {
            "rule_id": "bad-field",
            "name": "x",
            "conditions": [{"field": "colour", "value": "red"}],
            "actions": [{"type": "stop"}],
        },
        {
            "rule_id": "bad-op",
            "name": "x",
            "conditions": [{"field": "intent", "op": "matches", "value": "x"}],
            "actions": [{"type": "stop"}],
        },
        {
            "rule_id": "bad-regex",
            "name": "x",
            "any_of": [[{"field": "subject", "op": "matches", "value": "[a-"}]],
            "actions": [{"type": "stop"}],
            "colour": "blue",
        },
        {"rule_id": "mirakl-cancellations", "name": "dup", "actions": [{"type": "stop"}]},
        "not a rule",
    ]
    with pytest.raises(RulesInvalid) as exc:
        validate_rules(raw, tenant_id=TENANT)
    assert exc.value.status == 422 and exc.value.code == "invalid_rules"
    assert exc.value.message == "5 of 6 rules are not valid"
    errors = {error["index"]: error for error in exc.value.details["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5]
    assert errors[1]["rule_id"] == "bad-field"
    assert errors[1]["messages"][0].startswith("conditions.0.field: unknown field 'colour'")
    assert errors[2]["messages"] == [
        "conditions.0: field 'intent' does not support operator 'matches'; use one of: eq, ne, in, not_in, exists"
    ]
    assert errors[3]["messages"][0].startswith(
        "any_of.0.0: field 'subject' with operator 'matches': regex does not compile"
    )
    assert errors[3]["messages"][1] == "colour: Extra inputs are not permitted"
    assert errors[4]["messages"] == ["rule_id: 'mirakl-cancellations' is also used by rule 0"]
    assert errors[5]["messages"] == ["each rule must be a JSON object, got str"]


def test_validate_rules_fills_the_callers_tenant_refuses_another_and_sorts() -> None:
    rules = validate_rules(list(reversed(SEED_RULES)), tenant_id=TENANT)
    assert [r.rule_id for r in rules] == ["mirakl-cancellations", "catch-all"]
    assert {r.tenant_id for r in rules} == {TENANT}
    with pytest.raises(RulesInvalid) as exc:
        validate_rules([{**SEED_RULES[1], "tenant_id": "t2"}], tenant_id=TENANT)
    assert messages(exc) == ["tenant_id: the rule belongs to another tenant"]


def test_saved_rules_read_back_exactly_as_written() -> None:
    stored = [r.model_dump(mode="json") for r in validate_rules(SEED_RULES, tenant_id=TENANT)]
    assert stored[0]["conditions"][0] == {"field": "channel", "op": "eq", "value": "mirakl"}
    assert validate_rules(stored) == validate_rules(SEED_RULES, tenant_id=TENANT)


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        context(time_zone="Mars/Olympus")


def test_a_long_body_is_scanned_only_up_to_the_cap() -> None:
    rules = [
        rule(
            "tail",
            [{"type": "add_tags", "value": ["tail"]}],
            [{"field": "body", "op": "contains_any", "value": ["needle"]}],
        )
    ]
    assert evaluate(rules, context(body="x" * 30_000 + " needle")).tags == []
    assert evaluate(rules, context(body="needle " + "x" * 30_000)).tags == ["tail"]
