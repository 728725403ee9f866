"""``helpdesk.sla.ports.SlaTimers``: records each start, as Step Functions would remember it."""

from __future__ import annotations

from helpdesk.sla.timers import TimerRequest


class RecordingSlaTimers:
    """SlaTimers that records each start; a started execution name is remembered like Step Functions."""

    def __init__(self) -> None:
        self.requests: list[TimerRequest] = []

    def start(self, request: TimerRequest) -> None:
        self.requests.append(request)

    @property
    def execution_names(self) -> list[str]:
        return [r.execution_name for r in self.requests]
