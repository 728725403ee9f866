"""The interfaces of the SLA timers (Step Functions in AWS, fakes in tests)."""

from __future__ import annotations

from typing import Protocol

from helpdesk.sla.timers import TimerRequest


class SlaTimers(Protocol):
    def start(self, request: TimerRequest) -> None:
        """Start (idempotently) the timer execution for this ticket deadline version."""
        ...
