"""sla_policy.py: which policy applies to a ticket, and its deadlines and warning points."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from helpdesk.core.models import Channel, Intent, Priority, SlaPolicy, SlaTarget
from helpdesk.sla.calendars import BusinessCalendar, resume_due
from helpdesk.sla.policies import DueTimes, SlaPolicySpec, compute_due, select_policy

ROME = ZoneInfo("Europe/Rome")
WORKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def office(*periods: tuple[str, str], holidays: list[date] | None = None) -> BusinessCalendar:
    spec = [{"start": start, "end": end} for start, end in periods or [("09:00", "18:00")]]
    return BusinessCalendar(time_zone="Europe/Rome", periods=dict.fromkeys(WORKDAYS, spec), holidays=holidays or [])


def policy(policy_id: str, first: int = 8 * 60, **overrides: Any) -> SlaPolicySpec:
    fields: dict[str, Any] = {
        "policy_id": policy_id,
        "name": policy_id.replace("-", " "),
        "first_response_minutes": first,
        "next_response_minutes": first,
    }
    fields.update(overrides)
    return SlaPolicySpec(**fields)


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


def pick(policies: list[SlaPolicySpec], **ticket: Any) -> str | None:
    fields: dict[str, Any] = {
        "intent": None,
        "channel": Channel.SHOPIFY,
        "store_id": "shop-1",
        "priority": Priority.NORMAL,
    }
    fields.update(ticket)
    chosen = select_policy(policies, **fields)
    return chosen.policy_id if chosen else None


# 8 business hours in the office calendar, but a marketplace answers within 24 calendar hours.
MARKETPLACE = policy("amazon-8bh", 8 * 60, calendar=office(), marketplace_deadline_hours=24)
BUSINESS_ONLY = policy("office-8bh", 8 * 60, calendar=office())


# --- compute_due --------------------------------------------------------------------------------


def test_weekday_morning_arrival_is_due_within_the_day_by_business_hours() -> None:
    due = compute_due(MARKETPLACE, received_at=rome(2024, 3, 4, 9, 0), kind="first")
    assert due == DueTimes(due_at=rome(2024, 3, 4, 17, 0), warn_at=rome(2024, 3, 4, 15, 24), source="policy")


def test_friday_evening_arrival_is_capped_by_the_24_hour_marketplace_deadline() -> None:
    received = rome(2024, 3, 1, 17, 0)  # Friday
    assert compute_due(BUSINESS_ONLY, received_at=received, kind="first").due_at == rome(2024, 3, 4, 16, 0)
    capped = compute_due(MARKETPLACE, received_at=received, kind="first")
    assert capped.due_at == rome(2024, 3, 2, 17, 0)  # Saturday, business hours or not
    assert capped.source == "marketplace"
    # The warning follows the marketplace's clock: 80 % of 24 h = 19 h 12 after arrival.
    assert capped.warn_at == rome(2024, 3, 2, 12, 12)


def test_weekend_arrival_counts_from_monday_opening() -> None:
    due = compute_due(BUSINESS_ONLY, received_at=rome(2024, 3, 2, 11, 0), kind="first")
    assert due.due_at == rome(2024, 3, 4, 17, 0)
    assert due.warn_at == rome(2024, 3, 4, 15, 24)
    capped = compute_due(MARKETPLACE, received_at=rome(2024, 3, 2, 11, 0), kind="first")
    assert capped.due_at == rome(2024, 3, 3, 11, 0)
    assert capped.source == "marketplace"


def test_holiday_is_skipped() -> None:
    closed_monday = policy("office", 8 * 60, calendar=office(holidays=[date(2024, 3, 4)]))
    due = compute_due(closed_monday, received_at=rome(2024, 3, 1, 17, 0), kind="first")
    assert due.due_at == rome(2024, 3, 5, 16, 0)


def test_lunch_break_is_not_counted() -> None:
    lunch = policy("lunch", 2 * 60, calendar=office(("09:00", "12:30"), ("13:30", "18:00")))
    due = compute_due(lunch, received_at=rome(2024, 3, 4, 11, 30), kind="first")
    assert due.due_at == rome(2024, 3, 4, 14, 30)
    assert due.warn_at == rome(2024, 3, 4, 14, 6)  # 96 min: 60 before lunch, 36 after


def test_dst_weekend_and_easter_monday() -> None:
    easter = policy("office", 8 * 60, calendar=office(holidays=[date(2024, 4, 1)]))
    due = compute_due(easter, received_at=rome(2024, 3, 29, 17, 0), kind="first")
    assert due.due_at == datetime(2024, 4, 2, 14, 0, tzinfo=UTC)  # 16:00 CEST
    # A 24-hour marketplace cap across the DST night is 24 elapsed hours: 18:00 CEST, not 17:00.
    capped = compute_due(
        easter.model_copy(update={"marketplace_deadline_hours": 24}), received_at=rome(2024, 3, 30, 17, 0), kind="first"
    )
    assert capped.due_at == datetime(2024, 3, 31, 16, 0, tzinfo=UTC)
    assert capped.due_at.astimezone(ROME).hour == 18


def test_next_response_uses_its_own_target() -> None:
    two_targets = policy("p", 8 * 60, next_response_minutes=60, calendar=office())
    received = rome(2024, 3, 4, 17, 30)
    assert compute_due(two_targets, received_at=received, kind="next").due_at == rome(2024, 3, 5, 9, 30)
    assert compute_due(two_targets, received_at=received, kind="first").due_at == rome(2024, 3, 5, 16, 30)


def test_without_a_calendar_targets_are_elapsed_minutes_and_results_are_utc() -> None:
    around_the_clock = policy("chat", 90, warning_ratio=0.5)
    due = compute_due(around_the_clock, received_at=rome(2024, 3, 2, 23, 0), kind="first")
    assert due == DueTimes(due_at=rome(2024, 3, 3, 0, 30), warn_at=rome(2024, 3, 2, 23, 45))
    assert due.due_at.tzinfo is UTC and due.warn_at.tzinfo is UTC


def test_warning_ratio_moves_the_warning_point() -> None:
    early = policy("early", 8 * 60, calendar=office(), warning_ratio=0.25)
    assert compute_due(early, received_at=rome(2024, 3, 4, 9, 0), kind="first").warn_at == rome(2024, 3, 4, 11, 0)


def test_compute_due_refuses_naive_arrival_and_unknown_kind() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_due(BUSINESS_ONLY, received_at=datetime(2024, 3, 4, 9, 0), kind="first")
    with pytest.raises(ValueError, match="kind must be 'first' or 'next'"):
        compute_due(BUSINESS_ONLY, received_at=rome(2024, 3, 4, 9, 0), kind="later")  # type: ignore[arg-type]


# --- pause and resume with a policy's calendar --------------------------------------------------


def test_pause_while_waiting_on_the_customer_pushes_the_due_time() -> None:
    due = compute_due(BUSINESS_ONLY, received_at=rome(2024, 3, 4, 9, 0), kind="first").due_at  # Mon 17:00
    assert BUSINESS_ONLY.calendar is not None
    pushed = resume_due(BUSINESS_ONLY.calendar, due, rome(2024, 3, 4, 16, 0), rome(2024, 3, 5, 10, 0))
    assert pushed == rome(2024, 3, 5, 11, 0)  # 3 business hours paused: Mon 16–18, Tue 9–10


# --- select_policy ------------------------------------------------------------------------------

CATCH_ALL = policy("default", 24 * 60)
AMAZON = policy("amazon", 12 * 60, channels=[Channel.AMAZON])
CANCELLATIONS = policy("cancellations", 60, intents=[Intent.CANCELLATION])
URGENT = policy("urgent", 30, priorities=[Priority.URGENT])
SHOP_2 = policy("shop-2", 4 * 60, store_ids=["shop-2"], channels=[Channel.SHOPIFY])
POLICIES = [CATCH_ALL, AMAZON, CANCELLATIONS, URGENT, SHOP_2]


def test_the_catch_all_applies_when_nothing_narrower_matches() -> None:
    assert pick(POLICIES) == "default"


def test_a_channel_policy_applies_to_its_channel() -> None:
    assert pick(POLICIES, channel=Channel.AMAZON, intent=Intent.WISMO) == "amazon"


def test_a_cancellation_intent_policy_beats_a_channel_only_policy() -> None:
    assert pick(POLICIES, channel=Channel.AMAZON, intent=Intent.CANCELLATION) == "cancellations"


def test_between_equally_specific_policies_the_stricter_wins() -> None:
    # A one-condition intent policy with a looser target does not beat a stricter channel policy.
    invoices = policy("invoices", 48 * 60, intents=[Intent.INVOICE_REQUEST])
    assert pick([CATCH_ALL, AMAZON, invoices], channel=Channel.AMAZON, intent=Intent.INVOICE_REQUEST) == "amazon"
    assert pick([CATCH_ALL, AMAZON, invoices], channel=Channel.EBAY, intent=Intent.INVOICE_REQUEST) == "invoices"


def test_a_store_specific_policy_wins_for_its_store_only() -> None:
    assert pick(POLICIES, store_id="shop-2") == "shop-2"
    assert pick(POLICIES, store_id="shop-3") == "default"
    assert pick(POLICIES, store_id="shop-2", channel=Channel.WOOCOMMERCE) == "default"


def test_more_conditions_beat_a_shorter_target() -> None:
    # shop-2 constrains two dimensions, cancellations one: the store's own policy wins...
    assert pick(POLICIES, store_id="shop-2", intent=Intent.CANCELLATION) == "shop-2"
    # ...so a store keeps cancellations fastest with a cancellation policy scoped to it.
    shop_2_cancellations = policy("shop-2-cancellations", 45, store_ids=["shop-2"], intents=[Intent.CANCELLATION])
    with_scoped = [*POLICIES, shop_2_cancellations]
    assert pick(with_scoped, store_id="shop-2", intent=Intent.CANCELLATION) == "shop-2-cancellations"


def test_priority_policies_match_on_priority() -> None:
    assert pick(POLICIES, priority=Priority.URGENT) == "urgent"
    assert pick(POLICIES, priority=Priority.HIGH) == "default"
    urgent_amazon = policy("urgent-amazon", 120, priorities=[Priority.URGENT], channels=[Channel.AMAZON])
    assert pick([*POLICIES, urgent_amazon], priority=Priority.URGENT, channel=Channel.AMAZON) == "urgent-amazon"


def test_a_ticket_without_an_intent_matches_no_intent_scoped_policy() -> None:
    assert pick([CANCELLATIONS]) is None
    assert pick([CANCELLATIONS], intent=Intent.CANCELLATION) == "cancellations"


def test_a_list_condition_matches_any_of_its_values() -> None:
    marketplaces = policy("marketplaces", 24 * 60, channels=[Channel.AMAZON, Channel.EBAY, Channel.MIRAKL])
    assert pick([marketplaces], channel=Channel.EBAY) == "marketplaces"
    assert pick([marketplaces], channel=Channel.SHOPIFY) is None


def test_no_policy_at_all_is_none() -> None:
    assert pick([]) is None


def test_full_ties_go_to_the_smallest_policy_id_whatever_the_order() -> None:
    twins = [policy(f"twin-{letter}", 60, channels=[Channel.AMAZON]) for letter in "cab"]
    for seed in range(5):
        random.Random(seed).shuffle(twins)
        assert pick(twins, channel=Channel.AMAZON) == "twin-a"


def test_selection_does_not_depend_on_the_stored_order() -> None:
    shuffled = list(POLICIES)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert pick(shuffled, channel=Channel.AMAZON, intent=Intent.CANCELLATION) == "cancellations"


def test_a_foundation_policy_converts_to_a_spec() -> None:
    stored = SlaPolicy(
        tenant_id="t1",
        policy_id="amazon",
        name="Amazon",
        channels=[Channel.AMAZON],
        target=SlaTarget(first_response_minutes=720, next_response_minutes=1440, warning_ratio=0.9),
    )
    spec = SlaPolicySpec.from_policy(stored)
    assert (spec.policy_id, spec.first_response_minutes, spec.next_response_minutes) == ("amazon", 720, 1440)
    assert spec.warning_ratio == 0.9
    assert spec.channels == [Channel.AMAZON]
    assert spec.calendar is None and spec.marketplace_deadline_hours is None
    received = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert compute_due(spec, received_at=received, kind="first").due_at == received + timedelta(minutes=720)


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.2])
def test_warning_ratio_must_be_strictly_between_0_and_1(ratio: float) -> None:
    with pytest.raises(ValidationError, match="warning_ratio") as error:
        policy("p", warning_ratio=ratio)
    assert "greater than 0" in str(error.value) or "less than 1" in str(error.value)


@pytest.mark.parametrize("field", ["first_response_minutes", "next_response_minutes", "marketplace_deadline_hours"])
def test_targets_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        policy("p", **{field: 0})


def test_a_policy_with_a_bad_calendar_is_refused_with_the_calendar_reason() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Europe/Roma'"):
        policy("p", calendar={"time_zone": "Europe/Roma", "periods": {"monday": [{"start": "09:00", "end": "18:00"}]}})
    overlapping = {"monday": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}]}
    with pytest.raises(ValidationError, match="monday: periods 09:00–13:00 and 12:00–18:00 overlap"):
        policy("p", calendar={"time_zone": "Europe/Rome", "periods": overlapping})


def test_policy_ids_follow_the_id_pattern_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="policy_id"):
        policy("has spaces")
    with pytest.raises(ValidationError, match="tenant"):
        policy("p", tenant="t1")
