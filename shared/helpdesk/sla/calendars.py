"""Business-hours calendars and the time arithmetic SLA deadlines are made of. Pure Python.

A calendar says when a support team works, in its own IANA time zone: opening periods per weekday
(several a day, e.g. a lunch break), closed local dates (holidays), or ``always_open`` for 24/7.

Decisions that hold for every function here:

* **Business time is elapsed time.** A period is open from the first instant the local wall clock
  reads its start to the first instant it reads its end, and the minutes counted are real minutes
  between those instants. On a spring-forward night a 00:00–24:00 day therefore holds 23 hours, on a
  fall-back night 25; a wall time inside the spring gap (02:30 in Rome on the last Sunday of March)
  opens when the clock jumps past it (03:00 CEST); a repeated wall time (01:30 in New York on the first
  Sunday of November) means its first occurrence. The arithmetic never adds a ``timedelta`` to a
  zone-aware datetime, which Python does on the wall clock, the classic DST bug: it works in UTC.
* **Periods are half-open** ``[start, end)``: a ticket due "at 18:00" is due at the closing instant,
  not at the next morning's opening; a moment at exactly 18:00 is closed.
* **Results are UTC** aware datetimes (the form tickets store and ``sla.iso_z`` formats); inputs may
  be aware in any zone. Naive datetimes are refused: they have no instant.
* **Searches are bounded.** Nothing looks further than ``MAX_SPAN_DAYS`` (about three years) past its
  start; a deadline beyond that, or a calendar that never opens within it (every day a holiday),
  raises ``ValueError`` instead of looping.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_serializer, field_validator, model_validator

from helpdesk.core.models import Model

MAX_SPAN_DAYS = 3 * 366
MAX_SPAN = timedelta(days=MAX_SPAN_DAYS)
_MINUTES_PER_DAY = 24 * 60
_MAX_MINUTES = MAX_SPAN_DAYS * _MINUTES_PER_DAY + 1  # more never fits; clamping keeps timedelta in range


class Weekday(StrEnum):
    """Keys of ``BusinessCalendar.periods``, in ``date.weekday()`` order (Monday is 0)."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


_WEEKDAYS = list(Weekday)


def _hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


