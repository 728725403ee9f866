"""SLA decisions: which policy applies to a ticket and when its deadlines fall. Pure Python.

Business-hours calendars, pauses and per-intent policies come with the routing issue; the
foundation applies a policy's elapsed-time targets and keeps a timer version so that a re-armed
deadline makes older timers stale.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from helpdesk.core.models import SlaPolicy, SlaTarget, Ticket

# A marketplace-style default: answer within 24 hours.
DEFAULT_TARGET = SlaTarget(first_response_minutes=24 * 60, next_response_minutes=24 * 60)

WARNING_RATIO = 0.8
FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"


class TimerRequest(BaseModel):
    """Input of the SLA timer state machine (infrastructure/statemachines/sla_timer.asl.json)."""

    tenant_id: str
    ticket_id: str
    deadline: str
    due_at: str
    timer_version: str
    warn_at: str | None = None  # the near-breach point; left out of the input when None

    @property
    def execution_name(self) -> str:
        # Unique per ticket and version: starting it twice is a no-op, a new version is a new timer.
        # Ticket ids are unique and made of [0-9A-Z]; the tenant enters as a short digest because
        # tenant ids may be long or hold characters execution names refuse (":").
        tenant = hashlib.sha256(self.tenant_id.encode()).hexdigest()[:8]
        return f"t{tenant}-{self.ticket_id}-v{self.timer_version}"


def iso_z(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, whole seconds, the form Step Functions' TimestampPath accepts."""
    if moment.tzinfo is None:
        raise ValueError("SLA times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def first_response_due(received_at: datetime, policy: SlaPolicy | None) -> datetime:
    target = policy.target if policy else DEFAULT_TARGET
    return received_at + timedelta(minutes=target.first_response_minutes)


def timer_request(ticket: Ticket) -> TimerRequest | None:
    """The timer a ticket needs now, or None when nothing is due (answered, closed)."""
    due = ticket.sla_due_at
    if due is None or not ticket.status.in_queue or ticket.sla_breached_at is not None:
        return None
    deadline = FIRST_RESPONSE if ticket.first_responded_at is None else NEXT_RESPONSE
    return TimerRequest(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.ticket_id,
        deadline=deadline,
        due_at=iso_z(due),
        timer_version=str(ticket.sla_timer_version),
        warn_at=iso_z(warn) if (warn := warning_point(ticket, due)) else None,
    )


def warning_point(ticket: Ticket, due: datetime) -> datetime | None:
    """When the near-breach warning fires: the policy's business-hours point when intake set one,
    else ``WARNING_RATIO`` of the elapsed time from the buyer's message to the deadline. None when
    a warning was already recorded for this deadline or the point is not before the due time."""
    if ticket.sla_warned_at is not None:
        return None
    warn = ticket.sla_warn_at
    if warn is None:
        start = ticket.last_message_at or ticket.created_at
        if due <= start:
            return None
        warn = start + (due - start) * WARNING_RATIO
    return warn if warn < due else None
