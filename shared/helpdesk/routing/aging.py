"""Aging rules: a ticket assigned to an agent who has not acted on it for too long is reassigned or
escalated, with the reason written on its timeline. Plain Python.

The clock is ``Ticket.last_agent_action_at`` (set at assignment, and by the assignee's replies and
notes). Each tenant has an ordered list of steps (default: 4 h → reassign, 24 h → escalate); a
ticket takes each step once (``aging_level``) until an agent acts, which resets it.

Which tickets are looked at: each agent's queue (a Query on the AgentQueue index per agent, never a
Scan), so the cost follows the number of assigned open tickets, not the table.

* **reassign**: to the least-loaded agent on shift in the ticket's team who speaks its language
  (not the current assignee); when nobody is eligible (night, weekend) the ticket is tagged
  ``awaiting-reassignment``, the event says so, and every run tries again until a colleague is on
  shift — the step is not used up by an empty shift;
* **escalate**: priority raised to urgent, tag ``escalated``, optionally moved to another team.

The same run wakes the tenant's snoozed tickets whose time has come (``ticket_actions.wake_snoozed``:
a Query on the sparse Snoozed index, back to open with an event, a fresh SLA timer when the deadline
is still ahead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict
from helpdesk.core.models import ID_PATTERN, Agent, Model, Priority, Ticket
from helpdesk.languages.tags import primary_language
from helpdesk.routing.intake import timeline_event
from helpdesk.routing.ports import AgingRepository
from helpdesk.sla.calendars import BusinessCalendar, is_open
from helpdesk.sla.ports import SlaTimers
from helpdesk.tickets.actions import wake_snoozed

ESCALATED_TAG = "escalated"
AWAITING_TAG = "awaiting-reassignment"  # due a reassignment, nobody eligible yet
PAGE = 100


class AgingStep(Model):
    step_id: str = Field(pattern=ID_PATTERN)
    after_minutes: int = Field(gt=0, description="Minutes without an action by the assignee")
    action: Literal["reassign", "escalate"]
    team_id: str | None = Field(default=None, description="escalate: move the ticket to this team")


DEFAULT_STEPS = [
    AgingStep(step_id="stalled-4h", after_minutes=4 * 60, action="reassign"),
    AgingStep(step_id="stalled-24h", after_minutes=24 * 60, action="escalate"),
]


@dataclass
class AgingReport:
    examined: int = 0
    reassigned: list[tuple[str, str, str]] = field(default_factory=list)  # ticket, from, to
    escalated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)  # due a reassignment, nobody eligible
    woken: list[str] = field(default_factory=list)  # snoozed tickets back in the queue

    def as_dict(self) -> dict[str, object]:
        return {
            "examined": self.examined,
            "reassigned": [list(r) for r in self.reassigned],
            "escalated": self.escalated,
            "stuck": self.stuck,
            "woken": self.woken,
        }


class AgingService:
    def __init__(
        self, repository: AgingRepository, clock: Callable[[], datetime] = utc_now, timers: SlaTimers | None = None
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._timers = timers

    def run(self, tenant_id: str, steps: Sequence[AgingStep] | None = None) -> AgingReport:
        """One pass over the tenant's assigned tickets with ``steps``: by default the tenant's own
        (set by its admin), else ``DEFAULT_STEPS``; an empty list the tenant saved turns aging off."""
        if steps is None:
            stored = self._repo.get_aging_steps(tenant_id)
            steps = DEFAULT_STEPS if stored is None else stored
        now = self._clock()
        woken = wake_snoozed(self._repo, self._timers, tenant_id, now)
        ordered = sorted(steps, key=lambda s: s.after_minutes)
        report = AgingReport(woken=woken)
        if not ordered:
            return report  # aging is off for this tenant: no queue is read
        agents = [a for a in self._repo.list_agents(tenant_id) if a.active]
        load = {a.agent_id: self._repo.count_assigned(tenant_id, a.agent_id) for a in agents}
        for agent in agents:
            for ticket in self._assigned(tenant_id, agent.agent_id):
                report.examined += 1
                step = _due_step(ticket, ordered, now)
                if step is not None:
                    self._apply(ticket, step, ordered, agents, load, now, report)
        return report

    def _assigned(self, tenant_id: str, agent_id: str) -> list[Ticket]:
        tickets: list[Ticket] = []
        cursor = None
        while True:
            page = self._repo.list_queue(tenant_id, "agent", agent_id, PAGE, cursor)
            tickets.extend(page.tickets)
            cursor = page.next_cursor
            if not cursor:
                return tickets

    def _apply(
        self,
        ticket: Ticket,
        step: AgingStep,
        steps: Sequence[AgingStep],
        agents: list[Agent],
        load: dict[str, int],
        now: datetime,
        report: AgingReport,
    ) -> None:
        for _ in range(3):
            current = self._repo.get_ticket(ticket.tenant_id, ticket.ticket_id)
            if current is None or _due_step(current, steps, now) != step:
                return  # answered, reassigned or resolved meanwhile
            updated = current.model_copy(deep=True)
            updated.aging_level = current.aging_level + 1
            updated.updated_at = now
            idle = _idle_text(current, now)
            target: str | None = None
            if step.action == "reassign":
                target = _least_loaded(current, agents, load, now)
                if target is None:
                    # Nobody to give it to now (night, weekend): the step stays due and every run tries
                    # again, so the first colleague on shift who speaks the language gets it.
                    report.stuck.append(current.ticket_id)
                    if AWAITING_TAG in current.tags:
                        return  # said so already
                    updated.aging_level = current.aging_level
                    updated.tags.append(AWAITING_TAG)
                    text = (
                        f"Aging ({step.step_id}): no action by {current.assignee_id} for {idle}; nobody else "
                        "on shift in the team speaks the ticket's language yet: it goes to the first who "
                        "comes on shift."
                    )
                else:
                    updated.assignee_id = target
                    updated.last_agent_action_at = now
                    updated.tags = [t for t in updated.tags if t != AWAITING_TAG]
                    text = (
                        f"Aging ({step.step_id}): reassigned from {current.assignee_id} to {target} — "
                        f"no action for {idle}."
                    )
            else:
                updated.priority = Priority.URGENT
                if ESCALATED_TAG not in updated.tags:
                    updated.tags.append(ESCALATED_TAG)
                if step.team_id:
                    updated.team_id = step.team_id
                text = (
                    f"Aging ({step.step_id}): escalated (priority urgent"
                    + (f", team {step.team_id}" if step.team_id else "")
                    + f") — no action by "
                    f"{current.assignee_id} for {idle}."
                )
            try:
                self._repo.update_ticket(current, updated, [timeline_event(updated, now, text)])
            except Conflict:
                continue
            if step.action == "escalate":
                report.escalated.append(current.ticket_id)
            elif target is None:
                pass  # counted above
            else:
                self._repo.mark_assigned(current.tenant_id, target, now)
                load[target] = load.get(target, 0) + 1
                if current.assignee_id:
                    load[current.assignee_id] = max(0, load.get(current.assignee_id, 1) - 1)
                report.reassigned.append((current.ticket_id, current.assignee_id or "", target))
            return


def _due_step(ticket: Ticket, steps: Sequence[AgingStep], now: datetime) -> AgingStep | None:
    """The next step (by ``aging_level``) if the assignee has been idle long enough for it."""
    if not ticket.assignee_id or not ticket.status.in_queue:
        return None
    ordered = sorted(steps, key=lambda s: s.after_minutes)
    if ticket.aging_level >= len(ordered):
        return None
    step = ordered[ticket.aging_level]
    idle = now - (ticket.last_agent_action_at or ticket.updated_at)
    return step if idle >= timedelta(minutes=step.after_minutes) else None


def _least_loaded(ticket: Ticket, agents: list[Agent], load: dict[str, int], now: datetime) -> str | None:
    language = primary_language(ticket.language)
    eligible = []
    for agent in agents:
        if agent.agent_id == ticket.assignee_id:
            continue
        if ticket.team_id and ticket.team_id not in agent.team_ids:
            continue
        if language and language not in {primary_language(code) for code in agent.languages}:
            continue
        if agent.shift and not is_open(BusinessCalendar.model_validate(agent.shift), now):
            continue
        eligible.append(agent)
    if not eligible:
        return None
    never = datetime.min.replace(tzinfo=now.tzinfo)
    best = min(eligible, key=lambda a: (load.get(a.agent_id, 0), a.last_assigned_at or never, a.agent_id))
    return best.agent_id


def _idle_text(ticket: Ticket, now: datetime) -> str:
    since = ticket.last_agent_action_at or ticket.updated_at
    minutes = int((now - since).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
