"""Intake decision, the seed scenario: a German cancellation on a Mirakl marketplace gets the
cancellation tag, the short SLA, a German-speaking agent on shift — and so the top of the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpdesk.core.models import Channel, Intent, Priority
from helpdesk.routing.decision import decide
from helpdesk.routing.rule_schema import RoutingRule
from helpdesk.routing.rules import AgentAvailability
from helpdesk.sla.calendars import BusinessCalendar
from helpdesk.sla.policies import SlaPolicySpec
from tests.unit.builders import TENANT, make_inbound, make_ticket

MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
OFFICE = BusinessCalendar.model_validate(
    {
        "time_zone": "Europe/Berlin",
        "periods": {
            day: [{"start": "09:00", "end": "18:00"}]
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
        },
    }
)
POLICIES = [
    SlaPolicySpec(
        policy_id="standard",
        name="Standard 24h",
        first_response_minutes=8 * 60,
        next_response_minutes=8 * 60,
        calendar=OFFICE,
        marketplace_deadline_hours=24,
    ),
    SlaPolicySpec(
        policy_id="cancellation-2h",
        name="Cancellations",
        first_response_minutes=120,
        next_response_minutes=120,
        intents=[Intent.CANCELLATION],
        calendar=OFFICE,
    ),
]
RULES = [
    RoutingRule.model_validate(
        {
            "tenant_id": TENANT,
            "rule_id": "marketplaces",
            "name": "Marketplace team",
            "position": 1,
            "conditions": [{"field": "channel", "op": "in", "value": ["mirakl", "amazon"]}],
            "actions": [{"type": "assign_team", "value": "marketplaces"}],
        }
    ),
    RoutingRule.model_validate(
        {
            "tenant_id": TENANT,
            "rule_id": "cancel-fast",
            "name": "Cancellations first",
            "position": 2,
            "conditions": [{"field": "intent", "op": "eq", "value": "cancellation"}],
            "actions": [
                {"type": "set_priority", "value": "urgent"},
                {"type": "assign_round_robin", "value": "marketplaces"},
            ],
        }
    ),
]
AGENTS = [
    AgentAvailability(agent_id="claire", languages=["fr", "en"], team_ids=["marketplaces"], on_shift=True),
    AgentAvailability(agent_id="dieter", languages=["de", "en"], team_ids=["marketplaces"], on_shift=False),
    AgentAvailability(
        agent_id="greta",
        languages=["de"],
        team_ids=["marketplaces"],
        on_shift=True,
        last_assigned_at=MONDAY_10 - timedelta(hours=1),
    ),
]


def mirakl_message(body: str, **overrides):
    fields = dict(channel=Channel.MIRAKL, store_id="mirakl-de", language="de", body=body, received_at=MONDAY_10)
    return make_inbound(**{**fields, **overrides})


def test_german_cancellation_on_a_marketplace_gets_tag_short_sla_and_a_german_speaker() -> None:
    inbound = mirakl_message("Guten Tag, bitte stornieren Sie meine Bestellung MP2001-A, ich habe doppelt bestellt.")
    ticket = make_ticket(channel=Channel.MIRAKL, store_id="mirakl-de", language="de")
    decision = decide(
        ticket, inbound, rules=RULES, policies=POLICIES, agents=AGENTS, now=MONDAY_10, time_zone="Europe/Berlin"
    )
    assert decision.intent == Intent.CANCELLATION and decision.intent_evidence
    assert "cancellation" in decision.tags and decision.priority == Priority.URGENT
    assert (decision.team_id, decision.assignee_id) == ("marketplaces", "greta")  # not off-shift, not French
    assert decision.sla_policy_id == "cancellation-2h" and decision.sla_policy_source == "selected"
    assert decision.due is not None and decision.due.due_at == MONDAY_10 + timedelta(hours=2)
    assert decision.fired_rules == ["marketplaces", "cancel-fast"]


def test_the_cancellation_is_due_before_a_wismo_that_arrived_earlier() -> None:
    wismo = decide(
        make_ticket(channel=Channel.MIRAKL, store_id="mirakl-de"),
        mirakl_message(
            "Wo bleibt mein Paket? Die Sendungsverfolgung zeigt nichts.", received_at=MONDAY_10 - timedelta(hours=1)
        ),
        rules=RULES,
        policies=POLICIES,
        agents=AGENTS,
        now=MONDAY_10,
    )
    cancel = decide(
        make_ticket(channel=Channel.MIRAKL, store_id="mirakl-de"),
        mirakl_message("Bitte stornieren Sie die Bestellung."),
        rules=RULES,
        policies=POLICIES,
        agents=AGENTS,
        now=MONDAY_10,
    )
    assert wismo.intent == Intent.WISMO and wismo.sla_policy_id == "standard"
    assert cancel.due is not None and wismo.due is not None and cancel.due.due_at < wismo.due.due_at


def test_a_channel_cancellation_signal_is_a_cancellation_whatever_the_text() -> None:
    inbound = mirakl_message("Order update", cancellation_requested=True, channel=Channel.AMAZON, store_id="amazon-de")
    decision = decide(
        make_ticket(channel=Channel.AMAZON, store_id="amazon-de"),
        inbound,
        rules=RULES,
        policies=POLICIES,
        agents=AGENTS,
        now=MONDAY_10,
    )
    assert decision.intent == Intent.CANCELLATION and decision.sla_policy_id == "cancellation-2h"


def test_an_answered_ticket_gets_a_next_response_due_and_apply_sets_it() -> None:
    ticket = make_ticket(channel=Channel.MIRAKL, store_id="mirakl-de", first_responded_at=MONDAY_10)
    decision = decide(ticket, mirakl_message("Danke, und wann kommt es?"), rules=[], policies=POLICIES, now=MONDAY_10)
    assert decision.due_kind == "next"
    updated = decision.apply_to(ticket)
    assert (
        updated.next_response_due_at == decision.due.due_at
        and updated.first_response_due_at == ticket.first_response_due_at
    )


def test_no_policy_leaves_the_default_target() -> None:
    decision = decide(make_ticket(), make_inbound(body="Hello"), rules=[], policies=[], now=MONDAY_10)
    assert decision.sla_policy_source == "none" and decision.due is None
