"""Reports: daily aggregates kept up to date from ticket and reply changes, and the reports read from them.

**Incremental aggregates.** The table's stream hands every ticket change (old and new image) and every
reply change to ``ticket_increments`` / ``reply_increments``; they turn the change into *facts* (a ticket
created, a first response, a resolution, a breach, a rating, the backlog moving) and each fact into one
``Increment`` per dimension (``DIMENSIONS``): counters to ADD to the item of (tenant, day, dimension,
value). ``merge`` sums a stream batch per item, so the consumer writes each item once per batch. A report
then reads one item per (day, value) of the asked dimension: its cost depends on the range and on how
many stores / agents / ... there are, never on how many tickets.

**Days** are the tenant's: a fact lands on the calendar day (in the tenant's time zone) it happened on.
Creation counts land on the creation day, responses on the day they were sent, resolutions on the day
of the change, breaches on the breach day, ratings on the rating day.

**Which dimension value a fact counts under.** Responses, resolutions and breaches count under the
ticket's values when they happen (the new image). Two kinds of counters are *stocks* rather than
events, and follow the ticket when its values change:

* ``created`` / ``created_wismo`` count the tickets created on a day *as they are now*: the intake sets
  intent, team, assignee and policy only after the ticket is stored, so counting creations under the
  values at creation would put every ticket under intent "unknown" and team "none". When a value
  changes, the creation moves (−1 under the old value, +1 under the new one, on the creation day);
  ``created_wismo`` is +1 when the intent becomes wismo and −1 if it stops being wismo, so "WISMO share"
  is the share of a day's tickets whose intent is wismo now.
* ``opened`` / ``closed`` are the net backlog changes (tickets an agent owes an answer: new / open /
  pending) on the day of the change. A ticket moving from one team to another while in the queue
  closes under the old team and opens under the new one, so the backlog per value adds up.

Ratings count once per rating under the values when it was given (agent: the one the rating is
about, ``csat_agent_id``); a changed rating replaces the old one.

**Percentiles** come from histograms (``BUCKETS_SECONDS``): see ``percentile`` for the error bound.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator

from helpdesk.core.models import (
    Automation,
    Channel,
    DeliveryStatus,
    Intent,
    Message,
    MessageDirection,
    Model,
    Ticket,
    TicketStatus,
)

DIMENSIONS = ("all", "policy", "store", "channel", "team", "agent", "intent", "language")
Dimension = Literal["all", "policy", "store", "channel", "team", "agent", "intent", "language"]
Period = Literal["day", "week", "month", "total"]

# Histogram upper bounds in seconds (bucket i holds lower < t <= BUCKETS_SECONDS[i], lower the previous
# bound or 0): 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h, 24 h, 48 h, 72 h, 7 days, more.
BUCKETS_SECONDS: tuple[float, ...] = (
    60,
    300,
    900,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    3 * 86400,
    7 * 86400,
    math.inf,
)
HISTOGRAMS = ("frt", "nrt", "res")  # first response, next response, resolution
MAX_RANGE_DAYS = 400
POSITIVE_SCORE = 4  # a rating of 4 or 5 is positive

DONE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
# Replies that are not an answer (the same set as ``agent_replies.NOT_A_RESPONSE``, a test keeps them equal).
NOT_A_RESPONSE = frozenset({Automation.ACKNOWLEDGEMENT, Automation.NUDGE, Automation.SURVEY})

COUNTERS: tuple[str, ...] = (
    "created",
    "created_wismo",
    "resolved",
    "first_responses",
    "first_met",
    "next_responses",
    "next_met",
    "breaches",
    "frt_sum",
    "nrt_sum",
    "res_sum",
    "csat_count",
    "csat_sum",
    "csat_positive",
    "opened",
    "closed",
    *(f"{h}_b{i}" for h in HISTOGRAMS for i in range(len(BUCKETS_SECONDS))),
)


# --- facts and increments -----------------------------------------------------------------------


class Increment(Model):
    """Counters to add to one daily item: (tenant, day in the tenant's time zone, dimension, value)."""

    tenant_id: str
    day: date
    dimension: Dimension
    value: str
    counters: dict[str, int] = Field(default_factory=dict)

    @property
    def key(self) -> tuple[str, date, str, str]:
        return self.tenant_id, self.day, self.dimension, self.value


class DailyStats(NamedTuple):
    """One stored daily item of one dimension, as the report store reads it."""

    day: date
    value: str
    counters: dict[str, int]


def zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {time_zone!r}") from None


def local_day(moment: datetime, time_zone: str | ZoneInfo) -> date:
    """The tenant's calendar day of an instant."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    tz = time_zone if isinstance(time_zone, ZoneInfo) else zone(time_zone)
    return moment.astimezone(tz).date()


def bucket_index(seconds: float) -> int:
    """The histogram bucket of a duration (negative durations, clock skew, count as 0)."""
    seconds = max(0.0, seconds)
    return next(i for i, upper in enumerate(BUCKETS_SECONDS) if seconds <= upper)


def dimension_values(ticket: Ticket) -> dict[str, str]:
    """The value a ticket counts under in each dimension."""
    return {
        "all": "all",
        "policy": ticket.sla_policy_id or "none",
        "store": ticket.store_id,
        "channel": Channel(ticket.channel).value,
        "team": ticket.team_id or "none",
        "agent": ticket.assignee_id or "unassigned",
        "intent": Intent(ticket.intent).value if ticket.intent else "unknown",
        "language": ticket.language or "unknown",
    }


def _duration(name: str, start: datetime, end: datetime) -> dict[str, int]:
    seconds = max(0.0, (end - start).total_seconds())
    return {f"{name}_b{bucket_index(seconds)}": 1, f"{name}_sum": round(seconds)}


# (day, dimension, value) → counters
_Cells = dict[tuple[date, str, str], dict[str, int]]


class _Facts:
    """Counters of one change, accumulated per (day, dimension, value)."""

    def __init__(self, tenant_id: str, tz: ZoneInfo) -> None:
        self.tenant_id = tenant_id
        self.tz = tz
        self.cells: _Cells = defaultdict(lambda: defaultdict(int))

    def day(self, moment: datetime) -> date:
        return local_day(moment, self.tz)

    def add(self, day: date, dimension: str, value: str, counters: Mapping[str, int], sign: int = 1) -> None:
        cell = self.cells[(day, dimension, value)]
        for name, amount in counters.items():
            cell[name] += sign * amount

    def everywhere(self, day: date, values: Mapping[str, str], counters: Mapping[str, int]) -> None:
        for dimension in DIMENSIONS:
            self.add(day, dimension, values[dimension], counters)

    def difference(self, before: _Cells, after: _Cells) -> None:
        """Add ``after`` and take away ``before`` (a stock moving between days or values)."""
        for key, counters in before.items():
            self.add(*key, counters, sign=-1)
        for key, counters in after.items():
            self.add(*key, counters)

    def increments(self) -> list[Increment]:
        found = []
        for (day, dimension, value), counters in self.cells.items():
            kept = {name: amount for name, amount in counters.items() if amount}
            if kept:
                found.append(
                    Increment(
                        tenant_id=self.tenant_id,
                        day=day,
                        dimension=cast(Dimension, dimension),
                        value=value,
                        counters=kept,
                    )
                )
        return found


def _creation_stock(ticket: Ticket | None, facts: _Facts) -> _Cells:
    if ticket is None:
        return {}
    day = facts.day(ticket.created_at)
    counters = {"created": 1, "created_wismo": int(ticket.intent == Intent.WISMO)}
    return {(day, d, v): counters for d, v in dimension_values(ticket).items()}


def _queue_stock(ticket: Ticket | None) -> dict[tuple[str, str], int]:
    if ticket is None or not ticket.status.in_queue:
        return {}
    return {(d, v): 1 for d, v in dimension_values(ticket).items()}


def _rating_stock(ticket: Ticket | None, facts: _Facts) -> _Cells:
    if ticket is None or ticket.csat_score is None:
        return {}
    day = facts.day(ticket.csat_at or ticket.created_at)
    values = dimension_values(ticket)
    if ticket.csat_agent_id:
        values["agent"] = ticket.csat_agent_id
    score = ticket.csat_score
    counters = {"csat_count": 1, "csat_sum": score, "csat_positive": int(score >= POSITIVE_SCORE)}
    return {(day, d, v): counters for d, v in values.items()}


def _rating(ticket: Ticket | None) -> tuple[object, ...]:
    return (None,) if ticket is None else (ticket.csat_score, ticket.csat_at, ticket.csat_agent_id)


def ticket_increments(
    old: Ticket | None, new: Ticket | None, time_zone: str, *, at: datetime | None = None
) -> list[Increment]:
    """The increments of one ticket change (``old`` None: created; ``new`` None: deleted).

    ``at``: when the change happened (default the new image's ``updated_at``, the old one's for a
    delete); backlog changes and resolutions land on its day. Facts:

    * created / created_wismo (stocks, see the module docstring); a deleted ticket stays counted;
    * first response: ``first_responded_at`` set now → time from creation, met when at or before
      ``first_response_due_at`` (or no due time);
    * resolution: the status enters resolved/closed from another status → time from creation to
      ``at``; a merged ticket (``merged_into``) is closed, not resolved;
    * breach: ``sla_breached_at`` set now (a ticket can breach again after an answer re-arms it);
    * rating: ``csat_score`` given or changed (a change replaces the old rating);
    * opened / closed: the ticket entering / leaving the queue states, or moving between values.
    """
    current = new if new is not None else old
    if current is None:
        return []
    facts = _Facts(current.tenant_id, zone(time_zone))
    when = at or current.updated_at
    if new is not None:  # a deleted ticket was still created: its creation stays counted
        facts.difference(_creation_stock(old, facts), _creation_stock(new, facts))

    before, after = _queue_stock(old), _queue_stock(new)
    change_day = facts.day(when)
    for key in before.keys() | after.keys():
        net = after.get(key, 0) - before.get(key, 0)
        if net:
            facts.add(change_day, *key, {"opened" if net > 0 else "closed": abs(net)})

    if new is None:
        return facts.increments()
    values = dimension_values(new)
    if new.first_responded_at is not None and (old is None or old.first_responded_at is None):
        due = new.first_response_due_at
        met = due is None or new.first_responded_at <= due
        facts.everywhere(
            facts.day(new.first_responded_at),
            values,
            {"first_responses": 1, "first_met": int(met), **_duration("frt", new.created_at, new.first_responded_at)},
        )
    if new.status in DONE and (old is None or old.status not in DONE) and not new.merged_into:
        facts.everywhere(change_day, values, {"resolved": 1, **_duration("res", new.created_at, when)})
    if breached_now(old, new):
        facts.everywhere(facts.day(new.sla_breached_at), values, {"breaches": 1})  # type: ignore[arg-type]
    if _rating(old) != _rating(new):
        facts.difference(_rating_stock(old, facts), _rating_stock(new, facts))
    return facts.increments()


def reply_increments(old: Message | None, new: Message, ticket: Ticket, time_zone: str) -> list[Increment]:
    """A next response: an outbound reply becoming ``sent`` that answers (not an acknowledgement, a
    proactive message or a survey), is not the ticket's first response (that one is counted from the
    ticket change) and knows since when the buyer waited (``answers_since``; otherwise nothing).

    ``ticket`` is the ticket as stored with (or after) the reply: its dimensions, and whether this
    reply was its first response. Met: ``sent_at`` at or before ``answer_due_at``, the deadline in force
    when the channel accepted the reply (the dispatcher records it; the ticket's own deadline is re-armed
    or cleared by that same write). No deadline: met.
    """
    sent_before = old is not None and old.delivery_status == DeliveryStatus.SENT
    if (
        new.direction != MessageDirection.OUTBOUND
        or new.delivery_status != DeliveryStatus.SENT
        or sent_before
        or new.sent_at is None
        or new.automation in NOT_A_RESPONSE
        or new.answers_since is None
        or ticket.merged_into
    ):
        return []
    if ticket.first_responded_at is None or ticket.first_responded_at >= new.sent_at:
        return []  # the first response: counted once, from the ticket's first_responded_at
    due = new.answer_due_at
    met = due is None or new.sent_at <= due
    facts = _Facts(ticket.tenant_id, zone(time_zone))
    facts.everywhere(
        facts.day(new.sent_at),
        dimension_values(ticket),
        {"next_responses": 1, "next_met": int(met), **_duration("nrt", new.answers_since, new.sent_at)},
    )
    return facts.increments()


def merge(increments: Iterable[Increment]) -> list[Increment]:
    """The increments summed per (tenant, day, dimension, value), in first-seen order; counters that
    sum to 0 are dropped, and keys left with none (a move there and back in one batch) too."""
    summed: dict[tuple[str, date, str, str], dict[str, int]] = {}
    for increment in increments:
        counters = summed.setdefault(increment.key, {})
        for name, amount in increment.counters.items():
            counters[name] = counters.get(name, 0) + amount
    found = []
    for (tenant_id, day, dimension, value), counters in summed.items():
        kept = {name: amount for name, amount in counters.items() if amount}
        if kept:
            found.append(
                Increment(
                    tenant_id=tenant_id, day=day, dimension=cast(Dimension, dimension), value=value, counters=kept
                )
            )
    return found


# --- breaches -----------------------------------------------------------------------------------


class Breach(Model):
    """One line of the breaches list."""

    ticket_id: str
    subject: str
    store_id: str
    channel: Channel
    policy_id: str | None = None
    assignee_id: str | None = None
    intent: Intent | None = None
    language: str | None = None
    due_at: datetime | None = Field(default=None, description="The deadline that passed")
    breached_at: datetime


class BreachPage(Model):
    breaches: list[Breach]
    next_cursor: str | None = None


def breached_now(old: Ticket | None, new: Ticket | None) -> bool:
    """Whether this change is a breach of the ticket's own: ``sla_breached_at`` set by it, and not
    the breach a merge carried over from the merged ticket (counted on that ticket already)."""
    if new is None or new.sla_breached_at is None or (old is not None and old.sla_breached_at is not None):
        return False
    return new.sla_breached_at != new.sla_breach_inherited_at


def new_breach(old: Ticket | None, new: Ticket | None) -> Breach | None:
    """The breach a ticket change records, for the breaches list."""
    return breach_of(new) if new is not None and breached_now(old, new) else None


def breach_of(ticket: Ticket) -> Breach:
    """A breached ticket as a line of the breaches list (the deadline it missed: ``sla_due_at``)."""
    if ticket.sla_breached_at is None:
        raise ValueError(f"ticket {ticket.ticket_id} has no breach")
    return Breach(
        ticket_id=ticket.ticket_id,
        subject=ticket.subject,
        store_id=ticket.store_id,
        channel=ticket.channel,
        policy_id=ticket.sla_policy_id,
        assignee_id=ticket.assignee_id,
        intent=ticket.intent,
        language=ticket.language,
        due_at=ticket.sla_due_at,
        breached_at=ticket.sla_breached_at,
    )


# --- reports ------------------------------------------------------------------------------------


class ReportQuery(Model):
    start: date
    end: date = Field(description=f"Inclusive; at most {MAX_RANGE_DAYS} days after start")
    period: Period = "day"
    group_by: Dimension = "all"

    @model_validator(mode="after")
    def _range(self) -> ReportQuery:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ValueError(f"the range is {(self.end - self.start).days} days long: at most {MAX_RANGE_DAYS}")
        return self


class ReportRow(Model):
    """One period and dimension value. Times in seconds; percentages 0-100; None: no data."""

    period: str = Field(description="2026-11-23, 2026-W48 (ISO week), 2026-11, or start/end for the total")
    dimension: Dimension
    value: str
    created: int = 0
    resolved: int = 0
    first_responses: int = 0
    next_responses: int = 0
    frt_median: int | None = None
    frt_p90: int | None = None
    frt_mean: int | None = None
    nrt_median: int | None = None
    nrt_p90: int | None = None
    nrt_mean: int | None = None
    resolution_median: int | None = None
    resolution_p90: int | None = None
    resolution_mean: int | None = None
    sla_compliance: float | None = Field(default=None, description="% of first and next responses on time")
    breaches: int = 0
    wismo_share: float | None = Field(default=None, description="% of the tickets created whose intent is wismo")
    csat_count: int = 0
    csat_average: float | None = None
    csat_positive: float | None = Field(default=None, description="% of ratings of 4 or 5")
    backlog_change: int = Field(default=0, description="Tickets entering the queue states minus those leaving")


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """The ``fraction`` percentile (0.5: median, 0.9: p90) of a histogram over ``BUCKETS_SECONDS``.

    The rank ``fraction × n`` falls in some bucket; the estimate interpolates linearly between that
    bucket's bounds, as if its durations were spread evenly. Approximate, with a bound: the true
    (nearest-rank) percentile lies in the same bucket, so the error is less than that bucket's width
    (60 s up to 1 min; 4 min up to 5 min; 10, 15, 30 min up to 15, 30, 60 min; 1, 2, 4, 4, 12, 24, 24 h
    up to 2, 4, 8, 12, 24, 48, 72 h; 4 days up to 7 days) and estimate and truth are within the
    bucket's bound ratio of each other (5x between 1 and 5 min, 3x between 5 and 15 min, at most 2.4x
    above). Beyond 7 days the estimate is 7 days (a lower bound). None for an empty histogram.
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = fraction * total
    below = 0
    for index, count in enumerate(counts):
        if count > 0 and below + count >= rank:
            lower = BUCKETS_SECONDS[index - 1] if index else 0.0
            upper = BUCKETS_SECONDS[index]
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * max(0.0, rank - below) / count
        below += count
    return None  # unreachable with non-negative counts


