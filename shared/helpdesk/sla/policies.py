"""SLA policies with business hours and match conditions: which one applies, and when it is due.

``SlaPolicySpec`` extends the foundation's ``models.SlaPolicy`` (elapsed-time targets, intents and
channels) with a business-hours calendar, store and priority conditions, and a marketplace-imposed
deadline. Pure Python; the arithmetic lives in ``helpdesk.sla.calendars``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field

from helpdesk.core.models import ID_PATTERN, Channel, Intent, Model, Priority, SlaPolicy
from helpdesk.sla.calendars import ALWAYS_OPEN, BusinessCalendar, add_business_minutes, at_fraction

DueKind = Literal["first", "next"]


class SlaPolicySpec(Model):
    """Targets in business minutes, where they apply, and an optional marketplace deadline.

    * ``calendar``: the business hours the targets count in; ``None`` is 24/7 (elapsed minutes).
    * ``intents`` / ``channels`` / ``store_ids`` / ``priorities``: match conditions; an empty list
      matches anything, a non-empty one requires the ticket's value to be in it (a ticket without an
      intent matches no intent-scoped policy).
    * ``marketplace_deadline_hours``: a deadline the channel imposes (Amazon's 24 hours, say). It is
      elapsed time, blind to business hours and DST, and applies to first and next responses alike;
      the effective deadline is the earlier of it and the business-hours one, because breaching
      either costs the seller (the marketplace's metrics or the seller's own promise).
    """

    policy_id: str = Field(pattern=ID_PATTERN)
    name: str
    first_response_minutes: int = Field(gt=0)
    next_response_minutes: int = Field(gt=0)
    warning_ratio: float = Field(default=0.8, gt=0, lt=1)
    calendar: BusinessCalendar | None = None
    intents: list[Intent] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    store_ids: list[str] = Field(default_factory=list)
    priorities: list[Priority] = Field(default_factory=list)
    marketplace_deadline_hours: int | None = Field(default=None, gt=0)

    @classmethod
    def from_policy(cls, policy: SlaPolicy) -> SlaPolicySpec:
        """The foundation's stored policy as a spec: 24/7, no store/priority condition, no marketplace cap."""
        return cls(
            policy_id=policy.policy_id,
            name=policy.name,
            first_response_minutes=policy.target.first_response_minutes,
            next_response_minutes=policy.target.next_response_minutes,
            warning_ratio=policy.target.warning_ratio,
            intents=list(policy.intents),
            channels=list(policy.channels),
        )

    @property
    def specificity(self) -> int:
        """How many dimensions the policy constrains (0 for a catch-all)."""
        return sum(bool(values) for values in (self.intents, self.channels, self.store_ids, self.priorities))

    def matches(
        self, *, intent: Intent | None, channel: Channel | None, store_id: str | None, priority: Priority | None
    ) -> bool:
        return all(
            not allowed or value in allowed
            for allowed, value in (
                (self.intents, intent),
                (self.channels, channel),
                (self.store_ids, store_id),
                (self.priorities, priority),
            )
        )

    def minutes_for(self, kind: DueKind) -> int:
        if kind == "first":
            return self.first_response_minutes
        if kind == "next":
            return self.next_response_minutes
        raise ValueError(f"kind must be 'first' or 'next', got {kind!r}")


def select_policy(
    policies: Iterable[SlaPolicySpec],
    *,
    intent: Intent | None,
    channel: Channel | None,
    store_id: str | None,
    priority: Priority | None,
) -> SlaPolicySpec | None:
    """The matching policy that is most specific, or ``None`` when none matches.

    Order: most constrained dimensions first (intent, channel, store and priority weigh the same),
    then the shortest ``first_response_minutes``, then the smallest ``policy_id``, so the answer
    never depends on the order policies were stored in. Among equally specific policies the stricter
    wins: a ticket that is both an Amazon message and a cancellation gets the tighter of the Amazon
    policy and the cancellation policy, which is how a cancellation gets the shortest SLA through an
    intent-scoped policy. A policy with more conditions still beats it (a store's own two-condition
    policy is a deliberate choice for that store); to keep cancellations fastest there too, scope a
    cancellation policy to the store as well.
    """
    candidates = [
        policy
        for policy in policies
        if policy.matches(intent=intent, channel=channel, store_id=store_id, priority=priority)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda policy: (-policy.specificity, policy.first_response_minutes, policy.policy_id))


class DueTimes(Model):
    """A deadline and its near-breach warning point, both UTC.

    ``source`` says which clock set the deadline: the policy's business hours, or the marketplace's
    calendar-hours cap (the UI can then say "marketplace deadline").
    """

    due_at: datetime
    warn_at: datetime
    source: Literal["policy", "marketplace"] = "policy"


def compute_due(policy: SlaPolicySpec, *, received_at: datetime, kind: DueKind) -> DueTimes:
    """When a response to the message ``received_at`` is due under ``policy``, and when to warn.

    The business-hours deadline counts ``first_response_minutes`` (or ``next_response_minutes``) in
    the policy's calendar from ``received_at``; a marketplace deadline, when earlier, replaces it.
    The warning follows the clock that set the deadline: ``warning_ratio`` of the business time for a
    business-hours deadline (a Friday-evening ticket warns on Monday, while agents are in), of the
    elapsed time for a marketplace deadline (a 24-hour cap warns after 19h12m at 0.8, weekend or not).
    A warning computed on the other clock would fire too early or after the breach.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError(f"received_at must be timezone-aware, got naive {received_at.isoformat()}")
    received = received_at.astimezone(UTC)
    calendar = policy.calendar or ALWAYS_OPEN
    business_due = add_business_minutes(calendar, received, policy.minutes_for(kind))
    if policy.marketplace_deadline_hours is not None:
        marketplace_span = timedelta(hours=policy.marketplace_deadline_hours)
        if received + marketplace_span < business_due:
            return DueTimes(
                due_at=received + marketplace_span,
                warn_at=received + marketplace_span * policy.warning_ratio,
                source="marketplace",
            )
    return DueTimes(
        due_at=business_due,
        warn_at=at_fraction(calendar, received, business_due, policy.warning_ratio),
        source="policy",
    )
