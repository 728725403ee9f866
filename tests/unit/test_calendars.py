"""calendars.py: business-hours arithmetic across lunch breaks, weekends, holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from helpdesk.sla.calendars import (
    ALWAYS_OPEN,
    MAX_SPAN_DAYS,
    BusinessCalendar,
    add_business_minutes,
    at_fraction,
    business_minutes_between,
    is_open,
    next_opening,
    resume_due,
)

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")
WORKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
EVERY_DAY = (*WORKDAYS, "saturday", "sunday")

# 2024: March 1 is a Friday. Rome springs forward on Sunday March 31 (Easter; Monday April 1 is a
# public holiday) and falls back on Sunday October 27; New York on Sunday March 10 and November 3.


def calendar(
    *periods: tuple[str, str], days: tuple[str, ...] = WORKDAYS, zone: str = "Europe/Rome", **extra: Any
) -> BusinessCalendar:
    spec = [{"start": start, "end": end} for start, end in periods]
    return BusinessCalendar(time_zone=zone, periods={day: spec for day in days}, **extra)


OFFICE = calendar(("09:00", "18:00"))  # Mon–Fri 9 hours, Rome
LUNCH = calendar(("09:00", "12:30"), ("13:30", "18:00"))  # Mon–Fri 8 hours with a lunch break, Rome


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- add_business_minutes -----------------------------------------------------------------------


def test_minutes_inside_one_period_are_plain_minutes_and_the_result_is_utc() -> None:
    due = add_business_minutes(OFFICE, rome(2024, 3, 4, 10, 15), 90)
    assert due == rome(2024, 3, 4, 11, 45)
    assert due.tzinfo is UTC


def test_a_deadline_that_uses_up_the_day_falls_at_closing_not_next_morning() -> None:
    assert add_business_minutes(OFFICE, rome(2024, 3, 4, 9, 0), 9 * 60) == rome(2024, 3, 4, 18, 0)
    assert add_business_minutes(OFFICE, rome(2024, 3, 4, 9, 0), 9 * 60 + 1) == rome(2024, 3, 5, 9, 1)


def test_zero_minutes_is_the_start_when_open_and_the_next_opening_when_closed() -> None:
    assert add_business_minutes(OFFICE, rome(2024, 3, 4, 10, 0), 0) == rome(2024, 3, 4, 10, 0)
    assert add_business_minutes(OFFICE, rome(2024, 3, 4, 18, 0), 0) == rome(2024, 3, 5, 9, 0)
    assert add_business_minutes(OFFICE, rome(2024, 3, 4, 7, 0), 0) == rome(2024, 3, 4, 9, 0)


def test_arrival_before_opening_starts_counting_at_the_opening() -> None:
    assert add_business_minutes(OFFICE, rome(2024, 3, 4, 6, 30), 60) == rome(2024, 3, 4, 10, 0)


def test_weekend_arrival_starts_counting_on_monday() -> None:
    assert add_business_minutes(OFFICE, rome(2024, 3, 2, 11, 0), 120) == rome(2024, 3, 4, 11, 0)
    assert add_business_minutes(OFFICE, rome(2024, 3, 1, 17, 0), 120) == rome(2024, 3, 4, 10, 0)


def test_holidays_are_closed_all_day() -> None:
    office = calendar(("09:00", "18:00"), holidays=[date(2024, 3, 5)])
    assert add_business_minutes(office, rome(2024, 3, 4, 17, 0), 120) == rome(2024, 3, 6, 10, 0)
    assert add_business_minutes(office, rome(2024, 3, 5, 10, 0), 30) == rome(2024, 3, 6, 9, 30)


def test_the_lunch_break_does_not_count() -> None:
    assert add_business_minutes(LUNCH, rome(2024, 3, 4, 12, 0), 60) == rome(2024, 3, 4, 14, 0)
    assert add_business_minutes(LUNCH, rome(2024, 3, 4, 12, 45), 30) == rome(2024, 3, 4, 14, 0)
    assert add_business_minutes(LUNCH, rome(2024, 3, 4, 9, 0), 210) == rome(2024, 3, 4, 12, 30)


def test_multi_day_spans_cross_nights_and_weekends() -> None:
    # Wednesday 15:00 + 3 office days (27 h): Wed 3 h, Thu 9, Fri 9, Mon 6 -> Monday 15:00.
    assert add_business_minutes(OFFICE, rome(2024, 3, 6, 15, 0), 27 * 60) == rome(2024, 3, 11, 15, 0)


def test_rome_spring_forward_over_easter() -> None:
    # Fri Mar 29 17:00 CET + 8 h: Friday 1 h, Easter Sunday is the DST night, Easter Monday a holiday,
    # Tuesday 7 h -> 16:00 CEST, 14:00 UTC (a fixed +01:00 offset would say 15:00 UTC).
    office = calendar(("09:00", "18:00"), holidays=[date(2024, 4, 1)])
    due = add_business_minutes(office, rome(2024, 3, 29, 17, 0), 8 * 60)
    assert due == utc(2024, 4, 2, 14, 0)
    assert due.astimezone(ROME).hour == 16


def test_rome_fall_back() -> None:
    due = add_business_minutes(OFFICE, rome(2024, 10, 25, 17, 0), 8 * 60)
    assert due == utc(2024, 10, 28, 15, 0)  # Monday 16:00 CET


def test_new_york_spring_forward_and_fall_back() -> None:
    office = calendar(("09:00", "17:00"), zone="America/New_York")
    assert add_business_minutes(office, new_york(2024, 3, 8, 16, 0), 4 * 60) == utc(2024, 3, 11, 16, 0)
    assert add_business_minutes(office, new_york(2024, 11, 1, 16, 0), 4 * 60) == utc(2024, 11, 4, 17, 0)


def test_round_the_clock_days_hold_23_and_25_hours_on_dst_sundays() -> None:
    always = calendar(("00:00", "24:00"), days=EVERY_DAY)
    assert business_minutes_between(always, rome(2024, 3, 31, 0, 0), rome(2024, 4, 1, 0, 0)) == 23 * 60
    assert business_minutes_between(always, rome(2024, 10, 27, 0, 0), rome(2024, 10, 28, 0, 0)) == 25 * 60
    assert add_business_minutes(always, rome(2024, 3, 30, 12, 0), 24 * 60) == utc(2024, 3, 31, 11, 0)


def test_periods_across_the_new_york_transition_hour_count_real_minutes() -> None:
    night = calendar(("00:00", "03:00"), days=("sunday",), zone="America/New_York")
    assert business_minutes_between(night, new_york(2024, 3, 10, 0, 0), new_york(2024, 3, 10, 12, 0)) == 120
    assert business_minutes_between(night, new_york(2024, 11, 3, 0, 0), new_york(2024, 11, 3, 12, 0)) == 240


def test_a_period_starting_in_the_spring_gap_opens_when_the_clock_jumps_past_it() -> None:
    early = calendar(("02:30", "04:00"), days=("sunday",))
    assert next_opening(early, rome(2024, 3, 30, 12, 0)) == utc(2024, 3, 31, 1, 0)  # 03:00 CEST
    assert business_minutes_between(early, rome(2024, 3, 31, 0, 0), rome(2024, 3, 31, 12, 0)) == 60


def test_a_period_wholly_inside_the_spring_gap_does_not_open_that_day() -> None:
    lost = calendar(("02:00", "02:30"), days=("sunday",))
    assert next_opening(lost, rome(2024, 3, 30, 12, 0)) == utc(2024, 4, 7, 0, 0)  # next Sunday 02:00 CEST


def test_a_midnight_transition_opens_the_day_at_0100() -> None:
    # Havana springs forward at midnight: Sunday March 10 2024 has no 00:00; its day starts at 01:00 CDT.
    sunday = calendar(("00:00", "24:00"), days=("sunday",), zone="America/Havana")
    saturday_noon = datetime(2024, 3, 9, 12, 0, tzinfo=ZoneInfo("America/Havana"))
    assert next_opening(sunday, saturday_noon) == utc(2024, 3, 10, 5, 0)
    assert business_minutes_between(sunday, saturday_noon, saturday_noon + timedelta(days=2)) == 23 * 60


def test_a_repeated_wall_time_means_its_first_occurrence() -> None:
    night = calendar(("01:30", "01:45"), days=("sunday",), zone="America/New_York")
    assert next_opening(night, new_york(2024, 11, 2, 12, 0)) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    assert is_open(night, utc(2024, 11, 3, 5, 40))
    assert not is_open(night, utc(2024, 11, 3, 6, 35))  # the second 01:35, EST


def test_always_open_counts_elapsed_time_not_wall_clock_time() -> None:
    # 24 h after Saturday noon in Rome is Sunday 13:00 CEST: an aware datetime + timedelta would say 12:00.
    assert add_business_minutes(ALWAYS_OPEN, rome(2024, 3, 30, 12, 0), 24 * 60) == utc(2024, 3, 31, 11, 0)
    assert add_business_minutes(ALWAYS_OPEN, utc(2024, 3, 2, 3, 0), 0) == utc(2024, 3, 2, 3, 0)


def test_large_amounts_work_and_stay_exact() -> None:
    start = rome(2024, 3, 1, 10, 0)
    due = add_business_minutes(LUNCH, start, 100_000)  # ~ 208 working days
    assert business_minutes_between(LUNCH, start, due) == 100_000
    assert date(2024, 12, 1) < due.date() < date(2025, 1, 31)


def test_amounts_beyond_about_three_years_raise_instead_of_looping() -> None:
    with pytest.raises(ValueError, match=f"no deadline within {MAX_SPAN_DAYS} days"):
        add_business_minutes(OFFICE, rome(2024, 3, 4, 9, 0), 10_000_000)
    with pytest.raises(ValueError, match="no deadline within"):
        add_business_minutes(ALWAYS_OPEN, utc(2024, 3, 4, 9, 0), 10**12)


def test_a_calendar_that_never_opens_within_the_horizon_raises() -> None:
    mondays = [date(2024, 3, 4) + timedelta(weeks=week) for week in range(170)]
    closed = calendar(("09:00", "18:00"), days=("monday",), holidays=mondays)
    with pytest.raises(ValueError, match="never open"):
        next_opening(closed, rome(2024, 3, 1, 12, 0))


def test_negative_minutes_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="minutes must be >= 0"):
        add_business_minutes(OFFICE, rome(2024, 3, 4, 9, 0), -1)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(OFFICE, datetime(2024, 3, 4, 9, 0), 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2024, 3, 4, 9, 0))


# --- business_minutes_between -------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        rome(2024, 3, 4, 9, 0),
        rome(2024, 3, 4, 12, 59),
        rome(2024, 3, 2, 8, 0),
        rome(2024, 3, 28, 17, 45),
        rome(2024, 10, 25, 11, 11),
        utc(2024, 10, 27, 1, 30),
    ],
)
@pytest.mark.parametrize("minutes", [0, 1, 29, 210, 480, 481, 2_400, 9_999])
def test_between_is_the_inverse_of_add(start: datetime, minutes: int) -> None:
    office = calendar(("09:00", "12:30"), ("13:30", "18:00"), holidays=[date(2024, 4, 1)])
    assert business_minutes_between(office, start, add_business_minutes(office, start, minutes)) == minutes


def test_between_counts_only_open_time_and_rounds_down() -> None:
    assert business_minutes_between(LUNCH, rome(2024, 3, 1, 17, 0), rome(2024, 3, 4, 10, 0)) == 120
    assert business_minutes_between(LUNCH, rome(2024, 3, 2, 0, 0), rome(2024, 3, 3, 23, 59)) == 0
    assert business_minutes_between(LUNCH, rome(2024, 3, 4, 9, 0), rome(2024, 3, 4, 9, 1, 59)) == 1


def test_between_is_zero_when_end_is_not_after_start() -> None:
    assert business_minutes_between(OFFICE, rome(2024, 3, 4, 12, 0), rome(2024, 3, 4, 10, 0)) == 0
    assert business_minutes_between(OFFICE, rome(2024, 3, 4, 12, 0), rome(2024, 3, 4, 12, 0)) == 0


def test_between_refuses_spans_longer_than_the_horizon() -> None:
    with pytest.raises(ValueError, match="spans longer than"):
        business_minutes_between(OFFICE, utc(2020, 1, 1), utc(2024, 1, 1))


# --- at_fraction --------------------------------------------------------------------------------


def test_warning_point_at_80_percent_of_business_time_skips_the_weekend() -> None:
    start = rome(2024, 3, 1, 17, 0)  # Friday
    due = add_business_minutes(OFFICE, start, 8 * 60)  # Monday 16:00
    assert due == rome(2024, 3, 4, 16, 0)
    # 80 % of 8 h is 6 h 24: Friday 1 h, then Monday 09:00 + 5 h 24.
    assert at_fraction(OFFICE, start, due, 0.8) == rome(2024, 3, 4, 14, 24)


def test_warning_point_ends_of_the_range() -> None:
    start, due = rome(2024, 3, 4, 9, 0), rome(2024, 3, 4, 17, 0)
    assert at_fraction(OFFICE, start, due, 0) == start
    assert at_fraction(OFFICE, start, due, 1) == due


def test_warning_point_is_never_after_due() -> None:
    saturday, sunday = rome(2024, 3, 2, 10, 0), rome(2024, 3, 3, 10, 0)
    assert at_fraction(OFFICE, saturday, sunday, 0.8) == sunday
    assert at_fraction(OFFICE, sunday, saturday, 0.8) == saturday


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_warning_fraction_out_of_range_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction must be between 0 and 1"):
        at_fraction(OFFICE, rome(2024, 3, 4, 9, 0), rome(2024, 3, 4, 17, 0), fraction)


# --- is_open / next_opening ---------------------------------------------------------------------


def test_is_open_honours_periods_lunch_holidays_and_half_open_ends() -> None:
    office = calendar(("09:00", "12:30"), ("13:30", "18:00"), holidays=[date(2024, 3, 5)])
    assert is_open(office, rome(2024, 3, 4, 9, 0))
    assert is_open(office, rome(2024, 3, 4, 17, 59))
    assert not is_open(office, rome(2024, 3, 4, 18, 0))
    assert not is_open(office, rome(2024, 3, 4, 12, 45))
    assert not is_open(office, rome(2024, 3, 5, 10, 0))  # holiday
    assert not is_open(office, rome(2024, 3, 2, 10, 0))  # Saturday
    assert is_open(office, new_york(2024, 3, 4, 4, 0))  # 10:00 in Rome
    assert is_open(ALWAYS_OPEN, utc(2024, 3, 2, 3, 0))


def test_next_opening() -> None:
    assert next_opening(LUNCH, rome(2024, 3, 4, 10, 0)) == rome(2024, 3, 4, 10, 0)
    assert next_opening(LUNCH, rome(2024, 3, 4, 12, 30)) == rome(2024, 3, 4, 13, 30)
    assert next_opening(LUNCH, rome(2024, 3, 1, 18, 0)) == rome(2024, 3, 4, 9, 0)
    assert next_opening(LUNCH, rome(2024, 3, 4, 10, 0)).tzinfo is UTC


# --- resume_due ---------------------------------------------------------------------------------


def test_a_pause_pushes_the_deadline_back_by_its_business_time() -> None:
    # Due Monday 16:00; paused Monday 10:00 to Tuesday 10:00 = 7 h (lunch excluded) + 1 h = 8 h.
    due = resume_due(LUNCH, rome(2024, 3, 4, 16, 0), rome(2024, 3, 4, 10, 0), rome(2024, 3, 5, 10, 0))
    assert due == rome(2024, 3, 5, 16, 0)
    # Same answer as stopping the clock: 5 h were left at the pause, counted again from Tuesday 10:00.
    assert due == add_business_minutes(LUNCH, rome(2024, 3, 5, 10, 0), 5 * 60)


def test_a_pause_outside_business_hours_pushes_nothing() -> None:
    due = rome(2024, 3, 4, 16, 0)
    assert resume_due(LUNCH, due, rome(2024, 3, 2, 9, 0), rome(2024, 3, 3, 20, 0)) == due


def test_a_pause_that_outlasts_the_deadline_keeps_the_time_that_was_left() -> None:
    # Paused Friday 17:00 with 30 min left (due 17:30), resumed Monday 10:00 -> due Monday 10:30.
    due = resume_due(OFFICE, rome(2024, 3, 1, 17, 30), rome(2024, 3, 1, 17, 0), rome(2024, 3, 4, 10, 0))
    assert due == rome(2024, 3, 4, 10, 30)


def test_a_pause_that_began_after_the_deadline_changes_nothing() -> None:
    due = rome(2024, 3, 4, 10, 0)
    assert resume_due(OFFICE, due, rome(2024, 3, 4, 11, 0), rome(2024, 3, 5, 11, 0)) == due
    assert resume_due(OFFICE, due, due, rome(2024, 3, 5, 11, 0)) == due


def test_a_pause_on_a_24_7_calendar_pushes_by_elapsed_time() -> None:
    due = resume_due(ALWAYS_OPEN, utc(2024, 3, 2, 12, 0), utc(2024, 3, 2, 1, 0), utc(2024, 3, 2, 4, 30))
    assert due == utc(2024, 3, 2, 15, 30)


def test_resuming_before_pausing_is_refused() -> None:
    with pytest.raises(ValueError, match=r"resumed_at .* is before paused_at"):
        resume_due(OFFICE, rome(2024, 3, 4, 16, 0), rome(2024, 3, 4, 11, 0), rome(2024, 3, 4, 10, 0))


# --- validation ---------------------------------------------------------------------------------


def test_overlapping_periods_are_refused_with_the_day_and_both_periods() -> None:
    with pytest.raises(ValidationError, match=r"monday: periods 09:00–12:30 and 12:00–18:00 overlap"):
        BusinessCalendar(
            time_zone="Europe/Rome",
            periods={"monday": [{"start": "12:00", "end": "18:00"}, {"start": "09:00", "end": "12:30"}]},
        )


def test_touching_periods_are_fine_and_periods_are_kept_sorted() -> None:
    office = calendar(("13:00", "18:00"), ("09:00", "13:00"), days=("monday",))
    assert [period.label for period in office.periods["monday"]] == ["09:00–13:00", "13:00–18:00"]
    assert add_business_minutes(office, rome(2024, 3, 4, 12, 0), 120) == rome(2024, 3, 4, 14, 0)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "Europe/", "../etc/passwd", "/etc/localtime", ""])
def test_unknown_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        calendar(("09:00", "18:00"), zone=zone)


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="period 18:00–09:00 ends before it starts"):
        calendar(("18:00", "09:00"))
    with pytest.raises(ValidationError, match="ends before it starts"):
        calendar(("09:00", "09:00"))


def test_24_00_closes_the_day_and_round_trips_through_json() -> None:
    late = calendar(("18:00", "24:00"), days=("friday",))
    assert late.periods["friday"][0].end == time(0, 0)
    assert late.periods["friday"][0].end_minute == 24 * 60
    assert '"end":"24:00"' in late.model_dump_json()
    assert BusinessCalendar.model_validate_json(late.model_dump_json()) == late
    assert add_business_minutes(late, rome(2024, 3, 1, 23, 0), 60) == rome(2024, 3, 2, 0, 0)


def test_period_times_are_whole_local_minutes() -> None:
    with pytest.raises(ValidationError, match="whole minutes"):
        calendar(("09:00:30", "18:00"))


def test_a_calendar_must_open_somehow() -> None:
    with pytest.raises(ValidationError, match="at least one opening period, or always_open"):
        BusinessCalendar(time_zone="Europe/Rome")
    with pytest.raises(ValidationError, match="always_open calendar takes no periods"):
        calendar(("09:00", "18:00"), always_open=True)
    with pytest.raises(ValidationError, match="always_open calendar takes no holidays"):
        BusinessCalendar(always_open=True, holidays=[date(2024, 12, 25)])


def test_holidays_are_kept_sorted_and_unique() -> None:
    office = calendar(("09:00", "18:00"), holidays=[date(2024, 12, 26), date(2024, 12, 25), date(2024, 12, 26)])
    assert office.holidays == [date(2024, 12, 25), date(2024, 12, 26)]