def _period(day: date, query: ReportQuery) -> tuple[date, str]:
    """The first day and label of the period a day falls in."""
    if query.period == "day":
        return day, day.isoformat()
    if query.period == "week":
        year, week, weekday = day.isocalendar()
        return day - timedelta(days=weekday - 1), f"{year}-W{week:02d}"
    if query.period == "month":
        return day.replace(day=1), f"{day.year}-{day.month:02d}"
    return query.start, f"{query.start.isoformat()}/{query.end.isoformat()}"


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def _share(part: int, whole: int, digits: int = 1) -> float | None:
    return round(100 * part / whole, digits) if whole > 0 else None


def _row(label: str, query: ReportQuery, value: str, c: Mapping[str, int]) -> ReportRow:
    def histogram(name: str) -> list[int]:
        return [c.get(f"{name}_b{i}", 0) for i in range(len(BUCKETS_SECONDS))]

    def mean(name: str) -> int | None:
        count = sum(histogram(name))
        return round(c.get(f"{name}_sum", 0) / count) if count > 0 else None

    responses = c.get("first_responses", 0) + c.get("next_responses", 0)
    csat_count = c.get("csat_count", 0)
    frt, nrt, res = histogram("frt"), histogram("nrt"), histogram("res")
    return ReportRow(
        period=label,
        dimension=query.group_by,
        value=value,
        created=c.get("created", 0),
        resolved=c.get("resolved", 0),
        first_responses=c.get("first_responses", 0),
        next_responses=c.get("next_responses", 0),
        frt_median=_seconds(percentile(frt, 0.5)),
        frt_p90=_seconds(percentile(frt, 0.9)),
        frt_mean=mean("frt"),
        nrt_median=_seconds(percentile(nrt, 0.5)),
        nrt_p90=_seconds(percentile(nrt, 0.9)),
        nrt_mean=mean("nrt"),
        resolution_median=_seconds(percentile(res, 0.5)),
        resolution_p90=_seconds(percentile(res, 0.9)),
        resolution_mean=mean("res"),
        sla_compliance=_share(c.get("first_met", 0) + c.get("next_met", 0), responses),
        breaches=c.get("breaches", 0),
        wismo_share=_share(c.get("created_wismo", 0), c.get("created", 0)),
        csat_count=csat_count,
        csat_average=round(c.get("csat_sum", 0) / csat_count, 2) if csat_count > 0 else None,
        csat_positive=_share(c.get("csat_positive", 0), csat_count),
        backlog_change=c.get("opened", 0) - c.get("closed", 0),
    )


