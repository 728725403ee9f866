"""Reports: facts from ticket and reply changes, merged increments, report rows, backlog, CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from helpdesk.core.models import (
    Automation,
    Channel,
    DeliveryStatus,
    Intent,
    Message,
    MessageDirection,
    Ticket,
    TicketStatus,
)
from helpdesk.replies import agent_replies
from helpdesk.reports.aggregates import (
    BUCKETS_SECONDS,
    COUNTERS,
    DIMENSIONS,
    NOT_A_RESPONSE,
    DailyStats,
    Increment,
    ReportQuery,
    ReportRow,
    backlog_series,
    bucket_index,
    build_report,
    dimension_values,
    merge,
    new_breach,
    percentile,
    reply_increments,
    ticket_increments,
    to_csv,
)
from tests.unit.builders import make_ticket

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
D0 = date(2024, 3, 1)
ROME = "Europe/Rome"

Cells = dict[tuple[date, str, str], dict[str, int]]


def cells(increments: list[Increment]) -> Cells:
    found: Cells = {}
    for increment in increments:
        key = (increment.day, increment.dimension, increment.value)
        assert key not in found, "one increment per key per change"
        assert increment.tenant_id == "t1"
        found[key] = increment.counters
    return found


def ticket(**overrides: Any) -> Ticket:
    return make_ticket(**{"first_response_due_at": T0 + timedelta(hours=1), **overrides})


def changed(old: Ticket, **changes: Any) -> Ticket:
    return old.model_copy(update={"updated_at": T0 + timedelta(hours=1), **changes})


# --- ticket_increments ---------------------------------------------------------------------------


def test_a_new_ticket_counts_created_and_opened_under_every_dimension() -> None:
    found = cells(ticket_increments(None, ticket(), "UTC"))

    expected = {
        "all": "all",
        "policy": "none",
        "store": "s1",
        "channel": "woocommerce",
        "team": "none",
        "agent": "unassigned",
        "intent": "unknown",
        "language": "unknown",
    }
    assert dimension_values(ticket()) == expected
    assert found == {(D0, d, v): {"created": 1, "opened": 1} for d, v in expected.items()}


def test_days_are_the_tenants_days_across_midnight() -> None:
    late = ticket(
        created_at=datetime(2024, 3, 1, 23, 30, tzinfo=UTC), updated_at=datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    )

    in_utc = {i.day for i in ticket_increments(None, late, "UTC")}
    in_rome = {i.day for i in ticket_increments(None, late, ROME)}  # 00:30 on the 2nd in Rome (UTC+1)

    assert in_utc == {date(2024, 3, 1)}
    assert in_rome == {date(2024, 3, 2)}


def test_intake_setting_intent_and_team_moves_the_creation_and_counts_wismo() -> None:
    created = ticket()
    routed = changed(created, intent=Intent.WISMO, team_id="care")

    found = cells(ticket_increments(created, routed, ROME))

    assert found[(D0, "all", "all")] == {"created_wismo": 1}
    assert found[(D0, "intent", "unknown")] == {"created": -1, "closed": 1}
    assert found[(D0, "intent", "wismo")] == {"created": 1, "created_wismo": 1, "opened": 1}
    assert found[(D0, "team", "none")] == {"created": -1, "closed": 1}
    assert found[(D0, "team", "care")] == {"created": 1, "created_wismo": 1, "opened": 1}
    assert found[(D0, "store", "s1")] == {"created_wismo": 1}
    assert (D0, "agent", "unassigned") in found and len(found) == 2 + 2 + 6

    # An agent corrects the intent: the ticket is no longer counted as WISMO on its creation day.
    corrected = changed(routed, intent=Intent.RETURN_REFUND, updated_at=T0 + timedelta(days=2))
    later = cells(ticket_increments(routed, corrected, ROME))
    assert later[(D0, "all", "all")] == {"created_wismo": -1}
    assert later[(D0, "intent", "wismo")] == {"created": -1, "created_wismo": -1}
    assert later[(D0, "intent", "return_refund")] == {"created": 1}
    assert later[(date(2024, 3, 3), "intent", "wismo")] == {"closed": 1}  # the backlog moves on the change day
    assert later[(date(2024, 3, 3), "intent", "return_refund")] == {"opened": 1}


def test_reassignment_in_the_queue_moves_backlog_and_creation_between_agents_only() -> None:
    before = ticket(assignee_id="a1", status=TicketStatus.OPEN)
    after = changed(before, assignee_id="a2", updated_at=T0 + timedelta(days=1))

    found = cells(ticket_increments(before, after, "UTC"))

    assert found == {
        (D0, "agent", "a1"): {"created": -1},
        (D0, "agent", "a2"): {"created": 1},
        (date(2024, 3, 2), "agent", "a1"): {"closed": 1},
        (date(2024, 3, 2), "agent", "a2"): {"opened": 1},
    }


def test_first_response_met_lands_in_its_bucket() -> None:
    before = ticket(status=TicketStatus.OPEN)
    after = changed(before, first_responded_at=T0 + timedelta(minutes=4), status=TicketStatus.WAITING_ON_CUSTOMER)

    found = cells(ticket_increments(before, after, "UTC"))

    assert found[(D0, "all", "all")] == {"first_responses": 1, "first_met": 1, "frt_b1": 1, "frt_sum": 240, "closed": 1}
    assert bucket_index(240) == 1 and BUCKETS_SECONDS[0] < 240 <= BUCKETS_SECONDS[1]


def test_first_response_missed_lands_on_its_day_and_is_counted_once() -> None:
    before = ticket(status=TicketStatus.OPEN)
    answered_at = T0 + timedelta(hours=25)  # 90,000 s: 24 h < t <= 48 h
    after = changed(before, first_responded_at=answered_at, updated_at=answered_at)

    found = cells(ticket_increments(before, after, "UTC"))
    again = ticket_increments(after, changed(after, tags=["vip"], updated_at=answered_at), "UTC")

    # missed: first_met adds 0, so it is not written at all
    assert found[(date(2024, 3, 2), "store", "s1")] == {"first_responses": 1, "frt_b10": 1, "frt_sum": 90_000}
    assert again == []


def test_a_first_response_with_no_due_time_is_met() -> None:
    before = ticket(first_response_due_at=None)
    after = changed(before, first_responded_at=T0 + timedelta(days=3))

    found = cells(ticket_increments(before, after, "UTC"))

    assert found[(date(2024, 3, 4), "all", "all")]["first_met"] == 1


def test_resolution_counts_time_from_creation_and_leaves_the_backlog() -> None:
    before = ticket(status=TicketStatus.OPEN)
    resolved = changed(before, status=TicketStatus.RESOLVED, updated_at=T0 + timedelta(hours=3))  # 10,800 s

    found = cells(ticket_increments(before, resolved, "UTC"))
    closed_later = ticket_increments(resolved, changed(resolved, status=TicketStatus.CLOSED), "UTC")

    assert found[(D0, "all", "all")] == {"resolved": 1, "res_b6": 1, "res_sum": 10_800, "closed": 1}
    assert closed_later == []  # resolved → closed is not a second resolution


def test_resolving_a_ticket_waiting_on_the_customer_is_not_a_backlog_change() -> None:
    before = ticket(status=TicketStatus.WAITING_ON_CUSTOMER)
    resolved = changed(before, status=TicketStatus.RESOLVED)

    found = cells(ticket_increments(before, resolved, "UTC"))

    assert found[(D0, "all", "all")] == {"resolved": 1, "res_b4": 1, "res_sum": 3600}


def test_a_reopened_ticket_opens_again_and_resolves_again() -> None:
    resolved = ticket(status=TicketStatus.RESOLVED)
    reopened = changed(resolved, status=TicketStatus.OPEN, updated_at=T0 + timedelta(days=1))
    resolved_again = changed(reopened, status=TicketStatus.RESOLVED, updated_at=T0 + timedelta(days=2))

    first = cells(ticket_increments(resolved, reopened, "UTC"))
    second = cells(ticket_increments(reopened, resolved_again, "UTC"))

    assert first[(date(2024, 3, 2), "all", "all")] == {"opened": 1}
    assert second[(date(2024, 3, 3), "all", "all")] == {"resolved": 1, "res_b10": 1, "res_sum": 172_800, "closed": 1}


def test_a_merged_ticket_is_closed_not_resolved() -> None:
    before = ticket(status=TicketStatus.OPEN)
    merged = changed(before, status=TicketStatus.CLOSED, merged_into="01HQ0000000000000000000099")

    found = cells(ticket_increments(before, merged, "UTC"))

    assert all(counters == {"closed": 1} for counters in found.values())
    assert len(found) == len(DIMENSIONS)


def test_a_breach_counts_on_its_day_and_makes_a_breaches_list_line() -> None:
    before = ticket(status=TicketStatus.OPEN, sla_policy_id="fast", intent=Intent.WISMO)
    breached_at = datetime(2024, 3, 1, 23, 10, tzinfo=UTC)  # the 2nd in Rome
    after = changed(before, sla_breached_at=breached_at, updated_at=breached_at)

    found = cells(ticket_increments(before, after, ROME))
    line = new_breach(before, after)

    assert found[(date(2024, 3, 2), "policy", "fast")] == {"breaches": 1}
    assert line is not None
    assert (line.ticket_id, line.policy_id, line.intent, line.due_at, line.breached_at) == (
        before.ticket_id,
        "fast",
        Intent.WISMO,
        T0 + timedelta(hours=1),
        breached_at,
    )
    assert ticket_increments(after, changed(after, tags=["x"]), ROME) == []
    assert new_breach(after, changed(after, tags=["x"])) is None


def test_a_breach_carried_over_by_a_merge_is_not_counted_again_but_a_later_own_breach_is() -> None:
    source_breach = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    target = ticket(status=TicketStatus.WAITING_ON_CUSTOMER)
    merged = changed(
        target,
        status=TicketStatus.OPEN,
        sla_breached_at=source_breach,
        sla_breach_inherited_at=source_breach,
        updated_at=T0 + timedelta(hours=2),
    )

    assert not any("breaches" in counters for counters in cells(ticket_increments(target, merged, ROME)).values())
    assert new_breach(target, merged) is None

    answered = changed(merged, sla_breached_at=None, updated_at=T0 + timedelta(hours=3))
    own_breach = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
    breached = changed(answered, sla_breached_at=own_breach, updated_at=own_breach)
    assert cells(ticket_increments(answered, breached, ROME))[(date(2024, 3, 2), "all", "all")] == {"breaches": 1}
    assert new_breach(answered, breached) is not None


def test_a_rating_counts_under_the_rated_agent_and_a_changed_rating_replaces_it() -> None:
    before = ticket(status=TicketStatus.RESOLVED, assignee_id="a1")
    rated_at = T0 + timedelta(days=1)
    rated = changed(before, csat_score=5, csat_at=rated_at, csat_agent_id="a2", updated_at=rated_at)
    rerated = changed(rated, csat_score=2, updated_at=rated_at + timedelta(minutes=5))

    first = cells(ticket_increments(before, rated, "UTC"))
    second = cells(ticket_increments(rated, rerated, "UTC"))

    day = date(2024, 3, 2)
    assert first[(day, "agent", "a2")] == {"csat_count": 1, "csat_sum": 5, "csat_positive": 1}
    assert (day, "agent", "a1") not in first
    assert first[(day, "all", "all")] == {"csat_count": 1, "csat_sum": 5, "csat_positive": 1}
    assert second[(day, "all", "all")] == {"csat_sum": -3, "csat_positive": -1}


def test_a_deleted_ticket_leaves_the_backlog_and_stays_created() -> None:
    old = ticket(status=TicketStatus.PENDING)

    found = cells(ticket_increments(old, None, "UTC", at=T0 + timedelta(days=1)))

    assert found == {(date(2024, 3, 2), d, v): {"closed": 1} for d, v in dimension_values(old).items()}
    assert ticket_increments(None, None, "UTC") == []


def test_an_unknown_time_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        ticket_increments(None, ticket(), "Mars/Base")


# --- reply_increments ----------------------------------------------------------------------------


def reply(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "tenant_id": "t1",
        "ticket_id": "01HQ0000000000000000000000",
        "message_id": "m2",
        "direction": MessageDirection.OUTBOUND,
        "channel": Channel.WOOCOMMERCE,
        "store_id": "s1",
        "author": "Ann",
        "author_id": "a1",
        "body": "It ships today",
        "created_at": T0 + timedelta(hours=5),
        "delivery_status": DeliveryStatus.SENT,
        "sent_at": T0 + timedelta(hours=5),
        "answers_since": T0 + timedelta(hours=4, minutes=30),
    }
    fields.update(overrides)
    return Message(**fields)


ANSWERED_BEFORE = ticket(
    status=TicketStatus.OPEN,
    first_responded_at=T0 + timedelta(minutes=10),
    next_response_due_at=T0 + timedelta(hours=6),
    assignee_id="a1",
)


def test_a_sent_reply_after_the_first_response_is_a_next_response() -> None:
    queued = reply(delivery_status=DeliveryStatus.SENDING, sent_at=None)

    found = cells(reply_increments(queued, reply(), ANSWERED_BEFORE, "UTC"))

    assert found[(D0, "agent", "a1")] == {"next_responses": 1, "next_met": 1, "nrt_b3": 1, "nrt_sum": 1800}
    assert len(found) == len(DIMENSIONS)


def test_a_next_response_after_its_deadline_is_missed_and_none_is_met() -> None:
    """The deadline is the one the dispatcher recorded on the reply (the ticket's is re-armed by the send)."""
    late = reply(sent_at=T0 + timedelta(hours=7), answer_due_at=T0 + timedelta(hours=6))
    no_deadline = late.model_copy(update={"answer_due_at": None})

    missed = cells(reply_increments(None, late, ANSWERED_BEFORE, "UTC"))
    met = cells(reply_increments(None, no_deadline, ANSWERED_BEFORE, "UTC"))

    assert missed[(D0, "all", "all")] == {"next_responses": 1, "nrt_b6": 1, "nrt_sum": 9000}
    assert met[(D0, "all", "all")]["next_met"] == 1


@pytest.mark.parametrize("automation", [Automation.ACKNOWLEDGEMENT, Automation.NUDGE, Automation.SURVEY])
def test_acknowledgements_nudges_and_surveys_are_not_responses(automation: Automation) -> None:
    assert reply_increments(None, reply(automation=automation), ANSWERED_BEFORE, "UTC") == []


def test_an_automatic_answer_is_a_response() -> None:
    assert reply_increments(None, reply(automation=Automation.ANSWER), ANSWERED_BEFORE, "UTC") != []


def test_the_first_response_is_not_counted_again_as_a_next_response() -> None:
    never_answered = ticket(status=TicketStatus.OPEN)  # the old image of the ticket sent with the reply
    answered_by_it = never_answered.model_copy(update={"first_responded_at": reply().sent_at})

    assert reply_increments(None, reply(), never_answered, "UTC") == []
    assert reply_increments(None, reply(), answered_by_it, "UTC") == []


def test_replies_not_newly_sent_or_without_a_waiting_start_count_nothing() -> None:
    assert reply_increments(reply(), reply(delivery_attempts=2), ANSWERED_BEFORE, "UTC") == []  # sent before
    assert reply_increments(None, reply(answers_since=None), ANSWERED_BEFORE, "UTC") == []
    assert (
        reply_increments(None, reply(delivery_status=DeliveryStatus.FAILED, sent_at=None), ANSWERED_BEFORE, "UTC") == []
    )
    note = reply(direction=MessageDirection.NOTE, delivery_status=None)
    assert reply_increments(None, note, ANSWERED_BEFORE, "UTC") == []
    merged = ANSWERED_BEFORE.model_copy(update={"merged_into": "01HQ0000000000000000000099"})
    assert reply_increments(None, reply(), merged, "UTC") == []


def test_not_a_response_is_the_same_set_the_dispatcher_uses() -> None:
    assert NOT_A_RESPONSE == agent_replies.NOT_A_RESPONSE


# --- merge ----------------------------------------------------------------------------------------


def inc(day: date, value: str, **counters: int) -> Increment:
    return Increment(tenant_id="t1", day=day, dimension="store", value=value, counters=counters)


def test_merge_sums_per_key_and_drops_what_cancels_out() -> None:
    merged = merge(
        [
            inc(D0, "s1", created=1, opened=1),
            inc(D0, "s2", created=1),
            inc(D0, "s1", created=1, closed=1),
            inc(date(2024, 3, 2), "s1", opened=1),
            inc(date(2024, 3, 2), "s1", opened=-1),  # a move there and back in one batch
            inc(D0, "s2", created=-1, breaches=1),
        ]
    )

    assert merged == [inc(D0, "s1", created=2, opened=1, closed=1), inc(D0, "s2", breaches=1)]


def test_merged_ticket_changes_add_up_to_the_daily_truth() -> None:
    created = ticket()
    routed = changed(created, team_id="care", status=TicketStatus.OPEN)
    answered = changed(routed, first_responded_at=T0 + timedelta(minutes=30), status=TicketStatus.WAITING_ON_CUSTOMER)
    resolved = changed(answered, status=TicketStatus.RESOLVED, updated_at=T0 + timedelta(hours=2))

    batch = [
        *ticket_increments(None, created, "UTC"),
        *ticket_increments(created, routed, "UTC"),
        *ticket_increments(routed, answered, "UTC"),
        *ticket_increments(answered, resolved, "UTC"),
    ]
    found = cells(merge(batch))

    assert found[(D0, "team", "care")] == {
        "created": 1,
        "opened": 1,
        "closed": 1,
        "first_responses": 1,
        "first_met": 1,
        "frt_b3": 1,
        "frt_sum": 1800,
        "resolved": 1,
        "res_b5": 1,
        "res_sum": 7200,
    }
    assert found[(D0, "team", "none")] == {"opened": 1, "closed": 1}  # created there, then moved on


# --- reports --------------------------------------------------------------------------------------


def test_percentiles_interpolate_inside_the_bucket() -> None:
    counts = [10, 10] + [0] * (len(BUCKETS_SECONDS) - 2)

    assert percentile(counts, 0.5) == 60.0  # rank 10: the end of bucket 0
    assert percentile(counts, 0.9) == 252.0  # rank 18: 8 of 10 into (60, 300]
    assert percentile([0] * len(BUCKETS_SECONDS), 0.5) is None
    assert percentile([0] * (len(BUCKETS_SECONDS) - 1) + [3], 0.9) == 7 * 86400  # beyond 7 days: a lower bound


def stats(day: date, value: str = "all", **counters: int) -> DailyStats:
    return DailyStats(day=day, value=value, counters=counters)


def test_daily_rows_with_times_compliance_wismo_and_csat() -> None:
    query = ReportQuery(start=D0, end=date(2024, 3, 2))
    daily = [
        stats(
            D0,
            created=4,
            created_wismo=1,
            first_responses=3,
            first_met=2,
            next_responses=1,
            next_met=1,
            frt_b0=2,
            frt_b1=1,
            frt_sum=300,
            breaches=1,
            csat_count=3,
            csat_sum=11,
            csat_positive=2,
            opened=4,
            closed=1,
            resolved=1,
            res_b4=1,
            res_sum=3000,
        )
    ]

    rows = build_report(query, daily)

    assert [r.period for r in rows] == ["2024-03-01", "2024-03-02"]
    first = rows[0]
    # frt histogram: 2 in (0, 60], 1 in (60, 300]: median rank 1.5 → 45 s; p90 rank 2.7 → 60 + 240 × 0.7
    assert (first.frt_median, first.frt_p90, first.frt_mean) == (45, 228, 100)
    assert (first.resolution_median, first.resolution_p90, first.resolution_mean) == (2700, 3420, 3000)
    assert (first.nrt_median, first.nrt_mean) == (None, None)
    assert first.sla_compliance == 75.0
    assert first.wismo_share == 25.0
    assert (first.csat_count, first.csat_average, first.csat_positive) == (3, 3.67, 66.7)
    assert (first.created, first.resolved, first.breaches, first.backlog_change) == (4, 1, 1, 3)
    assert rows[1] == ReportRow(period="2024-03-02", dimension="all", value="all")  # a day with nothing


def test_weeks_months_and_total_merge_histograms() -> None:
    daily = [
        stats(date(2024, 2, 26), frt_b0=10, created=1),  # Monday of ISO week 9
        stats(date(2024, 3, 1), frt_b1=10, created=1),  # Friday, week 9, another month
        stats(date(2024, 3, 4), created=1),  # Monday, week 10
        stats(date(2024, 1, 1), created=50),  # outside the range
    ]
    start, end = date(2024, 2, 26), date(2024, 3, 4)

    weeks = build_report(ReportQuery(start=start, end=end, period="week"), daily)
    months = build_report(ReportQuery(start=start, end=end, period="month"), daily)
    total = build_report(ReportQuery(start=start, end=end, period="total"), daily)

    assert [(r.period, r.created, r.frt_median, r.frt_p90) for r in weeks] == [
        ("2024-W09", 2, 60, 252),
        ("2024-W10", 1, None, None),
    ]
    assert [(r.period, r.created, r.frt_median) for r in months] == [("2024-02", 1, 30), ("2024-03", 2, 180)]
    assert [(r.period, r.created, r.frt_p90) for r in total] == [("2024-02-26/2024-03-04", 3, 252)]


def test_iso_weeks_use_the_iso_year() -> None:
    rows = build_report(
        ReportQuery(start=date(2024, 12, 30), end=date(2024, 12, 31), period="week"),
        [stats(date(2024, 12, 30), created=1)],
    )

    assert [r.period for r in rows] == ["2025-W01"]


def test_group_by_store_has_a_row_per_period_and_store_with_data() -> None:
    query = ReportQuery(start=D0, end=date(2024, 3, 3), period="day", group_by="store")
    daily = [
        stats(date(2024, 3, 2), "shop-b", first_responses=4, first_met=1, frt_b2=4),
        stats(D0, "shop-b", created=2),
        stats(D0, "shop-a", created=1, created_wismo=1),
    ]

    rows = build_report(query, daily)

    assert [(r.period, r.value) for r in rows] == [
        ("2024-03-01", "shop-a"),
        ("2024-03-01", "shop-b"),
        ("2024-03-02", "shop-b"),
    ]
    assert rows[0].dimension == "store" and rows[0].wismo_share == 100.0 and rows[1].wismo_share == 0.0
    # 4 in (300, 900]: median rank 2 → 300 + 600 × 0.5; p90 rank 3.6 → 300 + 600 × 0.9
    assert (rows[2].frt_median, rows[2].frt_p90, rows[2].sla_compliance) == (600, 840, 25.0)
    assert rows[2].wismo_share is None  # no ticket created that day


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": "2024-03-02", "end": "2024-03-01"}, "end (2024-03-01) is before start (2024-03-02)"),
        ({"start": "2024-01-01", "end": "2025-02-05"}, "the range is 401 days long: at most 400"),
        ({"start": "2024-01-01", "end": "2024-01-02", "group_by": "colour"}, "group_by"),
        ({"start": "2024-01-01", "end": "2024-01-02", "period": "year"}, "period"),
    ],
)
def test_report_query_validation_errors_are_value_errors(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ReportQuery.model_validate(fields)


def test_a_400_day_range_is_accepted() -> None:
    query = ReportQuery(start=date(2024, 1, 1), end=date(2024, 1, 1) + timedelta(days=400), group_by="agent")

    assert (query.period, query.group_by) == ("day", "agent")


def test_backlog_series_counts_back_from_the_open_count_now() -> None:
    today = date(2024, 3, 10)
    net = {date(2024, 3, 1): 5, date(2024, 3, 2): -2, date(2024, 3, 3): 1, date(2024, 3, 8): 3, today: -1}

    series = backlog_series(12, net, date(2024, 3, 1), date(2024, 3, 3))

    # end of the 3rd: 12 now, minus what changed after it (+3 on the 8th, −1 today) = 10
    assert series == [(date(2024, 3, 1), 11), (date(2024, 3, 2), 9), (date(2024, 3, 3), 10)]
    assert backlog_series(4, {}, today, today) == [(today, 4)]
    with pytest.raises(ValueError, match="before start"):
        backlog_series(0, {}, today, date(2024, 3, 1))


def test_csv_has_a_header_plain_numbers_and_empty_cells_for_no_data() -> None:
    rows = [
        ReportRow(
            period="2024-W09",
            dimension="agent",
            value="ann",
            created=3,
            frt_median=45,
            sla_compliance=75.0,
            csat_average=4.5,
            backlog_change=-2,
        ),
        ReportRow(period="2024-W09", dimension="agent", value="=HYPERLINK(1)"),
    ]

    lines = to_csv(rows).split("\r\n")

    assert lines[0] == ",".join(ReportRow.model_fields)
    assert lines[0].startswith("period,dimension,value,created,resolved,first_responses,next_responses,frt_median")
    header = lines[0].split(",")
    first = dict(zip(header, lines[1].split(","), strict=True))
    assert (first["value"], first["created"], first["frt_median"], first["frt_p90"]) == ("ann", "3", "45", "")
    assert (first["sla_compliance"], first["csat_average"], first["backlog_change"]) == ("75.0", "4.5", "-2")
    assert lines[2].split(",")[2] == "'=HYPERLINK(1)"  # a formula is neutralised
    assert lines[3] == ""  # the last line ends with CRLF
    assert to_csv([]) == lines[0] + "\r\n"


def test_every_counter_the_facts_produce_is_a_known_counter() -> None:
    before = ticket(status=TicketStatus.OPEN)
    after = changed(
        before,
        status=TicketStatus.RESOLVED,
        first_responded_at=T0 + timedelta(minutes=1),
        sla_breached_at=T0 + timedelta(minutes=50),
        intent=Intent.WISMO,
        csat_score=4,
        csat_at=T0,
    )
    produced = {
        name
        for i in ticket_increments(before, after, "UTC") + reply_increments(None, reply(), ANSWERED_BEFORE, "UTC")
        for name in i.counters
    }

    assert produced <= set(COUNTERS)
    assert len(COUNTERS) == 16 + 3 * len(BUCKETS_SECONDS)