class BusinessPeriod(Model):
    """One opening period within a local day, e.g. 09:00–12:30, in whole minutes.

    ``end`` may be given as ``"24:00"`` (kept as 00:00, which as an end always means the midnight
    that closes the day). A period cannot cross midnight: 22:00–02:00 is written as 22:00–24:00 on
    one day and 00:00–02:00 on the next, which keeps each day's periods independent.
    """

    start: time
    end: time

    @field_validator("end", mode="before")
    @classmethod
    def _end_of_day(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() in ("24:00", "24:00:00"):
            return time(0, 0)
        return value

    @field_validator("start", "end")
    @classmethod
    def _whole_local_minutes(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("period times are local wall times: give no time zone offset")
        if value.second or value.microsecond:
            raise ValueError("period times are whole minutes (HH:MM)")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessPeriod:
        if self.start_minute >= self.end_minute:
            raise ValueError(f"period {self.label} ends before it starts; split periods that cross midnight at 24:00")
        return self

    @field_serializer("end", when_used="json")
    def _serialize_end(self, value: time) -> str:
        return "24:00" if value == time(0, 0) else value.strftime("%H:%M")

    @field_serializer("start", when_used="json")
    def _serialize_start(self, value: time) -> str:
        return value.strftime("%H:%M")

    @property
    def start_minute(self) -> int:
        return self.start.hour * 60 + self.start.minute

    @property
    def end_minute(self) -> int:
        """Minutes after local midnight; 1440 for an end at 24:00."""
        minute = self.end.hour * 60 + self.end.minute
        return minute or _MINUTES_PER_DAY

    @property
    def label(self) -> str:
        return f"{_hhmm(self.start_minute)}–{_hhmm(self.end_minute)}"


class BusinessCalendar(Model):
    """When a team works: periods per weekday in ``time_zone``, minus ``holidays`` (local dates).

    ``always_open`` is 24/7 and takes neither periods nor holidays: a round-the-clock team that
    closes on some dates is written as 00:00–24:00 every day plus those holidays. A calendar that is
    not ``always_open`` needs at least one period, otherwise no deadline could ever fall.
    """

    time_zone: str = "UTC"
    periods: dict[Weekday, list[BusinessPeriod]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    always_open: bool = False

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Rome' or 'America/New_York'"
            ) from None
        return value

    @field_validator("holidays")
    @classmethod
    def _sorted_unique_holidays(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    @field_validator("periods")
    @classmethod
    def _no_overlap(cls, value: dict[Weekday, list[BusinessPeriod]]) -> dict[Weekday, list[BusinessPeriod]]:
        ordered: dict[Weekday, list[BusinessPeriod]] = {}
        for weekday in _WEEKDAYS:
            day = sorted(value.get(weekday, []), key=lambda period: period.start_minute)
            for before, after in pairwise(day):
                if after.start_minute < before.end_minute:
                    raise ValueError(f"{weekday.value}: periods {before.label} and {after.label} overlap")
            if day:
                ordered[weekday] = day
        return ordered

    @model_validator(mode="after")
    def _open_somehow(self) -> BusinessCalendar:
        if self.always_open and self.periods:
            raise ValueError("an always_open calendar takes no periods")
        if self.always_open and self.holidays:
            raise ValueError(
                "an always_open calendar takes no holidays: use 00:00–24:00 periods every day plus the holidays"
            )
        if not self.always_open and not self.periods:
            raise ValueError("a calendar needs at least one opening period, or always_open=true")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


ALWAYS_OPEN = BusinessCalendar(always_open=True)
"""The 24/7 calendar: business time is plain elapsed time (used when a policy has no calendar)."""


# --- public arithmetic --------------------------------------------------------------------------


def add_business_minutes(calendar: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    """The instant at which ``minutes`` of business time have elapsed after ``start``.

    Counting begins at ``start`` if the calendar is open then, else at the next opening; so
    ``minutes=0`` gives ``next_opening(start)``. A deadline that uses up a period exactly falls on
    its closing instant. Raises ``ValueError`` for negative minutes or a result more than
    ``MAX_SPAN_DAYS`` after ``start``.
    """
    if minutes < 0:
        raise ValueError(f"minutes must be >= 0, got {minutes}")
    return _add_business_time(calendar, start, timedelta(minutes=min(minutes, _MAX_MINUTES)))


def business_minutes_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Whole minutes (rounded down) of business time in ``[start, end)``; 0 when ``end <= start``.

    The inverse of ``add_business_minutes``: ``business_minutes_between(c, s, add_business_minutes(c,
    s, m)) == m``. Spans longer than ``MAX_SPAN_DAYS`` raise ``ValueError``.
    """
    return _business_time_between(calendar, start, end) // timedelta(minutes=1)


def at_fraction(calendar: BusinessCalendar, start: datetime, due: datetime, fraction: float) -> datetime:
    """The instant ``fraction`` of the business time from ``start`` to ``due`` has elapsed.

    The near-breach warning point: ``at_fraction(c, received, due, 0.8)``. Never later than ``due``
    (when no business time lies between them, e.g. a weekend arrival with a calendar-hours
    deadline, the answer is ``due`` itself rather than Monday's opening).
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    due_utc = _utc(due, "due")
    point = _add_business_time(calendar, start, _business_time_between(calendar, start, due_utc) * fraction)
    return min(point, due_utc)


def is_open(calendar: BusinessCalendar, moment: datetime) -> bool:
    """Whether the team works at ``moment`` (periods are half-open: closed at the closing instant)."""
    moment_utc = _utc(moment, "moment")
    return any(True for _ in _open_intervals(calendar, moment_utc, moment_utc + timedelta(microseconds=1)))


def next_opening(calendar: BusinessCalendar, moment: datetime) -> datetime:
    """``moment`` itself (in UTC) when open, else the start of the next opening period."""
    return _add_business_time(calendar, moment, timedelta(0))


def resume_due(calendar: BusinessCalendar, due: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
    """The deadline after a pause (waiting on the customer): pushed back by the pause's business time.

    A pause that began at or after ``due`` changes nothing: the deadline had already passed and the
    breach stands. Otherwise the result equals stopping the clock: the business time left at
    ``paused_at`` counted again from ``resumed_at``, which also holds when the pause outlasts ``due``.
    Pause time outside business hours pushes nothing (a weekend pause costs no SLA).
    """
    due_utc = _utc(due, "due")
    paused_utc = _utc(paused_at, "paused_at")
    resumed_utc = _utc(resumed_at, "resumed_at")
    if resumed_utc < paused_utc:
        raise ValueError(f"resumed_at {resumed_utc.isoformat()} is before paused_at {paused_utc.isoformat()}")
    if paused_utc >= due_utc:
        return due_utc
    paused_for = _business_time_between(calendar, paused_utc, resumed_utc)
    if not paused_for:
        return due_utc
    return _add_business_time(calendar, due_utc, paused_for)


# --- internals ----------------------------------------------------------------------------------


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _add_business_time(calendar: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    remaining = amount
    for opens, closes in _open_intervals(calendar, _utc(start, "start")):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    raise ValueError(
        f"no deadline within {MAX_SPAN_DAYS} days of {start.isoformat()}: "
        "the amount is too large or the calendar is (almost) never open"
    )


def _business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    start_utc, end_utc = _utc(start, "start"), _utc(end, "end")
    if end_utc - start_utc > MAX_SPAN:
        raise ValueError(f"spans longer than {MAX_SPAN_DAYS} days are not counted")
    return sum((closes - opens for opens, closes in _open_intervals(calendar, start_utc, end_utc)), timedelta(0))


def _open_intervals(
    calendar: BusinessCalendar, start_utc: datetime, end_utc: datetime | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """The open ``[opens, closes)`` UTC intervals within ``[start_utc, end_utc)``, in order, clipped.

    ``end_utc`` defaults to ``MAX_SPAN`` after the start, the bound on every search. Walks local days
    from ``start_utc``'s local date (no earlier day's periods reach past the first instant that date
    begins) to the day after ``end_utc``'s (a clock set back across midnight would leave an instant's
    local date a day behind the day whose periods hold it).
    """
    end_utc = start_utc + MAX_SPAN if end_utc is None else end_utc
    if end_utc <= start_utc:
        return
    if calendar.always_open:
        yield start_utc, end_utc
        return
    zone, holidays = calendar.zone, frozenset(calendar.holidays)
    day = start_utc.astimezone(zone).date()
    last_day = end_utc.astimezone(zone).date() + timedelta(days=1)
    while day <= last_day:
        for opens, closes in _day_intervals(calendar, day, holidays):
            if opens < end_utc and closes > start_utc:
                yield max(opens, start_utc), min(closes, end_utc)
        day += timedelta(days=1)


def _day_intervals(calendar: BusinessCalendar, day: date, holidays: frozenset[date]) -> list[tuple[datetime, datetime]]:
    if day in holidays:
        return []
    zone = calendar.zone
    intervals = []
    for period in calendar.periods.get(_WEEKDAYS[day.weekday()], []):
        opens = _first_instant_at(zone, day, period.start_minute)
        closes = _first_instant_at(zone, day, period.end_minute)
        if closes > opens:  # a period wholly inside a spring-forward gap never opens
            intervals.append((opens, closes))
    return intervals


def _first_instant_at(zone: ZoneInfo, day: date, minute_of_day: int) -> datetime:
    """The first UTC instant at which the wall clock in ``zone`` reads at least ``day`` + minutes.

    Unambiguous wall times map to their one instant; repeated ones (fall back) to the first
    occurrence (``fold=0``); skipped ones (spring forward) to the transition itself, found by
    bisection between the two offsets' readings (transitions fall on whole seconds).
    """
    wall = datetime.combine(day, time(0)) + timedelta(minutes=minute_of_day)
    earlier_offset = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    later_offset = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if earlier_offset <= later_offset:
        return earlier_offset
    # In a gap fold=0 reads the wall time with the old offset and lands after the jump, fold=1 with
    # the new offset and lands before it: the jump lies in (later_offset, earlier_offset].
    before, after = later_offset, earlier_offset
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) // 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return after