def build_report(query: ReportQuery, daily: Iterable[DailyStats]) -> list[ReportRow]:
    """Rows per period and value of ``query.group_by`` from that dimension's daily items.

    Days outside the range are ignored; a week or month cut by the range counts only its days in it
    (weeks are ISO weeks from Monday, labelled with the ISO year). Grouped by "all", every period of
    the range has a row (zeros where nothing happened, for charts); by another dimension, only the
    values with data do. Sorted by period, then value.
    """
    summed: dict[tuple[date, str, str], dict[str, int]] = {}
    for stats in daily:
        if not query.start <= stats.day <= query.end:
            continue
        first, label = _period(stats.day, query)
        counters = summed.setdefault((first, label, stats.value), {})
        for name, amount in stats.counters.items():
            counters[name] = counters.get(name, 0) + amount
    if query.group_by == "all":
        day = query.start
        while day <= query.end:
            first, label = _period(day, query)
            summed.setdefault((first, label, "all"), {})
            day += timedelta(days=1)
    return [_row(label, query, value, counters) for (_, label, value), counters in sorted(summed.items())]


def backlog_series(current_open: int, daily_net: Mapping[date, int], start: date, end: date) -> list[tuple[date, int]]:
    """The open backlog at the end of each day from ``start`` to ``end``, counted back from the open
    count now: the backlog at the end of day d is ``current_open`` minus the net changes (opened −
    closed) of every later day. ``daily_net`` must therefore reach today, past ``end`` if it is
    earlier. Not clamped at 0: a negative value means the aggregates missed changes."""
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    backlog = current_open - sum(net for day, net in daily_net.items() if day > end)
    series = []
    day = end
    while day >= start:
        series.append((day, backlog))
        backlog -= daily_net.get(day, 0)
        day -= timedelta(days=1)
    series.reverse()
    return series


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # A spreadsheet would run a text cell starting like a formula: neutralised with a quote.
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def to_csv(rows: Iterable[ReportRow]) -> str:
    """The rows as CSV (RFC 4180, CRLF): a header of the field names, numbers as plain digits (times
    in seconds, percentages 0-100), empty cells where there is no data."""
    out = io.StringIO()
    writer = csv.writer(out)
    fields = list(ReportRow.model_fields)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in fields])
    return out.getvalue()
